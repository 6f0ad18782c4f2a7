"""Who a request is: sign-in, sign-out, step-up, and the session every other route depends on.

A browser signs in with password and TOTP and gets the session as a cookie (httpOnly, Secure,
SameSite=Strict) plus a CSRF cookie whose value it echoes on every state-changing request (a
header or a form field: double-submit). An API client sends ``Authorization: Bearer`` with the
session token from the sign-in body or with a service account's API token (no CSRF then: a
bearer token is never sent by a browser on its own). The purpose is the ``X-Veil-Purpose``
header (or ``purpose`` query parameter); the guard decides everything else, as for the library
and the CLI. Sign-in is rate-limited per client address and per user name; the account lockout
after 5 failures is the workspace's.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from veil.access.scope import ADMINISTRATION
from veil.access.session import Session
from veil.api.errors import Problem
from veil.api.jobs import Job, Jobs
from veil.api.pool import WorkspacePool
from veil.errors import AuthenticationError

T = TypeVar("T")

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "Caller", "Current", "Limiter", "current",
           "router", "set_cookies", "sign_in"]

SESSION_COOKIE = "veil_session"
CSRF_COOKIE = "veil_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
router = APIRouter(prefix="/auth", tags=["auth"])


class Limiter:
    """Sliding one-minute windows of sign-in attempts, per client address and per user."""

    def __init__(self, per_client: int = 20, per_user: int = 10) -> None:
        self.per_client, self.per_user = per_client, per_user
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str, user: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for key, limit in ((f"client:{client}", self.per_client),
                               (f"user:{user.casefold()}", self.per_user)):
                times = self._seen[key]
                while times and now - times[0] > 60:
                    times.popleft()
                if len(times) >= limit:
                    return False
            for key in (f"client:{client}", f"user:{user.casefold()}"):
                self._seen[key].append(now)
        return True


def _token(request: Request) -> tuple[str, bool] | None:
    """(token, from a cookie?)"""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


async def _csrf_ok(request: Request) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = str((await request.form()).get("csrf_token", ""))
    return bool(expected) and hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class Caller:
    """Who sent the request: the token and the purpose. The session itself is made on the
    worker thread that does the work (:meth:`run`): a workspace connection belongs to one
    thread, and FastAPI runs a dependency and its route on different ones."""

    token: str
    purpose: str
    pool: WorkspacePool
    jobs: Jobs

    def session(self) -> Session:
        try:
            return self.pool.workspace().session(self.token, purpose=self.purpose)
        except AuthenticationError:
            raise HTTPException(401, "the session or token is not valid (expired, revoked or "
                                "unknown); sign in again",
                                headers={"WWW-Authenticate": "Bearer"}) from None

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` on a worker thread (the event loop never touches a workspace)."""
        return await to_thread.run_sync(lambda: work(self.session()))

    async def submit(self, kind: str, work: Callable[[Session], Any]) -> Job:
        """``work`` as a background job of this caller's (see :mod:`veil.api.jobs`)."""
        return await self.run(lambda session: self.jobs.submit(session, self.token, kind, work))


async def current(request: Request) -> Caller:
    """The caller (401 without a token; 403 on a cookie session's state-changing request
    without its CSRF token). The token itself is checked when the work runs."""
    found = _token(request)
    if found is None:
        raise HTTPException(401, "sign in first: POST /auth/login, or send a bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    token, cookie = found
    if cookie and request.method not in SAFE and not await _csrf_ok(request):
        raise HTTPException(403, "the CSRF token is missing or wrong; reload the page")
    purpose = (request.headers.get("x-veil-purpose") or request.query_params.get("purpose")
               or ADMINISTRATION)
    return Caller(token, purpose, request.app.state.pool, request.app.state.jobs)


Current = Annotated[Caller, Depends(current)]


class Login(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16, description="the authenticator code")
    recovery_code: str | None = Field(default=None, max_length=32)
    hours: float = Field(default=8.0, gt=0, le=12, description="how long the session lasts")


class Signed(BaseModel):
    principal: str
    token: str = Field(description="send as 'Authorization: Bearer <token>'")
    csrf: str = Field(description="echo as the X-CSRF-Token header on cookie sessions")


class StepUp(BaseModel):
    totp: str = Field(min_length=6, max_length=8)


def sign_in(request: Request, user: str, password: str, totp: str | None,
            recovery_code: str | None, hours: float) -> tuple[str, str, str]:
    """(principal, session token, CSRF token) after the workspace's login (rate-limited);
    on a worker thread. The web pages sign in through here too."""
    client = request.client.host if request.client else "?"
    if not request.app.state.limiter.allow(client, user):
        raise HTTPException(429, "too many sign-in attempts; wait a minute")
    workspace = request.app.state.pool.workspace()
    if recovery_code:
        session = workspace.recover_login(user, password, recovery_code)
    else:
        session = workspace.login(user, password, totp or "")
    return session.principal, workspace.keep_login(session, hours=hours), secrets.token_urlsafe(32)


def set_cookies(response: Response, token: str, csrf: str, hours: float) -> None:
    max_age = int(hours * 3600)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=True,
                        samesite="strict", path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=True,
                        samesite="strict", path="/")


@router.post("/login", response_model=Signed, responses={
    429: {"model": Problem, "description": "too many sign-in attempts from this client or "
          "for this user in the last minute"}})
async def login(body: Login, request: Request, response: Response) -> Signed:
    """Password and TOTP (or a recovery code): a session as a cookie and a bearer token."""
    principal, token, csrf = await to_thread.run_sync(lambda: sign_in(
        request, body.user, body.password, body.totp, body.recovery_code, body.hours))
    set_cookies(response, token, csrf, body.hours)
    return Signed(principal=principal, token=token, csrf=csrf)


@router.post("/step-up", response_model=Signed)
async def step_up(body: StepUp, response: Response, caller: Current) -> Signed:
    """A fresh TOTP code (raw reads of direct identifiers need one from the last minutes):
    the session is replaced by one that carries it."""
    def work(session: Session) -> tuple[str, str]:
        workspace = caller.pool.workspace()
        token = workspace.keep_login(session.step_up(body.totp), hours=8.0)
        workspace.end_login(caller.token)
        return session.principal, token

    principal, token = await caller.run(work)
    csrf = secrets.token_urlsafe(32)
    set_cookies(response, token, csrf, 8.0)
    return Signed(principal=principal, token=token, csrf=csrf)


@router.post("/logout", status_code=204)
async def logout(response: Response, caller: Current) -> Response:
    """End the session (its token is revoked) and clear the cookies."""
    await caller.run(lambda session: caller.pool.workspace().end_login(caller.token))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.status_code = 204
    return response
