"""Membership proofs over workspace datasets: commit a dataset version, hand each person a proof
that their record is in it, verify with the published root alone.

Flow::

    owner:    c = commit_dataset(ws.for_purpose(...), "patients", columns=["pid", "age"])
              publish c.root (Merkle root and size; the ledger holds it as a ``zk.commit`` entry)
    holder:   m = issue_membership(ws, "patients", 41, ...)   # their record, salt and path
    verifier: verify_membership(published_root, m)             # no workspace, no other records

A leaf is ``veil.zk.membership``'s salted commitment to one row: the canonical JSON of the chosen
columns (see :func:`row_record`), salted with 32 secret bytes, so the root and a proof's path
reveal nothing about any other row (only the row count and the proved row's position).

Salts are never stored. Each commitment draws a public 16-byte ``nonce`` (kept in its ledger
entry) and derives a secret per-commitment seed from the workspace's pseudonym key through the
public :meth:`~veil.workspace.Workspace.pseudonymizer` (six keyed HMAC-SHA256 tokens, 300 bits,
over the dataset reference, the nonce and a counter, hashed with SHA-256 under a domain tag);
row ``i``'s salt is ``HMAC-SHA256(seed, i)``. Only a holder of the workspace key can recompute
them, a new commitment of the same version gets unrelated salts, and a holder's salt says
nothing about anyone else's. Consequence: after :meth:`~veil.workspace.Workspace.
rotate_pseudonym_key` the salts of earlier commitments cannot be re-derived, and
:func:`issue_membership` refuses them (commit again and publish the new root). Crypto-shredding
the version ends issuance too (its rows can no longer be read).

Audit: the commitment is a ``zk.commit`` entry (scheme, root, size, columns, nonce, key epoch),
each issued proof a ``zk.prove`` entry (root, row index); neither holds a row value. Reading the
rows is logged as a ``dataset.read`` and deriving the salts as a ``keys.use``, as everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from veil.errors import InputError, IntegrityError, KeyringError, NotFoundError
from veil.zk import membership as _membership
from veil.zk._codec import hex_bytes, json_object
from veil.zk.membership import DatasetRoot, MembershipProof, MembershipTree

if TYPE_CHECKING:
    import polars as pl

    from veil.access.session import Session
    from veil.discover.redact import Pseudonymizer
    from veil.ledger.entry import Entry

__all__ = [
    "CREDENTIAL_TYPE",
    "SCHEME",
    "DatasetCommitment",
    "Membership",
    "commit_dataset",
    "issue_membership",
    "row_record",
    "verify_membership",
]

SCHEME = "veil.zk.membership/v1"
"""Recorded in every ``zk.commit`` entry: leaf encoding and salt derivation of this module."""
CREDENTIAL_TYPE = "veil.zk.membership-credential"
"""The ``type`` of a :meth:`Membership.to_json` document."""

_SEED_TAG = b"veil.zk/dataset/salt-seed/v1"
_ENTITY = "veil.zk.membership"  # the pseudonymizer's entity label: a domain of its own
_TOKENS = 6  # pseudonym tokens are 50 bits each; six give 300 bits of keyed output
_NONCE_SIZE = 16


@dataclass(frozen=True)
class DatasetCommitment:
    """A committed dataset version: what was committed and the public root to publish."""

    dataset: str
    version: int
    columns: tuple[str, ...]
    root: DatasetRoot
    seq: int
    """The ledger sequence number of the ``zk.commit`` entry."""

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.ref, "root": self.root.root.hex(), "size": self.root.size,
                "columns": list(self.columns), "ledger_seq": self.seq, "scheme": SCHEME}


class Membership(NamedTuple):
    """What a record's holder gets: the record, its salt, the proof and the root it was issued
    against. The salt is the holder's secret; show it only to a verifier of this record."""

    record: dict[str, Any]
    salt: bytes
    proof: MembershipProof
    root: DatasetRoot

    def to_json(self, dataset: str | None = None) -> str:
        """A self-contained document (``root`` in it is informational: verifiers use their own)."""
        return json.dumps({
            "type": CREDENTIAL_TYPE, "version": 1, "dataset": dataset,
            "root": self.root.root.hex(), "size": self.root.size, "record": self.record,
            "salt": self.salt.hex(), "proof": json.loads(self.proof.to_json()),
        }, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, document: str | bytes | Mapping[str, Any]) -> Membership:
        """Parse :meth:`to_json` output; :class:`~veil.errors.InputError` says what is wrong."""
        data = _load(document, CREDENTIAL_TYPE)
        missing = {"root", "size", "record", "salt", "proof"} - set(data)
        if missing:
            raise InputError(f"{CREDENTIAL_TYPE} lacks {sorted(missing)}")
        if not isinstance(data["record"], dict):
            raise InputError(f"{CREDENTIAL_TYPE} field 'record' must be a JSON object")
        return cls(data["record"], hex_bytes(data["salt"], "salt"),
                   MembershipProof.from_json(data["proof"]),
                   DatasetRoot(hex_bytes(data["root"], "root"), data["size"]))


