"""Deterministic synthetic patients, so veil's demos, tests and benchmarks never touch real people.

Every value comes from a seeded generator: Faker fills small pools of names, streets, cities and
ZIP codes, and numpy indexes into them, so a million rows take seconds and the same arguments
always give the same frame. The data is shaped for privacy work: ZIP code, birth date, sex and
ethnicity act as quasi-identifiers, clinical notes repeat PII in free text, lab values follow
diagnosis and age, and a 30-day readmission label depends on them, so a model has something to
learn and an attack has something to find. Emails use the reserved ``example`` domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from faker import Faker

from veil.errors import InputError

__all__ = ["REFERENCE_DATE", "generate_patients"]

REFERENCE_DATE = date(2026, 11, 23)
"""Admissions fall in the two years before this day; fixed so output never depends on today."""

_ADMISSION_WINDOW_DAYS = 730
_POOL_SIZE = 2_000  # Faker draws per pool; repeats keep Faker's name frequencies
_CITIES_PER_CLINIC = 3
_ZIPS_PER_CLINIC = 8
_LOCAL_AREA_CODES = 2
_SSN_CODES = 898 * 99 * 9999  # areas 001-899 without 666, groups 01-99, serials 0001-9999

_COLUMNS = (
    "patient_id",
    "clinic_id",
    "name",
    "ssn",
    "email",
    "phone",
    "birth_date",
    "street_address",
    "city",
    "state",
    "zip_code",
    "sex",
    "ethnicity",
    "diagnosis_code",
    "glucose_mg_dl",
    "hba1c_pct",
    "systolic_bp",
    "cholesterol_mg_dl",
    "bmi",
    "admission_date",
    "readmitted_30d",
    "clinical_note",
)


@dataclass(frozen=True)
class _Diagnosis:
    code: str  # ICD-10-CM
    words: str
    weight: float  # relative prevalence at age 50
    age_slope: float  # change in log-prevalence per decade of age
    readmit: float  # added log-odds of readmission within 30 days
    lab: str  # the lab value a note about this diagnosis quotes
    glucose: float = 0.0  # shifts of the mean lab values
    sbp: float = 0.0
    chol: float = 0.0
    bmi: float = 0.0


_DIAGNOSES = (
    _Diagnosis("Z00.00", "a routine adult checkup", 1.6, -0.35, -1.2, "bmi"),
    _Diagnosis("I10", "essential hypertension", 1.6, 0.30, 0.0, "sbp", sbp=20, chol=5, bmi=2),
    _Diagnosis("E11.9", "type 2 diabetes", 1.2, 0.25, 0.3, "hba1c", 55, 5, 10, 4),
    _Diagnosis(
        "E11.65", "type 2 diabetes with hyperglycemia", 0.4, 0.25, 0.8, "glucose", 120, 6, 15, 5
    ),
    _Diagnosis("E78.5", "hyperlipidemia", 1.2, 0.25, -0.2, "chol", 3, 4, 50, 2),
    _Diagnosis("J45.909", "asthma", 0.8, -0.25, 0.0, "bmi", bmi=1),
    _Diagnosis("I50.9", "heart failure", 0.35, 0.55, 1.4, "sbp", 5, 4, 0, 3),
    _Diagnosis("N18.30", "stage 3 chronic kidney disease", 0.4, 0.50, 1.0, "sbp", 8, 12, 10, 1),
    _Diagnosis("F32.9", "major depression", 0.9, -0.10, 0.2, "bmi", bmi=1),
    _Diagnosis("J44.9", "COPD", 0.45, 0.45, 0.9, "bmi", sbp=3, bmi=-1),
    _Diagnosis("M54.50", "low back pain", 1.0, 0.0, -0.6, "bmi", sbp=2, bmi=1.5),
    _Diagnosis("K21.9", "GERD", 0.8, 0.05, -0.4, "bmi", bmi=2),
    _Diagnosis("E66.9", "obesity", 0.7, 0.0, -0.1, "bmi", 8, 6, 10, 9),
    _Diagnosis("I25.10", "coronary artery disease", 0.4, 0.50, 0.7, "chol", 5, 6, 25, 2),
)

_ETHNICITIES = {
    "White": 0.58,
    "Hispanic or Latino": 0.19,
    "Black or African American": 0.12,
    "Asian": 0.06,
    "Two or more races": 0.03,
    "American Indian or Alaska Native": 0.01,
    "Unknown": 0.01,
}

# Public vocabularies of the coded columns (the code lists, not read from any table): what a
# DP release may use as its categories.
DIAGNOSIS_CODES = tuple(d.code for d in _DIAGNOSES)
ETHNICITIES = tuple(_ETHNICITIES)

_EMAIL_DOMAINS = {
    "example.com": 0.45,
    "example.org": 0.2,
    "example.net": 0.2,
    "mail.example.com": 0.15,
}


def generate_patients(n: int = 30_000, *, clinics: int = 3, seed: int = 20261123) -> pl.DataFrame:
    """Return ``n`` synthetic patients spread over ``clinics`` clinics, one row each.

    The same ``(n, clinics, seed)`` always gives a bit-identical frame. Columns: ``patient_id``,
    ``clinic_id``, ``name``, ``ssn``, ``email``, ``phone``, ``birth_date``, ``street_address``,
    ``city``, ``state``, ``zip_code``, ``sex``, ``ethnicity``, ``diagnosis_code`` (ICD-10-CM),
    ``glucose_mg_dl``, ``hba1c_pct``, ``systolic_bp``, ``cholesterol_mg_dl``, ``bmi``,
    ``admission_date``, ``readmitted_30d`` (0/1) and ``clinical_note``.
    """
    for name, value in (("n", n), ("clinics", clinics)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{name} must be an integer >= 1; got {value!r}"
            raise InputError(msg)
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)

    sites = _clinics(fake, rng, clinics)  # drawn first, so a clinic looks the same at any n
    clinic = rng.choice(clinics, size=n, p=sites.share)
    people = _people(fake, rng, n)
    frame = pl.DataFrame(
        {
            "patient_id": _ids("P", n, 7),
            "clinic_id": _ids("C", clinics, 2).gather(clinic),
            **people,
            **_places(fake, rng, sites, clinic),
            **_health(rng, people["age"], sites.readmit[clinic]),
        }
    )
    frame = frame.with_columns(email=_email(rng, n), phone=_phone(rng, sites, clinic))
    return frame.with_columns(clinical_note=_note(rng, n)).select(_COLUMNS)


def _ids(prefix: str, count: int, width: int) -> pl.Series:
    numbers = pl.int_range(1, count + 1, eager=True).cast(pl.String)
    return prefix + numbers.str.zfill(max(width, len(str(count))))


def _column(values: np.ndarray) -> pl.Expr:
    return pl.lit(pl.Series(values))


def _pick(choice: np.ndarray, options: list[pl.Expr]) -> pl.Expr:
    """Row ``i`` takes ``options[choice[i]]``; a choice past the last option gives null."""
    selector = _column(choice)
    picked = pl.when(selector == 0).then(options[0])
    for k, option in enumerate(options[1:], start=1):
        picked = picked.when(selector == k).then(option)
    return picked


def _categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category index per row, row ``i`` from the distribution ``probs[rows[i]]``."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(rows.size)
    draw = np.zeros(rows.size, dtype=np.int64)
    for k in range(probs.shape[1] - 1):
        draw += u > cumulative[rows, k]
    return draw


# Long-established US area codes: real numbers carry assigned ones, and scanners validate them.
_AREA_CODES = np.array([201, 202, 206, 212, 213, 214, 215, 216, 303, 305, 312, 313, 314, 404,
                        412, 414, 415, 503, 504, 512, 602, 612, 614, 615, 617, 702, 704, 713,
                        801, 813, 904, 916, 919])


def _nxx(rng: np.random.Generator, size: int | tuple[int, int]) -> np.ndarray:
    """NANP area codes or exchanges: first digit 2-9, never an N11 service code such as 911."""
    code = rng.integers(200, 1000, size)
    return np.where(code % 100 == 11, code - 1, code)


def _people(fake: Faker, rng: np.random.Generator, n: int) -> dict[str, pl.Series | np.ndarray]:
    female = rng.random(n) < 0.52
    first_names = pl.Series(
        [fake.first_name_female() for _ in range(_POOL_SIZE)]
        + [fake.first_name_male() for _ in range(_POOL_SIZE)]
    )
    last_names = pl.Series([fake.last_name() for _ in range(_POOL_SIZE)])
    first = first_names.gather(rng.integers(0, _POOL_SIZE, n) + np.where(female, 0, _POOL_SIZE))
    last = last_names.gather(rng.integers(0, _POOL_SIZE, n))

    code = rng.choice(_SSN_CODES, size=n, replace=False)  # unique, like real SSNs
    area = code // (99 * 9999) + 1
    ssn = pl.select(
        pl.concat_str(
            _column(area + (area >= 666)).cast(pl.String).str.zfill(3),
            _column(code // 9999 % 99 + 1).cast(pl.String).str.zfill(2),
            _column(code % 9999 + 1).cast(pl.String).str.zfill(4),
            separator="-",
        )
    ).to_series()

    admission = np.datetime64(REFERENCE_DATE, "D") - rng.integers(0, _ADMISSION_WINDOW_DAYS, n)
    age = 18 + 77 * rng.beta(2.0, 1.7, n)  # at admission; adult clinics skew older
    return {
        "first": first,
        "last": last,
        "name": first + " " + last,
        "ssn": ssn,
        "birth_date": admission - (age * 365.25).astype("timedelta64[D]"),
        "admission_date": admission,
        "age": age.astype(np.int64),
        "sex": np.where(female, "F", "M"),
    }


@dataclass(frozen=True)
class _Clinics:
    share: np.ndarray  # of the patients
    ethnic_mix: np.ndarray  # one distribution over _ETHNICITIES per clinic
    area_codes: np.ndarray  # the local ones, _LOCAL_AREA_CODES per clinic
    readmit: np.ndarray  # added log-odds of readmission
    zip_code: pl.Series  # the ZIP codes of all clinics, each clinic's in one run
    city: pl.Series  # of each ZIP code
    state: pl.Series  # of each ZIP code
    first_zip: np.ndarray  # where each clinic's run starts
    zip_count: np.ndarray  # how long it is


def _clinics(fake: Faker, rng: np.random.Generator, count: int) -> _Clinics:
    """Each clinic serves its own population: ZIP codes, area codes, ethnic mix, care quality."""
    zips: list[str] = []
    cities: list[str] = []
    states: list[str] = []
    first_zip, zip_count = np.zeros(count, np.int64), np.zeros(count, np.int64)
    for c in range(count):
        state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
        towns = [fake.city() for _ in range(_CITIES_PER_CLINIC)]
        pool = list(dict.fromkeys(fake.zipcode_in_state(state) for _ in range(_ZIPS_PER_CLINIC)))
        first_zip[c], zip_count[c] = len(zips), len(pool)
        zips += pool
        cities += [towns[i % len(towns)] for i in range(len(pool))]
        states += [state] * len(pool)
    return _Clinics(
        share=rng.dirichlet(np.full(count, 8.0)),
        ethnic_mix=rng.dirichlet(np.array(list(_ETHNICITIES.values())) * 100, size=count),
        area_codes=rng.choice(_AREA_CODES, (count, _LOCAL_AREA_CODES)),
        readmit=rng.normal(0, 0.3, count),
        zip_code=pl.Series(zips),
        city=pl.Series(cities),
        state=pl.Series(states),
        first_zip=first_zip,
        zip_count=zip_count,
    )


def _places(
    fake: Faker, rng: np.random.Generator, sites: _Clinics, clinic: np.ndarray
) -> dict[str, pl.Series]:
    n = clinic.size
    # The first ZIP codes in a clinic's run are its most common ones.
    site = sites.first_zip[clinic] + (rng.random(n) ** 1.6 * sites.zip_count[clinic]).astype(int)
    streets = pl.Series([fake.street_name() for _ in range(_POOL_SIZE)])
    number = pl.Series((10 ** rng.uniform(0.3, 4.0, n)).astype(np.int64))
    street = streets.gather(rng.integers(0, _POOL_SIZE, n))
    ethnicity = _categorical(rng, sites.ethnic_mix, clinic)
    return {
        "street_address": number.cast(pl.String) + " " + street,
        "city": sites.city.gather(site),
        "state": sites.state.gather(site),
        "zip_code": sites.zip_code.gather(site),
        "ethnicity": pl.Series(list(_ETHNICITIES)).gather(ethnicity),
    }


def _health(
    rng: np.random.Generator, age: np.ndarray, clinic_effect: np.ndarray
) -> dict[str, pl.Series | np.ndarray]:
    """Diagnosis by age; labs by diagnosis, age and BMI; readmission by all of them and clinic."""
    n = age.size
    ages = np.arange(18, 96)[:, None]
    weight = np.array([d.weight for d in _DIAGNOSES])
    slope = np.array([d.age_slope for d in _DIAGNOSES])
    prevalence = weight * np.exp(slope * (ages - 50) / 10)
    dx = _categorical(rng, prevalence / prevalence.sum(axis=1, keepdims=True), age - 18)

    def shift(field: str) -> np.ndarray:
        return np.array([getattr(d, field) for d in _DIAGNOSES])[dx]

    decades = (age - 50) / 10
    bmi = 26.5 + 0.4 * decades - 0.15 * decades**2 + shift("bmi") + rng.normal(0, 4.5, n)
    bmi = np.clip(bmi, 16, 60).round(1)
    glucose = 88 + 1.5 * decades + 0.6 * (bmi - 27) + rng.normal(0, 9, n)
    glucose = np.clip(glucose + shift("glucose") * rng.lognormal(0, 0.35, n), 60, 450).round()
    hba1c = np.clip((glucose + 46.7) / 28.7 + 0.45 + rng.normal(0, 0.3, n), 4.0, 15.0).round(1)
    sbp = 118 + 4.5 * decades + 0.6 * (bmi - 27) + shift("sbp") + rng.normal(0, 11, n)
    sbp = np.clip(sbp, 85, 220).round().astype(np.int64)
    chol = 190 + 3 * decades - 1.5 * decades**2 + 1.2 * (bmi - 27) + shift("chol")
    chol = np.clip(chol + rng.normal(0, 28, n), 100, 400).round()

    logit = (
        -2.0
        + 0.35 * (age - 60) / 10
        + 0.010 * (glucose - 100)
        + 0.018 * (sbp - 130)
        + 0.004 * (chol - 190)
        + 0.03 * (bmi - 28)
        + shift("readmit")
        + clinic_effect
    )
    readmitted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return {
        "diagnosis_code": pl.Series([d.code for d in _DIAGNOSES]).gather(dx),
        "diagnosis_words": pl.Series([d.words for d in _DIAGNOSES]).gather(dx),
        "diagnosis_lab": pl.Series([d.lab for d in _DIAGNOSES]).gather(dx),
        "glucose_mg_dl": glucose,
        "hba1c_pct": hba1c,
        "systolic_bp": sbp,
        "cholesterol_mg_dl": chol,
        "bmi": bmi,
        "readmitted_30d": readmitted.astype(np.int8),
    }


def _email(rng: np.random.Generator, n: int) -> pl.Expr:
    first = pl.col("first").str.to_lowercase().str.replace_all("[^a-z]", "")
    last = pl.col("last").str.to_lowercase().str.replace_all("[^a-z]", "")
    number = _column(rng.integers(1, 100, n)).cast(pl.String)
    local = _pick(
        rng.choice(5, n, p=[0.35, 0.15, 0.2, 0.2, 0.1]),
        [
            pl.concat_str(first, pl.lit("."), last),
            pl.concat_str(first, last),
            pl.concat_str(first.str.slice(0, 1), last),
            pl.concat_str(first, pl.lit("."), last, number),
            pl.concat_str(first, pl.lit("_"), last),
        ],
    )
    domain = pl.Series(list(_EMAIL_DOMAINS)).gather(
        rng.choice(len(_EMAIL_DOMAINS), n, p=list(_EMAIL_DOMAINS.values()))
    )
    return pl.concat_str(local, pl.lit("@"), pl.lit(domain))


def _phone(rng: np.random.Generator, sites: _Clinics, clinic: np.ndarray) -> pl.Expr:
    """Mostly the clinic's local area codes, written in either common style."""
    n = clinic.size
    local = sites.area_codes[clinic, rng.integers(0, _LOCAL_AREA_CODES, n)]
    area = _column(np.where(rng.random(n) < 0.85, local, rng.choice(_AREA_CODES, n)))
    exchange = _column(_nxx(rng, n))
    line = _column(rng.integers(0, 10_000, n)).cast(pl.String).str.zfill(4)
    return _pick(
        rng.integers(0, 2, n),
        [
            pl.format("({}) {}-{}", area, exchange, line),
            pl.format("{}-{}-{}", area, exchange, line),
        ],
    )


