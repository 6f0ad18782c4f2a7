"""Generalization hierarchies: how far each value of a quasi-identifier may be coarsened.

A hierarchy is a table with one row per raw value: column 0 is the raw value, each further
column a coarser one, and the last column a single top value (``*``) that hides everything.
That is ARX's format, and :meth:`Hierarchy.read_csv` / :meth:`Hierarchy.write_csv` read and
write its files (``;``-separated, no header). Values are strings: numbers and dates are
matched by their Polars string form (``39``, ``2020-01-31``).

A hierarchy must be *consistent*: a generalized value at one level determines its value at
every higher level (it is a tree), or full-domain generalization would not be well defined.
Builders cover the common attribute kinds: :meth:`Hierarchy.intervals` (numbers, intervals
of growing width), :meth:`Hierarchy.dates` (day, month, year), :meth:`Hierarchy.prefixes`
(ZIP and postal codes, masked from the right) and :meth:`Hierarchy.from_mapping` (categories,
as the user groups them); :meth:`Hierarchy.flat` only allows the raw value or ``*``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from veil._atomic import atomic_write
from veil.errors import HierarchyError

__all__ = ["TOP", "Hierarchy", "as_strings"]

TOP = "*"


def as_strings(values: pl.Series) -> pl.Series:
    """A column as the strings hierarchies are keyed by (nulls stay null)."""
    if values.dtype == pl.String:
        return values
    if values.dtype in (pl.Categorical, pl.Enum):
        return values.cast(pl.String)
    if values.dtype.is_float():
        # 30.0 -> "30": an integral float is keyed like the integer it equals
        integral = values.is_not_null() & (values == values.round(0))
        return pl.select(pl.when(integral).then(values.cast(pl.Int64).cast(pl.String))
                         .otherwise(values.cast(pl.String))).to_series().rename(values.name)
    return values.cast(pl.String)


@dataclass(frozen=True)
class Hierarchy:
    """One attribute's generalization hierarchy; ``rows[i][level]`` is value ``i`` at ``level``.

    Build one with a constructor below; the constructor checks it (see the module docstring).
    """

    attribute: str
    rows: tuple[tuple[str, ...], ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rows:
            raise HierarchyError(f"hierarchy {self.attribute!r} has no values")
        width = len(self.rows[0])
        if width == 0:
            raise HierarchyError(f"hierarchy {self.attribute!r}: row 1 is empty; each row is a "
                                 "raw value and its generalizations")
        for i, row in enumerate(self.rows):
            if len(row) != width:
                msg = (f"hierarchy {self.attribute!r}: row {i + 1} has {len(row)} levels, "
                       f"the first row {width}")
                raise HierarchyError(msg)
            if any(not isinstance(v, str) or v == "" for v in row):
                msg = f"hierarchy {self.attribute!r}: row {i + 1} has an empty value"
                raise HierarchyError(msg)
        raw = [r[0] for r in self.rows]
        first: dict[str, int] = {}
        repeats = [i + 1 for i, v in enumerate(raw) if first.setdefault(v, i) != i]
        if repeats:
            msg = (f"hierarchy {self.attribute!r} lists {len(repeats)} raw value(s) more than "
                   f"once (again in row(s) {repeats[:5]}); list each value in one row")
            raise HierarchyError(msg)
        tops = {r[-1] for r in self.rows}
        if width > 1 and len(tops) != 1:
            msg = (f"hierarchy {self.attribute!r}: the last level must be one value (such as "
                   f"'*'), found {len(tops)} different ones")
            raise HierarchyError(msg)
        for level in range(1, width - 1):
            parent: dict[str, tuple[str, int]] = {}
            for i, row in enumerate(self.rows):
                seen, where = parent.setdefault(row[level], (row[level + 1], i))
                if seen != row[level + 1]:
                    msg = (f"hierarchy {self.attribute!r} is inconsistent: rows {where + 1} and "
                           f"{i + 1} share their level-{level} value but differ at level "
                           f"{level + 1}; a generalized value must have one parent")
                    raise HierarchyError(msg)
        object.__setattr__(self, "_index", first)

    # ---- shape

    @property
    def height(self) -> int:
        """The highest level (0 = raw values only)."""
        return len(self.rows[0]) - 1

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(r[0] for r in self.rows)

    def level(self, level: int) -> tuple[str, ...]:
        """Every raw value's generalization at ``level``, in row order."""
        self._check_level(level)
        return tuple(r[level] for r in self.rows)

    def generalize(self, value: str, level: int) -> str:
        self._check_level(level)
        try:
            return self.rows[self._index[value]][level]
        except KeyError:
            msg = f"hierarchy {self.attribute!r} does not cover the value asked for"
            raise HierarchyError(msg) from None

    def _check_level(self, level: int) -> None:
        if not 0 <= level <= self.height:
            msg = (f"hierarchy {self.attribute!r} has levels 0..{self.height}; "
                   f"level {level} does not exist")
            raise HierarchyError(msg)

    # ---- encoded form for the search

    def codes(self, values: pl.Series) -> np.ndarray:
        """Row index of each value (int32). Fails closed, counting the uncovered values."""
        strings = as_strings(values)
        if strings.null_count():
            msg = (f"column {self.attribute!r} has {strings.null_count()} null values; "
                   "give nulls a value the hierarchy covers (or drop those rows) first")
            raise HierarchyError(msg)
        lookup = pl.DataFrame({"v": list(self._index), "code": list(self._index.values())},
                              schema={"v": pl.String, "code": pl.Int32})
        coded = strings.rename("v").to_frame().join(lookup, on="v", how="left",
                                                    maintain_order="left")
        uncovered = coded["code"].is_null()
        if uncovered.any():
            missing = coded.filter(uncovered)["v"]
            msg = (f"hierarchy {self.attribute!r} does not cover {missing.n_unique()} value(s) "
                   f"of the column, in {len(missing)} row(s) from row {uncovered.arg_true()[0] + 1}"
                   "; add them to the hierarchy")
            raise HierarchyError(msg)
        return coded["code"].to_numpy().astype(np.int32, copy=False)

    def level_codes(self) -> list[np.ndarray]:
        """Per level, the code of each raw value's generalization (codes number the distinct
        generalized values of that level in first-seen order)."""
        out = []
        for level in range(self.height + 1):
            seen: dict[str, int] = {}
            out.append(np.array([seen.setdefault(r[level], len(seen)) for r in self.rows],
                                dtype=np.int32))
        return out

    def shares(self) -> list[np.ndarray]:
        """Per level, the share of the domain each raw value's generalization covers: the number
        of raw values with the same generalization over the domain size (ARX's domain share)."""
        size = len(self.rows)
        out = []
        for codes in self.level_codes():
            out.append(np.bincount(codes)[codes] / size)
        return out

    # ---- constructors

    @classmethod
    def from_rows(cls, attribute: str, rows: Iterable[Sequence[str]]) -> Hierarchy:
        return cls(attribute, tuple(tuple(str(v) for v in row) for row in rows))

    @classmethod
    def from_mapping(cls, attribute: str, mapping: Mapping[str, Sequence[str]]) -> Hierarchy:
        """``{raw: [level 1, level 2, ...]}``; a top level ``*`` is added when missing."""
        rows = [(str(raw), *(str(v) for v in up)) for raw, up in mapping.items()]
        if rows and any(len(r) == 1 or r[-1] != TOP for r in rows):
            rows = [(*r, TOP) for r in rows]
        return cls.from_rows(attribute, rows)

    @classmethod
    def flat(cls, attribute: str, values: Iterable[object]) -> Hierarchy:
        """Raw value or ``*``: suppression of the attribute is the only generalization."""
        distinct = dict.fromkeys(str(v) for v in values if v is not None)
        return cls.from_rows(attribute, [(v, TOP) for v in distinct])

    @classmethod
    def intervals(cls, attribute: str, values: Iterable[float] | pl.Series,
                  widths: Sequence[float] | None = None, *, origin: float | None = None
                  ) -> Hierarchy:
        """Numbers in intervals ``[lo, hi)`` of growing width; each width must be a multiple
        of the one before (so the intervals nest). Default widths double from about a
        twentieth of the range: 5, 10, 20, 40... for ages."""
        series = pl.Series(values) if not isinstance(values, pl.Series) else values
        numbers = series.drop_nulls()
        if not numbers.dtype.is_numeric():
            msg = (f"interval hierarchy for {attribute!r} needs numbers; "
                   f"got {numbers.dtype}")
            raise HierarchyError(msg)
        if len(numbers) == 0:
            raise HierarchyError(f"interval hierarchy for {attribute!r}: no values")
        low, high = float(numbers.min()), float(numbers.max())  # type: ignore[arg-type]
        if widths is None:
            first = _nice(max((high - low) / 20, 1e-9))
            widths = []
            width = first
            while width < (high - low) or not widths:
                widths.append(width)
                width *= 2
        widths = [float(w) for w in widths]
        for a, b in itertools.pairwise(widths):
            if b <= a or not math.isclose(b / a, round(b / a)):
                msg = (f"interval widths for {attribute!r} must grow by whole multiples so "
                       f"the intervals nest; got {widths}")
                raise HierarchyError(msg)
        if any(w <= 0 for w in widths):
            raise HierarchyError(f"interval widths for {attribute!r} must be positive")
        base = math.floor(low / widths[-1]) * widths[-1] if origin is None else origin
        keys = as_strings(numbers.unique().sort())
        rows = []
        for key, number in zip(keys.to_list(), numbers.unique().sort().to_list(), strict=True):
            row = [key]
            for width in widths:
                lo = base + math.floor((number - base) / width) * width
                row.append(f"[{_num(lo)}, {_num(lo + width)})")
            rows.append((*row, TOP))
        return cls.from_rows(attribute, rows)

    @classmethod
    def dates(cls, attribute: str, values: Iterable[date | datetime | str] | pl.Series
              ) -> Hierarchy:
        """ISO dates generalized to month (``2020-03``), year (``2020``), decade
        (``2020s``), then ``*``."""
        series = pl.Series(values) if not isinstance(values, pl.Series) else values
        if series.dtype == pl.String:
            parsed = series.str.to_date("%Y-%m-%d", strict=False)
            bad = parsed.is_null() & series.is_not_null()
            if bad.any():
                msg = (f"date hierarchy for {attribute!r}: {bad.sum()} value(s) are not "
                       f"YYYY-MM-DD dates, the first in row {bad.arg_true()[0] + 1}")
                raise HierarchyError(msg)
            series = parsed
        elif series.dtype == pl.Datetime:
            series = series.dt.date()
        elif series.dtype != pl.Date:
            msg = f"date hierarchy for {attribute!r} needs dates; got {series.dtype}"
            raise HierarchyError(msg)
        rows = []
        for day in series.drop_nulls().unique().sort().to_list():
            rows.append((day.isoformat(), f"{day.year:04d}-{day.month:02d}", f"{day.year:04d}",
                         f"{day.year // 10 * 10}s", TOP))
        return cls.from_rows(attribute, rows)

    @classmethod
    def prefixes(cls, attribute: str, values: Iterable[object] | pl.Series,
                 *, mask: str = "*") -> Hierarchy:
        """Codes masked one character at a time from the right: ``02139``, ``0213*``,
        ``021**``... up to all ``*`` (ZIP and postal codes; all codes the same length)."""
        series = pl.Series(values) if not isinstance(values, pl.Series) else values
        codes = as_strings(series).drop_nulls().unique().sort().to_list()
        lengths = {len(c) for c in codes}
        if len(lengths) != 1:
            msg = (f"prefix hierarchy for {attribute!r} needs codes of one length; "
                   f"found lengths {sorted(lengths)}")
            raise HierarchyError(msg)
        (length,) = lengths
        rows = [(*tuple(c[:length - i] + mask * i for i in range(length)), TOP)
                for c in codes]
        return cls.from_rows(attribute, rows)

    # ---- ARX files

    @classmethod
    def read_csv(cls, path: str | Path, attribute: str | None = None,
                 *, delimiter: str = ";") -> Hierarchy:
        """An ARX hierarchy file: one row per raw value, no header."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise HierarchyError(f"cannot read hierarchy file {path}: {exc}") from None
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        return cls.from_rows(attribute or path.stem, rows)

    def to_csv(self, *, delimiter: str = ";") -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(self.rows)
        return buffer.getvalue()

    def write_csv(self, path: str | Path, *, delimiter: str = ";") -> None:
        atomic_write(Path(path), self.to_csv(delimiter=delimiter).encode())


def _nice(x: float) -> float:
    """The smallest of 1, 2, 5 x 10^n not below ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
