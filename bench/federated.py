"""Federated learning on Flower: SecAgg+ cost, accuracy against centralised training, MNIST.

Every run goes through ``veil.federated`` on Flower's simulation engine (Ray) on this machine:
each simulated site is a veil workspace of its own (own key file, own ledger) in a temporary
directory, created here from the demo generator or from ``../shared/data/mnist`` (read there,
ingested into the temporary site workspaces, deleted afterwards; nothing enters the repo).

**1. Round time, SecAgg+ against plain FedAvg** at 10, 50 and 100 sites (a quick run: 10).
Same model, data and rounds on both sides, privacy mode ``none``, so only secure aggregation
differs: veil's ``mlp`` on the demo's readmission features (width 10) with ``hidden`` 3,846,
i.e. 50,000 parameters; every site holds 250 demo patients (200 train, 50 held out). A round
is Flower's fit (SecAgg+: its four stages, setup, share keys, collect masked vectors, unmask)
plus the federated evaluation; the figure is the median round seconds over rounds 2..R (round
1, where every Ray worker first opens the sites' workspaces, is warm-up), with the fit step
alone beside it. The sites run as 2 Ray workers (2 CPU cores), so a round's wall time is the
sum of the sites' work divided by 2: it grows linearly with the number of sites for both.

SecAgg+ settings (Flower's ``SecAggPlusWorkflow``): the sites are shuffled onto a ring each
round and a site's neighbourhood is the ``num_shares`` sites centred on it (itself included;
an even number is raised to the next odd one). A site's mask secrets are Shamir-shared in that
neighbourhood with threshold ``t``: the round survives while every site keeps at least ``t``
live members of its neighbourhood, i.e. up to ``num_shares - t`` dropouts per neighbourhood,
and the server together with fewer than ``t`` colluding neighbours learns nothing of a site's
update. The main setting is veil's default, ``num_shares = 3, t = 2``, the setting of Flower's
own secure-aggregation example (1 dropout per 3-site neighbourhood tolerated; the server plus
1 colluding neighbour learns nothing); at the largest size the stronger ``5 / 3`` (2 dropouts;
2 colluders) and ``11 / 6`` (5 dropouts; 5 colluders) are timed as well. Goal: SecAgg+ (3/2)
at 100 sites costs at most 2x a plain round.

**2. Accuracy on the demo task** (readmission within 30 days; ``generate_patients(30000)``,
three clinics = three sites; features: the five lab values with the demo pipeline's public
bounds, ``sex`` and ``clinic_id``; model ``logreg``). Each site keeps one row per patient and
holds out 20% (``veil.federated.site.load_site``, the rule the federated sites use); every
accuracy and AUC below is on the union of the three held-out sets, computed here from the final
global weights (the sites' own weighted accuracy is checked against it). Centralised: the same
logreg on the pooled training rows, SGD with the federation's lr and batch, as many epochs as
the federation has rounds (each round is one local epoch per site); sklearn's converged
logistic regression is given as the ceiling. Federated, non-private: FedAvg, 30 rounds, one
local epoch, batch 64, lr 0.5. Federated, central DP at epsilon 3, delta 1e-5 per record
(each round one DP-SGD step over the pooled rows: Poisson rate 0.2, clipping norm 1, 40
rounds, the sums through SecAgg+ (3 shares, threshold 2), Adam on the server with lr 0.5 on
the noisy mean gradient; the noise multiplier, 2.07, is Opacus' PRV calibration). Server SGD
with lr 10 over 40 rounds reached AUC 0.69-0.71 and predicted the majority class; lr 30 or
Adam 0.5 reached 0.72 in trial runs (these few settings were tried, on this data, and the
choice is mildly optimistic for that). Goals: within 2 points of
the centralised accuracy without DP, within 5 with it (a quick run: 3,000 patients, 3 rounds,
the DP run only). About 78% of patients are not
readmitted, so the majority-class rate and AUC are given too: accuracy alone says little.

**3. MNIST, non-IID over 10 sites** (full run only; ``VEIL_BENCH_MNIST=0`` skips it, ``=1``
forces it into a quick run): 784 pixel features with the public bounds [0, 255] (veil's
Encoding handles them in about 0.1 s per 6,000 rows, so no downsampling), veil's ``mlp`` with
hidden 64 (50,890 parameters). Site ``i`` gets 5,000 training images (each digit is a main
one at two sites, and the rarest, 5, has 5,421), 90% of them from digits ``i`` and
``i+1 mod 10`` and 10% from the other eight; it holds out 20% of its rows. FedAvg,
one local epoch per round, batch 64, lr 0.1. Per round: the accuracy on the sites' held-out
rows (their own, non-IID) and on the 10,000-image MNIST test set, computed here from each
round's global weights; a site-local model (one site's data only, same epochs) is the
non-federated peer.

Timings come from a shared 2-core machine; the ratios, measured in the same run, are the
figures to trust.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from bench._common import RESULTS, goal, write_results

DATA = Path(__file__).resolve().parents[2] / "shared/data"
MNIST = DATA / "mnist"

TIMING_ROWS_PER_SITE = 250
TIMING_FEATURES_WIDTH = 10  # 5 lab values + sex (2) + clinic (3)
TIMING_HIDDEN = 3846  # mlp: 10*h + h + 2h + 2 = 50,000 parameters
SECAGG_MAIN = (3, 2)
SECAGG_EXTRA = ((5, 3), (11, 6))

READMISSION_ROWS = 30_000
FED_ROUNDS, FED_LR, BATCH = 30, 0.5, 64
DP_EPSILON, DP_DELTA, DP_RATE, DP_CLIP, DP_LR, DP_ROUNDS = 3.0, 1e-5, 0.2, 1.0, 0.5, 40

MNIST_SITES, MNIST_ROUNDS, MNIST_LR, MNIST_HIDDEN = 10, 15, 0.1, 64


# ---------------------------------------------------------------- sites

def _make_site(root: Path, name: str, frame: pl.DataFrame, dataset: str, subject: str,
               budget: tuple[float, float] | None = None) -> Any:
    from veil import Workspace
    from veil.federated import Site
    from veil.keys import generate_key_file

    root.mkdir(parents=True, exist_ok=True)
    key = generate_key_file(root / f"{name}.key")
    with Workspace.create(root / name, key_file=key) as ws:
        parquet = root / f"{name}.parquet"
        frame.write_parquet(parquet)
        ws.ingest(parquet, dataset, subject_id=subject)
        parquet.unlink()
        if budget is not None:
            ws.set_budget(dataset, epsilon=budget[0], delta=budget[1])
    return Site(name, str(root / name), dataset, str(key))


def _patients_federation(sites: Sequence[Any], clinics: Sequence[str], **options: Any) -> Any:
    from veil.demo.pipeline import BOUNDS
    from veil.federated import Federation

    return Federation(name=options.pop("name", "readmission"), sites=list(sites),
                      target="readmitted_30d", features=[*BOUNDS, "sex", "clinic_id"],
                      bounds=BOUNDS, categories={"sex": ["F", "M"], "clinic_id": list(clinics)},
                      seed=1, **options)


def _simulate(federation: Any, *, history: bool = False) -> Any:
    from veil.federated.run import simulate

    recorder = simulate(federation, history=history)
    if recorder.error is not None:
        raise RuntimeError(f"federated run failed: {recorder.error!r}") from recorder.error
    return recorder


# ---------------------------------------------------------------- 1. SecAgg+ round time

def _timing(root: Path, sizes: Sequence[int], rounds: int, extra: bool) -> dict[str, float]:
    from veil.demo.data import generate_patients
    from veil.federated import SecureAggregation

    frame = generate_patients(max(sizes) * TIMING_ROWS_PER_SITE, seed=7)
    clinics = sorted(frame["clinic_id"].unique().to_list())
    started = time.perf_counter()
    sites = [_make_site(root, f"t{i:03d}", frame[i * TIMING_ROWS_PER_SITE:
                                                 (i + 1) * TIMING_ROWS_PER_SITE],
                        "patients", "patient_id") for i in range(max(sizes))]
    figures: dict[str, float] = {"timing_site_setup_s": time.perf_counter() - started,
                                 "timing_rows_per_site": TIMING_ROWS_PER_SITE,
                                 "timing_rounds": rounds}

    def run(n: int, shares: tuple[int, int] | None) -> tuple[float, float, float]:
        secure = (SecureAggregation(enabled=True, num_shares=shares[0], threshold=shares[1])
                  if shares else SecureAggregation(enabled=False))
        fed = _patients_federation(sites[:n], clinics, name=f"timing{n}", model="mlp",
                                   hidden=TIMING_HIDDEN, rounds=rounds, lr=0.1,
                                   secure_aggregation=secure)
        begun = time.perf_counter()
        rec = _simulate(fed)
        total = time.perf_counter() - begun
        later = rec.rounds[1:] or rec.rounds
        return (statistics.median(r["seconds"] for r in later),
                statistics.median(r["fit_seconds"] for r in later), total)

    from veil.federated.site import model

    probe = _patients_federation(sites[:2], clinics, model="mlp", hidden=TIMING_HIDDEN)
    figures["timing_model_parameters"] = sum(p.numel() for p in model(probe).parameters())
    for n in sizes:
        plain, plain_fit, plain_total = run(n, None)
        secure, secure_fit, secure_total = run(n, SECAGG_MAIN)
        k, t = SECAGG_MAIN
        figures |= {f"round_s_plain_n{n}": plain, f"round_s_secagg_k{k}t{t}_n{n}": secure,
                    f"fit_s_plain_n{n}": plain_fit, f"fit_s_secagg_k{k}t{t}_n{n}": secure_fit,
                    f"secagg_over_plain_round_n{n}": secure / plain,
                    f"secagg_over_plain_fit_n{n}": secure_fit / plain_fit,
                    f"run_s_plain_n{n}": plain_total, f"run_s_secagg_k{k}t{t}_n{n}": secure_total}
        print(f"{n} sites: round {plain:.2f} s plain, {secure:.2f} s SecAgg+ {k}/{t} "
              f"({secure / plain:.2f}x; fit step {plain_fit:.2f} vs {secure_fit:.2f} s, "
              f"{secure_fit / plain_fit:.2f}x)")
    if extra:
        n = max(sizes)
        for k, t in SECAGG_EXTRA:
            secure, secure_fit, _ = run(n, (k, t))
            figures |= {f"round_s_secagg_k{k}t{t}_n{n}": secure,
                        f"fit_s_secagg_k{k}t{t}_n{n}": secure_fit,
                        f"secagg_k{k}t{t}_over_plain_round_n{n}":
                            secure / figures[f"round_s_plain_n{n}"]}
            print(f"{n} sites: SecAgg+ {k}/{t} round {secure:.2f} s "
                  f"({secure / figures[f'round_s_plain_n{n}']:.2f}x plain)")
    return figures


# ---------------------------------------------------------------- 2. readmission accuracy

def _scores(module: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    module.eval()
    with torch.no_grad():
        proba = torch.softmax(module(torch.from_numpy(x)), dim=1).numpy()
    return float((proba.argmax(axis=1) == y).mean()), float(roc_auc_score(y, proba[:, 1]))


def _central(fed: Any, x: np.ndarray, y: np.ndarray, epochs: int) -> nn.Module:
    """The federation's model trained on the pooled rows: SGD, its lr and batch size."""
    from veil.federated.site import model

    module = model(fed)
    optimizer = torch.optim.SGD(module.parameters(), lr=fed.lr)
    features, labels = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(fed.batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(features[batch]), labels[batch]).backward()
            optimizer.step()
    return module


