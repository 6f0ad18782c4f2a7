"""Checks that turn a pattern match into evidence: checksums, registry rules, real calendars.

A regular expression says a string *looks like* a card number or a date; these say whether it
*can be* one. Each validator is pure, takes the matched text as written (separators and all)
and returns ``bool``; none raises on odd input. Recognizers run them only on candidate matches,
once per distinct value, so they may be a little slow but must never be wrong on real vectors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
import polars as pl
from stdnum import luhn

_NON_DIGITS = re.compile(r"\D")

# ---------------------------------------------------------------------------------- payment cards

# Issuer identification number ranges of the networks in use (ISO/IEC 7812), as
# (lowest prefix, highest prefix, allowed lengths). A Luhn-valid number outside these is far
# more often an order or tracking number than a card.
_IIN_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset({13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (56, 58, frozenset({13, 14, 15, 16, 17, 18, 19})),
    (63, 63, frozenset({16, 17, 18, 19})),
    (67, 67, frozenset({13, 14, 15, 16, 17, 18, 19})),
)


def luhn_checksum_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    return digits.isascii() and digits.isdigit() and luhn.is_valid(digits)


_CARD_SHAPE = re.compile(r"\d[\d \-]*\d")


def _card_digits(value: str) -> str | None:
    """The digits of a card-shaped value (digits, spaces, dashes), or ``None``."""
    if _CARD_SHAPE.fullmatch(value.strip()) is None:
        return None
    return _NON_DIGITS.sub("", value)


def _issued(digits: str) -> bool:
    """A prefix and length some card network issues (``_IIN_RANGES``)."""
    for low, high, lengths in _IIN_RANGES:
        if low <= int(digits[:len(str(low))]) <= high and len(digits) in lengths:
            return True
    return False


def is_credit_card(value: str) -> bool:
    """13-19 digits (spaces or dashes allowed), a known issuer prefix, and a valid Luhn digit."""
    digits = _card_digits(value)
    return (digits is not None and 13 <= len(digits) <= 19 and len(set(digits)) > 1
            and _issued(digits) and luhn_checksum_ok(digits))


def is_unlisted_card_number(value: str) -> bool:
    """12-19 digits with a valid Luhn digit but outside the issuer table: a card of a network
    the table lacks, or, as often (one random number in ten passes Luhn), an order, phone or
    account number; only card words nearby tell them apart."""
    digits = _card_digits(value)
    return (digits is not None and 12 <= len(digits) <= 19 and len(set(digits)) > 1
            and not _issued(digits) and luhn_checksum_ok(digits))


# -------------------------------------------------------------------------------------------- IBAN

# IBAN length per country (ISO 13616 / SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def is_iban(value: str) -> bool:
    """A known country, that country's length, and the ISO 7064 mod-97 check equal to 1."""
    compact = re.sub(r"[ \-]", "", value.strip()).upper()
    if not compact.isascii() or not compact.isalnum() or len(compact) < 15:
        return False
    country, check = compact[:2], compact[2:4]
    if IBAN_LENGTHS.get(country) != len(compact) or not check.isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


# ------------------------------------------------------------------------------------------ US SSN

_SSN = re.compile(r"(\d{3})([ \-]?)(\d{2})\2(\d{4})")
# Numbers the SSA voided after they were printed in advertising (078-05-1120 on a wallet
# insert, 219-09-9999 in an SSA pamphlet).
_SSN_VOIDED = frozenset({"078051120", "219099999"})


