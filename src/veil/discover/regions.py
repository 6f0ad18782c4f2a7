"""Which countries a text is probably about, for reading its phone numbers.

A phone number written without its ``+`` country code means something only in a region: "030
12345678" is a Berlin number in Germany and nothing in France. :func:`regions_of` reads the
text's other signals (country codes, country names, IBANs, web domains, postcode layouts and
the language's commonest words) and ranks the ``phonenumbers`` regions they point to. It runs
on every analysed text, so each signal is one precompiled regex pass (language words on the
text's first few thousand characters) and no Python loop walks the text token by token.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import phonenumbers

__all__ = ["DEFAULT_REGIONS", "regions_of", "suggested_regions"]

# Assumed when a text says nothing about where it is from: the US, the UK and the EU/EEA.
DEFAULT_REGIONS: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "DK", "FI", "NO", "IE", "AT", "BE",
    "PT", "CZ", "SK", "HU", "RO", "BG", "GR", "HR", "SI", "EE", "LV", "LT", "LU", "MT", "CY",
    "IS", "LI",
)
_LANGUAGE_SAMPLE = 4000  # characters read for language words: plenty to tell a language

# Signal weights: a country code or an IBAN names the country; a language only narrows it.
_STRONG, _MEDIUM, _WEAK = 3, 2, 1

_COUNTRY_WORDS: dict[str, tuple[str, ...]] = {
    "US": ("united states", "usa", "u.s.", "america", "american"),
    "GB": ("united kingdom", "uk", "britain", "british", "england", "english", "scotland",
           "scottish", "wales", "welsh", "london"),
    "IE": ("ireland", "irish", "éire", "dublin"),
    "CA": ("canada", "canadian", "canadien", "canadienne"),
    "AU": ("australia", "australian"),
    "DE": ("germany", "german", "deutschland", "deutsch", "deutsche", "deutscher", "berlin"),
    "AT": ("austria", "austrian", "österreich", "österreichisch", "wien", "vienna"),
    "CH": ("switzerland", "swiss", "schweiz", "suisse", "svizzera", "zürich", "genève"),
    "FR": ("france", "french", "français", "française", "paris"),
    "BE": ("belgium", "belgian", "belgique", "belgië", "belge", "belgisch", "bruxelles",
           "brussel"),
    "LU": ("luxembourg", "luxemburg"),
    "NL": ("netherlands", "dutch", "nederland", "nederlands", "holland", "amsterdam"),
    "ES": ("spain", "spanish", "españa", "español", "española", "madrid", "barcelona"),
    "PT": ("portugal", "portuguese", "português", "portuguesa", "lisboa", "lisbon"),
    "IT": ("italy", "italian", "italia", "italiano", "italiana", "roma", "milano"),
    "PL": ("poland", "polish", "polska", "polski", "polskie", "warszawa", "warsaw"),
    "SE": ("sweden", "swedish", "sverige", "svensk", "svenska", "stockholm"),
    "DK": ("denmark", "danish", "danmark", "dansk", "danske", "københavn", "copenhagen"),
    "NO": ("norway", "norwegian", "norge", "norsk", "norske", "oslo"),
    "FI": ("finland", "finnish", "suomi", "suomen", "helsinki"),
    "IS": ("iceland", "icelandic", "ísland"),
    "CZ": ("czech", "czechia", "česko", "česká", "praha", "prague"),
    "SK": ("slovakia", "slovak", "slovensko"),
    "HU": ("hungary", "hungarian", "magyarország", "magyar", "budapest"),
    "RO": ("romania", "romanian", "românia", "bucurești"),
    "BG": ("bulgaria", "bulgarian", "българия"),
    "GR": ("greece", "greek", "ελλάδα", "athens"),
    "HR": ("croatia", "croatian", "hrvatska"),
    "SI": ("slovenia", "slovenian", "slovenija"),
    "EE": ("estonia", "estonian", "eesti"),
    "LV": ("latvia", "latvian", "latvija"),
    "LT": ("lithuania", "lithuanian", "lietuva"),
    "MT": ("malta", "maltese"),
    "CY": ("cyprus", "cypriot"),
    "LI": ("liechtenstein",),
}

# A few frequent words only one language (or a few close ones) uses, and where it is spoken.
_LANGUAGES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("the", "and", "you", "with", "please", "this", "have"), ("US", "GB", "IE", "CA", "AU")),
    (("und", "der", "nicht", "ist", "ich", "bitte", "sie", "mit", "unter"), ("DE", "AT", "CH")),
    (("le", "les", "et", "est", "vous", "une", "pour", "avec", "merci"),
     ("FR", "BE", "CH", "LU", "CA")),
    (("el", "los", "las", "por", "usted", "una", "para", "llame", "gracias"), ("ES",)),
    (("il", "della", "che", "sono", "gli", "non", "grazie", "chiamare"), ("IT", "CH")),
    (("het", "een", "niet", "bij", "zijn", "ik", "bedankt", "alstublieft"), ("NL", "BE")),
    (("jest", "nie", "się", "pan", "pani", "dla", "proszę", "dziękuję"), ("PL",)),
    (("não", "você", "uma", "obrigado", "obrigada", "ligue"), ("PT",)),
    (("och", "är", "att", "jag", "inte", "tack", "ring"), ("SE", "FI")),
    (("og", "ikke", "jeg", "tak", "takk", "kan", "ring"), ("DK", "NO")),
    (("ja", "että", "olen", "minä", "kiitos", "soita"), ("FI",)),
)

# Country-code top-level domains that are used as generic ones, never read as a country.
_GENERIC_TLDS = frozenset({"ai", "cc", "co", "fm", "io", "ly", "me", "tv", "to", "ws", "eu"})
_TLD_REGION = {"uk": "GB"}

# Postcode layouts that belong to one country; numeric ones only before a place name, or
# they would be read in phone numbers ("08-123 456 78").
_PLACE = r" [A-ZÀ-ÞĄĆĘŁŃŚŹŻ]"
_POSTCODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b\d{{2}}-\d{{3}}(?={_PLACE})"), "PL"),
    (re.compile(rf"\b\d{{4}}-\d{{3}}(?={_PLACE})"), "PT"),
    (re.compile(r"\b[1-9]\d{3} ?[A-Z]{2}\b"), "NL"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b"), "GB"),
    (re.compile(r"\b[A-Z]\d[A-Z] \d[A-Z]\d\b"), "CA"),
)

_PLUS_CODE = re.compile(r"(?<![\w+])\+(\d{1,3})")
_IBAN = re.compile(r"\b([A-Z]{2})\d{2} ?[A-Z0-9]{4}(?: ?[A-Z0-9]{4}){2}")
_TLD = re.compile(r"(?:@|//|\bwww\.)[\w\-]+(?:\.[\w\-]+)*\.([a-z]{2})\b", re.IGNORECASE)


def _words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


_COUNTRY_OF = {word: region for region, words in _COUNTRY_WORDS.items() for word in words}
_COUNTRIES = _words_pattern(_COUNTRY_OF)
_LANGUAGE_PATTERNS = tuple((_words_pattern(words), regions) for words, regions in _LANGUAGES)


def _calling_code_region(digits: str) -> str | None:
    """The main region of the country calling code that ``digits`` (after a "+") starts with;
    calling codes are prefix-free, so at most one of the 1-3 digit prefixes is one."""
    for size in (1, 2, 3):
        region = phonenumbers.region_code_for_country_code(int(digits[:size]))
        if region != phonenumbers.UNKNOWN_REGION:
            return region
    return None


def _known(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS


def _signals(text: str) -> Counter[str]:
    """Evidence weight per region from everything except the language."""
    votes: Counter[str] = Counter()
    for digits in _PLUS_CODE.findall(text):
        region = _calling_code_region(digits)
        if region is not None:
            votes[region] += _STRONG
    for code in _IBAN.findall(text):
        if _known(code):
            votes[code] += _STRONG
    for tld in _TLD.findall(text):
        tld = tld.lower()
        region = _TLD_REGION.get(tld, tld.upper())
        if tld not in _GENERIC_TLDS and _known(region):
            votes[region] += _MEDIUM
    for word in _COUNTRIES.findall(text):
        votes[_COUNTRY_OF[word.lower()]] += _MEDIUM
    for pattern, region in _POSTCODES:
        if pattern.search(text):
            votes[region] += _WEAK
    return votes


def _language(text: str) -> tuple[str, ...]:
    """The regions of the language whose common words the text uses most (none if no word)."""
    sample = text[:_LANGUAGE_SAMPLE]
    counts = [(len(pattern.findall(sample)), regions) for pattern, regions in _LANGUAGE_PATTERNS]
    best = max(count for count, _ in counts)
    if best == 0:
        return ()
    return tuple(r for count, regions in counts if count == best for r in regions)


@lru_cache(maxsize=8)  # phones and national ids of one text both ask
def suggested_regions(text: str) -> tuple[str, ...]:
    """The ``phonenumbers`` regions ``text`` itself points to, best first; empty when nothing
    in it points anywhere."""
    votes = _signals(text)
    for region in _language(text):
        votes[region] += _WEAK
    rank = {region: i for i, region in enumerate(DEFAULT_REGIONS)}
    return tuple(sorted(votes, key=lambda r: (-votes[r], rank.get(r, len(rank)), r)))


def regions_of(text: str) -> tuple[str, ...]:
    """The regions ``text`` suggests, best first; :data:`DEFAULT_REGIONS` when nothing in it
    points anywhere."""
    return suggested_regions(text) or DEFAULT_REGIONS