def _note(rng: np.random.Generator, n: int) -> pl.Expr:
    """One to three sentences: who and why, often a lab value, sometimes contact details."""
    name, words, clinic = pl.col("name"), pl.col("diagnosis_words"), pl.col("clinic_id")
    female = pl.col("sex") == "F"
    address = pl.format("{}, {}, {} {}", "street_address", "city", "state", "zip_code")
    opener = _pick(
        rng.choice(5, n, p=[0.3, 0.2, 0.2, 0.12, 0.18]),
        [
            pl.format(
                "Pt {} (DOB {}) seen at clinic {} for {}.", name, "birth_date", clinic, words
            ),
            pl.format(
                "{}, {}-year-old {}, admitted {} with {}.",
                name,
                "age",
                pl.when(female).then(pl.lit("woman")).otherwise(pl.lit("man")),
                "admission_date",
                words,
            ),
            pl.format("Follow-up visit for {} regarding {} ({}).", name, words, "diagnosis_code"),
            pl.format(
                "{} {} presented to clinic {} with {}.",
                pl.when(female).then(pl.lit("Ms.")).otherwise(pl.lit("Mr.")),
                "last",
                clinic,
                words,
            ),
            pl.format("Patient {} of {} seen for {}.", name, address, words),
        ],
    )
    key = pl.col("diagnosis_lab")
    lab = (
        pl.when(_column(rng.random(n) >= 0.85))
        .then(None)
        .when(key == "hba1c")
        .then(pl.format("HbA1c {}%.", "hba1c_pct"))
        .when(key == "glucose")
        .then(pl.format("Fasting glucose {} mg/dL.", pl.col("glucose_mg_dl").cast(pl.Int64)))
        .when(key == "sbp")
        .then(pl.format("Systolic BP {} mmHg.", "systolic_bp"))
        .when(key == "chol")
        .then(pl.format("Total cholesterol {} mg/dL.", pl.col("cholesterol_mg_dl").cast(pl.Int64)))
        .otherwise(pl.format("BMI {}.", "bmi"))
    )
    contact = _pick(
        rng.choice(6, n, p=[0.25, 0.15, 0.12, 0.1, 0.08, 0.3]),
        [
            pl.format("Call back at {}.", "phone"),
            pl.format("Reach by email at {}.", "email"),
            pl.format("SSN {} on file for billing.", "ssn"),
            pl.format("Lives at {}.", address),
            pl.format("Contact {} or {}.", "phone", "email"),
        ],
    )
    return pl.concat_str(opener, lab, contact, separator=" ", ignore_nulls=True)