def is_us_ssn(value: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000; one separator."""
    match = _SSN.fullmatch(value.strip())
    if match is None:
        return False
    area, _, group, serial = match.groups()
    if area in {"000", "666"} or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_VOIDED


# ----------------------------------------------------------------------------------------- phones

# Regions tried when a number is written without a country code and is not a US number. The
# same list Presidio uses, plus a few with many speakers of languages veil reads.
PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "AU", "ES",
                                  "IT", "NL")


@lru_cache(maxsize=65536)
def _parse_phone(value: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None


_DATE_SHAPED = re.compile(r"\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})\b")


_SSN_SHAPED = re.compile(r"\s*\d{3}-\d{2}-\d{4}\s*")


def _phone_shaped(value: str) -> bool:
    """7-20 digits, not all one digit, not a calendar date ("2017-06-01 12") and not an SSN's
    3-2-4 layout, which no numbering plan uses (this also spares a column of SSNs thousands of
    pointless phone parses)."""
    digits = _NON_DIGITS.sub("", value)
    return (7 <= len(digits) <= 20 and len(set(digits)) > 1
            and _DATE_SHAPED.match(value) is None and _SSN_SHAPED.fullmatch(value) is None)


def not_phone_shaped(values: pl.Series) -> pl.Series:
    """Boolean per value: True where :func:`_phone_shaped` is certainly False (too few or too
    many digits, a date, an SSN's layout), decided in one Polars pass; False means "ask
    ``_phone_shaped``". Blanks are read as spaces and tabs only, a subset of Python's ``\\s``."""
    digits = values.str.replace_all(r"\D", "").str.len_chars()
    dated = values.str.contains(
        r"^[ \t]*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})\b")
    ssn = values.str.contains(r"^[ \t]*\d{3}-\d{2}-\d{4}[ \t]*$")
    return ((digits < 7) | (digits > 20) | dated | ssn).fill_null(False).rename(values.name)


def is_phone_number(value: str, region: str = "US") -> bool:
    """A valid number in ``region``, or, written with a leading ``+``, in its own country."""
    if not _phone_shaped(value):
        return False
    number = _parse_phone(value.strip(), region)
    return number is not None and _valid(number, region)


def _valid(number: phonenumbers.PhoneNumber, region: str) -> bool:
    """``is_valid_number``, asking the expected region first: that check reads one region's
    metadata, while ``is_valid_number`` first searches every region sharing the country code
    (25 for +1), so the common case costs a fraction. Valid for ``region`` implies valid."""
    return (phonenumbers.is_valid_number_for_region(number, region)
            or phonenumbers.is_valid_number(number))


_NANP_SHAPE = r"^\s*(?:\+?1[ .\-]?)?\(?[2-9]\d{2}\)?[ .\-]?\d{3}[ .\-]?\d{4}\s*$"
_US_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
             "uan", "voicemail", "fixed_line", "mobile")


@lru_cache(maxsize=1)
def _us_patterns() -> tuple[str, str]:
    """phonenumbers' own US metadata: the general pattern and the union of the number types."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("US")
    kinds = [getattr(meta, name) for name in _US_TYPES]
    union = "|".join(f"(?:{d.national_number_pattern})" for d in kinds
                     if d is not None and d.national_number_pattern)
    return f"^(?:{meta.general_desc.national_number_pattern})$", f"^(?:{union})$"


def us_phone_numbers(values: pl.Series) -> pl.Series:
    """Boolean per value: written as a NANP number and valid in the US, decided in one Polars
    pass with phonenumbers' metadata patterns (what ``is_valid_number_for_region(..., "US")``
    checks). False means "not decided here": ask :func:`is_phone_number` (a test holds the two
    equal wherever this says True)."""
    general, types = _us_patterns()
    digits = values.str.replace_all(r"\D", "")
    national = pl.select(pl.when(digits.str.len_chars() == 11).then(digits.str.slice(1))
                         .otherwise(digits)).to_series()
    same_digit = digits.is_in([d * n for d in "0123456789" for n in (10, 11)])
    return (values.str.contains(_NANP_SHAPE) & ~same_digit & national.str.contains(general)
            & national.str.contains(types)).fill_null(False).rename(values.name)


def is_phone_number_any_region(value: str, regions: tuple[str, ...] = PHONE_REGIONS) -> bool:
    """A valid number in any of ``regions`` (numbers in free text are often foreign)."""
    if not _phone_shaped(value):
        return False
    value = value.strip()
    for region in regions:
        number = _parse_phone(value, region)
        if number is not None and _valid(number, region):
            return True
    return False


def is_possible_phone_number(value: str, regions: tuple[str, ...] = PHONE_REGIONS) -> bool:
    """Loosest: the right length for a number in any of ``regions`` (sloppy or made-up
    numbers; only worth a score with words like "call" or "fax" nearby)."""
    if not _phone_shaped(value):
        return False
    value = value.strip()
    for region in regions:
        number = _parse_phone(value, region)
        if number is not None and phonenumbers.is_possible_number(number):
            return True
    return False


# ------------------------------------------------------------------------------------ IP addresses


def is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value.strip())
    except ValueError:
        return False
    return True


def is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value.strip())
    except ValueError:
        return False
    return True


def is_ip_address(value: str) -> bool:
    """IPv4 (dotted quad, no leading zeros) or IPv6 in any RFC 4291 text form."""
    return is_ipv4(value) or is_ipv6(value)


# ------------------------------------------------------------------------------------------- dates

# Month names by month in the languages veil reads (EN, DE, FR, ES, IT, NL, PT, PL, SV, DA,
# NO, FI, CS, HU), with the genitive/partitive forms their dates use ("3 marca", "3.
# maaliskuuta", "3. března"), then the abbreviations. Abbreviations count only inside a full
# date: alone, "set", "out" or "ago" are ordinary words.
_MONTH_WORDS: tuple[tuple[str, str], ...] = (
    ("january januar jänner janvier enero gennaio januari janeiro styczeń stycznia tammikuu "
     "tammikuuta leden ledna január", "jan janv ene gen sty"),
    ("february februar feber février fevrier febrero febbraio februari fevereiro luty lutego "
     "helmikuu helmikuuta únor února február", "feb févr fevr fév fev lut febr"),
    ("march märz maerz mars marzo maart março marzec marca marts maaliskuu maaliskuuta březen "
     "března március", "mar mär mrz mrt márc"),
    ("april avril abril aprile kwiecień kwietnia huhtikuu huhtikuuta duben dubna április",
     "apr avr abr kwi ápr"),
    ("may mai mayo maggio mei maio maj maja toukokuu toukokuuta květen května május",
     "mag máj"),
    ("june juni juin junio giugno junho czerwiec czerwca kesäkuu kesäkuuta červen června "
     "június", "jun giu cze jún"),
    ("july juli juillet julio luglio julho lipiec lipca heinäkuu heinäkuuta červenec července "
     "július", "jul juil lug lip júl"),
    ("august août aout agosto augustus augusti sierpień sierpnia elokuu elokuuta srpen srpna "
     "augusztus", "aug ago sie"),
    ("september septembre septiembre setiembre settembre setembro wrzesień września syyskuu "
     "syyskuuta září szeptember", "sep sept set wrz szept"),
    ("october oktober octobre octubre ottobre outubro październik października lokakuu "
     "lokakuuta říjen října október", "oct okt ott out paź"),
    ("november novembre noviembre novembro listopad listopada marraskuu marraskuuta "
     "listopadu", "nov lis"),
    ("december dezember décembre decembre diciembre dicembre dezembro grudzień grudnia "
     "desember joulukuu joulukuuta prosinec prosince", "dec dez déc dic gru des"),
)
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MONTH_NAMES: dict[str, int] = {w: i for i, (names, _) in enumerate(_MONTH_WORDS, 1)
                               for w in _words(names)}
MONTHS: dict[str, int] = {**{w: i for i, (_, short) in enumerate(_MONTH_WORDS, 1)
                             for w in _words(short)}, **MONTH_NAMES}
"""Every month word (lower case) with its month number; ``MONTH_NAMES`` without the
abbreviations."""

WEEKDAY_NAMES: tuple[str, ...] = _words("""
    monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch
    donnerstag freitag samstag sonnabend sonntag lundi mardi mercredi jeudi vendredi samedi
    dimanche lunes martes miércoles miercoles jueves viernes sábado sabado domingo lunedì
    lunedi martedì martedi mercoledì mercoledi giovedì giovedi venerdì venerdi sabato domenica
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag segunda-feira terça-feira
    terca-feira quarta-feira quinta-feira sexta-feira poniedziałek wtorek środa czwartek piątek
    sobota niedziela måndag tisdag onsdag torsdag fredag lördag söndag mandag tirsdag lørdag
    søndag maanantai tiistai keskiviikko torstai perjantai lauantai sunnuntai pondělí úterý
    středa čtvrtek pátek neděle hétfő kedd szerda csütörtök péntek szombat vasárnap
