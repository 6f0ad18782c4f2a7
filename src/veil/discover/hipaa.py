"""HIPAA Safe Harbor (45 CFR 164.514(b)(2)): which of the 18 identifier kinds a table holds.

Safe Harbor de-identifies health information by removing all 18 kinds of identifiers of the
individual and of relatives, employers and household members, *and* by the covered entity
having no actual knowledge that what remains could identify someone (164.514(b)(2)(ii)). This
module checks the first half from a :class:`~veil.discover.table.TableScan`: each column's
entity, name rule and category map onto the 18 kinds. A report with nothing present is
necessary, not sufficient: the actual-knowledge condition, and identifiers no scanner can
see (a rare diagnosis in a small town), remain the expert's judgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from veil.discover.entities import NATIONAL_IDS, Category, Entity
from veil.discover.table import ColumnFinding, TableScan

__all__ = ["SAFE_HARBOR", "Identifier", "IdentifierKind", "SafeHarborReport",
           "safe_harbor_report"]


class Identifier(StrEnum):
    """The 18 identifier kinds, in the order of 164.514(b)(2)(i)(A)-(R)."""

    NAMES = "names"
    GEOGRAPHIC = "geographic_subdivisions"
    DATES = "dates"
    TELEPHONE = "telephone_numbers"
    FAX = "fax_numbers"
    EMAIL = "email_addresses"
    SSN = "social_security_numbers"
    MEDICAL_RECORD = "medical_record_numbers"
    HEALTH_PLAN = "health_plan_beneficiary_numbers"
    ACCOUNT = "account_numbers"
    CERTIFICATE_LICENSE = "certificate_license_numbers"
    VEHICLE = "vehicle_identifiers"
    DEVICE = "device_identifiers"
    URL = "web_urls"
    IP_ADDRESS = "ip_addresses"
    BIOMETRIC = "biometric_identifiers"
    PHOTO = "full_face_photographs"
    OTHER_UNIQUE = "other_unique_identifiers"


@dataclass(frozen=True)
class IdentifierKind:
    """One row of the Safe Harbor list: the rule's text and what in a scan points to it."""

    identifier: Identifier
    paragraph: str  # "(A)".."(R)" of 164.514(b)(2)(i)
    description: str  # the regulation's wording
    entities: frozenset[Entity]
    name_rules: frozenset[str]  # NameRule.name values from veil.discover.column_names.NAME_RULES
    remedy: str


def _kind(identifier: Identifier, paragraph: str, description: str, entities: set[Entity],
          name_rules: set[str], remedy: str) -> IdentifierKind:
    return IdentifierKind(identifier, paragraph, description, frozenset(entities),
                          frozenset(name_rules), remedy)


_E = Entity
SAFE_HARBOR: tuple[IdentifierKind, ...] = (
    _kind(Identifier.NAMES, "(A)", "Names", {_E.PERSON}, {"person_name"}, "remove"),
    _kind(Identifier.GEOGRAPHIC, "(B)",
          "All geographic subdivisions smaller than a State, including street address, city, "
          "county, precinct, zip code, and their equivalent geocodes, except for the initial "
          "three digits of a zip code if the geographic unit formed by combining all zip codes "
          "with the same three initial digits contains more than 20,000 people (and the "
          "initial three digits of such units with 20,000 or fewer people are changed to 000)",
          {_E.STREET_ADDRESS, _E.ZIP_CODE},
          {"street_address", "city", "zip", "geo_coordinates", "birth_place"},
          "remove; keep a ZIP code's first three digits only where that area has more than "
          "20,000 people, else 000"),
    _kind(Identifier.DATES, "(C)",
          "All elements of dates (except year) for dates directly related to an individual, "
          "including birth date, admission date, discharge date, date of death; and all ages "
          "over 89 and all elements of dates (including year) indicative of such age, except "
          "that such ages and elements may be aggregated into a single category of age 90 or "
          "older",
          {_E.DATE_OF_BIRTH, _E.DATE_TIME, _E.AGE},
          {"birth_date", "death_date", "event_date", "age"},
          "keep the year only; aggregate ages over 89 (and their birth years) into 90+"),
    _kind(Identifier.TELEPHONE, "(D)", "Telephone numbers", {_E.PHONE_NUMBER}, {"phone"},
          "remove"),
    _kind(Identifier.FAX, "(E)", "Fax numbers", set(), {"fax"}, "remove"),
    _kind(Identifier.EMAIL, "(F)", "Electronic mail addresses", {_E.EMAIL_ADDRESS}, {"email"},
          "remove"),
    _kind(Identifier.SSN, "(G)", "Social security numbers", {_E.US_SSN}, {"ssn"}, "remove"),
    _kind(Identifier.MEDICAL_RECORD, "(H)", "Medical record numbers",
          {_E.MEDICAL_RECORD_NUMBER}, {"record_id"},
          "remove, or replace with a code not derived from it (164.514(c))"),
    _kind(Identifier.HEALTH_PLAN, "(I)", "Health plan beneficiary numbers", set(),
          {"health_plan"}, "remove"),
    _kind(Identifier.ACCOUNT, "(J)", "Account numbers", {_E.CREDIT_CARD, _E.IBAN_CODE},
          {"account", "credit_card", "iban"}, "remove"),
    _kind(Identifier.CERTIFICATE_LICENSE, "(K)", "Certificate/license numbers",
          {_E.US_DRIVER_LICENSE}, {"drivers_license", "certificate_license"}, "remove"),
    _kind(Identifier.VEHICLE, "(L)",
          "Vehicle identifiers and serial numbers, including license plate numbers", set(),
          {"vehicle"}, "remove"),
    _kind(Identifier.DEVICE, "(M)", "Device identifiers and serial numbers", set(),
          {"device"}, "remove"),
    _kind(Identifier.URL, "(N)", "Web Universal Resource Locators (URLs)", {_E.URL}, {"url"},
          "remove"),
    _kind(Identifier.IP_ADDRESS, "(O)", "Internet Protocol (IP) address numbers",
          {_E.IP_ADDRESS}, {"ip_address"}, "remove"),
    _kind(Identifier.BIOMETRIC, "(P)", "Biometric identifiers, including finger and voice prints",
          set(), {"biometric"}, "remove"),
    _kind(Identifier.PHOTO, "(Q)", "Full face photographic images and any comparable images",
          set(), {"photo"}, "remove"),
    _kind(Identifier.OTHER_UNIQUE, "(R)",
          "Any other unique identifying number, characteristic, or code, except as permitted "
          "by paragraph (c) of this section (a re-identification code not derived from "
          "information about the individual)",
          {_E.PASSPORT, *NATIONAL_IDS}, {"national_id", "person_id", "username", "passport"},
          "remove, or replace with a random code kept apart from the data (164.514(c))"),
)
_BY_IDENTIFIER = {k.identifier: k for k in SAFE_HARBOR}


