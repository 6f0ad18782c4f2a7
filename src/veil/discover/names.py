"""Person names in free text and columns: dictionaries, a name-likeness model, and context.

PERSON is not a regex: :class:`PersonRecognizer` scores runs of capitalised words by

* what the words are: known first and last names from Faker's bundled locales (no network),
  or common words, months, weekdays, places and street words that merely look like names;
* how name-like an unknown word looks: a character n-gram model trained on the same name lists
  against a background of common words, so "Dlamini" or "Nguyễn" score by their spelling;
* what surrounds them: titles and name cues in several languages ("Frau", "Sra.", "patient",
  "je m'appelle") raise a run, places ("in", "at"), organisation words ("Inc", "GmbH",
  "X & Y"), place names ("Santa Clara", "St. Louis") and street words rule it out.

Lower-case names count only right after a strong cue ("my name is anna kowalska").
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

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

__all__ = ["NameLexicon", "PersonRecognizer", "name_lexicon", "name_likeness"]


# ----------------------------------------------------------------------------- the name lexicon

# Locales whose Faker person providers supply the name dictionaries (Latin script only: the
# recognizer reads Latin-script text).
NAME_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "en_PK", "de_DE", "de_AT", "de_CH", "de_LI",
    "de_LU", "fr_FR", "fr_CA", "fr_BE", "fr_CH", "es_ES", "es_MX", "es_AR", "es_CL", "es_CO",
    "es_CA", "it_IT", "nl_NL", "nl_BE", "pt_PT", "pt_BR", "pl_PL", "cs_CZ", "sk_SK", "sv_SE",
    "no_NO", "da_DK", "is_IS", "fi_FI", "et_EE", "hu_HU", "hr_HR", "sl_SI", "ro_RO", "tr_TR",
    "lt_LT", "lv_LV", "ga_IE", "id_ID",
)
# Locales kept out of every list and model here: the evaluation corpus draws unseen names
# from them (Vietnamese, Filipino, African, Azerbaijani, Uzbek), so recall there measures how
# names the dictionaries lack are found. Faker's other African locales go with them.
HELD_OUT_LOCALES = frozenset({
    "vi_VN", "fil_PH", "tl_PH", "en_PH", "zu_ZA", "yo_NG", "tw_GH", "az_AZ", "uz_UZ",
    "en_NG", "ig_NG", "ha_NG", "en_KE", "sw",
})

TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "mlle", "herr", "frau",
    "sr", "sra", "srta", "dame", "lord", "lady", "rev", "pt", "sig", "dott", "dhr", "mevr",
    "pan", "pani", "hr", "fru", "frk", "fr", "sgr", "ing", "meneer", "mevrouw", "mijnheer",
})
# Titles that are single letters ("M. Dupont") count only with their full stop.
_LETTER_TITLES = frozenset({"m"})
# Abbreviation endings after a title's dot: "Sig.ra", "Dott.ssa".
_TITLE_ENDINGS = frozenset({"ra", "na", "ssa"})
# Lower-case particles inside a name: "Ludwig van Beethoven", "Dhr. de Vries".
PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "do", "du",
    "la", "le", "ter", "ten", "zu", "bin", "ibn", "al",
})
CREDENTIALS = frozenset({"MD", "PhD", "DDS", "DO", "RN", "NP", "PA", "Jr", "Sr", "II", "III",
                         "IV", "Esq", "DMD", "MBA"})
# Trailing words that make a capitalised run an organisation rather than a person.
ORG_WORDS = frozenset({
    "inc", "llc", "ltd", "corp", "corporation", "co", "company", "group", "gmbh", "ag", "sa",
    "plc", "bank", "university", "college", "school", "institute", "hospital", "clinic",
    "foundation", "association", "society", "club", "software", "consulting", "systems",
    "solutions", "partners", "holdings", "international", "technologies", "labs", "studio",
    "studios", "records", "press", "media", "airlines", "motors", "center", "centre", "llp",
    "lp", "bv", "nv", "spa", "srl", "sarl", "sas", "oy", "oyj", "ab", "asa", "kg", "kgaa",
    "se", "kft", "zrt", "sro", "ltda", "pty", "bros", "brothers", "sons", "associates",
    "capital", "ventures", "industries", "enterprises", "stiftung", "verein", "universität",
    "université", "universidad", "università", "klinik", "klinikum",
})
# Organisations named like people (tokens lower-cased, "&" and "and" dropped).
KNOWN_ORGS = frozenset({
    "morgan stanley", "goldman sachs", "merrill lynch", "lehman brothers", "wells fargo",
    "charles schwab", "dow jones", "rolls royce", "harley davidson", "hewlett packard",
    "calvin klein", "ralph lauren", "tommy hilfiger", "louis vuitton", "hugo boss",
    "christian dior", "yves saint laurent", "walt disney", "giorgio armani", "michael kors",
    "marc jacobs", "kate spade", "estée lauder", "philip morris", "eli lilly",
    "bristol myers squibb", "thermo fisher", "john deere", "lockheed martin",
    "northrop grumman", "price waterhouse", "arthur andersen", "sherwin williams",
    "johnson controls", "kraft heinz", "jack daniels", "mercedes benz", "alfa romeo",
    "aston martin", "ernst young", "marks spencer", "procter gamble", "barnes noble",
    "simon schuster", "dolce gabbana", "abercrombie fitch", "black decker", "smith wesson",
    "johnson johnson", "ben jerry's", "warner bros", "paul hastings", "baker mckenzie",
    "allen overy", "clifford chance", "freshfields bruckhaus deringer", "boston scientific",
    "kaiser permanente", "charles river", "booz allen hamilton", "dun bradstreet",
})
# First words of place names: "Santa Clara", "St. Louis", "Mount Vernon", "Fort Worth".
PLACE_PREFIXES = frozenset({
    "santa", "san", "santo", "são", "st", "ste", "saint", "sainte", "sankt", "mount", "mt",
    "lake", "fort", "ft", "port", "porto", "puerto", "los", "las", "new", "north", "south",
    "east", "west", "cape", "bad", "isla", "rio", "monte", "mont", "val", "villa", "ciudad",
})
PLACE_BEFORE = frozenset({"in", "at", "from", "near", "to", "into", "via", "visit", "visited",
                          "toward", "towards", "across", "around", "outside"})
# Words that start a street name ("Rue de Rivoli", "Via Roma", "ulica Długa").
STREET_PREFIXES = frozenset({
    "rue", "chemin", "avenue", "allée", "impasse", "boulevard", "calle", "avenida", "paseo",
    "camino", "carrer", "plaza", "via", "viale", "piazza", "corso", "strada", "vicolo", "rua",
    "praça", "travessa", "largo", "ulica", "ul", "aleja", "al", "plac", "osiedle",
})
# Street suffixes that end a run as an address even without a house number, and those that
# only do so after one (they are also surnames: Lane, Way, Court).
STREET_SUFFIXES_STRONG = frozenset({
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "highway", "hwy",
    "parkway", "pkwy", "drive", "expressway", "freeway", "turnpike", "straße", "strasse",
    "straat", "gasse", "allee", "platz", "laan", "weg", "plein", "gracht", "utca", "út", "tér",
    "sokak", "sokağı", "caddesi", "vej", "gade", "gata", "gatan", "vägen", "katu", "tie",
    "náměstí", "ulice", "cesta",
})
STREET_SUFFIXES_WEAK = frozenset({
    "lane", "ln", "court", "ct", "way", "place", "pl", "terrace", "ter", "circle", "cir",
    "square", "sq", "crescent", "alley", "plaza", "trail", "row", "close", "dr", "path",
})
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Months and weekdays Faker's date providers lack (Swedish, Finnish, German weekdays, Spanish).
_MORE_CALENDAR_WORDS = (
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
    "oktober", "november", "december", "måndag", "tisdag", "onsdag", "torsdag", "fredag",
    "lördag", "söndag", "tammikuu", "helmikuu", "maaliskuu", "huhtikuu", "toukokuu",
    "kesäkuu", "heinäkuu", "elokuu", "syyskuu", "lokakuu", "marraskuu", "joulukuu",
    "maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai",
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "enero",
    "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
    "noviembre", "diciembre", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado",
    "domingo",
)
# Capitalised words common in text that the word lists below lack.
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
    # greetings and salutations in other languages
    "guten", "tag", "hallo", "sehr", "geehrte", "geehrter", "liebe", "lieber", "bonjour",
    "cher", "chère", "hola", "estimado", "estimada", "querido", "querida", "ciao", "gentile",
    "egregio", "caro", "cara", "beste", "geachte", "hej", "hei", "kære", "szanowny",
    "szanowna", "drogi", "droga", "tisztelt", "olá", "je", "ich", "ik", "jag", "jeg",
)

# Roles a form or letter names a person by, right before the name ("Versicherter Lilo Stahr",
# "Beneficiary Ib Schmidt"): cues, never part of the name.
ROLE_CUES = (
    "beneficiary", "beneficiario", "beneficiaria", "bénéficiaire", "begünstigter",
    "begünstigte", "versicherter", "versicherte", "insured", "policyholder", "assicurato",
    "assicurata", "asegurado", "asegurada", "assuré", "assurée", "verzekerde",
    "rekeninghouder", "kontoinhaber", "kontoinhaberin", "kontoinnehavare", "kontohaver",
    "titulaire", "titular",
    "intestatario", "intestataria", "cardholder", "holder", "payee", "recipient",
    "empfänger", "empfängerin", "destinataire", "destinatario", "destinataria", "tenant",
    "mieter", "mieterin", "locataire", "inquilino", "inquilina", "applicant",
    "antragsteller", "antragstellerin", "employee", "mitarbeiter", "mitarbeiterin",
    "passenger", "guest", "debtor", "schuldner", "signatory",
)
# Articles and demonstratives: a capitalised word right after one is a noun ("Die Rechnung",
# "Der Server", "the Harvey Nichols team"), not a person.
DETERMINERS = frozenset({
    "the", "this", "that", "these", "those", "der", "die", "das", "dem", "ein", "eine",
    "einen", "einem", "einer", "dieser", "diese", "dieses", "les", "un", "une", "ce", "cette",
    "el", "los", "las", "una", "uno", "il", "lo", "gli", "het", "een", "deze", "dit",
})

# Polish feminine surnames Faker derives from the masculine ones it lists.
_FEMININE = (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka"))


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
    """Lower-cased first names, last names, capitalised words that are not names, and the
    words and multi-word names of places."""

    first: frozenset[str]
    last: frozenset[str]
    stop: frozenset[str]
    places: frozenset[str] = frozenset()


# Latin letters (Basic, Latin-1, Extended-A/B, Extended Additional) and name punctuation.
_LATIN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ '’.\-]+")


def _latin(word: str) -> bool:
    return _LATIN.fullmatch(word) is not None


def _strings(value: object) -> list[str]:
    """The strings in a Faker provider attribute (tuples, dicts of weights, nested lists)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict | tuple | list | set | frozenset):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(_strings(item))
    return out


