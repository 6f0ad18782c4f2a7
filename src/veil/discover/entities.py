"""What the scanners find: entity types, the categories columns fall into, and text spans.

Entity names follow Presidio's where one exists (``EMAIL_ADDRESS``, ``US_SSN``...) so results
and labelled evaluation data line up without a mapping table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    PERSON = "PERSON"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"
    US_SSN = "US_SSN"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN_CODE = "IBAN_CODE"
    IP_ADDRESS = "IP_ADDRESS"
    DATE_TIME = "DATE_TIME"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    STREET_ADDRESS = "STREET_ADDRESS"
    ZIP_CODE = "ZIP_CODE"
    US_DRIVER_LICENSE = "US_DRIVER_LICENSE"
    PASSPORT = "PASSPORT"
    MEDICAL_RECORD_NUMBER = "MEDICAL_RECORD_NUMBER"
    URL = "URL"
    AGE = "AGE"


class Category(StrEnum):
    """How a column matters for privacy (the vocabulary of anonymisation)."""

    DIRECT_IDENTIFIER = "DIRECT_IDENTIFIER"  # names a person on its own (name, SSN, email)
    QUASI_IDENTIFIER = "QUASI_IDENTIFIER"  # identifies in combination (ZIP, birth date, sex)
    SENSITIVE = "SENSITIVE"  # what must not be learned about a person (diagnosis, lab values)
    OTHER = "OTHER"


@dataclass(frozen=True, order=True)
class Span:
    """A piece of free text recognised as ``entity``: ``text[start:end]``, end exclusive."""

    start: int
    end: int
    entity: Entity
    score: float
    recognizer: str
