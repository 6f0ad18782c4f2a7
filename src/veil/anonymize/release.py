"""Make a release: a table that provably meets its privacy models, with its utility and risk.

:func:`anonymize` validates the request, builds the hierarchies it was not given, runs the
chosen algorithm (optimal full-domain generalization, or Mondrian), generalizes and suppresses
the records, then measures the result *from the released table* (:mod:`veil.anonymize.check`)
and refuses to return it unless every model holds. Released rows are shuffled, so their order
says nothing about the source's. Utility and re-identification risk before and after travel
with the release, for its provenance and for the person deciding whether to share it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import polars as pl

from veil.anonymize.check import Achieved, achieved
from veil.anonymize.encoding import Encoded, encode
from veil.anonymize.hierarchy import TOP, Hierarchy, as_strings
from veil.anonymize.lattice import search, suppression_budget
from veil.anonymize.models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PrivacyModel,
    TCloseness,
)
from veil.anonymize.mondrian import mondrian, numeric_columns
from veil.anonymize.objective import objective
from veil.anonymize.risk import RiskReport, reidentification_risk, risk_of_table
from veil.anonymize.utility import UtilityReport, accuracy_report, utility
from veil.errors import InputError, PrivacyModelError

__all__ = ["ALGORITHMS", "Release", "anonymize", "check_request", "default_hierarchy",
           "privacy_models"]

ALGORITHMS = ("optimal", "mondrian")
_ZIP_LIKE = r"^\d{3,10}$"


@dataclass(frozen=True)
class Release:
    """A shareable table and everything an auditor needs to judge it (no raw data)."""

    frame: pl.DataFrame
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    algorithm: str
    models: tuple[dict[str, object], ...]
    suppression_limit: float
    levels: dict[str, int] | None  # full-domain generalization only
    metric: str | None
    score: float | None
    suppressed: int
    achieved: Achieved
    hierarchies: dict[str, Hierarchy]
    search: dict[str, float]
    k: int | None
    _original: pl.DataFrame = field(repr=False, compare=False)
    _generalized: pl.DataFrame = field(repr=False, compare=False)  # all rows, source order
    _dropped: pl.Series = field(repr=False, compare=False)

    # Measured on first use: the release itself never waits for its report.
    @cached_property
    def utility(self) -> UtilityReport:
        levels = None if self.levels is None else [self.levels[c] for c in self.quasi_identifiers]
        return utility(self._original, self._generalized, self._dropped,
                       self.quasi_identifiers, self.hierarchies, k=self.k, levels=levels)

    @cached_property
    def risk_before(self) -> RiskReport:
        return risk_of_table(self._original, self.quasi_identifiers)

    @cached_property
    def risk_after(self) -> RiskReport:
        return reidentification_risk(self._generalized, self._dropped, self.quasi_identifiers,
                                     hierarchies=self.hierarchies)

    def accuracy(self, target: str, *, seed: int = 0) -> dict[str, float | None]:
        """How well a classifier predicts ``target`` from the quasi-identifiers, trained on the
        original and on the release (see :func:`veil.anonymize.utility.accuracy_report`)."""
        return accuracy_report(self._original, self._generalized, self._dropped,
                               self.quasi_identifiers, target, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """The release's description for the catalog and the ledger."""
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": list(self.sensitive),
            "algorithm": self.algorithm,
            "models": list(self.models),
            "suppression_limit": self.suppression_limit,
            "levels": self.levels,
            "metric": self.metric,
            "score": self.score,
            "rows": self.frame.height,
            "suppressed": self.suppressed,
            "achieved": self.achieved.to_dict(),
            "utility": self.utility.to_dict(),
            "risk_before": self.risk_before.to_dict(),
            "risk_after": self.risk_after.to_dict(),
            "hierarchies": {c: h.height for c, h in self.hierarchies.items()},
            "search": self.search,
        }


def default_hierarchy(column: pl.Series, entity: str | None = None) -> Hierarchy:
    """A hierarchy for a quasi-identifier nobody gave one for: dates by month, year and
    decade; numbers in growing intervals; ZIP-like codes by prefix; anything else only raw or
    ``*``. ``entity`` is the discovery classification's entity for the column, if any."""
    name, dtype = column.name, column.dtype
    values = column.drop_nulls()
    if dtype in (pl.Date, pl.Datetime) or (
            entity in ("DATE_OF_BIRTH", "DATE_TIME") and dtype == pl.String):
        return Hierarchy.dates(name, values)
    if dtype.is_numeric():
        return Hierarchy.intervals(name, values)
    strings = as_strings(values)
    if (entity == "ZIP_CODE" or (len(strings) and strings.str.contains(_ZIP_LIKE).all()
                                 and strings.str.len_chars().n_unique() == 1)):
        return Hierarchy.prefixes(name, strings)
    return Hierarchy.flat(name, strings.unique(maintain_order=True))