""")
WEEKDAYS: tuple[str, ...] = (*WEEKDAY_NAMES, *_words("mon tue tues wed thu thur thurs fri sat sun"))
"""Weekday names (lower case); ``WEEKDAYS`` adds the English abbreviations seen before dates."""


def words_regex(words: Iterable[str], *, factored: bool = False) -> str:
    """A regex for any of ``words`` written in lower case, Capitalised or in CAPITALS, without
    a case-insensitive flag (which makes both engines slow on long word lists), longest word
    first so "march" wins over "mar". Flat, Polars (Rust ``regex``) finds the words with its
    literal prefilter, fast on any text; ``factored`` into a prefix tree, the same regex runs
    several times faster in Python ``re``, which tries alternatives one by one."""
    variants = {form for w in words for form in (w.lower(), w.capitalize(), w.upper())}
    if factored:
        return _prefix_tree(variants)
    return "|".join(re.escape(w) for w in sorted(variants, key=lambda w: (-len(w), w)))


def _prefix_tree(words: Iterable[str]) -> str:
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer word first

    return emit(root)


_TIME_TAIL = re.compile(
    r"(?:[T ,]+|\s+at\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?\s*(?:[AaPp]\.?[Mm]\.?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$"
)
_WEEKDAY_HEAD = re.compile(
    rf"(?:{words_regex(WEEKDAYS, factored=True)})\.?,?\s+(?:(?:the|le|den|der|el|il)\s+)?",
    re.IGNORECASE)
_NUMERIC_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d",
    "%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y", "%m/%d/%y", "%m-%d-%y",
    "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%d.%m.%y",
)
_WORD = r"(?P<m>[^\W\d_]+)\.?"
# Written dates, with named parts: day-month-year ("3 de marzo de 2021", "3rd of March 2021",
# "27-Dec-1986"), month-day-year ("March 3, 2021"), year-month-day ("2021. március 3."),
# month-year ("März 2021").
_WRITTEN: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    rf"(?P<d>\d{{1,2}})(?:\.|st|nd|rd|th|er)?(?:\s+(?:of|de|di|del))?(?:\s+|-){_WORD},?"
    r"(?:\s+(?:de|del))?(?:\s+|-)(?P<y>\d{4})",
    rf"{_WORD}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})",
    rf"(?P<y>\d{{4}})\.?\s+{_WORD}(?:\s+(?P<d>\d{{1,2}})\.?)?",
    rf"{_WORD},?\s+(?:(?:of|de)\s+)?(?P<y>\d{{4}})",
))
MIN_YEAR, MAX_YEAR = 1880, 2100


def _written_date(text: str) -> date | None:
    """The date a written form names, or ``None``; without a day ("März 2021") the month must
    be written out and the day is taken as the 1st."""
    for pattern in _WRITTEN:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        day = match.groupdict().get("d")
        month = (MONTHS if day else MONTH_NAMES).get(match["m"].lower())
        try:
            return date(int(match["y"]), month, int(day or 1)) if month else None
        except ValueError:
            return None
    return None


def _numeric_date(text: str) -> date | None:
    for fmt in _NUMERIC_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def is_date(value: str) -> bool:
    """A real calendar date (optionally with a weekday before it and a time of day after it)
    in an ISO, US, European or written form in any language of ``MONTHS``: ``1986-12-27``,
    ``12/27/1986``, ``27.12.1986``, ``27 December 1986``, ``Dec 27, 1986``, ``Montag, 3. März
    2021``, ``3 de marzo de 2021``, ``2021. március 3.``, or a month of a year (``März
    2021``). "31 February" is no date; years outside 1880-2100 are more likely other numbers.
    The weekday is not checked against the date: a wrong one is a typo, not a non-date."""
    text = " ".join(value.strip().split())
    text = _TIME_TAIL.sub("", text)
    head = _WEEKDAY_HEAD.match(text)
    if head is not None:
        text = text[head.end():]
    if not text or len(text) > 40:
        return False
    parsed = _numeric_date(text) or _written_date(text)
    return parsed is not None and MIN_YEAR <= parsed.year <= MAX_YEAR


def is_year(value: str) -> bool:
    """A year written alone that is likely one in personal data: four digits, 1900-2099."""
    value = value.strip()
    return len(value) == 4 and value.isascii() and value.isdigit() and 1900 <= int(value) <= 2099


_ISO_DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"


def iso_dates(values: pl.Series) -> pl.Series:
    """Boolean per value: an ISO ``YYYY-MM-DD`` date that :func:`is_date` accepts, decided in
    one Polars pass. False means "not decided here": ask :func:`is_date` (a test holds the two
    equal wherever this says True)."""
    parsed = values.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    return (values.str.contains(_ISO_DATE) & parsed.is_not_null()
            & parsed.dt.year().is_between(MIN_YEAR, MAX_YEAR)).fill_null(False).rename(values.name)


# -------------------------------------------------------------------------------- email, URL, ZIP

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59}")


def _is_hostname(host: str) -> bool:
    """A DNS name with at least two labels and an alphabetic (or punycode) top-level domain."""
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 or len(host) > 253:
        return False
    *rest, tld = labels
    return _TLD.fullmatch(tld) is not None and all(_HOST_LABEL.fullmatch(x) for x in rest)


def is_email(value: str) -> bool:
    """``local@domain.tld`` (RFC 5321 sizes, dot-atom local part, alphabetic TLD of 2-24)."""
    value = value.strip()
    if len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return (0 < len(local) <= 64 and _EMAIL_LOCAL.fullmatch(local) is not None
            and _is_hostname(domain))


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_SHAPE = (
    r"^[ \t]*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    rf"@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,24}}|xn--[A-Za-z0-9-]{{1,59}})\.*[ \t]*$"
)


def emails(values: pl.Series) -> pl.Series:
    """Boolean per value: an address :func:`is_email` accepts, decided in one Polars pass.
    False means "not decided here": ask :func:`is_email` (a test holds the two equal wherever
    this says True)."""
    value = values.str.strip_chars(" \t")
    local = value.str.split("@").list.first()
    return (values.str.contains(_EMAIL_SHAPE) & (value.str.len_chars() <= 254)
            & (local.str.len_chars() <= 64)
            & (value.str.len_chars() - local.str.len_chars() <= 254)
            ).fill_null(False).rename(values.name)


def is_url(value: str) -> bool:
    """An http(s)/ftp URL (or a bare ``www.`` one) whose host is a DNS name, an IP or
    ``localhost``."""
    value = value.strip()
    if value.lower().startswith("www."):
        value = "http://" + value
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in {"http", "https", "ftp", "ftps"} or not host:
        return False
    return host == "localhost" or is_ip_address(host.strip("[]")) or _is_hostname(host)


_ZIP = re.compile(r"(\d{5})(?:-(\d{4}))?")


def is_us_zip(value: str) -> bool:
    """ZIP or ZIP+4; 00000 and a +0000 extension are never assigned."""
    match = _ZIP.fullmatch(value.strip())
    return match is not None and match.group(1) != "00000" and match.group(2) != "0000"


# ---------------------------------------------------------------------- licences, passports, MRNs

# Driver licence number shapes across US states (AAMVA list, collapsed): letters then digits,
# digits only, and the few mixed layouts (e.g. Florida's dashed form, Washington's 12 chars).
_US_DRIVER_LICENSE = re.compile(
    r"[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d"  # FL printed form
    r"|[A-Z]{1,2}\d{4,14}"  # most letter-first states (CA A1234567, FL/MI/MN A + 12)
    r"|\d{7,12}"  # digits-only states
    r"|\d{3}[A-Z]{2}\d{4}"  # CO-like
    r"|\d{2}[A-Z]{3}\d{5}"  # (older) VT-like
    r"|[A-Z]{5}[A-Z*]{2}\d{3}[A-Z0-9]{2}"  # WA legacy 12-character form
    r"|\d{8}[A-Z]{2}"  # NH-like
)


def _varied(chars: str) -> bool:
    digits = _NON_DIGITS.sub("", chars)
    return len(set(digits)) > 1


def is_us_driver_license(value: str) -> bool:
    """Fits one of the state licence layouts and is not a run of one repeated digit."""
    value = value.strip().upper()
    return _US_DRIVER_LICENSE.fullmatch(value) is not None and _varied(value)


_PASSPORT = re.compile(r"\d{9}|[A-Z]\d{8}|[A-Z]{1,2}\d{6,8}|[A-Z0-9]{2}\d{7}")


def is_passport_number(value: str) -> bool:
    """US book (9 digits) or card/next-generation (letter + 8 digits) numbers, and the common
    ICAO layouts of one or two letters then 6-8 digits (UK, DE, FR, NL...)."""
    value = value.strip().upper()
    return _PASSPORT.fullmatch(value) is not None and _varied(value)


_MRN = re.compile(r"(?:[A-Z]{1,3}[- ]?)?\d{5,10}")


def is_medical_record_number(value: str) -> bool:
    """Hospitals choose their own layout; accept an optional short letter prefix then 5-10
    digits, not all one digit."""
    value = value.strip().upper()
    return _MRN.fullmatch(value) is not None and _varied(value)


# --------------------------------------------------------------------------------------------- age

_AGE_NUMBER = re.compile(r"\d{1,3}")


def is_age(value: str) -> bool:
    """An age ("42", or a phrase like "42-year-old") whose number is a human age, 0-120."""
    match = _AGE_NUMBER.search(value)
    return match is not None and int(match.group()) <= 120
