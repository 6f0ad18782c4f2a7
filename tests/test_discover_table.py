"""The table scanner: column verdicts on the demo table, QI risk, bad input, and files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import polars as pl
import pytest

from veil.demo.data import generate_patients
from veil.discover.column_names import name_hint
from veil.discover.entities import Category, Entity
from veil.discover.evidence import MAX_CELL_CHARS
from veil.discover.files import read_source
from veil.discover.qi import qi_risk
from veil.discover.table import scan_file, scan_table
from veil.errors import InputError, MalformedSourceError

D, Q, S, OTHER = (Category.DIRECT_IDENTIFIER, Category.QUASI_IDENTIFIER, Category.SENSITIVE,
                  Category.OTHER)


class Stand:
    """A tiny regex recognizer, so edge-case tests need not load the real catalogue."""

    def __init__(self, name: str, entity: Entity, pattern: str, score: float = 0.8) -> None:
        self.name, self.entity, self.pattern, self.score = name, entity, pattern, score

    def _score(self, values: pl.Series, pattern: str) -> pl.Series:
        text = values.cast(pl.String, strict=False).fill_null("")
        return text.str.contains(pattern).cast(pl.Float64) * self.score

    def matches(self, values: pl.Series) -> pl.Series:
        return self._score(values, self.pattern)

    def full_match(self, values: pl.Series) -> pl.Series:
        return self._score(values, rf"^\s*(?:{self.pattern})\s*$")


STAND = (
    Stand("email", Entity.EMAIL_ADDRESS, r"[\w.+-]+@[\w-]+\.[\w.]+", 0.95),
    Stand("ssn", Entity.US_SSN, r"\d{3}-\d{2}-\d{4}", 0.9),
    Stand("zip", Entity.ZIP_CODE, r"\d{5}", 0.3),
)


def scan(frame: pl.DataFrame, **kwargs: object):
    return scan_table(frame, recognizers=STAND, **kwargs)  # type: ignore[arg-type]


# -- the demo table: the acceptance test ------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    return generate_patients(3000)


@pytest.fixture(scope="module")
def demo_scan(demo: pl.DataFrame):
    return scan_table(demo)


DIRECT = ("patient_id", "name", "ssn", "email", "phone", "street_address", "clinical_note")
QUASI = ("birth_date", "zip_code", "sex", "ethnicity", "city", "state", "clinic_id",
         "admission_date")
SENSITIVE = ("diagnosis_code", "glucose_mg_dl", "hba1c_pct", "systolic_bp",
             "cholesterol_mg_dl", "bmi", "readmitted_30d")


def test_demo_categories(demo_scan) -> None:
    verdict = {f.column: f.category for f in demo_scan.columns}
    assert {c: verdict[c] for c in DIRECT} == dict.fromkeys(DIRECT, D)
    assert {c: verdict[c] for c in QUASI} == dict.fromkeys(QUASI, Q)
    assert {c: verdict[c] for c in SENSITIVE} == dict.fromkeys(SENSITIVE, S)
    assert sorted(demo_scan.by_category(D)) == sorted(DIRECT)
    assert demo_scan.rows == demo_scan.scanned_rows == 3000 and not demo_scan.sampled


def test_demo_entities(demo_scan) -> None:
    entity = {f.column: f.entity for f in demo_scan.columns}
    assert entity["name"] is Entity.PERSON
    assert entity["ssn"] is Entity.US_SSN
    assert entity["email"] is Entity.EMAIL_ADDRESS
    assert entity["phone"] is Entity.PHONE_NUMBER
    assert entity["street_address"] is Entity.STREET_ADDRESS
    assert entity["birth_date"] is Entity.DATE_OF_BIRTH
    assert entity["admission_date"] is Entity.DATE_TIME
    assert entity["zip_code"] is Entity.ZIP_CODE
    assert entity["clinical_note"] is None  # free text *containing* PII
    note = demo_scan.finding("clinical_note").evidence
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN"} <= set(note["contained"])
    for column in ("ssn", "email", "phone"):
        evidence = demo_scan.finding(column).evidence
        assert evidence["whole_cell_share"] > 0.9 and evidence["match_share"] > 0.9
        assert evidence["scanned"] == 3000 and evidence["null_share"] == 0
    assert demo_scan.finding("diagnosis_code").evidence["icd10_share"] == 1.0
    assert demo_scan.finding("sex").evidence["name_hint"] == "sex"


def test_demo_full_and_sampled_agree(demo: pl.DataFrame, demo_scan) -> None:
    sampled = scan_table(demo, sample=1000, seed=3)
    assert sampled.scanned_rows == 1000 and sampled.rows == 3000 and sampled.sampled
    assert [(f.column, f.category, f.entity) for f in sampled.columns] == [
        (f.column, f.category, f.entity) for f in demo_scan.columns]


def test_demo_qi_risk(demo_scan) -> None:
    risk = {frozenset(r.columns): r for r in demo_scan.qi_risk}
    assert risk[frozenset({"birth_date", "zip_code", "sex"})].unique_share > 0.9
    assert risk[frozenset({"sex"})].unique_share == 0 and risk[frozenset({"sex"})].classes == 2
    shares = [r.unique_share for r in demo_scan.qi_risk]
    assert shares == sorted(shares, reverse=True)
    assert all(1 <= len(r.columns) <= 3 for r in demo_scan.qi_risk)
    assert json.loads(json.dumps(demo_scan.to_dict()))["rows"] == 3000


# -- rules on small frames --------------------------------------------------------------------
def test_qi_risk_constant_column_and_cap() -> None:
    frame = pl.DataFrame({"gender": ["F"] * 100, "zip": [f"{i:05d}" for i in range(100)],
                          "age": [i % 7 for i in range(100)]})
    risks, truncated = qi_risk(frame, ["gender", "zip", "age"], max_combination=3)
    by = {r.columns: r for r in risks}
    assert by[("gender",)].unique_share == 0 and by[("gender",)].classes == 1
    assert by[("zip",)].unique_share == 1 and not truncated
    assert len(risks) == 7
    capped, truncated = qi_risk(frame, ["gender", "zip", "age"], limit=4)
    assert len(capped) == 4 and truncated
    found = scan(frame)
    assert {r.columns for r in found.qi_risk} >= {("gender",)}


def test_name_rules() -> None:
    hints = {n: (h.name if (h := name_hint(n)) else None) for n in (
        "DateOfBirth", "E-Mail", "Télefono", "PLZ", "nachname", "patient_name", "product_name",
        "clinic_name", "clinical_note", "readmitted_30d", "ZIPCode", "user_name", "card_name")}
    assert hints == {
        "DateOfBirth": "birth_date", "E-Mail": "email", "Télefono": "phone", "PLZ": "zip",
        "nachname": "person_name", "patient_name": "person_name", "product_name": None,
        "clinic_name": "care_site", "clinical_note": None, "readmitted_30d": "outcome",
        "ZIPCode": "zip", "user_name": "username", "card_name": None,
    }


def test_values_beat_names_and_weak_patterns_yield() -> None:
    n = 200
    frame = pl.DataFrame({
        "notes": [f"user{i}@example.com" for i in range(n)],  # values say email
        "income": [f"{40000 + i * 37}" for i in range(n)],  # five digits, but a salary
        "c7": [f"{10000 + i % 50:05d}" for i in range(n)],  # five digits, no name: ZIP
        "ref": [f"R-{i:06d}" for i in range(n)],  # unique per row: a record identifier
        "g": ["F", "M"] * (n // 2),  # sex vocabulary without a telling name
        "amount": [i / 3 for i in range(n)],
    })
    found = {f.column: f for f in scan(frame).columns}
    assert (found["notes"].category, found["notes"].entity) == (D, Entity.EMAIL_ADDRESS)
    assert found["income"].category is S and found["income"].entity is None
    assert (found["c7"].category, found["c7"].entity) == (Q, Entity.ZIP_CODE)
    assert found["ref"].category is D and "unique" in found["ref"].evidence["reason"]
    assert found["g"].category is Q and found["g"].evidence["vocabulary"] == "sex"
    assert found["amount"].category is OTHER


def test_free_text_with_identifiers() -> None:
    notes = [f"Patient seen today, reach them at person{i}@example.org or by mail soon."
             if i % 4 == 0 else "Routine visit, nothing of note, follow up in six months time."
             for i in range(400)]
    found = scan(pl.DataFrame({"remarks": notes})).columns[0]
    assert found.category is D and found.entity is None
    assert found.evidence["contained"] == {"EMAIL_ADDRESS": 0.25}


# -- bad input never crashes ------------------------------------------------------------------
def test_empty_tables_are_refused() -> None:
    with pytest.raises(InputError, match="empty table"):
        scan(pl.DataFrame())
    with pytest.raises(InputError, match="empty table"):
        scan(pl.DataFrame({"a": []}, schema={"a": pl.String}))
    with pytest.raises(InputError, match="sample"):
        scan(pl.DataFrame({"a": [1]}), sample=0)


def test_awkward_columns_do_not_crash() -> None:
    n = 60
    frame = pl.DataFrame({
        "tags": [[i, i + 1] for i in range(n)],
        "blob": [bytes([i % 256]) * 3 for i in range(n)],
        "nothing": [None] * n,
        "empty_ssn": pl.Series([None] * n, dtype=pl.String),
        "mixed": pl.Series([1, "a", 2.5, None] * (n // 4), dtype=pl.Object),
        "huge": ["x" * 1_000_000 if i == 0 else f"v{i}" for i in range(n)],
        "when": pl.Series([None, 3600] * (n // 2), dtype=pl.Duration("ms")),
        "flag": [True, False, None] * (n // 3),
        "kind": pl.Series(["a", "b", "c"] * (n // 3), dtype=pl.Categorical),
        "ssn": [f"123-45-{i:04d}" if i % 2 else None for i in range(n)],
    })
    with pytest.warns(UserWarning) as caught:
        found = {f.column: f for f in scan(frame).columns}
    messages = " ".join(str(w.message) for w in caught)
    assert "'tags'" in messages and "'blob'" in messages and "'mixed'" in messages
    assert found["tags"].category is OTHER and found["tags"].evidence["reason"] == (
        "skipped: nested type")
    assert found["blob"].category is OTHER and found["mixed"].category is OTHER
    assert found["nothing"].category is OTHER and found["nothing"].evidence["null_share"] == 1
    assert found["empty_ssn"].category is D  # by name; no values to say otherwise
    assert found["huge"].evidence["scanned"] == n
    assert found["ssn"].entity is Entity.US_SSN and found["ssn"].evidence["null_share"] == 0.5
    assert list(found) == frame.columns
    with pytest.warns(UserWarning):
        json.dumps(scan(frame.drop("mixed")).to_dict())


def test_huge_cells_are_capped() -> None:
    cell = "a" * (MAX_CELL_CHARS + 10) + " 123-45-6789"  # past the cap: not seen
    frame = pl.DataFrame({"text": [cell] * 3 + ["123-45-6789"] * 3})
    found = scan(frame).columns[0]
    assert found.entity is Entity.US_SSN
    assert found.evidence["match_share"] == pytest.approx(0.5)  # not 1.0: the cap hid three


def test_only_unscannable_columns() -> None:
    frame = pl.DataFrame({"tags": [[1], [2]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scan(frame)
    assert result.scanned_rows == 0 and result.columns[0].category is OTHER


# -- files ------------------------------------------------------------------------------------
def test_scan_file_reads_only_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 200_000
    path = tmp_path / "big.csv"
    pl.DataFrame({"id": range(rows), "email": [f"u{i}@example.com" for i in range(rows)]}
                 ).write_csv(path)
    with path.open("ab") as fh:  # a bad last line: reading it would fail
        fh.write(b"999999,caf\xe9@example.com\n")
    parsed: list[int] = []
    real = pl.read_csv

    def spy(source, *args, **kwargs):
        parsed.append(len(source.getvalue()))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pl, "read_csv", spy)
    result = scan_file(path, sample=1000, recognizers=STAND)
    assert result.scanned_rows == 1000 and result.rows is None
    assert result.finding("email").entity is Entity.EMAIL_ADDRESS
    assert max(parsed) < path.stat().st_size / 4
    monkeypatch.setattr(pl, "read_csv", real)
    with pytest.raises(MalformedSourceError, match=r"not valid UTF-8: byte 0xe9 at offset \d+"):
        scan_file(path, sample=None, recognizers=STAND)


def test_scan_file_small_csv_and_parquet(tmp_path: Path) -> None:
    frame = pl.DataFrame({"email": [f"u{i}@example.com" for i in range(50)],
                          "zip_code": [f"{10000 + i % 5}" for i in range(50)]})
    frame.write_csv(tmp_path / "a.csv")
    frame.write_parquet(tmp_path / "a.parquet")
    whole = scan_file(tmp_path / "a.csv", recognizers=STAND)
    assert whole.rows == whole.scanned_rows == 50
    assert scan_file(tmp_path / "a.csv", sample=50, recognizers=STAND).rows == 50
    assert scan_file(tmp_path / "a.csv", sample=49, recognizers=STAND).rows is None  # unknown
    part = scan_file(tmp_path / "a.parquet", sample=20, recognizers=STAND)
    assert part.rows == 50 and part.scanned_rows == 20
    assert part.finding("zip_code").category is Q


def test_scan_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Call me at jane@example.com tomorrow.\n\nNothing else to report here.\n",
                    encoding="utf-8")
    result = scan_file(path, recognizers=STAND)
    assert result.rows == 2 and result.columns[0].column == "text"
    assert result.columns[0].category is D
    frame, rows = read_source(path, limit=1)
    assert frame.height == 1 and rows is None


@pytest.mark.parametrize(("name", "content", "match"), [
    ("bin.csv", b"a,b\n1,\x00\x01\x02\n", "binary"),
    ("latin.txt", "caf\u00e9 au lait\n".encode("latin-1"), "UTF-8: byte 0xe9 at offset 3"),
    ("latin.csv", "name\nJos\u00e9\n".encode("latin-1"), "offset 8"),
    ("empty.csv", b"", "empty file"),
    ("header.csv", b"a,b\n", "no rows"),
    ("fake.parquet", b"not parquet at all", "PAR1"),
])
def test_bad_files(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MalformedSourceError, match=match):
        scan_file(path, recognizers=STAND)


def test_unsupported_or_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported file type"):
        scan_file(tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="no such file"):
        scan_file(tmp_path / "missing.csv")
