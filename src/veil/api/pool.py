"""One open workspace per worker thread of the service.

The service holds the master key (in memory, as the key holder's process) and serves many
requests at once. A SQLite connection belongs to the thread that made it, so each worker thread
opens the workspace once, lazily, with the same master key; SQLite's write lock and veil's
transactions order the writers, as between processes. The pool size bounds the threads (and the
decrypted frames each one caches for DP work).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from veil.keys import MasterKey
from veil.workspace import Workspace

__all__ = ["WorkspacePool"]


class WorkspacePool:
    """``pool.workspace()`` is this thread's open workspace (the owner's session)."""

    def __init__(self, path: Path, master: MasterKey) -> None:
        self.path = path
        self._master = master
        self._local = threading.local()
        self._opened: list[Workspace] = []
        self._lock = threading.Lock()
        with self.opened():  # fail at start-up, not on the first request, if it cannot open
            pass

    def workspace(self) -> Workspace:
        found = getattr(self._local, "workspace", None)
        if found is None:
            found = Workspace.open(self.path, master_key=self._master)
            self._local.workspace = found
            with self._lock:
                self._opened.append(found)
        return found

    @contextmanager
    def opened(self) -> Iterator[Workspace]:
        """A workspace for work outside the request threads (start-up, a job's thread)."""
        workspace = Workspace.open(self.path, master_key=self._master)
        try:
            yield workspace
        finally:
            workspace.close()

    def close(self) -> None:
        """Close what can be closed from here (a connection belongs to its thread; the rest
        close with the process, their transactions long committed)."""
        with self._lock:
            for workspace in self._opened:
                with contextlib.suppress(sqlite3.ProgrammingError):
                    workspace.close()
            self._opened.clear()
