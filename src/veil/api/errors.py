"""Errors as JSON problems (RFC 9457): one handler turns veil's exception hierarchy into a
status and a body naming the problem, never a traceback and never a personal value (veil's
messages name columns, counts and rules, not cells)."""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from veil.api.middleware import template
from veil.errors import (
    AccessDenied,
    AuthenticationError,
    InputError,
    IntegrityError,
    KeyDestroyedError,
    LockedError,
    NotFoundError,
    PrivacyBudgetError,
    PrivacyModelError,
    VeilError,
    WorkspaceBusyError,
)

__all__ = ["Problem", "install", "log_unexpected", "status_of"]

log = logging.getLogger("veil.api")

# most specific first: the first class an error is an instance of decides its status
_STATUS: tuple[tuple[type[VeilError], int], ...] = (
    (AuthenticationError, 401),
    (LockedError, 423),
    (AccessDenied, 403),
    (KeyDestroyedError, 410),
    (NotFoundError, 404),
    (PrivacyBudgetError, 409),
    (PrivacyModelError, 422),
    (InputError, 422),
    (WorkspaceBusyError, 503),
    (IntegrityError, 500),
)


class Problem(BaseModel):
    """An error: ``type`` is veil's stable error code (``access.denied``, ``privacy.budget``)."""

    type: str
    title: str
    status: int
    detail: str


def status_of(error: VeilError) -> int:
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 400)


def log_unexpected(what: str, error: BaseException) -> None:
    """A bug in the server log: the error's type and where it was raised, never its message
    (a message may quote the value that broke it)."""
    frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    log.error("%s failed unexpectedly: %s\n%s", what, type(error).__name__, frames)


def _problem(code: str, status: int, detail: str) -> JSONResponse:
    body = Problem(type=code, title=code.replace(".", " "), status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status,
                        media_type="application/problem+json")


def install(app: FastAPI) -> None:
    """Register the handlers: veil errors, request validation, HTTP errors, anything else."""

    @app.exception_handler(VeilError)
    async def veil_error(request: Request, error: VeilError) -> JSONResponse:
        status = status_of(error)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, template(request.scope), error.code)
        return _problem(error.code, status, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # name the fields and what was wrong, never the input (it may be a person's value)
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return _problem("input.request", 422, where or "the request is malformed")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        response = _problem(f"http.{error.status_code}", error.status_code, str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log_unexpected(f"{request.method} {template(request.scope)}", error)
        return _problem("server.error", 500, "the server failed; the error was logged by type")
