"""What wraps every request, outermost first: the access log (no query string, no path
parameter values), security headers (HSTS, no sniffing, no framing, a strict content policy, no
server banner) and a request body limit.

Pure ASGI middleware, so a request body over the limit is refused while it streams in, before
it is held in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AccessLog", "BodyLimit", "SecurityHeaders", "template"]

access = logging.getLogger("veil.api.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADERS = [
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]


class AccessLog:
    """One line per request: client, method, the route's path with its parameters as
    ``{name}``, and status. A path or a query string may carry a person's id, so neither is
    logged as sent (a path no route matched is logged as ``-``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless the app answers

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            client = scope.get("client") or ("-", 0)
            access.info('%s:%s - "%s %s" %d', client[0], client[1], scope["method"],
                        template(scope), status)


def template(scope: Scope) -> str:
    """The request's path with each path parameter's value replaced by ``{name}`` (routing
    left the parameters in the scope); ``-`` when no route matched."""
    params = scope.get("path_params")
    if params is None:
        return "-"
    names = {str(value): f"{{{name}}}" for name, value in params.items()}
    return "/".join(names.get(part, part) for part in scope["path"].split("/"))


class SecurityHeaders:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"server"]
                message["headers"] = headers + _HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse a request body larger than ``limit`` bytes (uploads have their own, larger limit
    under ``upload_paths``) with 413, as it arrives."""

    def __init__(self, app: App, *, limit: int, upload_limit: int,
                 upload_paths: tuple[str, ...]) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (self.upload_limit if scope["path"].startswith(self.upload_paths)
                 else self.limit)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"the request body is over the {limit:,}-byte limit")
            return
        seen, refused, started = 0, False, False

        async def counted() -> Message:
            """The body, until it passes the limit: then the client gets 413 at once and the
            app a disconnect (it stops reading; whatever it answers is dropped)."""
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _refuse(send, 413, f"the request body is over the {limit:,}-byte "
                                      "limit")
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        await self.app(scope, counted, answer)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"type": f"http.{status}", "title": f"http {status}", "status": status,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
