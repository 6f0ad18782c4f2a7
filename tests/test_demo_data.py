"""Tests for the synthetic demo patients: schema, formats, determinism, realism, learnability."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from veil.demo import generate_patients
from veil.demo.data import REFERENCE_DATE
from veil.errors import InputError

N = 5_000

SCHEMA = {
    "patient_id": pl.String,
    "clinic_id": pl.String,
    "name": pl.String,
    "ssn": pl.String,
    "email": pl.String,
    "phone": pl.String,
    "birth_date": pl.Date,
    "street_address": pl.String,
    "city": pl.String,
    "state": pl.String,
    "zip_code": pl.String,
    "sex": pl.String,
    "ethnicity": pl.String,
    "diagnosis_code": pl.String,
    "glucose_mg_dl": pl.Float64,
    "hba1c_pct": pl.Float64,
    "systolic_bp": pl.Int64,
    "cholesterol_mg_dl": pl.Float64,
    "bmi": pl.Float64,
    "admission_date": pl.Date,
    "readmitted_30d": pl.Int8,
    "clinical_note": pl.String,
}


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return generate_patients(N)


def test_schema_and_column_order(patients: pl.DataFrame) -> None:
    assert patients.schema == pl.Schema(SCHEMA)
    assert patients.null_count().sum_horizontal().item() == 0


def test_one_row_per_patient(patients: pl.DataFrame) -> None:
    assert patients.height == N
    assert patients["patient_id"].n_unique() == N
    assert patients["patient_id"].str.contains(r"^P\d{7}$").all()
    assert patients["ssn"].n_unique() == N


def test_default_has_three_clinics_with_own_zip_codes(patients: pl.DataFrame) -> None:
    assert sorted(patients["clinic_id"].unique()) == ["C01", "C02", "C03"]
    zips = patients.group_by("clinic_id").agg(pl.col("zip_code").unique())["zip_code"]
    assert all(1 <= len(z) <= 10 for z in zips)
    assert len(set.intersection(*(set(z) for z in zips))) == 0
    assert generate_patients(2_000, clinics=12)["clinic_id"].n_unique() == 12


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        # SSA: area not 000, 666 or 9xx; group not 00; serial not 0000.
        (
            "ssn",
            r"^(?:00[1-9]|0[1-9]\d|[1-5]\d\d|6[0-5]\d|66[0-57-9]|6[7-9]\d|[78]\d\d)"
            r"-(?:0[1-9]|[1-9]\d)-(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})$",
        ),
        # NANP: area code and exchange start with 2-9.
        ("phone", r"^(?:\([2-9]\d\d\) |[2-9]\d\d-)[2-9]\d\d-\d{4}$"),
        ("zip_code", r"^\d{5}$"),
        ("state", r"^[A-Z]{2}$"),
        ("email", r"^[a-z0-9._]+@[a-z.]+$"),
        ("name", r"^\S+ \S+$"),
        ("street_address", r"^\d+ \S.*$"),
        ("sex", r"^[FM]$"),
    ],
)
def test_identifier_formats(patients: pl.DataFrame, column: str, pattern: str) -> None:
    bad = patients.filter(~pl.col(column).str.contains(pattern))[column]
    assert bad.is_empty(), bad.head(5).to_list()


def test_both_phone_styles_appear(patients: pl.DataFrame) -> None:
    parenthesised = patients["phone"].str.starts_with("(").mean()
    assert 0.3 < parenthesised < 0.7


def test_email_is_derived_from_name(patients: pl.DataFrame) -> None:
    last = patients["name"].str.split(" ").list.last().str.to_lowercase()
    assert patients["email"].str.contains(last, literal=True).mean() > 0.95


def test_dates_and_ranges(patients: pl.DataFrame) -> None:
    admitted = patients["admission_date"]
    assert admitted.max() <= REFERENCE_DATE
    assert admitted.min() >= REFERENCE_DATE - dt.timedelta(days=731)
    age = (admitted - patients["birth_date"]).dt.total_days() / 365.25
    assert age.min() >= 18
    assert age.max() < 96
    bounds = {
        "glucose_mg_dl": (60, 450),
        "hba1c_pct": (4, 15),
        "systolic_bp": (85, 220),
        "cholesterol_mg_dl": (100, 400),
        "bmi": (16, 60),
    }
    for column, (low, high) in bounds.items():
        assert low <= patients[column].min() <= patients[column].max() <= high, column
    assert set(patients["readmitted_30d"].unique()) == {0, 1}
    assert 0.12 < patients["readmitted_30d"].mean() < 0.3


def test_categorical_frequencies_are_skewed(patients: pl.DataFrame) -> None:
    ethnicity = patients["ethnicity"].value_counts(normalize=True, sort=True)
    assert 4 <= ethnicity.height <= 10
    assert ethnicity["proportion"][0] > 0.4
    diagnoses = patients["diagnosis_code"].unique()
    assert 10 <= diagnoses.len() <= 15
    assert {"E11.9", "I10", "I50.9", "J44.9", "Z00.00"} <= set(diagnoses)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    first = generate_patients(3_000, clinics=4, seed=7)
    assert first.equals(generate_patients(3_000, clinics=4, seed=7))
    other = generate_patients(3_000, clinics=4, seed=8)
    assert not first.equals(other)
    for column in ("name", "ssn", "zip_code", "glucose_mg_dl", "clinical_note"):
        assert not first[column].equals(other[column]), column


def test_labs_follow_diagnosis_and_age(patients: pl.DataFrame) -> None:
    diabetic = patients["diagnosis_code"].str.starts_with("E11")
    hba1c, glucose = patients["hba1c_pct"], patients["glucose_mg_dl"]
    assert hba1c.filter(diabetic).mean() > hba1c.filter(~diabetic).mean() + 1
    assert glucose.filter(diabetic).mean() > glucose.filter(~diabetic).mean() + 30
    hypertensive = patients["diagnosis_code"] == "I10"
    sbp = patients["systolic_bp"]
    assert sbp.filter(hypertensive).mean() > sbp.filter(~hypertensive).mean() + 10
    age = (patients["admission_date"] - patients["birth_date"]).dt.total_days()
    assert np.corrcoef(age.to_numpy(), sbp.to_numpy())[0, 1] > 0.2


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = np.empty(score.size)
    ranks[np.argsort(score, kind="stable")] = np.arange(1, score.size + 1)
    positives = label.sum()
    negatives = label.size - positives
    return float(
        (ranks[label == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def test_readmission_is_learnable() -> None:
    df = generate_patients(20_000, seed=11)
    age = (df["admission_date"] - df["birth_date"]).dt.total_days() / 365.25
    numeric = df.select(
        "glucose_mg_dl", "hba1c_pct", "systolic_bp", "cholesterol_mg_dl", "bmi"
    ).with_columns(age=age)
    dummies = df.select("diagnosis_code", "clinic_id").to_dummies(drop_first=True)
    x = np.hstack([numeric.to_numpy(), dummies.to_numpy()]).astype(float)
    y = df["readmitted_30d"].to_numpy().astype(float)

    split = int(0.7 * len(y))
    mean, std = x[:split].mean(axis=0), x[:split].std(axis=0) + 1e-9
    x = np.hstack([np.ones((len(y), 1)), (x - mean) / std])
    weights = np.zeros(x.shape[1])
    for _ in range(400):
        p = 1 / (1 + np.exp(-x[:split] @ weights))
        weights -= 0.5 * x[:split].T @ (p - y[:split]) / split
    assert _auc(x[split:] @ weights, y[split:]) >= 0.70


def test_notes_leak_pii_in_free_text(patients: pl.DataFrame) -> None:
    note = pl.col("clinical_note")
    share = patients.select(
        name=note.str.contains(pl.col("name"), literal=True).mean(),
        phone=note.str.contains(pl.col("phone"), literal=True).mean(),
        ssn=note.str.contains(pl.col("ssn"), literal=True).mean(),
        email=note.str.contains(pl.col("email"), literal=True).mean(),
        birth=note.str.contains(pl.col("birth_date").cast(pl.String), literal=True).mean(),
        address=note.str.contains(pl.col("street_address"), literal=True).mean(),
        every=(
            note.str.contains(pl.col("name"), literal=True)
            & note.str.contains(pl.col("phone"), literal=True)
            & note.str.contains(pl.col("ssn"), literal=True)
            & note.str.contains(pl.col("email"), literal=True)
        ).mean(),
    ).row(0, named=True)
    assert share["name"] > 0.7
    for identifier in ("phone", "ssn", "email", "birth", "address"):
        assert 0.03 < share[identifier] < 0.6, identifier
    assert share["every"] < 0.05
    titles_dropped = patients["clinical_note"].str.replace_all(r"\b(?:Ms|Mr)\. ", "")
    sentences = titles_dropped.str.count_matches(r"\.(?:\s|$)")
    assert 1 <= sentences.min() <= sentences.max() <= 3


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n": 0}, "n must be an integer >= 1; got 0"),
        ({"n": -5}, "got -5"),
        ({"n": 2.5}, "got 2.5"),
        ({"n": True}, "got True"),
        ({"n": 10, "clinics": 0}, "clinics must be an integer >= 1; got 0"),
        ({"n": 10, "clinics": "3"}, "got '3'"),
    ],
)
def test_invalid_arguments_raise_input_error(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        generate_patients(**kwargs)  # type: ignore[arg-type]