def _load(document: str | bytes | Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    document = json_object(document, kind)
    if document.get("type") != kind:
        raise InputError(f"expected a {kind} document, got type {document.get('type')!r}")
    if document.get("version") != 1:
        raise InputError(f"{kind} has version {document.get('version')!r}; this veil reads 1")
    return document




def _json_value(value: Any) -> Any:
    """One cell as JSON: numbers, text, booleans and null as is; non-finite floats, dates and
    other types as fixed strings (a column has one type, so this stays unambiguous per column)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def row_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The record a dataset row commits to: ``{column: JSON value}`` (see :func:`_json_value`);
    :func:`veil.zk.canonical_record` turns it into sorted, whitespace-free JSON bytes."""
    return {str(k): _json_value(v) for k, v in row.items()}


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [row_record(row) for row in frame.iter_rows(named=True)]


def _seed(pseudonymizer: Pseudonymizer, ref: str, nonce: bytes) -> bytes:
    # hex keeps the label invariant under the pseudonymizer's strip/casefold normalisation
    label = f"{ref.encode().hex()}:{nonce.hex()}"
    tokens = "".join(pseudonymizer.token(_ENTITY, f"{label}:{j}") for j in range(_TOKENS))
    return hashlib.sha256(_SEED_TAG + tokens.encode()).digest()


def _salts(seed: bytes, size: int) -> list[bytes]:
    return [hmac.digest(seed, i.to_bytes(8, "big"), "sha256") for i in range(size)]


def _key_epoch(ws: Session) -> int:
    """The current pseudonym key epoch, from the ledger's ``keys.rotate_pseudonym`` entries."""
    rotated = ws.ledger.tail(1, action="keys.rotate_pseudonym")
    return int(rotated[0].parameters["epoch"]) if rotated else 1


def _columns(columns: Sequence[str] | str | None, schema: Mapping[str, str]) -> list[str]:
    if columns is None:
        return list(schema)
    if isinstance(columns, str):
        raise InputError("columns is a list of column names, not one string")
    chosen = list(columns)
    if not chosen:
        raise InputError("choose at least one column to commit")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"columns are listed twice: {chosen}")
    return chosen


def _tree(ws: Session, ref: str, nonce: bytes, records: list[dict[str, Any]]
          ) -> MembershipTree:
    seed = _seed(ws.pseudonymizer(), ref, nonce)
    return MembershipTree.build(records, salts=_salts(seed, len(records)))


def commit_dataset(
    ws: Session,
    name: str,
    *,
    version: int | None = None,
    columns: Sequence[str] | None = None,
) -> DatasetCommitment:
    """Commit one dataset version (newest by default) to a Merkle root over its rows, restricted
    to ``columns`` (default: all), and log it as ``zk.commit``. Publish ``.root``."""
    found = ws.version(name, version)
    chosen = _columns(columns, found.schema)
    frame = ws.read(name, found.version, columns=chosen)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    epoch = _key_epoch(ws)
    tree = _tree(ws, found.ref, nonce, _records(frame))
    root = tree.root
    seq = ws.record("zk.commit", found.ref, scheme=SCHEME,
                    root=root.root.hex(), size=root.size, columns=chosen, nonce=nonce.hex(),
                    key_epoch=epoch)
    return DatasetCommitment(found.dataset, found.version, tuple(chosen), root, seq)


