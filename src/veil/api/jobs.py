"""Long work (training, federated runs, retention, erasure) as background jobs.

A job is a row in the catalog (``jobs``): who asked, for which purpose, its state
(``queued`` -> ``running`` -> ``done`` or ``failed``), progress, and the result or the error
(veil's error code and message; never a traceback). The work runs on a job thread in a session
rebuilt from the requester's token, so the guard decides it exactly as a request. When the
service starts, jobs still queued or running belong to a process that died: they are marked
``interrupted``, never lost and never silently rerun.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from veil.access.session import Session
from veil.api.errors import log_unexpected
from veil.api.pool import WorkspacePool
from veil.errors import NotFoundError, VeilError
from veil.workspace.store import extra_schema

__all__ = ["SCHEMA", "Job", "Jobs"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    principal TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed',
                                             'interrupted')),
    progress  REAL NOT NULL DEFAULT 0,
    result    TEXT,
    error     TEXT,
    created   TEXT NOT NULL,
    updated   TEXT NOT NULL
);
"""
extra_schema(SCHEMA)

Work = Callable[[Session], Any]


class Job(BaseModel):
    id: str
    kind: str
    principal: str
    purpose: str
    state: str
    progress: float
    result: Any = None
    error: dict[str, str] | None = None
    created: str
    updated: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Jobs:
    """The job runner of one service process (``workers`` jobs at a time)."""

    def __init__(self, pool: WorkspacePool, *, workers: int = 2) -> None:
        self._pool = pool
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="veil-job")
        with pool.opened() as workspace:
            conn = workspace._store.conn
            conn.execute("UPDATE jobs SET state = 'interrupted', updated = ? WHERE state IN "
                         "('queued', 'running')", (_now(),))

    def submit(self, session: Session, token: str, kind: str, work: Work) -> Job:
        """Queue ``work`` (called with the requester's session on a job thread)."""
        job_id = f"job-{uuid.uuid4().hex[:16]}"
        stamp = _now()
        conn = self._pool.workspace()._store.conn
        conn.execute("INSERT INTO jobs(id, kind, principal, purpose, state, created, updated) "
                     "VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                     (job_id, kind, session.principal, session.purpose, stamp, stamp))
        self._executor.submit(self._run, job_id, token, session.purpose, work)
        return self.get(job_id, session.principal)

    def _run(self, job_id: str, token: str, purpose: str, work: Work) -> None:
        workspace = self._pool.workspace()
        conn = workspace._store.conn
        self._set(conn, job_id, state="running")
        try:
            result = work(workspace.session(token, purpose=purpose))
        except VeilError as exc:
            self._set(conn, job_id, state="failed",
                      error=json.dumps({"type": exc.code, "detail": exc.message}))
        except Exception as exc:  # a bug: recorded by type, where it was raised to the log
            log_unexpected(f"job {job_id}", exc)
            self._set(conn, job_id, state="failed",
                      error=json.dumps({"type": "server.error", "detail": type(exc).__name__}))
        else:
            self._set(conn, job_id, state="done", progress=1.0,
                      result=json.dumps(result, default=str))

    @staticmethod
    def _set(conn: Any, job_id: str, **fields: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE jobs SET {names}, updated = ? WHERE id = ?",  # noqa: S608
                     (*fields.values(), _now(), job_id))

    def get(self, job_id: str, principal: str) -> Job:
        """A job of ``principal``'s (another principal's job is as unknown as a missing one)."""
        conn = self._pool.workspace()._store.conn
        row = conn.execute("SELECT id, kind, principal, purpose, state, progress, result, error, "
                           "created, updated FROM jobs WHERE id = ? AND principal = ?",
                           (job_id, principal)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r} of yours")
        return _job(row)

    def mine(self, principal: str, limit: int = 50) -> list[Job]:
        conn = self._pool.workspace()._store.conn
        rows = conn.execute("SELECT id, kind, principal, purpose, state, progress, result, "
                            "error, created, updated FROM jobs WHERE principal = ? "
                            "ORDER BY created DESC LIMIT ?", (principal, limit)).fetchall()
        return [_job(r) for r in rows]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _job(row: tuple[Any, ...]) -> Job:
    ident, kind, principal, purpose, state, progress, result, error, created, updated = row
    return Job(id=ident, kind=kind, principal=principal, purpose=purpose, state=state,
               progress=progress, result=json.loads(result) if result else None,
               error=json.loads(error) if error else None, created=created, updated=updated)
