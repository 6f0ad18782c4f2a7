"""DP synthetic releases inside a workspace: the budget they spend is what OpenDP's maps say the
synthesizer used, the release keeps to the public domain and carries its guarantee, lineage and
card, the evaluation runs on the same split, and every bad request is refused before the budget
is touched."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conftest import snapshot
from veil.access.scope import Scope
from veil.attacks.audit import audit_synth
from veil.demo.data import generate_patients
from veil.dp.mechanisms import opendp
from veil.errors import AccessError, InputError, InvalidNameError, PrivacyBudgetError
from veil.keys import MasterKey
from veil.synth.discretize import Binned, Categorical
from veil.synth.measure import rho_for
from veil.synth.service import split
from veil.workspace import Workspace

COLUMNS = ["sex", "clinic_id", "glucose_mg_dl", "systolic_bp", "readmitted_30d"]
BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "systolic_bp": (60, 250)}


def _epsilon_of(rho: float, delta: float) -> float:
    """OpenDP's (epsilon, delta) for a rho-zCDP release (the conversion veil spends by)."""
    dp = opendp()
    scale = 1.0 / math.sqrt(2 * rho)  # a unit-sensitivity Gaussian spends 1 / (2 scale^2)
    gaussian = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False),
                                  dp.absolute_distance(T=float), scale=scale)
    return float(dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), delta).map(1.0)[0])


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return generate_patients(1_500, seed=5)


@pytest.fixture
def synth_ws(tmp_path: Path, patients: pl.DataFrame) -> Workspace:
    ws = Workspace.create(tmp_path / "ws", master_key=MasterKey(os.urandom(32)))
    ws.ingest(patients, "patients", subject_id="patient_id")
    ws.dp_settings("patients", bounds=BOUNDS, public_keys={
        "sex": ["F", "M"], "clinic_id": ["C01", "C02", "C03"], "readmitted_30d": [0, 1]})
    ws.set_budget("patients", epsilon=3.0, delta=1e-5)
    yield ws
    ws.close()


@pytest.mark.parametrize("method", ["aim", "mst"])
def test_the_budget_debited_is_what_the_mechanisms_spent(synth_ws: Workspace,
                                                         method: str) -> None:
    shares: list[float] = []
    made = synth_ws.synthesize("patients", epsilon=1.0, delta=1e-7, method=method,
                               columns=COLUMNS, rows=800, progress=shares.append)
    left = synth_ws.budget("patients")
    assert left.left.epsilon == pytest.approx(2.0) and left.left.delta == pytest.approx(1e-5 - 1e-7)
    privacy = made.record.provenance["privacy"]
    assert privacy["rho"] == rho_for(1.0, 1e-7)
    # The spends OpenDP's maps recorded, converted the way veil converts, give back at most the
    # epsilon debited; AIM spends its whole share, so exactly it.
    spent = _epsilon_of(privacy["rho_spent"], 1e-7)
    assert spent <= 1.0 + 1e-9
    if method == "aim":
        assert privacy["rho_spent"] == pytest.approx(privacy["rho"], rel=1e-9)
        assert spent == pytest.approx(1.0, abs=1e-6)
    assert shares and shares == sorted(shares) and shares[-1] == pytest.approx(1.0)
    entry = next(e for e in synth_ws.ledger.entries() if e.action == "synth.spend")
    assert entry.parameters["spent"]["epsilon"] == 1.0 and entry.parameters["method"] == method


def test_a_zcdp_budget_is_debited_the_equivalent_rho(synth_ws: Workspace) -> None:
    synth_ws.set_budget("patients", rho=0.5)
    synth_ws.synthesize("patients", epsilon=1.0, delta=1e-7, method="mst", columns=COLUMNS)
    left = synth_ws.budget("patients")
    assert left.left.rho == pytest.approx(0.5 - rho_for(1.0, 1e-7), rel=1e-12)


