"""Discover: veil's table scanner against Presidio's batch analyzer on the demo patients.

1. Full scan speed. veil's ``scan_table(sample=None)`` classifies every cell of the demo
   table's ten most PII-laden columns (100,000 rows = 1,000,000 cells; quick: 5,000 rows),
   best of 3, each run with the recognizers' per-value caches emptied first (a repeat over
   the same data would otherwise only hit them; that warm figure is reported too, for
   information). Presidio (``BatchAnalyzerEngine`` over an ``AnalyzerEngine`` with the
   ``NoOpNlpEngine``, offline; tldextract told not to fetch) manages about a thousand cells a
   second, so it runs on a fixed random subset of rows (2,000 rows = 20,000 cells; quick: 300)
   after a short untimed warm-up. Speeds are cells per second, each over the cells that tool
   scanned; the figures say how many.
2. Column verdicts against the truth the generator knows. Presidio's verdict for a column is
   the entity found in most of its cells (ties to the higher mean score), or "contains PII"
   when that entity covers under half of each cell's characters on average or no entity is in
   most cells but most cells hold some entity; nothing found in most cells is "none".
   veil's verdict is its column entity, "contains PII" for free text with identifiers inside,
   else "none". A birth date may be called DATE_OF_BIRTH or DATE_TIME.
3. Sampled mode: veil's default scan (10,000 sampled rows) on the same table, and whether its
   verdicts match the full scan's. presidio-structured (``PandasAnalysisBuilder`` on the same
   offline engine, its own row sample of the Presidio subset's size, most-common-entity
   strategy) is compared when it imports; its verdict is its column entity, else "none".
4. The PII evaluation (``bench/pii_eval.py``), when present, runs at the end.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections import Counter, defaultdict
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

import veil.discover
from bench._common import goal, timed, write_results
from veil.demo.data import generate_patients
from veil.discover.entities import Category, Entity
from veil.discover.table import TableScan, scan_table

AREA = "discover"
COLUMNS = ("name", "ssn", "email", "phone", "birth_date", "street_address", "zip_code", "sex",
           "diagnosis_code", "clinical_note")
CONTAINS = "CONTAINS_PII"
NONE = "none"
TRUTH: dict[str, frozenset[str]] = {
    "name": frozenset({Entity.PERSON}),
    "ssn": frozenset({Entity.US_SSN}),
    "email": frozenset({Entity.EMAIL_ADDRESS}),
    "phone": frozenset({Entity.PHONE_NUMBER}),
    "birth_date": frozenset({Entity.DATE_OF_BIRTH, Entity.DATE_TIME}),
    "street_address": frozenset({Entity.STREET_ADDRESS}),
    "zip_code": frozenset({Entity.ZIP_CODE}),
    "sex": frozenset({NONE}),  # a quasi-identifier by its name, not an entity
    "diagnosis_code": frozenset({NONE}),  # sensitive, not an identifier
    "clinical_note": frozenset({CONTAINS}),
}


def _table(rows: int) -> pl.DataFrame:
    frame = generate_patients(rows).select(COLUMNS)
    return frame.with_columns(pl.col("birth_date").cast(pl.String))


# -- veil -------------------------------------------------------------------------------------
def _veil_verdicts(scan: TableScan) -> dict[str, str]:
    verdicts = {}
    for found in scan.columns:
        if found.entity is not None:
            verdicts[found.column] = str(found.entity)
        elif found.category is Category.DIRECT_IDENTIFIER and found.evidence.get("contained"):
            verdicts[found.column] = CONTAINS
        else:
            verdicts[found.column] = NONE
    return verdicts


# -- Presidio ---------------------------------------------------------------------------------
def _presidio() -> Any:
    """An offline Presidio batch analyzer: no spaCy model, no suffix-list download."""
    import tldextract  # optional peer, imported only when benchmarking

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    return BatchAnalyzerEngine(engine)


def _analyze(batch: Any, frame: pl.DataFrame) -> dict[str, list[list[Any]]]:
    data = {c: frame[c].cast(pl.String).fill_null("").to_list() for c in frame.columns}
    return {r.key: list(r.recognizer_results) for r in batch.analyze_dict(data, language="en")}


def _presidio_verdict(values: list[str], cells: list[list[Any]]) -> str:
    """The entity in most cells; "contains PII" if it covers little of them (see docstring)."""
    found: Counter[str] = Counter()
    scores: defaultdict[str, list[float]] = defaultdict(list)
    coverage: defaultdict[str, list[float]] = defaultdict(list)
    with_any = 0
    for value, results in zip(values, cells, strict=True):
        with_any += bool(results)
        best: dict[str, Any] = {}
        for r in results:
            if r.entity_type not in best or r.score > best[r.entity_type].score:
                best[r.entity_type] = r
        for entity, r in best.items():
            found[entity] += 1
            scores[entity].append(r.score)
            coverage[entity].append((r.end - r.start) / max(len(value), 1))
    n = len(values)
    if found:
        entity, count = max(found.items(),
                            key=lambda kv: (kv[1], sum(scores[kv[0]]) / len(scores[kv[0]])))
        if count > n / 2:
            mean_cover = sum(coverage[entity]) / len(coverage[entity])
            return entity if mean_cover >= 0.5 else CONTAINS
    return CONTAINS if with_any > n / 2 else NONE


def _structured(engine: Any, frame: pl.DataFrame, rows: int) -> tuple[dict[str, str] | None,
                                                                       float, str]:
    """presidio-structured's column entities from ``rows`` sampled rows, if it imports; it
    runs on the same offline analyzer engine as the batch analyzer."""
    try:
        from presidio_structured import PandasAnalysisBuilder
    except ImportError as exc:
        return None, float("nan"), f"presidio-structured not installed ({exc})"
    try:
        builder = PandasAnalysisBuilder(analyzer=engine)
        start = time.perf_counter()
        analysis = builder.generate_analysis(frame.to_pandas(), n=min(rows, frame.height))
        seconds = time.perf_counter() - start
    except Exception as exc:  # a peer's failure is reported, not fatal
        return None, float("nan"), f"presidio-structured failed: {exc!r}"
    mapping = {str(k): str(v) for k, v in analysis.entity_mapping.items()}
    return mapping, seconds, f"ran on {min(rows, frame.height)} sampled rows"


def _clear_value_caches() -> int:
    """Empty the recognizers' per-value memo caches (the bounded ``lru_cache``s, such as parsed
    phone numbers), so a timed scan costs what a first scan of new data costs. Compiled regexes
    and the name lexicon (unbounded caches) stay loaded, like Presidio's engine."""
    cleared = 0
    modules = [m for name, m in sys.modules.items()
               if name.startswith(f"{veil.discover.__name__}.")]
    for module in modules:
        for obj in vars(module).values():
            info = getattr(obj, "cache_info", None)
            if callable(info) and info().maxsize is not None:
                obj.cache_clear()
                cleared += 1
    return cleared


