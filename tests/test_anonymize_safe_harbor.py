"""HIPAA Safe Harbor transform: on the demo patients nothing identifying is left, and each rule
(drop, ZIP3 / 000, year only, 90+, redacted notes) does what 45 CFR 164.514(b)(2) asks."""

from __future__ import annotations

from datetime import date
from importlib.resources import files

import polars as pl
import pytest

from veil.anonymize.safe_harbor import restricted_zip3_areas, safe_harbor
from veil.demo.data import generate_patients
from veil.discover import Entity, analyze_many, safe_harbor_report, scan_table
from veil.discover.hipaa import Identifier
from veil.errors import InputError, PrivacyModelError

HHS_2000_CENSUS = {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830",
                   "831", "878", "879", "884", "890", "893"}
DIRECT = ("patient_id", "name", "ssn", "email", "phone", "street_address", "city")


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return generate_patients(1500, seed=7)


@pytest.fixture(scope="module")
def release(patients):
    return safe_harbor(patients, reference_year=2026)


def test_direct_identifiers_are_dropped_and_every_column_is_accounted_for(patients, release):
    assert set(release.actions) == set(patients.columns)
    for column in DIRECT:
        assert column not in release.frame.columns
        assert release.actions[column].startswith("dropped:")
    assert "social_security_numbers (G)" in release.actions["ssn"]
    assert "names (A)" in release.actions["name"]
    assert "geographic_subdivisions (B)" in release.actions["city"]
    for kept in ("sex", "ethnicity", "state", "diagnosis_code", "bmi", "readmitted_30d"):
        assert release.frame[kept].equals(patients[kept])


def test_a_fresh_scan_finds_only_what_safe_harbor_allows(release):
    rescan = safe_harbor_report(scan_table(release.frame, sample=None))
    assert release.residual == {}
    assert set(rescan.present) <= {Identifier.GEOGRAPHIC, Identifier.DATES}
    assert rescan.columns(Identifier.GEOGRAPHIC) == ["zip_code"]
    assert set(rescan.columns(Identifier.DATES)) <= {"birth_date", "admission_date"}
    for identifier in rescan.present:
        for column in rescan.columns(identifier):
            assert identifier in release.permitted[column]
    assert release.report.present.keys() == rescan.present.keys()


def test_zip_codes_keep_three_digits_or_000(patients, release):
    zips = release.frame["zip_code"]
    assert zips.null_count() == 0 and zips.str.contains(r"^\d{3}$").all()
    expected = patients["zip_code"].str.slice(0, 3).replace(sorted(HHS_2000_CENSUS), "000")
    assert zips.equals(expected)
    frame = pl.DataFrame({"zip": ["03601", "02134-1234", "021", "8932", None, "89301"],
                          "n": range(6)})
    out = safe_harbor(frame).frame["zip"].to_list()
    assert out == ["000", "021", "021", None, None, "000"]
    custom = safe_harbor(frame, restricted_zip3=["021"]).frame["zip"].to_list()
    assert custom == ["036", "000", "000", None, None, "893"]
    ints = safe_harbor(pl.DataFrame({"zip_code": [2134, 3601, 10001], "n": [1, 2, 3]}))
    assert ints.frame["zip_code"].to_list() == ["021", "000", "100"]


def test_dates_become_years_and_old_birth_years_one_category(patients, release):
    assert release.frame["admission_date"].to_list() == (
        patients["admission_date"].dt.year().to_list())
    births = patients["birth_date"].dt.year()
    expected = [f"{y}" if y > 1936 else "<= 1936" for y in births.to_list()]
    assert release.frame["birth_date"].to_list() == expected
    assert "<= 1936" in expected  # the demo data has people aged 90 or more
    text = pl.DataFrame({"visit_date": ["2024-03-05", "05/30/2025", "30.05.2023 10:00",
                                        "20220101T0930Z", "yesterday"], "n": range(5)})
    assert safe_harbor(text).frame["visit_date"].to_list() == [2024, 2025, 2023, 2022, None]


def test_ages_over_89_and_birth_years_are_grouped():
    frame = pl.DataFrame({"age": [45, 89, 90, 104, None], "birth_year": [1981, 1937, 1936, 1920,
                                                                       None],
                          "n": range(5)})
    release = safe_harbor(frame, reference_year=2026)
    assert release.frame["age"].to_list() == ["45", "89", "90+", "90+", None]
    assert release.frame["birth_year"].to_list() == ["1981", "1937", "<= 1936", "<= 1936", None]
    assert "90+" in release.actions["age"] and "<= 1936" in release.actions["birth_year"]
    default = safe_harbor(frame).reference_year
    assert default == date.today().year


def test_notes_keep_no_ssn_phone_or_email(patients, release):
    notes = release.frame["clinical_note"]
    assert notes.null_count() == patients["clinical_note"].null_count()
    found = analyze_many(notes.to_list(), threshold=0.0,
                         entities=[Entity.US_SSN, Entity.PHONE_NUMBER, Entity.EMAIL_ADDRESS])
    assert not any(found)
    joined = "\n".join(notes.drop_nulls().to_list())
    for column in ("ssn", "email", "phone", "name"):
        assert not any(value in joined for value in patients[column].to_list())
    assert "<US_SSN>" in joined and "<EMAIL_ADDRESS>" in joined and "<PERSON>" in joined
    assert "redacted: free text" in release.actions["clinical_note"]


def test_forced_text_columns_and_residuals_fail_closed():
    n = 60
    frame = pl.DataFrame({"remark": ["call 415-555-0199"] * n, "code": [f"{i:03d}-45-6789"
                                                                      for i in range(101, 161)],
                          "n": [i % 3 for i in range(n)]})
    forced = safe_harbor(frame, text_columns=["remark"])
    assert forced.frame["remark"].unique().to_list() == ["call <PHONE_NUMBER>"]
    # A scan that missed the SSNs (here: of other data) lets them through the first pass;
    # the check scan finds them and the column is dropped all the same.
    blind = scan_table(pl.DataFrame({"remark": ["ok"] * n, "code": ["x"] * n, "n": [0] * n}))
    release = safe_harbor(frame, blind)
    assert "code" not in release.frame.columns
    assert release.actions["code"].startswith("dropped: still held social_security_numbers")
    assert release.residual == {}


def test_bad_arguments_are_refused():
    frame = pl.DataFrame({"zip": ["02134"], "n": [1]})
    for kwargs in ({"reference_year": 26}, {"restricted_zip3": ["21"]},
                   {"text_columns": ["nope"]}, {"text_columns": "zip"},
                   {"text_columns": ["n"]}, {"text_threshold": 2.0}):
        with pytest.raises(InputError):
            safe_harbor(frame, **kwargs)
    with pytest.raises(InputError, match="scan covers"):
        safe_harbor(frame, scan_table(pl.DataFrame({"other": [1]})))
    with pytest.raises(PrivacyModelError, match="no column"):
        safe_harbor(pl.DataFrame({"email": ["a@example.com", "b@example.org"]}))


def test_restricted_zip3_list_ships_as_package_data():
    assert restricted_zip3_areas() == HHS_2000_CENSUS
    text = (files("veil.anonymize") / "data" / "hipaa_restricted_zip3.csv").read_text()
    assert text.startswith("#") and "2000 Census" in text and "Guidance" in text
