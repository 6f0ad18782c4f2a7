"""``veil zk``: zero-knowledge proofs from the command line (login, age, dataset membership).

Files these commands write are JSON. Files holding a secret (an identity key, an age opening, a
membership credential with its salt) are created with mode 0600; proofs are public.
Verification prints ``valid …`` and exits 0, or prints one error line and exits non-zero
(4 for a proof that does not verify, 2 for malformed input).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from veil.cli.common import options, out, print_json
from veil.errors import InputError
from veil.zk import schnorr
from veil.zk.dataset import (
    Membership,
    commit_dataset,
    issue_membership,
    verify_membership,
)
from veil.zk.group import N, base_mul, decode_point, encode_scalar
from veil.zk.membership import DatasetRoot
from veil.zk.pedersen import commit
from veil.zk.rangeproof import (
    AGE_CONTEXT,
    AGE_TYPE,
    DEFAULT_AGE_BITS,
    RangeProof,
    prove_at_least,
    verify_at_least,
)
from veil.zk.session import NONCE_SIZE, login_context

app = typer.Typer(
    help="Zero-knowledge proofs: log in without sending a secret, prove an age is at least a "
         "threshold without revealing it, prove a record is in a committed dataset.",
    no_args_is_help=True,
)

KEY_TYPE = "veil.zk.schnorr-key"
OPENING_TYPE = "veil.zk.opening"

OutOpt = Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")]


def _say(text: str) -> None:
    """One line on stdout, never wrapped or styled (hex roots and keys get copied from it)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


# -- files ------------------------------------------------------------------------------------
def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{what} {path} is not valid JSON: {exc}") from None


def _document(path: Path, kind: str) -> dict[str, Any]:
    data = _read_json(path, kind)
    if not isinstance(data, dict) or data.get("type") != kind:
        got = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path} is not a {kind} file (type {got!r})")
    if data.get("version") != 1:
        raise InputError(f"{path} has {kind} version {data.get('version')!r}; this veil reads 1")
    return data


def _write(path: Path | None, text: str, *, secret: bool = False, force: bool = True) -> None:
    """Write ``text`` (plus a newline) to ``path``, or stdout when None; secrets get mode 0600."""
    if path is None:
        sys.stdout.write(text + "\n")
        return
    if path.exists() and not force:
        raise InputError(f"{path} exists; pass --force to replace it")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600 if secret else 0o644)
        if secret:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _hex(value: str, what: str, size: int | None = None) -> bytes:
    try:
        data = bytes.fromhex(value.strip())
    except ValueError:
        raise InputError(f"{what} is not valid hex") from None
    if size is not None and len(data) != size:
        raise InputError(f"{what} must be {size} bytes ({2 * size} hex digits), got {len(data)}")
    return data


def _embedded(data: dict[str, Any], key: str, kind: str) -> Any:
    if key not in data:
        raise InputError(f"{kind} file lacks {key!r}")
    return data[key]


