"""HIPAA Safe Harbor as a transform (45 CFR 164.514(b)(2)): remove or coarsen the 18 identifiers.

:mod:`veil.discover.hipaa` says which identifier kinds each column holds; this module acts on
that verdict column by column, then scans its own output to check the result:

* direct identifiers (names, contact details, identifying numbers, URLs and IPs, street
  addresses, cities and every other place smaller than a state, other unique codes) are dropped;
* ZIP codes keep their first three digits, or become ``000`` where the three-digit area had
  20,000 or fewer people (the HHS list from the 2000 Census, shipped as
  ``data/hipaa_restricted_zip3.csv``);
* dates keep their year only; ages over 89 become ``"90+"`` and the birth years of people who
  may be 90 or older become one category, ``"<= {reference_year - 90}"``;
* free text has every span the analyzer finds, however weakly scored, replaced by its entity
  type (``<PERSON>``), repeated until nothing more is found, because Safe Harbor needs recall.

Columns are treated whenever their kind (name or values) suggests an identifier, even if the
report would let them pass (an age column with nobody over 89 in a sample is still top-coded),
so the output's types never depend on the data. A column in which the check scan still finds an
identifier the treatment does not allow is dropped too. As with the report, a pass is necessary,
not sufficient: the rule also asks that the releasing entity have no actual knowledge that what
remains could identify someone.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from typing import Any

import polars as pl

from veil.discover import (
    Category,
    ColumnFinding,
    Entity,
    Operator,
    SafeHarborReport,
    TableScan,
    analyze_many,
    redact_text,
    safe_harbor_report,
    scan_table,
)
from veil.discover.hipaa import SAFE_HARBOR, Identifier
from veil.errors import InputError, PrivacyModelError

__all__ = ["SafeHarborRelease", "restricted_zip3_areas", "safe_harbor"]

_PARAGRAPH = {kind.identifier: kind.paragraph for kind in SAFE_HARBOR}
_COARSENED = frozenset({Identifier.GEOGRAPHIC, Identifier.DATES})  # kept in a coarser form
_ZIP3 = r"^\s*(\d{3})(?:\d{2}(?:-\d{4})?)?\s*$"  # 3-digit, 5-digit or ZIP+4
# A four-digit year: alone, leading an ISO-like date (or YYYYMMDD), or trailing a d/m/y date.
_YEAR = r"^\s*(\d{4})(?:\s*$|[-/]\d|\d{4}(?:T|\s*$))|\d[/.-](\d{4})(?:[ T]|\s*$)"
_MAX_REDACTION_PASSES = 4  # replacing a span can expose another (an address behind a name)


@dataclass(frozen=True)
class SafeHarborRelease:
    """A table with the Safe Harbor identifiers removed, what was done, and the check scan.

    ``actions`` says, for every input column, what was done and which identifier kind (with
    its paragraph of 164.514(b)(2)(i)) made it necessary. ``permitted`` lists the kinds a kept
    column may still show in ``report`` because it holds them only in the coarse form the rule
    allows (a three-digit ZIP code, a year, ``"90+"``); any other kind is ``residual``.
    """

    frame: pl.DataFrame
    actions: dict[str, str]
    report: SafeHarborReport
    scan: TableScan
    permitted: dict[str, frozenset[Identifier]]
    reference_year: int

    @property
    def residual(self) -> dict[Identifier, list[str]]:
        """Identifier kinds the check scan finds beyond what the treatment allows (empty)."""
        return _residual(self.report, self.permitted)

    def to_dict(self) -> dict[str, Any]:
        """What a ledger entry or provenance record keeps: actions and the report, no values."""
        return {"rule": "45 CFR 164.514(b)(2)", "reference_year": self.reference_year,
                "actions": dict(self.actions),
                "present": {str(i): self.report.columns(i) for i in self.report.present},
                "residual": {str(i): cols for i, cols in self.residual.items()}}


@functools.cache
def restricted_zip3_areas() -> frozenset[str]:
    """The three-digit ZIP areas of 20,000 or fewer people that Safe Harbor turns into 000."""
    data = (files("veil.anonymize") / "data" / "hipaa_restricted_zip3.csv").read_bytes()
    table = pl.read_csv(io.BytesIO(data), comment_prefix="#", schema={"zip3": pl.String})
    return _zip3_set(table["zip3"].to_list(), "data/hipaa_restricted_zip3.csv")


def _zip3_set(values: Iterable[str], origin: str) -> frozenset[str]:
    found = frozenset(values)
    bad = sorted((v for v in found if not (isinstance(v, str) and len(v) == 3 and v.isdigit())),
                 key=repr)
    if bad:
        msg = f"{origin} must hold three-digit ZIP prefixes as strings; got {bad[:5]}"
        raise InputError(msg)
    return found


def safe_harbor(
    frame: pl.DataFrame,
    scan: TableScan | None = None,
    *,
    text_columns: Sequence[str] = (),
    reference_year: int | None = None,
    restricted_zip3: Iterable[str] | None = None,
    text_threshold: float = 0.0,
) -> SafeHarborRelease:
    """Apply the Safe Harbor method to ``frame`` (see the module docstring for each rule).

    ``scan`` is the :func:`~veil.discover.scan_table` verdict on ``frame`` (default: a full scan,
    every cell). ``text_columns`` are redacted as free text besides those the scan calls free
    text, unless their whole cells are identifiers (then they are dropped). Ages are reckoned
    at ``reference_year`` (default: this year). ``restricted_zip3`` replaces the shipped HHS
    list of small ZIP areas; ``text_threshold`` is the lowest span score redacted. Raises
    :class:`~veil.errors.InputError` for a bad argument and
    :class:`~veil.errors.PrivacyModelError` when no column is left.
    """
    if not isinstance(frame, pl.DataFrame):
        msg = f"safe_harbor needs a polars DataFrame; got {type(frame).__name__}"
        raise InputError(msg)
    year = _reference_year(reference_year)
    restricted = (restricted_zip3_areas() if restricted_zip3 is None
                  else _zip3_set(restricted_zip3, "restricted_zip3"))
    if not 0.0 <= text_threshold <= 1.0:
        msg = f"text_threshold must lie in [0, 1]; got {text_threshold}"
        raise InputError(msg)
    forced = _text_columns(frame, text_columns)
    scan = scan_table(frame, sample=None) if scan is None else _checked(scan, frame)
    kinds = _kinds(safe_harbor_report(scan))
    kept: dict[str, pl.Series] = {}
    actions: dict[str, str] = {}
    permitted: dict[str, frozenset[Identifier]] = {}
    for column in frame.columns:
        series, actions[column], allowed = _treat(
            frame[column], scan.finding(column), kinds.get(column, frozenset()),
            text=column in forced, year=year, restricted=restricted, threshold=text_threshold)
        if series is not None:
            kept[column] = series
        if series is not None and allowed:
            permitted[column] = allowed
    result, check = _checked_result(pl.DataFrame(kept), actions)
    report = safe_harbor_report(check)
    leftover: dict[str, set[Identifier]] = {}
    for identifier, columns in _residual(report, permitted).items():
        for column in columns:
            leftover.setdefault(column, set()).add(identifier)
    if leftover:  # the treatment missed something: drop the column and check again
        for column, still in leftover.items():
            done = actions[column].split(":")[0]
            actions[column] = f"dropped: still held {_describe(still)} after {done}"
            permitted.pop(column, None)
        result, check = _checked_result(result.drop(list(leftover)), actions)
        report = safe_harbor_report(check)
    return SafeHarborRelease(result, actions, report, check, permitted, year)


def _reference_year(value: int | None) -> int:
    if value is None:
        return date.today().year
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 9999:
        msg = f"reference_year must be a four-digit year; got {value!r}"
        raise InputError(msg)
    return value


def _text_columns(frame: pl.DataFrame, names: Sequence[str]) -> frozenset[str]:
    if isinstance(names, str):
        msg = f"text_columns must be a list of column names, not the string {names!r}"
        raise InputError(msg)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        msg = f"text_columns {missing} are not in the frame; columns are {frame.columns}"
        raise InputError(msg)
    not_text = [n for n in names if frame.schema[n] != pl.String]
    if not_text:
        msg = f"text_columns {not_text} are not String columns; only text can be redacted"
        raise InputError(msg)
    return frozenset(names)


def _checked(scan: TableScan, frame: pl.DataFrame) -> TableScan:
    if not isinstance(scan, TableScan):
        msg = f"scan must be a TableScan from veil.discover.scan_table; got {type(scan).__name__}"
        raise InputError(msg)
    scanned = [f.column for f in scan.columns]
    if sorted(scanned) != sorted(frame.columns):
        msg = (f"the scan covers columns {scanned} but the frame has {frame.columns}; "
               "scan this frame, or pass scan=None to have it scanned")
        raise InputError(msg)
    return scan


def _checked_result(result: pl.DataFrame, actions: Mapping[str, str]) -> tuple[
        pl.DataFrame, TableScan]:
    if result.width == 0:
        msg = ("Safe Harbor leaves no column of this table: "
               + "; ".join(f"{c}: {a}" for c, a in actions.items()))
        raise PrivacyModelError(msg)
    return result, scan_table(result, sample=None)


def _kinds(report: SafeHarborReport) -> dict[str, frozenset[Identifier]]:
    """The identifier kinds the report finds in each column."""
    out: dict[str, set[Identifier]] = {}
    for identifier, hits in report.present.items():
        for hit in hits:
            out.setdefault(hit.column, set()).add(identifier)
    return {c: frozenset(kinds) for c, kinds in out.items()}


def _residual(report: SafeHarborReport,
              permitted: Mapping[str, frozenset[Identifier]]) -> dict[Identifier, list[str]]:
    out: dict[Identifier, list[str]] = {}
    for identifier, hits in report.present.items():
        columns = [h.column for h in hits if identifier not in permitted.get(h.column, ())]
        if columns:
            out[identifier] = columns
    return out


def _describe(kinds: Iterable[Identifier]) -> str:
    ordered = sorted(kinds, key=lambda i: _PARAGRAPH[i])
    return ", ".join(f"{i} {_PARAGRAPH[i]}" for i in ordered)


def _treat(
    series: pl.Series, found: ColumnFinding, kinds: frozenset[Identifier], *, text: bool,
    year: int, restricted: frozenset[str], threshold: float,
) -> tuple[pl.Series | None, str, frozenset[Identifier]]:
    """One column's treatment: the new values (``None``: dropped), the action, what it permits."""
    hint = found.evidence.get("name_hint")
    free_text = "mean_chars" in found.evidence and found.entity is None  # the scan's verdict
    whole = found.evidence.get("whole_cell_share", 0.0) >= 0.5  # whole cells are identifiers
    if series.dtype == pl.String and (free_text or (text and not whole)):
        redacted, summary = _redact(series, threshold)
        return redacted, f"redacted: free text, {summary}", frozenset()
    direct = kinds - _COARSENED
    if direct:
        return None, f"dropped: {_describe(direct)}", frozenset()
    geographic = frozenset({Identifier.GEOGRAPHIC})
    dates = frozenset({Identifier.DATES})
    if Identifier.GEOGRAPHIC in kinds:
        is_zip = found.entity is Entity.ZIP_CODE or hint == "zip"
        if not is_zip or Identifier.DATES in kinds:
            return None, f"dropped: {_describe(kinds)}", frozenset()
        return (_zip3(series, restricted), "zip3: first three digits kept, 000 for the "
                f"{len(restricted)} areas of 20,000 or fewer people, {_describe(kinds)}",
                geographic)
    if found.entity is Entity.DATE_OF_BIRTH or hint in ("birth_date", "birth_year"):
        cutoff = year - 90
        return (_birth_year(series, cutoff), f"birth year: year only, years up to {cutoff} "
                f"(possibly aged 90 or older in {year}) grouped as '<= {cutoff}', "
                f"{_describe(dates)}", dates)
    if found.entity is Entity.AGE or hint == "age":
        return _age(series), f"age: ages over 89 grouped as '90+', {_describe(dates)}", dates
    if Identifier.DATES in kinds or series.dtype == pl.Date or isinstance(series.dtype,
                                                                          pl.Datetime):
        return _year(series), f"year: dates reduced to their year, {_describe(dates)}", dates
    category = found.category if found.category is not Category.OTHER else "no personal data"
    return series, f"kept: no Safe Harbor identifier found ({category})", frozenset()