def test_the_release_keeps_to_the_public_domain_with_guarantee_lineage_and_card(
        synth_ws: Workspace, patients: pl.DataFrame) -> None:
    made = synth_ws.synthesize("patients", epsilon=2.0, delta=1e-6, method="mst",
                               columns=COLUMNS, rows=700, bins=8)
    record = made.record
    assert record.ref == "patients.synthetic@1" and record.rows == 700
    table = synth_ws.read("patients.synthetic")
    assert table.columns == COLUMNS and "patient_id" not in table.columns
    assert set(table["sex"]) <= {"F", "M"} and set(table["clinic_id"]) <= {"C01", "C02", "C03"}
    assert set(table["readmitted_30d"]) <= {0, 1}
    assert table["systolic_bp"].dtype == pl.Int64  # whole numbers stay whole
    for column, (low, high) in BOUNDS.items():
        assert table[column].min() >= low and table[column].max() <= high
    # numbers are drawn within their bins, not stamped at a midpoint
    assert table["glucose_mg_dl"].n_unique() > 100
    provenance = record.provenance
    assert provenance["source"] == "synthesize" and provenance["from"] == "patients@1"
    assert provenance["fitted_rows"] + provenance["held_out_rows"] == patients.height
    assert provenance["held_out_rows"] == pytest.approx(0.2 * patients.height, abs=60)
    assert "(2, 1e-06)-differential privacy per person" in provenance["card_markdown"]
    graph = synth_ws.lineage("patients.synthetic")
    node = next(a for a in graph.artifacts if a.name == "patients.synthetic")
    assert node.privacy == {"epsilon": 2.0, "delta": 1e-6, "rho": rho_for(2.0, 1e-6)}
    assert [s.ref for s in node.sources] == ["patients@1"]
    logged = [e for e in synth_ws.ledger.entries() if e.action == "dataset.synthesize"]
    assert len(logged) == 1 and logged[0].resource == "patients.synthetic@1"


def test_one_row_per_person_and_a_split_that_the_seed_reproduces(
        patients: pl.DataFrame) -> None:
    twice = pl.concat([patients, patients.with_columns(pl.lit("F").alias("sex"))])
    domain = {"sex": Categorical(("F", "M")), "glucose_mg_dl": Binned.uniform(40, 450, 8)}
    everyone = Scope("owner", "test", None)
    first, _ = split(twice, everyone, "patient_id", domain, holdout=0.3, seed=7)
    again, _ = split(twice, everyone, "patient_id", domain, holdout=0.3, seed=7)
    assert first.train.rows + first.holdout.rows == patients.height  # one row per person
    assert first.holdout.rows == pytest.approx(0.3 * patients.height, abs=80)
    for a in domain:
        assert np.array_equal(first.train.columns[a], again.train.columns[a])
        assert np.array_equal(first.holdout.columns[a], again.holdout.columns[a])
    other, _ = split(twice, everyone, "patient_id", domain, holdout=0.3, seed=8)
    assert not np.array_equal(first.train.columns["glucose_mg_dl"][:50],
                              other.train.columns["glucose_mg_dl"][:50])


def test_evaluation_recomputes_the_split_and_is_logged(synth_ws: Workspace) -> None:
    synth_ws.synthesize("patients", epsilon=2.0, delta=1e-6, method="mst", columns=COLUMNS)
    found = synth_ws.evaluate_synthetic("patients.synthetic", target="readmitted_30d")
    record = synth_ws.version("patients.synthetic")
    # by default as many rows as the model's noisy count of people, not the true count
    assert abs(record.rows - record.provenance["fitted_rows"]) < 100
    summary = found.summary()
    assert summary and all(isinstance(v, int | float | str) for v in summary.values())
    data = found.to_dict()
    assert data  # JSON-ready
    entry = [e for e in synth_ws.ledger.entries() if e.action == "synth.evaluate"][-1]
    assert entry.resource == record.ref and entry.parameters["source"] == "patients@1"
    with pytest.raises(InputError, match="not a synthetic release"):
        synth_ws.evaluate_synthetic("patients")


