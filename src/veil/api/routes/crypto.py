"""HE scoring, Paillier aggregation, MPC joint statistics and ZK verification: what ``veil he
score``, ``veil he paillier encrypt``/``add``, ``veil mpc joint --party`` and ``veil zk
verify-*`` do, with JSON in and out.

Every computation on the workspace's data is an ``he_mpc`` right, asked before any work and
recorded in the ledger (never a value from a row). Verifying a zero-knowledge proof touches no
data and needs no right: a proof that does not verify answers ``valid: false`` with one fixed
statement, whatever failed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.models import PROBLEMS, Answer, Body, Name, Verdict
from veil.api.routes._common import needs
from veil.api.routes.federated import server_workspace
from veil.api.routes.models import MAX_ROWS, Row, table
from veil.errors import InputError
from veil.mpc.sites import COLUMN_STATISTICS, joint_over_workspaces
from veil.zk import ProofError, RangeProof, SchnorrProof, login_context, schnorr, verify_at_least
from veil.zk.dataset import Membership, verify_membership
from veil.zk.group import POINT_SIZE
from veil.zk.membership import DatasetRoot
from veil.zk.rangeproof import AGE_CONTEXT, AGE_TYPE, DEFAULT_AGE_BITS
from veil.zk.session import NONCE_SIZE

router = APIRouter(tags=["crypto"], responses=PROBLEMS)

MAX_PARTS = 100  # encrypted contributions added in one Paillier request
MAX_PARTIES = 7  # MPC parties (each a process on this machine)
Point = Annotated[str, Field(pattern=f"^[0-9a-fA-F]{{{2 * POINT_SIZE}}}$",
                             description="a compressed curve point (hex)")]
Digest = Annotated[str, Field(pattern="^[0-9a-fA-F]{64}$", description="32 bytes (hex)")]
Nonce = Annotated[str, Field(pattern=f"^[0-9a-fA-F]{{{2 * NONCE_SIZE}}}$",
                             description=f"{NONCE_SIZE} bytes (hex)")]


# -- HE ---------------------------------------------------------------------------------------
class HEScore(Body):
    """Rows to score under CKKS: keys made, rows encrypted, the model evaluated on the
    ciphertexts (logged as ``he.evaluate``) and the scores decrypted in this process. The
    server sees the rows here; it measures the precision of encrypted scoring against the
    plaintext model (a client that keeps its rows encrypts them itself: ``veil he``)."""

    model: Name
    rows: list[Row] = Field(min_length=1, max_length=MAX_ROWS)
    version: int | None = Field(default=None, description="default: the newest")


class HEScores(Answer):
    model: str = Field(description="name@version")
    rows: int
    classes: list[str]
    probabilities: list[list[float]] = Field(description="decrypted, per row and class")
    max_abs_diff_vs_plaintext: float


@router.post("/he/score", response_model=HEScores,
             openapi_extra=needs(Operation.MODEL_USE, Operation.HE_MPC))
async def he_score(body: HEScore, caller: Current) -> HEScores:
    """Class probabilities computed on ciphertexts, and their largest difference from the
    plaintext model's (``veil he score``)."""
    def score(s: Session) -> HEScores:
        from veil.he import Client, plain_model, service  # TenSEAL loads when first used

        s.authorize(Operation.HE_MPC)  # before the model is loaded and anything computed
        loaded = s.model(body.model, body.version)
        frame = table(body.rows)
        client = Client(depth=plain_model(loaded).depth)
        batch = client.encrypt(service.features(frame, encoding=loaded.encoding))
        probabilities = client.probabilities(
            service.evaluate_model(s, loaded, client.public_context(), batch))
        diff = float(np.abs(probabilities - loaded.predict_proba(frame)).max())
        return HEScores(model=f"{loaded.name}@{loaded.version}", rows=len(probabilities),
                        classes=[str(c) for c in loaded.encoding.classes],
                        probabilities=probabilities.tolist(), max_abs_diff_vs_plaintext=diff)

    return await caller.run(score)


# -- Paillier ---------------------------------------------------------------------------------
class PaillierKey(Body):
    """The key holder's public key (``paillier-public.json``)."""

    n: str = Field(pattern=r"^[0-9]{1,2500}$",
                   description="the modulus in decimal (at most about 8300 bits)")
    key_id: str | None = Field(default=None, max_length=64)


