"""Synthetic releases inside a workspace: a DP synthetic copy of a dataset version, paid from
its privacy budget, stored as a sealed release with its guarantee and lineage, and evaluated
against the real rows it was and was not fitted on.

The steps, and why they keep the guarantee:

- **Domain from public metadata only.** Numeric columns are cut into bins over the bounds the
  dataset's DP settings declare, other columns take the declared public keys (Booleans their
  two values). A column with neither is refused by name: a domain read off the data would leak
  (a rare value's existence), and would differ between neighbouring tables.
- **One row per person.** The rows the purpose may use, then one row per subject chosen by a
  seeded random key, so a person's whole contribution is one record: the synthesizer's
  add/remove-one-record guarantee is a per-person one. Rows outside the public domain (a
  category not declared, a missing number) are dropped; each row is kept or dropped on its own
  values, so this is a stable step that does not weaken the guarantee.
- **Holdout.** A share of the people is held out of the fit (never measured) so that the
  evaluation can compare the synthetic table's closeness to people it saw and people it did not.
- **Budget first.** The spend is debited before any measurement, (epsilon, delta) from an
  approximate-DP budget or the equivalent rho from a zCDP one (OpenDP's conversion, the same
  :func:`~veil.synth.measure.rho_for` the synthesizers calibrate to); a failed fit keeps it
  spent, since the data was touched. The fit's own spends, read from OpenDP's privacy maps, are
  checked to sum to no more than the rho debited before anything is stored.
- **Sampling and decoding are post-processing** (no budget): numbers are drawn uniformly within
  their bin, so the release has no more precision than its bins.

The evaluation reads real rows and is not differentially private: it is for the data owner
(it needs the same right on the source as making the release did) and says so in its report.
"""

from __future__ import annotations

import json
import math
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.access.scope import Scope
from veil.anonymize.workflow import check_names, store_release
from veil.dp import budget as dp_budget
from veil.dp.execute import Cost, Settings
from veil.errors import InputError
from veil.synth.discretize import Binned, Categorical, Coded, Spec, decode, encode
from veil.synth.measure import rho_for
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store

__all__ = ["METHODS", "Split", "Synthetic", "card", "evaluate", "specs", "split", "synthesize"]

METHODS = ("aim", "mst")
SOURCE = "synthesize"  # the provenance source of a synthetic release
_INTEGER = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
_FLOAT = ("Float32", "Float64")
MAX_ROWS = 10_000_000


@dataclass(frozen=True)
class Synthetic:
    """A stored synthetic release and what made it."""

    record: DatasetVersion
    privacy: dict[str, Any]
    fit_seconds: float


def specs(record: DatasetVersion, settings: Settings, columns: Sequence[str], bins: int
          ) -> dict[str, Spec]:
    """Each column's public domain: bins over declared bounds, declared public keys, or a
    Boolean's two values; anything else is refused by name."""
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1_000:
        raise InputError(f"bins must be a whole number from 2 to 1000; got {bins!r}")
    found: dict[str, Spec] = {}
    for column in columns:
        dtype = record.schema[column].split("(")[0]
        if column in settings.bounds:
            if dtype not in _INTEGER + _FLOAT:
                raise InputError(f"column {column!r} has bounds but is {dtype}, not numeric")
            lower, upper = settings.bounds[column]
            whole = dtype in _INTEGER and float(lower).is_integer() and float(upper).is_integer()
            if whole and upper - lower + 1 <= bins:  # one bin per whole number: exact values
                found[column] = Binned(tuple(lower - 0.5 + i for i in range(
                    int(upper - lower) + 2)), whole=True)
            else:
                found[column] = Binned.uniform(float(lower), float(upper), bins,
                                               whole=dtype in _INTEGER)
        elif column in settings.public_keys:
            found[column] = Categorical(tuple(settings.public_keys[column]))
        elif dtype == "Boolean":
            found[column] = Categorical((False, True))
        else:
            msg = (f"column {column!r} has no public domain: declare its bounds (numbers) or "
                   f"public keys (categories) with dp_settings first, or leave it out; a "
                   f"domain read off the data would leak")
            raise InputError(msg)
    return found


@dataclass(frozen=True)
class Split:
    """The coded rows a synthesizer was fitted on and the people held out of it."""

    train: Coded
    holdout: Coded


def _in_domain(frame: pl.DataFrame, domain: Mapping[str, Spec]) -> pl.DataFrame:
    """The rows whose every value has a code (each row judged on its own values)."""
    keep = pl.lit(True)
    for column, spec in domain.items():
        if isinstance(spec, Categorical):
            values = [v for v in spec.categories if v is not None]
            inside = pl.col(column).is_in(values)
            if None in spec.categories:
                inside = inside | pl.col(column).is_null()
            keep = keep & inside.fill_null(False)
        else:
            keep = keep & pl.col(column).is_not_null() & pl.col(column).cast(
                pl.Float64).is_not_nan()
    return frame.filter(keep)


