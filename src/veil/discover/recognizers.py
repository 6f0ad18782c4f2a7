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

PERSON is not a regex: :class:`~veil.discover.names.PersonRecognizer` looks capitalised words
up in first- and last-name dictionaries built from Faker's bundled locales and weighs titles
and context. A spaCy NER recognizer (``veil.discover.spacy_ner``) joins the catalogue only when
a spaCy model is already installed. The :class:`~veil.discover.patterns.Recognizer` interface
and the regex recognizer are in ``veil.discover.patterns``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

import polars as pl

from veil.discover import validators as v
from veil.discover.entities import Entity
from veil.discover.names import PersonRecognizer
from veil.discover.patterns import PatternRecognizer, Recognizer
from veil.discover.spacy_ner import SpacyPersonRecognizer, installed_spacy_models

# ------------------------------------------------------------------------- regular expressions

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
    "recognizers",
]
