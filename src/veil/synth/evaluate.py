"""Utility and privacy of a synthetic table, measured against the real rows it came from.

Three tables take part: ``real_train`` (the rows the synthesizer was fitted on),
``real_holdout`` (real rows it never saw) and ``synthetic``. Utility is how much of the real
structure survives (marginal TVD, pairwise associations, train-on-synthetic test-on-real);
privacy is whether the synthetic rows sit closer to the people fitted than to people never
seen (closest-record distances, exact copies, a membership attack). The holdout makes every
privacy figure comparable with a base rate: a synthesizer that memorises nobody is as close to
the holdout as to an equally large sample of the training rows.

Mean total-variation distance over all k-way marginals is the metric of the NIST and PGM
benchmarks, so figures are comparable with published MST/AIM results. These figures read real
data: they are for the data owner, and are not themselves differentially private.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.attacks.metrics import LOW_FPR, Roc, dp_tpr_bound, roc
from veil.errors import InputError
from veil.synth.discretize import Coded

__all__ = ["Associations", "Evaluation", "Fit", "Marginals", "Privacy", "SetTvd", "Tstr",
           "associations", "closest", "evaluate", "marginals", "mean_tvd", "privacy", "tstr",
           "tvd", "workload"]

WAYS = (1, 2, 3)
WORST = 10  # column sets named as the worst
_CELLS = 1 << 21  # distance-matrix cells per block (uint8): about 2 MiB, stays in cache
_ROC_GRID = np.linspace(0.0, 1.0, 101)
_QUANTILES = {"p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
_CATEGORICAL_LIMIT = 255  # HistGradientBoosting's most categories per feature (max_bins)


def workload(attributes: Sequence[str], ways: int) -> list[tuple[str, ...]]:
    """All ``ways``-way attribute subsets."""
    return list(itertools.combinations(attributes, ways))


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance of two count vectors, each normalized to a distribution."""
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


def mean_tvd(real: Coded, synth: Coded, cliques: Iterable[Sequence[str]]) -> float:
    """Mean TVD between the two tables' marginals over ``cliques``."""
    if dict(real.domain) != dict(synth.domain):
        raise ValueError("both tables must have the same domain")
    scores = [tvd(real.counts(c), synth.counts(c)) for c in cliques]
    return float(np.mean(scores))


# --- checks ---------------------------------------------------------------------------------

def _check(tables: Mapping[str, Coded], *, least: int = 1) -> None:
    """Refuse anything but non-empty coded tables over one domain, naming the culprit."""
    first_name, first = next(iter(tables.items()))
    for name, table in tables.items():
        if not isinstance(table, Coded):
            raise InputError(f"{name} must be a veil.synth.Coded table, not "
                             f"{type(table).__name__}")
        if not table.domain:
            raise InputError(f"{name} has no attributes")
        if table.rows < least:
            raise InputError(f"{name} has {table.rows} rows; the evaluation needs at least "
                             f"{least}")
        if name == first_name:
            continue
        missing = [a for a in first.domain if a not in table.domain]
        extra = [a for a in table.domain if a not in first.domain]
        if missing or extra:
            raise InputError(f"{name} and {first_name} have different attributes (missing "
                             f"from {name}: {missing or 'none'}; only in {name}: "
                             f"{extra or 'none'})")
        for a, size in first.domain.items():
            if table.domain[a] != size:
                raise InputError(f"attribute {a!r} has domain size {table.domain[a]} in {name} "
                                 f"but {size} in {first_name}")


