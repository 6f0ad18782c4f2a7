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

The catalogue is assembled from one module per family: ``phones`` (numbering plans of the
regions the text suggests), ``dates`` (dates, birth dates and ages in the main EU languages),
``addresses`` (street addresses and postcodes by country), ``national_ids`` (national
identifiers checked by python-stdnum) and ``names`` (PERSON: name dictionaries, a character
n-gram model, titles and cue words in several languages). Identifiers with no family of their
own (e-mail, URL, US SSN, cards, IBAN, IP, US licence, passport, MRN) are defined here. A spaCy
NER recognizer (``veil.discover.spacy_ner``) joins only when a spaCy model is already installed.
The :class:`~veil.discover.patterns.Recognizer` interface and the regex recognizer are in
``veil.discover.patterns``.
"""

from __future__ import annotations

from collections.abc import Iterable

from veil.discover import validators as v
from veil.discover.addresses import ADDRESS_RECOGNIZERS
from veil.discover.dates import DATE_RECOGNIZERS
from veil.discover.entities import Entity
from veil.discover.names import PersonRecognizer
from veil.discover.national_ids import NATIONAL_ID_RECOGNIZERS
from veil.discover.patterns import PatternRecognizer, Recognizer, settles
from veil.discover.phones import PHONE_RECOGNIZERS
from veil.discover.spacy_ner import SpacyPersonRecognizer, installed_spacy_models


def _ipv4_not_version(value: str) -> bool:
    """IPv4, but not four single digits ("1.2.0.0" is far more often a version number)."""
    return v.is_ipv4(value) and any(len(part) > 1 for part in value.split("."))


def _long_ipv6(value: str) -> bool:
    """IPv6 with enough digits to be an address in text, not "d::" from C++ code."""
    return len(value) >= 6 and v.is_ipv6(value)


_CARD = r"\+?\b(?:\d[ \-]?){11,18}\d\b"
_CARD_CONTEXT = (
    "card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "pan",
    "credit card", "card number", "karte", "kreditkarte", "kartennummer", "bankkarte",
    "girokarte", "ec-karte", "carte", "carte bancaire", "carte de crédit", "carte bleue",
    "tarjeta", "tarjeta de crédito", "carta", "carta di credito", "bancomat", "kaart",
    "creditcard", "bankkaart", "betaalkaart", "cartão", "cartão de crédito", "karta",
    "karta kredytowa", "karty", "kort", "kreditkort", "betalkort", "bankkort", "kortti",
    "luottokortti", "pankkikortti", "platební karta", "kártya", "bankkártya", "hitelkártya")
# Card words in other identifiers' names ("Aadhaar card", "ID card") and numbers that are not
# cards: a Luhn-valid number next to them stays unreported.
_NOT_CARD_CONTEXT = (
    "aadhaar", "aadhar", "uid", "id card", "identity card", "national id", "personalausweis",
    "carte d'identité", "carte vitale", "tarjeta sanitaria", "order", "invoice", "tracking",
    "iban", "account", "phone", "tel", "imei", "serial", "reference", "ref")


def _catalogue() -> tuple[Recognizer, ...]:
    e = Entity
    return (
        PatternRecognizer(
            "email", e.EMAIL_ADDRESS,
            r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b",
            score=0.5, validator=v.is_email, validated_score=0.95,
            bulk=settles(v.emails, 0.95)),
        PatternRecognizer(
            "url", e.URL, "\\b(?:(?:https?|ftps?)://|www\\.)[^\\s<>\"'`]+",
            score=0.5, validator=v.is_url, validated_score=0.85, strip=".,;:!?)]}'\""),
        *PHONE_RECOGNIZERS,
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
        # A leading "+" makes the digits a phone number, never a card: the pattern takes it
        # so the validators reject the match. A Luhn-valid number outside the issuer table
        # (one random number in ten) counts only next to card words, and never in a column.
        PatternRecognizer(
            "credit_card", e.CREDIT_CARD, _CARD, score=0.3, validator=v.is_credit_card,
            validated_score=0.9, context=_CARD_CONTEXT, context_boost=0.08),
        PatternRecognizer(
            "credit_card_unlisted", e.CREDIT_CARD, _CARD, score=0.45,
            validator=v.is_unlisted_card_number, context=_CARD_CONTEXT, context_boost=0.15,
            needs_context=True, negative_context=_NOT_CARD_CONTEXT, negative_penalty=0.3),
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
        *DATE_RECOGNIZERS,
        *ADDRESS_RECOGNIZERS,
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
        *NATIONAL_ID_RECOGNIZERS,
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