def privacy_models(sensitive: Sequence[str], *, k: int | None = None,
                   l: float | None = None,  # noqa: E741 - the model's name for it
                   l_kind: Literal["distinct", "entropy"] = "distinct",
                   t: float | None = None, t_distance: Literal["equal", "hierarchical"] = "equal",
                   hierarchies: Mapping[str, Hierarchy] | None = None) -> list[PrivacyModel]:
    """The models the keyword settings ask for; l and t apply to every sensitive attribute."""
    models: list[PrivacyModel] = []
    if k is not None:
        models.append(KAnonymity(k))
    if (l is not None or t is not None) and not sensitive:
        raise InputError("l-diversity and t-closeness need at least one sensitive attribute")
    if l_kind not in ("distinct", "entropy"):
        raise InputError(f"l_kind must be 'distinct' or 'entropy'; got {l_kind!r}")
    for name in sensitive:
        if l is not None:
            models.append(DistinctLDiversity(name, l) if l_kind == "distinct"  # type: ignore[arg-type]
                          else EntropyLDiversity(name, l))
        if t is not None:
            hierarchy = (hierarchies or {}).get(name)
            if t_distance == "hierarchical" and hierarchy is None:
                raise InputError(f"hierarchical t-closeness needs a hierarchy for {name!r}")
            models.append(TCloseness(name, t, t_distance, hierarchy))
    return models


def anonymize(
    frame: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] = (),
    *,
    k: int | None = None,
    l: float | None = None,  # noqa: E741
    l_kind: Literal["distinct", "entropy"] = "distinct",
    t: float | None = None,
    t_distance: Literal["equal", "hierarchical"] = "equal",
    hierarchies: Mapping[str, Hierarchy] | None = None,
    suppression_limit: float = 0.0,
    algorithm: str = "optimal",
    metric: str = "loss",
    entities: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> Release:
    """Release ``frame`` so that it meets k-anonymity / l-diversity / t-closeness.

    ``hierarchies`` maps quasi-identifiers (and, for hierarchical t-closeness, sensitive
    attributes) to :class:`Hierarchy`; missing quasi-identifier hierarchies are built by
    :func:`default_hierarchy` (``entities`` passes the discovery classification to it). With
    ``algorithm="optimal"`` the full-domain generalization with the lowest ``metric`` is found
    (see :mod:`veil.anonymize.lattice`), suppressing at most ``suppression_limit`` of the
    records; ``"mondrian"`` recodes locally and suppresses nothing. Raises
    :class:`PrivacyModelError` when the models cannot be met, never a weaker release.
    """
    qi, sens = tuple(quasi_identifiers), tuple(sensitive)
    models = _requested(frame.columns, frame.height, sens, k=k, l=l, l_kind=l_kind, t=t,
                        t_distance=t_distance, hierarchies=hierarchies,
                        suppression_limit=suppression_limit, algorithm=algorithm, metric=metric,
                        entities=entities, seed=seed)
    given = dict(hierarchies or {})
    built = {c: given.get(c) or default_hierarchy(frame[c], (entities or {}).get(c))
             for c in qi if c in frame.columns}
    encoded = encode(frame, qi, built, sens)
    for model in models:
        model.prepare(encoded)
    if algorithm == "optimal":
        goal = objective(metric).prepare(encoded)
        best = search(encoded, models, goal, suppression_limit)
        dropped = best.suppressed[best.partition.group][encoded.row_of]
        generalized = _generalize_levels(frame, encoded, best.levels, dropped)
        levels: dict[str, int] | None = dict(zip(qi, best.levels, strict=True))
        score: float | None = best.score
        stats = {"nodes": best.nodes, "checked": best.checked, "seconds": best.seconds}
    else:
        cut = mondrian(encoded, models, numeric_columns(frame, qi))
        dropped = np.zeros(frame.height, dtype=bool)
        generalized = _generalize_parts(frame, qi, cut.part_of[encoded.row_of], cut.cells)
        levels, score, metric = None, None, None  # type: ignore[assignment]
        stats = {"parts": len(cut.cells)}
    suppressed = pl.Series("suppressed", dropped)
    released = generalized.filter(~suppressed)
    reached = achieved(released, qi, sens, reference=frame, hierarchies=given)
    broken = [m.describe() for m in models if not reached.meets(m)]
    if broken:  # the search and the check disagree: refuse rather than release
        raise PrivacyModelError(f"the release fails {broken} on independent check "
                                f"({reached.to_dict()}); nothing was released")
    return Release(
        frame=released.sample(fraction=1.0, shuffle=True, seed=seed),
        quasi_identifiers=qi, sensitive=sens, algorithm=algorithm,
        models=tuple(m.describe() for m in models), suppression_limit=suppression_limit,
        levels=levels, metric=metric, score=score, suppressed=int(dropped.sum()),
        achieved=reached, hierarchies=built, search=stats, k=k,
        _original=frame, _generalized=generalized, _dropped=suppressed,
    )