def _readmission(root: Path, quick: bool) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from veil.demo.data import generate_patients
    from veil.federated import Privacy, SecureAggregation
    from veil.federated.privacy import plan
    from veil.federated.site import load_site, model, set_weights

    rows = 3000 if quick else READMISSION_ROWS
    rounds, dp_rounds = (3, 3) if quick else (FED_ROUNDS, DP_ROUNDS)
    frame = generate_patients(rows)
    parts = sorted(frame.partition_by("clinic_id", as_dict=True).items())
    clinics = [str(c[0]) for c, _ in parts]
    sites = [_make_site(root, f"clinic{c[0]}", part, "patients", "patient_id",
                        budget=(100.0, 1e-3)) for c, part in parts]
    # Secure aggregation stays off here: with 3 sites it changes nothing of the maths, and
    # part 1 times it.
    fed = _patients_federation(sites, clinics, rounds=rounds, lr=FED_LR, batch_size=BATCH,
                               secure_aggregation=SecureAggregation(enabled=False))
    loaded = [load_site(s, fed, run="bench-central", epsilon=None, delta=None, rho=None,
                        details={}) for s in sites]
    x = np.concatenate([d.x for d in loaded])
    y = np.concatenate([d.y for d in loaded])
    tx = np.concatenate([d.test_x for d in loaded])
    ty = np.concatenate([d.test_y for d in loaded])
    majority = float(max((ty == 0).mean(), (ty == 1).mean()))
    figures: dict[str, float] = {"readmission_train_rows": len(y),
                                 "readmission_test_rows": len(ty),
                                 "readmission_majority_rate": majority,
                                 "readmission_rounds": rounds, "readmission_lr": FED_LR}

    central = _central(fed, x, y, epochs=rounds)
    figures["central_accuracy"], figures["central_auc"] = _scores(central, tx, ty)
    ceiling = LogisticRegression(max_iter=2000).fit(x, y)
    figures["central_sklearn_accuracy"] = float(ceiling.score(tx, ty))
    figures["central_sklearn_auc"] = float(roc_auc_score(ty, ceiling.predict_proba(tx)[:, 1]))

    def evaluate(weights: list[np.ndarray], which: Any) -> tuple[float, float]:
        module = model(which)
        set_weights(module, weights)
        return _scores(module, tx, ty)

    if not quick:  # a quick run smoke-tests the DP path only: every Flower run costs ~15 s
        rec = _simulate(fed)
        figures["fed_accuracy"], figures["fed_auc"] = evaluate(rec.weights, fed)
        figures["fed_accuracy_sites_report"] = rec.rounds[-1]["accuracy"]
        figures["fed_round_s"] = statistics.median(r["seconds"] for r in rec.rounds[1:])
        figures["fed_gap_points"] = 100 * abs(figures["central_accuracy"]
                                              - figures["fed_accuracy"])

    private = _patients_federation(
        sites, clinics, name="readmission-dp", rounds=dp_rounds, strategy="fedadam",
        server_lr=DP_LR, batch_size=BATCH,
        privacy=Privacy("central", DP_EPSILON, DP_DELTA, DP_CLIP, "record", DP_RATE),
        secure_aggregation=SecureAggregation(num_shares=3, threshold=2))
    spend = plan(private)
    rec = _simulate(private)
    figures["fed_dp_accuracy"], figures["fed_dp_auc"] = evaluate(rec.weights, private)
    figures |= {"fed_dp_epsilon": DP_EPSILON, "fed_dp_delta": DP_DELTA,
                "fed_dp_rounds": dp_rounds, "fed_dp_lr": DP_LR, "fed_dp_sample_rate": DP_RATE,
                "fed_dp_clipping_norm": DP_CLIP,
                "fed_dp_noise_multiplier": float(spend["noise_multiplier"]),
                "fed_dp_gap_points": 100 * abs(figures["central_accuracy"]
                                               - figures["fed_dp_accuracy"])}
    print(f"readmission (majority {majority:.4f}): central acc {figures['central_accuracy']:.4f}"
          f" AUC {figures['central_auc']:.4f}; FedAvg {figures.get('fed_accuracy', 0):.4f} / "
          f"{figures.get('fed_auc', 0):.4f}; FedAvg + DP eps {DP_EPSILON:g} "
          f"{figures['fed_dp_accuracy']:.4f} / {figures['fed_dp_auc']:.4f}")
    return figures


