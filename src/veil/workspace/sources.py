"""Turn what a caller hands to ``ingest`` into a validated Polars frame, or refuse it.

Files are parsed with pyarrow's CSV reader because it is strict where Polars is lenient: a row
with too few or too many fields and any byte that is not UTF-8 are errors, never silently padded
or replaced. Every failure becomes a ``MalformedSourceError`` that names the source and the problem.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from veil.errors import InputError, MalformedSourceError, NotFoundError, SchemaError

Source = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | pd.DataFrame
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_UNSUPPORTED = (pl.List, pl.Array, pl.Struct, pl.Object)


def load(
    source: Source,
    *,
    format: str | None = None,
    schema_overrides: Mapping[str, pl.DataType] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read ``source`` into a normalised frame plus a provenance record (no personal values)."""
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        frame, provenance = source, {"source": "polars"}
    elif isinstance(source, pd.DataFrame):
        try:
            frame = pl.from_pandas(source)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            msg = f"the pandas frame cannot be converted: {exc}"
            raise SchemaError(msg) from None
        provenance = {"source": "pandas"}
    elif isinstance(source, str | os.PathLike):
        frame, provenance = _read_file(Path(source), format, schema_overrides or {})
    else:
        msg = (f"cannot ingest a {type(source).__name__}; give a CSV or Parquet path, "
               "a Polars frame or a pandas frame")
        raise InputError(msg)
    return normalise(frame, provenance.get("file", provenance["source"])), provenance


def _read_file(
    path: Path, format: str | None, overrides: Mapping[str, pl.DataType]
) -> tuple[pl.DataFrame, dict[str, Any]]:
    kind = format or _FORMATS.get(path.suffix.lower())
    if kind not in {"csv", "tsv", "parquet"}:
        msg = f"{path.name}: unknown format; use a .csv, .tsv or .parquet file or pass format="
        raise InputError(msg)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        msg = f"source file {path} does not exist"
        raise NotFoundError(msg) from None
    except OSError as exc:
        msg = f"source file {path} cannot be read: {exc.strerror}"
        raise MalformedSourceError(msg) from None
    if not data.strip():
        msg = f"{path.name} is empty"
        raise MalformedSourceError(msg)
    if kind != "parquet":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"{path.name} is not UTF-8 (bad byte at offset {exc.start}); re-encode it"
            raise MalformedSourceError(msg) from None
    buffer = pa.BufferReader(data)
    try:
        if kind == "parquet":
            table = pq.read_table(buffer)
        else:
            column_types = pl.DataFrame(schema=dict(overrides)).to_arrow().schema
            table = pacsv.read_csv(
                buffer,
                parse_options=pacsv.ParseOptions(delimiter="\t" if kind == "tsv" else ","),
                convert_options=pacsv.ConvertOptions(
                    column_types={f.name: f.type for f in column_types},
                    strings_can_be_null=True,  # an empty field is missing, as in Polars
                ),
            )
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path.name} is not a valid {kind.upper()} file: {_first_line(exc)}"
        raise MalformedSourceError(msg) from None
    provenance = {
        "source": kind,
        "file": path.name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_bytes": len(data),
    }
    return pl.from_arrow(table), provenance  # type: ignore[return-value]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def normalise(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    """Make types round-trip exactly through Parquet; refuse empty or nested data.

    Categorical and Enum become String (their physical codes are not stable across frames) and
    all-null columns become String, so the fingerprint of what is read back equals the one taken
    at ingest.
    """
    if frame.width == 0 or frame.height == 0:
        msg = f"{origin} has no {'columns' if frame.width == 0 else 'rows'}; nothing to ingest"
        raise MalformedSourceError(msg)
    casts = {}
    for name, dtype in frame.schema.items():
        if not name.strip():
            msg = f"{origin} has a column with an empty name; name every column"
            raise SchemaError(msg)
        if isinstance(dtype, _UNSUPPORTED):
            msg = f"column {name!r} of {origin} has nested type {dtype}; flatten it first"
            raise SchemaError(msg)
        if isinstance(dtype, pl.Categorical | pl.Enum | pl.Null):
            casts[name] = pl.String
    return frame.cast(casts) if casts else frame  # type: ignore[arg-type]


def check_subject_id(frame: pl.DataFrame, subject_id: str, origin: str) -> None:
    """The subject-id column must exist and be complete: erasure and access requests need it."""
    if subject_id not in frame.columns:
        msg = (f"subject-id column {subject_id!r} is not in {origin}; "
               f"columns are: {', '.join(frame.columns)}")
        raise SchemaError(msg)
    nulls = frame.get_column(subject_id).null_count()
    if nulls:
        msg = f"subject-id column {subject_id!r} of {origin} has {nulls} null value(s)"
        raise SchemaError(msg)
