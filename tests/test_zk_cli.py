"""veil.zk.dataset and ``veil zk``: commit a workspace dataset, issue and verify membership
proofs (audited, no row values in the ledger); prove and verify age and login from the CLI."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from _cli import veil
from veil.errors import InputError, KeyringError, NotFoundError
from veil.zk import ProofError
from veil.zk.dataset import (
    Membership,
    commit_dataset,
    issue_membership,
    verify_membership,
)
from veil.zk.membership import DatasetRoot


@pytest.fixture
def people(ws, frame):
    ws.ingest(frame, "people", subject_id="pid")
    return ws


# -- library ---------------------------------------------------------------------------------
def test_commit_issue_verify(people, frame):
    made = commit_dataset(people.for_purpose("attestation"), "people", columns=["pid", "age"])
    assert made.ref == "people@1" and made.root.size == frame.height
    assert made.columns == ("pid", "age")
    for index in (0, 7, frame.height - 1):
        held = issue_membership(people.for_purpose("attestation"), "people", index)
        record, salt, proof, root = held  # unpacks as (record, salt, proof, root)
        assert record == {"pid": frame["pid"][index], "age": frame["age"][index]}
        assert root == made.root and len(salt) == 32 and proof.index == index
        # the verifier needs only the published root and the holder's document
        assert verify_membership(made.root, held.to_json("people@1")).record == record
        assert verify_membership(made.root, held) == held


def test_nulls_and_floats_commit(people, frame):
    made = commit_dataset(people, "people")  # every column, nulls included
    held = issue_membership(people, "people", 0)  # row 0 has null score and note
    assert held.record["score"] is None and held.record["note"] is None
    assert set(held.record) == set(frame.columns)
    verify_membership(made.root, Membership.from_json(held.to_json()))


def test_ledger_holds_root_not_values(people, frame):
    made = commit_dataset(people.for_purpose("audit"), "people", columns=["pid", "note"])
    issue_membership(people.for_purpose("audit"), "people", 3)
    entries = {e.action: e for e in people.ledger.tail(10)}
    committed, proved = entries["zk.commit"], entries["zk.prove"]
    assert committed.resource == proved.resource == "people@1"
    assert committed.actor == "owner" and committed.purpose == "audit"
    params = committed.parameters
    assert params["root"] == made.root.root.hex() and params["size"] == frame.height
    assert params["columns"] == ["pid", "note"] and committed.seq == made.seq
    assert proved.parameters["root"] == made.root.root.hex() and proved.parameters["index"] == 3
    logged = " ".join(e.params for e in people.ledger.entries())
    for value in (frame["pid"][3], frame["note"][3], frame["pid"][0]):
        assert value not in logged
    assert people.verify().entries == people.ledger.size  # raises if the chain is broken


def test_refuses_other_root_or_altered_record(people, frame):
    first = commit_dataset(people, "people", columns=["pid", "age"])
    second = commit_dataset(people, "people", columns=["pid", "age"])
    assert first.root != second.root  # fresh salts per commitment: roots are unlinkable
    held = issue_membership(people, "people", 5, root=first.root.root.hex())
    verify_membership(first.root, held)
    with pytest.raises(ProofError):
        verify_membership(second.root, held)
    with pytest.raises(ProofError):
        verify_membership(DatasetRoot(first.root.root, first.root.size + 1), held)
    with pytest.raises(ProofError):
        verify_membership(first.root, held._replace(record=held.record | {"age": 99}))
    with pytest.raises(ProofError):
        verify_membership(first.root, held._replace(salt=bytes(32)))
    other = issue_membership(people, "people", 6, root=first.root.root.hex())
    with pytest.raises(ProofError):  # someone else's path for my record
        verify_membership(first.root, held._replace(proof=other.proof))
    document = json.loads(held.to_json())
    document["root"] = second.root.root.hex()  # the document's own root is not trusted
    with pytest.raises(ProofError):
        verify_membership(second.root, document)


def test_issue_errors(people):
    with pytest.raises(NotFoundError, match="no zk commitment"):
        issue_membership(people, "people", 0)
    made = commit_dataset(people, "people", columns=["pid"])
    with pytest.raises(InputError, match="row index"):
        issue_membership(people, "people", made.root.size)
    with pytest.raises(NotFoundError, match="no zk commitment with root"):
        issue_membership(people, "people", 0, root="00" * 32)
    with pytest.raises(InputError, match="at least one column"):
        commit_dataset(people, "people", columns=[])
    people.rotate_pseudonym_key()
    with pytest.raises(KeyringError, match="epoch"):
        issue_membership(people, "people", 0)
    again = commit_dataset(people, "people", columns=["pid"])  # a new commitment works
    verify_membership(again.root, issue_membership(people, "people", 0))


def test_salts_rederive_after_reopen(people, tmp_path, master_key):
    from veil import Workspace

    made = commit_dataset(people, "people", columns=["pid"])
    people.close()
    with Workspace.open(tmp_path / "ws", master_key=master_key) as reopened:
        verify_membership(made.root, issue_membership(reopened, "people", 11))


# -- CLI -------------------------------------------------------------------------------------
# Each `python -m veil` start costs seconds (the CLI imports every subsystem), so the subprocess
# test covers the end-to-end path once; the others run the same entry point, veil.cli.main,
# in-process (same argument parsing, error lines and exit codes).
def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_age_end_to_end(tmp_path):
    veil("zk", "prove-age", "--age", "34", "--threshold", "18", "--out", "age.json",
         "--save-opening", "opening.json", cwd=tmp_path)
    document = json.loads((tmp_path / "age.json").read_text())
    assert document["type"] == "veil.zk.age-proof"
    assert set(document) == {"type", "version", "commitment", "threshold", "bits", "context",
                             "proof"}  # no age in it
    assert stat.S_IMODE((tmp_path / "opening.json").stat().st_mode) == 0o600
    ok = veil("zk", "verify-age", "age.json", "--threshold", "18", cwd=tmp_path)
    assert ok.stdout.startswith("valid")
    # tampered proof: flip one hex digit inside the range proof's body
    body = document["proof"]["proof"]
    flipped = body[:200] + ("0" if body[200] != "0" else "1") + body[201:]
    (tmp_path / "bad.json").write_text(json.dumps(document | {
        "proof": document["proof"] | {"proof": flipped}}))
    bad = veil("zk", "verify-age", "bad.json", "--threshold", "18", cwd=tmp_path, check=False)
    assert one_line_error(bad).startswith("veil: error") and bad.returncode == 4
    # a 17-year-old gets no proof of >= 18
    minor = veil("zk", "prove-age", "--age", "17", "--threshold", "18", "--out", "minor.json",
                 cwd=tmp_path, check=False)
    assert minor.returncode == 2 and "below the threshold" in one_line_error(minor)
    assert not (tmp_path / "minor.json").exists()


def test_cli_age_refusals(run, tmp_path):
    run("zk", "prove-age", "--age", "34", "--out", "age.json")
    assert run("zk", "verify-age", "age.json").stdout.startswith("valid")
    commitment = json.loads((tmp_path / "age.json").read_text())["commitment"]
    run("zk", "verify-age", "age.json", "--commitment", commitment)
    # a higher threshold, another context, another commitment: refused
    assert run("zk", "verify-age", "age.json", "--threshold", "40", check=False).returncode == 4
    assert run("zk", "verify-age", "age.json", "--context", "other",
               check=False).returncode == 4
    other = run("zk", "verify-age", "age.json", "--commitment", "02" + "11" * 32, check=False)
    assert other.returncode == 2 and "another commitment" in one_line_error(other)
    (tmp_path / "junk.json").write_text("{not json")
    junk = run("zk", "verify-age", "junk.json", check=False)
    assert junk.returncode == 2 and "not valid JSON" in one_line_error(junk)
    missing = run("zk", "verify-age", "nowhere.json", check=False)
    assert missing.returncode == 2 and "cannot read" in one_line_error(missing)
    old = run("zk", "prove-age", "--age", "200", "--out", "old.json", check=False)
    assert old.returncode == 2 and "window" in one_line_error(old)


def test_cli_login(run, tmp_path):
    public = run("zk", "keygen", "--out", "id.json").stdout.split()[-1]
    assert stat.S_IMODE((tmp_path / "id.json").stat().st_mode) == 0o600
    assert "exists" in one_line_error(run("zk", "keygen", "--out", "id.json", check=False))
    nonce = run("zk", "nonce").stdout.strip()
    run("zk", "prove-login", "id.json", "--audience", "clinic", "--nonce", nonce, "--out",
        "login.json")
    base = ("zk", "verify-login", "login.json", "--public", public)
    assert run(*base, "--audience", "clinic", "--nonce", nonce).stdout.startswith("valid")
    wrong = run(*base, "--audience", "bank", "--nonce", nonce, check=False)
    assert wrong.returncode == 4 and "does not verify" in one_line_error(wrong)
    short = run(*base, "--audience", "clinic", "--nonce", "abcd", check=False)
    assert short.returncode == 2 and "32 bytes" in one_line_error(short)


def test_cli_membership(run, tmp_path):
    (tmp_path / "people.csv").write_text(
        "pid,zip,age\n" + "".join(f"P{i},021{i:02d},{20 + i}\n" for i in range(9)))
    run("-w", "ws", "init", "--new-key-file", "k.key")
    base = ("-w", "ws", "--key-file", "k.key")
    run(*base, "ingest", "people.csv", "--name", "people", "--subject-id", "pid")
    made = json.loads(run(*base, "zk", "commit", "people", "--columns", "pid,age",
                          "--json").stdout)
    assert made["size"] == 9 and made["columns"] == ["pid", "age"]
    plain = run(*base, "zk", "commit", "people", "--columns", "age").stdout.splitlines()
    assert plain[1].startswith("root ") and len(plain[1]) == 5 + 64 and plain[2] == "size 9"
    run(*base, "zk", "prove-member", "people", "--row", "4", "--root", made["root"], "--out",
        "member.json")
    assert stat.S_IMODE((tmp_path / "member.json").stat().st_mode) == 0o600
    held = json.loads((tmp_path / "member.json").read_text())
    assert held["record"] == {"pid": "P4", "age": 24} and held["dataset"] == "people@1"
    check = ("zk", "verify-member", "member.json", "--size", "9")  # no workspace
    assert run(*check, "--root", made["root"]).stdout.startswith("valid")
    wrong = run(*check, "--root", "ab" * 32, check=False)
    assert wrong.returncode == 4 and "does not verify" in one_line_error(wrong)
    held["record"]["age"] = 25
    (tmp_path / "altered.json").write_text(json.dumps(held))
    altered = run("zk", "verify-member", "altered.json", "--root", made["root"], "--size", "9",
                  check=False)
    assert altered.returncode == 4
    beyond = run(*base, "zk", "prove-member", "people", "--row", "9", check=False)
    assert beyond.returncode == 2 and "row index" in one_line_error(beyond)
    log = json.loads(run(*base, "audit", "log", "--json").stdout)
    assert [e["action"] for e in log if e["action"].startswith("zk.")] == [
        "zk.commit", "zk.commit", "zk.prove"]
    assert "P4" not in json.dumps(log)
