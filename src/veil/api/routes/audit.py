"""The ledger: verify, entries with paging, inclusion/consistency proofs, signed head.

Everything here is an ``audit`` right. Entries are returned as the ledger stores them: they
name principals, actions, resources and counts, never a personal value (subjects appear only
as keyed hashes). A proof is checked by a third party with the ledger's public key alone
(:func:`veil.ledger.verify_inclusion`, :func:`veil.ledger.verify_consistency`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.models import PROBLEMS, Answer, Body
from veil.api.routes._common import needs
from veil.errors import InputError, IntegrityError
from veil.ledger import SignedTreeHead

__all__ = ["Head", "InclusionProof", "LedgerEntry", "router"]

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEMS)

MAX_ENTRIES = 500  # the most entries one page returns
_AUDIT = needs(Operation.AUDIT)
Hex = Annotated[str, Field(pattern=r"^([0-9a-f]{2})+$", max_length=256)]  # whole bytes
MlDsaSignature = Annotated[str, Field(pattern=r"^([0-9a-f]{2})+$", max_length=2 * 3309)]


class Head(Answer):
    """A signed tree head: the ledger's first ``size`` entries have Merkle root ``root``
    (hex), signed at ``time`` with Ed25519 and, since the workspace's switch to hybrid heads,
    ML-DSA-65 too."""

    size: int
    root: str
    time: str
    signature: str
    ml_dsa_signature: str | None = Field(default=None, description="ML-DSA-65 (hex); null "
                                         "only on heads from before the switch")


class TrustedHead(Body):
    """A signed head kept earlier (``GET /audit/head``): verification fails if the ledger no
    longer extends it (a rollback or a rewrite)."""

    size: int = Field(ge=1)
    root: Hex
    time: str = Field(min_length=1, max_length=64)
    signature: Hex
    ml_dsa_signature: MlDsaSignature | None = None

    def signed(self) -> SignedTreeHead:
        return SignedTreeHead.from_dict(self.model_dump())


class Verify(Body):
    trusted: list[TrustedHead] = Field(default_factory=list, max_length=100)


class Verified(Answer):
    """The outcome of a full verification: ``ok`` with what was checked, or the problem
    found (verification stops at the first one)."""

    ok: bool
    problems: list[str]
    entries: int | None = Field(description="entries checked (null when a problem was found)")
    nodes: int | None = None
    heads: int | None = None
    bound: int | None = Field(default=None, description="catalog rows checked against the "
                              "entries that bind them")
    root: str | None = None
    head: Head | None = Field(description="the current signed head")


class LedgerEntry(Answer):
    seq: int
    time: str
    actor: str
    action: str
    resource: str
    purpose: str
    params: dict[str, Any]
    prev_hash: str
    entry_hash: str


class Entries(Answer):
    size: int = Field(description="entries in the ledger")
    offset: int
    order: Literal["newest", "oldest"]
    entries: list[LedgerEntry]


class InclusionProof(Answer):
    """Entry ``entry.seq`` is in the tree the signed ``head`` covers."""

    kind: Literal["inclusion"]
    head: Head
    entry: LedgerEntry
    path: list[str]


class ConsistencyProof(Answer):
    """The ledger of ``old_size`` entries (root ``old_root``) is a prefix of ``head``'s."""

    kind: Literal["consistency"]
    old_size: int
    old_root: str
    head: Head
    path: list[str]


class Published(Answer):
    head: Head | None = Field(description="null while the ledger is empty")
    public_key: str = Field(description="the ledger's public key (hex): Ed25519, then the "
                            "size of the last classical head and ML-DSA-65 (veil.ledger.signing)"
                            "; all a third party needs to check heads and proofs")


def _head(head: SignedTreeHead | None) -> Head | None:
    return None if head is None else Head.model_validate(head.to_dict())


@router.post("/verify", response_model=Verified, openapi_extra=_AUDIT)
async def verify(caller: Current, body: Verify | None = None) -> Verified:
    """Recompute every entry, chain link, tree node and signed root, and every catalog row
    bound to the ledger; a tampered ledger is ``ok: false`` naming the problem."""
    trusted = [head.signed() for head in body.trusted] if body else []

    def work(session: Session) -> Verified:
        try:
            result = session.verify(trusted)
        except IntegrityError as exc:
            return Verified(ok=False, problems=[exc.message], entries=None,
                            head=_head(session.ledger.head()))
        return Verified(ok=True, problems=[], entries=result.entries, nodes=result.nodes,
                        heads=result.heads, bound=result.bound, root=result.root.hex(),
                        head=_head(session.ledger.head()))

    return await caller.run(work)


@router.get("/entries", response_model=Entries, openapi_extra=_AUDIT)
async def entries(caller: Current, offset: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 50,
                  order: Literal["newest", "oldest"] = "newest") -> Entries:
    """A page of ``limit`` entries after skipping ``offset`` of them, newest or oldest first."""
    def page(session: Session) -> Entries:
        ledger = session.ledger
        size = ledger.size
        if order == "oldest":
            found = list(ledger.entries(offset + 1, offset + 1 + limit))
        else:
            stop = size - offset + 1
            found = list(ledger.entries(max(1, stop - limit), stop))[::-1] if stop > 1 else []
        return Entries(size=size, offset=offset, order=order,
                       entries=[LedgerEntry.model_validate(e.to_dict()) for e in found])

    return await caller.run(page)


@router.get("/entries/{seq}/proof", response_model=InclusionProof, openapi_extra=_AUDIT)
async def inclusion(seq: Annotated[int, Path(ge=1)], caller: Current) -> InclusionProof:
    """Proof that entry ``seq`` is in the ledger the current signed head covers."""
    return await caller.run(lambda s: InclusionProof.model_validate(
        s.ledger.prove_inclusion(seq).to_dict()))


@router.get("/consistency", response_model=ConsistencyProof, openapi_extra=_AUDIT)
async def consistency(caller: Current, old_size: Annotated[int, Query(ge=1)],
                      new_size: Annotated[int | None, Query(
                          ge=1, description="the current head's size (the only signed one); "
                          "default: it")] = None) -> ConsistencyProof:
    """Proof that the ledger of ``old_size`` entries (a head you kept) is a prefix of the
    current one: nothing was rewritten or removed since."""
    def prove(session: Session) -> ConsistencyProof:
        proof = session.ledger.prove_consistency(old_size)
        if new_size is not None and proof.head.size != new_size:
            raise InputError(f"new_size: only the current head is signed ({proof.head.size} "
                             "entries); leave new_size out")
        return ConsistencyProof.model_validate(proof.to_dict())

    return await caller.run(prove)


@router.get("/head", response_model=Published, openapi_extra=_AUDIT)
async def head(caller: Current) -> Published:
    """The current signed tree head and the key that signs it (keep the head: a later
    consistency proof against it shows the ledger only grew)."""
    def read(session: Session) -> Published:
        ledger = session.ledger
        return Published(head=_head(ledger.head()), public_key=ledger.key.to_bytes().hex())

    return await caller.run(read)
