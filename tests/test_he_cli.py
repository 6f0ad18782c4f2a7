"""``veil he``: a client (keys, encrypt, decrypt) and a server workspace (evaluate, audited)
exchanging only files, decrypted probabilities equal to the plaintext model's, and refusals
(another client's batch, a ReLU MLP) as one line with an exit code."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from _cli import veil
from veil import Workspace
from veil.discover.files import read_source
from veil.errors import InputError
from veil.he import Client, fingerprint, service
from veil.keys import generate_key_file

BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "bmi": (10.0, 70.0), "hba1c_pct": (3.0, 15.0),
          "systolic_bp": (60.0, 250.0), "cholesterol_mg_dl": (80.0, 400.0)}
FEATURES = [*BOUNDS, "sex"]
ROWS = 60


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server workspace with a registered logistic model ``risk`` and a ReLU MLP
    ``risk-mlp``, its key file, and ``rows.csv`` (patients the client wants scored)."""
    from veil.demo.data import generate_patients

    root = tmp_path_factory.mktemp("he")
    key = generate_key_file(root / "k.key")
    patients = generate_patients(2000, seed=5)
    with Workspace.create(root / "ws", key_file=key) as ws:
        ws.ingest(patients, "patients", subject_id="patient_id", classify=False)
        ws.dp_settings("patients", bounds=BOUNDS,
                       public_keys={"sex": ["F", "M"], "readmitted_30d": [0, 1]})
        ws.set_budget("patients", epsilon=10.0, delta=1e-4)
        ws.train("patients", target="readmitted_30d", features=FEATURES, epsilon=3.0,
                 delta=1e-5, model="logreg", name="risk", epochs=3, lr=0.5, seed=0)
        ws.train("patients", target="readmitted_30d", features=FEATURES, epsilon=1.0,
                 delta=1e-5, model="mlp", name="risk-mlp", epochs=1, lr=0.5, seed=0)
    generate_patients(ROWS, seed=99).write_csv(root / "rows.csv")
    return root


def _server(home: Path) -> tuple[str, ...]:
    return ("--workspace", str(home / "ws"), "--key-file", str(home / "k.key"))


def _plaintext(home: Path, model: str = "risk") -> np.ndarray:
    rows, _ = read_source(home / "rows.csv")
    with Workspace.open(home / "ws", key_file=home / "k.key") as ws:
        return ws.for_purpose("test reference").model(model).predict_proba(rows)


