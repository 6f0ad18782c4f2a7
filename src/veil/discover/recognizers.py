"""The recognizer catalogue: what finds each kind of personal data, in free text and in columns.

Every recognizer answers two questions about the same entity:

* ``spans(text)``: where in a piece of free text, with offsets and a score;
* ``matches(values)`` / ``full_match(values)``: which cells of a whole column, as one vectorised
  Polars pass. ``matches`` scores a cell that *contains* the entity anywhere (a free-text
  column); ``full_match`` scores only cells that *are* the entity, give or take surrounding
  blanks (a phone or SSN column). The column scanner uses both to tell the two apart.

Scores are calibrated confidences: roughly the probability that the span really is that entity,
so 0.5 is a sensible cut-off. As a guide: 0.9+ a checksum or registry check passed (Luhn,
mod 97), 0.7-0.85 a strict shape with a real-world check (a valid phone number, a real date),
0.5-0.6 a shape that is usually right (a dashed SSN, a known first name), and below 0.5 a
shape that needs surrounding words ("SSN", "born", "MRN", "driver's license") to count.
Context words within ~40 characters before (or 20 after) a match raise the score; negative
context lowers it. Column scores carry no context: there the column name plays that role.
``python -m bench pii_eval`` prints how often spans in each score band were right on labelled
data (on the presidio-research sample: under 0.5 about 1 in 10, 0.5-0.7 about 9 in 10).

PERSON is not a regex: :class:`PersonRecognizer` looks capitalised words up in first- and
last-name dictionaries built from Faker's bundled locales and weighs titles and context.
A spaCy NER recognizer joins the catalogue only when a spaCy model is already installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import polars as pl

from veil.discover import validators as v
from veil.discover.entities import Entity, Span

CONTEXT_BEFORE = 40  # characters of text before a match searched for context words
CONTEXT_AFTER = 20  # and after it ("... office", "(SSN)")


class Recognizer(ABC):
    """Finds one entity type in free text and in whole columns."""

    name: str
    entity: Entity

    @abstractmethod
    def spans(self, text: str) -> list[Span]:
        """Every match in ``text`` with its offsets and calibrated score (context applied)."""

    @abstractmethod
    def matches(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for cells that contain the entity (0.0 = none; nulls 0.0)."""

    @abstractmethod
    def full_match(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for cells that consist of one entity and nothing else."""


# ------------------------------------------------------------------------------------ helpers


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def _words_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any of ``words`` as whole words (case already folded)."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _around(text: str, start: int, end: int) -> str:
    """The lower-cased context window of a match (before and after, split by a blank)."""
    return (text[max(0, start - CONTEXT_BEFORE):start] + " \x00 "
            + text[end:end + CONTEXT_AFTER]).lower()


def _has_words(window: str, words: tuple[str, ...]) -> bool:
    regex = _words_regex(words)
    return regex is not None and regex.search(window) is not None


def _as_text(values: pl.Series) -> pl.Series | None:
    """The column as strings with nulls as "", or ``None`` when it cannot hold text at all
    (nested, binary, object columns): those score zero rather than fail."""
    dtype = values.dtype
    if dtype == pl.String:
        text = values
    elif dtype == pl.Null:
        text = pl.Series(values.name, [""] * len(values), dtype=pl.String)
    elif dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        return None
    else:
        try:
            text = values.cast(pl.String, strict=False)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            return None
    return text.fill_null("")


def _zeros(values: pl.Series) -> pl.Series:
    return pl.Series(values.name, [0.0] * len(values), dtype=pl.Float64)


def _scatter(values: pl.Series, rows: pl.Series, scores: pl.Series) -> pl.Series:
    """A zero column of ``values``' length with ``scores`` placed at ``rows``."""
    out = _zeros(values)
    if len(rows):
        out = out.scatter(rows, scores.cast(pl.Float64).fill_null(0.0))
    return out


def _clip(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)


# -------------------------------------------------------------------------- pattern recognizer


@dataclass(frozen=True)
class PatternRecognizer(Recognizer):
    """A regular expression, an optional validator, and context words.

    ``pattern`` must mean the same in Python ``re`` and in Polars (Rust ``regex``): no
    lookaround, no backreferences. Scoring of a candidate match:

    * no validator: ``score``;
    * validator passes: ``validated_score``;
    * validator fails: dropped, or ``score`` when ``reject_invalid`` is False;
    * ``scorer`` given instead: its return value, for evidence that comes in tiers (a phone
      number valid in the US, only valid somewhere, or merely the right length).

    In free text, any of ``context`` near the match adds ``context_boost`` and any of
    ``negative_context`` subtracts ``negative_penalty``. ``strip`` lists trailing characters
    cut from a match (a URL ends before the full stop that ends the sentence). A shape too
    loose to count alone (``needs_context``) is reported in free text only next to one of its
    context words, and never in columns, where there is no context to read.
    """

    name: str
    entity: Entity
    pattern: str
    score: float
    validator: Callable[[str], bool] | None = None
    validated_score: float | None = None
    reject_invalid: bool = True
    context: tuple[str, ...] = ()
    context_boost: float = 0.3
    negative_context: tuple[str, ...] = ()
    negative_penalty: float = 0.3
    strip: str = ""
    needs_context: bool = False
    scorer: Callable[[str], float] | None = None
    # Optional vectorised shortcut for columns: a Float64 score for each value it can decide
    # in one Polars pass, null where it cannot; wherever it is not null it must equal
    # ``value_score`` (tests hold them equal).
    bulk: Callable[[pl.Series], pl.Series] | None = None

    def value_score(self, value: str) -> float:
        """The context-free score of one matched value (0.0 when it is rejected)."""
        if self.scorer is not None:
            return self.scorer(value)
        if self.validator is None:
            return self.score
        if self.validator(value):
            return self.score if self.validated_score is None else self.validated_score
        return 0.0 if self.reject_invalid else self.score

    def with_context(self, text: str, start: int, end: int, score: float) -> float:
        """``score`` adjusted for the words around ``text[start:end]``."""
        if not (self.context or self.negative_context):
            return score
        window = _around(text, start, end)
        if _has_words(window, self.context):
            score += self.context_boost
        if _has_words(window, self.negative_context):
            score -= self.negative_penalty
        return _clip(score)

    def spans(self, text: str) -> list[Span]:
        found = []
        for match in _compiled(self.pattern).finditer(text):
            start, value = match.start(), match.group()
            if self.strip:
                value = value.rstrip(self.strip)
            if not value:
                continue
            end = start + len(value)
            score = self.value_score(value)
            if score <= 0.0 or (self.needs_context and not _has_words(
                    _around(text, start, end), self.context)):
                continue
            score = self.with_context(text, start, end, score)
            if score > 0.0:
                found.append(Span(start, end, self.entity, score, self.name))
        return found

    def _distinct_scores(self, distinct: pl.Series) -> pl.Series:
        """``value_score`` of each distinct candidate; those ``bulk`` decides skip the loop."""
        if self.bulk is None:
            return pl.Series([self.value_score(x) for x in distinct.to_list()], dtype=pl.Float64)
        decided = self.bulk(distinct).cast(pl.Float64)
        todo = decided.is_null()
        if not todo.any():
            return decided
        rest = [self.value_score(x) for x in distinct.filter(todo).to_list()]
        return decided.scatter(todo.arg_true(), pl.Series(rest, dtype=pl.Float64))

    def matches(self, values: pl.Series) -> pl.Series:
        return self._score_cells(values, whole=False)

    def full_match(self, values: pl.Series) -> pl.Series:
        return self._score_cells(values, whole=True)

    def _score_cells(self, values: pl.Series, *, whole: bool) -> pl.Series:
        """One regex pass over the column, then the validator once per distinct candidate."""
        text = _as_text(values)
        if text is None or len(text) == 0 or self.needs_context:
            return _zeros(values)
        pattern = rf"^\s*(?:{self.pattern})\s*$" if whole else self.pattern
        unvalidated = self.validator is None and self.scorer is None
        if whole or unvalidated:
            hit = text.str.contains(pattern)
            if not hit.any():
                return _zeros(values)
            if unvalidated:
                return hit.cast(pl.Float64).fill_null(0.0).rename(values.name) * self.score
        frame = pl.DataFrame({"v": text}).with_row_index("row")
        if whole:
            found = frame.filter(hit).select("row", pl.col("v").str.strip_chars().alias("m"))
        else:  # one pass finds and extracts: no separate `contains` over long text
            found = frame.select("row", pl.col("v").str.extract_all(self.pattern).alias("m"))
            found = found.explode("m").drop_nulls("m")
            if found.is_empty():
                return _zeros(values)
        if self.strip:
            found = found.with_columns(pl.col("m").str.strip_chars_end(self.strip))
        distinct = found.get_column("m").unique()
        table = pl.DataFrame({"m": distinct, "s": self._distinct_scores(distinct)})
        best = (found.join(table, on="m", how="left")
                .group_by("row").agg(pl.col("s").max()))
        return _scatter(values, best.get_column("row"), best.get_column("s"))


# ----------------------------------------------------------------------------- the name lexicon

# Locales whose Faker person providers supply the name dictionaries (Latin script only: the
# recognizer reads Latin-script text).
NAME_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA",
    "es_ES", "es_MX", "it_IT", "nl_NL", "nl_BE", "pt_PT", "pt_BR", "pl_PL", "cs_CZ", "sk_SK",
    "sv_SE", "no_NO", "da_DK", "fi_FI", "et_EE", "hu_HU", "hr_HR", "sl_SI", "ro_RO", "tr_TR",
    "lt_LT", "lv_LV", "ga_IE", "id_ID",
)

TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "mlle", "herr", "frau",
    "sr", "sra", "srta", "dame", "lord", "lady", "rev", "pt",
})
CREDENTIALS = frozenset({"MD", "PhD", "DDS", "DO", "RN", "NP", "PA", "Jr", "Sr", "II", "III",
                         "IV", "Esq", "DMD", "MBA"})
# Trailing words that make a capitalised run an organisation rather than a person.
ORG_WORDS = frozenset({
    "inc", "llc", "ltd", "corp", "corporation", "co", "company", "group", "gmbh", "ag", "sa",
    "plc", "bank", "university", "college", "school", "institute", "hospital", "clinic",
    "foundation", "association", "society", "club", "software", "consulting", "systems",
    "solutions", "partners", "holdings", "international", "technologies", "labs", "studio",
    "studios", "records", "press", "media", "airlines", "motors", "center", "centre",
})
# Street suffixes that end a run as an address even without a house number, and those that
# only do so after one (they are also surnames: Lane, Way, Court).
STREET_SUFFIXES_STRONG = frozenset({
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "highway", "hwy",
    "parkway", "pkwy", "drive", "expressway", "freeway", "turnpike", "straße", "strasse",
    "straat", "gasse", "allee", "platz", "laan",
})
STREET_SUFFIXES_WEAK = frozenset({
    "lane", "ln", "court", "ct", "way", "place", "pl", "terrace", "ter", "circle", "cir",
    "square", "sq", "crescent", "alley", "plaza", "trail", "row", "close", "dr", "path",
})
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Capitalised words common in text that the English word list below lacks.
_EXTRA_STOP = (
    "i", "god", "christmas", "easter", "internet", "english", "french", "german", "spanish",
    "american", "european", "british", "african", "asian", "christian", "muslim", "jewish",
    "north", "south", "east", "west", "new", "saint", "san", "santa", "mount", "lake", "river",
    "city", "county", "state", "republic", "kingdom", "united", "street", "hello", "hi", "hey",
    "thanks", "thank", "yes", "no", "ok", "okay", "please", "dear", "regards", "sincerely",
    "tel", "fax", "email", "phone", "mobile", "zip", "apt", "suite", "unit", "ssn", "dob",
    "mrn", "id", "patient", "doctor", "nurse", "princess", "prince", "king", "queen", "royal",
    "president", "senator", "governor", "mayor", "captain", "general", "judge", "saint",
    "monsieur", "madame", "señor", "señora", "herr", "frau", "today", "tomorrow", "yesterday",
    # function words, which open sentences and title-case headlines
    "a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its",
    "our", "their", "he", "she", "it", "we", "they", "you", "me", "him", "them", "us", "and",
    "or", "but", "if", "so", "as", "at", "by", "for", "from", "in", "into", "of", "on", "to",
    "with", "not", "all", "any", "some", "no", "yes", "is", "are", "was", "were", "be", "been",
    "do", "does", "did", "have", "has", "had", "can", "could", "would", "should", "will",
    "shall", "may", "might", "must", "there", "here", "then", "than", "also", "just", "only",
    "very", "what", "which", "who", "whom", "whose", "why", "how", "when", "where", "while",
    # interjections and sentence adverbs that open sentences before a comma
    "sorry", "well", "oh", "wow", "sure", "anyway", "however", "meanwhile", "unfortunately",
    "fortunately", "actually", "honestly", "again", "now", "first", "second", "finally",
    "besides", "otherwise", "indeed", "great", "cool", "nice", "hmm", "alright", "listen",
    "look", "guys", "folks", "everyone", "everybody", "someone", "somebody", "sir", "team",
)


