"""Turn what a caller hands to ``ingest`` into a validated Polars frame, or refuse it.

Files are parsed with pyarrow's CSV reader because it is strict where Polars is lenient: a row
with too few or too many fields and any byte that is not UTF-8 are errors, never silently padded
or replaced. Every failure becomes a ``MalformedSourceError`` that names the source, the row and
column *positions* and counts involved, never a cell's value: error messages reach terminals,
logs and tickets, where a name or an SSN must not.

Identifiers keep their text. pyarrow infers column types, and a number would turn subject ids
``007``, ``07`` and ``7`` into one person, ZIP ``02139`` into 2139 and phone ``0612345678``
into an integer; so a column inferred as a number is read back as text when any of its values
is written with a leading zero or a ``+`` sign or has more digits than an Int64 holds (a float
would round it), or when discovery (its name or its values) classes it as an identifier, ZIP
code or phone number. The subject-id column is an identifier
by declaration and is always text, unless ``schema_overrides`` types it; then distinct ids that
become one value (``007`` and ``7`` as Int64) are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from veil.discover.entities import Category, Entity
from veil.discover.table import scan_table
from veil.errors import InputError, MalformedSourceError, NotFoundError, SchemaError

Source = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | pd.DataFrame
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_UNSUPPORTED = (pl.List, pl.Array, pl.Struct, pl.Object)
_BLOCK = 1 << 20  # pyarrow's default CSV block size; a longer row needs a larger block
# text a number would lose: leading zeros, an explicit plus, more digits than an Int64 holds
_FORMATTED = r"^[+-]?0\d|^\+|^-?\d{19,}$"
_SCAN_ROWS = 2_000  # rows discovery reads to judge whether a numeric column is an identifier
_PYARROW_FACTS = {  # the parts of a pyarrow CSV error that hold no cell value
    "column": re.compile(r"column #(\d+)"),
    "row": re.compile(r"Row #(\d+)"),
    "fields": re.compile(r"Expected (\d+) columns, got (\d+)"),
    "type": re.compile(r"conversion error to (\w+)"),
}


def load(
    source: Source,
    *,
    format: str | None = None,
    schema_overrides: Mapping[str, pl.DataType] | None = None,
    subject_id: str | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read ``source`` into a normalised frame plus a provenance record (no personal values).
    ``subject_id`` names the column that must keep its text in a CSV (see the module doc)."""
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        frame, provenance = source, {"source": "polars"}
    elif isinstance(source, pd.DataFrame):
        frame, provenance = _from_pandas(source), {"source": "pandas"}
    elif isinstance(source, str | os.PathLike):
        frame, provenance = _read_file(Path(source), format, schema_overrides or {}, subject_id)
    else:
        msg = (f"cannot ingest a {type(source).__name__}; give a CSV or Parquet path, "
               "a Polars frame or a pandas frame")
        raise InputError(msg)
    return normalise(frame, provenance.get("file", provenance["source"])), provenance


def _from_pandas(source: pd.DataFrame) -> pl.DataFrame:
    """pyarrow's conversion errors quote the offending cell: name the column instead."""
    try:
        return pl.from_pandas(source)
    except (TypeError, ValueError, pa.ArrowException) as exc:
        if not source.columns.is_unique:
            msg = "the pandas frame has repeated column names; give every column its own name"
            raise SchemaError(msg) from None
        failing = [str(c) for c in source.columns if not _converts(source[[c]])]
        what = (f"column(s) {failing} mix values of different types" if failing
                else f"it holds what Arrow cannot represent ({type(exc).__name__})")
        msg = f"the pandas frame cannot be converted: {what}; give each column one type"
        raise SchemaError(msg) from None


def _converts(column: pd.DataFrame) -> bool:
    try:
        pl.from_pandas(column)
    except (TypeError, ValueError, pa.ArrowException):
        return False
    return True