def _year(series: pl.Series) -> pl.Series:
    """The year of a date, a datetime, or a date written as text (else null)."""
    if series.dtype == pl.Date or isinstance(series.dtype, pl.Datetime):
        return series.dt.year()
    text = pl.col("v").cast(pl.String)
    years = pl.coalesce(text.str.extract(_YEAR, 1), text.str.extract(_YEAR, 2)).cast(pl.Int32)
    return series.to_frame("v").select(years.alias(series.name)).to_series()


def _birth_year(series: pl.Series, cutoff: int) -> pl.Series:
    years = _year(series)
    grouped = (pl.when(pl.col("y") <= cutoff).then(pl.lit(f"<= {cutoff}"))
               .otherwise(pl.col("y").cast(pl.String)))
    return years.to_frame("y").select(grouped.alias(series.name)).to_series()


def _age(series: pl.Series) -> pl.Series:
    """Whole years as text, ``"90+"`` from 90 on; what is not a number becomes null."""
    age = pl.col("a").cast(pl.Float64, strict=False).fill_nan(None)
    coded = (pl.when(age >= 90).then(pl.lit("90+"))
             .otherwise(age.floor().cast(pl.Int64).cast(pl.String)))
    return series.to_frame("a").select(coded.alias(series.name)).to_series()


