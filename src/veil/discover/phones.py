"""Phone numbers in free text and columns, checked against numbering plans by ``phonenumbers``.

A number is believed in proportion to how sure its country is. Written with its ``+`` country
code and valid, it is a phone number anywhere. Written the national way ("030 12345678"), it is
valid or not only for a region: in free text the regions the text suggests
(:func:`veil.discover.regions.regions_of`) count, a number valid only elsewhere needs a word
like "Tel." or "fax" nearby, and so does one that merely has a plausible length. A column has
no text around its values, so there a number valid in any common region counts.

Free text is read twice: ``phonenumbers.PhoneNumberMatcher`` finds what its own candidate
grammar accepts (any separators, Unicode dashes, spaces) for the text's top regions, and the
recognizer's regex finds the rest, sloppy or foreign numbers included, for the tiered scores.
Shapes that fit a numbering plan by accident (amounts with thousands separators, decimals,
card numbers, the tail of an IBAN) are only ever scored as "possible".

A number dialled from abroad ("00420 702 310 498", "(351) 289 485 160") names its country like
a ``+`` does. A bare digit run is as often an id or an order number as a phone number: it
counts next to a phone word, or when it starts with a trunk "0" and is valid in a region the
text itself points to; one that reads as a date never does. Next to words naming a personal
id (``veil.discover.national_ids``) a number is taken for the id rather than a phone number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import polars as pl

from veil.discover import validators as v
from veil.discover.entities import Entity, Span
from veil.discover.national_ids import clause_window, names_an_id
from veil.discover.patterns import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    PatternRecognizer,
    Recognizer,
    _clip,
    _has_words,
)
from veil.discover.regions import DEFAULT_REGIONS, regions_of, suggested_regions

__all__ = ["PHONE_RECOGNIZERS", "PHONE_VALID_US", "PhoneRecognizer", "phone_score"]

PHONE_INTERNATIONAL = 0.85  # "+cc ..." and valid: in free text, a phone number anywhere
PHONE_VALID_US = 0.75  # valid in the US (its layout is distinctive), or "+cc" in a column
PHONE_SUGGESTED = 0.75  # free text: valid in a region the text suggests
PHONE_COMMON = 0.55  # column: valid in a region of _COMMON_REGIONS
PHONE_ELSEWHERE = 0.4  # valid, but only where nothing suggests: needs a cue word
PHONE_POSSIBLE = 0.25  # only the right length somewhere: needs a cue word

# Regions whose valid numbers count in a column, where no text suggests one.
_COMMON_REGIONS = (*DEFAULT_REGIONS, "CH", "CA", "AU", "NZ")
_KNOWN_REGIONS = tuple(dict.fromkeys((*_COMMON_REGIONS, *v.PHONE_REGIONS)))
_MATCHER_REGIONS = 1  # regions PhoneNumberMatcher reads a text for (it parses per region)

_SEP = r"[ .\-/]"
_EXT = r"(?: ?(?:x|ext\.?|extension) ?\d{1,6})?\b"
_PHONE = (
    # "+cc", "+cc (0)", then digit groups (bare digits are fine after a "+")
    rf"(?:\+\d{{1,3}}(?:[ .\-]?\(0\))?{_SEP}?\(?\d{{1,12}}"
    rf"(?:\)?{_SEP}\(?\d{{1,8}}){{0,6}}"
    # "(030) 1234567", "(+358) 40 123"
    rf"|\(\+?\d{{1,5}}\){_SEP}?\d{{1,12}}(?:\)?{_SEP}\(?\d{{1,8}}){{0,6}}"
    # national numbers need at least one separator: a bare digit run is as often an id
    rf"|\b\d{{1,12}}(?:\)?{_SEP}\(?\d{{1,8}}){{1,6}}){_EXT}"
)
_EXTENSION = re.compile(r" ?(?:x|ext\.?|extension) ?\d{1,6}$", re.IGNORECASE)
# Free text only: digit runs without separators, and what glues a match into a longer code.
_BARE = re.compile(r"\b\d{7,12}\b")
_GLUED_BEFORE = re.compile(r"\w[-/]$")
_GLUED_AFTER = re.compile(r"[-/]\w")
_BARE_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                        r"|(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d\d")
# Dialled from abroad: the international prefix 00 (most of the world) or a calling code in
# parentheses, then the country's number.
_ABROAD = re.compile(r"\s*(?:00(?=[1-9])|\((?=[1-9]\d{0,2}\)))")

# Shapes that numbering plans accept by accident.
_AMOUNT = re.compile(r"\s*[1-9]\d{0,2}(?:([ .,'])\d{3})(?:\1\d{3})*(?:[.,]\d{1,2})?\s*")
_DECIMAL = re.compile(r"\s*\d+[.,]\d{1,2}\s*")
# Layouts of ids and postcodes: a French NIR, an Australian ABN, a Portuguese postcode, and a
# date followed by a serial (Danish CPR, Swedish personnummer, Norwegian fødselsnummer).
_ID_LAYOUT = re.compile(r"\s*(?:[12] \d{2} \d{2} \d{2} \d{3} \d{3} \d{2}|\d{2} \d{3} \d{3} \d{3}"
                        r"|\d{4}-\d{3})\s*")
_DATED_SERIAL = re.compile(r"\s*(\d\d)(\d\d)(\d\d)[- ]\d{4,5}\s*")
_IBAN_BEFORE = re.compile(r"[A-Z]{2}\d{2} ?$")
_NON_DIGITS = re.compile(r"\D")
_MAX_AMOUNT_DIGITS = 8  # "612 345 678" is a Spanish mobile more often than an amount

_PHONE_CONTEXT = (
    "phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "calling", "fax",
    "office", "desk", "contact", "reach", "dial", "sms", "text me", "whatsapp", "ph", "mob",
    "landline", "direct", "hotline",
    "telefon", "telefonnummer", "rufnummer", "handy", "mobil", "festnetz", "anrufen", "rufen",
    "téléphone", "télécopie", "portable", "appelez", "appeler", "numéro", "teléfono",
    "telefono", "móvil", "movil", "celular", "llame", "llamar", "cellulare", "chiamare",
    "chiami", "telefoon", "mobiel", "bellen", "gsm", "telefone", "telemóvel", "telemovel",
    "ligue", "telefonu", "komórka", "komórkowy", "tel.", "tlf", "mobilnummer", "ring",
    "ringe", "puh", "puhelin", "soita", "matkapuhelin", "tél", "tél.", "telefonnr",
    "line", "erreichbar", "joignable", "raggiungibile", "bereikbaar", "chiamami", "llámame",
    "llámeme", "appelle-moi", "appelez-moi", "zadzwoń", "bel me", "bel mij", "my number",
    "meine nummer", "mi número", "mio numero", "mijn nummer", "mój numer",
    "pod numerem", "mitt nummer", "min nummer",
)
_PHONE_NEGATIVE = (
    "ssn", "social security", "order", "invoice", "iban", "isbn", "serial", "version",
    "tracking", "ticket", "account", "konto", "card", "pesel", "bsn", "burgerservicenummer",
    "personnummer", "cpr", "hetu", "fødselsnummer", "dni", "nif", "codice fiscale",
    "steuer-id", "steuernummer", "insee", "ppsn", "ahv", "avs", "nip", "regon", "eur", "euro",
    "euros", "€", "$", "£", "usd", "zł", "pln", "sek", "dkk", "nok", "chf", "kr", "amount",
    "total", "betrag", "montant", "importe", "kwota", "reference", "ref", "referenz",
    "référence", "referencia", "riferimento", "referentie", "customer number", "customer no",
    "client number", "kundennummer", "kundennr", "numéro client", "número de cliente",
    "klantnummer", "numer klienta", "kundnummer", "kundenummer", "asiakasnumero",
)


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", value)


def _dated(first: int, middle: int, last: int) -> bool:
    """Six digits that read as a day, month and year either way round (DDMMYY, YYMMDD)."""
    return 1 <= middle <= 12 and (1 <= first <= 31 or 1 <= last <= 31)


def _accidental(value: str) -> bool:
    """An amount ("1 250 000", "12.345.678"), a decimal, an id's or postcode's layout or a
    Luhn-valid card number: shapes a numbering plan may accept that are rarely phone numbers."""
    if value.lstrip().startswith("+"):
        return False
    if _DECIMAL.fullmatch(value) or _ID_LAYOUT.fullmatch(value):
        return True
    dated = _DATED_SERIAL.fullmatch(value)
    if dated and _dated(*(int(part) for part in dated.groups())):
        return True
    if _AMOUNT.fullmatch(value) and len(_digits(value)) <= _MAX_AMOUNT_DIGITS:
        return True
    return 13 <= len(_digits(value)) <= 19 and v.is_credit_card(value)


def _valid_in(value: str, regions: tuple[str, ...]) -> bool:
    """Valid as a number of one of ``regions`` itself: unlike ``is_valid_number``, a number of
    another region sharing the calling code (Christmas Island's for Australia) does not count."""
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return True
    return False


@lru_cache(maxsize=131_072)
def phone_score(value: str) -> float:
    """Context-free phone evidence for a column cell: valid in the US or as a ``+``
    international number (0.75), valid in some common region (0.55), valid in another region
    veil knows (0.4), or only the right length somewhere (0.25); accidental shapes at most
    0.25. Cached: a column's ``matches`` and ``full_match`` see the same values."""
    if v.is_phone_number(value, "US"):
        return PHONE_VALID_US
    if not v.is_possible_phone_number(value, _KNOWN_REGIONS):
        return 0.0
    if _accidental(value):
        return PHONE_POSSIBLE
    if _valid_in(value, _COMMON_REGIONS):
        return PHONE_COMMON
    if v.is_phone_number_any_region(value):
        return PHONE_ELSEWHERE
    return PHONE_POSSIBLE


@lru_cache(maxsize=65_536)
def _text_score(value: str, regions: tuple[str, ...]) -> float:
    """Free-text phone evidence for ``value`` in a text suggesting ``regions`` (before the
    words around it count): the column tiers, with ``+`` numbers and numbers dialled from
    abroad raised, and national numbers believed only for a suggested region."""
    if _dialled_from_abroad(value):
        return PHONE_INTERNATIONAL
    score = phone_score(value)
    if _accidental(value):  # also a NANP-valid "870822-8757", which a column keeps
        return min(score, PHONE_POSSIBLE)
    if score == PHONE_VALID_US:
        return PHONE_INTERNATIONAL if value.lstrip().startswith("+") else PHONE_VALID_US
    if score != PHONE_COMMON:
        return min(score, PHONE_ELSEWHERE)
    if _valid_in(value, regions):
        return PHONE_SUGGESTED
    return PHONE_ELSEWHERE


def _dialled_from_abroad(value: str) -> bool:
    """"00" or "(cc)" then a number valid in the country of that calling code."""
    if _ABROAD.match(value) is None:
        return False
    digits = _digits(value)
    try:
        number = phonenumbers.parse("+" + (digits[2:] if digits[:2] == "00" else digits))
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _phone_scores(values: pl.Series) -> pl.Series:
    """``phone_score`` where one Polars pass decides it: valid US numbers, and values no
    numbering plan can hold (a date, an SSN's layout, too few or too many digits)."""
    return pl.select(pl.when(v.us_phone_numbers(values)).then(PHONE_VALID_US)
                     .when(v.not_phone_shaped(values)).then(0.0)).to_series()


def _without_extension(text: str, start: int, end: int) -> int:
    """The end of ``text[start:end]`` with a trailing extension ("x751", "ext. 12") cut off."""
    found = _EXTENSION.search(text, start, end)
    return found.start() if found is not None else end


@dataclass(frozen=True)
class PhoneRecognizer(PatternRecognizer):
    """The phone pattern for columns; in free text, region-aware (see the module docstring)."""

    def _candidates(self, text: str) -> dict[tuple[int, int], str]:
        """Offsets -> number of the regex's matches, extensions cut off, and of bare digit
        runs outside them; none glued into a longer code ("ORD-2018-00885")."""
        found = {}
        matched = [(m.start(), _without_extension(text, m.start(), m.end()))
                   for m in re.finditer(self.pattern, text)]
        bare = [m.span() for m in _BARE.finditer(text)
                if not any(s < m.end() and m.start() < e for s, e in matched)]
        for start, end in (*matched, *bare):
            if not (_GLUED_BEFORE.search(text, max(0, start - 2), start)
                    or _GLUED_AFTER.match(text, end)):
                found[start, end] = text[start:end]
        return found

    def with_context(self, text: str, start: int, end: int, score: float) -> float:
        """``score`` raised by a phone word nearby and lowered by a word for something else:
        an amount, an account, or a personal id (in the wider window ids are named in). Words
        beyond another number are that number's."""
        window = " \x00 ".join(clause_window(text, start, end, CONTEXT_BEFORE, CONTEXT_AFTER))
        if _has_words(window, self.context):
            score += self.context_boost
        if _has_words(window, self.negative_context) or names_an_id(text, start, end):
            score -= self.negative_penalty
        return _clip(score)

    def spans(self, text: str) -> list[Span]:
        candidates = self._candidates(text)
        if not candidates:  # most texts: no regions to read, no matcher to run
            return []
        regions = regions_of(text)
        # The matcher reads layouts the regex may miss; bare runs are all already here.
        laid_out = any(not value.isdigit() for value in candidates.values())
        for region in regions[:_MATCHER_REGIONS] if laid_out else ():
            for match in phonenumbers.PhoneNumberMatcher(text, region,
                                                         leniency=phonenumbers.Leniency.VALID):
                end = _without_extension(text, match.start, match.end)
                candidates.setdefault((match.start, end), text[match.start:end])
        found = []
        for (start, end), value in candidates.items():
            bare = value.isdigit()
            if (_IBAN_BEFORE.search(text, max(0, start - 5), start)
                    or (bare and _BARE_DATE.fullmatch(value))):  # "20230115": a date
                continue
            score = _text_score(value, regions)
            if bare:
                score = _bare_score(value, text, score)
            score = self.with_context(text, start, end, score)
            if score > 0.0:
                found.append(Span(start, end, self.entity, score, self.name))
        return found


def _bare_score(value: str, text: str, score: float) -> float:
    """``score`` of a bare digit run: no more than :data:`PHONE_ELSEWHERE` (it needs a phone
    word), unless it starts with a trunk "0" and is valid in a region the text itself points
    to."""
    if value.startswith("0") and _valid_in(value, suggested_regions(text)):
        return score
    return min(score, PHONE_ELSEWHERE)


PHONE_RECOGNIZERS: tuple[Recognizer, ...] = (
    PhoneRecognizer(
        "phone", Entity.PHONE_NUMBER, _PHONE, score=PHONE_POSSIBLE, scorer=phone_score,
        bulk=_phone_scores, context=_PHONE_CONTEXT, context_boost=0.35,
        negative_context=_PHONE_NEGATIVE),
)
