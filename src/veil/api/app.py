"""The service: one FastAPI application over the same sessions the library and the CLI use.

Routes are thin shells (one ``APIRouter`` per area under :mod:`veil.api.routes`), each taking
the request's :class:`~veil.access.session.Session` (:func:`veil.api.auth.current`) and
returning a pydantic model, so ``/openapi.json`` is the contract. The service has no access
rules of its own: every call is decided by the workspace's guard. The dashboard
(:mod:`veil.web`) is served by the same process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from veil import __version__
from veil.api import auth, errors
from veil.api.jobs import Jobs
from veil.api.middleware import AccessLog, BodyLimit, SecurityHeaders
from veil.api.models import PROBLEMS
from veil.api.pool import WorkspacePool

__all__ = ["ANSWERS", "UPLOAD_PATHS", "create_app"]

UPLOAD_PATHS = ("/datasets/upload", "/consent/import", "/scan")  # larger bodies allowed
# what any route may answer besides its own (documented on every route of /openapi.json)
ANSWERS: dict[int | str, dict[str, Any]] = PROBLEMS | {
    status: {"model": errors.Problem, "description": why} for status, why in (
        (400, "the body could not be parsed (not UTF-8, or a broken multipart form)"),
        (410, "the data was crypto-shredded (its key is erased)"),
        (413, "the request body is over the limit"),
        (503, "the workspace is busy with another writer; try again"))}


def create_app(pool: WorkspacePool, *, body_limit: int = 1 << 20,
               upload_limit: int = 256 << 20, threads: int = 8) -> FastAPI:
    """The application serving the workspace ``pool`` opens (``threads`` request threads, each
    with its own open workspace)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = threads
        yield
        app.state.jobs.close()
        pool.close()

    app = FastAPI(title="veil", version=__version__, lifespan=lifespan,
                  description="Learn from sensitive personal data without exposing the people "
                              "in it. Every call is decided by the workspace's guard.",
                  docs_url=None, redoc_url=None)
    app.state.pool = pool
    app.state.limiter = auth.Limiter()
    app.state.jobs = Jobs(pool)
    errors.install(app)
    from veil.api.routes import ROUTERS
    from veil.web import pages

    for router in (auth.router, *ROUTERS):
        app.include_router(router, responses=ANSWERS)
    pages.install(app)
    app.add_middleware(BodyLimit, limit=body_limit, upload_limit=upload_limit,
                       upload_paths=UPLOAD_PATHS)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app
