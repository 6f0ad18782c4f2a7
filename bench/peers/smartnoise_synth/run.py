"""The SmartNoise Synth side of the synthetic-data benchmark, run with the peer venv's python.

smartnoise-synth 1.0.8 pins mbi<2 (private-pgm 1.1) and opendp<0.15, which clash with veil's mbi
2.0 and OpenDP, so this script runs in ``bench/peers/smartnoise_synth/.venv`` (see
``bench/peers/venv.py``) and talks to the bench script through one JSON line on stdout.

``run.py REQUEST.json`` (or ``-`` for stdin) with the request::

    {"data": "train.csv", "domain": {"age": 85, ...} or "adult-domain.json",
     "method": "mst" | "aim", "epsilon": 1.0, "delta": 1e-9, "rows": 39073, "seed": 0,
     "outputs": {"round": "peer_round.csv", "exact": "peer_exact.csv"}, "model_tvd": false}

reads the integer-coded CSV with pandas, fits ``Synthesizer.create(method, epsilon=, delta=)``
with every column a categorical (``categorical_columns``, SmartNoise's ``LabelTransformer``), and
times ``fit`` (the transformer's fit, the DP measurements and mbi's estimation: all a user waits
for). It then draws ``rows`` records once per sampler in ``outputs`` and writes each as CSV in
the original column names and codes:

* ``round``: SmartNoise's own ``sample()``, i.e. mbi 1.1's ``synthetic_data(method="round")``.
  Within each group of rows sharing the already-drawn parent values it hands out the values'
  rounded counts in the rows' index order (no shuffle; mbi 2.0 added one), so each column is
  sorted by row index inside its parent groups, and two columns drawn given the same parent
  (in MST's tree: siblings) come out correlated with each other through the row order although
  the model holds them independent given that parent.
* ``sample``: the same code with ``method="sample"`` (i.i.d. draws; conditions on already drawn
  neighbours in the *measured* cliques, which is exact for MST's tree but not for a non-chordal
  AIM model).
* ``exact``: ancestral sampling over the model's junction tree, written here: the maximal cliques
  of the triangulated graph give calibrated marginals; in reverse elimination order each column
  is drawn i.i.d. from its conditional given its already-drawn neighbours in the triangulated
  graph (a clique, so one marginal holds them), which is exact for any model.

With ``"model_tvd": true`` in the request, each sampler's JSON also gives ``model_tvd``: the
drawn rows' mean TVD from the model's own marginals (before decompression), over the model's
cliques and over every pair of columns (not counted in ``sample_seconds``; the model's pair
marginals cost one JAX-compiled variable elimination each, minutes in all). Each sampler's
output passes through SmartNoise's own post-processing (MST's domain decompression, the
transformer's inverse). Prints
``{"fit_seconds": ..., "samplers": {name: {"sample_seconds": ..., "path": ..., "model_tvd":
...}}, "cliques": [...], "model_domain": {...}, "versions": {...}}``.
SmartNoise's noise comes from OpenDP (not seedable); ``seed`` seeds numpy's global generator,
which its selection steps and every sampler use.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mbi import Dataset, junction_tree, marginal_oracles
from snsynth import Synthesizer


class _Sampler:
    """Stands in for the fitted mbi model inside the synthesizer, so SmartNoise's ``sample()``
    (decompression, inverse transform) runs on rows drawn another way."""

    def __init__(self, model: Any, method: str, reference: dict | None) -> None:
        self.model = model
        self.method = method
        self.reference = reference  # the model's marginals, shared; None: no diagnostic
        self.gap: dict[str, float] = {}
        self.gap_seconds = 0.0

    def synthetic_data(self, rows: int) -> Dataset:
        if self.method == "exact":
            drawn = exact_sample(self.model, rows)
        else:
            drawn = self.model.synthetic_data(rows=rows, method=self.method)
        if self.reference is not None:
            start = time.perf_counter()
            self.gap = sampler_gap(self.model, drawn, self.reference)
            self.gap_seconds = time.perf_counter() - start
        return drawn


def _tvd(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.asarray(p, np.float64).ravel(), np.asarray(q, np.float64).ravel()
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


def sampler_gap(model: Any, drawn: Dataset, reference: dict) -> dict[str, float]:
    """How far the drawn rows are from the model they were drawn from (model's own domain):
    mean TVD over the model's cliques and over every pair of columns. A faithful sampler
    leaves only sampling noise on both; one that invents correlations shows on the pairs.
    ``reference`` caches the model's marginals (variable elimination) across calls."""
    cliques = [tuple(c) for c in model.cliques]
    pairs = list(itertools.combinations(model.domain.attrs, 2))
    for c in cliques + pairs:
        if c not in reference:
            reference[c] = model.project(c).datavector()
    return {name: float(np.mean([_tvd(drawn.project(c).datavector(), reference[c])
                                 for c in group]))
            for name, group in (("cliques", cliques), ("pairs", pairs))}


def exact_sample(model: Any, rows: int) -> Dataset:
    """``rows`` i.i.d. records from ``model`` by ancestral sampling over its junction tree."""
    domain = model.domain
    tree, order = junction_tree.make_junction_tree(domain, [tuple(c) for c in model.cliques])
    nodes = [tuple(n) for n in tree.nodes]
    marginals = marginal_oracles.message_passing_stable(model.potentials.expand(nodes))
    data: dict[str, np.ndarray] = {}
    for col in order[::-1]:
        near = set().union(*(n for n in nodes if col in n)) - {col}
        parents = tuple(a for a in data if a in near)
        joint = np.asarray(marginals.project((*parents, col)).datavector(flatten=False),
                           np.float64)
        size = domain[col]
        table = np.clip(joint.reshape(-1, size), 0, None)
        mass = table.sum(axis=1, keepdims=True)
        cond = np.divide(table, mass, out=np.full_like(table, 1 / size), where=mass > 0)
        if parents:
            shape = tuple(domain[p] for p in parents)
            group = np.ravel_multi_index(tuple(data[p] for p in parents), shape)
        else:
            group = np.zeros(rows, dtype=np.int64)
        cdf = np.cumsum(cond, axis=1)
        draws = np.random.rand(rows)
        picked = np.empty(rows, dtype=np.int64)
        present, counts = np.unique(group, return_counts=True)
        perm = np.argsort(group, kind="stable")
        start = 0
        for g, count in zip(present, counts, strict=True):  # per parent configuration
            idx = perm[start:start + count]
            picked[idx] = np.searchsorted(cdf[g], draws[idx] * cdf[g, -1], side="right")
            start += count
        data[col] = np.minimum(picked, size - 1)
    return Dataset({a: data[a] for a in domain.attrs}, domain)


def run(request: dict[str, Any]) -> dict[str, Any]:
    domain = request["domain"]
    if isinstance(domain, str):
        domain = json.loads(Path(domain).read_text())
    columns = list(domain)
    frame = pd.read_csv(request["data"], usecols=columns)[columns]
    np.random.seed(int(request.get("seed", 0)))
    synth = Synthesizer.create(request["method"], epsilon=float(request["epsilon"]),
                               delta=float(request["delta"]))
    start = time.perf_counter()
    synth.fit(frame, categorical_columns=columns)
    fit_seconds = time.perf_counter() - start
    model = synth.synthesizer
    rows = int(request["rows"])
    samplers: dict[str, Any] = {}
    reference: dict | None = {} if request.get("model_tvd") else None
    for name, path in request["outputs"].items():
        synth.synthesizer = stand_in = _Sampler(model, name, reference)
        start = time.perf_counter()
        out = synth.sample(rows)
        seconds = time.perf_counter() - start - stand_in.gap_seconds
        synth.synthesizer = model
        out = pd.DataFrame(out, columns=columns) if not isinstance(out, pd.DataFrame) else out
        out.columns = columns
        out.to_csv(path, index=False)
        samplers[name] = {"sample_seconds": seconds, "path": str(path), "rows": len(out),
                          "model_tvd": stand_in.gap or None}
    names = {f"col{i}": c for i, c in enumerate(columns)}
    return {
        "method": request["method"],
        "epsilon": float(request["epsilon"]),
        "delta": float(request["delta"]),
        "train_rows": len(frame),
        "fit_seconds": fit_seconds,
        "samplers": samplers,
        "cliques": [[names.get(a, a) for a in c] for c in model.cliques],
        "model_domain": {names.get(a, a): int(model.domain[a]) for a in model.domain.attrs},
        "versions": {p: version(p) for p in ("smartnoise-synth", "mbi", "opendp", "jax")},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit("usage: run.py REQUEST.json (or - for stdin)")
    text = sys.stdin.read() if argv[0] == "-" else Path(argv[0]).read_text()
    with contextlib.redirect_stdout(sys.stderr):  # SmartNoise prints; stdout carries the JSON
        result = run(json.loads(text))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