def _faker_locales(kind: str) -> tuple[str, ...]:
    """Faker's locales for one provider kind, held-out ones excluded."""
    package = importlib.import_module(f"faker.providers.{kind}")
    return tuple(sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                        if m.ispkg and m.name not in HELD_OUT_LOCALES))


def _faker_values(kind: str, attrs: tuple[str, ...],
                  locales: Iterable[str] | None = None) -> set[str]:
    """Lower-cased Latin-script strings of some attributes of Faker providers (templates
    such as "{{last_name}} Street" and "###" skipped)."""
    found: set[str] = set()
    for locale in _faker_locales(kind) if locales is None else locales:
        try:
            provider = importlib.import_module(f"faker.providers.{kind}.{locale}").Provider
        except ImportError:
            continue
        for attr in attrs:
            value = provider.__dict__.get(attr, getattr(provider, attr, ()))
            found.update(s.lower() for s in _strings(value)
                         if "{" not in s and "#" not in s and _latin(s))
    return found


def _words(phrases: Iterable[str]) -> set[str]:
    return {w for phrase in phrases for w in _WORD.findall(phrase) if len(w) >= 2}


def _provider_names(locales: Iterable[str], part: str) -> set[str]:
    """Lower-cased names of one part ("first_name" or "last_name") from the person
    providers' lists, whatever a locale calls them ("first_names_female", "unisex_last_names"),
    with the words of multi-word names ("de vries" -> also "vries")."""
    names: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        attrs = tuple(a for a in dir(provider) if part in a and not a.startswith("_")
                      and not callable(getattr(provider, a)))
        names |= _faker_values("person", attrs, (locale,))
    names |= {w for n in names if " " in n for w in n.split()
              if w not in PARTICLES and w not in _EXTRA_STOP}
    names |= {n[:-len(male)] + female for n in names for male, female in _FEMININE
              if n.endswith(male)}
    return {n for n in names if len(n) >= 2}


