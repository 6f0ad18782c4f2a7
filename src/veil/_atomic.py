"""Crash-safe file replacement: a reader sees the old bytes or the new bytes, never a mix."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path, *, mode: int = 0o600, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``path``; on a clean exit fsync it, rename it over ``path`` and
    fsync the directory. On an error the temp file is removed and ``path`` is untouched.

    A process killed at any point leaves either the previous file or the complete new one (plus
    at worst a stray ``.tmp`` file); the directory fsync makes the rename survive a power loss.
    Without ``durable`` both fsyncs are skipped: still never torn, but a power loss may bring
    back the previous file (for copies whose staleness is harmless).
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(directory)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, mode=mode, durable=durable) as handle:
        handle.write(data)


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a directory's entries (renames, unlinks), to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
