"""veil.mpc over workspaces: one column per organisation, audited reads, one ledger event each."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil.errors import FederationError, InputError
from veil.keys import generate_key_file
from veil.mpc import sites
from veil.mpc.sites import joint_over_workspaces
from veil.workspace import Workspace

BOUNDS = (0.0, 500.0)
RTOL = 2.0**-20  # documented in veil.mpc.precision: about 2**-(resolution_bits - 2), bits = 24
ROW_KEYS = {"statistic", "value", "column", "parties", "inputs", "bounds", "max_rows",
            "precision", "resolution_bits", "seconds", "model"}


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    from veil.demo.data import generate_patients

    return generate_patients(3000)


@pytest.fixture
def clinics(tmp_path: Path, patients: pl.DataFrame) -> list[tuple[Path, Path, str, str]]:
    """Three workspaces, one per clinic, each with its own key file."""
    parties = []
    for (clinic,), part in sorted(patients.partition_by("clinic_id", as_dict=True).items()):
        key = generate_key_file(tmp_path / f"{clinic}.key")
        with Workspace.create(tmp_path / clinic, key_file=key) as ws:
            ws.ingest(part, "patients", subject_id="patient_id", classify=False)
        parties.append((tmp_path / clinic, key, "patients", "glucose_mg_dl"))
    return parties


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where every temporary file of the run goes, to check it is left empty."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _entries(party: tuple, action: str) -> list:
    with Workspace.open(party[0], key_file=party[1]) as ws:
        return [e for e in ws.ledger.entries() if e.action == action]


def _check_recorded(clinics: list, value: float, purpose: str, patients: pl.DataFrame) -> None:
    for party in clinics:
        [entry] = _entries(party, "mpc.joint")
        params = entry.parameters
        assert entry.resource == "patients@1" and entry.purpose == purpose
        assert set(params) == ROW_KEYS
        assert params["value"] == value and params["parties"] == 3
        assert params["inputs"] == ["patients@1"] * 3 and params["bounds"] == list(BOUNDS)
        # only the result and public settings: every other field has a known public value
        assert params["precision"]["frac_bits"] >= 24 and params["resolution_bits"] == 24
        assert params["max_rows"] == 4096 and params["column"] == "glucose_mg_dl"
        assert isinstance(params["seconds"], float) and params["statistic"] == "mean"
        assert not any(pid in entry.params for pid in patients["patient_id"].head(50))


def test_secure_mean_over_three_workspaces(clinics, patients, private_tmp, monkeypatch) -> None:
    seen: list[tuple[str, int]] = []
    real = sites.joint

    def watch(statistic, paths, **kw):
        for p in (*paths, Path(paths[0]).parent):
            seen.append((str(p), stat.S_IMODE(os.stat(p).st_mode)))
        return real(statistic, paths, **kw)

    monkeypatch.setattr(sites, "joint", watch)
    result = joint_over_workspaces("mean", clinics, bounds=BOUNDS, purpose="glucose study")
    truth = patients["glucose_mg_dl"].mean()
    assert result.value == pytest.approx(truth, rel=RTOL)
    assert result.parties == 3 and result.statistic == "mean"
    assert [r[1] for r in result.records] == ["patients@1"] * 3
    assert [mode for _, mode in seen] == [0o600] * 3 + [0o700]
    assert not any(private_tmp.iterdir())  # the plaintext .npy files are gone
    assert not any(Path(p).exists() for p, _ in seen)
    _check_recorded(clinics, result.value, "glucose study", patients)
    for party in clinics:
        [read] = _entries(party, "dataset.read")
        assert read.purpose == "glucose study" and read.actor == "owner"
        assert read.parameters["columns"] == ["glucose_mg_dl"]


def test_cli_secure_mean_over_workspaces(clinics, patients, run) -> None:
    specs = [f"--party={ws},{ds},{col},{key}" for ws, key, ds, col in clinics]
    done = run("--purpose", "glucose study", "mpc", "joint", "mean",
                *specs, "--bounds", "0", "500", "--tls", "--json", check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["value"] == pytest.approx(patients["glucose_mg_dl"].mean(), rel=RTOL)
    assert answer["parties"] == 3 and answer["precision"]["frac_bits"] >= 24
    assert answer["tls"] is True
    assert [r["seq"] for r in answer["recorded"]] == [
        _entries(p, "mpc.joint")[0].seq for p in clinics]
    _check_recorded(clinics, answer["value"], "glucose study", patients)

    refused = run("mpc", "joint", "mean", *specs[:2], "--party",
                  f"{clinics[2][0]},patients,nope,{clinics[2][1]}", "--bounds", "0", "500",
                  check=False)
    assert refused.returncode == 2 and "no column 'nope'" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, no traceback
    assert all(len(_entries(p, "mpc.joint")) == 1 for p in clinics)


def test_cli_plain_files(tmp_path, run) -> None:
    rng = np.random.default_rng(3)
    parts = [rng.uniform(-5, 5, 40 + i) for i in range(3)]
    for i, part in enumerate(parts):
        np.save(tmp_path / f"p{i}.npy", part)
    done = run("mpc", "joint", "sum", "--input", "p0.npy", "-i", "p1.npy", "-i", "p2.npy",
               "--bounds", "-5", "5", check=False)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("sum = ") and first.endswith("over 3 parties")
    assert float(first.split()[2]) == pytest.approx(np.concatenate(parts).sum(), rel=1e-6)
    assert "precision:" in done.stdout and "TLS" not in done.stdout
    both = run("mpc", "joint", "sum", "-i", "p0.npy", "--party", "a,b,c", "--bounds", "0", "1",
               check=False)
    assert both.returncode == 2 and "not both" in both.stderr


def _no_launch(*args, **kwargs):
    raise AssertionError("no party process may start for refused input")


def test_bad_column_and_nan_refused_before_any_process(clinics, patients, private_tmp,
                                                        monkeypatch) -> None:
    monkeypatch.setattr(sites, "joint", _no_launch)
    sizes = []
    for party in clinics:
        with Workspace.open(party[0], key_file=party[1]) as ws:
            sizes.append(ws.ledger.size)
    unknown = [*clinics[:2], (*clinics[2][:3], "glucose")]
    with pytest.raises(InputError, match="no column 'glucose'"):
        joint_over_workspaces("mean", unknown, bounds=BOUNDS, purpose="t")
    text = [*clinics[:2], (*clinics[2][:3], "diagnosis_code")]
    with pytest.raises(InputError, match=r"needs an int or float column.*String"):
        joint_over_workspaces("mean", text, bounds=BOUNDS, purpose="t")
    for bad in ("argmax", "logreg", "median"):
        with pytest.raises(InputError, match="cannot run over workspace columns"):
            joint_over_workspaces(bad, clinics, bounds=BOUNDS)
    with pytest.raises(InputError, match="at least two"):
        joint_over_workspaces("mean", clinics[:1], bounds=BOUNDS)
    with pytest.raises(InputError, match="bounds"):
        joint_over_workspaces("mean", clinics, bounds=(5.0, 1.0))
    for party, size in zip(clinics, sizes, strict=True):  # nothing decrypted, nothing logged
        with Workspace.open(party[0], key_file=party[1]) as ws:
            assert ws.ledger.size == size

    # a missing value at one clinic: read (and logged), refused locally, nothing recorded
    ws_path, key, _, _ = clinics[1]
    with Workspace.open(ws_path, key_file=key) as ws:
        part = ws.read("patients")
        gap = part.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(None)
                                .otherwise(pl.col("glucose_mg_dl")).alias("glucose_mg_dl"))
        ws.ingest(gap, "patients", subject_id="patient_id", classify=False)
    with pytest.raises(InputError, match=r"party 1 .*NaN"):
        joint_over_workspaces("mean", clinics, bounds=BOUNDS, purpose="t")
    with pytest.raises(InputError, match="outside the declared bounds"):
        joint_over_workspaces("mean", [clinics[0], clinics[2]], bounds=(0.0, 100.0))
    for party in clinics:
        assert _entries(party, "mpc.joint") == []
        assert any(e.resource.startswith("patients@") for e in _entries(party, "dataset.read"))
    assert not any(private_tmp.iterdir())


def test_failed_run_records_nothing_and_removes_files(clinics, private_tmp,
                                                      monkeypatch) -> None:
    written: list[Path] = []

    def fail(statistic, paths, **kw):
        written.extend(Path(p) for p in paths)
        assert all(p.is_file() for p in written)
        raise FederationError("party 2 gave no result within 1 s")

    monkeypatch.setattr(sites, "joint", fail)
    with pytest.raises(FederationError):
        joint_over_workspaces("variance", clinics, bounds=BOUNDS, purpose="t")
    assert len(written) == 3 and not any(p.exists() for p in written)
    assert not any(private_tmp.iterdir())
    for party in clinics:
        assert _entries(party, "mpc.joint") == []
        assert len(_entries(party, "dataset.read")) == 1