@cache
def _background_words() -> frozenset[str]:
    """Common words in the languages the recognizer reads: Faker's lorem word lists, job
    titles, company slogans, colours, currencies, countries, states, street words."""
    words = _faker_values("lorem", ("word_list",))
    words |= _faker_values("company", ("catch_phrase_words", "bsWords", "company_suffixes"))
    words |= _faker_values("job", ("jobs", "jobs_male", "jobs_female"))
    words |= _faker_values("address", ("street_suffixes", "street_prefixes", "countries",
                                       "states", "street_titles"))
    words |= _faker_values("currency", ("currencies",))
    words |= _faker_values("color", ("all_colors", "safe_colors"))
    return frozenset(_words(words))


@cache
def _place_names() -> frozenset[str]:
    """City and municipality names from Faker's address providers."""
    return frozenset(_faker_values("address", ("cities", "city_names", "municipalities",
                                               "real_city_names", "places")))


def _calendar_words() -> set[str]:
    """Month and weekday names in the main European languages, with English abbreviations."""
    words = set(MONTHS) | set(WEEKDAYS) | set(_MORE_CALENDAR_WORDS)
    for locale in _faker_locales("date_time"):
        provider = importlib.import_module(f"faker.providers.date_time.{locale}").Provider
        for attr in ("MONTH_NAMES", "DAY_NAMES"):  # {"01": "Janvier", ...}
            words |= {w.lower() for w in getattr(provider, attr, {}).values() if _latin(w)}
    return _words(words) | {m[:3] for m in MONTHS} | {d[:3] for d in WEEKDAYS}


@cache
def name_lexicon() -> NameLexicon:
    """Names from Faker's bundled person providers (data in the package: no network), and a
    stoplist of common words, calendar words, countries, street and organisation words."""
    first = _provider_names(NAME_LOCALES, "first_name")
    last = _provider_names(NAME_LOCALES, "last_name")
    stop: set[str] = set(_EXTRA_STOP) | _calendar_words() | TITLES | ORG_WORDS
    stop |= set(ROLE_CUES) | DETERMINERS
    stop |= STREET_SUFFIXES_STRONG | STREET_SUFFIXES_WEAK | STREET_PREFIXES | PLACE_PREFIXES
    lorem = importlib.import_module("faker.providers.lorem.en_US").Provider
    stop |= {w.lower() for w in lorem.word_list}
    address = importlib.import_module("faker.providers.address.en_US").Provider
    for attr in ("countries", "states"):
        for place in getattr(address, attr, ()):
            stop |= set(place.lower().split())
    # Common words of other languages and trades that are nobody's name.
    stop |= _background_words() - first - last
    places = _place_names()
    stop |= {p for p in places if " " not in p and "-" not in p} - first - last
    return NameLexicon(frozenset(first), frozenset(last), frozenset(stop), places)


# ------------------------------------------------------------------- how name-like a word looks

_ORDER = 3  # characters of context + 1
_ALPHABET = 300  # the uniform floor under the lowest order


@dataclass(frozen=True)
class _CharModel:
    """A character n-gram model of a vocabulary, Witten-Bell smoothed: each order mixes with
    the one below in proportion to how many different characters followed its context."""

    grams: dict[str, int]  # context + next character -> count (contexts of every length)
    contexts: dict[str, int]  # context -> count
    types: dict[str, int]  # context -> distinct next characters

    @staticmethod
    def _padded(word: str) -> str:
        return "\x02" * (_ORDER - 1) + word + "\x03"

    @classmethod
    def train(cls, words: Iterable[str]) -> _CharModel:
        full = Counter(s[i - _ORDER + 1:i + 1] for s in map(cls._padded, words)
                       for i in range(_ORDER - 1, len(s)))
        # Every position has a full-order gram, so the lower orders are its suffixes.
        grams: Counter[str] = Counter()
        for gram, count in full.items():
            for k in range(_ORDER):
                grams[gram[k:]] += count
        contexts: Counter[str] = Counter()
        types: Counter[str] = Counter()
        for gram, count in grams.items():
            contexts[gram[:-1]] += count
            types[gram[:-1]] += 1
        return cls(dict(grams), dict(contexts), dict(types))

    def log_prob(self, word: str) -> float:
        s = self._padded(word)
        total = 0.0
        for i in range(_ORDER - 1, len(s)):
            p = 1.0 / _ALPHABET
            for k in range(_ORDER):
                context = s[i - k:i]
                n = self.contexts.get(context, 0)
                if not n:
                    break
                mix = n / (n + self.types[context])
                p = mix * self.grams.get(context + s[i], 0) / n + (1 - mix) * p
            total += math.log(p)
        return total


@cache
def _char_models() -> tuple[_CharModel, _CharModel]:
    """(names, common words), trained once per process on words in only one of the two."""
    lex = name_lexicon()
    names = lex.first | lex.last
    background = _background_words() | {p for p in lex.places if " " not in p}
    both = names & background
    return _CharModel.train(sorted(names - both)), _CharModel.train(sorted(background - both))