def _find_commit(ws: Session, name: str, version: int | None, root: str | None) -> Entry:
    candidates = ([ws.version(name, version)] if version is not None
                  else list(reversed(ws.versions(name))))
    if root is not None:
        root = root.lower()
        hex_bytes(root, "root")
    for candidate in candidates:
        match = {"root": root} if root is not None else {}
        entry = ws.ledger.find("zk.commit", candidate.ref, **match)
        if entry is not None:
            return entry
        if root is None:
            break  # without a root, only the newest (or given) version's latest commitment
    where = candidates[0].ref if root is None or version is not None else name
    what = f"with root {root}" if root is not None else "yet"
    raise NotFoundError(f"{where} has no zk commitment {what}; make one with commit_dataset "
                        "(`veil zk commit`)")


def issue_membership(
    ws: Session,
    name: str,
    index: int,
    *,
    version: int | None = None,
    root: str | None = None,
) -> Membership:
    """The membership proof of row ``index`` (0-based) for a commitment made earlier: the one
    with ``root`` (hex), else the newest commitment of ``version`` (else the newest version).

    The rows are re-read and the salts re-derived; the rebuilt root must equal the committed
    one. Logged as ``zk.prove`` with the root and the row index (no row value).
    """
    entry = _find_commit(ws, name, version, root)
    params = entry.parameters
    if params.get("scheme") != SCHEME:
        raise InputError(f"{entry.resource}'s commitment uses scheme {params.get('scheme')!r}; "
                         f"this veil issues {SCHEME}")
    committed = DatasetRoot(bytes.fromhex(params["root"]), params["size"])
    if isinstance(index, bool) or not isinstance(index, int) or not (
            0 <= index < committed.size):
        raise InputError(f"row index must be in [0, {committed.size}), got {index!r}")
    epoch = _key_epoch(ws)
    if params.get("key_epoch", 1) != epoch:
        raise KeyringError(
            f"the salts of {entry.resource}'s commitment {params['root'][:16]}… came from "
            f"pseudonym key epoch {params.get('key_epoch', 1)}, and the workspace is at epoch "
            f"{epoch}; commit again and publish the new root")
    ref = entry.resource
    dataset, _, number = ref.rpartition("@")
    frame = ws.read(dataset, int(number), columns=params["columns"])
    records = _records(frame)
    tree = _tree(ws, ref, bytes.fromhex(params["nonce"]), records)
    if tree.root != committed:
        raise IntegrityError(f"{ref} no longer rebuilds to its committed root "
                             f"{params['root'][:16]}…; the data or the pseudonym key changed")
    ws.record("zk.prove", ref, scheme=SCHEME,
              root=params["root"], size=committed.size, index=index, commit_seq=entry.seq)
    return Membership(records[index], tree.salt(index), tree.prove(index), committed)


def verify_membership(root: DatasetRoot, membership: Membership | str | bytes | Mapping[str, Any]
                      ) -> Membership:
    """Check a holder's :class:`Membership` (or its JSON) against a root the verifier trusts
    (published by the dataset owner); no workspace needed. Returns the verified membership.

    The document's own ``root`` is ignored: only ``root`` decides. Raises
    :class:`~veil.zk.ProofError` when the record is not in that dataset (altered record, salt,
    index or path, another root or size) and :class:`~veil.errors.InputError` when malformed.
    """
    if not isinstance(root, DatasetRoot):
        raise InputError(f"root must be a DatasetRoot, got {type(root).__name__}")
    if not isinstance(membership, Membership):
        membership = Membership.from_json(membership)
    _membership.verify_membership(root, membership.record, membership.salt, membership.proof)
    return membership
