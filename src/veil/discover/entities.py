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
    # National identifiers, each validated by its check digits (``veil.discover.national_ids``);
    # Presidio's names where it has the same identifier.
    UK_NHS = "UK_NHS"
    UK_NINO = "UK_NINO"
    DE_TAX_ID = "DE_TAX_ID"
    DE_ID_CARD = "DE_ID_CARD"
    FR_NIR = "FR_NIR"
    ES_NIF = "ES_NIF"
    ES_NIE = "ES_NIE"
    IT_FISCAL_CODE = "IT_FISCAL_CODE"
    NL_BSN = "NL_BSN"
    BE_NATIONAL_NUMBER = "BE_NATIONAL_NUMBER"
    PL_PESEL = "PL_PESEL"
    SE_PERSONNUMMER = "SE_PERSONNUMMER"
    DK_CPR = "DK_CPR"
    FI_PERSONAL_IDENTITY_CODE = "FI_PERSONAL_IDENTITY_CODE"
    NO_FODSELSNUMMER = "NO_FODSELSNUMMER"
    IE_PPSN = "IE_PPSN"
    PT_NIF = "PT_NIF"
    AT_SVNR = "AT_SVNR"
    CH_AHV = "CH_AHV"
    AU_TFN = "AU_TFN"
    AU_ABN = "AU_ABN"
    AU_ACN = "AU_ACN"
    AU_MEDICARE = "AU_MEDICARE"
    IN_AADHAAR = "IN_AADHAAR"
    IN_PAN = "IN_PAN"
    SG_NRIC_FIN = "SG_NRIC_FIN"
    KR_RRN = "KR_RRN"
    TH_TNIN = "TH_TNIN"


NATIONAL_IDS: frozenset[Entity] = frozenset(
    e for e in Entity if e.value[:3] in {f"{c}_" for c in (
        "UK", "DE", "FR", "ES", "IT", "NL", "BE", "PL", "SE", "DK", "FI", "NO", "IE", "PT", "AT",
        "CH", "AU", "IN", "SG", "KR", "TH")})


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
