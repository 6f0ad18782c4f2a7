"""Person names in free text and columns: name dictionaries, capitalisation and context.

PERSON is not a regex: :class:`PersonRecognizer` looks capitalised words up in first- and
last-name dictionaries built from Faker's bundled locales (no network), sets aside common
words, months, places and street suffixes that merely look like names, and weighs titles and
the words around a candidate.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import polars as pl

from veil.discover.entities import Entity, Span
from veil.discover.patterns import (
    CONTEXT_BEFORE,
    Recognizer,
    _as_text,
    _clip,
    _has_words,
    _scatter,
    _zeros,
)

__all__ = ["NameLexicon", "PersonRecognizer", "name_lexicon"]


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
