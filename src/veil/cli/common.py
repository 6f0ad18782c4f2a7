"""What every ``veil`` command shares: where the workspace is, how it is unlocked, how to print."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from veil._atomic import atomic_write
from veil.access.session import Session
from veil.errors import MasterKeyUnavailableError
from veil.keys import ENV_MASTER_KEY, ENV_PASSPHRASE
from veil.workspace import Workspace

ENV_TOKEN = "VEIL_TOKEN"  # noqa: S105 - a variable name: an API token to act as its principal
ENV_PASSWORD = "VEIL_PASSWORD"  # noqa: S105 - a variable name, for scripts that log in
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    """Root options, kept in the Typer context for the subcommands."""

    workspace: Path
    key_file: Path | None
    purpose: str

    def key_args(self, *, confirm: bool = False) -> dict[str, Any]:
        """Key material from ``--key-file``, the environment, or a prompt on a terminal."""
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
        with Workspace.open(self.workspace, check_ledger=check_ledger,
                            **self.key_args()) as ws:
            yield ws

    @contextmanager
    def open(self, *, check_ledger: bool = True) -> Iterator[Session]:
        """The session the command acts in, for ``--purpose``: the API token in
        ``VEIL_TOKEN``, else the login ``veil login`` kept for this workspace, else the
        owner's (the holder of the master key the command was given)."""
        with self.open_workspace(check_ledger=check_ledger) as ws:
            token = os.environ.get(ENV_TOKEN) or _kept(ws)
            acting = ws.session(token) if token else ws
            yield acting.for_purpose(self.purpose)


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


def options(ctx: typer.Context) -> Options:
    return ctx.find_root().obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