def _read_file(
    path: Path, format: str | None, overrides: Mapping[str, pl.DataType], subject_id: str | None,
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
    if kind == "parquet":
        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:
            msg = f"{path.name} is not a valid PARQUET file: {_first_line(exc)}"
            raise MalformedSourceError(msg) from None
        _check_names(table.column_names, path.name)
        frame: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"{path.name} is not UTF-8 (bad byte at offset {exc.start}); re-encode it"
            raise MalformedSourceError(msg) from None
        csv = _Csv(data, path.name, "\t" if kind == "tsv" else ",")
        frame = csv.frame(overrides, subject_id)
    provenance = {
        "source": kind,
        "file": path.name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_bytes": len(data),
    }
    return frame, provenance


class _Csv:
    """One CSV file's bytes and how to parse them (the block size grows to hold its longest
    row: pyarrow refuses a row that straddles two blocks)."""

    def __init__(self, data: bytes, name: str, delimiter: str) -> None:
        self.data, self.name, self.delimiter, self.block = data, name, delimiter, _BLOCK

    def frame(self, overrides: Mapping[str, pl.DataType], subject_id: str | None
              ) -> pl.DataFrame:
        """Parse with pyarrow's type inference, then give identifiers back their text."""
        arrow_types = pl.DataFrame(schema=dict(overrides)).to_arrow().schema
        table = self.parse({f.name: f.type for f in arrow_types})
        _check_names(table.column_names, self.name)
        typed: pl.DataFrame = pl.from_arrow(table)  # type: ignore[assignment]
        if typed.height == 0:
            return typed
        numeric = [c for c, t in typed.schema.items()
                   if t.is_numeric() and c not in overrides and c != subject_id]
        sid = subject_id if subject_id in typed.columns and typed.schema[subject_id] not in (
            pl.String, pl.Null) else None  # a subject id pyarrow did not leave as text
        reread = numeric if sid is None else [*numeric, sid]
        if not reread:
            return typed
        text: pl.DataFrame = pl.from_arrow(self.parse(  # type: ignore[assignment]
            dict.fromkeys(reread, pa.string()), include=reread))
        keep = _identifiers(typed.select(numeric), text)
        if sid in overrides:
            _check_collisions(text[sid], typed[sid], self.name)
        elif sid is not None:
            keep.add(sid)
        return typed.with_columns(text.select(c for c in reread if c in keep))

    def parse(self, types: Mapping[str, pa.DataType], *, include: Sequence[str] = (),
              threads: bool = True) -> pa.Table:
        """Read the file, or refuse it saying where and why (never quoting a value)."""
        try:
            return pacsv.read_csv(
                pa.BufferReader(self.data),
                read_options=pacsv.ReadOptions(block_size=self.block, use_threads=threads),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=list(include),
                    strings_can_be_null=True,  # an empty field is missing, as in Polars
                ),
            )
        except (pa.ArrowException, OSError) as exc:
            longest = _longest_line(self.data)
            if longest >= self.block:
                self.block = longest + 1
                return self.parse(types, include=include, threads=threads)
            if threads:  # once more on one thread, which numbers the row it stops at
                return self.parse(types, include=include, threads=False)
            msg = f"{self.name} is not a valid CSV file: {_explain(exc)}"
            raise MalformedSourceError(msg) from None


def _longest_line(data: bytes) -> int:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    return int(np.diff(ends, prepend=-1, append=len(data)).max())


def _explain(exc: Exception) -> str:
    """What went wrong, from the facts in pyarrow's message (its quoted row or value is left
    out): the row, the column, the field counts, the type a value did not convert to."""
    text = str(exc)
    found = {key: pattern.search(text) for key, pattern in _PYARROW_FACTS.items()}
    where = []
    if found["row"]:
        where.append(f"row {found['row'][1]} (the header is row 1)")
    if found["column"]:
        where.append(f"column {int(found['column'][1]) + 1}")
    place = f" in {', '.join(where)}" if where else ""
    if found["fields"]:
        expected, got = found["fields"].groups()
        return (f"Expected {expected} columns (as in the header), found {got}{place}; quote "
                "values that hold the delimiter, and give every row the header's columns")
    if found["type"]:
        return (f"a value{place} is not a valid {found['type'][1]}; fix it, or read the "
                "column as text")
    return f"it cannot be parsed{place} ({type(exc).__name__})"


def _check_names(names: Sequence[str], origin: str) -> None:
    """Every column needs a name of its own (Polars would call a blank one ``column_1``)."""
    for position, name in enumerate(names, start=1):
        if not name.strip():
            msg = f"column {position} of {origin} has no name; name every column in the header"
            raise MalformedSourceError(msg)
        if names.index(name) + 1 != position:
            msg = (f"{origin} names {name!r} twice: columns {names.index(name) + 1} and "
                   f"{position}; give every column its own name")
            raise MalformedSourceError(msg)


def _identifiers(numbers: pl.DataFrame, text: pl.DataFrame) -> set[str]:
    """The columns inferred as numbers that must stay text (see the module docstring)."""
    if numbers.width == 0:
        return set()
    formatted = text.select(pl.col(c).str.contains(_FORMATTED).any() for c in numbers.columns)
    keep = {c for c in numbers.columns if formatted[c][0]}
    rest = [c for c in numbers.columns if c not in keep]
    if rest:
        scan = scan_table(numbers.select(rest), sample=_SCAN_ROWS)
        keep |= {f.column for f in scan.columns if f.category is Category.DIRECT_IDENTIFIER
                 or f.entity in (Entity.ZIP_CODE, Entity.PHONE_NUMBER)}
    return keep


def _check_collisions(text: pl.Series, typed: pl.Series, origin: str) -> None:
    """Distinct subject ids must stay distinct once ``schema_overrides`` converts them."""
    pairs = pl.DataFrame({"text": text, "typed": typed}).drop_nulls().unique()
    merged = pairs.filter(pl.col("typed").is_duplicated())
    if merged.height:
        msg = (f"subject-id column {text.name!r} of {origin}: {merged.height} distinct ids "
               f"become {merged['typed'].n_unique()} once converted to {typed.dtype} (leading "
               "zeros or other formatting lost), so different people would merge; read it as "
               "text (drop its schema override)")
        raise SchemaError(msg)


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