def check_request(columns: Sequence[str], rows: int, sensitive: Sequence[str],
                  settings: Mapping[str, Any]) -> None:
    """Refuse what :func:`anonymize` would refuse from ``settings`` and the table's columns and
    row count alone, so a caller holding the table sealed checks before it reads (and logs
    reading) any data."""
    signature = inspect.signature(anonymize)
    known = [n for n, p in signature.parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise InputError(f"unknown anonymize setting(s) {unknown}; the settings are {known}")
    bound = signature.bind_partial(**settings)
    bound.apply_defaults()
    _requested(columns, rows, sensitive, **{n: bound.arguments[n] for n in known})


def _requested(columns: Sequence[str], rows: int, sensitive: Sequence[str], *, k: int | None,
               l: float | None, l_kind: Literal["distinct", "entropy"],  # noqa: E741
               t: float | None, t_distance: Literal["equal", "hierarchical"],
               hierarchies: Mapping[str, Hierarchy] | None, suppression_limit: float,
               algorithm: str, metric: str, entities: Mapping[str, str] | None,
               seed: int | None) -> list[PrivacyModel]:
    """The privacy models asked for, once every setting is checked against the table's shape
    (what needs its values, such as hierarchy coverage, is checked when they are encoded)."""
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    if algorithm == "optimal":
        objective(metric)
    if hierarchies is not None and not isinstance(hierarchies, Mapping):
        raise InputError("hierarchies must map column names to Hierarchy objects")
    odd = sorted(c for c, h in (hierarchies or {}).items() if not isinstance(h, Hierarchy))
    if odd:
        raise InputError(f"the hierarchies for {odd} are not Hierarchy objects; build them with "
                         "veil.anonymize.Hierarchy (from_mapping, read_csv, intervals...)")
    unknown = sorted(set(hierarchies or {}) - set(columns))
    if unknown:
        raise InputError(f"hierarchies given for unknown column(s) {unknown}")
    if entities is not None and not isinstance(entities, Mapping):
        raise InputError("entities must map column names to discovery entity names")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"seed must be a whole number or None; got {seed!r}")
    models = privacy_models(sensitive, k=k, l=l, l_kind=l_kind, t=t, t_distance=t_distance,
                            hierarchies=hierarchies)
    if not models:
        raise InputError("name a privacy model: k, l or t")
    for model in models:
        if isinstance(model, KAnonymity):
            model.check_rows(rows)
    if suppression_budget(rows, suppression_limit) and algorithm == "mondrian":
        raise InputError("Mondrian suppresses nothing; leave suppression_limit at 0")
    return models


def _generalize_levels(frame: pl.DataFrame, encoded: Encoded, levels: Sequence[int],
                       dropped: np.ndarray) -> pl.DataFrame:
    """Every quasi-identifier at its level; the suppressed records ``*`` throughout."""
    mask = pl.Series(dropped)
    columns = []
    for name, hierarchy, level in zip(encoded.quasi_identifiers, encoded.hierarchies, levels,
                                      strict=True):
        mapped = as_strings(frame[name]).replace_strict(list(hierarchy.values),
                                                        list(hierarchy.level(level)),
                                                        return_dtype=pl.String)
        columns.append(pl.select(pl.when(mask).then(pl.lit(TOP)).otherwise(mapped))
                       .to_series().rename(name))
    return frame.with_columns(columns)


def _generalize_parts(frame: pl.DataFrame, qi: Sequence[str], part: np.ndarray,
                      cells: list[tuple[str, ...]]) -> pl.DataFrame:
    """Every record's quasi-identifiers as its Mondrian part describes them."""
    index = pl.Series(part)
    return frame.with_columns(
        pl.Series(name, [c[j] for c in cells], dtype=pl.String).gather(index)
        for j, name in enumerate(qi))
