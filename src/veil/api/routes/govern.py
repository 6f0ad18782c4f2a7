"""Purposes, consent, retention, subject requests, lineage.

A data subject's id is personal, so it only ever travels in a request body (``subject``),
never in a path or a query string, which end up in access logs; the catalog and the ledger hold
it as a keyed hash. Retention enforcement and erasure are long work: they are queued as jobs
(202) after the guard allowed them (an erasure's job result is its receipt)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Response, UploadFile
from pydantic import AwareDatetime, Field, StrictInt, StringConstraints

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.jobs import Job
from veil.api.models import PROBLEMS, Answer, Body, Name
from veil.api.routes._common import needs, queue, received
from veil.api.routes.audit import InclusionProof
from veil.govern.purposes import LawfulBasis, SpecialCondition
from veil.govern.purposes import Purpose as Registered
from veil.govern.retention import Retention as Policy
from veil.web import views

__all__ = ["router"]

router = APIRouter(tags=["govern"], responses=PROBLEMS)

CONSENT_FILES = (".csv", ".parquet", ".pq")
MAX_EVENTS = 10_000  # consent events in one JSON request (larger batches: /consent/import)
Subject = Annotated[str, StringConstraints(min_length=1, max_length=256)] | StrictInt
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RequestId = Annotated[str, Path(pattern=r"^dsar-[0-9a-f]{32}$",
                                description="the id a request returned")]


# -- purposes ---------------------------------------------------------------------------------
class NewPurpose(Body):
    """A reason to use personal data (GDPR Art. 6 basis, Art. 9(2) condition for sensitive
    columns); it never changes once registered, it can only end."""

    name: Name
    description: str = Field(min_length=1, max_length=2000)
    basis: LawfulBasis
    datasets: dict[Name, list[Text]] = Field(
        min_length=1, max_length=256, description="dataset -> columns, "
        "'category:<discovery category>' tokens, or ['*']")
    operations: list[Operation] = Field(min_length=1, max_length=len(Operation))
    consent_required: bool = False
    retention_days: int | None = Field(default=None, ge=0)
    special: SpecialCondition | None = None


class Purpose(Answer):
    name: str
    description: str
    basis: str
    special: str | None
    datasets: dict[str, list[str]]
    operations: list[str]
    consent_required: bool
    retention_days: int | None
    ends: str | None

    @classmethod
    def of(cls, purpose: Registered) -> Purpose:
        return cls.model_validate(purpose.to_dict())


class End(Body):
    on: str = Field(min_length=10, max_length=40, description="ISO 8601 date, or time with "
                    "a UTC offset; past or future, never later than an end already set")


@router.get("/purposes", response_model=list[Purpose], openapi_extra=needs())
async def purposes(caller: Current) -> list[Purpose]:
    """Every registered purpose (what each allows, and when it ends)."""
    return await caller.run(lambda s: [Purpose.of(p) for p in s.purposes.list()])


@router.post("/purposes", response_model=Purpose, status_code=201,
             openapi_extra=needs(Operation.GOVERN))
async def add_purpose(body: NewPurpose, caller: Current) -> Purpose:
    made = Registered(body.name, body.description, body.basis, body.datasets,
                      frozenset(body.operations), body.consent_required, body.retention_days,
                      body.special)
    return await caller.run(lambda s: Purpose.of(s.purposes.add(made)))


@router.post("/purposes/{name}/end", response_model=Purpose,
             openapi_extra=needs(Operation.GOVERN))
async def end_purpose(name: str, body: End, caller: Current) -> Purpose:
    """End a purpose: nothing may be done for it afterwards."""
    return await caller.run(lambda s: Purpose.of(s.purposes.end(name, on=body.on)))


# -- consent ----------------------------------------------------------------------------------
class ConsentEvent(Body):
    subject: Subject
    purpose: Name
    state: Literal["given", "withdrawn"]
    at: AwareDatetime = Field(description="when the subject said so (it takes effect then)")
    source: Text = Field(description="where it came from: form, call, portal")
    notice: Text = Field(description="the version of the privacy notice shown")


class ConsentEvents(Body):
    events: list[ConsentEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class Statement(Body):
    subject: Subject
    purpose: Name
    source: Text
    notice: Text
    at: AwareDatetime | None = Field(default=None, description="default: now")


class HistoryOf(Body):
    subject: Subject
    purpose: Name | None = None


class ConsentReport(Answer):
    """What a recording did: events and distinct subjects, events per purpose, and per
    purpose the subjects its datasets do not hold (kept: consent may come before data)."""

    events: int
    subjects: int
    purposes: dict[str, int]
    unknown: dict[str, int]


class Recorded(Answer):
    subject: str
    purpose: str
    state: str
    at: str
    source: str
    notice: str
    recorded: str


@router.post("/consent/events", response_model=ConsentReport,
             openapi_extra=needs(Operation.CONSENT))
async def record_consent(body: ConsentEvents, caller: Current) -> ConsentReport:
    """Record a batch of consent events, all or none."""
    events = [e.model_dump() for e in body.events]
    return await caller.run(lambda s: ConsentReport.model_validate(s.consent.record(events)))


async def _state(body: Statement, caller: Current, given: bool) -> ConsentReport:
    def work(session: Session) -> ConsentReport:
        record = session.consent.give if given else session.consent.withdraw
        return ConsentReport.model_validate(record(body.subject, body.purpose,
                                                   source=body.source, notice=body.notice,
                                                   at=body.at))

    return await caller.run(work)


@router.post("/consent/give", response_model=ConsentReport,
             openapi_extra=needs(Operation.CONSENT))
async def give(body: Statement, caller: Current) -> ConsentReport:
    return await _state(body, caller, given=True)


@router.post("/consent/withdraw", response_model=ConsentReport,
             openapi_extra=needs(Operation.CONSENT))
async def withdraw(body: Statement, caller: Current) -> ConsentReport:
    """A withdrawal takes effect for every later operation (budgets are not refunded)."""
    return await _state(body, caller, given=False)


@router.post("/consent/history", response_model=list[Recorded],
             openapi_extra=needs(Operation.CONSENT))
async def history(body: HistoryOf, caller: Current) -> list[Recorded]:
    """A subject's consent events in the order they took effect (the look-up is logged)."""
    return await caller.run(lambda s: [Recorded.model_validate(e) for e in s.consent.history(
        body.subject, body.purpose)])