# -- login (Schnorr) --------------------------------------------------------------------------
@app.command()
def keygen(
    out_path: Annotated[Path, typer.Option("--out", help="Identity key file to create (0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Make a Schnorr identity key; prints the public key to register with a verifier."""
    pair = schnorr.keygen()
    public = pair.public.to_bytes().hex()
    _write(out_path, json.dumps({"type": KEY_TYPE, "version": 1,
                                 "secret": encode_scalar(pair.secret).hex(), "public": public},
                                indent=2), secret=True, force=force)
    _say(f"public key {public}")


def _load_key(path: Path) -> schnorr.KeyPair:
    data = _document(path, KEY_TYPE)
    secret = int.from_bytes(_hex(str(_embedded(data, "secret", KEY_TYPE)), "secret", 32), "big")
    if not 0 < secret < N:
        raise InputError(f"{path} holds a secret outside [1, n)")
    public = base_mul(secret)
    if data.get("public") != public.to_bytes().hex():
        raise InputError(f"{path}: its public key does not match its secret")
    return schnorr.KeyPair(secret, public)


@app.command()
def nonce() -> None:
    """A fresh random login nonce (hex), for a verifier to hand to one login attempt."""
    _say(secrets.token_bytes(NONCE_SIZE).hex())


@app.command("prove-login")
def prove_login(
    key: Annotated[Path, typer.Argument(help="Identity key file from `veil zk keygen`.")],
    audience: Annotated[str, typer.Option(help="Name of the verifier (service URL or id).")],
    nonce_hex: Annotated[str, typer.Option("--nonce", help="The verifier's nonce (hex).")],
    out_path: OutOpt = None,
) -> None:
    """Prove you hold the key, bound to the verifier's audience and nonce; the secret stays."""
    pair = _load_key(key)
    context = login_context(audience, _hex(nonce_hex, "nonce", NONCE_SIZE))
    _write(out_path, schnorr.prove(pair.secret, context=context).to_json())
    if out_path is not None:
        _say(f"login proof for {pair.public.to_bytes().hex()} written to {out_path}")


@app.command("verify-login")
def verify_login(
    proof: Annotated[Path, typer.Argument(help="Login proof file.")],
    public: Annotated[str, typer.Option(help="The registered public key (hex).")],
    audience: Annotated[str, typer.Option(help="This verifier's name.")],
    nonce_hex: Annotated[str, typer.Option("--nonce", help="The nonce this verifier issued.")],
) -> None:
    """Check a login proof against the nonce you issued (single check, no replay cache).

    Issue each nonce to one attempt only and then discard it: this command cannot remember used
    nonces. A service should use veil.zk.LoginVerifier, which enforces single use and expiry.
    """
    key = decode_point(_hex(public, "public key"), "public key")
    context = login_context(audience, _hex(nonce_hex, "nonce", NONCE_SIZE))
    schnorr.verify(key, schnorr.SchnorrProof.from_json(_read_json(proof, "login proof")),
                   context=context)
    _say(f"valid: the holder of {key.to_bytes().hex()[:16]}… logged in to {audience}")


# -- age (Pedersen + range proof) -------------------------------------------------------------
@app.command("prove-age")
def prove_age(
    age: Annotated[int | None, typer.Option(
        help="Your age (asked for, hidden, when left out: keeps it out of shell history).")] = None,
    threshold: Annotated[int, typer.Option(min=0, help="Prove age >= this.")] = 18,
    bits: Annotated[int, typer.Option(min=1, max=64, help="Window: threshold <= age < "
                                      "threshold + 2**bits.")] = DEFAULT_AGE_BITS,
    context: Annotated[str, typer.Option(help="The verifier's context (a nonce or session "
                                         "id); binds the proof to it.")] = AGE_CONTEXT,
    save_opening: Annotated[Path | None, typer.Option(
        help="Keep the commitment's opening (age and blinding) here, 0600, to prove more "
             "facts about the same commitment later.")] = None,
    out_path: OutOpt = None,
) -> None:
    """Commit to your age and prove it is at least THRESHOLD, without revealing it.

    The proof file holds the commitment and the proof, never the age; the opening (age and
    blinding) stays with you (--save-opening keeps it).
    """
    if age is None:
        if not sys.stdin.isatty():
            raise InputError("pass --age (no terminal to ask on)")
        age = typer.prompt("Age", hide_input=True, type=int)
    if age < 0:
        raise InputError("an age is a non-negative whole number")
    if age < threshold:
        raise InputError(f"age {age} is below the threshold {threshold}: there is no true "
                         f"statement 'age >= {threshold}' to prove")
    commitment, opening = commit(age)
    proof = prove_at_least(opening, threshold, bits=bits, context=context.encode())
    if save_opening is not None:
        _write(save_opening, json.dumps({
            "type": OPENING_TYPE, "version": 1, "commitment": commitment.to_bytes().hex(),
            "value": opening.value, "blinding": encode_scalar(opening.blinding).hex()}),
            secret=True)
    _write(out_path, json.dumps({
        "type": AGE_TYPE, "version": 1, "commitment": commitment.to_bytes().hex(),
        "threshold": threshold, "bits": bits, "context": context,
        "proof": json.loads(proof.to_json())}, indent=2))
    if out_path is not None:
        _say(f"proof that the committed age is >= {threshold} written to {out_path}")


@app.command("verify-age")
def verify_age(
    proof: Annotated[Path, typer.Argument(help="Age proof file from `veil zk prove-age`.")],
    threshold: Annotated[int, typer.Option(min=0, help="Require age >= this.")] = 18,
    bits: Annotated[int, typer.Option(min=1, max=64, help="The window the proof uses.")] = (
        DEFAULT_AGE_BITS),
    context: Annotated[str, typer.Option(help="The context you gave the prover.")] = AGE_CONTEXT,
    commitment: Annotated[str | None, typer.Option(
        help="Require this commitment (hex), e.g. one an issuer signed after checking the "
             "age; without it the prover could have committed to any age.")] = None,
) -> None:
    """Check that a proof's commitment holds an age >= THRESHOLD (the age itself stays hidden)."""
    data = _document(proof, AGE_TYPE)
    committed = _hex(str(_embedded(data, "commitment", AGE_TYPE)), "commitment")
    if commitment is not None and _hex(commitment, "--commitment") != committed:
        raise InputError("the proof is about another commitment than --commitment")
    verify_at_least(committed, threshold,
                    RangeProof.from_json(_embedded(data, "proof", AGE_TYPE)), bits=bits,
                    context=context.encode())
    _say(f"valid: the committed age is >= {threshold} (commitment {committed.hex()[:16]}…)")


# -- dataset membership ----------------------------------------------------------------------
@app.command("commit")
def commit_cmd(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    columns: Annotated[str | None, typer.Option(
        help="Columns each record holds, comma-separated (default: all).")] = None,
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Commit a dataset version to a Merkle root (logged as zk.commit); publish root and size."""
    opts = options(ctx)
    chosen = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    with opts.open() as ws:
        made = commit_dataset(ws, dataset, version=version, columns=chosen)
    if as_json:
        print_json(made.to_dict())
        return
    _say(f"{made.ref} committed (ledger entry {made.seq}); publish root and size:")
    _say(f"root {made.root.root.hex()}")
    _say(f"size {made.root.size}")
    _say(f"columns {','.join(made.columns)}")


@app.command("prove-member")
def prove_member(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    row: Annotated[int, typer.Option(min=0, help="Row index (0-based) of the record.")],
    root: Annotated[str | None, typer.Option(
        help="Commitment root (default: the newest commitment).")] = None,
    version: Annotated[int | None, typer.Option(help="Version (default: newest).")] = None,
    out_path: OutOpt = None,
) -> None:
    """Issue a row's membership credential (record, secret salt, proof) for its holder; 0600."""
    opts = options(ctx)
    with opts.open() as ws:
        found = issue_membership(ws, dataset, row, version=version, root=root)
        ref = ws.ledger.tail(1, action="zk.prove")[0].resource
    _write(out_path, found.to_json(ref), secret=True)
    if out_path is not None:
        _say(f"membership credential for row {row} of root {found.root.root.hex()[:16]}… "
                  f"written to {out_path}")


@app.command("verify-member")
def verify_member(
    credential: Annotated[Path, typer.Argument(help="Membership credential file.")],
    root: Annotated[str, typer.Option(help="The published dataset root (hex).")],
    size: Annotated[int, typer.Option(min=0, help="The published dataset size.")],
    show: Annotated[bool, typer.Option(help="Also print the proved record.")] = False,
) -> None:
    """Check that a credential's record is in the dataset with this published root and size.

    No workspace needed; the root written inside the credential is not trusted.
    """
    trusted = DatasetRoot(_hex(root, "root", 32), size)
    found = verify_membership(trusted, Membership.from_json(_read_json(credential,
                                                                       "credential")))
    _say(f"valid: record {found.proof.index} of {size} is in dataset {root[:16]}…")
    if show:
        print_json(found.record)
