"""``veil keys``: make key files, rotate the master key and the pseudonym key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from veil.cli.common import options, out
from veil.errors import MasterKeyUnavailableError
from veil.keys import generate_key_file

app = typer.Typer(help="Manage the master key and the pseudonym key.", no_args_is_help=True)
ENV_NEW_PASSPHRASE = "VEIL_NEW_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


@app.command()
def generate(
    path: Annotated[Path, typer.Argument(help="Where to write the new key file.")],
) -> None:
    """Write a new random 256-bit master key file (mode 0600)."""
    generate_key_file(path)
    out.print(f"new master key written to {path}; keep it apart from the workspace")


@app.command()
def rotate(
    ctx: typer.Context,
    new_key_file: Annotated[Path | None, typer.Option(
        help="Key file with the new master key (make one with `veil keys generate`).")] = None,
) -> None:
    """Re-wrap every data key under a new master key; the data files are not rewritten.

    The new key is --new-key-file, else the passphrase in VEIL_NEW_PASSPHRASE, else a prompt.
    """
    opts = options(ctx)
    if new_key_file is not None:
        new = {"key_file": new_key_file}
    elif os.environ.get(ENV_NEW_PASSPHRASE):
        new = {"passphrase": os.environ[ENV_NEW_PASSPHRASE]}
    elif sys.stdin.isatty():
        new = {"passphrase": typer.prompt("New passphrase", hide_input=True,
                                          confirmation_prompt=True)}
    else:
        msg = f"no new master key: pass --new-key-file or set {ENV_NEW_PASSPHRASE}"
        raise MasterKeyUnavailableError(msg)
    with opts.open() as ws:
        count = ws.rotate_keys(**new)
    out.print(f"re-wrapped {count} key(s) under the new master key")


@app.command("rotate-pseudonym")
def rotate_pseudonym(ctx: typer.Context) -> None:
    """Start a new pseudonym key epoch: tokens made from now on differ from earlier ones.

    Earlier keys stay in the ring, so old releases can still be linked on purpose
    (``Workspace.pseudonymize(epoch=...)``) and their token maps still re-identify.
    """
    opts = options(ctx)
    with opts.open() as ws:
        epoch = ws.rotate_pseudonym_key()
    out.print(f"pseudonym key epoch {epoch} is now in use")
