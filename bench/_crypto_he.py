"""Homomorphic encryption: CKKS encrypted inference beside plaintext torch, Paillier ops/s.

Called by ``bench/crypto_compute.py``. Data are synthetic features in [0, 1] (what
``veil.train.features.Encoding`` produces) and a logistic model whose weights push logits far
past |logit| = 5, where a polynomial sigmoid would break: the server returns encrypted logits
and the client applies the exact softmax, so the error is measured on every row.

* **CKKS batched** (N=8192, primes 60-40-60, 40-bit scale, 128-bit): client encrypt, server
  evaluate (bytes in, bytes out; context parsed once) and client decrypt are timed apart; the
  samples/s goal uses their sum. Plaintext: the same ``nn.Linear`` in float32 torch, forward +
  softmax, on the same batch in the same run.
* **One sample per ciphertext** (rows layout, Galois keys): the latency of one sample.
* **MLP** (Linear -> x^2-type PolyActivation -> Linear, depth 3, N=16384).
* **Paillier** (3072-bit, 128-bit security): encrypt, add and decrypt operations per second;
  ``paillier_gmpy2`` says whether phe found gmpy2.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from bench._common import goal, timed
from veil.he import Client, PolyActivation, Server, plain_model
from veil.he import paillier as pa


def _torch_probs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(copy.deepcopy(model).double()(torch.from_numpy(x)), dim=1).numpy()


def _ckks(model: nn.Module, x: np.ndarray, client: Client, repeat: int,
          prefix: str) -> dict[str, float]:
    server = Server(client.public_context())
    state: dict[str, Any] = {}

    def enc() -> None:
        state["batch"] = client.encrypt(x)

    def ev() -> None:
        state["scores"] = server.evaluate(state["batch"], model)

    def dec() -> None:
        state["probs"] = client.probabilities(state["scores"])

    t_enc, t_ev, t_dec = [], [], []
    for _ in range(repeat):  # interleaved, so load hits the three alike
        t_enc.append(timed(enc, 1).best)
        t_ev.append(timed(ev, 1).best)
        t_dec.append(timed(dec, 1).best)
    logits = client.decrypt_scores(state["scores"])
    reference = plain_model(model).logits(x)
    total = min(a + b + c for a, b, c in zip(t_enc, t_ev, t_dec, strict=True))
    return {
        f"{prefix}_samples": float(x.shape[0]),
        f"{prefix}_encrypt_s": min(t_enc),
        f"{prefix}_evaluate_s": min(t_ev),
        f"{prefix}_decrypt_s": min(t_dec),
        f"{prefix}_latency_s": total,
        f"{prefix}_samples_per_s": x.shape[0] / total,
        f"{prefix}_batch_mb": len(state["batch"]) / 1e6,
        f"{prefix}_max_abs_logit": float(np.abs(reference).max()),
        f"{prefix}_max_abs_logit_error": float(np.abs(logits - reference).max()),
        f"{prefix}_max_abs_prob_error": float(np.abs(state["probs"]
                                                     - _torch_probs(model, x)).max()),
    }


def _plaintext(model: nn.Module, x: np.ndarray, repeat: int) -> float:
    model = copy.deepcopy(model).float()
    xt = torch.from_numpy(x.astype(np.float32))

    def run() -> None:
        with torch.no_grad():
            torch.softmax(model(xt), dim=1).numpy()

    return x.shape[0] / timed(run, repeat).best


def _rows_latency(model: nn.Module, x: np.ndarray) -> dict[str, float]:
    start = time.perf_counter()
    client = Client(rows=True)
    keygen = time.perf_counter() - start
    server = Server(client.public_context())
    one = x[:1]

    def run() -> None:
        client.probabilities(server.evaluate(client.encrypt(one, layout="rows"), model))

    latency = timed(run, 3).best
    return {"ckks_rows_keygen_s": keygen, "ckks_rows_latency_s": latency,
            "ckks_rows_samples_per_s": 1.0 / latency,
            "ckks_rows_public_context_mb": len(client.public_context()) / 1e6}


def _paillier(n: int) -> dict[str, float]:
    start = time.perf_counter()
    keys = pa.generate_keypair()
    keygen = time.perf_counter() - start
    values = np.random.default_rng(5).normal(0, 100, n)
    start = time.perf_counter()
    parties = [pa.encrypt_vector(keys.public, values) for _ in range(2)]
    enc = 2 * n / (time.perf_counter() - start)
    start = time.perf_counter()
    total = pa.aggregate(parties)
    add = n / (time.perf_counter() - start)
    start = time.perf_counter()
    mean = pa.mean(keys.private, total)
    dec = n / (time.perf_counter() - start)
    return {"paillier_bits": float(pa.DEFAULT_BITS), "paillier_gmpy2": float(pa.gmpy2_active()),
            "paillier_keygen_s": keygen, "paillier_encrypt_per_s": enc,
            "paillier_add_per_s": add, "paillier_decrypt_per_s": dec,
            "paillier_mean_max_abs_error": float(np.abs(mean - values).max())}


def run(quick: bool) -> tuple[dict[str, float], list[dict[str, Any]]]:
    samples, features, repeat = (2_000, 20, 1) if quick else (10_000, 20, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (samples, features))
    torch.manual_seed(0)
    logreg = nn.Linear(features, 2)
    with torch.no_grad():
        logreg.weight.copy_(torch.randn(2, features) * 4)
    figures = _ckks(logreg, x, Client(), repeat, "ckks")
    figures["plain_samples_per_s"] = _plaintext(logreg, x, max(repeat, 3) * 3)
    figures["plain_over_ckks"] = figures["plain_samples_per_s"] / figures["ckks_samples_per_s"]
    if not quick:
        figures |= _rows_latency(logreg, x)
    mlp = nn.Sequential(nn.Linear(features, 16), PolyActivation((0.0, 0.5, 0.25)),
                        nn.Linear(16, 2))
    figures |= _ckks(mlp, x[: 1_000 if quick else 4_096], Client(depth=3), repeat, "ckks_mlp")
    figures |= _paillier(20 if quick else 100)
    goals = [
        goal("CKKS batched logistic inference, samples/s", figures["ckks_samples_per_s"],
             ">= 5000"),
        goal("CKKS logistic: max abs probability error vs plaintext (every row)",
             figures["ckks_max_abs_prob_error"], "<= 1e-3"),
        goal("CKKS MLP: max abs probability error vs plaintext (every row)",
             figures["ckks_mlp_max_abs_prob_error"], "<= 1e-3"),
    ]
    return figures, goals