@dataclass(frozen=True)
class ColumnHit:
    """Why a column counts as one identifier kind."""

    column: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class SafeHarborReport:
    """The identifier kinds present (with the columns and why) and those absent."""

    present: dict[Identifier, list[ColumnHit]]
    absent: list[Identifier]

    @property
    def passes(self) -> bool:
        """No identifier kind found (necessary for Safe Harbor, not sufficient)."""
        return not self.present

    def columns(self, identifier: Identifier | str) -> list[str]:
        return [hit.column for hit in self.present.get(Identifier(identifier), [])]

    def to_dict(self) -> dict[str, Any]:
        def describe(kind: IdentifierKind) -> dict[str, Any]:
            return {"identifier": str(kind.identifier), "paragraph": kind.paragraph,
                    "description": kind.description}

        return {
            "rule": "45 CFR 164.514(b)(2)",
            "passes": self.passes,
            "present": [
                {**describe(_BY_IDENTIFIER[i]), "remedy": _BY_IDENTIFIER[i].remedy,
                 "columns": [hit.to_dict() for hit in hits]}
                for i, hits in self.present.items()
            ],
            "absent": [describe(_BY_IDENTIFIER[i]) for i in self.absent],
        }


def _reasons(found: ColumnFinding) -> dict[Identifier, list[str]]:
    """Identifier kinds one column holds, each with the evidence that says so."""
    out: dict[Identifier, list[str]] = {}
    evidence = found.evidence
    hint = evidence.get("name_hint")
    over_89 = evidence.get("over_89_share")
    contained = evidence.get("contained") or {}
    for kind in SAFE_HARBOR:
        why = []
        if found.entity in kind.entities and found.category is not Category.OTHER:
            why.append(f"{found.entity} ({evidence.get('reason', 'scan')})")
        if hint in kind.name_rules:
            why.append(f"column name ({hint})")
        if found.category is Category.DIRECT_IDENTIFIER:
            inside = sorted(e for e in contained if e in kind.entities)
            if inside:
                why.append(f"free text contains {', '.join(inside)}")
        if why:
            out[kind.identifier] = why
    # Fax numbers look like phone numbers: the name tells them apart.
    if hint == "fax":
        out.pop(Identifier.TELEPHONE, None)
    # An age column is an identifier only through ages over 89.
    if found.entity is Entity.AGE and over_89 == 0 and Identifier.DATES in out:
        del out[Identifier.DATES]
    # A unique per-row code nothing else explains is "any other unique identifying number".
    if (found.category is Category.DIRECT_IDENTIFIER and not out and found.entity is None
            and not contained):
        out[Identifier.OTHER_UNIQUE] = [str(evidence.get("reason", "direct identifier"))]
    return out


def safe_harbor_report(scan: TableScan) -> SafeHarborReport:
    """Map a table scan onto the 18 Safe Harbor identifier kinds."""
    present: dict[Identifier, list[ColumnHit]] = {}
    for found in scan.columns:
        for identifier, why in _reasons(found).items():
            present.setdefault(identifier, []).append(ColumnHit(found.column, tuple(why)))
    ordered = {k.identifier: present[k.identifier] for k in SAFE_HARBOR
               if k.identifier in present}
    absent = [k.identifier for k in SAFE_HARBOR if k.identifier not in present]
    return SafeHarborReport(ordered, absent)