def _cliques(attributes: Sequence[str],
             given: Iterable[Sequence[str]] | None) -> list[tuple[str, ...]]:
    if given is None:
        return [c for k in WAYS if k <= len(attributes) for c in workload(attributes, k)]
    if isinstance(given, str):
        raise InputError("workload must be a list of column sets, not one string")
    found: list[tuple[str, ...]] = []
    for clique in given:
        if isinstance(clique, str):
            raise InputError(f"workload entry {clique!r} must be a list of column names")
        clique = tuple(clique)
        unknown = [a for a in clique if a not in attributes]
        if not clique or unknown or len(set(clique)) != len(clique):
            raise InputError(f"workload entry {list(clique)} must name distinct known "
                             f"attributes" + (f" (unknown: {unknown})" if unknown else ""))
        found.append(clique)
    if not found:
        raise InputError("workload is empty")
    return found


def _matrix(table: Coded, attributes: Sequence[str]) -> np.ndarray:
    """Rows x attributes codes, in the narrowest unsigned type that holds the domain."""
    largest = max(table.domain[a] for a in attributes)
    dtype = np.uint8 if largest <= 256 else np.uint16 if largest <= 65536 else np.int64
    return np.stack([np.asarray(table.columns[a]) for a in attributes], axis=1).astype(dtype)


# --- marginals ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SetTvd:
    """One column set's TVD, synthetic vs real_train, and real_holdout vs real_train (the
    distance two real samples already have: what a perfect synthesizer would roughly show)."""

    columns: tuple[str, ...]
    tvd: float
    reference: float

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "tvd": self.tvd, "reference": self.reference}


@dataclass(frozen=True)
class Marginals:
    """Marginal TVD per column-set size (``mean[k]``), per set, the worst sets, and every
    1-way distribution (shares per code) for plotting."""

    mean: dict[int, float]
    reference: dict[int, float]
    by_set: tuple[SetTvd, ...]
    worst: tuple[SetTvd, ...]
    one_way: dict[str, dict[str, list[float]]]  # attribute -> {"real", "synthetic"} shares

    def to_dict(self) -> dict[str, Any]:
        return {"mean": {str(k): v for k, v in self.mean.items()},
                "reference": {str(k): v for k, v in self.reference.items()},
                "by_set": [s.to_dict() for s in self.by_set],
                "worst": [s.to_dict() for s in self.worst], "one_way": self.one_way}


def _keys(tables: Sequence[Coded], clique: Sequence[str]) -> tuple[list[np.ndarray], int]:
    """Each table's rows as one integer per cell of the clique's contingency table (the same
    cell, the same integer in every table), and the number of cells (0: too many to count)."""
    shape = tuple(tables[0].domain[a] for a in clique)
    size = math.prod(shape)
    if size < 2**62:
        return [np.ravel_multi_index(tuple(np.asarray(t.columns[a]) for a in clique), shape)
                for t in tables], size
    stacked = np.concatenate([_matrix(t, clique) for t in tables])
    inverse = np.unique(stacked, axis=0, return_inverse=True)[1].ravel()
    return np.split(inverse, np.cumsum([t.rows for t in tables])[:-1]), 0


def _tvd_keys(a: np.ndarray, b: np.ndarray, size: int) -> float:
    """TVD of two samples of cell keys: dense counts for small tables, else only the cells
    either sample fills (a 3-way table of 100-code columns has a million cells)."""
    if 0 < size <= 4 * (len(a) + len(b)):
        return tvd(np.bincount(a, minlength=size).astype(np.float64),
                   np.bincount(b, minlength=size).astype(np.float64))
    inverse = np.unique(np.concatenate([a, b]), return_inverse=True)[1].ravel()
    weights = np.concatenate([np.full(len(a), 1 / len(a)), np.full(len(b), -1 / len(b))])
    return 0.5 * float(np.abs(np.bincount(inverse, weights=weights)).sum())