def _one_line(result: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("veil: error"), result.stderr
    assert message in lines[0]


@pytest.fixture(scope="module")
def alice(home: Path) -> Path:
    """A client's folder: keys, the model's exported encoding, and ``batch.bin`` (rows.csv
    encrypted as the model reads it), all made with the command line."""
    folder = home / "alice"
    veil("he", "keys", str(folder), cwd=home)
    veil(*_server(home), "he", "encoding", "risk", "--out", str(folder / "enc.json"), cwd=home)
    veil("he", "encrypt", str(folder), "rows.csv", "--encoding", str(folder / "enc.json"),
         "--out", str(folder / "batch.bin"), cwd=home)
    return folder


def test_client_and_server_exchange_only_files(home: Path, alice: Path,
                                               tmp_path: Path) -> None:
    assert stat.S_IMODE((alice / "secret.ctx").stat().st_mode) == 0o600
    exported = json.loads((alice / "enc.json").read_text())
    assert exported["model"] == "risk" and exported["encoding"]["order"] == FEATURES
    veil(*_server(home), "--purpose", "partner triage", "he",
         "evaluate", "risk", "--context", str(alice / "public.ctx"), str(alice / "batch.bin"),
         "--out", "scores.bin", cwd=tmp_path)
    shown = json.loads(veil("he", "decrypt", str(alice), "scores.bin", "--encoding",
                            str(alice / "enc.json"), "--json", cwd=tmp_path).stdout)
    probs = np.array(shown["probabilities"])
    assert shown["classes"] == ["0", "1"] and probs.shape == (ROWS, 2)
    np.testing.assert_allclose(probs, _plaintext(home), atol=1e-3, rtol=0)

    with Workspace.open(home / "ws", key_file=home / "k.key") as ws:
        entries = list(ws.ledger.entries())
    event = [e for e in entries if e.action == "he.evaluate"][-1]
    assert (event.resource, event.actor, event.purpose) == (
        "risk@1", "owner", "partner triage")
    params = event.parameters
    assert params["context"] == fingerprint((alice / "public.ctx").read_bytes())
    assert params["samples"] == ROWS and params["features"] == len(FEATURES) + 1  # sex: F, M
    assert params["params"]["poly_modulus_degree"] == 8192 and params["seconds"] >= 0
    assert set(params) == {"samples", "features", "layout", "classes", "context", "params",
                           "seconds", "batch_sha256", "scores_sha256"}
    rows, _ = read_source(home / "rows.csv")
    ledger_text = " ".join(e.params for e in entries)
    for value in (*rows["patient_id"], *rows["name"], *rows["glucose_mg_dl"].cast(str)[:10]):
        assert str(value) not in ledger_text


def test_batch_for_another_client_and_scores_for_another_client_are_refused(
        home: Path, alice: Path, tmp_path: Path) -> None:
    bob = service.write_keys(tmp_path / "bob")
    width = len(FEATURES) + 1
    columns = [f"x{j}" for j in range(width)]
    pl.DataFrame(np.random.default_rng(0).uniform(0, 1, (5, width)), schema=columns,
                 orient="row").write_csv(tmp_path / "plain.csv")
    veil("he", "encrypt", "bob", "plain.csv", "--features", ",".join(columns), "--out",
         "bob.bin", cwd=tmp_path)
    refused = veil(*_server(home), "he", "evaluate", "risk", "--context",
                   str(alice / "public.ctx"), "bob.bin", "--out", "scores.bin", check=False,
                   cwd=tmp_path)
    _one_line(refused, 2, "encrypted under another CKKS context")
    assert not (tmp_path / "scores.bin").exists()
    with Workspace.open(home / "ws", key_file=home / "k.key") as ws:
        scores = service.evaluate_registered(ws, "risk", bob.public_context(),
                                             (tmp_path / "bob.bin").read_bytes())
    (tmp_path / "scores.bin").write_bytes(scores)
    _one_line(veil("he", "decrypt", str(alice), "scores.bin", check=False, cwd=tmp_path), 2,
              "computed under another CKKS context")
    shown = veil("he", "decrypt", "bob", "scores.bin", cwd=tmp_path).stdout
    assert "P(1)" in shown and shown.count("0.") >= 10  # 5 rows, 2 probabilities each
    _one_line(veil("he", "keys", str(alice), check=False, cwd=tmp_path), 2, "already holds")


def test_relu_mlp_is_refused(home: Path, alice: Path, tmp_path: Path) -> None:
    refused = veil(*_server(home), "he", "evaluate", "risk-mlp", "--context",
                   str(alice / "public.ctx"), str(alice / "batch.bin"), "--out", "scores.bin",
                   check=False, cwd=tmp_path)
    _one_line(refused, 2, "CKKS cannot evaluate ReLU")
    _one_line(veil(*_server(home), "he", "score", "risk-mlp", str(home / "rows.csv"),
                   check=False, cwd=tmp_path), 2, "CKKS cannot evaluate ReLU")


def test_score_reports_precision_against_the_plaintext_model(home: Path,
                                                            tmp_path: Path) -> None:
    shown = json.loads(veil(*_server(home), "he", "score", "risk", str(home / "rows.csv"),
                            "--json", cwd=tmp_path).stdout)
    assert shown["model"] == "risk@1" and shown["max_abs_diff_vs_plaintext"] < 1e-3
    np.testing.assert_allclose(shown["probabilities"], _plaintext(home), atol=1e-3, rtol=0)


def test_evaluate_registered_and_client_round_trip(home: Path, tmp_path: Path) -> None:
    client = service.write_keys(tmp_path / "keys")
    restored = service.load_keys(tmp_path / "keys")
    assert restored.fingerprint == client.fingerprint
    assert (tmp_path / "keys" / "public.ctx").read_bytes() == client.public_context()
    rows, _ = read_source(home / "rows.csv")
    with Workspace.open(home / "ws", key_file=home / "k.key") as ws:
        encoding = service.load_encoding(service.encoding_document(ws, "risk"))
        batch = restored.encrypt(service.features(rows, encoding=encoding))
        before = ws.ledger.size
        scores = service.evaluate_registered(ws, "risk", client.public_context(), batch)
        actions = [e.action for e in ws.ledger.entries(before + 1)]
        expected = ws.model("risk").predict_proba(rows)
        with pytest.raises(InputError, match="another CKKS context"):
            service.evaluate_registered(ws, "risk", Client().public_context(), batch)
    assert actions == ["model.load", "he.evaluate"]
    np.testing.assert_allclose(client.probabilities(scores), expected, atol=1e-3, rtol=0)
    with pytest.raises(InputError, match="bad magic"):
        Client.from_bytes(b"nope")


def test_paillier_sum_and_mean_across_parties(run, tmp_path: Path, master_key) -> None:
    """Three parties contribute (sum, count) encrypted; an aggregator adds; only the key
    holder decrypts the total, which equals the plaintext over the pooled rows."""
    import numpy as np
    import polars as pl

    from veil import Workspace

    run("he", "paillier", "keys", "holder", "--bits", "2048")
    assert stat.S_IMODE((tmp_path / "holder" / "paillier-private.json").stat().st_mode) == 0o600
    rng = np.random.default_rng(3)
    parts = [rng.uniform(40, 450, size) for size in (120, 80, 200)]
    for i, values in enumerate(parts[:2]):
        pl.DataFrame({"glucose": values}).write_csv(tmp_path / f"p{i}.csv")
        run("he", "paillier", "encrypt", "holder/paillier-public.json", "--file", f"p{i}.csv",
            "--column", "glucose", "--out", f"e{i}.json")
    with Workspace.create(tmp_path / "ws", master_key=master_key) as ws:  # the third party
        ws.ingest(pl.DataFrame({"pid": [f"P{i}" for i in range(200)], "glucose": parts[2]}),
                  "labs", subject_id="pid")
    env_key = base64.b64encode(master_key.key).decode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VEIL_MASTER_KEY", env_key)
        run("-w", "ws", "he", "paillier", "encrypt", "holder/paillier-public.json",
            "--dataset", "labs", "--column", "glucose", "--out", "e2.json")
    assert b"glucose" not in (tmp_path / "e2.json").read_bytes()  # ciphertexts only
    run("he", "paillier", "add", "holder/paillier-public.json", "e0.json", "e1.json", "e2.json",
        "--out", "total.json")
    total = json.loads(run("he", "paillier", "decrypt", "holder", "total.json", "--json").stdout)
    pooled = np.concatenate(parts)
    assert total["parties"] == 3 and total["rows"] == 400
    assert total["mean"] == pytest.approx(pooled.mean(), abs=1e-9)
    with Workspace.open(tmp_path / "ws", master_key=master_key) as ws:
        entry = ws.ledger.tail(1, action="he.paillier.encrypt")[0]
    assert json.loads(entry.params)["column"] == "glucose"

    run("he", "paillier", "keys", "other", "--bits", "2048")
    refused = run("he", "paillier", "decrypt", "other", "total.json", check=False)
    assert refused.returncode == 2 and "another Paillier key" in refused.stderr
    again = run("he", "paillier", "keys", "holder", check=False)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