@lru_cache(maxsize=65536)
def name_likeness(word: str) -> float:
    """Log-likelihood ratio (nats) that ``word`` is a name rather than a common word, by its
    spelling alone: above ``NAME_LIKE`` it looks like a name ("Kasslin", "Nguyễn"), below
    ``WORD_LIKE`` like a word ("Strategy", "Python"); most words lie in between."""
    names, background = _char_models()
    key = word.lower()
    return names.log_prob(key) - background.log_prob(key)


NAME_LIKE = 1.0  # name_likeness from which a word in no list counts as spelt like a name
WORD_LIKE = -3.0  # and up to which as spelt like a common word


# --------------------------------------------------------------------------- person recognizer

_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_POSSESSIVE = ("'s", "’s")
_SENTENCE_END = frozenset(".!?¡¿\n\"“:;()[]")

# Words before a capitalised run that make it a person: strong cues name it outright, weak
# ones are merely things people (more than places or products) do.
PERSON_CONTEXT_STRONG = (
    "name", "named", "name is", "names", "called", "call me", "calls me", "dear", "signed",
    "patient", "pt", "attn", "husband", "wife", "son", "daughter", "mother", "father",
    "brother", "sister", "partner", "kid", "friend", "colleague",
    # patients and clients, salutations and introductions in other languages
    "patiënt", "patientin", "paciente", "pacjent", "pacjentka", "potilas", "client", "cliente",
    "kunde", "kundin", "klant", "klient", "klientka", "sehr geehrte", "sehr geehrter", "liebe",
    "lieber", "cher", "chère", "estimado", "estimada", "querido", "querida", "gentile",
    "egregio", "beste", "geachte", "kære", "szanowny", "szanowna", "tisztelt",
    "ich heiße", "ich heisse", "mein name ist", "je m'appelle", "je m’appelle", "me llamo",
    "mi nombre es", "mi chiamo", "mijn naam is", "ik heet", "nazywam się", "jag heter",
    "jeg hedder", "jeg heter", "olen", "nimeni on", "chamo-me", "meu nome é",
    "account holder", "emergency contact", "contact person", "contact:", *ROLE_CUES,
)
PERSON_CONTEXT_WEAK = (
    "said", "says", "told", "asked", "wrote", "by", "met", "with", "contact", "from:", "to:",
    "cc", "spoke", "thanks", "thank you", "hi", "hello", "starring", "featuring", "feat",
    "hallo", "bonjour", "hola", "ciao", "hej", "hei", "olá", "ex",
)
# Phrases after which even a lower-case word is a name ("my name is anna kowalska").
_INTRODUCTION = re.compile(
    r"(?:\bmy name is|\bi am called|\bcall me|\bich heiße|\bich heisse|\bmein name ist"
    r"|\bje m['’]appelle|\bme llamo|\bmi nombre es|\bmi chiamo|\bmijn naam is|\bik heet"
    r"|\bnazywam się|\bjag heter|\bjeg hedder|\bjeg heter|\bhei,? olen|\bnimeni on"
    r"|\bchamo-me|\bmeu nome é) $", re.IGNORECASE)
# What a person does right after being named ("Duqyaha shouted", "Sumaya's kid").
_PERSON_AFTER = re.compile(
    r"^(?:['’]s (?:kid|kids|wife|husband|son|daughter|mother|father|mom|dad|brother|sister"
    r"|partner|friend|family|boss|children|birthday)"
    r"| (?:said|says|shouted|asked|told|tells|wrote|writes|replied|explained|added|smiled"
    r"|laughed|nodded|whispered|lives|lived|works|worked|died|was born))\b")
# Things people do more than organisations and places, but not only people: weaker evidence.
_PERSON_AFTER_WEAK = re.compile(
    r"^ (?:called|calls|phoned|emailed|texted|signed|complained|mentioned|spent|began|wants"
    r"|wanted|needs|needed|thinks|thought|feels|felt)\b")
# An auxiliary after a run ("X will arrive", "X is my"): weak evidence, and none for a lone
# word nobody lists, which is as often a common noun ("Delivery is free").
_AUXILIARY_AFTER = re.compile(
    r"^ (?:is (?:very|a|an|my|our|your|his|her)|was (?:a|an|my|our|your|his|her)"
    r"|(?:will|would|can|could|should|must|has|had|was|is) \w+)\b")
# What follows a lower-case name at the start of a line: "lucia danko is 6 years old",
# "david willis signed the contract".
_LOWER_CASE_AFTER = re.compile(r"^ (?:signed|is \d{1,3} years old|was born)\b")
# A name addressed at the start of a sentence: "Marisca, can I ...".
_VOCATIVE = re.compile(r"^, (?:can|could|would|will|please|i|you|we|are|do|did|have|thanks"
                       r"|thank|how|what|where|when|why|is|let|tell)\b", re.IGNORECASE)
# A number (not a year: "In 2019 Anna Weber moved") right before a run.
_NUMBER_BEFORE = re.compile(r"(?<![\w-])(?!(?:1[5-9]|20)\d\d[ \t]+$)[\w-]*\d[\w-]*[ \t]+$")
# A house number (not a year, a time or an amount) right before a run: "48 Tina Ford",
# "X82 20FE Terri Ville".
_HOUSE_NUMBER = re.compile(r"(?<![\w.:/$€£-])(?!(?:1[5-9]|20)\d\d[ \t]+$)"
                           r"[A-Za-z]{0,2}\d{1,5}[A-Za-z]{0,2}[ \t]+$")