def split(frame: pl.DataFrame, scope: Scope, subject_id: str, domain: Mapping[str, Spec], *,
          holdout: float, seed: int) -> tuple[Split, int]:
    """One row per person (the one with the lowest seeded random key), people held out by
    the same key, then ``domain``'s columns coded; with how many rows ``scope`` left out. The
    keys are drawn over the stored rows before the scope filters them, so the same seed gives
    the same split later, for the evaluation, even if consent changed in between."""
    keys = np.random.default_rng(seed).random(frame.height)
    per_person = bool(subject_id) and subject_id in frame.columns
    frame = frame.select([*domain, *([subject_id] if per_person else [])]).with_columns(
        pl.Series("__veil_key", keys))
    frame, left_out = scope.filter(frame, subject_id)
    if per_person:
        frame = frame.filter(pl.col("__veil_key") == pl.col("__veil_key").min().over(subject_id))
    frame = _in_domain(frame, domain)
    # The key decides both the row kept and the side; rescaled so the side is a fresh draw.
    side = (frame["__veil_key"].to_numpy() * 7919.0) % 1.0
    held = side < holdout
    coded = encode(frame, domain)
    return Split(_rows(coded, ~held), _rows(coded, held)), left_out


def _rows(coded: Coded, mask: np.ndarray) -> Coded:
    return Coded({a: c[mask] for a, c in coded.columns.items()}, dict(coded.domain))


def _spend(store: Store, dataset: str, epsilon: float, delta: float) -> tuple[Cost, float]:
    """The cost to debit and the rho the synthesizer may spend."""
    rho = rho_for(epsilon, delta)
    measure = dp_budget.remaining(store.conn, dataset).budget.measure
    return (Cost(rho=rho) if measure == "zcdp" else Cost(epsilon=epsilon, delta=delta)), rho