# ---------------------------------------------------------------- 3. MNIST non-IID

def _idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def _mnist_frame(images: np.ndarray, labels: np.ndarray, first_id: int) -> pl.DataFrame:
    flat = images.reshape(len(images), -1)
    return pl.DataFrame({f"p{i}": flat[:, i] for i in range(flat.shape[1])}).with_columns(
        label=pl.Series(labels.astype(np.int64)),
        image_id=pl.Series(np.arange(first_id, first_id + len(labels))))


def _mnist(root: Path, quick: bool) -> dict[str, float]:
    from veil.federated import Federation, SecureAggregation
    from veil.federated.site import load_site, model, set_weights

    images = _idx(MNIST / "train-images-idx3-ubyte.gz")
    labels = _idx(MNIST / "train-labels-idx1-ubyte.gz")
    test_x = _idx(MNIST / "t10k-images-idx3-ubyte.gz").reshape(10_000, -1)
    test_y = _idx(MNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    per_site, rounds = (600, 3) if quick else (5000, MNIST_ROUNDS)
    rng = np.random.default_rng(0)
    pools = {d: list(rng.permutation(np.flatnonzero(labels == d))) for d in range(10)}
    sites, main_share = [], []
    started = time.perf_counter()
    for i in range(MNIST_SITES):
        own = (i, (i + 1) % 10)
        counts = dict.fromkeys(range(10), 0)
        for _ in range(per_site):  # 90% from the two own digits, 10% from the others
            digit = (own[int(rng.integers(2))] if rng.random() < 0.9
                     else int(rng.choice([d for d in range(10) if d not in own])))
            counts[digit] += 1
        chosen = np.concatenate([[pools[d].pop() for _ in range(c)] for d, c in counts.items()])
        chosen = chosen.astype(np.int64)
        main_share.append(float(np.isin(labels[chosen], own).mean()))
        sites.append(_make_site(root, f"mnist{i}", _mnist_frame(images[chosen], labels[chosen],
                                                                int(i * per_site)),
                                "digits", "image_id"))
    setup = time.perf_counter() - started
    pixels = [f"p{i}" for i in range(784)]
    fed = Federation(name="mnist", sites=sites, target="label", features=pixels,
                     bounds=dict.fromkeys(pixels, (0.0, 255.0)), classes=list(range(10)),
                     model="mlp", hidden=MNIST_HIDDEN, rounds=rounds, lr=MNIST_LR,
                     batch_size=BATCH, seed=1, secure_aggregation=SecureAggregation(
                         enabled=False))
    xt = (test_x.astype(np.float32) / 255.0)

    def test_accuracy(module: nn.Module) -> float:
        module.eval()
        with torch.no_grad():
            return float((module(torch.from_numpy(xt)).argmax(dim=1).numpy() == test_y).mean())

    rec = _simulate(fed, history=True)
    per_round = []
    for weights in rec.history:
        module = model(fed)
        set_weights(module, weights)
        per_round.append(test_accuracy(module))
    figures: dict[str, float] = {
        "mnist_sites": MNIST_SITES, "mnist_rows_per_site": per_site, "mnist_rounds": rounds,
        "mnist_features": 784, "mnist_site_setup_s": setup,
        "mnist_site_main_digits_share": float(np.mean(main_share)),
        "mnist_model_parameters": sum(p.numel() for p in model(fed).parameters()),
        "mnist_round_s": statistics.median(r["seconds"] for r in rec.rounds[1:] or rec.rounds)}
    for r, acc in zip(rec.rounds, per_round, strict=True):
        figures[f"mnist_round{r['round']}_sites_accuracy"] = r["accuracy"]
        figures[f"mnist_round{r['round']}_test_accuracy"] = acc
    figures["mnist_final_test_accuracy"] = per_round[-1]
    figures["mnist_final_sites_accuracy"] = rec.rounds[-1]["accuracy"]
    worst = min(rec.rounds[-1]["per_site"].values(), key=lambda s: s["accuracy"])
    figures["mnist_final_worst_site_accuracy"] = worst["accuracy"]
    # peer: one site alone (its own non-IID rows), as many local epochs as rounds
    alone = load_site(sites[0], fed, run="bench-local", epsilon=None, delta=None, rho=None,
                      details={})
    local = _central(fed, alone.x, alone.y, epochs=rounds)
    figures["mnist_single_site_test_accuracy"] = test_accuracy(local)
    print("MNIST test accuracy per round: " + ", ".join(f"{a:.3f}" for a in per_round)
          + f"; one site alone {figures['mnist_single_site_test_accuracy']:.3f}")
    _plot(rec.rounds, per_round, figures["mnist_single_site_test_accuracy"])
    return figures


def _plot(rounds: list[dict[str, Any]], test: list[float], alone: float) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["round"] for r in rounds]
    ax.plot(xs, test, marker="o", label="global model, MNIST test set")
    ax.plot(xs, [r["accuracy"] for r in rounds], marker="s",
            label="global model, sites' held-out rows")
    ax.axhline(alone, color="grey", linestyle="--", label="one site alone (test set)")
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy")
    ax.set_title(f"FedAvg, MNIST non-IID over {MNIST_SITES} sites")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "federated_mnist.png", dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------- main

