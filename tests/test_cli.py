"""The ``veil`` command: each command end to end, and errors as one line with an exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _cli import veil


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text("pid,zip,age\nP1,02134,41\nP2,02139,35\n")
    veil("--workspace", "ws", "init", "--new-key-file", "k.key", cwd=tmp_path)
    return tmp_path


def test_ingest_datasets_show(home):
    base = ("-w", "ws", "--key-file", "k.key")
    made = json.loads(veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id",
                           "pid", "--json", cwd=home).stdout)
    assert made["rows"] == 2 and made["version"] == 1 and "file" not in made
    listed = json.loads(veil(*base, "datasets", "--json", cwd=home).stdout)
    assert [d["dataset"] for d in listed] == ["people"]
    shown = json.loads(veil(*base, "show", "people", "--rows", "1", "--json", cwd=home).stdout)
    assert shown["rows_preview"] == [{"pid": "P1", "zip": "02134", "age": 41}]
    assert "people@1" in veil(*base, "show", "people", cwd=home).stdout


def test_audit_commands_and_third_party_check(home):
    base = ("-w", "ws", "--key-file", "k.key")
    veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid", cwd=home)
    veil(*base, "audit", "head", cwd=home)
    head = veil(*base, "audit", "head", cwd=home).stdout
    (home / "head.json").write_text(head)
    verified = json.loads(veil(*base, "audit", "verify", "--trusted", "head.json", "--json",
                               cwd=home).stdout)
    assert verified["ok"] and verified["entries"] == 2
    log = json.loads(veil(*base, "audit", "log", "--json", cwd=home).stdout)
    assert [e["action"] for e in log] == ["workspace.create", "dataset.ingest"]
    veil(*base, "audit", "prove", "2", "--out", "inc.json", cwd=home)
    veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid", cwd=home)
    veil(*base, "audit", "prove", "--since", "2", "--out", "cons.json", cwd=home)
    pub = veil(*base, "audit", "pubkey", cwd=home).stdout.strip()
    assert pub == (home / "ws" / "ledger.pub").read_text().strip()
    ok = veil("audit", "check", "inc.json", "--public-key", pub, cwd=home)  # no workspace
    assert "valid" in ok.stdout and "dataset.ingest" in ok.stdout
    ok = veil("audit", "check", "cons.json", "--public-key", "ws/ledger.pub", "--trusted",
              "head.json", cwd=home)
    assert "prefix" in ok.stdout
    proof = json.loads((home / "inc.json").read_text())
    proof["entry"]["actor"] = "mallory"
    (home / "bad.json").write_text(json.dumps(proof))
    bad = veil("audit", "check", "bad.json", "--public-key", pub, cwd=home, check=False)
    assert bad.returncode == 4 and "does not verify" in bad.stderr


def test_key_rotation_from_the_cli(home):
    base = ("-w", "ws", "--key-file", "k.key")
    veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid", cwd=home)
    veil("keys", "generate", "new.key", cwd=home)
    assert "re-wrapped 4 key(s)" in veil(*base, "keys", "rotate", "--new-key-file", "new.key",
                                         cwd=home).stdout
    old = veil(*base, "datasets", cwd=home, check=False)
    assert old.returncode == 3 and "does not open this workspace" in old.stderr
    veil("-w", "ws", "--key-file", "new.key", "audit", "verify", cwd=home)


@pytest.mark.parametrize(("args", "code", "message"), [
    (("ingest", "missing.csv", "--name", "x", "--subject-id", "pid"), 2, "does not exist"),
    (("ingest", "ragged.csv", "--name", "x", "--subject-id", "pid"), 2, "Expected 3 columns"),
    (("ingest", "people.csv", "--name", "x", "--subject-id", "ssn"), 2, "'ssn' is not in"),
    (("show", "nobody"), 2, "'nobody' does not exist"),
    (("show", "people", "--version", "7"), 2, "no version 7"),
])
def test_errors_are_one_line_with_an_exit_code(home, args, code, message):
    base = ("-w", "ws", "--key-file", "k.key")
    (home / "ragged.csv").write_text("pid,a,b\n1,2,3\n4,5\n")
    veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid", cwd=home)
    result = veil(*base, *args, cwd=home, check=False)
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_key_and_workspace_errors(home):
    no_key = veil("-w", "ws", "datasets", cwd=home, check=False)
    assert no_key.returncode == 3 and "no master key" in no_key.stderr
    missing = veil("-w", "ws", "--key-file", "nope.key", "datasets", cwd=home, check=False)
    assert missing.returncode == 3 and "nope.key does not exist" in missing.stderr
    wrong = veil("-w", "ws", "datasets", cwd=home, check=False,
                 env={"VEIL_PASSPHRASE": "guess"})
    assert wrong.returncode == 3
    again = veil("-w", "ws", "init", "--new-key-file", "k2.key", cwd=home, check=False)
    assert again.returncode == 1 and "not an empty directory" in again.stderr


def test_tampered_ledger_from_the_cli(home):
    import sqlite3

    base = ("-w", "ws", "--key-file", "k.key")
    veil(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid", cwd=home)
    conn = sqlite3.connect(home / "ws" / "veil.db")
    conn.execute("UPDATE ledger SET purpose = 'marketing' WHERE seq = 1")
    conn.commit()
    conn.close()
    result = veil(*base, "audit", "verify", cwd=home, check=False)
    assert result.returncode == 4 and "entry 1 was modified" in result.stderr


def test_demo_runs_end_to_end(tmp_path):
    result = veil("demo", "--patients", "2000", "--workspace", "demo-ws", cwd=tmp_path)
    for step in ("generate synthetic patients", "ingest + encrypt", "verify audit ledger",
                 "compliance reports", "DP synthetic patients", "patients.synthetic@1",
                 "tstr_auc_synthetic", "membership_auc"):
        assert step in result.stdout
    assert (tmp_path / "demo-ws.key").exists()
    written = {p.name for p in (tmp_path / "demo-ws-reports").iterdir()}
    assert {f"{k}.{x}" for k in ("risk", "gdpr", "ccpa", "hipaa", "ai-act")
            for x in ("html", "json")} <= written
    again = veil("demo", "--patients", "2000", "--workspace", "demo-ws", cwd=tmp_path,
                 check=False)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    # what --overwrite deletes and keeps is tested on a short demo (test_demo_overwrite.py);
    # a second full run here would only double this test's 70 s
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    refused = veil("demo", "--workspace", "notes", "--overwrite", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and (tmp_path / "notes" / "mine.txt").exists()


def test_scan_command_tables_text_and_bad_files(tmp_path):
    from veil.demo import generate_patients

    generate_patients(800, seed=2).write_csv(tmp_path / "patients.csv")
    result = veil("scan", "patients.csv", "--json-out", "found.json", cwd=tmp_path)
    assert "DIRECT_IDENTIFIER" in result.stdout and "Safe Harbor" in result.stdout
    found = json.loads((tmp_path / "found.json").read_text())
    verdicts = {c["column"]: c["category"] for c in found["columns"]}
    assert verdicts["ssn"] == "DIRECT_IDENTIFIER" and verdicts["sex"] == "QUASI_IDENTIFIER"
    (tmp_path / "notes.txt").write_text("Call Jane Doe at 415-555-0199.\nNothing here.\n")
    text = json.loads(veil("scan", "notes.txt", "--json", cwd=tmp_path).stdout)
    assert text["columns"][0]["category"] == "DIRECT_IDENTIFIER"
    (tmp_path / "brief.txt").write_text(
        "Sehr geehrte Frau Kowalczyk, Ihre PESEL 44051401359 und Ihre Adresse Hauptstraße 5a, "
        "10115 Berlin sind gespeichert. Rückruf unter +48 22 123 45 67.\n")
    brief = json.loads(veil("scan", "brief.txt", "--json", cwd=tmp_path).stdout)
    assert {"PL_PESEL", "PERSON", "STREET_ADDRESS", "PHONE_NUMBER"} <= set(
        brief["columns"][0]["evidence"]["contained"])
    assert "other_unique_identifiers" in {k["identifier"] for k in brief["safe_harbor"]["present"]}
    (tmp_path / "blob.csv").write_bytes(b"\x00\x01\x02binary")
    bad = veil("scan", "blob.csv", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
