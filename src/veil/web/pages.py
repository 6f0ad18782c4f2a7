"""The dashboard's pages (Jinja2, rendered on the server).

Every page is a thin view over the caller's session (:mod:`veil.web.views` reads what it
shows), so the guard decides each one as it decides the API's calls; a refusal is the 403 page
naming what was missing (:class:`~veil.web.render.PageRoute`). Forms post the CSRF token as a
hidden field: a signed-in form is checked by :func:`veil.api.auth.current` (double-submit), the
sign-in form by a token set with the page, so another site cannot sign a browser in as someone
else. A subject's id travels only in a POST body, never in a URL, and no page but the raw-data
one shows a personal value.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api import auth
from veil.api.auth import CSRF_COOKIE, SESSION_COOKIE, set_cookies, sign_in
from veil.api.errors import status_of
from veil.api.routes._common import queue
from veil.errors import AccessDenied, AccessError, InputError, VeilError
from veil.web import views
from veil.web.render import HOME, LOGIN, PURPOSE_COOKIE, Page, PageRoute, plain, render, safe_next

__all__ = ["install", "router"]

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

HOURS = 8.0  # how long a dashboard sign-in lasts
ERASE = "dsar.erase"  # the job kind of an erasure
LEDGER_PAGE = 25  # ledger entries per page

Name = Annotated[str, Path(min_length=1, max_length=64)]  # checked further by veil
Next = Annotated[str, Form(alias="next", max_length=512)]
Subject = Annotated[str, Form(min_length=1, max_length=256, description="kept out of URLs")]


# -- signing in and out ----------------------------------------------------------------------
def _login_form(request: Request, target: str, error: str | None,
                status: int) -> HTMLResponse:
    """The sign-in form, its CSRF token in the form and in a cookie (kept if there is one)."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = plain(request, "login.html", {"csrf": token, "next": safe_next(target),
                                             "error": error}, status=status)
    response.set_cookie(CSRF_COOKIE, token, httponly=False, secure=True, samesite="strict",
                        path="/")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, target: Annotated[str, Query(
        alias="next", max_length=512)] = HOME) -> HTMLResponse:
    return _login_form(request, target, None, 200)


