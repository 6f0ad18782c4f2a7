"""How much a release still says: information loss measured on the generalized table itself.

Every figure here is computed from the released strings, not from the search's codes or
levels, so it doubles as an independent check of what the search claims; the one exception is
:func:`generalization_height`, which needs the levels. A released cell stands for the raw
values it *covers* (:func:`covered`): the raw values under it in the attribute's hierarchy (at
any level), the whole domain for ``*``, the numbers inside a Mondrian interval ``[lo, hi]``,
or else itself. A released cell that does not cover its record's original value is refused:
the release does not come from this table.

* ``ncp``: Normalized Certainty Penalty (Xu et al. 2006, also called GCP), the mean over every
  quasi-identifier cell of every record of the share of the domain the cell covers: for a
  numeric attribute ``(max - min of covered) / (max - min of the domain)``, otherwise
  ``(|covered| - 1) / (|domain| - 1)``; a suppressed record costs 1 per cell. 0 is the raw
  table, 1 total suppression.
* ``discernibility``: ``sum |E|^2`` over released classes plus ``n`` per suppressed record
  (Bayardo and Agrawal 2005).
* ``average_class_size`` and ``normalized_average_class_size`` (C_AVG, LeFevre et al. 2006):
  released records per class, and that over ``k``.
* ``non_uniform_entropy`` (Gionis and Tassa 2009), in bits: per record and attribute
  ``-log2 P(raw value | released value)``, estimated on the original table and summed; a
  suppressed record is released as ``*``.

:func:`classification_accuracy` and :func:`accuracy_report` measure utility for one task: how
well a logistic regression learns a target from the release compared with the original.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from veil.anonymize.hierarchy import TOP, Hierarchy, as_strings
from veil.errors import HierarchyError, InputError

__all__ = [
    "UtilityReport",
    "accuracy_report",
    "classification_accuracy",
    "covered",
    "generalization_height",
    "utility",
]

_INTERVAL = re.compile(r"^\[\s*([^,\s]+)\s*,\s*([^\]\s]+)\s*\]$")
_NULL = "\0null"  # the category of a null feature value (no real value looks like it)
_TEST_SHARE = 0.3


@dataclass(frozen=True)
class UtilityReport:
    """Information loss of one release (see the module docstring for each figure)."""

    records: int
    suppressed_records: int
    classes: int
    ncp: float
    discernibility: float
    average_class_size: float | None  # None when every record is suppressed
    normalized_average_class_size: float | None  # None without k or without released records
    non_uniform_entropy: float
    generalization_height: float | None  # None without levels (Mondrian has none)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def covered(attribute: str, released: Iterable[str], domain: Sequence[str], *,
            hierarchy: Hierarchy | None = None, numeric: bool = False) -> pl.DataFrame:
    """Each released value with every raw value it covers, one pair per row (columns
    ``released`` and ``raw``, strings).

    ``*`` (and the hierarchy's top value) covers all of ``domain``, even values the hierarchy
    does not list; another value found in ``hierarchy`` covers the raw values under it, taken
    over every level it appears at (a reader cannot tell the levels apart); when ``numeric``,
    ``[lo, hi]`` covers the numbers of ``domain`` from ``lo`` to ``hi``; any other value
    covers itself.
    """
    under: dict[str, set[str]] = {}
    tops = {TOP}
    if hierarchy is not None:
        for row in hierarchy.rows:
            for value in row:
                under.setdefault(value, set()).add(row[0])
        if hierarchy.height:
            tops.add(hierarchy.rows[0][-1])
    numbers, keys = np.zeros(0), np.zeros(0, dtype=object)
    if numeric:
        numbers = _numbers(attribute, domain)
        order = np.argsort(numbers, kind="stable")
        numbers, keys = numbers[order], np.asarray(domain, dtype=object)[order]
    released_out: list[str] = []
    raw_out: list[str] = []
    for value in dict.fromkeys(released):
        if value in tops:
            raws: Iterable[str] = domain
        elif value in under:
            raws = under[value]
        elif numeric and (bounds := _interval(attribute, value)) is not None:
            lo, hi = bounds
            raws = keys[np.searchsorted(numbers, lo, "left"):np.searchsorted(numbers, hi, "right")]
        else:
            raws = (value,)
        start = len(raw_out)
        raw_out.extend(raws)
        released_out.extend([value] * (len(raw_out) - start))
    return pl.DataFrame({"released": released_out, "raw": raw_out},
                        schema={"released": pl.String, "raw": pl.String})


def generalization_height(levels: Sequence[int], hierarchies: Mapping[str, Hierarchy],
                          quasi_identifiers: Sequence[str]) -> float:
    """The levels' sum over the hierarchies' heights: 0 for raw data, 1 for all ``*``."""
    if len(levels) != len(quasi_identifiers):
        msg = (f"got {len(levels)} levels for {len(quasi_identifiers)} quasi-identifiers; "
               "give one level per quasi-identifier, in the same order")
        raise InputError(msg)
    missing = [q for q in quasi_identifiers if q not in hierarchies]
    if missing:
        raise InputError(f"generalization height needs a hierarchy for {missing}")
    heights = [hierarchies[q].height for q in quasi_identifiers]
    for name, level, height in zip(quasi_identifiers, levels, heights, strict=True):
        if isinstance(level, bool) or not isinstance(level, int | np.integer) or not (
                0 <= level <= height):
            msg = f"level {level!r} for {name!r} is outside its hierarchy's 0..{height}"
            raise InputError(msg)
    total = sum(heights)
    return sum(int(v) for v in levels) / total if total else 0.0


def utility(original: pl.DataFrame, generalized: pl.DataFrame, suppressed: pl.Series,
            quasi_identifiers: Sequence[str], hierarchies: Mapping[str, Hierarchy], *,
            k: int | None = None, levels: Sequence[int] | None = None) -> UtilityReport:
    """Information loss of ``generalized`` (row ``i`` releases ``original``'s row ``i``;
    ``suppressed`` marks the records left out). A quasi-identifier without a hierarchy takes
    its domain from ``original``. Raises :class:`InputError` when a released cell does not
    cover its original value."""
    qi = _check_release(original, generalized, suppressed, quasi_identifiers)
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise InputError(f"k must be a whole number >= 1; got {k!r}")
    height = None if levels is None else generalization_height(levels, hierarchies, qi)
    n = original.height
    kept = ~suppressed
    released = int(kept.sum())
    ncp_total = float(n - released) * len(qi)
    entropy = 0.0
    for name in qi:
        hierarchy = hierarchies.get(name)
        raw = as_strings(original[name])
        if raw.null_count():
            msg = (f"original column {name!r} has {raw.null_count()} null values; "
                   "give nulls a value the hierarchy covers first")
            raise InputError(msg)
        domain = list(hierarchy.values) if hierarchy is not None else raw.unique().to_list()
        outside = raw.filter(~raw.is_in(domain))
        if len(outside):
            msg = (f"hierarchy {name!r} does not cover {outside.n_unique()} original value(s) "
                   f"in {len(outside)} row(s); add them to the hierarchy")
            raise HierarchyError(msg)
        cells = _released_cells(generalized, name, kept)
        numeric = original.schema[name].is_numeric()
        pairs = covered(name, [*cells.filter(kept).unique(), TOP], domain,
                        hierarchy=hierarchy, numeric=numeric)
        _check_covers(name, pl.DataFrame({"released": cells, "raw": raw}).filter(kept), pairs)
        ncp_total += _ncp_sum(cells.filter(kept), pairs, domain, numeric)
        entropy += _entropy(raw, cells, pairs)
    classes = _class_sizes(generalized.filter(kept), qi)
    average = released / len(classes) if len(classes) else None
    return UtilityReport(
        records=n,
        suppressed_records=n - released,
        classes=len(classes),
        ncp=ncp_total / (n * len(qi)) if n else 0.0,
        discernibility=float((classes.astype(float) ** 2).sum() + float(n - released) * n),
        average_class_size=average,
        normalized_average_class_size=None if average is None or k is None else average / k,
        non_uniform_entropy=entropy,
        generalization_height=height,
    )


def classification_accuracy(frame: pl.DataFrame, features: Sequence[str], target: str, *,
                            seed: int = 0, test_share: float = _TEST_SHARE) -> float:
    """Test accuracy of a logistic regression predicting ``target`` from ``features``.

    Every feature is a category (one-hot of its string form; null is a category of its own);
    the split is stratified by the target and fixed by ``seed``.
    """
    return _accuracy(frame, features, target, seed=seed, test_share=test_share,
                     table="the table")


def accuracy_report(original: pl.DataFrame, generalized: pl.DataFrame, suppressed: pl.Series,
                    features: Sequence[str], target: str, seed: int = 0
                    ) -> dict[str, float | None]:
    """Accuracy learnt from the original and from the release (its kept rows, the features as
    released), and their ratio (None when the original's accuracy is 0).

    ``features`` must be columns of ``generalized``; ``target`` is read from ``generalized``
    when it has it, else from ``original`` (a released column kept as it is).
    """
    if original.height != generalized.height or len(suppressed) != original.height:
        msg = (f"original ({original.height} rows), generalized ({generalized.height}) and "
               f"suppressed ({len(suppressed)}) must have the same height, row for row")
        raise InputError(msg)
    _check_mask(suppressed)
    missing = [f for f in features if f not in generalized.columns]
    if missing:
        raise InputError(f"feature(s) {missing} are not columns of the generalized table")
    source = generalized if target in generalized.columns else original
    if target not in source.columns:
        raise InputError(f"target {target!r} is not a column of the original table")
    release = generalized.select(features).with_columns(source[target]).filter(~suppressed)
    before = _accuracy(original, features, target, seed=seed, test_share=_TEST_SHARE,
                       table="the original table")
    after = _accuracy(release, features, target, seed=seed, test_share=_TEST_SHARE,
                      table="the release")
    return {"original": before, "release": after,
            "relative": after / before if before > 0 else None}


# ---- helpers


def _accuracy(frame: pl.DataFrame, features: Sequence[str], target: str, *, seed: int,
              test_share: float, table: str) -> float:
    # imported here: scikit-learn takes about a second to import and only this needs it
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder

    features = list(features)
    if not features:
        raise InputError("give at least one feature")
    unknown = [c for c in [*features, target] if c not in frame.columns]
    if unknown:
        raise InputError(f"column(s) {unknown} are not in {table}")
    if target in features:
        raise InputError(f"the target {target!r} is also listed as a feature")
    if isinstance(test_share, bool) or not isinstance(test_share, int | float) or not (
            0 < test_share < 1):
        raise InputError(f"test_share must be a share in (0, 1); got {test_share!r}")
    labels = as_strings(frame[target])
    if labels.null_count():
        raise InputError(f"target {target!r} has {labels.null_count()} null values in {table}")
    counts = labels.value_counts()
    classes = counts.height
    if classes < 2:
        raise InputError(f"target {target!r} has fewer than two classes in {table}")
    rare = counts.filter(pl.col("count") < 2)
    if rare.height:
        msg = (f"target {target!r} has {rare.height} class(es) with a single record in "
               f"{table}; a stratified split needs two per class")
        raise InputError(msg)
    test = math.ceil(test_share * frame.height)
    if min(test, frame.height - test) < classes:
        msg = (f"{table} has too few rows ({frame.height}) to split {test_share:g} into test "
               f"and train with each of the target's {classes} classes in both")
        raise InputError(msg)
    x = np.column_stack([as_strings(frame[c]).fill_null(_NULL).to_numpy().astype(str)
                         for c in features])
    y = labels.to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_share, stratify=y, random_state=seed)
    encoder = OneHotEncoder(handle_unknown="ignore")
    model = LogisticRegression(max_iter=1000, solver="lbfgs")
    model.fit(encoder.fit_transform(x_train), y_train)
    return float(model.score(encoder.transform(x_test), y_test))


def _check_release(original: pl.DataFrame, generalized: pl.DataFrame, suppressed: pl.Series,
                   quasi_identifiers: Sequence[str]) -> list[str]:
    qi = list(quasi_identifiers)
    if not qi:
        raise InputError("give at least one quasi-identifier")
    if len(set(qi)) != len(qi):
        raise InputError(f"quasi-identifiers are listed more than once: {qi}")
    if original.height != generalized.height or len(suppressed) != original.height:
        msg = (f"original ({original.height} rows), generalized ({generalized.height}) and "
               f"suppressed ({len(suppressed)}) must have the same height, row for row")
        raise InputError(msg)
    _check_mask(suppressed)
    for table, frame in (("original", original), ("generalized", generalized)):
        missing = [q for q in qi if q not in frame.columns]
        if missing:
            raise InputError(f"quasi-identifier(s) {missing} are not columns of the {table} table")
    return qi


def _check_mask(suppressed: pl.Series) -> None:
    if suppressed.dtype != pl.Boolean or suppressed.null_count():
        msg = (f"suppressed must be a Boolean series without nulls (True = left out); "
               f"got {suppressed.dtype} with {suppressed.null_count()} nulls")
        raise InputError(msg)


def _released_cells(generalized: pl.DataFrame, name: str, kept: pl.Series) -> pl.Series:
    """The column's released strings; suppressed records read as ``*``."""
    cells = as_strings(generalized[name])
    nulls = int((cells.is_null() & kept).sum())
    if nulls:
        raise InputError(f"generalized column {name!r} has {nulls} null cells in kept records")
    return pl.select(pl.when(kept).then(cells).otherwise(pl.lit(TOP))).to_series().rename(name)


def _check_covers(name: str, records: pl.DataFrame, pairs: pl.DataFrame) -> None:
    bad = records.join(pairs, on=["released", "raw"], how="anti")
    if bad.height:
        msg = (f"{bad.height} released value(s) of {name!r} do not cover the record's original "
               "value; the generalized table must be row for row the original's")
        raise InputError(msg)


def _ncp_sum(cells: pl.Series, pairs: pl.DataFrame, domain: Sequence[str],
             numeric: bool) -> float:
    """Sum of the kept cells' penalties."""
    if numeric:
        numbers = _numbers(cells.name, domain)
        width = float(numbers.max() - numbers.min())
        per_value = pairs.group_by("released").agg(
            (pl.col("raw").cast(pl.Float64).max() - pl.col("raw").cast(pl.Float64).min())
            .alias("cost"))
    else:
        width = float(len(domain) - 1)
        per_value = pairs.group_by("released").agg((pl.len() - 1).cast(pl.Float64)
                                                   .alias("cost"))
    if width <= 0:
        return 0.0
    joined = cells.rename("released").to_frame().join(per_value, on="released", how="left")
    return float(joined["cost"].sum()) / width


def _entropy(raw: pl.Series, cells: pl.Series, pairs: pl.DataFrame) -> float:
    """Sum over records of ``-log2 P(raw | released)`` on the original table."""
    per_raw = raw.rename("raw").value_counts(name="raw_count")
    per_value = (pairs.join(per_raw, on="raw", how="inner").group_by("released")
                 .agg(pl.col("raw_count").sum().alias("value_count")))
    records = (pl.DataFrame({"released": cells, "raw": raw})
               .join(per_raw, on="raw", how="left").join(per_value, on="released", how="left"))
    p = records["raw_count"].cast(pl.Float64) / records["value_count"].cast(pl.Float64)
    return float(-(p.log(2.0)).sum()) + 0.0  # + 0.0: no -0.0 for raw data


def _class_sizes(kept: pl.DataFrame, qi: Sequence[str]) -> np.ndarray:
    if kept.height == 0:
        return np.zeros(0, dtype=np.int64)
    strings = kept.select([as_strings(kept[q]) for q in qi])
    return strings.group_by(qi).len()["len"].to_numpy()


def _numbers(attribute: str, domain: Sequence[str]) -> np.ndarray:
    parsed = pl.Series(list(domain), dtype=pl.String).cast(pl.Float64, strict=False)
    if parsed.null_count():
        msg = (f"numeric attribute {attribute!r} has {parsed.null_count()} value(s) that are "
               "not numbers")
        raise HierarchyError(msg)
    return parsed.to_numpy()


def _interval(attribute: str, value: str) -> tuple[float, float] | None:
    """``[lo, hi]`` as numbers; None for any other string."""
    match = _INTERVAL.match(value)
    if match is None:
        return None
    try:
        lo, hi = float(match[1]), float(match[2])
    except ValueError:
        return None
    if lo > hi:
        raise InputError(f"released interval {value!r} of {attribute!r} has lo > hi")
    return lo, hi
