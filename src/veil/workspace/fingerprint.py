"""SHA-256 fingerprint of a table over a canonical encoding.

Why not hash Parquet or Arrow IPC bytes: both depend on the writer, chunking and whatever bytes
sit under null slots. Here each column contributes its name, dtype, row count, a packed null
bitmap and its values with nulls replaced by a fixed filler, so equal tables always give equal
fingerprints, whatever produced them. Row and column order are part of the identity.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

SCHEME = "veil-fp-v1"
_VARLEN = (pl.String, pl.Binary)


def _frame(h: hashlib._Hash, *parts: bytes | memoryview) -> None:
    """Length-prefix each part (in bytes), so no two encodings can run into each other."""
    for part in parts:
        h.update(memoryview(part).nbytes.to_bytes(8, "big"))
        h.update(part)


def fingerprint(frame: pl.DataFrame) -> str:
    """Hex SHA-256 of ``frame``'s canonical encoding (the scheme name is hashed in first)."""
    h = hashlib.sha256()
    _frame(h, SCHEME.encode(), frame.height.to_bytes(8, "big"))
    for series in frame.get_columns():
        _column(h, series)
    return h.hexdigest()


def _column(h: hashlib._Hash, series: pl.Series) -> None:
    dtype = series.dtype
    _frame(h, series.name.encode(), str(dtype).encode())
    nulls = series.null_count()
    validity = np.packbits(series.is_null().to_numpy()).tobytes() if nulls else b""
    _frame(h, validity)
    if isinstance(dtype, pl.Decimal):
        series = series.cast(pl.String)
    if isinstance(series.dtype, _VARLEN):
        filler = "" if series.dtype == pl.String else b""
        filled = series.fill_null(filler) if nulls else series
        array = filled.to_arrow(compat_level=pl.CompatLevel.oldest())
        _, offset_buffer, data = array.buffers()
        offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
            array.offset : array.offset + len(array) + 1
        ]
        first, last = int(offsets[0]), int(offsets[-1])
        rebased = offsets - first if first else offsets
        _frame(h, memoryview(rebased).cast("B"), memoryview(data)[first:last] if data else b"")
        return
    physical = series.to_physical()
    if nulls:
        physical = physical.fill_null(False if physical.dtype == pl.Boolean else 0)
    values = physical.to_numpy()
    _frame(h, memoryview(np.ascontiguousarray(values)).cast("B"))
