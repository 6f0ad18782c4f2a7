"""The SmartNoise SQL side of the DP-query benchmark, run with the peer venv's python.

smartnoise-sql 1.0.x pins opendp<0.15 and pandas<3, which clash with veil's, so this script runs
in ``bench/peers/smartnoise/.venv`` (see ``bench/peers/venv.py``) and talks to the bench script
through one JSON line on stdout.

``run.py query --data patients.parquet --sql "SELECT ..." --epsilon 1.0 [--delta 1e-6]
[--repeat 20] [--budget statistic|query] [--metadata meta.yaml] [--sample-max-ids]`` reads the
Parquet file into pandas and builds one ``snsql.from_connection`` reader (neither is timed; both
are reported as ``load_seconds`` and ``setup_seconds``), then times ``repeat`` calls of
``reader.execute(sql)`` and prints ``{"seconds": [...], "rows": n, "results": [[row, ...] per
run], "error": null, ...}``.

How SmartNoise spends epsilon: the reader's ``epsilon`` is given to *every* noisy statistic in the
rewritten query, not to the query. ``AVG(x)`` becomes ``SUM(x) / COUNT(x)`` with epsilon on each,
so it costs 2 epsilon. ``--budget query`` divides epsilon evenly over the query's statistics so the
whole query costs ``--epsilon`` (basic composition); the default ``statistic`` keeps SmartNoise's
own meaning. The JSON reports ``statistics``, ``epsilon_per_statistic`` and ``epsilon_spent``.
Every statistic gets continuous Laplace noise from OpenDP (COUNT: scale 1/epsilon; SUM: scale
max(|lower|, |upper|)/epsilon); an ``int`` output (COUNT, SUM of an int column) is the noisy float
truncated toward zero by ``int()``. Delta is unused unless ``censor_dims`` is on.

The metadata is built in code for veil's demo patients (``--metadata`` loads a SmartNoise YAML
instead). Its table has no schema, so ``FROM patients`` resolves as written; for YAML metadata
that puts the table under a schema (``PUBLIC.patients``) the SQL is qualified first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import snsql
from snsql import Privacy
from snsql.metadata import Float, Int, Metadata, String, Table
from snsql.sql.private_reader import PrivateReader

TABLE = "patients"
PRIVATE_ID = "patient_id"
# Bounds cover the demo generator's clip ranges (src/veil/demo/data.py: glucose 60-450, systolic
# 85-220, cholesterol 100-400), so SmartNoise's clamp changes no value. SUM noise scales with
# max(|lower|, |upper|) / epsilon, so the upper bound sets the error.
FLOAT_BOUNDS = {"glucose_mg_dl": (40.0, 450.0), "cholesterol_mg_dl": (80.0, 400.0)}
INT_BOUNDS = {"systolic_bp": (60, 250)}
STRING_COLUMNS = {"clinic_id": 3}  # public grouping key (cardinality is informational only)


def patients_metadata(sample_max_ids: bool) -> Metadata:
    """SmartNoise metadata for the demo patients: one row per patient, bounded lab columns.

    ``row_privacy=False`` with ``patient_id`` as private id and ``max_ids=1``: one person, one row.
    ``censor_dims=False``: the clinic keys are public, so no noisy-threshold drop of groups (and
    no delta spent on it). ``sample_max_ids=False`` by default: SmartNoise otherwise adds a
    ``ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY random())`` subquery to keep at most
    ``max_ids`` rows per person, a no-op here (ids are unique) that costs time.
    ``clamp_columns=True`` (SmartNoise's default, needed for its sensitivity) clamps values to the
    bounds in SQL; the bounds contain every generated value. ``clamp_counts=False`` (default):
    negative noisy counts are not set to 0. ``use_dpsu=False`` (default): no DP set union.
    """
    columns: list[Any] = [String(PRIVATE_ID, is_key=True)]
    columns += [String(name, card=card) for name, card in STRING_COLUMNS.items()]
    columns += [Float(name, lower=lo, upper=hi) for name, (lo, hi) in FLOAT_BOUNDS.items()]
    columns += [Int(name, lower=lo, upper=hi) for name, (lo, hi) in INT_BOUNDS.items()]
    table = Table(
        "",
        TABLE,
        columns,
        row_privacy=False,
        max_ids=1,
        sample_max_ids=sample_max_ids,
        censor_dims=False,
        clamp_counts=False,
        clamp_columns=True,
        use_dpsu=False,
    )
    return Metadata([table], engine="pandas")


def metadata_columns(metadata: Metadata) -> list[str]:
    """Column names described by the (single-table) metadata: the only ones read from Parquet."""
    tables = metadata.tables()
    if len(tables) != 1:
        raise SystemExit(f"metadata must describe exactly one table; got {len(tables)}")
    return [column.name for column in tables[0].columns()]


def qualify(sql: str, metadata: Metadata) -> str:
    """Write ``FROM <table>`` as ``FROM <schema>.<table>`` when the metadata's table has a schema.

    SmartNoise resolves an unqualified name only against a table without schema; YAML metadata
    usually puts the table under a schema such as ``PUBLIC``, while the bench SQL says
    ``FROM patients``.
    """
    table = metadata.tables()[0]
    if not table.schema.strip():
        return sql
    pattern = rf"\b(FROM|JOIN)\s+{re.escape(table.name)}\b(?!\s*\.)"
    return re.sub(pattern, rf"\1 {table.schema}.{table.name}", sql, flags=re.IGNORECASE)


def plain(value: Any) -> Any:
    """A JSON-ready Python scalar (numpy numbers have ``.item()``)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def statistic_epsilons(reader: PrivateReader, sql: str) -> list[float]:
    """The epsilon of each noisy statistic SmartNoise will release for ``sql`` (nothing is run).

    Uses ``_get_mechanism_costs``, private but stable in the pinned 1.0.10: the public
    ``get_privacy_cost`` returns only the odometer's composed total, which for many statistics
    may use advanced composition instead of the plain sum.
    """
    return [float(cost[0]) for cost in reader._get_mechanism_costs(sql) if cost]


def query(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``args.sql`` ``args.repeat`` times on one reader; time each ``execute`` call only."""
    if args.metadata is not None:
        metadata = Metadata.from_file(str(args.metadata))
    else:
        metadata = patients_metadata(args.sample_max_ids)
    start = time.perf_counter()
    frame = pd.read_parquet(args.data, columns=metadata_columns(metadata))
    load_seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "seconds": [],
        "rows": len(frame),
        "results": [],
        "columns": None,
        "error": None,
        "epsilon": args.epsilon,
        "delta": args.delta,
        "budget": args.budget,
        "statistics": None,
        "epsilon_per_statistic": None,
        "epsilon_spent": None,
        "load_seconds": load_seconds,
        "setup_seconds": None,
        "sample_max_ids": args.sample_max_ids,
        "snsql": _version("smartnoise-sql"),
        "opendp": _version("opendp"),
    }
    try:
        # from_connection copies the frame into an in-memory SQLite database: setup, not timed.
        start = time.perf_counter()
        reader = snsql.from_connection(
            frame, privacy=Privacy(epsilon=args.epsilon, delta=args.delta), metadata=metadata
        )
        sql = qualify(args.sql, metadata)
        count = max(1, len(statistic_epsilons(reader, sql)))
        per_statistic = args.epsilon / count if args.budget == "query" else args.epsilon
        if per_statistic != args.epsilon:
            # Same SQLite connection, new budget: the public constructor over the inner reader.
            reader = PrivateReader(
                reader.reader, metadata, privacy=Privacy(epsilon=per_statistic, delta=args.delta)
            )
        result["setup_seconds"] = time.perf_counter() - start
        result["statistics"] = count
        result["epsilon_per_statistic"] = per_statistic
        result["epsilon_spent"] = sum(statistic_epsilons(reader, sql))  # basic composition
        for _ in range(args.repeat):
            start = time.perf_counter()
            rows = reader.execute(sql)
            result["seconds"].append(time.perf_counter() - start)
            result["columns"] = [str(name) for name in rows[0]]
            result["results"].append([[plain(v) for v in row] for row in rows[1:]])
    except Exception as exc:
        result["error"] = f"smartnoise raised {type(exc).__name__}: {exc}"
    return result


def _version(package: str) -> str | None:
    """Installed version of ``package`` (for the record), or ``None``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def parser() -> argparse.ArgumentParser:
    """The command line: ``query``."""
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("query", help="time a DP SQL query with SmartNoise")
    run.add_argument("--data", type=Path, required=True, help="Parquet file of the table")
    run.add_argument("--sql", required=True, help="query over the table (FROM patients)")
    run.add_argument("--epsilon", type=float, required=True)
    run.add_argument(
        "--delta",
        type=float,
        default=1e-6,
        help="delta (unused by Laplace noise without censor_dims; default 1e-6)",
    )
    run.add_argument("--repeat", type=int, default=20, help="timed executions (default 20)")
    run.add_argument(
        "--budget",
        choices=("statistic", "query"),
        default="statistic",
        help="epsilon per noisy statistic (SmartNoise's meaning, default) or per "
        "whole query, split evenly over its statistics",
    )
    run.add_argument(
        "--metadata",
        type=Path,
        default=None,
        help="SmartNoise YAML metadata instead of the built-in patients table",
    )
    run.add_argument(
        "--sample-max-ids",
        action="store_true",
        help="keep SmartNoise's per-id reservoir sampling (off: ids are unique); "
        "built-in metadata only",
    )
    run.set_defaults(handler=query)
    return top


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print one JSON line (the last line of stdout)."""
    args = parser().parse_args(argv)
    if args.repeat < 1 or not args.epsilon > 0:
        raise SystemExit("--repeat must be >= 1 and --epsilon > 0")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON line
        result = args.handler(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
