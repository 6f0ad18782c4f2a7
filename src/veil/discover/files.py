"""Read a CSV/TSV, Parquet, JSON-lines or text file into a frame for a scan.

A sampled scan wants only the head of a file, so only as much as that needs is read: a 10 GB
file costs what a small one does. Unreadable input (binary, not UTF-8, unparseable) raises
:class:`~veil.errors.MalformedSourceError` saying why.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import Any

import polars as pl

from veil.errors import InputError, MalformedSourceError

__all__ = ["read_source"]

_CSV = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_TEXT = {".txt", ".md", ".log", ".text"}
_PARQUET = {".parquet", ".pq"}
_NDJSON = {".jsonl", ".ndjson"}
_SNIFF_BYTES = 8192
_HEAD_BYTES = 1 << 20  # first read when only the head of a file is wanted
_MAX_LINE_CHARS = 1 << 20  # longer text lines are split, so a file without newlines stays lazy


def read_source(path: str | Path, *, limit: int | None = None) -> tuple[pl.DataFrame, int | None]:
    """The first ``limit`` rows (all if ``None``) of a file, and its row count if known."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        msg = f"no such file: {path}"
        raise InputError(msg)
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        msg = f"sample must be a positive number of rows or None; got {limit!r}"
        raise InputError(msg)
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        msg = f"{path} is an empty file; there is nothing to scan"
        raise MalformedSourceError(msg)
    if suffix in _PARQUET:
        return _read_parquet(path, head, limit)
    if suffix not in _CSV and suffix not in _TEXT and suffix not in _NDJSON:
        msg = (f"cannot scan {path.name}: unsupported file type {suffix or '(none)'}; "
               f"use one of {', '.join(sorted({*_CSV, *_TEXT, *_PARQUET, *_NDJSON}))}")
        raise InputError(msg)
    nul = head.find(b"\x00")
    if nul >= 0:
        msg = f"{path} looks binary (NUL byte at offset {nul}), not {suffix[1:].upper()} text"
        raise MalformedSourceError(msg)
    _check_utf8(path, head, final=len(head) < _SNIFF_BYTES)
    if suffix in _TEXT:
        return _read_lines(path, limit)
    return _read_rows(path, suffix, limit)


def _read_rows(path: Path, suffix: str, limit: int | None) -> tuple[pl.DataFrame, int | None]:
    try:
        if limit is not None:
            frame, complete = _read_head(path, suffix, limit)
        else:
            frame, complete = _parse(path, suffix, None), True
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if "utf" in str(exc).lower():
            _raise_if_not_utf8(path)
        msg = f"cannot parse {path} as {suffix[1:].upper()}: {str(exc).splitlines()[0]}"
        raise MalformedSourceError(msg) from None
    if frame.height == 0 or frame.width == 0:
        msg = f"{path} holds no rows (only a header or blank lines)"
        raise MalformedSourceError(msg)
    return frame, frame.height if complete else None


def _read_head(path: Path, suffix: str, limit: int) -> tuple[pl.DataFrame, bool]:
    """The first ``limit`` rows, parsed from a prefix of the file that grows 4x until it holds
    them: Polars' own ``n_rows`` still maps and checks the whole file. Returns the frame and
    whether the whole file was read."""
    size = _HEAD_BYTES
    with path.open("rb") as fh:
        while True:
            fh.seek(0)
            data = fh.read(size)
            whole = len(data) < size or fh.read(1) == b""
            if not whole:
                data = data[: data.rfind(b"\n") + 1] or data  # whole lines only
            _check_utf8(path, data, final=True)
            try:
                frame = _parse(data, suffix, limit + 1)  # one more: is there more?
            except pl.exceptions.PolarsError:
                if whole:
                    raise
                frame = None  # a quoted field may span the cut: read more
            if frame is not None and (whole or frame.height >= limit):
                return frame.head(limit), whole and frame.height <= limit
            size *= 4


def _parse(source: Path | bytes, suffix: str, limit: int | None) -> pl.DataFrame:
    """Parse CSV/TSV or JSON lines; a column whose type the first rows mis-predict sends the
    read back as all-strings rather than failing."""
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    if suffix in _NDJSON:
        return pl.read_ndjson(data, infer_schema_length=10_000, n_rows=limit)
    options: dict[str, Any] = {"separator": _CSV[suffix], "n_rows": limit}
    try:
        return pl.read_csv(data, infer_schema_length=10_000, try_parse_dates=True, **options)
    except pl.exceptions.ComputeError as exc:
        if "utf" in str(exc).lower():
            raise
        if isinstance(data, io.BytesIO):
            data.seek(0)
        return pl.read_csv(data, infer_schema=False, **options)


def _read_parquet(path: Path, head: bytes, limit: int | None) -> tuple[pl.DataFrame, int]:
    if not head.startswith(b"PAR1"):
        msg = f"{path} is not a Parquet file (it does not start with the PAR1 magic bytes)"
        raise MalformedSourceError(msg)
    try:
        lazy = pl.scan_parquet(path)
        rows = int(lazy.select(pl.len()).collect().item())  # from the footer, no data read
        frame = (lazy if limit is None else lazy.head(limit)).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = f"cannot read {path} as Parquet: {str(exc).splitlines()[0]}"
        raise MalformedSourceError(msg) from None
    if frame.width == 0 or rows == 0:
        msg = f"{path} holds no rows"
        raise MalformedSourceError(msg)
    return frame, rows


def _not_utf8(path: Path, offset: int, byte: int) -> MalformedSourceError:
    return MalformedSourceError(
        f"{path} is not valid UTF-8: byte 0x{byte:02x} at offset {offset} cannot be decoded; "
        "re-encode the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")


def _check_utf8(path: Path, head: bytes, *, final: bool) -> None:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=final)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc.start, head[exc.start]) from None


def _raise_if_not_utf8(path: Path) -> None:
    """On a parse failure, find the first byte that is not UTF-8 (reads the file once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                data = decoder.getstate()[0] + chunk if pending else chunk
                start = offset - pending + exc.start
                raise _not_utf8(path, start, (data[exc.start:] or b"\x00")[0]) from None
            offset += len(chunk)


def _read_lines(path: Path, limit: int | None) -> tuple[pl.DataFrame, int | None]:
    """Non-blank lines, decoded lazily chunk by chunk so only what is needed is read."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines: list[str] = []
    carry, offset, complete = "", 0, True
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = (decoder.getstate()[0] + chunk) if pending else chunk
                byte = (data[exc.start:] or b"\x00")[0]
                raise _not_utf8(path, offset - pending + exc.start, byte) from None
            offset += len(chunk)
            parts = (carry + text).splitlines(keepends=True)
            carry = parts.pop() if parts and chunk and not parts[-1].endswith(("\n", "\r")) else ""
            if len(carry) > _MAX_LINE_CHARS:
                parts.append(carry)
                carry = ""
            lines.extend(p.rstrip("\r\n") for p in parts if p.strip())
            if limit is not None and len(lines) >= limit:
                complete = len(lines) == limit and not carry and fh.read(1) == b""
                del lines[limit:]
                break
            if not chunk:
                break
    if not lines:
        msg = f"{path} holds only blank lines; there is nothing to scan"
        raise MalformedSourceError(msg)
    frame = pl.DataFrame({"text": lines}, schema={"text": pl.String})
    return frame, len(lines) if complete else None