def _zip3(series: pl.Series, restricted: frozenset[str]) -> pl.Series:
    """First three digits (5-digit, ZIP+4 or 3-digit values; else null), 000 if restricted."""
    if series.dtype.is_integer():  # leading zeros were lost: 2134 is 02134
        code = (pl.when(pl.col("z").is_between(0, 99_999))
                .then(pl.col("z").cast(pl.String).str.zfill(5)))
    else:
        code = pl.col("z").cast(pl.String)
    prefix = code.str.extract(_ZIP3, 1)
    zip3 = pl.when(prefix.is_in(sorted(restricted))).then(pl.lit("000")).otherwise(prefix)
    return series.to_frame("z").select(zip3.alias(series.name)).to_series()


def _redact(series: pl.Series, threshold: float) -> tuple[pl.Series, str]:
    """Replace every span found with its entity type, over the distinct texts, until none is
    left (or the pass limit); returns the new column and a summary of what was replaced."""
    distinct = series.drop_nulls().unique(maintain_order=True)
    texts = distinct.to_list()
    replaced: set[str] = set()
    todo = list(range(len(texts)))
    for _ in range(_MAX_REDACTION_PASSES):
        spans = analyze_many([texts[i] for i in todo], threshold=threshold)
        found = [(i, s) for i, s in zip(todo, spans, strict=True) if s]
        for i, cell in found:
            texts[i] = redact_text(texts[i], cell, operator=Operator.REPLACE)
            replaced.update(str(span.entity) for span in cell)
        todo = [i for i, _ in found]
        if not todo:
            break
    new = series.replace_strict(distinct, pl.Series(texts, dtype=pl.String), default=None)
    kinds = ", ".join(sorted(replaced)) or "none found"
    return new.rename(series.name), f"spans replaced by their entity type ({kinds})"