@router.post("/login", response_model=None)
async def login(request: Request, user: Annotated[str, Form(min_length=1, max_length=64)],
                password: Annotated[str, Form(min_length=1, max_length=1024)],
                totp: Annotated[str, Form(min_length=1, max_length=16)],
                csrf_token: Annotated[str, Form(max_length=128)] = "",
                target: Next = HOME) -> HTMLResponse | RedirectResponse:
    """Password and TOTP: the session as cookies, then the page asked for. A refusal is the
    form again with the workspace's one message (whatever was wrong), or the lockout's."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_form(request, target, "the form expired; sign in again", 403)
    try:
        _, token, csrf = await to_thread.run_sync(
            lambda: sign_in(request, user, password, totp, None, HOURS))
    except AccessError as exc:
        return _login_form(request, target, exc.message, status_of(exc))
    except HTTPException as exc:  # too many attempts from here or for this user
        return _login_form(request, target, str(exc.detail), exc.status_code)
    response = RedirectResponse(safe_next(target), status_code=303)
    set_cookies(response, token, csrf, HOURS)
    return response


@router.post("/logout")
async def logout(caller: Page) -> RedirectResponse:
    """End the session (its token is revoked) and forget the cookies."""
    await caller.run(lambda _: caller.pool.workspace().end_login(caller.token))
    response = RedirectResponse(LOGIN, status_code=303)
    for cookie in (SESSION_COOKIE, CSRF_COOKIE, PURPOSE_COOKIE):
        response.delete_cookie(cookie, path="/")
    return response


@router.post("/purpose")
async def purpose(caller: Page, purpose: Annotated[str, Form(min_length=1, max_length=64)],
                  target: Next = HOME) -> RedirectResponse:
    """Act for ``purpose`` from now on (the header's picker; the guard checks it on use)."""
    live = await caller.run(lambda s: views.frame(s)["purposes"])
    if purpose not in live:
        raise InputError(f"{purpose!r} is not a live purpose; pick one of {live}")
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(PURPOSE_COOKIE, purpose, max_age=int(HOURS * 3600), httponly=True,
                        secure=True, samesite="strict", path="/")
    return response


@router.post("/step-up")
async def step_up(caller: Page, totp: Annotated[str, Form(min_length=6, max_length=8)],
                  target: Next = HOME) -> RedirectResponse:
    """A fresh TOTP code for a raw read of direct identifiers (as ``POST /auth/step-up``)."""
    response = RedirectResponse(safe_next(target), status_code=303)
    await auth.step_up(auth.StepUp(totp=totp), response, caller)
    return response


# -- what the workspace holds ----------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, caller: Page) -> HTMLResponse:
    return await render(request, caller, "overview.html", views.overview)


@router.get("/datasets/{name}", response_class=HTMLResponse)
async def dataset(request: Request, caller: Page, name: Name) -> HTMLResponse:
    return await render(request, caller, "dataset.html", lambda s: views.dataset(s, name))


@router.get("/datasets/{name}/rows", response_class=HTMLResponse)
async def rows(request: Request, caller: Page, name: Name,
               version: Annotated[int | None, Query(ge=1)] = None,
               offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """The raw-data view: a read the guard decides (and logs) like any other."""
    return await render(request, caller, "rows.html",
                        lambda s: views.rows(s, name, version, offset))


@router.get("/releases", response_class=HTMLResponse)
async def releases(request: Request, caller: Page) -> HTMLResponse:
    return await render(request, caller, "releases.html",
                        lambda s: {"releases": views.releases(s)})


@router.get("/models", response_class=HTMLResponse)
async def models(request: Request, caller: Page) -> HTMLResponse:
    def cards(session: Session) -> dict[str, Any]:
        found = views.model_cards(session)
        return {"cards": found, "plots": views.utility_plots(found)}

    return await render(request, caller, "models.html", cards)


# -- differential privacy --------------------------------------------------------------------
@router.get("/query", response_class=HTMLResponse)
async def query_form(request: Request, caller: Page) -> HTMLResponse:
    return await render(request, caller, "query.html", lambda s: views.query_form(s) | {
        "result": None, "error": None})


@router.post("/query", response_class=HTMLResponse)
async def query(request: Request, caller: Page,
                sql: Annotated[str, Form(min_length=1, max_length=4000)],
                epsilon: Annotated[float, Form(gt=0, allow_inf_nan=False)]) -> HTMLResponse:
    """Answer the query; a query veil refuses (its SQL, a spent budget) is the form again
    with the reason, a refusal by the guard the 403 page."""
    def work(session: Session) -> dict[str, Any]:
        asked = {"sql": sql, "epsilon": epsilon}
        try:
            return views.query_form(session) | asked | {
                "result": views.dp_query(session, sql, epsilon), "error": None}
        except VeilError as exc:
            if isinstance(exc, AccessDenied) or status_of(exc) >= 500:
                raise
            return views.query_form(session) | asked | {
                "result": None, "error": exc.message, "status": status_of(exc)}

    return await render(request, caller, "query.html", work)


# -- data subjects ---------------------------------------------------------------------------
@router.get("/consent", response_class=HTMLResponse)
async def consent_form(request: Request, caller: Page) -> HTMLResponse:
    return await render(request, caller, "consent.html", lambda s: {"events": None})


@router.post("/consent", response_class=HTMLResponse)
async def consent(request: Request, caller: Page, subject: Subject,
                  for_purpose: Annotated[str, Form(alias="purpose", max_length=64)] = ""
                  ) -> HTMLResponse:
    """A subject's consent history (the subject stays in the request body)."""
    return await render(request, caller, "consent.html", lambda s: views.consent_history(
        s, subject, for_purpose or None))


@router.get("/requests", response_class=HTMLResponse)
async def requests(request: Request, caller: Page) -> HTMLResponse:
    """The erasure form, and the caller's erasures with their receipts."""
    return await render(request, caller, "requests.html", lambda s: {
        "jobs": [job for job in caller.jobs.mine(s.principal) if job.kind == ERASE]})


@router.post("/requests")
async def erase(caller: Page, subject: Subject,
                confirm: Annotated[bool, Form(description="the box saying it cannot be undone")]
                ) -> RedirectResponse:
    """Erase a subject everywhere, as a background job (the guard is asked first)."""
    if not confirm:
        raise InputError("confirm the erasure: it cannot be undone")
    job = await queue(caller, ERASE, lambda s: s.requests.erase(subject).to_dict(),
                      lambda s: s.authorize(Operation.DSAR))
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job(request: Request, caller: Page,
              job_id: Annotated[str, Path(pattern=r"^job-[0-9a-f]{16}$")]) -> HTMLResponse:
    """One of the caller's jobs; the page refreshes itself until the job is over."""
    return await render(request, caller, "job.html",
                        lambda s: {"job": caller.jobs.get(job_id, s.principal)})


def _download(data: dict[str, Any], filename: str) -> JSONResponse:
    return JSONResponse(data, headers={"content-disposition": f'attachment; filename="{filename}"'})


@router.get("/requests/{request_id}/receipt")
async def receipt(caller: Page, request_id: Annotated[str, Path(
        pattern=r"^dsar-[0-9a-f]{32}$")]) -> JSONResponse:
    """An erasure's receipt as JSON, with a fresh inclusion proof of its ledger entry."""
    found = await caller.run(lambda s: views.receipt(s, request_id))
    return _download(found, f"{request_id}-receipt.json")


# -- the ledger ------------------------------------------------------------------------------
def _audit(session: Session, page: int, verification: dict[str, Any] | None) -> dict[str, Any]:
    return views.ledger_page(session, page, LEDGER_PAGE) | {
        "head": views.published_head(session), "verification": verification}


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, caller: Page,
                page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    return await render(request, caller, "audit.html", lambda s: _audit(s, page, None))


@router.post("/audit", response_class=HTMLResponse)
async def verify(request: Request, caller: Page) -> HTMLResponse:
    """Verify the whole ledger and the catalog rows it binds, now."""
    return await render(request, caller, "audit.html",
                        lambda s: _audit(s, 1, views.verification(s)))


@router.get("/audit/{seq}/proof")
async def proof(caller: Page, seq: Annotated[int, Path(ge=1)]) -> JSONResponse:
    """Entry ``seq`` with the proof that it is in the current signed head (JSON)."""
    found = await caller.run(lambda s: s.ledger.prove_inclusion(seq).to_dict())
    return _download(found, f"ledger-entry-{seq}-proof.json")


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app``."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(packages=[("veil.web", "static")]), name="static")