@pytest.mark.parametrize(("change", "error", "message"), [
    ({"epsilon": 0.0}, InputError, "epsilon must be > 0"),
    ({"epsilon": float("nan")}, InputError, "epsilon must be a finite number"),
    ({"delta": 0.0}, InputError, "delta must be in"),
    ({"method": "gan"}, InputError, "method must be one of"),
    ({"rows": 0}, InputError, "rows must be a whole number"),
    ({"holdout": 1.0}, InputError, "holdout"),
    ({"bins": 1}, InputError, "bins must be"),
    ({"columns": ["sex", "city"]}, InputError, "'city' has no public domain"),
    ({"columns": ["sex"]}, InputError, "at least two columns"),
    ({"columns": ["sex", "patient_id"]}, InputError, "identifies people"),
    ({"columns": ["sex", "nope"]}, InputError, "nope"),
    ({"output": "patients"}, InvalidNameError, "needs another name"),
    ({"epsilon": 5.0}, PrivacyBudgetError, "epsilon"),
])
def test_bad_requests_are_refused_before_the_budget_is_touched(
        synth_ws: Workspace, change: dict, error: type[Exception], message: str) -> None:
    before = snapshot(synth_ws), synth_ws.budget("patients").left
    request = {"epsilon": 1.0, "delta": 1e-7, "method": "mst", "columns": COLUMNS} | change
    with pytest.raises(error, match=message):
        synth_ws.synthesize("patients", **request)
    assert (snapshot(synth_ws), synth_ws.budget("patients").left) == before


def test_the_right_to_synthesize_is_its_own(synth_ws: Workspace, person) -> None:
    from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition

    synth_ws.purposes.add(Purpose("sharing", "synthetic data for the test team",
                                  LawfulBasis.LEGITIMATE_INTERESTS, {"patients": ("*",)},
                                  frozenset({"dp_synth", "dp_query"}), consent_required=False,
                                  retention_days=None, special=SpecialCondition.HEALTH_CARE))
    analyst, _ = person(synth_ws, "ann", "analyst", purpose="sharing")
    with pytest.raises(AccessError, match="dp_synth"):
        analyst.synthesize("patients", epsilon=1.0, delta=1e-7, method="mst", columns=COLUMNS)
    engineer, _ = person(synth_ws, "eve", "ml_engineer", purpose="sharing")
    made = engineer.synthesize("patients", epsilon=1.0, delta=1e-7, method="mst",
                               columns=COLUMNS, rows=100)
    assert made.record.provenance["actor"] == "eve"


def test_an_audit_of_one_measurement_step_stays_within_its_claim() -> None:
    """rho = 0.2 (noise scale 1.58): with 20,000 releases per world the lower bound came out
    between 0.60 and 1.95 against a claim of 2.81 in 30 runs; at rho = 0.05 it was 0 in 1 run
    of 20 (too little signal for a positive bound, which this test also asserts)."""
    result = audit_synth(0.2, delta=1e-5, samples=20_000)
    assert result.claimed_epsilon == pytest.approx(_epsilon_of(0.2, 1e-5), rel=1e-6)
    assert result.passed and 0 < result.lower_bound <= result.claimed_epsilon


def test_the_cli_makes_and_evaluates_a_release(tmp_path: Path, patients: pl.DataFrame,
                                               run) -> None:
    from veil.keys import generate_key_file

    key = generate_key_file(tmp_path / "owner.key")
    with Workspace.create(tmp_path / "ws", key_file=key) as ws:
        ws.ingest(patients, "patients", subject_id="patient_id")
        ws.dp_settings("patients", bounds=BOUNDS, public_keys={
            "sex": ["F", "M"], "clinic_id": ["C01", "C02", "C03"], "readmitted_30d": [0, 1]})
        ws.set_budget("patients", epsilon=3.0, delta=1e-5)
    root = ("--workspace", str(tmp_path / "ws"), "--key-file", str(key))
    refused = run(*root, "synth", "patients", "--epsilon", "0", check=False)
    assert refused.returncode == 2 and "epsilon must be > 0" in refused.stderr
    made = run(*root, "synth", "patients", "--epsilon", "1", "--delta", "1e-7", "--method",
               "mst", "--columns", ",".join(COLUMNS), "--rows", "400")
    assert "stored patients.synthetic@1: 400 synthetic rows of patients@1 by MST" in made.stdout
    evaluated = run(*root, "synth", "evaluate", "patients.synthetic", "--target",
                    "readmitted_30d", "--out", str(tmp_path / "eval.html"))
    assert "report ->" in evaluated.stdout
    page = (tmp_path / "eval.html").read_text()
    assert "<svg" in page and "<script" not in page
    as_json = run(*root, "synth", "make", "patients", "--epsilon", "0.5", "--delta", "1e-7",
                  "--method", "mst", "--columns", "sex,readmitted_30d", "--output", "small",
                  "--json")
    assert json.loads(as_json.stdout)["release"] == "small@1"
