"""What every ``veil`` command shares: where the workspace is, how it is unlocked, how to print;
or, with ``--server``, which service it talks to instead (:mod:`veil.api.remote`)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from rich.console import Console

from veil._atomic import atomic_write
from veil.access.session import Session
from veil.errors import AccessError, InputError, MasterKeyUnavailableError
from veil.keys import ENV_MASTER_KEY, ENV_PASSPHRASE
from veil.workspace import Workspace

if TYPE_CHECKING:
    from veil.api.remote import Remote

ENV_TOKEN = "VEIL_TOKEN"  # noqa: S105 - a variable name: an API token to act as its principal
ENV_PASSWORD = "VEIL_PASSWORD"  # noqa: S105 - a variable name, for scripts that log in
ENV_CA = "VEIL_CA"
# what ``veil --server`` runs on the service (command paths below the root); the rest act on a
# workspace they open themselves and say so
REMOTE_COMMANDS = ("datasets", "show", "query", "budget show", "models list", "models card",
                   "audit verify", "audit log", "audit head", "audit pubkey", "login", "logout")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    """Root options, kept in the Typer context for the subcommands."""

    workspace: Path
    key_file: Path | None
    purpose: str
    server: str | None = None  # a service's address: the command runs there (``--server``)
    ca: Path | None = None  # the CA that service's certificate must chain to

    def key_args(self, *, confirm: bool = False) -> dict[str, Any]:
        """Key material from ``--key-file``, the environment, or a prompt on a terminal."""
        self._local_only()
        if self.key_file is not None:
            return {"key_file": self.key_file}
        if os.environ.get(ENV_MASTER_KEY) or os.environ.get(ENV_PASSPHRASE):
            return {}
        if sys.stdin.isatty():
            return {"passphrase": typer.prompt("Passphrase", hide_input=True,
                                               confirmation_prompt=confirm)}
        msg = (f"no master key: pass --key-file, or set {ENV_MASTER_KEY} or {ENV_PASSPHRASE} "
               "(no terminal to prompt on)")
        raise MasterKeyUnavailableError(msg)

    @contextmanager
    def open_workspace(self, *, check_ledger: bool = True) -> Iterator[Workspace]:
        """The workspace itself (the owner's session): for logging in and out."""
        self._local_only()
        with Workspace.open(self.workspace, check_ledger=check_ledger,
                            **self.key_args()) as ws:
            yield ws

    @contextmanager
    def open(self, *, check_ledger: bool = True) -> Iterator[Session]:
        """The session the command acts in, for ``--purpose``: the API token in
        ``VEIL_TOKEN``, else the login ``veil login`` kept for this workspace, else the
        owner's (the holder of the master key the command was given). With ``--server``, a
        :class:`~veil.api.remote.Remote` with the same methods, for the commands in
        :data:`REMOTE_COMMANDS`."""
        if self.server is not None:
            refuse_remote(_command_path())
            with self.remote(signed_in=True) as remote:
                yield remote  # type: ignore[misc]  # the Session methods remote commands call
            return
        with self.open_workspace(check_ledger=check_ledger) as ws:
            token = os.environ.get(ENV_TOKEN) or _kept(ws)
            acting = ws.session(token) if token else ws
            yield acting.for_purpose(self.purpose)

    def remote(self, *, signed_in: bool = True, kept_only: bool = False) -> Remote:
        """The service at ``--server``, trusted through ``--ca`` (else ``VEIL_CA``, else the CA
        kept with the login, else the system's store), as ``VEIL_TOKEN`` or the kept login
        (``kept_only``: the kept login alone; ``signed_in``: one is required)."""
        from veil.api.remote import Remote, normalized

        url = normalized(self.server or "")
        kept = kept_server_login(url)
        token = kept.get("token") if kept_only else os.environ.get(ENV_TOKEN) or kept.get("token")
        if signed_in and not token:
            raise AccessError(f"not signed in to {url}: run `veil login --server {url} USER` "
                              f"first (or set {ENV_TOKEN})")
        ca = self.ca or (Path(os.environ[ENV_CA]) if os.environ.get(ENV_CA) else None) or (
            Path(kept["ca"]) if kept.get("ca") else None)
        if ca is not None and not ca.is_file():
            raise InputError(f"the CA file {ca} does not exist")
        return Remote(url, token=token if signed_in else None, purpose=self.purpose, ca=ca)

    def _local_only(self) -> None:
        """Refuse, with ``--server``, a command that would open a workspace here."""
        if self.server is not None:
            refuse_remote(_command_path())


def _login_file(ws: Workspace) -> Path:
    """Where the login for this workspace is kept: the user's config directory, one file per
    workspace (named by its ledger key, so a moved workspace keeps its login)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "veil" / "sessions" / f"{ws.ledger.public_key.hex()[:32]}.token"


def _kept(ws: Workspace) -> str | None:
    path = _login_file(ws)
    return path.read_text().strip() if path.is_file() else None


def keep_login(ws: Workspace, token: str) -> Path:
    """Write a login token (0600, in a 0700 directory)."""
    path = _login_file(ws)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, token.encode() + b"\n")
    return path


def forget_login(ws: Workspace) -> bool:
    path = _login_file(ws)
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def _server_file(url: str) -> Path:
    """Where the login for the service at ``url`` is kept (one file per address)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return Path(base) / "veil" / "servers" / f"{digest}.json"


def kept_server_login(url: str) -> dict[str, Any]:
    """The kept login for the service at ``url``: ``token`` and the ``ca`` it was made
    through ({} without one)."""
    path = _server_file(url)
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) and found.get("url") == url else {}


def keep_server_login(url: str, token: str, ca: Path | None) -> Path:
    """Keep a service's session token (0600, in a 0700 directory) with the CA it was made
    through, so later ``--server`` commands need neither."""
    path = _server_file(url)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = {"url": url, "token": token, "ca": str(ca.resolve()) if ca else None}
    atomic_write(path, json.dumps(kept).encode() + b"\n")
    return path


def forget_server_login(url: str) -> bool:
    path = _server_file(url)
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def _command_path() -> str:
    """The running command below the root (``budget show``)."""
    names: list[str] = []
    ctx: click.Context | None = click.get_current_context()
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(names)


def refuse_remote(command: str | None) -> None:
    """Refuse ``command`` with ``--server`` unless it runs remotely (a group is let through:
    its commands are checked when they open their session)."""
    if command is None or any(c == command or c.startswith(f"{command} ")
                              for c in REMOTE_COMMANDS):
        return
    raise InputError(f"`veil {command}` is not available with --server; it runs only on a "
                     f"workspace here. Remote commands: {', '.join(REMOTE_COMMANDS)}")


def options(ctx: typer.Context) -> Options:
    return ctx.find_root().obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
