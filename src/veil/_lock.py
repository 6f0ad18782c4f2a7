"""Advisory file locks between processes (``flock``): readers share, a writer excludes.

They order work that SQLite's own lock does not cover: files written before or after a
catalog transaction (published ledger heads, sealed vault files awaiting their catalog row).
A lock dies with its process, so a killed holder never leaves the workspace locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a shared or exclusive lock on ``path`` (made 0600 on first use), blocking until
    it is granted: holders are veil operations that always finish or die."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
