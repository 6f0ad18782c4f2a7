"""``veil keys``: make key files, rotate the master key and the pseudonym key, share one
version's data key with a recipient key and accept such a share."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil._atomic import atomic_write
from veil.cli.common import options, out, print_json
from veil.errors import InputError, MasterKeyUnavailableError
from veil.keys import generate_key_file
from veil.keys import inventory as key_inventory
from veil.keys.share import RecipientKey, RecipientPublicKey, new_recipient

app = typer.Typer(help="Manage the master key and the pseudonym key; share a version's key.",
                  no_args_is_help=True)
ENV_NEW_PASSPHRASE = "VEIL_NEW_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
recipient_app = typer.Typer(help="Recipient keys (X25519 + ML-KEM-768) that shares are made for.",
                            no_args_is_help=True)
app.add_typer(recipient_app, name="recipient")


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


@app.command("inventory")
def inventory_(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List every key the workspace holds and every algorithm its operations use, with its
    quantum exposure: symmetric and lattice safe, classical signatures and KEMs exposed,
    hybrids safe while either part holds. Names and dates only, never key bytes."""
    with options(ctx).open() as ws:
        found = ws.key_inventory()
    tally = key_inventory.summary(found)
    if as_json:
        print_json({"keys": [k.to_dict() for k in found], "summary": asdict(tally)})
        return
    for title, operations in (("keys held", False), ("algorithms used by operations", True)):
        columns, rows = key_inventory.table(found, operations=operations)
        shown = Table(title=title)
        shown.add_column(columns[0], no_wrap=True)  # key ids stay whole, to copy
        for column in columns[1:]:
            shown.add_column(column)
        for row in rows:
            shown.add_row(*row)
        out.print(shown)
    out.print(f"{key_inventory.HYBRID}.\n{tally.verdict}")


@recipient_app.command("new")
def recipient_new(
    directory: Annotated[Path, typer.Argument(help="Folder for recipient.pub and recipient.key.")],
) -> None:
    """Write a new hybrid recipient key pair: publish recipient.pub, keep recipient.key (0600)."""
    public, private, key = new_recipient(directory)
    out.print(f"recipient key {key.key_id}: give {public} to senders; keep {private} private")


@app.command()
def share(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to share.")],
    version: Annotated[int, typer.Argument(help="The one version the recipient gets.")],
    to: Annotated[Path, typer.Option("--to", help="The recipient's recipient.pub.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the share bundle.")],
) -> None:
    """Give a recipient key one version: its data key, wrapped with X25519 + ML-KEM-768, and
    its sealed file, in one bundle (logged as key.share). Nothing else is readable with it."""
    recipient = RecipientPublicKey.load(to)
    if out_file.exists():
        raise InputError(f"{out_file} already exists; refusing to overwrite it")
    if not out_file.parent.is_dir():
        raise InputError(f"folder {out_file.parent} does not exist; create it first")
    with options(ctx).open() as ws:
        bundle = ws.share_key(name, version, recipient)
    atomic_write(out_file, bundle)
    out.print(f"shared {name}@{version} with recipient key {recipient.key_id}: {out_file}")


@app.command()
def accept(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="A share bundle made by `veil keys share`.")],
    key: Annotated[Path, typer.Option("--key", help="The recipient.key it was made for.")],
    as_name: Annotated[str | None, typer.Option(
        "--as", help="Dataset to add it to (default: the shared dataset's name).")] = None,
) -> None:
    """Import a share as a new version here (logged as key.accept). Destroying that version
    (`veil destroy`) crypto-shreds the copy; delete the bundle too."""
    recipient = RecipientKey.load(key)
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read share bundle {bundle}: {exc.strerror}") from None
    with options(ctx).open() as ws:
        record = ws.accept_share(data, recipient, name=as_name)
    out.print(f"accepted {record.provenance['shared']} as {record.ref} "
              f"({record.rows:,} rows, key {record.key_id})")
