"""Federated training as a real Flower deployment: SuperLink and SuperNode processes, TLS."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from flwr.app import ConfigRecord

from _cli import HANG
from veil import Workspace
from veil.demo.pipeline import BOUNDS
from veil.errors import FederationError
from veil.federated import Federation, Privacy, SecureAggregation, Site
from veil.federated.apps import Recorder
from veil.federated.deploy import Cluster, deploy, read_result, write_result
from veil.keys import generate_key_file, tls


# -- the result file ---------------------------------------------------------------------------
def test_result_round_trip(tmp_path: Path) -> None:
    rounds = [{"round": np.int64(1), "sites": 3, "excluded": [], "failures": ("x",),
               "loss": np.float32(0.5), "auc": float("nan"),
               "per_site": ConfigRecord({"C01": 0.75, "ids": [1, 2]})}]
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([0.5, -1.0])]
    write_result(str(tmp_path / "result.json"), Recorder(rounds, weights, None, 1.5))
    back = read_result(tmp_path / "result.json")
    assert back.rounds == [{"round": 1, "sites": 3, "excluded": [], "failures": ["x"],
                            "loss": 0.5, "auc": None, "per_site": {"C01": 0.75,
                                                                   "ids": [1, 2]}}]
    assert back.seconds == 1.5 and back.error is None
    assert [w.dtype for w in back.weights] == [np.float32, np.float64]
    for got, want in zip(back.weights, weights, strict=True):
        np.testing.assert_array_equal(got, want)


def test_result_carries_the_error(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_result(str(path), Recorder([], None, FederationError("round 2: too few"), 0.1))
    back = read_result(path)
    assert isinstance(back.error, FederationError) and str(back.error) == "round 2: too few"
    assert back.weights is None
    write_result(str(path), Recorder([], None, ValueError("bad shape"), 0.1))
    assert str(read_result(path).error) == "ValueError: bad shape"
    assert json.loads(path.read_text())["weights"] is None


def test_result_refuses_mismatched_weights(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_result(str(path), Recorder([], [np.zeros(2)], None, 0.1))
    write_result(str(tmp_path / "other.json"), Recorder([], [np.ones(2)], None, 0.1))
    (tmp_path / "other.json.npz").replace(tmp_path / "result.json.npz")
    with pytest.raises(FederationError, match="does not match"):
        read_result(path)


# -- real deployments --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, make_sites) -> list[Site]:
    return make_sites(tmp_path_factory.mktemp("sites"), 3, rows=1_500)


@pytest.mark.slow
def test_deployment_trains_over_tls(sites: list[Site], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where deploy's workdir goes
    federation = Federation(
        name="readmission", sites=sites, target="readmitted_30d", features=[*BOUNDS, "sex"],
        bounds=BOUNDS, categories={"sex": ["F", "M"]}, rounds=2, min_rows=50, seed=1,
        privacy=Privacy("none"), secure_aggregation=SecureAggregation(enabled=False))
    coordinator = Workspace.create(tmp_path / "coord",
                                   key_file=generate_key_file(tmp_path / "coord.key"))

    recorder = deploy(federation, tls_from=coordinator, run_timeout=HANG)

    assert recorder.error is None, recorder.error
    assert [r["round"] for r in recorder.rounds] == [1, 2]
    for entry in recorder.rounds:
        assert entry["sites"] == 3 and not entry["excluded"] and not entry["failures"]
        assert sorted(entry["per_site"]) == [s.name for s in sites]
        assert 0 <= entry["accuracy"] <= 1 and entry["loss"] > 0
    assert [w.shape for w in recorder.weights] == [(2, len(BOUNDS) + 2), (2,)]
    assert recorder.seconds > 0
    issued = coordinator.ledger.tail(1, action="tls.issue")
    assert json.loads(issued[0].params)["hosts"] == ["127.0.0.1", "localhost"]
    coordinator.close()
    for site in sites:
        with Workspace.open(site.workspace, key_file=site.key_file) as ws:
            joined = ws.ledger.tail(5, action="federated.train")
        assert joined and json.loads(joined[-1].params)["site"] == site.name
    assert list(tmp_path.glob("veil-deploy-*")) == []  # state removed, processes stopped


@pytest.mark.slow
def test_supernode_refuses_a_superlink_its_ca_did_not_sign(tmp_path: Path) -> None:
    served = tls.throwaway(tmp_path / "served")
    stranger = tls.throwaway(tmp_path / "stranger")
    with Cluster(tmp_path / "cluster") as cluster:
        cluster.start_superlink(served.ca_cert, served.server_cert, served.server_key)
        node = cluster.start_supernode(0, stranger.ca_cert)
        try:
            code = node.wait(timeout=HANG)  # it gives up by itself; the limit only ends a hang
        except subprocess.TimeoutExpired:
            pytest.fail("the SuperNode kept running with an untrusted SuperLink certificate")
        assert code != 0
        assert "CERTIFICATE_VERIFY_FAILED" in cluster.log("supernode-0").read_text()
        with pytest.raises(FederationError, match="could not verify the SuperLink's TLS"):
            cluster.check()
    assert cluster.processes["superlink"].poll() is not None  # stopped on close
