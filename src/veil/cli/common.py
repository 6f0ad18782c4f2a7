"""What every ``veil`` command shares: where the workspace is, how it is unlocked, how to print."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from veil.errors import MasterKeyUnavailableError
from veil.keys import ENV_MASTER_KEY, ENV_PASSPHRASE
from veil.workspace import Workspace

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    """Root options, kept in the Typer context for the subcommands."""

    workspace: Path
    key_file: Path | None
    actor: str
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

    def open(self, *, check_ledger: bool = True) -> Workspace:
        return Workspace.open(self.workspace, check_ledger=check_ledger, **self.key_args())


def options(ctx: typer.Context) -> Options:
    return ctx.find_root().obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