# -- the run ----------------------------------------------------------------------------------
def _show(verdicts: dict[str, dict[str, str]]) -> None:
    table = Table(title="column verdicts")
    table.add_column("column")
    table.add_column("truth")
    for tool in verdicts:
        table.add_column(tool)
    for column in COLUMNS:
        cells = []
        for tool in verdicts:
            verdict = verdicts[tool].get(column, "-")
            ok = verdict in TRUTH[column]
            cells.append(f"[{'green' if ok else 'red'}]{verdict}[/]")
        table.add_row(column, " / ".join(sorted(TRUTH[column])), *cells)
    Console().print(table)


def main(quick: bool = False) -> dict[str, Any]:
    rows = 5_000 if quick else 100_000
    presidio_rows = 300 if quick else 2_000
    sample = 10_000
    frame = _table(rows)
    cells = frame.height * frame.width

    # 1. veil, every cell; each timed run starts with the per-value caches empty
    scans: list[TableScan] = []
    timing = timed(lambda _: scans.append(scan_table(frame, sample=None)), repeat=3,
                   setup=_clear_value_caches)
    veil_verdicts = _veil_verdicts(scans[-1])
    warm = timed(lambda: scan_table(frame, sample=None), repeat=1)  # for information only

    # 1. Presidio on a fixed subset of rows
    start = time.perf_counter()
    batch = _presidio()
    presidio_init = time.perf_counter() - start
    subset = frame.sample(n=min(presidio_rows, frame.height), seed=7)
    _analyze(batch, subset.head(20))  # warm-up: lazy imports and regex compilation
    start = time.perf_counter()
    results = _analyze(batch, subset)
    presidio_seconds = time.perf_counter() - start
    presidio_cells = subset.height * subset.width
    presidio_verdicts = {
        c: _presidio_verdict(subset[c].cast(pl.String).fill_null("").to_list(), results[c])
        for c in COLUMNS
    }

    # 3. veil sampled, and presidio-structured if present
    sampled_scans: list[TableScan] = []
    sampled_timing = timed(lambda _: sampled_scans.append(scan_table(frame, sample=sample)),
                           repeat=3, setup=_clear_value_caches)
    sampled_verdicts = _veil_verdicts(sampled_scans[-1])
    structured, structured_seconds, structured_note = _structured(
        batch.analyzer_engine, frame, presidio_rows)

    verdicts = {"veil (full)": veil_verdicts, "veil (sampled)": sampled_verdicts,
                "presidio (subset)": presidio_verdicts}
    if structured is not None:
        verdicts["presidio-structured"] = {c: structured.get(c, NONE) for c in COLUMNS}
    _show(verdicts)
    print(f"presidio-structured: {structured_note}")

    veil_rate = cells / timing.best
    presidio_rate = presidio_cells / presidio_seconds
    veil_ok = {c: veil_verdicts[c] in TRUTH[c] for c in COLUMNS}
    presidio_ok = {c: presidio_verdicts[c] in TRUTH[c] for c in COLUMNS}
    figures: dict[str, float] = {
        "rows": frame.height,
        "columns": frame.width,
        "veil_cells_scanned": cells,
        "veil_full_scan_seconds_best": timing.best,
        "veil_full_scan_seconds_median": timing.median,
        "veil_full_scan_seconds_warm_value_caches": warm.best,
        "veil_cells_per_s": veil_rate,
        "presidio_rows_scanned": subset.height,
        "presidio_cells_scanned": presidio_cells,
        "presidio_seconds": presidio_seconds,
        "presidio_engine_init_seconds": presidio_init,
        "presidio_cells_per_s": presidio_rate,
        "veil_sampled_rows": sampled_scans[-1].scanned_rows,
        "veil_sampled_seconds_best": sampled_timing.best,
        "veil_sampled_agrees_with_full_columns": sum(
            sampled_verdicts[c] == veil_verdicts[c] for c in COLUMNS),
        "presidio_structured_available": int(structured is not None),
        "veil_correct_columns": sum(veil_ok.values()),
        "presidio_correct_columns": sum(presidio_ok.values()),
    }
    if structured is not None:
        figures["presidio_structured_rows"] = min(presidio_rows, frame.height)
        figures["presidio_structured_seconds"] = structured_seconds
        figures["presidio_structured_correct_columns"] = sum(
            verdicts["presidio-structured"][c] in TRUTH[c] for c in COLUMNS)
    for c in COLUMNS:
        figures[f"veil_correct_{c}"] = int(veil_ok[c])
        figures[f"presidio_correct_{c}"] = int(presidio_ok[c])
    goals = [
        goal("veil_vs_presidio_cells_per_s", veil_rate / presidio_rate, ">= 300"),
        goal("veil_correct_minus_presidio",
             figures["veil_correct_columns"] - figures["presidio_correct_columns"], ">= 0"),
    ]
    write_results(AREA, figures, goals, quick=quick)
    _pii_eval(quick)
    return {"figures": figures, "goals": goals, "verdicts": verdicts,
            "presidio_structured": structured_note}


def _pii_eval(quick: bool) -> None:
    """Run the colleague's PII evaluation if it exists; its failure does not undo this run."""
    try:
        from bench import pii_eval
    except ImportError:
        print("bench/pii_eval.py not present; PII evaluation skipped")
        return
    run = getattr(pii_eval, "main", None) or getattr(pii_eval, "evaluate", None)
    if run is None:
        print("bench/pii_eval.py has no main/evaluate; PII evaluation skipped")
        return
    try:
        run(quick)
    except Exception:
        print("bench/pii_eval.py failed:", file=sys.stderr)
        traceback.print_exc()