# Streets named at a crossing: "the corner of Cheryl Lodge and Antonio Rue".
_CORNER = re.compile(r"\b(?:corner|intersection|junction) of (?:[^.;!?\n]* (?:and|&) )?$",
                     re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(
    rf"(?<!\w)(?i:{'|'.join(sorted(DETERMINERS))}) $")
# Verbs and adjectives that take a person after "at" ("looked at Anna", "angry at Tom").
_LOOK_AT = re.compile(r"\b(?:look\w*|stare\w*|glanc\w*|smil\w*|laugh\w*|point\w*|yell\w*"
                      r"|shout\w*|wav\w*|nodd\w*|wink\w*|angry|mad|upset|furious) at $",
                      re.IGNORECASE)
# What sentences about firms speak of: takings, shops, offices, shares (EN/DE/FR/ES/IT/NL).
_ORG_SENTENCE = re.compile(
    r"\b(?:revenues?|turnover|profits?|umsatz|gewinn|chiffre d['’]affaires|ingresos"
    r"|facturación|fatturato|omzet|stores|shops|branches|filialen|magasins|tiendas|negozi"
    r"|winkels|shares|aktien|opened an? (?:new )?(?:office|store|shop|branch)"
    r"|headquarter(?:s|ed)|subsidiary|subsidiaries)\b")
PERSON_NEGATIVE = ("in", "at", "from", "near", "of", "the", "visit", "visited", "via",
                   "into", "across", "toward", "towards")
_CONTRACTIONS = frozenset({"d", "ll", "m", "re", "ve", "s"})
# Endings of English words that are rarely names ("Accessing", "Currently", "Equivalent").
_WORD_ENDINGS = ("ing", "ly", "tion", "sion", "ment", "ness", "able", "ible", "ful", "less",
                 "ous", "ive", "ize", "ise", "ism", "ity", "ence", "ance", "ical", "ated", "ers",
                 "ies", "ics", "ure", "ship", "ward", "wise", "like", "based", "ent", "ant")
_NAMED = frozenset({"first", "last"})
# What a lower-case name may hold ("jan de roover": "jan" is also a month); one word must be
# a listed name.
_LOWER_CASE_KINDS = frozenset({"first", "last", "namelike", "ambiguous", "initial", "particle"})
_NEUTRAL = frozenset({"initial", "particle"})  # say nothing for or against a name


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


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around ``text[start:end]``, lower-cased."""
    left = max(text.rfind(ch, 0, start) for ch in ".!?\n")
    rights = [i for i in (text.find(ch, end) for ch in "!?\n") if i >= 0]
    return text[left + 1:min(rights) if rights else len(text)].lower()


def _sentence_start(text: str, start: int) -> bool:
    """Whether only blanks stand between ``start`` and the previous sentence's end (or the
    text's start); reads back over the blanks alone, never copying the text before."""
    i = start
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    return i == 0 or text[i - 1] in _SENTENCE_END


def _joined(text: str, left: _Token, right: _Token) -> bool:
    """Whether two tokens belong to one name: one blank between, or an initial and a dot."""
    gap = text[left.end:right.start]
    return gap == " " or (len(left.word) == 1 and gap in {". ", "."})


def _particle(tokens: list[_Token], j: int, text: str) -> bool:
    """Whether tokens[j] is a lower-case particle inside a name, before a capitalised word or
    another particle ("Sten van den Broek")."""
    while j + 1 < len(tokens) and tokens[j].word in PARTICLES:
        if text[tokens[j].end:tokens[j + 1].start] != " ":
            return False
        if _capitalised(tokens[j + 1].word):
            return True
        j += 1
    return False


def _kind(tok: _Token, lex: NameLexicon) -> str:
    """first / last (dictionary name), stop (a common word, month, place...), ambiguous (both,
    like "Will" or "Jordan"), initial, particle, or for words in no list: namelike, wordlike
    (by their spelling), or unknown."""
    if tok.word in PARTICLES:
        return "particle"
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
    if key.endswith(_WORD_ENDINGS):
        return "stop"
    likeness = min(name_likeness(p) for p in parts)
    if likeness >= NAME_LIKE:
        return "namelike"
    return "wordlike" if likeness <= WORD_LIKE else "unknown"


def _composition_score(kinds: list[str]) -> float:
    """Confidence from what the tokens of a run are, before any context."""
    kinds = [k for k in kinds if k not in _NEUTRAL]  # "John F. Kennedy": the F. says nothing
    if not kinds:
        return 0.0
    strong = sum(k in _NAMED for k in kinds)
    spelt = sum(k == "namelike" for k in kinds)
    if len(kinds) == 1:
        return {"first": 0.6, "last": 0.45, "ambiguous": 0.2, "namelike": 0.3,
                "unknown": 0.15, "wordlike": 0.1}[kinds[0]]
    if kinds[0] in {"first", "ambiguous"} and strong >= 2:
        return 0.9  # "Douglas Lind"
    if strong >= 2:
        return 0.8
    if kinds[0] == "first":
        return 0.75  # "Patricia Jeknić": a known first name and an unknown surname
    if strong == 1 and strong + spelt == len(kinds):
        return 0.65  # "Kwame Mensah": a known name and one spelt like a name
    if strong == 1:
        return 0.5  # "Gracie Weber" as often as "Stack Overflow"
    if "ambiguous" in kinds or "wordlike" in kinds:
        return 0.35 if "ambiguous" in kinds and "wordlike" not in kinds else 0.15
    # Two or more capitalised words in no list and none spelt like a common word: a proper
    # name, and organisations and places were ruled out before.
    return 0.55 if spelt else 0.5  # "Sipho Dlamini", "Nguyễn Thị Hương"


def _headline(text: str, start: int, end: int) -> bool:
    """Whether the sentence around a run is in Title Case, where capitals say little."""
    left = max(text.rfind(ch, 0, start) for ch in ".!?\n")
    rights = [i for i in (text.find(ch, end) for ch in ".!?\n") if i >= 0]
    sentence = text[left + 1:min(rights) if rights else len(text)]
    words = _WORD.findall(sentence)[1:]
    if len(words) < 5:
        return False
    return sum(_capitalised(w) for w in words) / len(words) >= 0.6


def _title_at(text: str, tokens: list[_Token], i: int) -> int:
    """How many tokens a title at tokens[i] takes ("Dr", "Sig.ra": 2), or 0 when none: a
    title is followed by a capitalised word or a particle."""
    tok = tokens[i]
    letter = tok.key in _LETTER_TITLES and tok.word.isupper()
    if tok.key not in TITLES and not letter:
        return 0
    j = i + 1
    if (j < len(tokens) and tokens[j].word in _TITLE_ENDINGS
            and text[tok.end:tokens[j].start] == "."):
        j += 1  # "Sig.ra Bianchi"
    if j >= len(tokens):
        return 0
    nxt, gap = tokens[j], text[tokens[j - 1].end:tokens[j].start]
    if not (_capitalised(nxt.word) or _particle(tokens, j, text)):
        return 0
    dotted = gap in {". ", "."}
    if dotted or (gap == " " and not letter and not tok.word.isupper()):
        return j - i
    return 0


def _firm_or_place(text: str, run: list[_Token], lex: NameLexicon) -> bool:
    """Whether a run names an organisation or a place: "Morgan Stanley", "Ernst & Young",
    "Santa Clara", "St. Louis", "Rue de Rivoli"."""
    start, end = run[0].start, run[-1].end
    if re.match(r"\s?&\s?\w", text[end:end + 4]) or re.search(r"\w\s?&\s?$", text[:start]):
        return True  # "Johnson & Johnson", "Ernst & Young"
    words = " ".join(t.key for t in run if t.key not in {"and"}).replace("-", " ")
    if words in KNOWN_ORGS or (words in lex.places and len(run) > 1):
        return True
    first = run[0].key
    prefixes = _street_prefixes()
    if first in prefixes or (first in PLACE_PREFIXES and len(run) > 1):
        return True
    before = [w.lower() for w in _WORD.findall(text[max(0, start - 30):start])]
    while before and before[-1] in PARTICLES:  # "Callejón de Jenny Marcos"
        before.pop()
    if not re.search(r"\w\.?[ \t]*$", text[:start]):
        return False
    return bool(before) and before[-1] in PLACE_PREFIXES | prefixes


@cache
def _street_prefixes() -> frozenset[str]:
    """Words that open a street name, ours and Faker's ("Intrarea", "Glorieta", "Drumul"),
    without names ("Björk") and short ones ("Ny")."""
    lex = name_lexicon()
    faker = {w for w in _faker_values("address", ("street_prefixes", "street_prefix"))
             if " " not in w.strip() and len(w.strip(" .")) >= 4}
    return STREET_PREFIXES | frozenset(
        w.strip(" .") for w in faker if w.strip(" .") not in lex.first | lex.last)


@cache
def _street_suffixes() -> frozenset[str]:
    """Words that end a street name, ours and Faker's ("Lodge", "Haven", "Lakes")."""
    faker = _faker_values("address", ("street_suffixes", "street_suffix"))
    return (STREET_SUFFIXES_STRONG | STREET_SUFFIXES_WEAK
            | frozenset(w.strip(" .") for w in faker if " " not in w.strip()))


@cache
def _company_suffix() -> re.Pattern[str]:
    """A legal-form suffix right after a word, as Faker's company providers spell them
    ("GmbH", "s.r.o.", "A/S", "and Sons", "e Filhos"): case-sensitive, so "SE" is not "se"."""
    suffixes: set[str] = set()
    for locale in _faker_locales("company"):
        try:
            provider = importlib.import_module(f"faker.providers.company.{locale}").Provider
        except ImportError:
            continue
        value = provider.__dict__.get("company_suffixes", getattr(provider, "company_suffixes", ()))
        suffixes |= {v.strip() for v in _strings(value)
                     if v.strip() and not v.startswith("&") and _LATIN.fullmatch(
                         v.replace("/", "").replace("(", "").replace(")", "")) is not None}
    suffixes |= set(_MORE_LEGAL_FORMS)
    alternatives = "|".join(re.escape(v) for v in sorted(suffixes, key=len, reverse=True))
    return re.compile(rf",? (?:{alternatives})(?![^\W_])")


# Legal forms Faker's company providers lack (Slovenian, German, Baltic).
_MORE_LEGAL_FORMS = ("s.p.", "d.n.o.", "k.d.", "e.K.", "OÜ", "UAB", "SIA", "AS")
# Conjunctions inside a firm's name ("Vörös és Horváth Kht.", "Walker, Wong and Garrison").
_FIRM_JOINS = frozenset({"and", "und", "et", "y", "e", "és", "og", "och", "en", "ve", "i", "a"})


def _company_spans(text: str, tokens: list[_Token]) -> list[tuple[int, int]]:
    """Where firms with a legal form stand: the capitalised words, commas and conjunctions
    before a suffix ("Soós Molnár Nyrt.", "Flores and Sons", "Kristensen A/S")."""
    found: list[tuple[int, int]] = []
    suffix = _company_suffix()
    for i, tok in enumerate(tokens):
        if not _capitalised(tok.word) or not suffix.match(text, tok.end):
            continue
        j = i
        while j > 0 and text[tokens[j - 1].end:tokens[j].start] in {" ", ", ", " & ", "-"}:
            prev = tokens[j - 1]
            if not (_capitalised(prev.word) or prev.word in _FIRM_JOINS | PARTICLES):
                break
            j -= 1
        found.append((tokens[j].start, tok.end))
    return found + _surname_lists(text, tokens)


def _surname_lists(text: str, tokens: list[_Token]) -> list[tuple[int, int]]:
    """Three lone surnames in a list, the way partnerships are named ("Walker, Wong and
    Garrison", "Vörös és Horváth"): not people, who are listed by first or full names
    ("Anna, Maria and Sophie", "Anna Weber, Jan Kopa and Lea Roth")."""
    lex = name_lexicon()
    found: list[tuple[int, int]] = []
    for i in range(len(tokens) - 3):
        a, b, join, c = tokens[i:i + 4]
        if (text[a.end:b.start] != ", " or text[b.end:join.start] not in {" ", ", "}
                or join.word not in _FIRM_JOINS or text[join.end:c.start] != " "
                or not all(_capitalised(t.word) for t in (a, b, c))):
            continue
        if (i > 0 and _joined(text, tokens[i - 1], a) and _capitalised(tokens[i - 1].word)) or (
                i + 4 < len(tokens) and _joined(text, c, tokens[i + 4])
                and _capitalised(tokens[i + 4].word)):
            continue  # full names
        if sum(t.key not in lex.first for t in (a, b, c)) >= 2:
            found.append((a.start, c.end))
    return found


@dataclass(frozen=True)
class PersonRecognizer(Recognizer):
    """Names by dictionary, spelling, capitalisation and context, not by regex alone.

    A candidate is a run of 1-4 capitalised tokens (with "van", "de" and the like inside). It
    scores by what the tokens are (known first names, known last names, words spelt like
    names, or common words, months, places and street words that merely look like names) and
    by what surrounds it: a title ("Mr.", "Frau", "Sra.") or words such as "name", "called",
    "dear", "patient" raise it, and so does a verb after it ("said", "called"); "in", "at",
    "from" (places) lower it; a run ending in a street suffix or a company word, a known firm
    or place, or either side of "&" is not a person at all. A lower-case run counts only after
    an introduction ("my name is", "je m'appelle").
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
        firms = _company_spans(text, tokens)
        i, titled = 0, False
        while i < len(tokens):
            tok = tokens[i]
            taken = _title_at(text, tokens, i)
            if taken:
                titled, i = True, i + taken
                continue
            if not _capitalised(tok.word) and not (titled and _particle(tokens, i, text)):
                lower = self._introduced(text, tokens, i, lex)
                if lower is not None:
                    found.append(lower[0])
                titled, i = False, (lower[1] if lower is not None else i + 1)
                continue
            run = [tok]
            j = i + 1
            while (j < len(tokens) and sum(t.key not in PARTICLES for t in run) < 4
                   and _joined(text, tokens[j - 1], tokens[j])):
                if (not (_capitalised(tokens[j].word) or _particle(tokens, j, text))
                        or (_title_at(text, tokens, j) and len(tokens[j].word) > 1)):
                    break  # a one-letter "title" inside a run is an initial: "Catarina M. Pacheco"
                run.append(tokens[j])
                j += 1
            span = self._score_run(text, run, tokens, j, titled, lex)
            if span is not None and not any(a < span.end and span.start < b for a, b in firms):
                found.append(span)
            titled, i = False, j
        return found

    def _introduced(self, text: str, tokens: list[_Token], i: int,
                    lex: NameLexicon) -> tuple[Span, int] | None:
        """A lower-case name right after an introduction ("my name is anna kowalska"), or
        opening a sentence before what people do ("lucia danko is 6 years old"), and the
        index after it."""
        introduced = _INTRODUCTION.search(text[max(0, tokens[i].start - 20):tokens[i].start])
        if not introduced and not _sentence_start(text, tokens[i].start):
            return None
        run: list[_Token] = []
        kinds: list[str] = []
        for tok in tokens[i:i + 4]:
            kind = _kind(tok, lex)
            if (kind not in _LOWER_CASE_KINDS or tok.word != tok.key
                    or (run and not _joined(text, run[-1], tok))):
                break
            run.append(tok)
            kinds.append(kind)
        while kinds and (kinds[-1] == "particle" or (
                kinds[-1] == "initial" and not text.startswith(".", run[-1].end)
                and not _LOWER_CASE_AFTER.match(text[run[-1].end:run[-1].end + 30]))):
            run, kinds = run[:-1], kinds[:-1]  # "jan kopa i mam": "i" is "and"
        if not run or kinds[0] in {"initial", "particle"} or not _NAMED.intersection(kinds):
            return None
        end = run[-1].end
        if kinds[-1] == "initial" and text.startswith(".", end):
            end += 1  # "orosz mária z."
        following = text[end:end + 30]
        if not introduced and (  # a name and a surname, then a verb only people take
                len([k for k in kinds if k not in _NEUTRAL]) < 2
                or not (_LOWER_CASE_AFTER.match(following) or _PERSON_AFTER.match(following))):
            return None
        score = 0.75 if any(k in _NAMED for k in kinds) else 0.55
        return Span(run[0].start, end, self.entity, score, self.name), i + len(run)

    def _score_run(self, text: str, run: list[_Token], tokens: list[_Token], after: int,
                   titled: bool, lex: NameLexicon) -> Span | None:
        last_key = run[-1].key
        numbered = _NUMBER_BEFORE.search(text, max(0, run[0].start - 24), run[0].start) is not None
        if last_key in STREET_SUFFIXES_STRONG or (numbered and last_key in STREET_SUFFIXES_WEAK):
            return None  # "Apple Street", "12 Kate Edger Place": an address, not a person
        start = run[0].start
        if not titled and (_HOUSE_NUMBER.search(text, max(0, start - 16), start)
                           or _CORNER.search(text, max(0, start - 120), start)):
            return None  # "48 Tina Ford", "the corner of Scott Lake and Spencer Flat"
        if last_key in ORG_WORDS or (after < len(tokens) and tokens[after].key in ORG_WORDS
                                     and _joined(text, run[-1], tokens[after])):
            return None
        if not titled and _firm_or_place(text, run, lex):
            return None
        # "Van den Bossche", "Da Silva": a capitalised particle inside a run is a particle.
        kinds = [_kind(t, lex) if k == 0 or t.key not in PARTICLES else "particle"
                 for k, t in enumerate(run)]
        leading = {"stop"} if titled else {"stop", "particle"}  # "Dhr. de Vries" keeps "de"
        while kinds and (kinds[0] in leading or run[0].key in DETERMINERS):
            run, kinds = run[1:], kinds[1:]  # "When Alexandra ..." -> "Alexandra"
        while kinds and kinds[-1] in {"stop", "particle"}:
            if run[-1].key in _street_suffixes():
                return None  # "114 Melissa Lakes Apt 1", "Cheryl Lodge": a street
            run, kinds = run[:-1], kinds[:-1]
        if not run or "stop" in kinds or all(k in _NEUTRAL for k in kinds):
            return None
        if not titled and _DETERMINER_BEFORE.search(text, max(0, run[0].start - 12),
                                                     run[0].start):
            return None  # "Die Rechnung", "Der Server", "the Harvey Nichols team"
        score = _composition_score(kinds)
        start, end = run[0].start, run[-1].end
        at_start = _sentence_start(text, start)
        if at_start and ((len(run) == 1 and kinds[0] in _NAMED)
                         or (len(run) > 1 and not _NAMED.intersection(kinds))):
            score -= 0.1  # the first capital says nothing at the start of a sentence
        credential = re.match(r",? (MD|PhD|DDS|DO|RN|NP|Jr|Sr|II|III|IV|Esq|DMD)\b\.?",
                              text[end:end + 6])
        if credential and credential.group(1) in CREDENTIALS:
            end += credential.end()
            score += 0.1
        if titled:
            return Span(start, end, self.entity, _clip(max(score, 0.85)), self.name)
        if len(run) == 1 and run[0].key in lex.places and _place_before(text, start):
            return None  # "drove to Charlotte"
        score += self._context_score(text, start, end, kinds, at_start)
        if numbered:
            score -= 0.3  # "06 Reyes Católicos 17": a street named after someone
        if _headline(text, start, end):
            score -= 0.25  # "5 Musicians You're Supposed To Hate (But Secretly Love)"
        score = _clip(score)
        if score < 0.1:
            return None
        return Span(start, end, self.entity, score, self.name)

    def _context_score(self, text: str, start: int, end: int, kinds: list[str],
                       at_start: bool) -> float:
        """What the words around a run add to (or take from) its score."""
        # Names in the dictionary take context from the usual window; other words only from
        # the words right before them ("my name is X"), or technical prose full of "name"
        # and "by" would turn every capitalised word into a person.
        known = any(k in _NAMED for k in kinds)
        before = text[max(0, start - (CONTEXT_BEFORE if known else 16)):start].lower()
        delta = 0.0
        if _has_words(before, self.context):
            delta += self.context_boost
        elif _has_words(before, self.weak_context):
            delta += self.weak_boost
        following = text[end:end + 30]
        vocative = len(kinds) == 1 and at_start and _VOCATIVE.match(following) is not None
        if _PERSON_AFTER.match(following) or vocative:
            delta += 0.35
        elif _PERSON_AFTER_WEAK.match(following) or (
                (known or len(kinds) > 1) and _AUXILIARY_AFTER.match(following)):
            delta += 0.2
        elif not known and following.startswith(":"):
            return -1.0  # "Summary:", "Version:": a field label
        previous = re.search(r"([^\W\d_]+)\W*$", text[max(0, start - 20):start])
        negative = previous.group(1).lower() if previous else ""
        if (negative in self.negative_context and "first" not in kinds
                and (negative != "from" or len(kinds) == 1)):
            delta -= self.negative_penalty  # "grew up in Monroe", "arrived at Nugeri"
        elif negative == "at" and not _LOOK_AT.search(text, max(0, start - 30), start):
            delta -= 0.5  # "works at Albert Heijn": people are met, not worked at
        if _ORG_SENTENCE.search(_sentence(text, start, end)):
            delta -= 0.5  # "Harvey Nichols reported £2m in revenue for 80 stores"
        return delta

    # ---- columns

    def full_match(self, values: pl.Series) -> pl.Series:
        """A cell of 1-4 capitalised (or upper-case) words with at least one known name, or
        of 2-4 words all spelt like names."""
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
        distinct = distinct.with_columns(blocked=_not_a_name(pl.col("t")) if whole
                                         else pl.lit(False))
        tok = (distinct.explode("t").drop_nulls("t")
               .join(_lexicon_frame(), on="t", how="left"))
        if whole:  # words in no list: how name-like they look, once per distinct word
            unknown = tok.filter(pl.col("named").is_null()).get_column("t").unique()
            likeness = pl.DataFrame({"t": unknown, "spelt": [
                len(t) > 1 and name_likeness(t) >= NAME_LIKE for t in unknown.to_list()]},
                schema={"t": pl.String, "spelt": pl.Boolean})
            tok = tok.join(likeness, on="t", how="left")
        else:  # a column, not a literal: Polars 1.36 crashes aggregating a literal's sum
            tok = tok.with_columns(spelt=pl.lit(False))
        tok = tok.with_columns(pl.col("named", "common", "spelt").fill_null(False))
        named, common = pl.col("named"), pl.col("common")
        per_cell = tok.group_by("v").agg(
            n=pl.len(),
            hits=(named & ~common).sum(),
            loose=(named & common).sum(),
            spelt=pl.col("spelt").sum(),
            blocked=pl.col("blocked").first(),
        )
        if whole:
            score = (pl.when(pl.col("hits") >= 2).then(0.9)
                     .when((pl.col("hits") == 1) & (pl.col("n") >= 2)).then(0.75)
                     .when(pl.col("hits") == 1).then(0.6)
                     .when((pl.col("spelt") == pl.col("n")) & (pl.col("n") >= 2)).then(0.5)
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


@cache
def _firms_and_places() -> tuple[str, ...]:
    """Known organisations and multi-word place names, for a column-wide ``is_in``."""
    return tuple(sorted(KNOWN_ORGS | {p for p in name_lexicon().places if " " in p}))


def _not_a_name(words: pl.Expr) -> pl.Expr:
    """Whether a cell's lower-cased words are an address, a firm or a place, not a name:
    "Apple Street", "Acme GmbH", "Morgan Stanley", "Santa Clara", "Via Roma"."""
    ends = sorted(STREET_SUFFIXES_STRONG | STREET_SUFFIXES_WEAK | ORG_WORDS)
    starts = sorted(PLACE_PREFIXES | STREET_PREFIXES)
    return (words.list.last().is_in(ends) | words.list.first().is_in(starts)
            | words.list.join(" ").is_in(list(_firms_and_places()))).fill_null(False)


def _place_before(text: str, start: int) -> bool:
    """Whether the word before ``start`` is one that precedes places ("in", "to", "near")."""
    previous = re.search(r"([^\W\d_]+)\W*$", text[max(0, start - 20):start])
    return previous is not None and previous.group(1).lower() in PLACE_BEFORE