def main(quick: bool = False, mnist: bool | None = None) -> dict:
    """Run the bench; ``mnist`` None means: in a full run, unless ``VEIL_BENCH_MNIST=0``."""
    if mnist is None:
        flag = os.environ.get("VEIL_BENCH_MNIST", "")
        mnist = flag == "1" or (not quick and flag != "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    logging.getLogger("flwr").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="veil-bench-fed-"))
    figures: dict[str, float] = {}
    goals: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sizes = (10,) if quick else (10, 50, 100)
            figures |= _timing(root / "timing", sizes, rounds=2 if quick else 4,
                               extra=not quick)
            n = max(sizes)
            goals.append(goal(f"secagg_over_plain_{n}",
                              figures[f"secagg_over_plain_round_n{n}"], "<= 2"))
            figures |= _readmission(root / "readmission", quick)
            if "fed_gap_points" in figures:
                goals.append(goal("fed_accuracy_gap_points", figures["fed_gap_points"], "<= 2"))
            goals.append(goal("fed_dp_eps3_accuracy_gap_points", figures["fed_dp_gap_points"],
                              "<= 5"))
            if mnist:
                if (MNIST / "train-images-idx3-ubyte.gz").exists():
                    figures |= _mnist(root / "mnist", quick)
                else:
                    print(f"federated: no MNIST data at {MNIST}; skipped")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures["total_s"] = time.perf_counter() - started
    write_results("federated", figures, goals, quick=quick)
    return {"figures": figures, "goals": goals}


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
