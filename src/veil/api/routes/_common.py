"""What several routers share: uploads kept as private temporary files, and long work queued
as jobs after the guard's early answer."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from anyio import to_thread
from fastapi import UploadFile

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Caller
from veil.api.jobs import Job
from veil.errors import InputError

__all__ = ["TABLES", "needs", "queue", "received"]

TABLES = (".csv", ".tsv", ".parquet")
_CHUNK = 1 << 20


def _suffix(filename: str | None, allowed: tuple[str, ...]) -> str:
    """The upload's suffix, the only part of the client's file name that is used. A name
    with folder parts is refused outright (the message never repeats it: a file name can be
    personal)."""
    name = filename or ""
    if not name or any(part in name for part in ("/", "\\", "..", "\x00")):
        raise InputError("the file name must be a plain name without '/', '\\' or '..' (it is "
                         "never used as a path)")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in allowed:
        raise InputError(f"the file must be one of {', '.join(allowed)}")
    return suffix


@asynccontextmanager
async def received(upload: UploadFile, allowed: tuple[str, ...]) -> AsyncIterator[Path]:
    """``upload`` as a private file (0600 in a fresh 0700 folder), removed afterwards whatever
    happens; named ``upload`` plus its suffix, so nothing downstream (a message, the ledger)
    sees the client's file name. The body's size was limited as it arrived (``UPLOAD_PATHS``)."""
    suffix = _suffix(upload.filename, allowed)
    folder = Path(tempfile.mkdtemp(prefix="veil-upload-"))  # mode 0700
    try:
        path = folder / f"upload{suffix}"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := await upload.read(_CHUNK):
                await to_thread.run_sync(out.write, chunk)
        yield path
    finally:
        await upload.close()
        shutil.rmtree(folder, ignore_errors=True)


async def queue(caller: Caller, kind: str, work: Callable[[Session], Any],
                check: Callable[[Session], object]) -> Job:
    """Queue ``work`` as a background job once ``check`` (the guard, asked now: see
    :meth:`~veil.access.session.Session.authorize`) passed, so a refused caller gets its 403
    at once rather than a job that fails; the work asks the guard again when it runs."""
    await caller.run(check)
    return await caller.submit(kind, work)


def needs(*operations: Operation) -> dict[str, Any]:
    """``openapi_extra`` naming what the guard asks of a route's caller (none: the route only
    describes, e.g. lists what the caller may see). The service's role x route test reads it, so
    a route without it fails that test."""
    return {"x-veil-operations": [str(op) for op in operations]}
