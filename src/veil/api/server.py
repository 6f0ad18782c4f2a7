"""``veil serve``: the service over HTTPS, with a certificate from the workspace's CA (or one
given); plain HTTP is refused except on a loopback address, for local tools that ask for it."""

from __future__ import annotations

import copy
import ipaddress
import os
from pathlib import Path
from typing import Any

from veil.access.scope import ADMINISTRATION
from veil.api.app import create_app
from veil.api.pool import WorkspacePool
from veil.errors import InputError
from veil.keys import MasterKey
from veil.workspace import Workspace

__all__ = ["certificate", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def certificate(workspace: Workspace, host: str, directory: Path) -> tuple[Path, Path]:
    """A server certificate for ``host`` (and localhost) from the workspace's CA, written to
    ``directory`` (0700; the key 0600); clients pin ``directory/ca.crt``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    hosts = list(dict.fromkeys([host, "localhost", "127.0.0.1"]))
    files = workspace.for_purpose(ADMINISTRATION).issue_tls(directory, hosts=hosts)
    return files.server_cert, files.server_key


def serve(path: Path, master: MasterKey, *, host: str = "127.0.0.1", port: int = 8443,
          cert: Path | None = None, key: Path | None = None, plain_http: bool = False,
          threads: int = 8, ready: Path | None = None) -> None:
    """Run the service until interrupted. Without ``cert``/``key`` a certificate is issued
    from the workspace's CA into ``<workspace>.tls/``. ``ready`` is written once the server
    listens (tests and scripts wait on it, not on a clock)."""
    import uvicorn

    if (cert is None) != (key is None):
        raise InputError("give both --cert and --key, or neither (a certificate is issued)")
    if plain_http and not is_loopback(host):
        raise InputError(f"plain HTTP is refused on {host}: only a loopback address may serve "
                         "without TLS")
    pool = WorkspacePool(path, master)
    if not plain_http and cert is None:
        with pool.opened() as workspace:
            cert, key = certificate(workspace, host, path.with_name(f"{path.name}.tls"))
    app = create_app(pool, threads=threads)
    config = uvicorn.Config(_contained(app), host=host, port=port, server_header=False,
                            proxy_headers=False, ssl_certfile=None if plain_http else str(cert),
                            ssl_keyfile=None if plain_http else str(key), log_level="info",
                            log_config=_log_config(), access_log=False)
    server = uvicorn.Server(config)
    if ready is not None:
        _announce(server, ready)
    server.run()


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus veil's own access log and errors (:mod:`veil.api.middleware`
    and :mod:`veil.api.errors`) in place of uvicorn's access log, which would write each
    request's path and query string as sent."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["veil.api"] = {"handlers": ["default"], "level": "INFO",
                                     "propagate": False}
    return config


def _contained(app: Any) -> Any:
    """``app``, with a request's unexpected error kept from uvicorn, which would log it with
    its message (the app already answered 500 and logged it by type)."""
    async def contained(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception:
            if scope["type"] != "http":
                raise

    return contained


def _announce(server: object, ready: Path) -> None:
    """Write ``ready`` when the server has started (uvicorn sets ``started``)."""
    import threading
    import time

    def watch() -> None:
        while not getattr(server, "started", False) and not getattr(server, "should_exit", False):
            time.sleep(0.05)
        if getattr(server, "started", False):
            ready.write_text(str(os.getpid()))

    threading.Thread(target=watch, daemon=True).start()
