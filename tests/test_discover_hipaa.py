"""HIPAA Safe Harbor report over table scans."""

from __future__ import annotations

import json

import polars as pl
import pytest

from veil.demo.data import generate_patients
from veil.discover.entities import Entity
from veil.discover.hipaa import SAFE_HARBOR, Identifier, safe_harbor_report
from veil.discover.table import scan_table


class Stand:
    """Matches nothing: these frames are classified by name rules and value statistics."""

    name, entity = "none", Entity.URL

    def matches(self, values: pl.Series) -> pl.Series:
        return pl.repeat(0.0, len(values), eager=True)

    full_match = matches


def test_the_eighteen_identifiers() -> None:
    assert len(SAFE_HARBOR) == 18 == len(Identifier)
    assert [k.paragraph for k in SAFE_HARBOR] == [f"({chr(ord('A') + i)})" for i in range(18)]
    assert "20,000" in SAFE_HARBOR[1].description and "over 89" in SAFE_HARBOR[2].description


def test_demo_table() -> None:
    report = safe_harbor_report(scan_table(generate_patients(300)))
    present = set(report.present)
    assert {Identifier.NAMES, Identifier.GEOGRAPHIC, Identifier.DATES, Identifier.TELEPHONE,
            Identifier.EMAIL, Identifier.SSN, Identifier.MEDICAL_RECORD} <= present
    assert Identifier.VEHICLE in report.absent and Identifier.FAX in report.absent
    assert not report.passes
    assert {"street_address", "city", "zip_code"} <= set(report.columns("geographic_subdivisions"))
    assert {"birth_date", "admission_date"} <= set(report.columns(Identifier.DATES))
    assert "patient_id" in report.columns(Identifier.MEDICAL_RECORD)
    assert "state" not in report.columns(Identifier.GEOGRAPHIC)  # states are allowed
    assert "clinical_note" in report.columns(Identifier.SSN)  # found inside the free text
    out = json.loads(json.dumps(report.to_dict()))
    assert out["rule"] == "45 CFR 164.514(b)(2)" and len(out["present"]) + len(out["absent"]) == 18


@pytest.mark.parametrize(("ages", "flagged"), [([30, 45, 89], False), ([30, 45, 95], True)])
def test_ages_count_only_over_89(ages: list[int], flagged: bool) -> None:
    frame = pl.DataFrame({"age": ages * 20})
    report = safe_harbor_report(scan_table(frame, recognizers=[Stand()]))
    assert (Identifier.DATES in report.present) is flagged


def test_names_point_to_the_rarer_identifiers() -> None:
    n = 60
    frame = pl.DataFrame({
        "fax": ["555-0100"] * n,
        "vin": [f"1HGCM82633A{i:06d}" for i in range(n)],
        "device_id": [f"dev{i}" for i in range(n)],
        "member_id": [f"M{i}" for i in range(n)],
        "ref_code": [f"X{i:05d}" for i in range(n)],
        "diagnosis": ["I10"] * n,
    })
    report = safe_harbor_report(scan_table(frame, recognizers=[Stand()]))
    assert report.columns(Identifier.FAX) == ["fax"]
    assert Identifier.TELEPHONE not in report.present
    assert report.columns(Identifier.VEHICLE) == ["vin"]
    assert report.columns(Identifier.DEVICE) == ["device_id"]
    assert report.columns(Identifier.HEALTH_PLAN) == ["member_id"]
    assert report.columns(Identifier.OTHER_UNIQUE) == ["ref_code"]
    assert "diagnosis" not in {c for hits in report.present.values() for c in
                               (h.column for h in hits)}
