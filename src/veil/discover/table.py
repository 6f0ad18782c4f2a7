"""Classify every column of a table as a direct identifier, quasi-identifier, sensitive or other.

Values are stronger evidence than names (a column called ``notes`` may hold SSNs, one called
``c7`` may hold emails), so each column is decided by the first rule that fires:

1. **Unsupported types.** Nested (List/Array/Struct) columns are OTHER with evidence
   ``"skipped: nested type"``; Binary and Object columns are not value-scanned either and fall
   back to the column-name rule. Each skip raises a ``UserWarning``.
2. **Whole-cell values.** Every recognizer runs once over the distinct cells (capped at
   ``MAX_CELL_CHARS``); a column whose non-null cells are mostly (>= 50 %) one entity as the
   whole cell takes that entity: DIRECT_IDENTIFIER for names, contact details, SSNs, cards,
   IBANs, addresses, licences, passports, MRNs, IPs and URLs; QUASI_IDENTIFIER for birth dates,
   ZIP codes, other dates and ages. Date/Datetime columns are dates; cells that are mostly
   ICD-10 codes make a SENSITIVE column. Generic patterns (ZIP code, age, licence, passport,
   MRN, ICD-10) give way to a column-name rule that disagrees: an ``income`` column full of
   five-digit numbers holds salaries, not ZIP codes, and clinic ``C01`` is not a tongue tumour.
3. **Free text.** Long, many-token cells (mean >= 32 characters and >= 5 tokens) of which at
   least 1 % contain a person's name, contact details or an identifying number are a
   DIRECT_IDENTIFIER with entity ``None``; ``evidence["contained"]`` lists what was found and in
   what share of cells (clinical notes). A short column in which most cells *contain* a
   strongly validated identifier (``"Jane <jane@example.com>"``) is that identifier.
4. **Column names** (:data:`~veil.discover.column_names.NAME_RULES`): the name is
   accent-folded, split on case and punctuation, and matched against keyword rules in several
   languages, most specific first (``clinic_name`` is a care site, not a person). A weak value
   pattern agreeing with the name (>= 20 % of cells) sets the entity.
5. **Unique per-row values** (distinct ratio >= 0.98 over >= 50 cells, strings or integers,
   short): a record identifier, DIRECT_IDENTIFIER.
6. **Known vocabularies**: sex/gender codes, ethnicity labels, marital statuses and US states
   make a QUASI_IDENTIFIER even under an uninformative name.
7. Otherwise OTHER.

The evidence for these rules is gathered by ``veil.discover.evidence``; the scan then reports
the quasi-identifier risk of the QUASI_IDENTIFIER columns (``veil.discover.qi``).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from veil.discover.column_names import name_hint
from veil.discover.entities import NATIONAL_IDS, Category, Entity
from veil.discover.evidence import Recognizer, _Column, _EntityHits, _gather
from veil.discover.files import _TEXT, read_source
from veil.discover.qi import QiRisk, qi_risk
from veil.errors import InputError

__all__ = [
    "ColumnFinding",
    "TableScan",
    "scan_file",
    "scan_table",
]

_WORKERS = min(2, os.cpu_count() or 1)  # column workers

_MOSTLY = 0.5  # share of cells that makes a column "mostly" one entity
_CORROBORATED = 0.2  # share of a weak pattern enough when the column name agrees
_TEXT_CONTAINS = 0.01  # share of free-text cells containing an identifier that flags it
_UNIQUE_RATIO, _UNIQUE_MIN_CELLS, _UNIQUE_MAX_CHARS = 0.98, 50, 64.0
_HINT_CONFIDENCE = 0.6

DIRECT_ENTITIES = frozenset({
    Entity.PERSON, Entity.EMAIL_ADDRESS, Entity.PHONE_NUMBER, Entity.US_SSN, Entity.CREDIT_CARD,
    Entity.IBAN_CODE, Entity.STREET_ADDRESS, Entity.US_DRIVER_LICENSE, Entity.PASSPORT,
    Entity.MEDICAL_RECORD_NUMBER, Entity.IP_ADDRESS, Entity.URL, *NATIONAL_IDS,
})
QUASI_ENTITIES = frozenset({Entity.DATE_OF_BIRTH, Entity.ZIP_CODE, Entity.DATE_TIME, Entity.AGE})
# Patterns that many harmless values also fit: a disagreeing column name overrides them.
_WEAK_ENTITIES = frozenset({
    Entity.ZIP_CODE, Entity.AGE, Entity.US_DRIVER_LICENSE, Entity.PASSPORT,
    Entity.MEDICAL_RECORD_NUMBER, Entity.DATE_TIME, Entity.DATE_OF_BIRTH,
})
# Validated (checksum, structure) identifiers trusted when merely contained in short cells.
_STRONG_ENTITIES = frozenset({
    Entity.EMAIL_ADDRESS, Entity.PHONE_NUMBER, Entity.US_SSN, Entity.CREDIT_CARD,
    Entity.IBAN_CODE, Entity.IP_ADDRESS, Entity.URL, *NATIONAL_IDS,
})


def category_of(entity: Entity) -> Category:
    """The category a column holding only ``entity`` falls into."""
    if entity in DIRECT_ENTITIES:
        return Category.DIRECT_IDENTIFIER
    if entity in QUASI_ENTITIES:
        return Category.QUASI_IDENTIFIER
    return Category.OTHER


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnFinding:
    """The verdict on one column, with the evidence it rests on (no raw values)."""

    column: str
    category: Category
    entity: Entity | None
    confidence: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "category": str(self.category),
            "entity": None if self.entity is None else str(self.entity),
            "confidence": self.confidence,
            "evidence": _jsonable(self.evidence),
        }


@dataclass(frozen=True)
class TableScan:
    """Findings for every column, the quasi-identifier risk, and what was scanned.

    ``rows`` is ``None`` when a file was read only in part and its length is unknown.
    """

    columns: list[ColumnFinding]
    qi_risk: list[QiRisk]
    rows: int | None
    scanned_rows: int
    seconds: float
    qi_truncated: bool = False
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.rows is None or self.scanned_rows < self.rows

    def by_category(self, category: Category | str) -> list[str]:
        wanted = Category(category)
        return [f.column for f in self.columns if f.category is wanted]

    def finding(self, column: str) -> ColumnFinding:
        for found in self.columns:
            if found.column == column:
                return found
        msg = f"no column {column!r} in this scan; columns: {[f.column for f in self.columns]}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scanned_rows": self.scanned_rows,
            "sampled": self.sampled,
            "seconds": round(self.seconds, 6),
            "source": self.source,
            "columns": [f.to_dict() for f in self.columns],
            "qi_risk": [r.to_dict() for r in self.qi_risk],
            "qi_truncated": self.qi_truncated,
            "warnings": list(self.warnings),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    return value


# -- the decision -----------------------------------------------------------------------------
def _noisy_or(*confidences: float) -> float:
    remaining = 1.0
    for c in confidences:
        remaining *= 1.0 - min(max(c, 0.0), 1.0)
    return round(1.0 - remaining, 4)


def _decide(col: _Column) -> ColumnFinding:
    """Turn gathered evidence into a verdict, in the order the module docstring gives."""
    hint = col.hint
    hint_conf = _HINT_CONFIDENCE if hint else 0.0

    def finding(category: Category, entity: Entity | None, confidence: float, reason: str,
                *, source: Entity | None = None, **extra: Any) -> ColumnFinding:
        evidence = col.evidence(source or entity, reason=reason, **extra)
        return ColumnFinding(col.name, category, entity, round(min(confidence, 1.0), 4),
                             evidence)

    if col.non_null == 0:
        if hint:
            return finding(hint.category, hint.entity, hint_conf / 2, "name_hint (all null)")
        return finding(Category.OTHER, None, 0.5, "all null")

    # 2. whole-cell values
    if col.date_share >= _MOSTLY and not col.hits:
        hinted_birth = hint is not None and hint.entity is Entity.DATE_OF_BIRTH
        entity = Entity.DATE_OF_BIRTH if hinted_birth else Entity.DATE_TIME
        if hint is None or hint.category is Category.QUASI_IDENTIFIER or hinted_birth:
            return finding(Category.QUASI_IDENTIFIER, entity,
                           _noisy_or(col.date_share * 0.9, hint_conf), "date values",
                           match_share=col.date_share, whole_cell_share=col.date_share)
    icd = col.icd10_share >= _MOSTLY and (hint is None or hint.category is Category.SENSITIVE)
    best = _best_whole(col)
    if best is not None:
        category, entity = category_of(best.entity), best.entity
        weak = entity in _WEAK_ENTITIES
        if icd and weak:
            return _icd_finding(col, finding)
        if weak and hint is not None and hint.entity is not entity and not (
            entity is Entity.DATE_TIME and hint.entity is Entity.DATE_OF_BIRTH
        ):
            return finding(hint.category, hint.entity, _noisy_or(hint_conf, 0.2),
                           "name_hint over weak pattern", weak_pattern=str(entity),
                           weak_share=best.whole)
        if entity is Entity.DATE_TIME and hint is not None and hint.name == "birth_date":
            entity = Entity.DATE_OF_BIRTH
        agrees = hint is not None and hint.entity is entity
        return finding(category, entity,
                       _noisy_or(best.whole * best.score, hint_conf if agrees else 0.0),
                       "whole-cell values", source=best.entity)
    if icd:
        return _icd_finding(col, finding)
    if col.date_share >= _MOSTLY and (hint is None or hint.category is not Category.SENSITIVE):
        entity = Entity.DATE_OF_BIRTH if hint and hint.name == "birth_date" else Entity.DATE_TIME
        return finding(Category.QUASI_IDENTIFIER, entity, col.date_share * 0.9, "date values",
                       match_share=col.date_share, whole_cell_share=col.date_share)

    # 3. identifiers inside the cells
    contained = {e: h for e, h in col.hits.items() if h.contained > 0}
    if col.free_text:
        direct = {e: h for e, h in contained.items()
                  if e in DIRECT_ENTITIES and h.contained >= _TEXT_CONTAINS}
        if direct:
            inside = {str(e): h.contained for e, h in sorted(contained.items())}
            share = max(h.contained for h in direct.values())
            return finding(Category.DIRECT_IDENTIFIER, None,
                           _noisy_or(*(h.contained * h.score for h in direct.values())),
                           "free text containing identifiers", contained=inside,
                           match_share=share)
    else:
        strong = [h for e, h in contained.items()
                  if e in _STRONG_ENTITIES and h.contained >= _MOSTLY]
        if strong:
            top = max(strong, key=lambda h: (h.contained, h.score))
            return finding(Category.DIRECT_IDENTIFIER, top.entity, top.contained * top.score,
                           "contained values")

    # 4. column name
    if hint is not None:
        entity = hint.entity
        corroborated = entity is not None and entity in col.hits and (
            col.hits[entity].whole >= _CORROBORATED)
        conf = _noisy_or(hint_conf, col.hits[entity].whole if corroborated else 0.0)  # type: ignore[index]
        extra: dict[str, Any] = {}
        if col.free_text and contained:
            extra["contained"] = {str(e): h.contained for e, h in sorted(contained.items())}
        return finding(hint.category, entity, conf, "name_hint", **extra)

    # 5. unique per-row values
    dtype = col.dtype
    if ((dtype == pl.String or dtype.is_integer() or dtype == pl.Categorical)
            and col.non_null >= _UNIQUE_MIN_CELLS and col.distinct_ratio >= _UNIQUE_RATIO
            and col.mean_chars <= _UNIQUE_MAX_CHARS and not col.free_text):
        return finding(Category.DIRECT_IDENTIFIER, None, 0.7 * col.distinct_ratio,
                       "unique per-row values (record identifier)")

    # 6. demographic vocabularies
    if col.vocabulary is not None:
        return finding(Category.QUASI_IDENTIFIER, None, 0.8 * col.vocabulary_share,
                       f"{col.vocabulary} vocabulary", vocabulary=col.vocabulary)

    # 7. nothing personal found
    if col.free_text and contained:
        inside = {str(e): h.contained for e, h in sorted(contained.items())}
        quasi = {e: h for e, h in contained.items()
                 if e in QUASI_ENTITIES and h.contained >= _TEXT_CONTAINS}
        if quasi:
            return finding(Category.QUASI_IDENTIFIER, None,
                           _noisy_or(*(h.contained * h.score for h in quasi.values())),
                           "free text containing quasi-identifiers", contained=inside)
        return finding(Category.OTHER, None, 0.5, "no identifying values", contained=inside)
    best_share = max((h.whole for h in col.hits.values()), default=0.0)
    return finding(Category.OTHER, None, round(1.0 - best_share, 4), "no identifying values")


def _best_whole(col: _Column) -> _EntityHits | None:
    """The entity most cells are, as a whole; validated patterns beat generic ones."""
    mostly = [h for h in col.hits.values() if h.whole >= _MOSTLY]
    if not mostly:
        return None
    return max(mostly, key=lambda h: (h.entity not in _WEAK_ENTITIES, h.whole, h.score))


def _icd_finding(col: _Column, finding: Any) -> ColumnFinding:
    hint = col.hint
    agrees = hint is not None and hint.category is Category.SENSITIVE
    return finding(Category.SENSITIVE, None,
                   _noisy_or(col.icd10_share * 0.8, _HINT_CONFIDENCE if agrees else 0.0),
                   "ICD-10 diagnosis codes")


def _skipped(name: str, series: pl.Series, why: str) -> ColumnFinding:
    """A column whose values cannot be pattern-matched: OTHER if nested, else the name rule."""
    hint = name_hint(name)
    nested = series.dtype.is_nested()
    evidence = {
        "match_share": 0.0, "whole_cell_share": 0.0,
        "null_share": series.null_count() / len(series) if len(series) else 1.0,
        "distinct_ratio": None, "name_hint": hint.name if hint else None,
        "scanned": 0, "dtype": str(series.dtype), "reason": f"skipped: {why}",
    }
    if hint is None or nested:
        return ColumnFinding(name, Category.OTHER, None, 0.0, evidence)
    return ColumnFinding(name, hint.category, hint.entity, _HINT_CONFIDENCE / 2, evidence)


def _unsupported(dtype: pl.DataType) -> str | None:
    if dtype.is_nested():
        return "nested type"
    if dtype == pl.Binary:
        return "binary type"
    if dtype == pl.Object:
        return "unsupported type Object (mixed Python objects); cast it to String to scan it"
    return None


# -- the table scan ---------------------------------------------------------------------------
def _default_recognizers() -> tuple[Recognizer, ...]:
    from veil.discover.recognizers import RECOGNIZERS  # optional at import time

    return tuple(RECOGNIZERS)


def scan_table(
    frame: pl.DataFrame,
    *,
    sample: int | None = 10_000,
    seed: int = 0,
    max_combination: int = 3,
    recognizers: Sequence[Recognizer] | None = None,
) -> TableScan:
    """Classify every column of ``frame`` (see the module docstring for the rules).

    ``sample=None`` scans every cell; otherwise a uniform, seeded sample of ``sample`` rows
    (all rows when the table is smaller). Raises :class:`~veil.errors.InputError` for an empty
    table; never fails on a single column's contents.
    """
    return _scan(frame, sample=sample, seed=seed, max_combination=max_combination,
                 recognizers=recognizers, text_columns=(), rows=_FRAME_ROWS, source=None)


_FRAME_ROWS = -1  # _scan's rows: the frame's own height (a file's may be unknown: None)


def _text_bytes(series: pl.Series) -> int:
    return int(series.str.len_bytes().sum() or 0) if series.dtype == pl.String else 0


def _scan(
    frame: pl.DataFrame, *, sample: int | None, seed: int, max_combination: int,
    recognizers: Sequence[Recognizer] | None, text_columns: Iterable[str], rows: int | None,
    source: str | None,
) -> TableScan:
    start = time.perf_counter()
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        msg = f"scan_table needs a polars DataFrame; got {type(frame).__name__}"
        raise InputError(msg)
    if frame.width == 0 or frame.height == 0:
        msg = (f"empty table: {frame.height} rows x {frame.width} columns; "
               "a scan needs at least one row and one column")
        raise InputError(msg)
    if sample is not None and (isinstance(sample, bool) or sample < 1):
        msg = f"sample must be a positive number of rows or None for a full scan; got {sample!r}"
        raise InputError(msg)
    if max_combination < 0:
        msg = f"max_combination must be >= 0; got {max_combination}"
        raise InputError(msg)
    recs = _default_recognizers() if recognizers is None else tuple(recognizers)
    forced = set(text_columns)

    skipped = {c: why for c, dtype in frame.schema.items()
               if (why := _unsupported(dtype)) is not None}
    findings = {c: _skipped(c, frame[c], why) for c, why in skipped.items()}
    notes = [f"column {c!r} ({frame.schema[c]}) was not scanned: {why}"
             for c, why in skipped.items()]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)

    scannable = [c for c in frame.columns if c not in skipped]
    scanned = frame.select(scannable)
    if sample is not None and scanned.height > sample:
        scanned = scanned.sample(n=sample, seed=seed)
    def judge(name: str) -> ColumnFinding:
        series = scanned[name]
        if series.dtype in (pl.Categorical, pl.Enum):
            series = series.cast(pl.String)
        return _decide(_gather(name, series, recs, force_text=name in forced))

    # Columns are independent and their regex passes run in Polars without the GIL, so two
    # workers keep both cores busy; the slowest (free text) column then sets the pace.
    # The longest text goes first so it is not left running alone at the end.
    order = sorted(scannable, key=lambda c: -_text_bytes(scanned[c]))
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        findings |= dict(zip(order, pool.map(judge, order), strict=True))

    columns = [findings[c] for c in frame.columns]
    quasi = [f.column for f in columns
             if f.category is Category.QUASI_IDENTIFIER and f.column in scannable]
    risks, truncated = qi_risk(scanned, quasi, max_combination=max_combination)
    return TableScan(
        columns=columns,
        qi_risk=risks,
        rows=frame.height if rows == _FRAME_ROWS else rows,
        scanned_rows=scanned.height if scannable else 0,
        seconds=time.perf_counter() - start,
        qi_truncated=truncated,
        source=source,
        warnings=notes,
    )


def scan_file(
    path: str | Path,
    *,
    sample: int | None = 10_000,
    seed: int = 0,
    max_combination: int = 3,
    recognizers: Sequence[Recognizer] | None = None,
) -> TableScan:
    """Scan a CSV/TSV, Parquet, JSON-lines or text file (one ``text`` column of lines).

    With ``sample`` only the *first* ``sample`` rows are read, so a 10 GB file costs the same
    as a small one; this head is not a uniform sample, so sorted files bias it (use
    ``sample=None`` or :func:`scan_table` on a loaded frame for a uniform one). Unreadable
    input raises :class:`~veil.errors.MalformedSourceError` saying why.
    """
    path = Path(path)
    frame, rows = read_source(path, limit=sample)
    return _scan(frame, sample=None, seed=seed, max_combination=max_combination,
                 recognizers=recognizers,
                 text_columns=("text",) if path.suffix.lower() in _TEXT else (),
                 rows=rows, source=str(path))
