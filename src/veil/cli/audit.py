"""``veil audit``: verify the ledger, read it, and hand out proofs a third party can check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import options, out, print_json
from veil.errors import InputError
from veil.ledger import (
    ConsistencyProof,
    LedgerKey,
    Policy,
    SignedTreeHead,
    proof_from_dict,
    verify_consistency,
    verify_inclusion,
)

app = typer.Typer(help="Verify the audit ledger and prove entries to third parties.",
                  no_args_is_help=True)
witness_app = typer.Typer(help="Copies of the signed head outside the workspace.",
                          no_args_is_help=True)
app.add_typer(witness_app, name="witness")


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        msg = f"{what} file {path} does not exist"
        raise InputError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"{what} file {path} is not valid JSON: {exc}"
        raise InputError(msg) from None


@app.command()
def verify(
    ctx: typer.Context,
    trusted: Annotated[list[Path] | None, typer.Option(
        help="A signed head saved earlier (`veil audit head`); repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute every entry, chain link, tree node and signed root."""
    heads = [SignedTreeHead.from_dict(_read_json(p, "head")) for p in trusted or []]
    with options(ctx).open(check_ledger=False) as ws:
        result = ws.verify(heads)
    summary = {"ok": True, "entries": result.entries, "nodes": result.nodes,
               "heads": result.heads, "bound": result.bound, "root": result.root.hex()}
    if as_json:
        print_json(summary)
    else:
        out.print(f"[green]ledger verified[/]: {result.entries} entries, {result.nodes} tree "
                  f"nodes, {result.heads} signed head(s), {result.bound} catalog bindings; "
                  f"root {result.root.hex()[:16]}…")


@app.command()
def recover(
    ctx: typer.Context,
    accept_rollback: Annotated[bool, typer.Option(
        "--accept-rollback", help="Accept that entries behind the newer heads are lost.")] = False,
) -> None:
    """Owner only: reopen a catalog that was rolled back (prefer restoring the newest veil.db
    from a backup). The newer heads are kept as *.abandoned-*.json and the loss is logged."""
    if not accept_rollback:
        raise InputError("recovery abandons the newer ledger heads and what they covered; "
                         "restore veil.db from a backup instead, or pass --accept-rollback")
    opts = options(ctx)
    with opts.open(check_ledger=False) as ws:
        abandoned = ws.recover()
    for item in abandoned:
        out.print(f"abandoned {item['anchor']} of {item['head']['size']} entries, "
                  f"{item['entries_lost']} lost; kept as {item['kept_as']}")
    out.print("[yellow]re-check the privacy budgets: spends behind the abandoned heads are not "
              "in this catalog[/]")


@witness_app.command("add")
def witness_add(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A folder outside the workspace.")],
) -> None:
    """Publish the signed head to DIRECTORY too; opening fails while that copy is ahead."""
    opts = options(ctx)
    with opts.open() as ws:
        folder = ws.add_witness(directory)
    out.print(f"witness {folder} holds the signed head from now on")


@witness_app.command("remove")
def witness_remove(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A configured witness folder.")],
) -> None:
    """Stop publishing to a witness (works on a workspace whose witness went missing)."""
    opts = options(ctx)
    with opts.open(check_ledger=False) as ws:
        ws.remove_witness(directory)
    out.print(f"witness {directory} removed")


@witness_app.command("list")
def witness_list(ctx: typer.Context) -> None:
    """The configured witness folders."""
    with options(ctx).open() as ws:
        for folder in ws.witnesses():
            out.print(folder)