class Encrypted(Body):
    """Paillier ciphertexts of a vector, or of a sum of ``count`` of them (as ``veil he
    paillier encrypt`` and ``add`` write them)."""

    key_id: str = Field(max_length=64)
    count: int
    exponent: int
    ciphertexts: list[Annotated[str, Field(max_length=5000)]] = Field(min_length=1,
                                                                          max_length=16)


class PaillierSum(Body):
    """This workspace's (sum, count) of ``column``, encrypted under the key holder's public
    key, added to the other parties' encrypted contributions (``parts``). Only the key holder
    can decrypt the total; it must not also be the one who adds the parties' files."""

    public_key: PaillierKey
    dataset: Name
    column: Name
    version: int | None = Field(default=None, description="default: the newest")
    parts: list[Encrypted] = Field(default_factory=list, max_length=MAX_PARTS)


class PaillierTotal(Answer):
    key_id: str
    parties: int = Field(description="contributions summed, this workspace's included")
    total: Encrypted = Field(description="the encrypted (sum, count) for the key holder")


@router.post("/paillier/sum", response_model=PaillierTotal,
             openapi_extra=needs(Operation.HE_MPC, Operation.RAW_READ))
async def paillier_sum(body: PaillierSum, caller: Current) -> PaillierTotal:
    """Encrypt this workspace's contribution (an audited read of the column, a raw one or a
    pseudonymized one of a release; logged as ``he.paillier.encrypt``) and add the parts."""
    def total(s: Session) -> PaillierTotal:
        from veil.he import paillier

        s.authorize(Operation.HE_MPC, dataset=body.dataset)
        key = paillier.public_key_from_json(body.public_key.model_dump_json())
        parts = [paillier.EncryptedVector.from_json(key, p.model_dump_json())
                 for p in body.parts]  # malformed parts are refused before anything is read
        record = s.version(body.dataset, body.version)
        column = s.read(body.dataset, record.version, [body.column])[body.column]
        made = paillier.encrypt_sum_count(key, column)
        s.record("he.paillier.encrypt", record.ref, column=body.column, key_id=made.key_id)
        summed = paillier.aggregate([made, *parts])
        return PaillierTotal(key_id=summed.key_id, parties=summed.count,
                             total=Encrypted.model_validate_json(summed.to_json()))

    return await caller.run(total)


# -- MPC --------------------------------------------------------------------------------------
class Party(Body):
    """One party: a column of a dataset in a veil workspace on the server, opened with its
    own key file (never the service's workspace or key)."""

    workspace: str = Field(min_length=1, max_length=4096, description="absolute path")
    key_file: str = Field(min_length=1, max_length=4096, description="absolute path")
    dataset: Name
    column: Name


class MPCStats(Body):
    """One statistic computed jointly over every party's column by MPyC (one process per
    party; semi-honest, honest majority); only the result is revealed."""

    statistic: Literal[COLUMN_STATISTICS]  # type: ignore[valid-type]
    bounds: tuple[float, float] = Field(description="public bounds of every value")
    parties: list[Party] = Field(min_length=2, max_length=MAX_PARTIES)
    max_rows: int | None = Field(default=None, ge=1, le=10_000_000, description=(
        "public bound on the total rows (default: the total rounded up to a power of two)"))
    resolution_bits: int = Field(default=24, ge=1, le=128)
    timeout: float | None = Field(default=None, gt=0, le=600,
                                  description="seconds each party waits for its peers")
    tls: bool = Field(default=False, description="connect the parties by mutual TLS")


class Precision(Answer):
    bit_length: int
    frac_bits: int


class Recorded(Answer):
    workspace: str
    resource: str
    seq: int


class MPCResult(Answer):
    statistic: str
    value: Any
    parties: int
    precision: Precision
    seconds: float
    compute_seconds: float
    bounds: tuple[float, float]
    model: str
    tls: bool
    recorded: list[Recorded] = Field(description="the mpc.joint entry in each party's ledger")


