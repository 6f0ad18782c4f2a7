"""Linkage (re-identification) attack on releases: join a public register to a release.

The attacker holds an auxiliary table, like a voter roll: a person key and the
quasi-identifiers (birth date, sex, ZIP code...) of part or all of the population
(:func:`auxiliary`). :func:`link` joins it to a release on those quasi-identifiers. A release
record is a *candidate* for a person when each of its quasi-identifier values covers the
person's raw value, read the way veil writes values (exact matching: equal values only, a
missing value equal to a missing one):

* ``*`` (suppressed or fully generalized) and a missing value cover anything, and a value
  missing from the register is covered by anything;
* the value itself, as hierarchies write it (``39``, ``120.5``, ISO dates ``1973-02-01``);
* dates: ``1973-02`` (month), ``1973`` (year; also Safe Harbor's year only), ``1970s``
  (decade), ``<= 1936`` (Safe Harbor's birth years of people who may be 90 or older);
* numbers: ``[20, 25)`` (hierarchy intervals), ``[20, 29]`` (Mondrian), ``90+`` (Safe
  Harbor's ages), and a whole number covers the numbers it is the floor of (Safe Harbor writes
  ages as whole years);
* codes: ``021**`` (masked from the right, same length), and for ZIP codes Safe Harbor's three
  digits ``021`` and ``000`` (an area on the HHS list of small areas, which is public);
* with a :class:`~veil.anonymize.Hierarchy` for the column: any of the value's
  generalizations (labels of ``Hierarchy.from_mapping``, which text alone cannot tell).

The attacker picks one of a person's candidates uniformly at random, so a person whose record
is among ``c`` candidates is re-identified with probability ``1/c``. In a k-anonymous release
every candidate class holds at least ``k`` records, so no person's probability exceeds ``1/k``
(the prosecutor bound), which :class:`LinkageResult` checks.

Who each release row belongs to is known to the workspace, never to the attacker: :func:`link`
finds the candidates from the release's quasi-identifier columns and the auxiliary table alone,
and only then scores them against ``truth`` (one identity per release row). :func:`trace` builds
it for a :class:`~veil.anonymize.Release` in memory, :func:`retrace` for a stored k-anonymous
release from its source, and :func:`decode` for a Safe Harbor release from its token map.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.csgraph import maximum_bipartite_matching

from veil.anonymize.hierarchy import TOP, Hierarchy, as_strings
from veil.anonymize.release import Release
from veil.anonymize.safe_harbor import restricted_zip3_areas
from veil.errors import InputError

__all__ = ["LinkageResult", "auxiliary", "decode", "link", "retrace", "trace"]

Matching = Literal["exact", "covering"]
_PAIRS_PER_CHUNK = 4_000_000  # candidate pairs held at once

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_DECADE = re.compile(r"^(\d{3}0)s$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_AT_MOST = re.compile(rf"^<=\s*({_NUMBER})$")
_AT_LEAST = re.compile(rf"^({_NUMBER})\+$")
_INTERVAL = re.compile(rf"^\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])$")
_MASKED = re.compile(r"^([^*]*)(\*+)$")
_ZIP = re.compile(r"^(\d{3})\d{2}(?:-\d{4})?$")
_ZIP3 = re.compile(r"^\d{3}$")


@dataclass(frozen=True)
class LinkageResult:
    """What a linkage attack achieved: counts and rates only, never a person or a value.

    ``expected_correct`` sums, over the people targeted, the chance that the attacker's random
    pick among their candidates is their own record; ``unique_correct`` counts those with a
    single candidate that is theirs (the attacker is sure, and right). ``highest_risk`` is the
    largest single person's chance; with ``k`` given, ``within_bound`` says whether it (and so
    the rate) stays within the prosecutor bound ``1/k``.
    """

    matching: str
    quasi_identifiers: tuple[str, ...]
    release_rows: int
    release_classes: int  # distinct quasi-identifier combinations in the release
    smallest_class: int  # the release's own k (0 for an empty release)
    targeted: int  # people in the auxiliary table
    in_release: int  # ... whose record the release holds (from the truth)
    matched: int  # ... with at least one candidate
    unique: int  # ... with exactly one candidate
    unique_correct: int  # ... whose one candidate is their record
    expected_correct: float
    mean_candidates: float | None  # over the matched people
    highest_risk: float
    k: int | None = None

    @property
    def rate(self) -> float:
        """Expected share of the people targeted that the attacker re-identifies."""
        return self.expected_correct / self.targeted if self.targeted else 0.0

    @property
    def unique_rate(self) -> float:
        """Share of the people targeted matched to one record that is theirs."""
        return self.unique_correct / self.targeted if self.targeted else 0.0

    @property
    def prosecutor_bound(self) -> float | None:
        return None if self.k is None else 1.0 / self.k

    @property
    def within_bound(self) -> bool | None:
        bound = self.prosecutor_bound
        return None if bound is None else self.highest_risk <= bound * (1 + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": "linkage", "matching": self.matching,
            "quasi_identifiers": list(self.quasi_identifiers),
            "release_rows": self.release_rows, "release_classes": self.release_classes,
            "smallest_class": self.smallest_class, "targeted": self.targeted,
            "in_release": self.in_release, "matched": self.matched, "unique": self.unique,
            "unique_correct": self.unique_correct,
            "expected_correct": self.expected_correct, "rate": self.rate,
            "unique_rate": self.unique_rate, "mean_candidates": self.mean_candidates,
            "highest_risk": self.highest_risk, "k": self.k,
            "prosecutor_bound": self.prosecutor_bound, "within_bound": self.within_bound,
        }


# -- the attacker's table --------------------------------------------------------------------------


def auxiliary(frame: pl.DataFrame, quasi_identifiers: Sequence[str], identity_column: str, *,
              share: float = 1.0, seed: int = 0) -> pl.DataFrame:
    """The attacker's register: ``identity_column`` and the raw ``quasi_identifiers`` of a
    random ``share`` of ``frame``'s people, in random order.

    The identity column is what a correct link is judged by, so it must name one person per
    value (a subject id, or a register number; names repeat)."""
    qi = _names(quasi_identifiers, "quasi_identifiers")
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"auxiliary needs a polars DataFrame; got {type(frame).__name__}")
    missing = [c for c in (identity_column, *qi) if c not in frame.columns]
    if missing:
        raise InputError(f"no column(s) {missing} in the frame; columns are {frame.columns}")
    if identity_column in qi:
        raise InputError(f"{identity_column!r} is the identity column; it cannot also be a "
                         "quasi-identifier")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InputError(f"share must be in (0, 1]; got {share!r}")
    rows = max(1, round(share * frame.height)) if frame.height else 0
    return frame.select(identity_column, *qi).sample(rows, shuffle=True, seed=seed)


# -- the attack ------------------------------------------------------------------------------------


def link(release: pl.DataFrame, auxiliary: pl.DataFrame, quasi_identifiers: Sequence[str],
         truth: Sequence[Any] | Mapping[int, Any] | pl.Series, *,
         identity_column: str | None = None, matching: Matching = "covering",
         k: int | None = None, hierarchies: Mapping[str, Hierarchy] | None = None,
         restricted_zip3: Iterable[str] | None = None) -> LinkageResult:
    """Link ``auxiliary`` to ``release`` on ``quasi_identifiers`` and score the links.

    Only the release's quasi-identifier columns and the auxiliary table are read to find the
    candidates (see the module docstring for what covers what; ``matching="exact"`` accepts
    equal values only). ``truth`` says who each release row is: a sequence aligned with the
    release's rows, or a mapping ``row -> identity`` (rows left out, or None, belong to nobody
    targeted); identities are compared with ``identity_column`` of ``auxiliary`` (default: its
    one column that is not a quasi-identifier). ``k`` is the k the release claims, checked
    as the prosecutor bound; ``hierarchies`` decode custom generalization labels, and
    ``restricted_zip3`` replaces the HHS list of small ZIP areas Safe Harbor turns into 000.
    """
    qi = _names(quasi_identifiers, "quasi_identifiers")
    for name, table in (("release", release), ("auxiliary", auxiliary)):
        if not isinstance(table, pl.DataFrame):
            raise InputError(f"{name} must be a polars DataFrame; got {type(table).__name__}")
        missing = [c for c in qi if c not in table.columns]
        if missing:
            raise InputError(f"the {name} has no column(s) {missing}; columns are "
                             f"{table.columns}")
    if matching not in ("exact", "covering"):
        raise InputError(f"matching must be 'exact' or 'covering'; got {matching!r}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise InputError(f"k must be a whole number >= 1 or None; got {k!r}")
    identity = _identity_column(auxiliary, qi, identity_column)
    owners = _truth(truth, release.height)

    # The attacker's view: the release's quasi-identifiers and the register, nothing else.
    found = _match(release.select(qi), auxiliary.select(qi), qi, dict.fromkeys(qi, matching),
                   hierarchies or {}, _restricted(restricted_zip3))

    # The workspace's view: who the candidates are.
    people = auxiliary[identity].cast(pl.String)
    sizes = found.sizes
    per_target = found.pairs.group_by("_aux").agg(pl.col("_size").sum().alias("_candidates"))
    own = (pl.DataFrame({"_cls": found.row_class, "_who": owners})
           .drop_nulls("_who").group_by("_cls", "_who").agg(pl.len().alias("_mine")))
    hits = (found.pairs.join(pl.DataFrame({"_aux": pl.Series(np.arange(len(people)),
                                                             dtype=pl.UInt32),
                                           "_who": people}), on="_aux")
            .join(own, on=["_cls", "_who"], how="inner")
            .group_by("_aux").agg(pl.col("_mine").sum()))
    scored = per_target.join(hits, on="_aux", how="left").with_columns(
        pl.col("_mine").fill_null(0))
    candidates = scored["_candidates"].to_numpy().astype(float)
    mine = scored["_mine"].to_numpy().astype(float)
    chance = np.divide(mine, candidates, out=np.zeros_like(mine), where=candidates > 0)
    unique = candidates == 1
    known = set(owners.drop_nulls().to_list())
    return LinkageResult(
        matching=matching, quasi_identifiers=qi, release_rows=release.height,
        release_classes=len(sizes), smallest_class=int(sizes.min()) if len(sizes) else 0,
        targeted=auxiliary.height, in_release=sum(p in known for p in people.to_list()),
        matched=int((candidates > 0).sum()), unique=int(unique.sum()),
        unique_correct=int((unique & (mine == 1)).sum()),
        expected_correct=float(chance.sum()),
        mean_candidates=float(candidates.mean()) if len(candidates) else None,
        highest_risk=float(chance.max()) if len(chance) else 0.0, k=k)


# -- ground truth (the workspace's side) -----------------------------------------------------------


def trace(release: Release, identities: Sequence[Any] | pl.Series) -> list[Any]:
    """Who each row of ``release.frame`` is, given ``identities`` of the rows of the frame it
    was made from, in that frame's order (e.g. its subject-id column).

    Released rows are shuffled; rows are matched back by their content to the source rows that
    the release kept, identical rows in turn (identical rows are one class to the attacker, so
    which of them is whose does not change the attack's score)."""
    if not isinstance(release, Release):
        raise InputError(f"trace needs a veil.anonymize.Release; got {type(release).__name__}")
    generalized, dropped = release._generalized, release._dropped  # source order, all rows
    ids = pl.Series("_who", list(identities) if not isinstance(identities, pl.Series)
                    else identities.to_list())
    if len(ids) != generalized.height:
        raise InputError(f"{len(ids)} identities for a release made from {generalized.height} "
                         "rows; give one per source row, in the source's order")
    kept = _occurrences(generalized.filter(~dropped)).with_columns(ids.filter(~dropped))
    shown = _occurrences(release.frame).with_row_index("_row")
    joined = shown.join(kept.select("_hash", "_occ", "_who"), on=["_hash", "_occ"], how="left")
    return joined.sort("_row")["_who"].to_list()


def retrace(release: pl.DataFrame, source: pl.DataFrame, quasi_identifiers: Sequence[str],
            identity_column: str, *, hierarchies: Mapping[str, Hierarchy] | None = None
            ) -> list[Any]:
    """Who each row of a stored k-anonymous release is, from the source it was made from.

    For a release read back from the workspace, when the :class:`~veil.anonymize.Release` is
    gone: each source row is matched to the release rows whose quasi-identifiers cover its raw
    values and whose other columns (sensitive and kept ones, released unchanged) equal its
    own. Full-domain releases give each source row one class, so the result is exact up to
    identical rows (see :func:`trace`). Where a row could be several people's (Mondrian's
    overlapping cells, with equal sensitive values), a maximum matching decides; a row no one
    could be given is None.
    """
    qi = _names(quasi_identifiers, "quasi_identifiers")
    if identity_column not in source.columns:
        raise InputError(f"no identity column {identity_column!r} in the source")
    shared = [c for c in release.columns if c in source.columns and c != identity_column]
    missing = [c for c in qi if c not in shared]
    if missing:
        raise InputError(f"quasi-identifier(s) {missing} are not in both the release and the "
                         "source")
    modes: dict[str, Matching] = {c: "covering" if c in qi else "exact" for c in shared}
    found = _match(release.select(shared), source.select(shared), shared, modes,
                   hierarchies or {}, restricted_zip3_areas())
    rows = pl.DataFrame({"_cls": found.row_class}).with_row_index("_row")
    edges = found.pairs.join(rows, on="_cls")
    graph = sparse.csr_array((np.ones(edges.height, dtype=np.int8),
                              (edges["_aux"].to_numpy(), edges["_row"].to_numpy())),
                             shape=(source.height, release.height))
    given = maximum_bipartite_matching(graph, perm_type="row")  # release row -> source row
    people = source[identity_column].to_list()
    return [people[i] if i >= 0 else None for i in given]


def decode(codes: Sequence[str | None] | pl.Series, token_map: pl.DataFrame) -> list[Any]:
    """Who each row of a Safe Harbor release is: its subject codes (the subject-id column of
    ``ws.safe_harbor``'s output) looked up in the sealed ``{release}.tokens`` map
    (``token`` -> ``value``); unknown codes give None."""
    if not {"token", "value"} <= set(token_map.columns):
        raise InputError("token_map needs the columns 'token' and 'value' (a release's "
                         "'{name}.tokens' dataset)")
    lookup = dict(zip(token_map["token"].to_list(), token_map["value"].to_list(), strict=True))
    values = codes.to_list() if isinstance(codes, pl.Series) else list(codes)
    return [lookup.get(c) for c in values]


# -- matching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Matches:
    pairs: pl.DataFrame  # _aux, _cls, _size: auxiliary row i may be any record of class c
    row_class: pl.Series  # the class of each release row
    sizes: np.ndarray  # records per class


def _match(release: pl.DataFrame, register: pl.DataFrame, columns: Sequence[str],
           modes: Mapping[str, Matching], hierarchies: Mapping[str, Hierarchy],
           restricted: frozenset[str]) -> _Matches:
    """Every (register row, release class) pair where the class covers the row."""
    if not columns:
        raise InputError("give at least one quasi-identifier")
    shown = release.select(as_strings(release[c]).alias(c) for c in columns)
    classes = shown.unique(maintain_order=True).with_row_index("_cls")
    row_class = shown.join(classes, on=list(columns), how="left", nulls_equal=True,
                           maintain_order="left")["_cls"]
    sizes = np.bincount(row_class.to_numpy(), minlength=classes.height)
    people = pl.DataFrame({"_aux": pl.Series(np.arange(register.height), dtype=pl.UInt32)})
    kinds = classes.select("_cls").with_columns(_size=pl.Series(sizes, dtype=pl.Int64))
    covers, estimate = [], []
    for j, column in enumerate(columns):
        raw, raw_code = _codes(register[column])
        shown_values, class_code = _codes(classes[column])
        people = people.with_columns(raw_code.alias(f"_r{j}"))
        kinds = kinds.with_columns(class_code.alias(f"_g{j}"))
        domain = _Domain(raw, modes[column], hierarchies.get(column), restricted)
        reached = [domain.covered(value) for value in shown_values.to_list()]
        cover = pl.DataFrame({
            f"_r{j}": pl.Series(np.concatenate([np.empty(0, np.int64), *reached]),
                                dtype=pl.UInt32),
            f"_g{j}": pl.Series(np.repeat(np.arange(len(reached)), [len(r) for r in reached]),
                                dtype=pl.UInt32)})
        covers.append(cover)
        per_value = kinds.group_by(f"_g{j}").agg(pl.len().alias("_c"))
        reach = cover.join(per_value, on=f"_g{j}").group_by(f"_r{j}").agg(pl.col("_c").sum())
        estimate.append(int(people.join(reach, on=f"_r{j}")["_c"].sum() or 0))
    first = int(np.argmin(estimate))
    chunk = max(1, int(register.height * _PAIRS_PER_CHUNK / max(estimate[first], 1)))
    found = []
    for start in range(0, register.height, chunk):
        part = (people.slice(start, chunk).join(covers[first], on=f"_r{first}")
                .join(kinds, on=f"_g{first}"))
        for j, cover in enumerate(covers):
            if j != first:
                part = part.join(cover, on=[f"_r{j}", f"_g{j}"], how="semi")
        found.append(part.select("_aux", "_cls", "_size"))
    pairs = pl.concat(found) if found else pl.DataFrame(
        schema={"_aux": pl.UInt32, "_cls": pl.UInt32, "_size": pl.Int64})
    return _Matches(pairs, row_class, sizes)


def _codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The distinct values of a column and each value's index among them (UInt32)."""
    distinct = values.unique(maintain_order=True)
    index = distinct.to_frame("_v").with_row_index("_i")
    code = values.to_frame("_v").join(index, on="_v", how="left", nulls_equal=True,
                                      maintain_order="left")["_i"]
    return distinct, code.cast(pl.UInt32)


class _Domain:
    """One column's distinct raw values, indexed so each released value finds what it covers."""

    def __init__(self, raw: pl.Series, mode: Matching, hierarchy: Hierarchy | None,
                 restricted: frozenset[str]) -> None:
        self.size, self.mode, self.restricted = len(raw), mode, restricted
        if isinstance(raw.dtype, pl.Datetime):
            raw = raw.dt.date()
        elif raw.dtype == pl.String:
            parsed = raw.str.to_date("%Y-%m-%d", strict=False)
            if raw.null_count() < len(raw) and parsed.null_count() == raw.null_count():
                raw = parsed
        text = as_strings(raw).to_list()
        self.exact = {v: i for i, v in enumerate(text) if v is not None}
        self.nulls = [i for i, v in enumerate(text) if v is None]  # unknown: anything fits
        self.kind = ("date" if raw.dtype == pl.Date else
                     "number" if raw.dtype.is_numeric() else "text")
        self.labels: dict[str, list[int]] = {}
        if hierarchy is not None:
            rows = {row[0]: row for row in hierarchy.rows}
            for value, i in self.exact.items():
                for label in dict.fromkeys(rows.get(value, ())[1:]):
                    self.labels.setdefault(label, []).append(i)
        if self.kind == "date":
            days = raw.to_list()
            self.years = np.array([d.year if d is not None else np.nan for d in days])
            self.by_year = _index(d.year if d is not None else None for d in days)
            self.by_month = _index((d.year, d.month) if d is not None else None for d in days)
            self.by_decade = _index(d.year // 10 * 10 if d is not None else None for d in days)
        elif self.kind == "number":
            self.numbers = raw.cast(pl.Float64).fill_null(np.nan).to_numpy()
            self.by_floor = _index(math.floor(x) if math.isfinite(x) else None
                                   for x in self.numbers)
        else:
            self.text = np.array([v if v is not None else "" for v in text], dtype=str)
            self.lengths = np.char.str_len(self.text)
            self.by_zip3 = _index(m.group(1) if (m := _ZIP.match(v or "")) else None
                                  for v in text)

    def covered(self, value: str | None) -> np.ndarray:
        """Indices of the raw values ``value`` (a released value) covers."""
        equal = [self.exact[value]] if value in self.exact else []
        if self.mode == "exact":
            return np.array(self.nulls if value is None else equal, dtype=np.int64)
        if value is None or value == TOP:
            return np.arange(self.size)
        hits: list[Any] = [self.nulls, equal, self.labels.get(value, [])]
        hits += self._dates(value) if self.kind == "date" else (
            self._numbers(value) if self.kind == "number" else self._codes(value))
        return np.unique(np.concatenate(hits)).astype(np.int64)

    def _dates(self, value: str) -> list[Any]:
        if m := _MONTH.match(value):
            return [self.by_month.get((int(m.group(1)), int(m.group(2))), [])]
        if m := _YEAR.match(value):
            return [self.by_year.get(int(m.group(1)), [])]
        if m := _DECADE.match(value):
            return [self.by_decade.get(int(m.group(1)), [])]
        if m := _AT_MOST.match(value):
            return [np.flatnonzero(self.years <= float(m.group(1)))]
        return []

    def _numbers(self, value: str) -> list[Any]:
        x = self.numbers
        with np.errstate(invalid="ignore"):
            if m := _INTERVAL.match(value):
                low, high = float(m.group(1)), float(m.group(2))
                upper = x <= high if m.group(3) == "]" else x < high
                return [np.flatnonzero((x >= low) & upper)]
            if m := _AT_LEAST.match(value):
                return [np.flatnonzero(x >= float(m.group(1)))]
            if m := _AT_MOST.match(value):
                return [np.flatnonzero(x <= float(m.group(1)))]
        try:
            number = float(value)
        except ValueError:
            return []
        if math.isfinite(number) and number.is_integer():
            return [self.by_floor.get(int(number), [])]
        return [np.flatnonzero(x == number)]

    def _codes(self, value: str) -> list[Any]:
        found: list[Any] = []
        if (m := _MASKED.match(value)) and m.group(1):
            found.append(np.flatnonzero(np.char.startswith(self.text, m.group(1))
                                        & (self.lengths == len(value))))
        elif m:  # all masked: every code of that length
            found.append(np.flatnonzero(self.lengths == len(value)))
        if _ZIP3.match(value):
            found.append(self.by_zip3.get(value, []))
            if value == "000":
                found += [self.by_zip3.get(area, []) for area in self.restricted]
        return found


def _index(keys: Iterable[Any]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            out.setdefault(key, []).append(i)
    return out


# -- arguments -------------------------------------------------------------------------------------


def _names(columns: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns or not all(
            isinstance(c, str) for c in columns):
        raise InputError(f"{what} must be a non-empty list of column names; got {columns!r}")
    return tuple(dict.fromkeys(columns))


def _identity_column(table: pl.DataFrame, qi: Sequence[str], given: str | None) -> str:
    if given is not None:
        if given not in table.columns:
            raise InputError(f"no identity column {given!r} in the auxiliary table")
        return given
    others = [c for c in table.columns if c not in qi]
    if len(others) != 1:
        raise InputError(f"the auxiliary table has {len(others)} columns besides the "
                         f"quasi-identifiers ({others}); say which is the identity "
                         "(identity_column=...)")
    return others[0]


def _truth(truth: Sequence[Any] | Mapping[int, Any] | pl.Series, rows: int) -> pl.Series:
    if isinstance(truth, Mapping):
        bad = [r for r in truth if isinstance(r, bool) or not isinstance(r, int)
               or not 0 <= r < rows]
        if bad:
            raise InputError(f"truth maps release rows 0..{rows - 1} to identities; got rows "
                             f"{bad[:5]}")
        values = [truth.get(r) for r in range(rows)]
    elif isinstance(truth, pl.Series):
        values = truth.to_list()
    elif isinstance(truth, Sequence) and not isinstance(truth, str):
        values = list(truth)
    else:
        raise InputError("truth is one identity per release row (a list or Series) or a "
                         f"mapping row -> identity; got {type(truth).__name__}")
    if len(values) != rows:
        raise InputError(f"truth has {len(values)} entries for a release of {rows} rows")
    return pl.Series("_who", [None if v is None else str(v) for v in values], dtype=pl.String)


def _restricted(areas: Iterable[str] | None) -> frozenset[str]:
    if areas is None:
        return restricted_zip3_areas()
    found = frozenset(areas)
    if not all(isinstance(a, str) and _ZIP3.match(a) for a in found):
        raise InputError("restricted_zip3 must hold three-digit ZIP prefixes as strings")
    return found


def _occurrences(frame: pl.DataFrame) -> pl.DataFrame:
    """A hash of each row's content and its occurrence number among identical rows."""
    digest = frame.hash_rows(seed=0, seed_1=1, seed_2=2, seed_3=3).alias("_hash")
    return pl.DataFrame({"_hash": digest}).with_columns(
        pl.int_range(pl.len()).over("_hash").alias("_occ"))
