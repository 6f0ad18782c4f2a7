"""The service's compute routes: DP queries and budgets, DP-SGD training as jobs, model cards and
scoring, federated runs, HE scoring, Paillier sums, MPC joint statistics and ZK verification:
what each role may do, what is spent and recorded, and that bad input is a 422 naming it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service import World, apps, build_world, finished, ok
from veil import Workspace
from veil.keys import generate_key_file

MODEL = "patients.readmitted_30d"  # trained by build_world
QUERY = "SELECT sex, COUNT(*), AVG(glucose_mg_dl) FROM patients GROUP BY sex"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-compute"), rows=300)


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    with apps(world, "owner", "steward", "analyst", "ml_engineer") as found:
        yield found


def _refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "access.denied"


def _invalid(response: Any, *words: str) -> None:
    assert response.status_code == 422, response.text
    assert all(word in response.json()["detail"] for word in words), response.text


def _entries(world: World, action: str) -> list[Any]:
    with Workspace.open(world.path, master_key=world.master) as ws:
        return [e for e in ws.ledger.entries() if e.action == action]


def _left(api: TestClient, principal: str | None = None) -> dict[str, Any]:
    params = {"principal": principal} if principal else {}
    return ok(api.get("/dp/budgets/patients", params=params))


# -- DP queries and budgets -------------------------------------------------------------------
def test_query_releases_intervals_and_spends_what_it_says(clients, world) -> None:
    analyst = clients["analyst"]
    before = _left(analyst)
    answer = ok(analyst.post("/dp/query", json={"sql": QUERY, "epsilon": 1.0}))
    assert not answer["cached"] and answer["spent"] == {"epsilon": 1.0, "delta": 0.0, "rho": 0.0}
    assert {(r["sex"], r["statistic"]) for r in answer["rows"]} == {
        (s, stat) for s in ("F", "M") for stat in ("count", "mean_glucose_mg_dl")}
    for row in answer["rows"]:
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
    after = _left(analyst)
    assert after == answer["remaining"]
    assert after["spent"]["epsilon"] == pytest.approx(before["spent"]["epsilon"] + 1.0)
    assert after["left"]["epsilon"] == pytest.approx(before["left"]["epsilon"] - 1.0)
    assert after["queries"] == before["queries"] + 1
    [entry] = [e for e in _entries(world, "dp.query") if e.actor == "u-analyst"]
    assert entry.parameters["spent"]["epsilon"] == 1.0

    again = ok(analyst.post("/dp/query", json={"sql": QUERY, "epsilon": 1.0}))
    assert again["cached"] and again["rows"] == answer["rows"]
    assert _left(analyst)["spent"] == after["spent"]  # an identical request costs nothing


@pytest.mark.parametrize(("body", "words"), [
    ({"sql": QUERY, "epsilon": 0}, ("epsilon", "> 0")),
    ({"sql": QUERY, "epsilon": -1.0}, ("epsilon",)),
    ({"sql": "SELECT glucose_mg_dl FROM patients", "epsilon": 1.0}, ("not an aggregate",)),
    ({"sql": "SELECT COUNT(*) FROM patients", "epsilon": 1.0, "limit": 3}, ("limit",)),
    ({"sql": "x" * 10_001, "epsilon": 1.0}, ("sql",)),
])
def test_bad_queries_are_422_naming_the_problem_and_spend_nothing(clients, body, words) -> None:
    analyst = clients["analyst"]
    before = _left(analyst)
    _invalid(analyst.post("/dp/query", json=body), *words)
    assert _left(analyst) == before


def test_a_spent_budget_answers_409_and_is_never_overspent(clients) -> None:
    steward, owner = clients["steward"], clients["owner"]
    ok(steward.put("/dp/budgets/patients", json={"epsilon": 1.0, "principal": "u-owner"}))
    assert _left(owner, "u-owner")["left"]["epsilon"] == 1.0

    def ask(i: int) -> int:  # distinct requests (alpha differs), each 0.3
        return owner.post("/dp/query", json={"sql": "SELECT COUNT(*) FROM patients",
                                             "epsilon": 0.3, "alpha": 0.05 + i / 100}
                          ).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(ask, range(5)))
    assert statuses == [200, 200, 200, 409, 409]
    mine = _left(owner, "u-owner")
    assert mine["spent"]["epsilon"] == pytest.approx(0.9) and mine["queries"] == 3
    refused = owner.post("/dp/query", json={"sql": "SELECT COUNT(*) FROM patients",
                                            "epsilon": 0.3, "alpha": 0.2})
    assert refused.status_code == 409 and refused.json()["type"] == "privacy.budget"
    assert _left(owner, "u-owner")["spent"] == mine["spent"]
    ok(steward.put("/dp/budgets/patients", json={"epsilon": 100.0, "principal": "u-owner"}))
    ok(owner.post("/dp/query", json={"sql": "SELECT COUNT(*) FROM patients", "epsilon": 0.3,
                                      "alpha": 0.2}))  # a raised budget pays again


def test_analyst_queries_but_may_not_set_budgets_or_settings(clients, world) -> None:
    analyst = clients["analyst"]
    before = _left(analyst)
    denied = len(_entries(world, "access.denied"))
    _refused(analyst.put("/dp/budgets/patients", json={"epsilon": 1e6, "delta": 0.5}))
    _refused(analyst.put("/dp/settings/patients", json={"max_rows_per_person": 5}))
    _refused(analyst.post("/dp/bounds", json={"dataset": "patients", "column": "bmi",
                                             "within": [0, 100], "epsilon": 0.5}))
    assert _left(analyst) == before
    assert len(_entries(world, "access.denied")) == denied + 3
    assert ok(analyst.get("/dp/settings/patients"))["max_rows_per_person"] == 1


def test_steward_declares_settings_and_owner_estimates_bounds(clients) -> None:
    steward, owner = clients["steward"], clients["owner"]
    current = ok(steward.get("/dp/settings/patients"))
    assert current["bounds"]["bmi"] == [10.0, 60.0] and current["public_keys"]["sex"] == ["F",
                                                                                          "M"]
    merged = ok(steward.put("/dp/settings/patients", json={
        "bounds": {"systolic_bp": [60, 220]}, "public_keys": {"clinic_id": ["C1", "C2"]}}))
    assert merged["bounds"]["systolic_bp"] == [60.0, 220.0] and merged["bounds"]["bmi"] == [
        10.0, 60.0]
    _invalid(steward.put("/dp/settings/patients", json={"bounds": {"nope": [0, 1]}}), "nope")
    _invalid(steward.put("/dp/settings/patients", json={}), "bounds")
    estimate = {"dataset": "patients", "column": "cholesterol_mg_dl", "within": [0, 1000],
                "epsilon": 1.0}
    _refused(steward.post("/dp/bounds", json=estimate))  # a DP query too: not the steward's
    found = ok(owner.post("/dp/bounds", json=estimate))
    assert 0 <= found["lower"] < found["upper"] <= 1000
    assert ok(steward.get("/dp/settings/patients"))["bounds"]["cholesterol_mg_dl"] == [
        found["lower"], found["upper"]]


# -- models -----------------------------------------------------------------------------------
def test_model_cards_describe_without_weights(clients) -> None:
    analyst = clients["analyst"]
    cards = ok(analyst.get("/models"))
    assert MODEL in {c["name"] for c in cards}
    card = ok(analyst.get(f"/models/{MODEL}"))
    assert card["version"] == 1 and card["dataset"] == "patients"
    assert card["privacy"]["epsilon"] > 0 and card["encoding"]["order"] == ["glucose_mg_dl",
                                                                            "sex"]
    assert MODEL in card["card_markdown"] and "state_dict" not in json.dumps(card)
    assert analyst.get("/models/no.such.model").status_code == 404
    assert analyst.get(f"/models/{MODEL}", params={"version": 9}).status_code == 404


def test_training_runs_as_a_job_and_registers_the_model(clients, world) -> None:
    engineer = clients["ml_engineer"]
    before = _left(engineer)
    job = ok(engineer.post("/models/train", json={
        "dataset": "patients", "target": "readmitted_30d", "features": ["bmi", "sex"],
        "epsilon": 2.0, "model": "logreg", "name": "api.readmission", "epochs": 1,
        "batch_size": 64, "seed": 1}), 202)
    assert job["kind"] == "model.train" and job["principal"] == "u-ml_engineer"
    done = finished(engineer, job)
    assert done["state"] == "done", done["error"]
    assert done["result"]["name"] == "api.readmission" and done["result"]["version"] == 1
    card = ok(engineer.get("/models/api.readmission"))
    assert card["actor"] == "u-ml_engineer" and card["training"]["features"] == ["bmi", "sex"]
    assert _left(engineer)["spent"]["epsilon"] == pytest.approx(
        before["spent"]["epsilon"] + 2.0)
    assert [e.resource for e in _entries(world, "model.register") if e.actor == "u-ml_engineer"
            ] == ["api.readmission@1"]

    again = finished(engineer, ok(engineer.post("/models/api.readmission/retrain"), 202))
    assert again["state"] == "done", again["error"]
    assert again["result"]["version"] == 2 and again["result"]["training"]["epochs"] == 1


def test_a_refused_or_mistyped_training_is_answered_at_once_without_a_job(clients) -> None:
    analyst, engineer = clients["analyst"], clients["ml_engineer"]
    body = {"dataset": "patients", "target": "readmitted_30d", "features": ["bmi"],
            "epsilon": 1.0, "model": "logreg", "epochs": 1}
    _refused(analyst.post("/models/train", json=body))
    _refused(analyst.post(f"/models/{MODEL}/retrain"))
    assert ok(analyst.get("/jobs")) == []
    jobs = len(ok(engineer.get("/jobs")))
    _invalid(engineer.post("/models/train", json=body | {"features": ["bmi", "shoe_size"]}),
             "shoe_size")
    _invalid(engineer.post("/models/train", json=body | {"epsilon": 0}), "epsilon")
    assert engineer.post("/models/no.such.model/retrain").status_code == 404
    assert len(ok(engineer.get("/jobs"))) == jobs


def test_a_synthetic_release_is_made_and_evaluated_as_jobs(clients, world) -> None:
    engineer, analyst = clients["ml_engineer"], clients["analyst"]
    body = {"dataset": "patients", "epsilon": 1.0, "delta": 1e-6, "method": "mst",
            "columns": ["sex", "glucose_mg_dl", "readmitted_30d"], "rows": 120,
            "output": "api.synthetic"}
    _refused(analyst.post("/releases/synthesize", json=body))
    _invalid(engineer.post("/releases/synthesize", json=body | {"columns": ["sex", "shoe"]}),
             "shoe")
    before = _left(engineer)
    done = finished(engineer, ok(engineer.post("/releases/synthesize", json=body), 202))
    assert done["state"] == "done", done["error"]
    made = done["result"]
    assert made["release"]["dataset"] == "api.synthetic" and made["release"]["rows"] == 120
    assert made["privacy"]["epsilon"] == 1.0 and made["privacy"]["method"] == "mst"
    assert _left(engineer)["spent"]["epsilon"] == pytest.approx(before["spent"]["epsilon"] + 1)
    _invalid(engineer.post("/releases/evaluate-synthetic", json={"release": "patients"}),
             "not a synthetic release")
    scored = finished(engineer, ok(engineer.post("/releases/evaluate-synthetic", json={
        "release": "api.synthetic", "target": "readmitted_30d"}), 202))
    assert scored["state"] == "done", scored["error"]
    assert scored["result"]["tstr"]["target"] == "readmitted_30d"
    assert 0 <= scored["result"]["summary"]["membership_auc"] <= 1


def test_predict_scores_rows_for_a_model_user(clients, world) -> None:
    rows = world.frame.select("glucose_mg_dl", "sex").head(5).to_dicts()
    scored = ok(clients["ml_engineer"].post(f"/models/{MODEL}/predict", json={"rows": rows}))
    assert scored["model"] == MODEL and scored["classes"] == [0, 1]
    assert len(scored["probabilities"]) == 5 and all(
        sum(p) == pytest.approx(1.0) for p in scored["probabilities"])
    assert scored["predictions"] == [int(max(range(2), key=p.__getitem__))
                                     for p in scored["probabilities"]]
    _refused(clients["analyst"].post(f"/models/{MODEL}/predict", json={"rows": rows}))
    _invalid(clients["ml_engineer"].post(f"/models/{MODEL}/predict",
                                         json={"rows": [{"sex": "F"}]}), "glucose_mg_dl")
    _invalid(clients["ml_engineer"].post(f"/models/{MODEL}/predict",
                                         json={"rows": [{"sex": "F"}] * 1001}), "rows")


# -- federated runs ---------------------------------------------------------------------------
def _definition(sites: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "api-fed", "target": "readmitted_30d", "features": ["bmi", "sex"],
            "rounds": 1, "min_rows": 50, "seed": 3,
            "public": {"bounds": {"bmi": [10, 70]}, "categories": {"sex": ["F", "M"]}},
            "secure_aggregation": {"enabled": False}, "sites": sites} | extra


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, make_sites) -> list[dict[str, Any]]:
    return [{"name": s.name, "workspace": s.workspace, "dataset": s.dataset,
             "key_file": s.key_file}
            for s in make_sites(tmp_path_factory.mktemp("api-sites"), 3, rows=600)]


def test_federation_refuses_bad_sites_and_callers_before_queueing(clients, world, sites,
                                                                 tmp_path) -> None:
    engineer = clients["ml_engineer"]
    jobs = len(ok(engineer.get("/jobs")))
    _refused(clients["analyst"].post("/federated/runs", json={"definition": _definition(sites)}))
    key = sites[0]["key_file"]
    for workspace in (str(tmp_path), str(world.path), "relative/site", "/no/such/dir"):
        bad = [*sites[1:], {"name": "x", "workspace": workspace, "dataset": "patients",
                            "key_file": key}]
        _invalid(engineer.post("/federated/runs", json={"definition": _definition(bad)}),
                 "site 'x'", "workspace")
    keyless = [*sites[1:], {k: v for k, v in sites[0].items() if k != "key_file"}]
    _invalid(engineer.post("/federated/runs", json={"definition": _definition(keyless)}),
             f"site {sites[0]['name']!r}", "key_file")
    _invalid(engineer.post("/federated/runs", json={"definition": _definition(sites[:1])}),
             "two sites")
    hopeless = engineer.post("/federated/runs", json={"definition": _definition(
        sites, privacy={"mode": "central", "epsilon": 1e-6, "delta": 1e-5})})
    assert hopeless.status_code == 409 and "too small" in hopeless.json()["detail"]
    assert len(ok(engineer.get("/jobs"))) == jobs
    assert ok(engineer.get("/federated/runs")) == []


@pytest.mark.slow
def test_federation_runs_in_simulation_and_registers_its_model(clients, sites) -> None:
    engineer = clients["ml_engineer"]
    job = ok(engineer.post("/federated/runs", json={"definition": _definition(
        sites, privacy={"mode": "central", "epsilon": 2.0, "delta": 1e-5, "sample_rate": 0.5}),
        "name": "api.federated"}), 202)
    done = finished(engineer, job)
    assert done["state"] == "done", done["error"]
    assert done["result"]["model"] == "api.federated" and done["result"]["version"] == 1
    assert [r["round"] for r in done["result"]["rounds"]] == [1]
    assert done["result"]["privacy"]["epsilon"] == 2.0
    assert [j["id"] for j in ok(engineer.get("/federated/runs"))] == [job["id"]]
    card = ok(engineer.get("/models/api.federated"))
    assert card["dataset"] == "federation:api-fed" and "key_file" not in json.dumps(card)


# -- HE, Paillier, MPC, ZK --------------------------------------------------------------------
def test_he_score_matches_the_plaintext_model_and_is_recorded(clients, world) -> None:
    rows = world.frame.select("glucose_mg_dl", "sex").head(4).to_dicts()
    scored = ok(clients["owner"].post("/he/score", json={"model": MODEL, "rows": rows}))
    assert scored["model"] == f"{MODEL}@1" and scored["rows"] == 4
    assert scored["classes"] == ["0", "1"] and scored["max_abs_diff_vs_plaintext"] < 1e-3
    [entry] = _entries(world, "he.evaluate")
    assert entry.actor == "u-owner" and entry.parameters["samples"] == 4
    _refused(clients["ml_engineer"].post("/he/score", json={"model": MODEL, "rows": rows}))
    assert len(_entries(world, "he.evaluate")) == 1
    assert clients["owner"].post("/he/score", json={"model": "nope", "rows": rows}
                                 ).status_code == 404


def test_paillier_sum_adds_this_workspace_to_the_parties(clients, world) -> None:
    from veil.he import paillier

    pair = paillier.generate_keypair(2048)
    public = json.loads(paillier.public_key_to_json(pair.public))
    other = json.loads(paillier.encrypt_vector(pair.public, [100.0, 2.0]).to_json())
    body = {"public_key": public, "dataset": "patients", "column": "glucose_mg_dl",
            "parts": [other]}
    found = ok(clients["owner"].post("/paillier/sum", json=body))
    assert found["parties"] == 2 and found["key_id"] == public["key_id"]
    total = paillier.EncryptedVector.from_json(pair.public, json.dumps(found["total"]))
    summed, rows = paillier.decrypt_vector(pair.private, total)
    assert rows == pytest.approx(world.frame.height + 2)
    assert summed == pytest.approx(world.frame["glucose_mg_dl"].sum() + 100.0, rel=1e-9)
    [entry] = _entries(world, "he.paillier.encrypt")
    assert entry.resource == "patients@1" and entry.parameters["column"] == "glucose_mg_dl"

    foreign = paillier.generate_keypair(2048).public
    stranger = json.loads(paillier.encrypt_vector(foreign, [1.0, 1.0]).to_json())
    reads = len(_entries(world, "dataset.read"))
    _invalid(clients["owner"].post("/paillier/sum", json=body | {"parts": [stranger]}),
             "another Paillier key")
    _refused(clients["steward"].post("/paillier/sum", json=body))
    assert len(_entries(world, "dataset.read")) == reads  # refused before anything was read
    _invalid(clients["owner"].post("/paillier/sum", json=body | {"column": "sex"}), "sex")
    assert len(_entries(world, "he.paillier.encrypt")) == 1


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory, world: World) -> list[dict[str, str]]:
    """Three workspaces, one per clinic of the world's patients, each with its own key."""
    root = tmp_path_factory.mktemp("api-parties")
    made = []
    for (clinic,), part in sorted(world.frame.partition_by("clinic_id", as_dict=True).items()):
        key = generate_key_file(root / f"{clinic}.key")
        with Workspace.create(root / clinic, key_file=key) as ws:
            ws.ingest(part, "patients", subject_id="patient_id", classify=False)
        made.append({"workspace": str(root / clinic), "key_file": str(key),
                     "dataset": "patients", "column": "systolic_bp"})
    return made


