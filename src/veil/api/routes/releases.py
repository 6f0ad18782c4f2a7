"""Protected releases of a dataset: pseudonymized, HIPAA Safe Harbor, k-anonymous (with
l-diversity, t-closeness); and re-identifying the tokens of a reversible release.

Each release is stored as a new dataset (201, its version); its provenance says how it was
made (the Safe Harbor actions; the privacy models met, utility and risk before and after)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.anonymize.hierarchy import Hierarchy
from veil.api.auth import Current
from veil.api.jobs import Job
from veil.api.models import PROBLEMS, Answer, Body, Name, Version
from veil.api.routes._common import needs, queue
from veil.errors import InputError
from veil.workspace.datasets import check_columns

router = APIRouter(prefix="/releases", tags=["releases"], responses=PROBLEMS)

Columns = list[str]


class ReleaseOf(Body):
    """What a release is made from, and what it is called."""

    dataset: Name
    version: int | None = Field(default=None, description="default: the newest")
    output: Name | None = Field(default=None, description="the release's dataset name")


class Pseudonymize(ReleaseOf):
    columns: Columns = Field(min_length=1, description="columns replaced by keyed tokens")
    reversible: bool = Field(default=False, description="keep the token map (encrypted) so "
                             "tokens can be re-identified")


class SafeHarbor(ReleaseOf):
    reference_year: int | None = Field(default=None, ge=1900, le=2200,
                                       description="year ages are reckoned at (default: now)")


class Anonymize(ReleaseOf):
    quasi_identifiers: Columns | None = Field(
        default=None, description="default: the discovery classification's")
    sensitive: Columns | None = Field(default=None,
                                      description="default: the classification's")
    keep: Columns | None = Field(default=None, description="other columns to carry over")
    k: int | None = Field(default=None, ge=2)
    l: float | None = Field(default=None, ge=1)  # noqa: E741 - the model's name
    l_kind: Literal["distinct", "entropy"] = "distinct"
    t: float | None = Field(default=None, gt=0, le=1)
    t_distance: Literal["equal", "hierarchical"] = "equal"
    hierarchies: dict[str, list[list[str]]] = Field(
        default_factory=dict, description="per column, ARX hierarchy rows: value, level 1, "
        "level 2, ... (missing ones are built from the data)")
    suppression_limit: float = Field(default=0.0, ge=0, le=1)
    algorithm: Literal["optimal", "mondrian"] = "optimal"
    metric: Literal["loss", "entropy", "height", "discernibility"] = "loss"


class Synthesize(ReleaseOf):
    """A DP synthetic copy (AIM or MST) spending (epsilon, delta) from the dataset's budget;
    numeric columns need declared bounds, categories declared public keys."""

    epsilon: float = Field(gt=0)
    delta: float = Field(default=1e-9, gt=0, lt=1)
    method: Literal["aim", "mst"] = "aim"
    rows: int | None = Field(default=None, ge=1, le=10_000_000,
                             description="rows to sample (default: the model's noisy count "
                             "of people)")
    columns: Columns | None = Field(default=None, description="default: all the purpose "
                                    "allows but the subject id")
    bins: int = Field(default=16, ge=2, le=1000)
    holdout: float = Field(default=0.2, ge=0, lt=1)


class EvaluateSynthetic(Body):
    """Score a synthetic release against the real rows (not DP: for the data owner)."""

    release: Name
    version: int | None = None
    target: Name | None = Field(default=None, description="column for train-on-synthetic, "
                                "test-on-real")


class Reidentify(Body):
    """Tokens to look up (in the body: they stand for people). Needs a stated purpose
    (``X-Veil-Purpose``) that allows it, not ``administration``."""

    dataset: Name
    tokens: list[str] = Field(min_length=1, max_length=1000)
    version: int | None = None


class Reidentified(Answer):
    values: dict[str, str] = Field(description="token -> original value")


@router.post("/pseudonymize", response_model=Version, status_code=201,
             openapi_extra=needs(Operation.RELEASE))
async def pseudonymize(body: Pseudonymize, caller: Current) -> Version:
    return await caller.run(lambda s: Version.of(s.pseudonymize(
        body.dataset, body.columns, version=body.version, reversible=body.reversible,
        output=body.output)))


@router.post("/safe-harbor", response_model=Version, status_code=201,
             openapi_extra=needs(Operation.RELEASE))
async def safe_harbor(body: SafeHarbor, caller: Current) -> Version:
    """Drop or coarsen the 18 identifiers of 45 CFR 164.514(b)(2) (``provenance.actions``)."""
    return await caller.run(lambda s: Version.of(s.safe_harbor(
        body.dataset, version=body.version, output=body.output,
        reference_year=body.reference_year)))


@router.post("/anonymize", response_model=Version, status_code=201,
             openapi_extra=needs(Operation.RELEASE))
async def anonymize(body: Anonymize, caller: Current) -> Version:
    """A release meeting k-anonymity, l-diversity and/or t-closeness, never a weaker one
    (422 when the models cannot be met within the suppression limit)."""
    settings = body.model_dump(exclude={"dataset", "version", "output", "quasi_identifiers",
                                        "sensitive", "keep", "hierarchies"})

    def release(s: Session) -> Version:
        hierarchies = {c: Hierarchy.from_rows(c, rows) for c, rows in body.hierarchies.items()}
        _, made = s.anonymize(body.dataset, body.quasi_identifiers, body.sensitive,
                              version=body.version, keep=body.keep, output=body.output,
                              hierarchies=hierarchies, **settings)
        return Version.of(made)

    return await caller.run(release)


@router.post("/reidentify", response_model=Reidentified,
             openapi_extra=needs(Operation.REIDENTIFY))
async def reidentify(body: Reidentify, caller: Current) -> Reidentified:
    """The original values behind tokens of a reversible release (logged: how many tokens,
    never which values)."""
    return await caller.run(lambda s: Reidentified(
        values=s.reidentify(body.dataset, body.tokens, version=body.version)))


@router.post("/synthesize", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.DP_SYNTH))
async def synthesize(body: Synthesize, caller: Current) -> Job:
    """Fit and store a DP synthetic release in the background; poll ``GET /jobs/{id}``,
    whose result is the release's version, guarantee and fit time."""
    def check(s: Session) -> None:
        record = s.version(body.dataset, body.version)
        if body.columns is not None:
            check_columns(record, body.columns)
        s.authorize(Operation.DP_SYNTH, dataset=body.dataset, columns=body.columns or ())

    def make(s: Session) -> dict[str, Any]:
        made = s.synthesize(body.dataset, **body.model_dump(exclude={"dataset"}))
        return {"release": Version.of(made.record).model_dump(), "privacy": made.privacy,
                "fit_seconds": made.fit_seconds}

    return await queue(caller, "dataset.synthesize", make, check)


@router.post("/evaluate-synthetic", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.DP_SYNTH))
async def evaluate_synthetic(body: EvaluateSynthetic, caller: Current) -> Job:
    """Evaluate a synthetic release in the background; the job's result is the evaluation
    (marginals, correlations, TSTR, closeness, copies, membership attack)."""
    def check(s: Session) -> None:
        record = s.version(body.release, body.version)
        if record.provenance.get("source") != "synthesize":
            raise InputError(f"{record.ref} is not a synthetic release")
        source = record.provenance["from"].rpartition("@")[0]
        s.authorize(Operation.DP_SYNTH, dataset=source, columns=record.provenance["columns"])

    return await queue(caller, "synth.evaluate", lambda s: s.evaluate_synthetic(
        body.release, version=body.version, target=body.target).to_dict(), check)