@router.post("/mpc/stats", response_model=MPCResult, openapi_extra=needs(Operation.HE_MPC))
async def mpc_stats(body: MPCStats, caller: Current) -> MPCResult:
    """Each party's column is read from its own workspace (audited there, for the caller's
    purpose) and the result recorded in every party's ledger and in this workspace's."""
    def joint(s: Session) -> MPCResult:
        s.authorize(Operation.HE_MPC)
        for i, party in enumerate(body.parties):
            server_workspace(f"party {i}", party.workspace, party.key_file, s.path)
        done = joint_over_workspaces(
            body.statistic, [(p.workspace, p.key_file, p.dataset, p.column)
                             for p in body.parties],
            bounds=body.bounds, timeout=body.timeout, max_rows=body.max_rows,
            resolution_bits=body.resolution_bits, purpose=s.purpose, tls=body.tls)
        recorded = [Recorded(workspace=ws, resource=resource, seq=seq)
                    for ws, resource, seq in done.records]
        result = MPCResult(
            statistic=done.statistic, value=done.value, parties=done.parties,
            precision=Precision.model_validate(done.precision), seconds=done.seconds,
            compute_seconds=done.compute_seconds, bounds=body.bounds,
            model="MPyC semi-honest, honest majority", tls=done.tls, recorded=recorded)
        s.record("mpc.joint", f"mpc.{done.statistic}",
                 **result.model_dump(exclude={"seconds", "compute_seconds"}))
        return result

    return await caller.run(joint)


# -- ZK ---------------------------------------------------------------------------------------
class LoginProof(Body):
    """A Schnorr login proof (``veil zk prove-login``) for this audience and nonce. A single
    check: a verifier must issue each nonce to one attempt only (no replay cache here)."""

    kind: Literal["login"]
    proof: dict[str, Any]
    public: Point = Field(description="the registered public key")
    audience: str = Field(min_length=1, max_length=1024)
    nonce: Nonce = Field(description="the nonce the verifier issued")


class AgeDocument(Body):
    """An age proof file (``veil zk prove-age``): a commitment and its range proof."""

    type: str = Field(max_length=64)
    version: int
    commitment: Point
    proof: dict[str, Any]
    threshold: int | None = Field(default=None, description="the prover's claim (not used)")
    bits: int | None = Field(default=None, description="the prover's claim (not used)")
    context: str | None = Field(default=None, max_length=1024,
                                description="the prover's claim (not used)")


class AgeProof(Body):
    """The committed age is at least ``threshold``; the age itself stays hidden."""

    kind: Literal["age"]
    document: AgeDocument
    threshold: int = Field(default=18, ge=0)
    bits: int = Field(default=DEFAULT_AGE_BITS, ge=1, le=64,
                      description="the window: threshold <= age < threshold + 2**bits")
    context: str = Field(default=AGE_CONTEXT, min_length=1, max_length=1024,
                         description="the context the verifier gave the prover")
    commitment: Point | None = Field(default=None, description=(
        "require this commitment (e.g. one an issuer signed after checking the age)"))


class MemberProof(Body):
    """A membership credential (``veil zk prove-member``) against a published root and size;
    the root written inside the credential is not trusted."""

    kind: Literal["member"]
    credential: dict[str, Any]
    root: Digest
    size: int = Field(ge=0)


Proof = Annotated[LoginProof | AgeProof | MemberProof, Field(discriminator="kind")]


def _statement(proof: LoginProof | AgeProof | MemberProof) -> str:
    """What ``proof`` shows once verified; raises ProofError when it does not verify."""
    if isinstance(proof, LoginProof):
        context = login_context(proof.audience, bytes.fromhex(proof.nonce))
        schnorr.verify(bytes.fromhex(proof.public), SchnorrProof.from_json(proof.proof),
                       context=context)
        return f"the holder of {proof.public[:16]}… logged in to {proof.audience}"
    if isinstance(proof, AgeProof):
        document = proof.document
        if document.type != AGE_TYPE or document.version != 1:
            raise InputError(f"document: expected a {AGE_TYPE} document of version 1")
        if proof.commitment is not None and (
                proof.commitment.lower() != document.commitment.lower()):
            raise InputError("the proof is about another commitment than commitment")
        verify_at_least(bytes.fromhex(document.commitment), proof.threshold,
                        RangeProof.from_json(document.proof), bits=proof.bits,
                        context=proof.context.encode())
        return (f"the committed age is >= {proof.threshold} (commitment "
                f"{document.commitment[:16]}…)")
    found = verify_membership(DatasetRoot(bytes.fromhex(proof.root), proof.size),
                              Membership.from_json(proof.credential))
    return f"record {found.proof.index} of {proof.size} is in dataset {proof.root[:16]}…"


@router.post("/zk/verify", response_model=Verdict, openapi_extra=needs())
async def zk_verify(proof: Proof, caller: Current) -> Verdict:
    """Check a login, age or membership proof (no workspace data is touched); malformed input
    is a 422 naming the problem."""
    def verify(_: Session) -> Verdict:
        try:
            return Verdict(valid=True, statement=_statement(proof))
        except ProofError as failed:
            return Verdict(valid=False, statement=failed.message)

    return await caller.run(verify)
