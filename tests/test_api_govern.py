"""The service's audit, access-admin and governance routes: what each role may do, what the
ledger records, proofs a third party can check, and that a data subject's id stays out of URLs
and log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service import EVERYTHING, PASSWORD, World, apps, build_world, finished, ok
from veil.ledger import proof_from_dict, verify_consistency, verify_inclusion


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-govern"), rows=120)


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    with apps(world, "owner", "analyst", "auditor", "dpo") as found:
        yield found


def _entries(api: TestClient, limit: int = 100) -> list[dict[str, Any]]:
    return ok(api.get("/audit/entries", params={"limit": limit}))["entries"]


def _refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "access.denied"


def _invalid(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def _subject(world: World, row: int) -> str:
    return str(world.frame["patient_id"][row])


def _not_logged(caplog: pytest.LogCaptureFixture, subject: str, path: str) -> None:
    """The flow's requests were logged (by path) and no log line holds the subject's id."""
    lines = [record.getMessage() for record in caplog.records]
    assert any(path in line for line in lines)
    assert not [line for line in lines if subject in line]


# -- audit ----------------------------------------------------------------------------------
def test_auditor_verifies_and_pages_the_ledger(clients: dict[str, TestClient]) -> None:
    api = clients["auditor"]
    verified = ok(api.post("/audit/verify"))
    assert verified["ok"] is True and verified["problems"] == []
    assert verified["entries"] == verified["head"]["size"] > 10
    assert verified["bound"] > 0

    newest = ok(api.get("/audit/entries", params={"limit": 5}))
    size = newest["size"]
    assert [e["seq"] for e in newest["entries"]] == list(range(size, size - 5, -1))
    skipped = ok(api.get("/audit/entries", params={"limit": 5, "offset": 5}))
    assert [e["seq"] for e in skipped["entries"]] == list(range(size - 5, size - 10, -1))
    oldest = ok(api.get("/audit/entries", params={"order": "oldest", "offset": 2, "limit": 3}))
    assert [e["seq"] for e in oldest["entries"]] == [3, 4, 5]
    assert oldest["entries"][0]["action"] and oldest["entries"][0]["entry_hash"]
    past = ok(api.get("/audit/entries", params={"offset": size + 10}))
    assert past["entries"] == []

    _invalid(api.get("/audit/entries", params={"limit": 501}), "limit")
    _invalid(api.get("/audit/entries", params={"offset": -1}), "offset")
    _invalid(api.get("/audit/entries", params={"order": "random"}), "order")


def test_proofs_verify_with_the_ledger_key(clients: dict[str, TestClient]) -> None:
    api = clients["auditor"]
    published = ok(api.get("/audit/head"))
    key = bytes.fromhex(published["public_key"])

    proof = proof_from_dict(ok(api.get("/audit/entries/3/proof")))
    verify_inclusion(proof, key)
    assert proof.entry.seq == 3

    old = published["head"]["size"]
    consistent = proof_from_dict(ok(api.get("/audit/consistency", params={"old_size": old})))
    verify_consistency(consistent, key, trusted_old_root=bytes.fromhex(published["head"]["root"]))

    assert api.get("/audit/entries/999999/proof").status_code == 404
    _invalid(api.get("/audit/entries/0/proof"), "seq")
    _invalid(api.get("/audit/consistency", params={"old_size": 1, "new_size": 1}), "new_size")
    _invalid(api.get("/audit/consistency"), "old_size")

    # the head kept earlier is still extended; a forged one is a problem, not a crash
    trusted = ok(api.post("/audit/verify", json={"trusted": [published["head"]]}))
    assert trusted["ok"] is True and trusted["problems"] == []
    forged = published["head"] | {"signature": "00" * 64}
    refused = ok(api.post("/audit/verify", json={"trusted": [forged]}))
    assert refused["ok"] is False and "signature" in refused["problems"][0]
    _invalid(api.post("/audit/verify", json={"trusted": [{"size": 1}]}), "root")


def test_auditor_gets_reports_whose_proofs_verify(clients: dict[str, TestClient]) -> None:
    from typing import get_args

    from veil.api.routes import reports
    from veil.govern.report import KINDS, render

    assert get_args(reports.Kind) == tuple(KINDS)
    api = clients["auditor"]
    for kind in KINDS:
        made = ok(api.get(f"/reports/{kind}"))
        render.validate(made)
        assert made["kind"] == kind and made["sections"]
        key = bytes.fromhex(made["public_key"])
        for proof in made["proofs"].values():
            verify_inclusion(proof_from_dict(proof), key)
    assert [e for e in _entries(clients["auditor"], 10) if e["action"] == "govern.report"]
    _refused(clients["analyst"].get("/reports/risk"))
    _invalid(api.get("/reports/sox"), "kind")


# -- access administration ------------------------------------------------------------------
def test_analyst_is_refused_audit_and_user_admin(clients: dict[str, TestClient]) -> None:
    analyst, owner = clients["analyst"], clients["owner"]
    _refused(analyst.post("/audit/verify"))
    _refused(analyst.get("/audit/entries"))
    _refused(analyst.post("/access/users", json={"name": "u-intruder", "password": PASSWORD}))
    _refused(analyst.post("/access/roles/assign", json={"user": "u-analyst", "role": "owner"}))

    assert "u-intruder" not in {u["name"] for u in ok(owner.get("/access/users"))}
    assert {"user": "u-analyst", "role": "owner", "dataset": "*"} not in ok(
        owner.get("/access/roles"))
    denied = [e for e in _entries(clients["auditor"])
              if e["action"] == "access.denied" and e["actor"] == "u-analyst"]
    assert {e["params"]["operation"] for e in denied} >= {"audit", "policy_admin"}


def test_owner_adds_a_user_and_issues_and_revokes_a_token(
        clients: dict[str, TestClient]) -> None:
    owner = clients["owner"]
    enrolled = ok(owner.post("/access/users", json={"name": "u-new", "password": PASSWORD}),
                   201)
    assert enrolled["uri"].startswith("otpauth://") and enrolled["secret"]
    assert len(enrolled["recovery_codes"]) >= 5
    ok(owner.post("/access/roles/assign", json={"user": "u-new", "role": "auditor"}), 201)
    decided = ok(owner.post("/access/policy/check",
                             json={"subject": "u-new", "operation": "audit"}))
    assert decided["allowed"] is True and decided["rule"]["subject"] == "auditor"
    assert ok(owner.post("/access/policy/check",
                          json={"subject": "u-new", "operation": "dsar"}))["allowed"] is False
    locked = ok(owner.post("/access/users/u-new/lock", json={"hours": 1}))
    assert locked["locked_until"] is not None
    assert ok(owner.post("/access/users/u-new/unlock"))["locked_until"] is None

    service = ok(owner.post("/access/service-accounts", json={"name": "svc-report"}), 201)
    assert service["kind"] == "service"
    issued = ok(owner.post("/access/tokens", json={
        "principal": "svc-report", "roles": ["auditor"], "datasets": ["patients"], "days": 1}),
        201)
    token, token_id = issued["token"], issued["info"]["token_id"]
    listed = owner.get("/access/tokens", params={"principal": "svc-report"})
    assert [t["token_id"] for t in ok(listed)] == [token_id]
    assert token not in listed.text

    bearer = {"authorization": f"Bearer {token}"}
    assert owner.get("/purposes", headers=bearer).status_code == 200
    revoked = ok(owner.delete(f"/access/tokens/{token_id}"))
    assert revoked["revoked"] is not None
    assert owner.get("/purposes", headers=bearer).status_code == 401

    actions = {(e["action"], e["resource"]) for e in _entries(owner)}
    assert {("access.user.add", "u-new"), ("access.token.issue", "svc-report"),
            ("access.token.revoke", "svc-report")} <= actions

    _invalid(owner.post("/access/users", json={"name": "u-x"}), "password")
    _invalid(owner.post("/access/tokens", json={"principal": "svc-report", "roles": [],
                                                "datasets": ["patients"]}), "roles")
    _invalid(owner.post("/access/users", json={"name": "u-y", "password": PASSWORD,
                                               "admin": True}), "admin")


# -- governance -----------------------------------------------------------------------------
def test_dpo_records_and_withdraws_consent(clients: dict[str, TestClient], world: World,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dpo, subject = clients["dpo"], _subject(world, 10)
    statement = {"subject": subject, "purpose": EVERYTHING, "source": "portal",
                 "notice": "v1"}
    given = ok(dpo.post("/consent/give", json=statement))
    assert given["events"] == 1 and given["subjects"] == 1
    assert given["purposes"] == {EVERYTHING: 1} and given["unknown"] == {EVERYTHING: 0}
    ok(dpo.post("/consent/withdraw", json=statement))
    events = ok(dpo.post("/consent/history", json={"subject": subject}))
    assert [e["state"] for e in events] == ["given", "withdrawn"]

    _refused(clients["analyst"].post("/consent/give", json=statement))
    assert len(ok(dpo.post("/consent/history", json={"subject": subject}))) == 2
    recorded = [e for e in _entries(dpo) if e["action"] == "govern.consent.record"]
    assert len(recorded) == 2 and {e["actor"] for e in recorded} == {"u-dpo"}

    _invalid(dpo.post("/consent/give", json={k: v for k, v in statement.items()
                                             if k != "source"}), "source")
    naive = statement | {"state": "given", "at": "2025-01-01T10:00:00"}
    _invalid(dpo.post("/consent/events", json={"events": [naive]}), "at")
    _invalid(dpo.post("/consent/events", json={"events": []}), "events")

    others = [_subject(world, 11), _subject(world, 12)]
    table = "subject,purpose,state,at,source,notice\n" + "".join(
        f"{s},{EVERYTHING},given,2025-01-01T00:00:00+00:00,import,v1\n" for s in others)
    imported = ok(dpo.post("/consent/import", files={"file": ("c.csv", table, "text/csv")}))
    assert (imported["events"], imported["subjects"]) == (2, 2)
    assert _entries(dpo, 5)[0]["params"]["file"] == "upload.csv"  # never the client's name
    _invalid(dpo.post("/consent/import", files={"file": ("c.txt", table, "text/plain")}),
             ".csv")
    _not_logged(caplog, subject, "/consent/give")
    assert not [r for r in caplog.records if any(o in r.getMessage() for o in others)]


def test_dpo_erases_a_subject_and_the_receipt_proves_it(
        clients: dict[str, TestClient], world: World,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dpo, subject = clients["dpo"], _subject(world, 20)
    _refused(clients["analyst"].post("/dsar/erase", json={"subject": subject}))
    assert ok(clients["analyst"].get("/jobs")) == []

    held = ok(dpo.post("/dsar/access", json={"subject": subject}))
    rows = held["datasets"]["patients"]
    assert {r["patient_id"] for v in rows.values() for r in v} == {subject}

    queued = ok(dpo.post("/dsar/erase", json={"subject": subject}), 202)
    assert queued["kind"] == "dsar.erase"
    job = finished(dpo, queued)
    assert job["state"] == "done", job
    request_id = job["result"]["request_id"]
    assert job["result"]["held"] is True
    assert subject not in dpo.get(f"/jobs/{job['id']}").text

    status = ok(dpo.get(f"/dsar/{request_id}"))
    assert status["kind"] == "erase" and status["state"] == "done"
    assert {f["effect"] for f in status["flags"]} >= {"dp-bounded"}  # the trained model
    receipt = ok(dpo.get(f"/dsar/{request_id}/receipt"))
    assert receipt["held"] is True and receipt["datasets"]
    proof = proof_from_dict(receipt["proof"])
    verify_inclusion(proof, bytes.fromhex(ok(dpo.get("/audit/head"))["public_key"]))
    assert (proof.entry.action, proof.entry.resource) == ("govern.dsar.erase", request_id)

    assert ok(dpo.post("/dsar/access", json={"subject": subject}))["datasets"] == {}
    assert subject not in dpo.get("/audit/entries", params={"limit": 500}).text
    _invalid(dpo.get("/dsar/not-a-request"), "request_id")
    _invalid(dpo.post("/dsar/erase", json={"subject": ""}), "subject")
    _not_logged(caplog, subject, "/dsar/erase")


def test_dpo_rectifies_a_subject(clients: dict[str, TestClient], world: World) -> None:
    dpo, subject = clients["dpo"], _subject(world, 30)
    made = ok(dpo.post("/dsar/rectify", json={"subject": subject, "dataset": "patients",
                                               "changes": {"city": "Springfield"}}))
    assert made["rows"] == 1 and made["columns"] == ["city"]
    assert made["version"].startswith("patients@")
    assert ok(dpo.get(f"/dsar/{made['request_id']}"))["kind"] == "rectify"
    _invalid(dpo.post("/dsar/rectify", json={"subject": subject, "dataset": "patients",
                                             "changes": {}}), "changes")


def test_purposes_retention_and_lineage(clients: dict[str, TestClient]) -> None:
    dpo, analyst = clients["dpo"], clients["analyst"]
    assert EVERYTHING in {p["name"] for p in ok(analyst.get("/purposes"))}
    study = {"name": "study", "description": "a readmission study",
             "basis": "legitimate_interests", "datasets": {"patients": ["sex", "bmi"]},
             "operations": ["dp_query"]}
    _invalid(dpo.post("/purposes", json=study | {"basis": "because"}), "basis")
    _invalid(dpo.post("/purposes", json=study), "special")  # bmi is sensitive: Art. 9 rules
    study["datasets"] = {"patients": ["sex"]}
    _refused(analyst.post("/purposes", json=study))
    made = ok(dpo.post("/purposes", json=study), 201)
    assert made["operations"] == ["dp_query"] and made["ends"] is None
    ended = ok(dpo.post("/purposes/study/end", json={"on": "2020-01-01"}))
    assert ended["ends"].startswith("2020-01-01")

    policy = {"keep_versions_days": 3650}
    _refused(analyst.put("/retention/patients", json=policy))
    _invalid(dpo.put("/retention/patients", json={"keep_versions_days": -1}),
             "keep_versions_days")
    assert ok(dpo.put("/retention/patients", json=policy))["policy"]["keep_versions_days"] == 3650
    assert {"dataset": "patients", "policy": policy | {
        "date_column": None, "keep_rows_days": None, "until_purpose": None}} in ok(
        dpo.get("/retention"))
    plan = ok(dpo.post("/retention/enforce", json={"dry_run": True}))
    assert plan["dry_run"] is True and plan["datasets"] == []
    job = finished(dpo, ok(dpo.post("/retention/enforce", json={}), 202))
    assert job["state"] == "done" and job["result"]["dry_run"] is False
    assert ok(dpo.delete("/retention/patients"), 204) is None
    assert ok(dpo.get("/retention")) == []

    found = ok(clients["auditor"].get("/lineage/patients"))
    derived = {(a["kind"], a["name"]) for a in found["derived"]}
    assert {("model", "patients.readmitted_30d"),
            ("release", "patients.pseudonymized")} <= derived
    _refused(analyst.get("/lineage/patients"))
