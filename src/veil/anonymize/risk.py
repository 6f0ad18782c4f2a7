"""Re-identification risk of a release, measured on the released table (El Emam's attackers).

Released records with the same quasi-identifier values form a class of ``f`` records; an
attacker who links a person to the class picks one of its records at random.

* *Prosecutor*: the attacker knows the person is in the release, so the risk of a record is
  ``1/f``. ``prosecutor_max`` is ``1/min f``, ``prosecutor_average`` the mean over records
  (classes over records), ``records_at_risk`` the share of records whose risk exceeds the
  threshold (0.2: classes smaller than 5) and ``sample_uniques`` the share alone in a class.
* *Journalist*: the attacker does not know who is in the release and links through a
  population (a census, or the full source table), where the class matches ``F >= f`` people:
  risk ``1/F``. ``F`` counts the population records whose raw values the class's released
  cells all cover (:func:`veil.anonymize.utility.covered`); a population value that the
  hierarchy does not list is matched only by ``*``, so ``F`` errs low and the risk high.
  Without a population the release is its own population (``population == "release"``) and
  the journalist figures equal the prosecutor's.
* *Marketer*: the expected share of records re-identified when linking everyone,
  ``sum f/F`` over classes divided by the released records.

``highest_risk`` and ``average_risk`` are the prosecutor's figures: the attacker who knows the
person is in the release is the strongest, and a population lowers the risk only for the
others. :func:`risk_of_table` gives the same figures for raw data, before anonymization.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import polars as pl

from veil.anonymize.hierarchy import Hierarchy, as_strings
from veil.anonymize.utility import covered
from veil.errors import InputError

__all__ = ["RiskReport", "reidentification_risk", "risk_of_table"]


@dataclass(frozen=True)
class RiskReport:
    """Re-identification risk of the released records (see the module docstring)."""

    records: int  # released records
    suppressed_records: int
    classes: int
    threshold: float
    prosecutor_max: float
    prosecutor_average: float
    records_at_risk: float
    sample_uniques: float
    population: Literal["release", "given"]
    population_records: int
    journalist_max: float
    journalist_records_at_risk: float
    marketer: float
    highest_risk: float
    average_risk: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def reidentification_risk(generalized: pl.DataFrame, suppressed: pl.Series,
                          quasi_identifiers: Sequence[str], *,
                          hierarchies: Mapping[str, Hierarchy] | None = None,
                          population: pl.DataFrame | None = None,
                          threshold: float = 0.2) -> RiskReport:
    """Risk of the records of ``generalized`` that ``suppressed`` does not remove.

    ``population`` holds raw quasi-identifier values of a superset of the released people;
    ``hierarchies`` say what a released value covers in it. Raises :class:`InputError` when a
    class matches fewer people in the population than it holds.
    """
    qi = _check(generalized, "generalized", quasi_identifiers, threshold)
    if len(suppressed) != generalized.height:
        msg = (f"suppressed has {len(suppressed)} entries for the generalized table's "
               f"{generalized.height} rows; give one per row")
        raise InputError(msg)
    if suppressed.dtype != pl.Boolean or suppressed.null_count():
        msg = (f"suppressed must be a Boolean series without nulls (True = left out); "
               f"got {suppressed.dtype} with {suppressed.null_count()} nulls")
        raise InputError(msg)
    kept = generalized.filter(~suppressed)
    cells = _cells(kept, qi)
    for j, name in enumerate(qi):
        nulls = cells[f"c{j}"].null_count()
        if nulls:
            raise InputError(f"generalized column {name!r} has {nulls} null cells in kept rows")
    classes = cells.group_by(cells.columns).len("f")
    if population is None:
        sizes = classes.with_columns(pl.col("f").alias("F"))
        population_records = kept.height
    else:
        _check(population, "population", qi, threshold)
        sizes = _population_sizes(classes, population, qi, hierarchies or {})
        population_records = population.height
    return _report(sizes, generalized.height - kept.height, threshold,
                   "release" if population is None else "given", population_records)


def risk_of_table(frame: pl.DataFrame, quasi_identifiers: Sequence[str],
                  threshold: float = 0.2) -> RiskReport:
    """Risk of ``frame`` released as it is (raw values; a null is a value like any other)."""
    qi = _check(frame, "table", quasi_identifiers, threshold)
    cells = _cells(frame, qi)
    sizes = cells.group_by(cells.columns).len("f").with_columns(pl.col("f").alias("F"))
    return _report(sizes, 0, threshold, "release", frame.height)


# ---- helpers


def _check(frame: pl.DataFrame, table: str, quasi_identifiers: Sequence[str],
           threshold: float) -> list[str]:
    qi = list(quasi_identifiers)
    if not qi:
        raise InputError("give at least one quasi-identifier")
    if len(set(qi)) != len(qi):
        raise InputError(f"quasi-identifiers are listed more than once: {qi}")
    missing = [q for q in qi if q not in frame.columns]
    if missing:
        raise InputError(f"quasi-identifier(s) {missing} are not columns of the {table}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
            0 < threshold <= 1):
        raise InputError(f"risk threshold must be a probability in (0, 1]; got {threshold!r}")
    return qi


def _cells(frame: pl.DataFrame, qi: Sequence[str]) -> pl.DataFrame:
    """The quasi-identifiers as strings, named ``c0, c1...`` (no clash with counts)."""
    return pl.DataFrame([as_strings(frame[q]).rename(f"c{j}") for j, q in enumerate(qi)])


def _population_sizes(classes: pl.DataFrame, population: pl.DataFrame, qi: Sequence[str],
                      hierarchies: Mapping[str, Hierarchy]) -> pl.DataFrame:
    """``classes`` with ``F``: the population records each class covers."""
    raw = _cells(population, qi).rename({f"c{j}": f"r{j}" for j in range(len(qi))})
    for j, name in enumerate(qi):
        if raw[f"r{j}"].null_count():
            msg = (f"population column {name!r} has {raw[f'r{j}'].null_count()} null values; "
                   "give nulls a value (or drop those rows) first")
            raise InputError(msg)
    matches = raw.group_by(raw.columns).len("F")
    for j, name in enumerate(qi):
        pairs = covered(name, classes[f"c{j}"].unique().to_list(),
                        raw[f"r{j}"].unique().to_list(), hierarchy=hierarchies.get(name),
                        numeric=population.schema[name].is_numeric())
        prefix = [f"c{i}" for i in range(j + 1)]
        matches = (matches.join(pairs.rename({"released": f"c{j}", "raw": f"r{j}"}),
                                on=f"r{j}", how="inner")
                   .drop(f"r{j}")
                   .join(classes.select(prefix).unique(), on=prefix, how="semi"))
    keys = [f"c{j}" for j in range(len(qi))]
    totals = matches.group_by(keys).agg(pl.col("F").sum())
    sizes = classes.join(totals, on=keys, how="left").with_columns(pl.col("F").fill_null(0))
    short = sizes.filter(pl.col("F") < pl.col("f"))
    if short.height:
        msg = (f"the population is not a superset of the release: {short.height} class(es) "
               f"match fewer population records than they hold ({int(short['f'].sum())} "
               f"released, {int(short['F'].sum())} in the population)")
        raise InputError(msg)
    return sizes


def _report(sizes: pl.DataFrame, suppressed: int, threshold: float,
            population: Literal["release", "given"], population_records: int) -> RiskReport:
    """The figures from each class's released size ``f`` and population size ``F``; all 0
    when every record is suppressed (no one is exposed)."""
    f = sizes["f"].to_numpy().astype(float)
    big_f = sizes["F"].to_numpy().astype(float)
    records = max(float(f.sum()), 1.0)  # 1 for an empty release: every sum below is then 0
    prosecutor_max = float(1.0 / f.min(initial=np.inf))
    prosecutor_average = len(f) / records
    return RiskReport(
        records=int(f.sum()),
        suppressed_records=suppressed,
        classes=sizes.height,
        threshold=float(threshold),
        prosecutor_max=prosecutor_max,
        prosecutor_average=prosecutor_average,
        records_at_risk=float(f[1.0 / f > threshold].sum() / records),
        sample_uniques=float(f[f == 1].sum() / records),
        population=population,
        population_records=population_records,
        journalist_max=float(1.0 / big_f.min(initial=np.inf)),
        journalist_records_at_risk=float(f[1.0 / big_f > threshold].sum() / records),
        marketer=float((f / big_f).sum() / records),
        highest_risk=prosecutor_max,
        average_risk=prosecutor_average,
    )
