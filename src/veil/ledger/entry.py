"""One audit entry and its canonical encoding.

An entry's hash is the RFC 6962 *leaf hash* of its canonical encoding, and the encoding includes
the previous entry's hash, so the same 32 bytes serve as the hash-chain link and as the Merkle
leaf: one hash per entry proves order (chain) and membership (tree).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from veil.ledger.merkle import HASH_SIZE, leaf_hash

GENESIS = bytes(HASH_SIZE)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def params_json(params: dict[str, Any]) -> str:
    """Parameters as canonical JSON (sorted keys, no spaces); refuses non-JSON values."""
    try:
        return json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        msg = f"ledger parameters must be plain JSON values: {exc}"
        raise TypeError(msg) from None


def encode(
    seq: int,
    time: str,
    actor: str,
    action: str,
    resource: str,
    purpose: str,
    params: str,
    prev_hash: bytes,
) -> bytes:
    """Canonical bytes of an entry: a JSON array, versioned, ``params`` kept as its JSON text."""
    return _dumps(["veil-entry-v1", seq, time, actor, action, resource, purpose, params,
                   prev_hash.hex()]).encode()


@dataclass(frozen=True)
class Entry:
    """A ledger row. ``params`` holds ids, hashes and settings, never raw personal values."""

    seq: int
    time: str
    actor: str
    action: str
    resource: str
    purpose: str
    params: str
    prev_hash: bytes
    entry_hash: bytes

    @property
    def parameters(self) -> dict[str, Any]:
        return json.loads(self.params)

    def computed_hash(self) -> bytes:
        return leaf_hash(
            encode(self.seq, self.time, self.actor, self.action, self.resource, self.purpose,
                   self.params, self.prev_hash)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
            "purpose": self.purpose,
            "params": self.parameters,
            "prev_hash": self.prev_hash.hex(),
            "entry_hash": self.entry_hash.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            seq=int(data["seq"]),
            time=str(data["time"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            resource=str(data["resource"]),
            purpose=str(data["purpose"]),
            params=params_json(data["params"]),
            prev_hash=bytes.fromhex(data["prev_hash"]),
            entry_hash=bytes.fromhex(data["entry_hash"]),
        )