@router.post("/consent/import", response_model=ConsentReport,
             openapi_extra=needs(Operation.CONSENT))
async def import_consent(file: Annotated[UploadFile, File(
        description="CSV or Parquet: subject, purpose, state, at, source, notice")],
                         caller: Current) -> ConsentReport:
    """Record consent events in bulk from an uploaded file (up to the upload limit)."""
    async with received(file, CONSENT_FILES) as path:
        return await caller.run(lambda s: ConsentReport.model_validate(
            s.consent.import_file(path)))


# -- retention --------------------------------------------------------------------------------
class Retention(Body):
    """How long a dataset is kept: versions older than ``keep_versions_days`` are
    crypto-shredded (never the newest), rows whose ``date_column`` is older than
    ``keep_rows_days`` leave a new version, everything goes when ``until_purpose`` ends."""

    keep_versions_days: int | None = Field(default=None, ge=0)
    date_column: Text | None = None
    keep_rows_days: int | None = Field(default=None, ge=0)
    until_purpose: Name | None = None


class Kept(Answer):
    dataset: str
    policy: Retention


class Enforce(Body):
    dry_run: bool = Field(default=False, description="only report what would go (200)")


class DatasetRetention(Answer):
    dataset: str
    expired_rows: int
    source: int | None
    new_version: int | None
    shredded: list[int]
    reasons: list[str]


class RetentionReport(Answer):
    now: str
    dry_run: bool
    datasets: list[DatasetRetention]


def _kept(dataset: str, policy: Policy) -> Kept:
    return Kept(dataset=dataset, policy=Retention.model_validate(policy.to_dict()))


@router.get("/retention", response_model=list[Kept], openapi_extra=needs())
async def retention(caller: Current) -> list[Kept]:
    """Every dataset's retention policy (datasets without one are left out)."""
    return await caller.run(lambda s: [
        _kept(name, policy) for name in s.dataset_names()
        if (policy := s.retention.get(name)) is not None])


@router.put("/retention/{dataset}", response_model=Kept, openapi_extra=needs(Operation.GOVERN))
async def set_retention(dataset: str, body: Retention, caller: Current) -> Kept:
    policy = Policy(**body.model_dump())

    def work(session: Session) -> Kept:
        session.retention.set(dataset, policy)
        return _kept(dataset, policy)

    return await caller.run(work)


@router.delete("/retention/{dataset}", status_code=204, openapi_extra=needs(Operation.GOVERN))
async def clear_retention(dataset: str, caller: Current) -> Response:
    """Drop the dataset's policy (its data is then kept until removed by hand)."""
    await caller.run(lambda s: s.retention.set(dataset, None))
    return Response(status_code=204)


@router.post("/retention/enforce", response_model=Job | RetentionReport, status_code=202,
             responses={200: {"model": RetentionReport, "description": "a dry run's report"}},
             openapi_extra=needs(Operation.GOVERN))
async def enforce(body: Enforce, response: Response, caller: Current) -> Job | RetentionReport:
    """Apply every policy as a job (idempotent), or with ``dry_run`` report now what would go:
    expired rows, versions to shred, and why."""
    if body.dry_run:
        response.status_code = 200
        return await caller.run(lambda s: RetentionReport.model_validate(
            s.retention.enforce(dry_run=True).to_dict()))
    return await queue(caller, "retention.enforce",
                       lambda s: s.retention.enforce().to_dict(),
                       lambda s: s.authorize(Operation.GOVERN))