def _actions(party: dict[str, str]) -> list[str]:
    with Workspace.open(party["workspace"], key_file=party["key_file"]) as ws:
        return [e.action for e in ws.ledger.entries()]


def test_mpc_stats_over_server_workspaces_are_recorded_everywhere(clients, world,
                                                                  parties) -> None:
    body = {"statistic": "sum", "bounds": [0, 300], "parties": parties}
    found = ok(clients["owner"].post("/mpc/stats", json=body))
    assert found["statistic"] == "sum" and found["parties"] == len(parties)
    assert found["value"] == pytest.approx(world.frame["systolic_bp"].sum(), rel=1e-5)
    assert [r["resource"] for r in found["recorded"]] == ["patients@1"] * len(parties)
    assert all(_actions(p).count("mpc.joint") == 1 for p in parties)
    [entry] = _entries(world, "mpc.joint")
    assert entry.actor == "u-owner" and entry.parameters["value"] == found["value"]


def test_mpc_refuses_bad_parties_before_any_process(clients, world, parties) -> None:
    owner = clients["owner"]
    body = {"statistic": "mean", "bounds": [0, 300], "parties": parties}
    recorded, before = len(_entries(world, "mpc.joint")), [_actions(p) for p in parties]
    for bad in ({"workspace": str(world.path)}, {"workspace": os.path.dirname(world.path)},
                {"key_file": "/no/such.key"}):
        _invalid(owner.post("/mpc/stats", json=body | {
            "parties": [*parties[:2], parties[2] | bad]}), "party 2")
    _invalid(owner.post("/mpc/stats", json=body | {"statistic": "logreg"}), "statistic")
    _invalid(owner.post("/mpc/stats", json=body | {"parties": parties[:1]}), "parties")
    _refused(clients["ml_engineer"].post("/mpc/stats", json=body))
    assert len(_entries(world, "mpc.joint")) == recorded
    assert [_actions(p) for p in parties] == before  # nothing read, nothing recorded