@app.command()
def log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Show the newest N entries.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only entries with this action.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the newest ledger entries."""
    with options(ctx).open() as ws:
        entries = ws.ledger.tail(limit, action)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table = Table("seq", "time", "actor", "action", "resource", "purpose", "hash")
    for e in entries:
        table.add_row(str(e.seq), e.time[:19], e.actor, e.action, e.resource, e.purpose,
                      e.entry_hash.hex()[:12])
    out.print(table)


@app.command()
def head(ctx: typer.Context) -> None:
    """Print the current signed tree head (JSON); keep it to check the log later."""
    with options(ctx).open() as ws:
        print_json(ws.ledger.head().to_dict())  # type: ignore[union-attr]


@app.command()
def pubkey(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The key's parts, named.")] = False,
) -> None:
    """Print the ledger's public key (hex), all a third party needs to check proofs: Ed25519,
    the size of the last classical head and ML-DSA-65 (Ed25519 alone before the switch)."""
    with options(ctx).open() as ws:
        key = ws.ledger.key
    if not as_json:
        out.print(key.to_bytes().hex(), soft_wrap=True)
        return
    print_json({"key": key.to_bytes().hex(), "ed25519": key.ed25519.hex(),
                "ml_dsa_65": key.ml_dsa.hex() if key.ml_dsa else None,
                "classical_until": key.classical_until if key.hybrid else None})


@app.command()
def prove(
    ctx: typer.Context,
    seq: Annotated[int | None, typer.Argument(help="Entry to prove included.")] = None,
    since: Annotated[int | None, typer.Option(
        help="Prove the log of this many entries is a prefix of the current one.")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Write the proof here.")] = None,
) -> None:
    """Make an inclusion proof (SEQ) or a consistency proof (--since N), as JSON."""
    if (seq is None) == (since is None):
        raise InputError("give either an entry number SEQ or --since N, not both or neither")
    with options(ctx).open() as ws:
        proof = (ws.ledger.prove_inclusion(seq) if seq is not None
                 else ws.ledger.prove_consistency(since))  # type: ignore[arg-type]
    text = json.dumps(proof.to_dict(), indent=2)
    if output:
        output.write_text(text + "\n")
        out.print(f"proof written to {output}")
    else:
        print(text)


@app.command()
def check(
    proof_file: Annotated[Path, typer.Argument(help="A proof from `veil audit prove`.")],
    public_key: Annotated[str, typer.Option(
        help="The ledger key (`veil audit pubkey`) in hex, or a file holding it.")],
    trusted: Annotated[Path | None, typer.Option(
        help="For consistency proofs: the head you recorded for the old size.")] = None,
    classical_only: Annotated[bool, typer.Option(
        "--classical-only", help="Check the Ed25519 signature alone (for a verifier without "
        "ML-DSA); the result says so.")] = False,
) -> None:
    """Check a proof with only the ledger's public key; needs no workspace."""
    try:
        key_text = Path(public_key).read_text() if Path(public_key).is_file() else public_key
    except OSError:  # a hybrid key in hex is longer than a file name may be
        key_text = public_key
    try:
        key = LedgerKey.from_bytes(bytes.fromhex(key_text.strip()))
    except ValueError as exc:
        raise InputError(f"--public-key must be a ledger key in hex, or a file holding one: "
                         f"{exc}") from None
    policy = Policy.CLASSICAL if classical_only else Policy.HYBRID
    proof = proof_from_dict(_read_json(proof_file, "proof"))
    if isinstance(proof, ConsistencyProof):
        old_root = None
        if trusted is not None:
            old = SignedTreeHead.from_dict(_read_json(trusted, "head"))
            if old.size != proof.old_size or not old.is_valid(key, policy):
                raise InputError("the trusted head is not a valid head for the proof's old size")
            old_root = old.root
        assurance = verify_consistency(proof, key, trusted_old_root=old_root, policy=policy)
        said = (f"the log of {proof.old_size} entries is a prefix of the signed log of "
                f"{proof.head.size}")
    else:
        assurance = verify_inclusion(proof, key, policy)
        said = (f"entry {proof.entry.seq} ({proof.entry.action} {proof.entry.resource}) is in "
                f"the signed log of {proof.head.size} entries")
    out.print(f"[green]valid[/]: {said}; head signature checked: {assurance.value}")