@cache
def _lexicon_frame() -> pl.DataFrame:
    """The lexicon as a lookup table (token, named, common), joined against column tokens:
    a hash join stays linear where ``is_in`` against 40,000 names would not."""
    lex = name_lexicon()
    tokens = sorted(lex.first | lex.last | lex.stop)
    return pl.DataFrame({
        "t": tokens,
        "named": [t in lex.first or t in lex.last for t in tokens],
        "common": [t in lex.stop for t in tokens],
    })


@dataclass(frozen=True)
class NameLexicon:
    """Lower-cased first names, last names, and capitalised words that are not names."""

    first: frozenset[str]
    last: frozenset[str]
    stop: frozenset[str]


def _latin(word: str) -> bool:
    return all(ch in " '-." or (ch.isalpha() and "LATIN" in unicodedata.name(ch, ""))
               for ch in word)


def _provider_names(provider: type, attrs: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for attr in attrs:
        value = provider.__dict__.get(attr, getattr(provider, attr, ()))
        if isinstance(value, dict | tuple | list | set | frozenset):
            names.update(n.lower() for n in value if isinstance(n, str) and _latin(n))
    return {n for n in names if len(n) >= 2}


@cache
def name_lexicon() -> NameLexicon:
    """Names from Faker's bundled person providers (data in the package: no network), and a
    stoplist from its English word list, months, weekdays, countries and US states."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        first |= _provider_names(provider, ("first_names", "first_names_male",
                                            "first_names_female", "first_names_nonbinary"))
        last |= _provider_names(provider, ("last_names", "last_names_male",
                                           "last_names_female"))
    stop: set[str] = set(_EXTRA_STOP) | set(MONTHS) | set(WEEKDAYS) | TITLES | ORG_WORDS
    stop |= STREET_SUFFIXES_STRONG | STREET_SUFFIXES_WEAK
    stop |= {m[:3] for m in MONTHS} | {d[:3] for d in WEEKDAYS}
    lorem = importlib.import_module("faker.providers.lorem.en_US").Provider
    stop |= {w.lower() for w in lorem.word_list}
    address = importlib.import_module("faker.providers.address.en_US").Provider
    for attr in ("countries", "states"):
        for place in getattr(address, attr, ()):
            stop |= set(place.lower().split())
    return NameLexicon(frozenset(first), frozenset(last), frozenset(stop))


# --------------------------------------------------------------------------- person recognizer

_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_POSSESSIVE = ("'s", "’s")
_SENTENCE_END = frozenset(".!?\n\"“:;()[]")

# Words before a capitalised run that make it a person: strong cues name it outright, weak
# ones are merely things people (more than places or products) do.
PERSON_CONTEXT_STRONG = (
    "name", "named", "name is", "names", "called", "call me", "calls me", "dear", "signed",
    "patient", "pt", "attn", "husband", "wife", "son", "daughter", "mother", "father",
    "brother", "sister", "partner", "kid", "friend", "colleague",
)
PERSON_CONTEXT_WEAK = (
    "said", "says", "told", "asked", "wrote", "by", "met", "with", "contact", "from:", "to:",
    "cc", "spoke", "thanks", "thank you", "hi", "hello", "starring", "featuring", "feat",
)
# What a person does right after being named ("Duqyaha shouted", "Sumaya's kid").
_PERSON_AFTER = re.compile(
    r"^(?:['’]s (?:kid|kids|wife|husband|son|daughter|mother|father|mom|dad|brother|sister"
    r"|partner|friend|family|boss|children|birthday)"
    r"| (?:said|says|shouted|asked|told|tells|wrote|writes|replied|explained|added|smiled"
    r"|laughed|nodded|whispered|lives|lived|works|worked|died|was born))\b")
# A name addressed at the start of a sentence: "Marisca, can I ...".
_VOCATIVE = re.compile(r"^, (?:can|could|would|will|please|i|you|we|are|do|did|have|thanks"
                       r"|thank|how|what|where|when|why|is|let|tell)\b", re.IGNORECASE)
PERSON_NEGATIVE = ("in", "at", "from", "near", "of", "the", "visit", "visited", "via",
                   "into", "across", "toward", "towards")
_CONTRACTIONS = frozenset({"d", "ll", "m", "re", "ve", "s"})
# Endings of English words that are rarely names ("Accessing", "Currently", "Equivalent").
_WORD_ENDINGS = ("ing", "ly", "tion", "sion", "ment", "ness", "able", "ible", "ful", "less",
                 "ous", "ive", "ize", "ise", "ism", "ity", "ence", "ance", "ical", "ated", "ers",
                 "ies", "ics", "ure", "ship", "ward", "wise", "like", "based", "ent", "ant")


@dataclass
class _Token:
    start: int
    end: int
    word: str

    @property
    def key(self) -> str:
        return self.word.lower()


def _tokens(text: str) -> list[_Token]:
    out = []
    for match in _WORD.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        if word.endswith(_POSSESSIVE) and len(word) > 2:
            word, end = word[:-2], end - 2
        out.append(_Token(start, end, word))
    return out


_NAME_PREFIXES = ("Mc", "Mac", "De", "Di", "Da", "Du", "La", "Le", "Van", "Von", "O'", "O’", "D'",
                  "D’", "St")


def _capitalised(word: str) -> bool:
    """Title-case like a name: "Smith", "McDonald", "Hatfield-Dodds"; not "SMITH", "OpenDP",
    "CUDA-compatible"."""
    parts = word.split("-")
    if len(parts) > 1:
        return all(_capitalised(p) for p in parts if p)
    if not word[:1].isupper() or (len(word) > 1 and word.isupper()):
        return False
    inner = word[1:]
    if any(ch.isupper() for ch in inner):
        return word.startswith(_NAME_PREFIXES) and any(
            word[len(p):][:1].isupper() and not any(ch.isupper() for ch in word[len(p) + 1:])
            for p in _NAME_PREFIXES if word.startswith(p))
    return True


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_END


def _joined(text: str, left: _Token, right: _Token) -> bool:
    """Whether two tokens belong to one name: one blank between, or an initial and a dot."""
    gap = text[left.end:right.start]
    return gap == " " or (len(left.word) == 1 and gap in {". ", "."})


def _kind(tok: _Token, lex: NameLexicon) -> str:
    """first / last (dictionary name), stop (a common word, month, place...), ambiguous (both,
    like "Will" or "Jordan"), or unknown."""
    key = tok.key.replace("’", "'")
    base, apostrophe, suffix = key.rpartition("'")
    if apostrophe and suffix == "t":  # "Don't", "Can't"
        return "stop"
    if apostrophe and suffix in _CONTRACTIONS:  # "I'd", "We'll"
        key = base
    if len(key) == 1:
        return "initial"
    parts = key.split("-")
    named = any(p in lex.first or p in lex.last for p in parts)
    if key in lex.stop:
        return "ambiguous" if named else "stop"
    if key in lex.first or (len(parts) == 1 and parts[0] in lex.first):
        return "first"
    if named:
        return "last"  # double-barrelled names are surnames
    return "stop" if key.endswith(_WORD_ENDINGS) else "unknown"


def _composition_score(kinds: list[str]) -> float:
    """Confidence from what the tokens of a run are, before any context."""
    kinds = [k for k in kinds if k != "initial"]  # "John F. Kennedy": the F. says nothing
    if not kinds:
        return 0.0
    strong = sum(k in {"first", "last"} for k in kinds)
    if len(kinds) == 1:
        return {"first": 0.6, "last": 0.45, "ambiguous": 0.2, "unknown": 0.15}[kinds[0]]
    if kinds[0] in {"first", "ambiguous"} and strong >= 2:
        return 0.9  # "Douglas Lind"
    if strong >= 2:
        return 0.8
    if kinds[0] == "first":
        return 0.75  # "Patricia Jeknić": a known first name and an unknown surname
    if strong == 1:
        return 0.5  # "Gracie Weber" as often as "Stack Overflow"
    return 0.35 if "ambiguous" in kinds else 0.15


def _headline(text: str, start: int, end: int) -> bool:
    """Whether the sentence around a run is in Title Case, where capitals say little."""
    left = max(text.rfind(ch, 0, start) for ch in ".!?\n")
    rights = [i for i in (text.find(ch, end) for ch in ".!?\n") if i >= 0]
    sentence = text[left + 1:min(rights) if rights else len(text)]
    words = _WORD.findall(sentence)[1:]
    if len(words) < 5:
        return False
    return sum(_capitalised(w) for w in words) / len(words) >= 0.6


@dataclass(frozen=True)
class PersonRecognizer(Recognizer):
    """Names by dictionary, capitalisation and context, not by regex alone.

    A candidate is a run of 1-4 capitalised tokens. It scores by what the tokens are (known
    first names, known last names, or common words, months, places and street suffixes that
    merely look like names) and by what surrounds it: a title ("Mr.", "Dr.") or words such as
    "name", "called", "dear" raise it; "in", "at", "from" (places) lower it; a run ending in a
    street suffix or a company word is not a person at all.
    """

    name: str = "person_lexicon"
    entity: Entity = Entity.PERSON
    context: tuple[str, ...] = PERSON_CONTEXT_STRONG
    weak_context: tuple[str, ...] = PERSON_CONTEXT_WEAK
    negative_context: tuple[str, ...] = PERSON_NEGATIVE
    context_boost: float = 0.4
    weak_boost: float = 0.2
    negative_penalty: float = 0.3

    # ---- free text

    def spans(self, text: str) -> list[Span]:
        lex = name_lexicon()
        tokens = _tokens(text)
        found: list[Span] = []
        i, titled = 0, False
        while i < len(tokens):
            tok = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            gap = text[tok.end:nxt.start] if nxt is not None else ""
            if (tok.key in TITLES and nxt is not None and _capitalised(nxt.word)
                    and (gap in {". ", "."} or (gap == " " and not tok.word.isupper()))):
                titled, i = True, i + 1
                continue
            if not _capitalised(tok.word):
                titled, i = False, i + 1
                continue
            run = [tok]
            j = i + 1
            while (j < len(tokens) and len(run) < 4 and _capitalised(tokens[j].word)
                   and _joined(text, tokens[j - 1], tokens[j])):
                run.append(tokens[j])
                j += 1
            span = self._score_run(text, run, tokens, j, titled, lex)
            if span is not None:
                found.append(span)
            titled, i = False, j
        return found

    def _score_run(self, text: str, run: list[_Token], tokens: list[_Token], after: int,
                   titled: bool, lex: NameLexicon) -> Span | None:
        last_key = run[-1].key
        numbered = re.search(r"\d[\w-]*[ \t]+$", text[:run[0].start]) is not None
        if last_key in STREET_SUFFIXES_STRONG or (numbered and last_key in STREET_SUFFIXES_WEAK):
            return None  # "Apple Street", "12 Kate Edger Place": an address, not a person
        if last_key in ORG_WORDS or (after < len(tokens) and tokens[after].key in ORG_WORDS
                                     and _joined(text, run[-1], tokens[after])):
            return None
        kinds = [_kind(t, lex) for t in run]
        while kinds and kinds[0] == "stop":  # "When Alexandra ..." -> "Alexandra"
            run, kinds = run[1:], kinds[1:]
        while kinds and kinds[-1] == "stop":
            run, kinds = run[:-1], kinds[:-1]
        if not run or "stop" in kinds or all(k == "initial" for k in kinds):
            return None
        score = _composition_score(kinds)
        if len(run) == 1 and kinds[0] in {"first", "last"} and _sentence_start(text, run[0].start):
            score -= 0.1  # capitalised anyway; the dictionary hit is the only evidence
        start, end = run[0].start, run[-1].end
        credential = re.match(r",? (MD|PhD|DDS|DO|RN|NP|Jr|Sr|II|III|IV|Esq|DMD)\b\.?",
                              text[end:end + 6])
        if credential and credential.group(1) in CREDENTIALS:
            end += credential.end()
            score += 0.1
        if titled:
            return Span(start, end, self.entity, _clip(max(score, 0.85)), self.name)
        # Names in the dictionary take context from the usual window; unknown words only from
        # the words right before them ("my name is X"), or technical prose full of "name"
        # and "by" would turn every capitalised word into a person.
        known = any(k in {"first", "last"} for k in kinds)
        before = text[max(0, start - (CONTEXT_BEFORE if known else 16)):start].lower()
        if _has_words(before, self.context):
            score += self.context_boost
        elif _has_words(before, self.weak_context):
            score += self.weak_boost
        following = text[end:end + 30]
        vocative = (len(run) == 1 and _sentence_start(text, start)
                    and _VOCATIVE.match(following) is not None)
        if _PERSON_AFTER.match(following) or vocative:
            score += 0.35
        elif not known and following.startswith(":"):
            return None  # "Summary:", "Version:": a field label
        previous = re.search(r"([^\W\d_]+)\W*$", text[max(0, start - 20):start])
        if (previous and previous.group(1).lower() in self.negative_context
                and "first" not in kinds):
            score -= self.negative_penalty  # "grew up in Monroe", "arrived at Nugeri"
        if numbered:
            score -= 0.3  # "06 Reyes Católicos 17": a street named after someone
        if _headline(text, start, end):
            score -= 0.25  # "5 Musicians You're Supposed To Hate (But Secretly Love)"
        score = _clip(score)
        if score < 0.1:
            return None
        return Span(start, end, self.entity, score, self.name)

    # ---- columns

    def full_match(self, values: pl.Series) -> pl.Series:
        """A cell of 1-4 capitalised (or upper-case) words with at least one known name."""
        return self._score_columns(values, whole=True)

    def matches(self, values: pl.Series) -> pl.Series:
        """Whole-name cells, or free text holding a known name among its capitalised words."""
        full = self._score_columns(values, whole=True)
        part = self._score_columns(values, whole=False)
        return pl.select(pl.max_horizontal(full, part)).to_series().rename(values.name)

    def _score_columns(self, values: pl.Series, *, whole: bool) -> pl.Series:
        text = _as_text(values)
        if text is None or len(text) == 0:
            return _zeros(values)
        word = r"\p{Lu}[\p{L}'’.\-]*"
        if whole:
            shape = rf"^\s*(?:{word})(?:[ ,]+{word}){{0,3}}\s*$"
            words = r"\p{L}+(?:['’\-]\p{L}+)*"
        else:
            shape = r"\p{Lu}\p{Ll}"
            words = r"\b\p{Lu}\p{Ll}+(?:['’\-]\p{L}+)*\b"
        frame = pl.DataFrame({"v": text}).with_row_index("row").filter(
            pl.col("v").str.contains(shape))
        if frame.height == 0:
            return _zeros(values)
        # Score each distinct cell once, then map the scores back to the rows.
        distinct = frame.select(pl.col("v").unique()).with_columns(
            pl.col("v").str.extract_all(words).list.eval(
                pl.element().str.to_lowercase()).alias("t"))
        # A cell ending in a street suffix or a company word is not a person's name.
        not_a_name = STREET_SUFFIXES_STRONG | STREET_SUFFIXES_WEAK | ORG_WORDS
        ends = distinct.get_column("t").list.last()
        distinct = distinct.with_columns(blocked=pl.Series(
            [whole and e in not_a_name for e in ends.to_list()], dtype=pl.Boolean))
        tok = (distinct.explode("t").drop_nulls("t")
               .join(_lexicon_frame(), on="t", how="left")
               .with_columns(pl.col("named", "common").fill_null(False)))
        named, common = pl.col("named"), pl.col("common")
        per_cell = tok.group_by("v").agg(
            n=pl.len(),
            hits=(named & ~common).sum(),
            loose=(named & common).sum(),
            blocked=pl.col("blocked").first(),
        )
        if whole:
            score = (pl.when(pl.col("hits") >= 2).then(0.9)
                     .when((pl.col("hits") == 1) & (pl.col("n") >= 2)).then(0.75)
                     .when(pl.col("hits") == 1).then(0.6)
                     .when((pl.col("loose") >= 1) & (pl.col("n") >= 2)).then(0.4)
                     .otherwise(0.0))
        else:
            score = (pl.when(pl.col("hits") >= 2).then(0.6)
                     .when(pl.col("hits") == 1).then(0.45)
                     .otherwise(0.0))
        score = pl.when(pl.col("blocked")).then(0.0).otherwise(score)
        scored = per_cell.select("v", score.cast(pl.Float64).alias("s"))
        rows = frame.join(scored, on="v", how="left")
        return _scatter(values, rows.get_column("row"), rows.get_column("s"))


# ------------------------------------------------------------------------- optional spaCy NER


def installed_spacy_models() -> tuple[str, ...]:
    """spaCy model packages installed here (those advertise themselves by entry point; asking
    this way avoids importing spaCy just to learn there is none)."""
    try:
        points = importlib.metadata.entry_points(group="spacy_models")
    except Exception:
        return ()
    return tuple(sorted({p.name for p in points}))


@cache
def _spacy_pipeline(model: str):  # type: ignore[no-untyped-def]
    spacy = importlib.import_module("spacy")
    return spacy.load(model, disable=["lemmatizer", "textcat"])


@dataclass(frozen=True)
class SpacyPersonRecognizer(Recognizer):
    """PERSON from an installed spaCy NER model. Offered only when one is installed; never
    downloads one."""

    model: str
    name: str = "spacy_person"
    entity: Entity = Entity.PERSON
    score: float = 0.85
    labels: tuple[str, ...] = ("PERSON", "PER")

    def spans(self, text: str) -> list[Span]:
        doc = _spacy_pipeline(self.model)(text)
        return [Span(e.start_char, e.end_char, self.entity, self.score, self.name)
                for e in doc.ents if e.label_ in self.labels]

    def _cells(self, values: pl.Series, *, whole: bool) -> pl.Series:
        text = _as_text(values)
        if text is None:
            return _zeros(values)
        distinct = [x for x in text.unique().to_list() if x.strip()]
        nlp = _spacy_pipeline(self.model)
        scores = {}
        for cell, doc in zip(distinct, nlp.pipe(distinct), strict=True):
            ents = [e for e in doc.ents if e.label_ in self.labels]
            ok = (any(e.text.strip() == cell.strip() for e in ents) if whole else bool(ents))
            scores[cell] = self.score if ok else 0.0
        return text.replace_strict(scores, default=0.0, return_dtype=pl.Float64)

    def matches(self, values: pl.Series) -> pl.Series:
        return self._cells(values, whole=False)

    def full_match(self, values: pl.Series) -> pl.Series:
        return self._cells(values, whole=True)


# ------------------------------------------------------------------------------------ patterns

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DATE = (
    r"(?i:\b(?:"
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{4}/\d{1,2}/\d{1,2}"
    r"|\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})"
    r"|\d{1,2}\.\d{1,2}\.\d{4}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}\.?,? \d{{4}}"
    rf"|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}"
    r")\b)"
)
_STREET_WORDS = (r"Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Circle"
                 r"|Highway|Parkway|Square|Crescent|Alley|Plaza|Trail|Expressway|Freeway"
                 r"|Turnpike|Close|Row")
_STREET_ABBREVIATIONS = r"St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Hwy|Pkwy|Sq"
# A street suffix; only abbreviations take a following full stop ("St.", not "Street.").
_STRONG_SUFFIX = rf"(?:{_STREET_WORDS})\b|(?:{_STREET_ABBREVIATIONS})\b\.?"
_UPPER = "A-ZÀ-ÖØ-Þ"  # upper-case initials, Latin-1 included ("Österreich"); no \p{Lu} in re
_CAP = rf"[{_UPPER}][\w'’-]*\.?"
_UNIT_WORD = r"(?i:apt|apartment|suite|ste|unit|fl|floor|rm|room)\.?[ \t]?#?[ \t]?[A-Za-z0-9-]{1,6}"
_UNIT = rf"(?:,?[ \t]+{_UNIT_WORD}|,?[ \t]+#[ \t]?\d{{1,6}})"
# Further lines or comma-separated parts of an address block: a unit, a place (capitalised
# words, optionally with a postal code), "ST 12345", or "12345 Place".
_SEGMENT = (rf"(?:{_UNIT_WORD}|{_CAP}(?:[ \t]+{_CAP}){{0,3}}(?:[ \t]+\d{{4,6}}(?:-\d{{4}})?)?"
            rf"|[A-Z]{{2,3}}[ \t]+\d{{5}}(?:-\d{{4}})?|\d{{4,6}}(?:[ \t]+{_CAP}){{1,3}})")
_BLOCK = rf"(?:[ \t]*[,\n][ \t]*,?[ \t]*{_SEGMENT}){{0,4}}"
_US_ADDRESS = (
    rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+(?:(?:[NSEW]|NE|NW|SE|SW)\.?[ \t]+)?"
    rf"(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,4}}(?i:{_STRONG_SUFFIX})"
    rf"{_UNIT}?{_BLOCK}"
)
# No street suffix, but a "City, ST 12345" line settles it.
_CITY_STATE_ADDRESS = (
    rf"\b\d{{1,6}}[ \t]+{_CAP}(?:[ \t]+{_CAP}){{0,3}}(?:[ \t]+\d{{1,5}}[A-Za-z]?)?{_UNIT}?"
    rf"[ \t]*[,\n][ \t]*(?:{_CAP}[ \t]+){{0,2}}{_CAP},?[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b"
)
_LOWER_ADDRESS = (
    rf"\b\d{{1,6}}[ \t]+(?:[a-z][\w'’-]*[ \t]+){{1,3}}(?:{_STRONG_SUFFIX.lower()}){_UNIT}?"
)
_EU_SUFFIX = (r"straße|strasse|str\.|straat|steeg|gasse|weg|laan|plein|gracht|kade|allee"
              r"|platz|gade|vej|gatan|vägen|väg|katu|utca|ulica|ulice")
_EU_ADDRESS = (
    rf"\b(?:{_CAP}[ \t]+){{0,2}}[{_UPPER}][\w'’-]*?[ \t]?(?i:{_EU_SUFFIX})"
    rf"[ \t]+\d{{1,5}}[A-Za-z]?\b{_UNIT}?{_BLOCK}"
)
_ROMANCE_ADDRESS = (
    r"\b\d{1,5}[A-Za-z]?,?[ \t]+(?i:rue|avenue|av\.|avda\.|avenida|via|viale|vicolo|calle"
    r"|carrer|rua|travessa|piazza|plaza|praça|largo|corso|chemin|boulevard|bd\.?|allée|quai"
    r"|impasse|route|paseo|camino)"
    r"(?:[ \t]+(?:(?i:de|del|della|dei|des|du|la|le|les|di|da|do|dos|das|el|y)[ \t]+)?"
    rf"[{_UPPER}][\w'’-]*){{1,4}}{_UNIT}?{_BLOCK}"
)
# A street name followed by its number, behind a building number ("46 velký průhon 426",
# "87 Jakobi 69"): any script, any case, so it only counts next to address words.
_NAME_NUMBER_ADDRESS = (r"\b\d{1,4}[ \t]+[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*){0,3}"
                        rf"[ \t]+\d{{1,5}}[A-Za-z]?\b{_UNIT}?")
_UNIT_ADDRESS = (r"\b(?:Apt|Apartment|Suite|Ste|Unit|APT|SUITE|apt|apartment|suite)"
                 rf"\.?[ \t]?#?[ \t]?\d{{1,5}}[A-Za-z]?\b{_BLOCK}")

AGE_PATTERN = (
    r"(?i:\b(?:\d{1,3}[- ](?:years?|yrs?)[- ]old"
    r"|\d{1,3} ?(?:yo|y/o|y\.o)\b\.?"
    r"|aged? ?:? ?\d{1,3}\b(?: ?(?:years?|yrs?))?))"
)


def _ipv4_not_version(value: str) -> bool:
    """IPv4, but not four single digits ("1.2.0.0" is far more often a version number)."""
    return v.is_ipv4(value) and any(len(part) > 1 for part in value.split("."))


def _long_ipv6(value: str) -> bool:
    """IPv6 with enough digits to be an address in text, not "d::" from C++ code."""
    return len(value) >= 6 and v.is_ipv6(value)


PHONE_VALID_US = 0.75


@lru_cache(maxsize=131_072)
def phone_score(value: str) -> float:
    """Tiered phone evidence: valid in the US or as a ``+`` international number (0.75), valid
    in some other common region (0.4), or only the right length somewhere (0.25). The lower
    tiers need words like "call" or "fax" nearby to pass 0.5. Cached: a column's ``matches``
    and ``full_match`` see the same values."""
    if v.is_phone_number(value, "US"):
        return PHONE_VALID_US
    if v.is_phone_number_any_region(value):
        return 0.4
    return 0.25 if v.is_possible_phone_number(value) else 0.0


def _phone_scores(values: pl.Series) -> pl.Series:
    """``phone_score`` where one Polars pass decides it: valid US numbers, and values no
    numbering plan can hold (a date, an SSN's layout, too few or too many digits)."""
    return pl.select(pl.when(v.us_phone_numbers(values)).then(PHONE_VALID_US)
                     .when(v.not_phone_shaped(values)).then(0.0)).to_series()


def _settles(test: Callable[[pl.Series], pl.Series], score: float
             ) -> Callable[[pl.Series], pl.Series]:
    """A ``bulk`` shortcut giving ``score`` where ``test`` is True and leaving the rest."""
    def bulk(values: pl.Series) -> pl.Series:
        return pl.select(pl.when(test(values)).then(score)).to_series()
    return bulk


_PHONE = (r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?|\b)\d{1,4}(?:[ .\-]\d{2,4}){1,4}"
          r"(?: ?(?:x|ext\.?|extension) ?\d{1,6})?\b")
_PHONE_CONTEXT = ("phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "calling",
                  "fax", "office", "desk", "contact", "reach", "dial", "sms", "text me",
                  "whatsapp", "ph", "mob", "landline", "direct")

_PHONE_NEGATIVE = ("ssn", "social security", "order", "invoice", "iban", "isbn", "serial",
                   "version", "tracking")
_DOB_CONTEXT = ("born", "dob", "d.o.b", "d.o.b.", "date of birth", "birth date", "birthdate",
                "birthday", "birth", "b.")
_DATE_CONTEXT = ("date", "dated", "on", "since", "until", "when", "appointment", "admitted",
                 "discharged", "visit", "seen", "scheduled", "deadline", "due")
_ADDRESS_CONTEXT = ("address", "addresses", "lives", "live", "living", "located", "reside",
                    "resides", "residence", "ship", "shipping", "mail", "mailing", "deliver",
                    "moved", "return to", "billing", "street", "home")


def _catalogue() -> tuple[Recognizer, ...]:
    e = Entity
    return (
        PatternRecognizer(
            "email", e.EMAIL_ADDRESS,
            r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b",
            score=0.5, validator=v.is_email, validated_score=0.95,
            bulk=_settles(v.emails, 0.95)),
        PatternRecognizer(
            "url", e.URL, "\\b(?:(?:https?|ftps?)://|www\\.)[^\\s<>\"'`]+",
            score=0.5, validator=v.is_url, validated_score=0.85, strip=".,;:!?)]}'\""),
        PatternRecognizer(
            "phone", e.PHONE_NUMBER, _PHONE, score=0.25, scorer=phone_score,
            bulk=_phone_scores,
            context=_PHONE_CONTEXT, context_boost=0.35, negative_context=_PHONE_NEGATIVE),
        PatternRecognizer(
            "us_ssn", e.US_SSN, r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b",
            score=0.6, validator=v.is_us_ssn, validated_score=0.6,
            context=("ssn", "ssns", "social security", "social sec", "ss#", "ss #", "ssa",
                     "tax id", "taxpayer"), context_boost=0.35),
        PatternRecognizer(
            "us_ssn_bare", e.US_SSN, r"\b\d{9}\b", score=0.15,
            validator=v.is_us_ssn, validated_score=0.15,
            context=("ssn", "ssns", "social security", "social sec", "ss#", "ss #"),
            context_boost=0.6,
            negative_context=("license", "licence", "driver", "driver's", "passport", "account",
                              "routing", "order", "phone", "mrn", "invoice", "tracking")),
        PatternRecognizer(
            "credit_card", e.CREDIT_CARD, r"\b(?:\d[ \-]?){12,18}\d\b",
            score=0.3, validator=v.is_credit_card, validated_score=0.9,
            context=("card", "credit", "debit", "visa", "mastercard", "amex", "cc",
                     "payment", "pan"), context_boost=0.08),
        PatternRecognizer(
            "iban", e.IBAN_CODE, r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
            score=0.3, validator=v.is_iban, validated_score=0.95),
        PatternRecognizer(
            "ipv4", e.IP_ADDRESS, r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
            score=0.3, validator=_ipv4_not_version, validated_score=0.85,
            context=("ip", "address", "host", "server", "client", "connection"),
            context_boost=0.1,
            negative_context=("version", "v"), negative_penalty=0.3),
        PatternRecognizer(
            "ipv6", e.IP_ADDRESS, r"\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b",
            score=0.3, validator=_long_ipv6, validated_score=0.85),
        PatternRecognizer(
            "date", e.DATE_TIME, _DATE, score=0.3, validator=v.is_date, validated_score=0.7,
            context=_DATE_CONTEXT, context_boost=0.1, bulk=_settles(v.iso_dates, 0.7)),
        PatternRecognizer(
            "date_of_birth", e.DATE_OF_BIRTH, _DATE, score=0.3, validator=v.is_date,
            validated_score=0.3, context=_DOB_CONTEXT, context_boost=0.6,
            bulk=_settles(v.iso_dates, 0.3)),
        PatternRecognizer(
            "age", e.AGE, AGE_PATTERN, score=0.3, validator=v.is_age, validated_score=0.75,
            context=("patient", "pt", "man", "woman", "male", "female", "boy", "girl", "age"),
            context_boost=0.1),
        PatternRecognizer(
            "street_address", e.STREET_ADDRESS, _US_ADDRESS, score=0.7,
            context=_ADDRESS_CONTEXT, context_boost=0.2),
        PatternRecognizer(
            "street_address_eu", e.STREET_ADDRESS, _EU_ADDRESS, score=0.7,
            context=_ADDRESS_CONTEXT, context_boost=0.2),
        PatternRecognizer(
            "street_address_romance", e.STREET_ADDRESS, _ROMANCE_ADDRESS, score=0.65,
            context=_ADDRESS_CONTEXT, context_boost=0.2),
        PatternRecognizer(
            "street_address_lower", e.STREET_ADDRESS, _LOWER_ADDRESS, score=0.35,
            context=_ADDRESS_CONTEXT, context_boost=0.3),
        PatternRecognizer(
            "street_address_name_number", e.STREET_ADDRESS, _NAME_NUMBER_ADDRESS, score=0.45,
            context=(*_ADDRESS_CONTEXT, "apt", "apartment", "suite"), context_boost=0.2,
            needs_context=True),
        PatternRecognizer(
            "po_box", e.STREET_ADDRESS, r"\b(?i:p\.? ?o\.? box|post office box) \d{1,6}\b",
            score=0.8),
        PatternRecognizer(
            "address_unit", e.STREET_ADDRESS, _UNIT_ADDRESS,
            score=0.5, context=_ADDRESS_CONTEXT, context_boost=0.2),
        PatternRecognizer(
            "street_address_city_state", e.STREET_ADDRESS, _CITY_STATE_ADDRESS, score=0.7,
            context=_ADDRESS_CONTEXT, context_boost=0.2),
        PatternRecognizer(
            "zip_code", e.ZIP_CODE, r"\b\d{5}(?:-\d{4})?\b", score=0.25,
            validator=v.is_us_zip, validated_score=0.25,
            # postal words, or an address line just before (the last line of an address block)
            context=("zip", "zipcode", "zip code", "postal", "postcode", "post code", "zip:",
                     "address", "street", "st", "road", "rd", "avenue", "ave", "apt", "suite"),
            context_boost=0.5,
            negative_context=("$", "usd", "eur", "dollars", "total", "order", "invoice",
                              "account", "id", "#"), negative_penalty=0.2),
        PatternRecognizer(
            "us_driver_license", e.US_DRIVER_LICENSE,
            r"\b(?:[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|[A-Z]{1,2}\d{4,14}|\d{7,12}|\d{3}[A-Z]{2}\d{4})\b",
            score=0.05, validator=v.is_us_driver_license, validated_score=0.05,
            context=("driver", "driver's", "drivers", "license", "licence", "dl", "dln",
                     "driving", "permit"), context_boost=0.65),
        PatternRecognizer(
            "passport", e.PASSPORT, r"\b(?:[A-Z]{1,2}\d{6,8}|\d{9})\b",
            score=0.05, validator=v.is_passport_number, validated_score=0.05,
            context=("passport", "passport no", "passport number", "travel document"),
            context_boost=0.7),
        PatternRecognizer(
            "medical_record_number", e.MEDICAL_RECORD_NUMBER,
            r"\b(?:[A-Z]{1,3}-?)?\d{5,10}\b", score=0.05,
            validator=v.is_medical_record_number, validated_score=0.05,
            context=("mrn", "mrn:", "medical record", "record number", "record no", "chart",
                     "patient id", "hospital number", "med rec", "mr#", "mr #", "hosp no"),
            context_boost=0.7),
        PersonRecognizer(),
    )


def _optional() -> tuple[Recognizer, ...]:
    models = installed_spacy_models()
    return (SpacyPersonRecognizer(models[0]),) if models else ()


RECOGNIZERS: tuple[Recognizer, ...] = _catalogue() + _optional()


def recognizers(entities: Iterable[Entity | str] | None = None) -> tuple[Recognizer, ...]:
    """The default catalogue, or the part of it that finds ``entities``."""
    if entities is None:
        return RECOGNIZERS
    wanted = {Entity(x) for x in entities}
    return tuple(r for r in RECOGNIZERS if r.entity in wanted)


__all__ = [
    "RECOGNIZERS",
    "NameLexicon",
    "PatternRecognizer",
    "PersonRecognizer",
    "Recognizer",
    "SpacyPersonRecognizer",
    "installed_spacy_models",
    "name_lexicon",
    "recognizers",
]
