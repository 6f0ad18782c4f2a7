"""How a page is made: the templates, the caller acting for the purpose picked in the header, and
the route class that turns errors into pages (a refusal into the 403 page, a missing or expired
session into the sign-in page) where the JSON API answers problems."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException

from veil.access.scope import ADMINISTRATION
from veil.access.session import Session
from veil.api.auth import CSRF_COOKIE, Caller, Current, current
from veil.api.errors import status_of
from veil.errors import AccessDenied, VeilError
from veil.web.views import frame

__all__ = ["HOME", "LOGIN", "PURPOSE_COOKIE", "Page", "PageRoute", "acting", "plain", "render",
           "safe_next", "templates"]

log = logging.getLogger("veil.web")
PURPOSE_COOKIE = "veil_purpose"
LOGIN = "/ui/login"
HOME = "/ui/"


def _number(value: float | None, digits: int = 4) -> str:
    """A number as people read it: ``0.5``, ``993.5``, ``12,000``, ``1e-05``; a dash for
    none."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10**digits else f"{value:.{digits}g}"


def _short(text: str, limit: int = 16) -> str:
    return f"{text[:limit - 1]}…" if len(text) > limit else text


def _brief(value: Any, limit: int = 60) -> str:
    """A value on one line (a ledger entry's parameter, a piece of evidence): numbers as
    people read them, lists and mappings flattened, cut at ``limit`` characters."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        text = _number(value)
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k} {_brief(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(_brief(v, limit) for v in value)
    else:
        text = str(value)
    return _short(text, limit)


def _when(stamp: str | None) -> str:
    """An ISO time as people read it, in UTC (``2026-12-02 22:09:56 UTC``)."""
    if not stamp:
        return "–"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates = Jinja2Templates(env=Environment(
    loader=PackageLoader("veil.web", "templates"), autoescape=select_autoescape(),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True))
templates.env.filters |= {"num": _number, "short": _short, "brief": _brief, "when": _when}


def safe_next(target: str | None) -> str:
    """Where to go after a form: a dashboard path, never another site."""
    if target and target.startswith("/ui/") and not target.startswith("/ui//") and (
            "\\" not in target):
        return target
    return HOME


async def acting(request: Request, caller: Current) -> Caller:
    """The caller acting for the purpose picked in the header (kept in a cookie); without
    one, the purpose the request states as the API's (``administration`` by default)."""
    return dataclasses.replace(caller, purpose=request.cookies.get(PURPOSE_COOKIE)
                               or caller.purpose)


Page = Annotated[Caller, Depends(acting)]


def _response(request: Request, template: str, context: dict[str, Any],
              status: int) -> HTMLResponse:
    context = {"csrf": request.cookies.get(CSRF_COOKIE, ""), "principal": None,
               "purpose": ADMINISTRATION, "purposes": [], "path": request.url.path} | context
    return templates.TemplateResponse(request, template, context, status_code=status)


async def render(request: Request, caller: Caller, template: str,
                 work: Callable[[Session], dict[str, Any]] | None = None, *,
                 status: int = 200) -> HTMLResponse:
    """``template`` with the header's context and what ``work(session)`` returns (run on a
    worker thread, in the caller's session); a ``status`` the work returns is the page's."""
    context = await caller.run(lambda session: frame(session) | (work(session) if work else {}))
    return _response(request, template, context, context.get("status", status))


def plain(request: Request, template: str, context: dict[str, Any], *,
          status: int = 200) -> HTMLResponse:
    """A page that needs no session (signing in)."""
    return _response(request, template, context, status)


async def _error_page(request: Request, status: int, message: str, code: str) -> HTMLResponse:
    """The error page, with the header of the session if there is a valid one."""
    try:
        caller = await acting(request, await current(request))
        context = await caller.run(frame)
    except (HTTPException, VeilError):
        context = {}
    return _response(request, "error.html", context | {
        "status": status, "message": message, "code": code,
        "step_up": "step-up" in message, "denied": code == AccessDenied.code}, status)


def _to_login(request: Request) -> RedirectResponse:
    here = request.url.path
    target = f"{LOGIN}?next={quote(here)}" if request.method == "GET" and here != HOME else LOGIN
    return RedirectResponse(target, status_code=303)


class PageRoute(APIRoute):
    """A page's route: errors become pages. Without a valid session, the sign-in page; a
    refusal by the guard (already logged by it), the 403 page naming what was missing; any
    other veil error, a page with the status the JSON API would give it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code == 401:
                    return _to_login(request)
                return await _error_page(request, exc.status_code, str(exc.detail),
                                         f"http.{exc.status_code}")
            except RequestValidationError as exc:
                # name the fields and the problem, never the input (it may be a person's value)
                where = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
                return await _error_page(request, 422, where, "input.request")
            except VeilError as exc:
                status = status_of(exc)
                if status >= 500:
                    log.error("%s %s failed: %s", request.method, request.url.path, exc.code)
                return await _error_page(request, status, exc.message, exc.code)

        return page