def marginals(real_train: Coded, real_holdout: Coded, synthetic: Coded,
              cliques: Iterable[Sequence[str]] | None = None) -> Marginals:
    """TVD of every marginal in ``cliques`` (default: all 1-, 2- and 3-way sets), averaged
    per set size; the holdout gives each the real-vs-real reference."""
    _check({"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic})
    chosen = _cliques(real_train.attributes, cliques)
    found = []
    for clique in chosen:
        (train, holdout, synth), size = _keys((real_train, real_holdout, synthetic), clique)
        found.append(SetTvd(clique, _tvd_keys(train, synth, size),
                            _tvd_keys(train, holdout, size)))
    sizes = sorted({len(s.columns) for s in found})
    mean = {k: float(np.mean([s.tvd for s in found if len(s.columns) == k])) for k in sizes}
    reference = {k: float(np.mean([s.reference for s in found if len(s.columns) == k]))
                 for k in sizes}
    worst = tuple(sorted(found, key=lambda s: -s.tvd)[:WORST])
    one_way = {}
    for a in real_train.attributes:
        real, synth = real_train.counts((a,)), synthetic.counts((a,))
        one_way[a] = {"real": (real / real.sum()).tolist(),
                      "synthetic": (synth / synth.sum()).tolist()}
    return Marginals(mean, reference, tuple(found), worst, one_way)


# --- associations -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Associations:
    """Bias-corrected Cramér's V of every attribute pair in the real training rows and in the
    synthetic table (symmetric matrices in ``attributes`` order, 1 on the diagonal), and how
    far apart they are over the pairs."""

    attributes: tuple[str, ...]
    real: list[list[float]]
    synthetic: list[list[float]]
    mean_abs_diff: float
    max_abs_diff: float
    worst_pair: tuple[str, str] | None

    def to_dict(self) -> dict[str, Any]:
        return {"measure": "cramers_v_bias_corrected", "attributes": list(self.attributes),
                "real": self.real, "synthetic": self.synthetic,
                "mean_abs_diff": self.mean_abs_diff, "max_abs_diff": self.max_abs_diff,
                "worst_pair": list(self.worst_pair) if self.worst_pair else None}


def _compact(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered over the levels that occur, and how many occur."""
    levels, inverse = np.unique(column, return_inverse=True)
    return inverse.ravel().astype(np.int64), len(levels)


def _cramers_v(x: tuple[np.ndarray, int], y: tuple[np.ndarray, int]) -> float:
    """Bergsma's (2013) bias-corrected Cramér's V of two compacted columns. Uncorrected V of
    two independent 100-code columns is ~0.05 on 40k rows from noise alone, which would read
    as structure the synthesizer kept; chi2 is summed over the filled cells only."""
    (ix, r), (iy, k) = x, y
    n = len(ix)
    if n < 2 or r < 2 or k < 2:
        return 0.0
    keys = ix * k + iy
    if r * k <= 4 * n:
        table = np.bincount(keys, minlength=r * k)
        cells = np.flatnonzero(table)
        counts = table[cells]
    else:
        cells, counts = np.unique(keys, return_counts=True)
    rows, cols = np.bincount(ix, minlength=r), np.bincount(iy, minlength=k)
    phi2 = float((counts.astype(np.float64) ** 2 / (rows[cells // k] * cols[cells % k])).sum()
                 - 1.0)
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(kc - 1, rc - 1)
    return float(min(1.0, math.sqrt(phi2 / denominator))) if denominator > 0 else 0.0


def _association_matrix(table: Coded, attributes: Sequence[str]) -> np.ndarray:
    size = len(attributes)
    compact = [_compact(np.asarray(table.columns[a])) for a in attributes]
    matrix = np.eye(size)
    for i, j in itertools.combinations(range(size), 2):
        matrix[i, j] = matrix[j, i] = _cramers_v(compact[i], compact[j])
    return matrix


def associations(real: Coded, synthetic: Coded) -> Associations:
    """Pairwise association of the real and the synthetic table and their difference.

    Every column is treated as nominal (codes carry no order a Pearson correlation could rely
    on for categories), so the measure is Cramér's V, 0 for independence and 1 for a function.
    """
    _check({"real": real, "synthetic": synthetic})
    attributes = real.attributes
    a, b = _association_matrix(real, attributes), _association_matrix(synthetic, attributes)
    upper = np.triu_indices(len(attributes), 1)
    diff = np.abs(a - b)[upper]
    worst = None
    if diff.size:
        at = int(np.argmax(diff))
        worst = (attributes[upper[0][at]], attributes[upper[1][at]])
    return Associations(attributes, a.tolist(), b.tolist(),
                        float(diff.mean()) if diff.size else 0.0,
                        float(diff.max()) if diff.size else 0.0, worst)


# --- train on synthetic, test on real -------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """One classifier's scores on the real test rows; ``curve`` is (fpr, tpr) at 101 evenly
    spaced false-positive rates."""

    accuracy: float
    auc: float
    curve: list[tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "auc": self.auc,
                "curve": [list(p) for p in self.curve]}


@dataclass(frozen=True)
class Tstr:
    """Train-on-synthetic, test-on-real: a classifier of ``target`` fitted on the synthetic
    table and, as the reference, on the real training rows, both scored on real test rows.

    ``positive`` is the positive class's code for a binary target; None means ``auc`` is the
    macro one-vs-rest AUC over the test rows' classes and ``curve`` the micro-averaged ROC."""

    target: str
    positive: int | None
    classes: int
    test_rows: int
    synthetic: Fit
    real: Fit

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "positive": self.positive, "classes": self.classes,
                "test_rows": self.test_rows, "synthetic": self.synthetic.to_dict(),
                "real": self.real.to_dict()}


def _probabilities(train: Coded, test: Coded, target: str, features: Sequence[str],
                   seed: int) -> np.ndarray:
    """P(class | features) for every test row and every code of ``target``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    y = np.asarray(train.columns[target])
    proba = np.zeros((test.rows, train.domain[target]))
    present = np.unique(y)
    if len(present) == 1:  # nothing to learn: the one class seen, always
        proba[:, present[0]] = 1.0
        return proba
    model = HistGradientBoostingClassifier(
        categorical_features=[train.domain[a] <= _CATEGORICAL_LIMIT for a in features],
        max_iter=100, early_stopping=False, random_state=seed)  # fixed size: no split-off rows
    # One OpenMP thread: on a busy machine the classifier's spinning threads were 10x slower
    # than one (measured on 2 shared cores), and one keeps the timing predictable.
    with threadpool_limits(1, user_api="openmp"):
        model.fit(_matrix(train, features).astype(np.float64), y)
        found = model.predict_proba(_matrix(test, features).astype(np.float64))
    proba[:, model.classes_] = found
    return proba


def _score(proba: np.ndarray, truth: np.ndarray, positive: int | None,
           labels: np.ndarray) -> Fit:
    from sklearn.metrics import roc_auc_score, roc_curve

    accuracy = float(np.mean(proba.argmax(axis=1) == truth))
    if positive is not None:
        hits, scores = truth == positive, proba[:, positive]
        auc = float(roc_auc_score(hits, scores))
    else:
        auc = float(np.mean([roc_auc_score(truth == c, proba[:, c]) for c in labels]))
        hits = (truth[:, None] == labels[None, :]).ravel()
        scores = proba[:, labels].ravel()
    fpr, tpr, _ = roc_curve(hits, scores)
    curve = [(float(a), float(t)) for a, t in zip(_ROC_GRID, np.interp(_ROC_GRID, fpr, tpr),
                                                   strict=True)]
    return Fit(accuracy, auc, curve)


def tstr(synthetic: Coded, real_train: Coded, real_test: Coded, target: str, *,
         seed: int = 0) -> Tstr:
    """Whether a model learnt from the synthetic table predicts ``target`` on real people
    about as well as one learnt from the real rows (scikit-learn's
    HistGradientBoostingClassifier, every feature a categorical code; a feature with more
    than 255 codes is taken as ordered, that being the classifier's limit).

    Binary target (two classes in the test rows): the positive class is code 1 when the
    target's domain is {0, 1}, else the test rows' rarer class; accuracy thresholds at 0.5.
    More classes: accuracy of the most probable class and macro one-vs-rest AUC."""
    _check({"real_train": real_train, "real_test": real_test, "synthetic": synthetic})
    if target not in real_train.domain:
        raise InputError(f"target {target!r} is not an attribute of the tables "
                         f"({', '.join(real_train.attributes)})")
    features = [a for a in real_train.attributes if a != target]
    if not features:
        raise InputError("train-on-synthetic needs at least one attribute besides the target")
    truth = np.asarray(real_test.columns[target])
    labels, counts = np.unique(truth, return_counts=True)
    if len(labels) < 2:
        raise InputError(f"the test rows hold one class of {target!r} only; an AUC needs two")
    positive = None
    if len(labels) == 2:
        binary = real_train.domain[target] == 2
        positive = 1 if binary else int(labels[np.argmin(counts)])
    fits = [_score(_probabilities(t, real_test, target, features, seed), truth, positive,
                   labels) for t in (synthetic, real_train)]
    return Tstr(target, positive, len(labels), real_test.rows, *fits)


# --- privacy --------------------------------------------------------------------------------

def closest(queries: np.ndarray, reference: np.ndarray, *,
            split: int | None = None) -> tuple[np.ndarray, ...]:
    """Exact Hamming distances (attributes that differ) between coded rows, without holding
    the queries x reference matrix: blocks of query rows are compared attribute by attribute
    in uint8, a block small enough to stay in cache (40k x 40k rows of 15 attributes take
    seconds).

    Returns, for each query row, its distance to the closest reference row (two arrays when
    ``split`` cuts the reference in two: to rows before and from ``split``), then for each
    reference row its distance to the closest query row and how many query rows lie at it."""
    queries, reference = np.asarray(queries), np.asarray(reference)
    n, width = queries.shape
    m = len(reference)
    cut = m if split is None else split
    dtype = np.uint8 if width < 256 else np.uint16
    columns = np.ascontiguousarray(reference.T)
    near = [np.empty(n, dtype), np.empty(n, dtype)]
    best = np.zeros(m, dtype)
    count = np.zeros(m, np.int64)
    step = max(1, _CELLS // max(m, 1))
    matches, same = np.empty((step, m), dtype), np.empty((step, m), bool)
    for start in range(0, n, step):
        block = queries[start:start + step]
        k = len(block)
        acc, eq = matches[:k], same[:k]
        acc[...] = 0
        for a in range(width):
            np.equal(block[:, a, None], columns[a], out=eq)
            np.add(acc, eq, out=acc)
        if cut:
            near[0][start:start + k] = acc[:, :cut].max(axis=1)
        if cut < m:
            near[1][start:start + k] = acc[:, cut:].max(axis=1)
        top = acc.max(axis=0)
        better = top > best
        count[better] = 0
        np.maximum(best, top, out=best)
        np.equal(acc, best, out=eq)
        count += eq.sum(axis=0)
    to_query = width - best.astype(np.int64)
    if split is None:
        return width - near[0].astype(np.int64), to_query, count
    return (width - near[0].astype(np.int64), width - near[1].astype(np.int64), to_query,
            count)


@dataclass(frozen=True)
class Privacy:
    """How close the synthetic rows are to the people fitted, against people never seen.

    ``compared`` rows are drawn from each of real_train and real_holdout (equal sizes, so
    neither set is closer just by being larger). ``dcr_*`` summarise each synthetic row's
    distance to the closest row of each sample (Hamming: attributes that differ);
    ``dcr_counts`` count synthetic rows per distance 0..attributes. ``closer_to_train`` is the
    share of synthetic rows nearer the train sample than the holdout sample (ties count half):
    0.5 when nothing is memorised. ``copies_*`` are shares of synthetic rows identical to some
    row of all real_train, of the train sample, and of all real_holdout (the base rate: real
    data repeats itself). ``membership`` is the ROC of an attack scoring each sampled real row
    by closeness to the synthetic table; ``ceiling`` the most any attack's TPR could be at
    each low FPR under the synthesizer's (epsilon, delta), when given."""

    compared: int
    dcr_train: dict[str, float]
    dcr_holdout: dict[str, float]
    dcr_counts: dict[str, list[int]]
    closer_to_train: float
    copies_train: float
    copies_train_sample: float
    copies_holdout: float
    membership: Roc
    ceiling: dict[str, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {"compared": self.compared, "dcr_train": self.dcr_train,
                "dcr_holdout": self.dcr_holdout, "dcr_counts": self.dcr_counts,
                "closer_to_train": self.closer_to_train, "copies_train": self.copies_train,
                "copies_train_sample": self.copies_train_sample,
                "copies_holdout": self.copies_holdout,
                "membership": self.membership.to_dict(), "ceiling": self.ceiling}


def _summary(distances: np.ndarray) -> dict[str, float]:
    found = {"mean": float(distances.mean()), "min": float(distances.min())}
    found |= {name: float(np.quantile(distances, q)) for name, q in _QUANTILES.items()}
    return found


def _copies(synthetic: np.ndarray, *references: np.ndarray) -> list[float]:
    """Share of synthetic rows equal to some row of each reference (rows hashed together)."""
    stacked = np.concatenate([synthetic, *references])
    keys = np.unique(stacked, axis=0, return_inverse=True)[1].ravel()
    parts = np.split(keys, np.cumsum([len(synthetic), *(len(r) for r in references)])[:-1])
    return [float(np.isin(parts[0], part).mean()) for part in parts[1:]]


def _ceiling(epsilon: float | None, delta: float | None) -> dict[str, float] | None:
    if epsilon is None:
        return None
    return {f"tpr@{a:g}": dp_tpr_bound(a, epsilon, delta or 0.0) for a in LOW_FPR}


def privacy(real_train: Coded, real_holdout: Coded, synthetic: Coded, *,
            epsilon: float | None = None, delta: float | None = None, seed: int = 0) -> Privacy:
    """Closest-record distances, exact copies and a membership attack (members: a sample of
    training rows; non-members: as many holdout rows). The attack scores a candidate by
    minus its distance to the closest synthetic row, ties broken by how many synthetic rows
    lie that close: a synthesizer that copies or overfits people puts rows on top of them.

    People identical on every attribute are one point to any attack on these columns, so in
    data with many repeated records (binned census data) the TPR at 1 % FPR stays low even
    for a table that copies its training rows; the AUC and the copy rates still show it."""
    _check({"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic},
           least=2)
    attributes = real_train.attributes
    train, holdout = _matrix(real_train, attributes), _matrix(real_holdout, attributes)
    synth = _matrix(synthetic, attributes)
    rng = np.random.default_rng(seed)
    m = min(len(train), len(holdout))
    members = train[np.sort(rng.choice(len(train), m, replace=False))]
    others = holdout[np.sort(rng.choice(len(holdout), m, replace=False))]
    to_train, to_holdout, to_synth, near = closest(synth, np.concatenate([members, others]),
                                                   split=m)
    score = -to_synth + near / (near + 1.0)
    attack = roc(score[:m], score[m:], seed=seed)
    closer = float(np.mean(to_train < to_holdout) + 0.5 * np.mean(to_train == to_holdout))
    copies_train, copies_sample, copies_holdout = _copies(synth, train, members, holdout)
    width = len(attributes) + 1
    counts = {"train": np.bincount(to_train, minlength=width).tolist(),
              "holdout": np.bincount(to_holdout, minlength=width).tolist()}
    return Privacy(m, _summary(to_train), _summary(to_holdout), counts, closer, copies_train,
                   copies_sample, copies_holdout, attack, _ceiling(epsilon, delta))


# --- everything -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """Every utility and privacy figure of one synthetic table (``tstr`` None without a
    target); ``seconds`` is the time each part took."""

    attributes: tuple[str, ...]
    rows: dict[str, int]
    marginals: Marginals
    associations: Associations
    tstr: Tstr | None
    privacy: Privacy
    epsilon: float | None
    delta: float | None
    seed: int
    seconds: dict[str, float]

    def summary(self) -> dict[str, float | int | str]:
        """The headline figures, flat: numbers only, no row of anyone's data."""
        found: dict[str, float | int | str] = {
            f"tvd_{k}way": v for k, v in self.marginals.mean.items()}
        found["assoc_mean_abs_diff"] = self.associations.mean_abs_diff
        if self.tstr is not None:
            found |= {"tstr_target": self.tstr.target, "tstr_auc_synthetic":
                      self.tstr.synthetic.auc, "tstr_auc_real": self.tstr.real.auc,
                      "tstr_accuracy_synthetic": self.tstr.synthetic.accuracy,
                      "tstr_accuracy_real": self.tstr.real.accuracy}
        p = self.privacy
        found |= {"copies_train": p.copies_train,
                  "copies_train_sample": p.copies_train_sample,  # as many rows as holdout
                  "copies_holdout": p.copies_holdout,
                  "dcr_median_train": p.dcr_train["median"],
                  "dcr_median_holdout": p.dcr_holdout["median"],
                  "closer_to_train": p.closer_to_train, "membership_auc": p.membership.auc,
                  "membership_tpr@0.01": p.membership.tpr[0.01]}
        if p.ceiling is not None:
            found["dp_ceiling_tpr@0.01"] = p.ceiling["tpr@0.01"]
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"attributes": list(self.attributes), "rows": self.rows,
                "epsilon": self.epsilon, "delta": self.delta, "seed": self.seed,
                "summary": self.summary(), "marginals": self.marginals.to_dict(),
                "associations": self.associations.to_dict(),
                "tstr": self.tstr.to_dict() if self.tstr is not None else None,
                "privacy": self.privacy.to_dict(), "seconds": self.seconds}


def evaluate(real_train: Coded, real_holdout: Coded, synthetic: Coded, *,
             target: str | None = None, workload: Iterable[Sequence[str]] | None = None,
             epsilon: float | None = None, delta: float | None = None,
             seed: int = 0) -> Evaluation:
    """Marginals, associations, TSTR (when ``target`` is given; tested on the holdout) and
    the privacy checks of ``synthetic``, with the DP ceiling when ``epsilon`` is given."""
    tables = {"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic}
    _check(tables, least=2)
    if epsilon is not None and not (math.isfinite(epsilon) and epsilon > 0):
        raise InputError(f"epsilon must be a positive number, not {epsilon!r}")
    if delta is not None:
        if epsilon is None:
            raise InputError("delta was given without epsilon")
        if not 0 <= delta < 1:
            raise InputError(f"delta must be in [0, 1), not {delta!r}")
    if target is not None and target not in real_train.domain:
        raise InputError(f"target {target!r} is not an attribute of the tables "
                         f"({', '.join(real_train.attributes)})")
    cliques = _cliques(real_train.attributes, workload)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    found_marginals = marginals(real_train, real_holdout, synthetic, cliques)
    lap("marginals")
    found_associations = associations(real_train, synthetic)
    lap("associations")
    found_tstr = None
    if target is not None:
        found_tstr = tstr(synthetic, real_train, real_holdout, target, seed=seed)
        lap("tstr")
    found_privacy = privacy(real_train, real_holdout, synthetic, epsilon=epsilon, delta=delta,
                            seed=seed)
    lap("privacy")
    rows = {name: table.rows for name, table in tables.items()}
    return Evaluation(real_train.attributes, rows, found_marginals, found_associations,
                      found_tstr, found_privacy, epsilon,
                      None if epsilon is None else (delta or 0.0), seed, seconds)