def _check_request(epsilon: Any, delta: Any, method: str, rows: Any, holdout: Any) -> None:
    for name, value in (("epsilon", epsilon), ("delta", delta), ("holdout", holdout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise InputError(f"{name} must be a finite number; got {value!r}")
    if epsilon <= 0:
        raise InputError(f"epsilon must be > 0; got {epsilon!r}")
    if not 0 < delta < 1:
        raise InputError(f"delta must be in (0, 1); got {delta!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int)
                             or not 1 <= rows <= MAX_ROWS):
        raise InputError(f"rows must be a whole number from 1 to {MAX_ROWS:,}; got {rows!r}")
    if not 0 <= holdout < 1:
        raise InputError(f"holdout must be a share in [0, 1); got {holdout!r}")


def synthesize(store: Store, scope: Scope, record: DatasetVersion, settings: Settings, *,
               columns: Sequence[str], epsilon: float, delta: float, method: str,
               rows: int | None, bins: int, holdout: float, target: str, seed: int | None,
               progress: Callable[[float], None] | None) -> Synthetic:
    """Fit ``method`` to ``columns`` of ``record`` under (epsilon, delta)-DP, spending from
    the dataset's budget, and store ``rows`` synthetic records (default: the model's noisy
    estimate of how many people were fitted) as release ``target``. Everything that can be
    refused is refused before the budget is touched."""
    from veil.synth.aim import fit_aim
    from veil.synth.mst import fit_mst

    _check_request(epsilon, delta, method, rows, holdout)
    if len(columns) < 2:
        raise InputError("a synthetic table needs at least two columns")
    if record.subject_id in columns:
        raise InputError(f"{record.subject_id!r} identifies people; it cannot be synthesized")
    check_names(store, record, target, with_map=False)
    domain = specs(record, settings, columns, bins)
    cost, rho = _spend(store, record.dataset, float(epsilon), float(delta))
    split_seed = secrets.randbits(63) if seed is None else seed
    parts, left_out = split(store.cached(record)[0], scope, record.subject_id, domain,
                            holdout=holdout, seed=split_seed)
    if parts.train.rows < 2:
        raise InputError(f"{record.ref} has {parts.train.rows} usable rows to fit on")
    request = {"synthesize": target, "method": method, "columns": list(columns), "bins": bins}
    with store.transaction() as now:
        binding.check_dataset(store.conn, record.dataset)
        key = f"synth-{uuid.uuid4().hex}"
        left = dp_budget.debit(store.conn, record.dataset, record.version, scope.principal,
                               json.dumps(request, sort_keys=True), key, cost,
                               {"release": target}, now)
        store.log(now, scope, "synth.spend", record.ref, release=target, method=method,
                  spent=cost.__dict__, remaining=left.left.__dict__,
                  bind=binding.bind_spend(store.conn, key), **scope.left_out(left_out))
    fit = fit_aim if method == "aim" else fit_mst
    model = fit(parts.train, float(epsilon), float(delta), progress=progress)
    spent = math.fsum(s.rho for s in model.spends)
    if spent > rho * (1 + 1e-9):  # pragma: no cover - the Accountant refuses this first
        raise RuntimeError(f"the fit spent rho {spent} over the {rho} debited")
    # The default size is the model's own noisy total, not the true count of people fitted,
    # which would be a release without noise.
    count = rows or max(1, round(float(model.model.total)))
    start = time.perf_counter()
    sample_seed = (split_seed ^ 0x5EED) % 2**32  # numpy's legacy seeding takes 32 bits
    coded = model.sample(count, seed=sample_seed)
    synthetic = _typed(decode(coded, domain, rng=np.random.default_rng(sample_seed)), record,
                       domain)
    privacy = {"epsilon": float(epsilon), "delta": float(delta), "rho": rho, "rho_spent": spent,
               "measurements": len(model.spends), "accountant": "OpenDP zCDP privacy maps",
               "unit": "one person (one row per subject)", "method": method}
    provenance = {
        "source": SOURCE, "from": record.ref, "method": method, "privacy": privacy,
        "columns": list(columns), "domain": _describe(domain), "rows": count,
        "fitted_rows": parts.train.rows, "held_out_rows": parts.holdout.rows,
        "split": {"seed": split_seed, "holdout": holdout},
        "cliques": [list(c) for c in model.cliques],
        "fit_seconds": round(model.fit_seconds, 3),
        "sample_seconds": round(time.perf_counter() - start, 3)}
    provenance["card_markdown"] = card(target, provenance)
    stored = store_release(store, scope, synthetic, target, "", provenance, "dataset.synthesize",
                           None, guarantee={"epsilon": float(epsilon), "delta": float(delta),
                                            "rho": rho})
    return Synthetic(stored, privacy, model.fit_seconds)


def _typed(frame: pl.DataFrame, record: DatasetVersion, domain: Mapping[str, Spec]
           ) -> pl.DataFrame:
    """Decoded values in their source column's type (whole numbers rounded)."""
    cast = []
    for column, spec in domain.items():
        dtype = record.schema[column].split("(")[0]
        if isinstance(spec, Binned) and dtype in _INTEGER:
            cast.append(pl.col(column).round(0).cast(pl.Int64))
    return frame.with_columns(cast) if cast else frame


def _describe(domain: Mapping[str, Spec]) -> dict[str, Any]:
    """The public domain as JSON (public keys are JSON values already)."""
    return {c: ({"bins": list(s.edges), "whole": s.whole} if isinstance(s, Binned) else
                {"categories": list(s.categories)}) for c, s in domain.items()}


def _domain(described: Mapping[str, Any]) -> dict[str, Spec]:
    return {c: Binned(tuple(d["bins"]), d["whole"]) if "bins" in d else
            Categorical(tuple(d["categories"])) for c, d in described.items()}


def card(name: str, provenance: Mapping[str, Any]) -> str:
    """A synthetic release's card: what it is, its guarantee and what that does not cover."""
    p = provenance["privacy"]
    lines = [
        f"# Synthetic release {name}",
        "",
        f"- Source: {provenance['from']} ({provenance['fitted_rows']:,} people fitted, "
        f"{provenance['held_out_rows']:,} held out for evaluation)",
        f"- Method: {provenance['method'].upper()} (private-pgm graphical model), "
        f"{provenance['rows']:,} rows sampled",
        f"- Guarantee: ({p['epsilon']:g}, {p['delta']:g})-differential privacy per person, "
        f"from rho = {p['rho']:.6g} zCDP ({p['measurements']} measurements; "
        f"{p['rho_spent']:.6g} spent by OpenDP's privacy maps)",
        f"- Columns: {', '.join(provenance['columns'])}",
        f"- Marginals measured beyond 1-way: "
        f"{'; '.join(','.join(c) for c in provenance['cliques']) or 'none'}",
        "",
        "The guarantee covers every use of this table. It keeps low-order statistics, not rare "
        "combinations, outliers or columns left out; numbers are drawn within their bins.",
    ]
    return "\n".join(lines)


def evaluate(store: Store, scope: Scope, record: DatasetVersion, source: DatasetVersion, *,
             target: str | None, workload: Sequence[Sequence[str]] | None) -> Any:
    """Evaluate synthetic release ``record`` against the real rows of ``source`` that
    ``scope`` may use: the same split as the fit, recomputed from the stored seed, so "train"
    is the people the synthesizer saw and "holdout" those it did not."""
    from veil.synth import evaluate as metrics

    provenance = record.provenance
    columns = provenance["columns"]
    domain = _domain(provenance["domain"])
    parts, left_out = split(store.cached(source)[0], scope, source.subject_id, domain,
                            holdout=provenance["split"]["holdout"],
                            seed=provenance["split"]["seed"])
    synthetic = encode(store.open_version(record).select(columns), domain)
    p = provenance["privacy"]
    found = metrics.evaluate(parts.train, parts.holdout, synthetic, target=target,
                             workload=workload, epsilon=p["epsilon"], delta=p["delta"])
    with store.transaction() as now:
        store.log(now, scope, "synth.evaluate", record.ref, source=source.ref,
                  summary=found.summary(), **scope.left_out(left_out))
    return found