def _age_document(age: int, threshold: int, context: bytes) -> dict[str, Any]:
    from veil.zk import commit, prove_at_least

    commitment, opening = commit(age)
    proof = prove_at_least(opening, threshold, context=context)
    return {"type": "veil.zk.age-proof", "version": 1,
            "commitment": commitment.to_bytes().hex(), "threshold": threshold, "bits": 7,
            "context": context.decode(), "proof": json.loads(proof.to_json())}


def test_zk_verify_answers_a_verdict(clients) -> None:
    from veil.zk import keygen, login_context, schnorr

    api = clients["analyst"]  # verifying touches no data: any session may
    document = _age_document(30, 18, b"shop-42")
    good = {"kind": "age", "document": document, "threshold": 18, "context": "shop-42"}
    assert ok(api.post("/zk/verify", json=good))["valid"]
    for forged in (good | {"threshold": 40}, good | {"context": "another-shop"}):
        verdict = ok(api.post("/zk/verify", json=forged))
        assert verdict == {"valid": False, "statement": "the proof does not verify"}
    _invalid(api.post("/zk/verify", json=good | {"document": document | {"commitment": "zz"}}),
             "commitment")
    _invalid(api.post("/zk/verify", json=good | {"document": document | {"type": "x"}}),
             "veil.zk.age-proof")
    _invalid(api.post("/zk/verify", json=good | {"kind": "palmistry"}), "kind")

    pair, nonce = keygen(), os.urandom(32)
    proof = schnorr.prove(pair.secret, context=login_context("veil-test", nonce)).to_json()
    login = {"kind": "login", "proof": json.loads(proof),
             "public": pair.public.to_bytes().hex(), "audience": "veil-test",
             "nonce": nonce.hex()}
    assert ok(api.post("/zk/verify", json=login))["valid"]
    assert not ok(api.post("/zk/verify", json=login | {"audience": "elsewhere"}))["valid"]
