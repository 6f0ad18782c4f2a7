"""Hardening of what callers hand to veil: files, settings and keys that must be refused with a
clear error (never a cell value in it), and identifiers that must keep their exact text."""

from __future__ import annotations

import polars as pl
import pytest

from veil.anonymize.hierarchy import Hierarchy
from veil.errors import HierarchyError, InputError, MalformedSourceError, SchemaError

SECRET_SSN = "078-05-1120"
SECRET_NAME = "Zelda Quux"


def _clean(text: str) -> bool:
    return SECRET_SSN not in text and SECRET_NAME not in text


def _cli_workspace(run) -> tuple[str, ...]:
    """A workspace made with ``veil init`` beside the ``ws`` fixture's; its root options."""
    run("-w", "cli-ws", "init", "--new-key-file", "k.key")
    return ("-w", "cli-ws", "--key-file", "k.key")


# -- 6. errors name columns, rows and counts, never values ------------------------------------
def test_ragged_row_is_refused_by_row_number_without_its_values(ws, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(f"pid,name,ssn\nP1,Ann,1\nP2,{SECRET_NAME},{SECRET_SSN},extra\n")
    before = ws.ledger.size
    with pytest.raises(MalformedSourceError) as refused:
        ws.ingest(path, "people", subject_id="pid")
    message = refused.value.message
    assert _clean(message), message
    assert "row 3" in message and "Expected 3" in message and "4" in message
    assert ws.ledger.size == before


def test_ragged_row_on_the_command_line_prints_no_values(run, tmp_path):
    base = _cli_workspace(run)
    (tmp_path / "ragged.csv").write_text(f"pid,name\nP1,Ann\nP2,{SECRET_NAME},{SECRET_SSN}\n")
    result = run(*base, "ingest", "ragged.csv", "--name", "p", "--subject-id", "pid",
                 check=False)
    assert result.returncode == 2
    assert _clean(result.stderr) and _clean(result.stdout) and "row 3" in result.stderr


def test_a_value_that_does_not_convert_is_named_by_column_and_row(ws, tmp_path):
    path = tmp_path / "typed.csv"
    path.write_text(f"pid,age\nP1,41\nP2,{SECRET_SSN}\n")
    with pytest.raises(MalformedSourceError) as refused:
        ws.ingest(path, "people", subject_id="pid", schema_overrides={"age": pl.Int64})
    message = refused.value.message
    assert _clean(message) and "column 2" in message and "row 3" in message, message


def test_a_pandas_frame_that_does_not_convert_names_the_column_only(ws):
    import pandas as pd

    frame = pd.DataFrame({"pid": ["P1", "P2"], "mixed": [1, f"{SECRET_NAME} {SECRET_SSN}"]})
    with pytest.raises(SchemaError) as refused:
        ws.ingest(frame, "people", subject_id="pid")
    assert _clean(refused.value.message) and "'mixed'" in refused.value.message


def test_hierarchy_errors_give_counts_not_values():
    names = Hierarchy.flat("name", ["Ann", "Bob"])
    with pytest.raises(HierarchyError) as refused:
        names.codes(pl.Series([SECRET_NAME, "Ann", SECRET_SSN, SECRET_NAME]))
    assert _clean(refused.value.message) and "2 value(s)" in refused.value.message
    with pytest.raises(HierarchyError) as refused:
        names.generalize(SECRET_NAME, 1)
    assert _clean(refused.value.message)
    malformed = [
        [(SECRET_NAME, "g", "*"), ("b", "g")],  # ragged
        [(SECRET_NAME, "*"), (SECRET_NAME, "*")],  # repeated
        [("a", SECRET_NAME), ("b", SECRET_SSN)],  # two tops
        [("a", SECRET_NAME, "x", "*"), ("b", SECRET_NAME, "y", "*")],  # inconsistent
    ]
    for rows in malformed:
        with pytest.raises(HierarchyError) as refused:
            Hierarchy.from_rows("name", rows)
        assert _clean(refused.value.message), refused.value.message
    with pytest.raises(HierarchyError) as refused:
        Hierarchy.dates("born", pl.Series([SECRET_SSN, "2020-01-01"]))
    assert _clean(refused.value.message) and "1 value(s)" in refused.value.message


def test_uncovered_sensitive_values_and_utility_checks_give_counts_not_values():
    from veil.anonymize.models import memberships
    from veil.anonymize.utility import utility

    diagnoses = Hierarchy.from_mapping("dx", {"flu": ["infection"], "cold": ["infection"]})
    with pytest.raises(HierarchyError) as refused:
        memberships(diagnoses, ("flu", SECRET_NAME))
    assert _clean(refused.value.message) and "1 " in refused.value.message
    original = pl.DataFrame({"name": ["Ann", SECRET_NAME]})
    with pytest.raises(HierarchyError) as refused:
        utility(original, original, pl.Series([False, False]), ["name"],
                {"name": Hierarchy.flat("name", ["Ann"])})
    assert _clean(refused.value.message)


def test_accuracy_population_and_token_checks_give_counts_not_values():
    from veil.anonymize.risk import reidentification_risk
    from veil.anonymize.tokens import lookup
    from veil.anonymize.utility import classification_accuracy
    from veil.errors import NotFoundError

    table = pl.DataFrame({"x": list(range(40)), "y": [SECRET_NAME] + ["a", "b"] * 19 + ["a"]})
    with pytest.raises(InputError) as refused:
        classification_accuracy(table, ["x"], "y")
    assert _clean(refused.value.message) and "1 class" in refused.value.message
    release = pl.DataFrame({"name": [SECRET_NAME, SECRET_NAME]})
    with pytest.raises(InputError) as refused:
        reidentification_risk(release, pl.Series([False, False]), ["name"],
                              population=release.head(1))
    assert _clean(refused.value.message) and "1 class" in refused.value.message
    tokens = pl.DataFrame({"token": ["t1"], "value": ["Ann"]})
    with pytest.raises(NotFoundError) as refused:
        lookup(tokens, ["t1", SECRET_SSN])
    assert _clean(refused.value.message)


def test_anonymize_with_an_uncovering_hierarchy_names_no_values(ws, frame):
    people = frame.with_columns(pl.Series("name", [SECRET_NAME] * frame.height))
    ws.ingest(people, "people", subject_id="pid")
    with pytest.raises(HierarchyError) as refused:
        ws.anonymize("people", ["name"], [], k=2,
                     hierarchies={"name": Hierarchy.flat("name", ["Ann"])})
    assert _clean(refused.value.message), refused.value.message


# -- 8. identifiers keep their text ------------------------------------------------------------
def test_identifiers_zip_codes_and_phones_keep_their_text(ws, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("pid,zip,phone,intl,big,age,score\n"
                    "007,02139,0612345678,+33612345678,12345678901234567890123,41,1.5\n"
                    "07,10001,0698765432,+33698765432,12345678901234567890124,35,2.0\n"
                    "7,94110,0611111111,+33611111111,22345678901234567890123,52,2.5\n")
    version = ws.ingest(path, "people", subject_id="pid")
    frame = ws.read("people")
    assert frame["pid"].to_list() == ["007", "07", "7"]
    assert frame["zip"].to_list() == ["02139", "10001", "94110"]
    assert frame["phone"].to_list()[0] == "0612345678"
    assert frame["intl"].to_list()[0] == "+33612345678"
    assert frame["big"].to_list()[:2] == ["12345678901234567890123", "12345678901234567890124"]
    assert version.schema["age"] == "Int64" and version.schema["score"] == "Float64"


def test_columns_discovery_calls_identifiers_are_never_numbers(ws, tmp_path):
    rows = "\n".join(f"P{i},{4000123400 + i * 7},{100 + i},{30 + i % 40}" for i in range(60))
    path = tmp_path / "accounts.csv"
    path.write_text(f"pid,account_number,record,age\n{rows}\n")
    version = ws.ingest(path, "accounts", subject_id="pid")
    assert version.schema["account_number"] == "String"  # named an account number
    assert version.schema["record"] == "String"  # unique per row: a record identifier
    assert version.schema["age"] == "Int64"


def test_a_numeric_subject_id_in_a_csv_stays_text(ws, tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("sid,age\n1,41\n1.0,35\n")
    ws.ingest(path, "people", subject_id="sid")
    assert ws.read("people")["sid"].to_list() == ["1", "1.0"]


def test_subject_ids_that_collide_after_conversion_are_refused(ws, tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text(f"pid,age\n007,{41}\n07,35\n7,52\n8,60\n")
    before = ws.ledger.size
    with pytest.raises(SchemaError) as refused:
        ws.ingest(path, "people", subject_id="pid", schema_overrides={"pid": pl.Int64})
    message = refused.value.message
    assert "'pid'" in message and "3" in message and "007" not in message, message
    assert ws.ledger.size == before


def test_parquet_keeps_an_integer_subject_id(ws, tmp_path):
    pl.DataFrame({"pid": [1, 2, 3], "age": [41, 35, 52]}).write_parquet(tmp_path / "p.parquet")
    version = ws.ingest(tmp_path / "p.parquet", "people", subject_id="pid")
    assert version.schema["pid"] == "Int64"


# -- 12. small ones ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [
    {"k": 0},
    {"k": 10_000},
    {"k": 2, "algorithm": "fastest"},
    {"k": 2, "metric": "prettiest"},
    {"k": 2, "suppression_limit": 2.0},
    {"l": 2},
    {},
    {"k": 2, "hierarchies": {"nowhere": Hierarchy.flat("nowhere", ["a"])}},
    {"k": 2, "hierarchies": {"age": "not a hierarchy"}},
    {"k": 2, "kk": 3},
    {"k": 2, "t": 0.2, "t_distance": "hierarchical"},
    {"k": 2, "algorithm": "mondrian", "suppression_limit": 0.5},
])
def test_refused_anonymize_calls_read_nothing(ws, frame, settings):
    ws.ingest(frame, "people", subject_id="pid")
    before = ws.ledger.size
    with pytest.raises(InputError):
        ws.anonymize("people", ["zip", "age"], ["score"] if "t" in settings else [],
                     **settings)
    assert ws.ledger.size == before


def test_duplicate_and_empty_header_names_are_refused(ws, tmp_path, run):
    (tmp_path / "dupes.csv").write_text("pid,age,age\nP1,3,4\n")
    (tmp_path / "blank.csv").write_text("pid,,age\nP1,3,4\n")
    with pytest.raises(MalformedSourceError, match=r"'age'.*columns 2 and 3"):
        ws.ingest(tmp_path / "dupes.csv", "people", subject_id="pid")
    with pytest.raises(MalformedSourceError, match=r"column 2 .*no name"):
        ws.ingest(tmp_path / "blank.csv", "people", subject_id="pid")
    base = _cli_workspace(run)
    for name in ("dupes.csv", "blank.csv"):
        result = run(*base, "ingest", name, "--name", "p", "--subject-id", "pid", check=False)
        assert result.returncode == 2 and "unexpected" not in result.stderr, result.stderr


def test_a_two_megabyte_field_loads(ws, tmp_path):
    long_text = "x" * (2 * 1024 * 1024)
    path = tmp_path / "long.csv"
    path.write_text("pid,age,note\n" + "".join(f"P{i},{i},short\n" for i in range(3000))
                    + f'P9999,5,"{long_text}"\nP10000,6,short\n')
    version = ws.ingest(path, "notes", subject_id="pid")
    assert version.rows == 3002
    assert ws.read("notes")["note"].str.len_chars().max() == len(long_text)


@pytest.mark.parametrize("epsilon", [5e-324, 1e-300, 1e-9])
def test_an_epsilon_too_small_to_use_is_refused(ws, frame, epsilon):
    ws.ingest(frame, "people", subject_id="pid")
    ws.set_budget("people", epsilon=10.0, delta=1e-5)
    ws.dp_settings("people", bounds={"age": (0, 100)})
    before = ws.ledger.size
    for sql in ("SELECT COUNT(*) FROM people", "SELECT SUM(age) FROM people"):
        with pytest.raises(InputError, match="at least 1e-06"):
            ws.query(sql, epsilon=epsilon)
    assert ws.ledger.size == before


def test_a_rho_too_small_to_use_is_refused(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    ws.set_budget("people", rho=1.0)
    before = ws.ledger.size
    with pytest.raises(InputError, match="at least 1e-12"):
        ws.query("SELECT COUNT(*) FROM people", rho=5e-324)
    assert ws.ledger.size == before


def test_a_tiny_epsilon_on_the_command_line_is_a_clear_error(run, tmp_path, frame):
    base = _cli_workspace(run)
    frame.write_parquet(tmp_path / "p.parquet")
    run(*base, "ingest", "p.parquet", "--name", "people", "--subject-id", "pid")
    run(*base, "budget", "set", "people", "--epsilon", "10", "--delta", "1e-5")
    result = run(*base, "query", "SELECT COUNT(*) FROM people", "--epsilon", "5e-324",
                 check=False)
    assert result.returncode == 2 and "unexpected" not in result.stderr, result.stderr
    assert "epsilon" in result.stderr


def test_keys_generate_into_a_missing_folder_is_a_clear_error(run, tmp_path):
    result = run("keys", "generate", "nowhere/k.key", check=False)
    assert result.returncode == 2 and "unexpected" not in result.stderr, result.stderr
    assert "nowhere" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_public_keys_of_the_wrong_type_are_refused_when_saved(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    before = ws.ledger.size
    with pytest.raises(InputError, match=r"'age'.*Int64"):
        ws.dp_settings("people", public_keys={"age": ["20", "21"]})
    with pytest.raises(InputError, match=r"'zip'.*String"):
        ws.dp_settings("people", public_keys={"zip": [2100, 2101]})
    with pytest.raises(InputError, match=r"'age'.*Int64"):
        ws.dp_settings("people", public_keys={"age": [True]})
    assert ws.ledger.size == before
    assert ws.dp_settings("people").public_keys == {}  # nothing saved
    saved = ws.dp_settings("people", public_keys={"age": [20, 21], "zip": ["02100"],
                                                  "score": [1, 2.5]})
    assert saved.public_keys["age"] == (20, 21)
    ws.set_budget("people", epsilon=10.0, delta=1e-5)
    result = ws.query("SELECT age, COUNT(*) FROM people GROUP BY age", epsilon=1.0)
    assert sorted(result.frame["age"].to_list()) == [20, 21]