# -- data subject requests ---------------------------------------------------------------------
class SubjectOf(Body):
    subject: Subject


class Rectify(Body):
    subject: Subject
    dataset: Name
    changes: dict[Text, str | int | float | bool | None] = Field(
        min_length=1, max_length=256, description="column -> corrected value of its type")


class Source(Answer):
    dataset: str
    version: int
    origin: str | None


class Artifact(Answer):
    """Something computed from dataset versions, with its DP guarantee (null: none)."""

    kind: str
    name: str
    id: str
    privacy: dict[str, float] | None
    sources: list[Source]


class Export(Answer):
    """Everything held about the subject (GDPR Art. 15): their rows per dataset and version,
    consent events, the purposes covering their data, the artifacts derived from it."""

    request_id: str
    subject: str
    datasets: dict[str, dict[str, list[dict[str, Any]]]]
    consents: list[Recorded]
    purposes: list[Purpose]
    artifacts: list[Artifact]


class Rectification(Answer):
    request_id: str
    version: str = Field(description="the corrected version's ref (dataset@version)")
    rows: int
    columns: list[str]


class Flag(Answer):
    """What an erasure implies for an artifact: ``dp-bounded`` (kept, the person's influence
    bounded by ``privacy``), ``stale`` (rebuild it) or ``erased`` (a release they left)."""

    request_id: str
    kind: str
    name: str
    id: str
    effect: Literal["dp-bounded", "stale", "erased"]
    privacy: dict[str, float] | None


class RequestStatus(Answer):
    request_id: str
    kind: Literal["access", "erase", "rectify"]
    subject: str = Field(description="the subject's keyed hash")
    state: Literal["running", "done"]
    created: str
    finished: str | None
    summary: dict[str, Any]
    flags: list[Flag]


class DatasetErasure(Answer):
    dataset: str
    rows: int
    made: list[str]
    shredded: list[str]


class Receipt(Answer):
    """What an erasure did, with the inclusion proof of its ledger entry in the current signed
    head (check it with the key from ``GET /audit/head``)."""

    request_id: str
    subject: str = Field(description="the subject's keyed hash")
    held: bool
    datasets: list[DatasetErasure]
    flags: list[Flag]
    consent_snapshots: int
    proof: InclusionProof


@router.post("/dsar/access", response_model=Export, openapi_extra=needs(Operation.DSAR))
async def access(body: SubjectOf, caller: Current) -> Export:
    """Export everything held about a subject (GDPR Art. 15, CCPA right to know)."""
    return await caller.run(lambda s: Export.model_validate(
        s.requests.access(body.subject).to_dict()))


@router.post("/dsar/erase", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.DSAR))
async def erase(body: SubjectOf, caller: Current) -> Job:
    """Erase a subject everywhere (GDPR Art. 17, CCPA delete) as a job whose result is the
    receipt: new versions without them, the old ones crypto-shredded, derived artifacts
    flagged."""
    return await queue(caller, "dsar.erase",
                       lambda s: s.requests.erase(body.subject).to_dict(),
                       lambda s: s.authorize(Operation.DSAR))


@router.post("/dsar/rectify", response_model=Rectification,
             openapi_extra=needs(Operation.DSAR))
async def rectify(body: Rectify, caller: Current) -> Rectification:
    """Correct a subject's rows as a new version of the dataset (GDPR Art. 16)."""
    return await caller.run(lambda s: Rectification.model_validate(
        s.requests.rectify(body.subject, body.dataset, body.changes)))


@router.get("/dsar/{request_id}", response_model=RequestStatus,
            openapi_extra=needs(Operation.DSAR))
async def status(request_id: RequestId, caller: Current) -> RequestStatus:
    """A request's state and summary (ids, versions, counts), and what an erasure flagged."""
    return await caller.run(lambda s: RequestStatus.model_validate(
        s.requests.status(request_id)))


@router.get("/dsar/{request_id}/receipt", response_model=Receipt,
            openapi_extra=needs(Operation.DSAR, Operation.AUDIT))
async def receipt(request_id: RequestId, caller: Current) -> Receipt:
    """A finished erasure's receipt, proven against the current signed head."""
    return await caller.run(lambda s: Receipt.model_validate(views.receipt(s, request_id)))


# -- lineage ----------------------------------------------------------------------------------
class Lineage(Answer):
    """The artifacts called ``name`` with their sources and, for a dataset, every artifact
    derived from any of its versions."""

    name: str
    artifacts: list[Artifact]
    derived: list[Artifact]


@router.get("/lineage/{name}", response_model=Lineage, openapi_extra=needs(Operation.AUDIT))
async def lineage(name: str, caller: Current) -> Lineage:
    """Where a dataset, release or model came from, and what was derived from it."""
    return await caller.run(lambda s: Lineage.model_validate(s.lineage(name).to_dict()))
