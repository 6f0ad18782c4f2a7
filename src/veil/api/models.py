"""Pydantic models shared by the routes: the base classes of bodies and answers, the error
responses every router documents, and the shapes more than one area returns.

Request bodies refuse unknown fields (a mistyped option is an error, never a silent default);
answers are read from veil's dataclasses by attribute, so a route returns what the library
returned, described in ``/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from veil.api.errors import Problem
from veil.workspace.catalog import DatasetVersion

__all__ = [
    "PROBLEMS",
    "Answer",
    "Body",
    "Cost",
    "Finding",
    "FormBody",
    "Name",
    "ScanReport",
    "Verdict",
    "Version",
]

Name = Annotated[str, Field(min_length=1, max_length=64)]  # checked further by veil

# what every router can answer besides success (see veil.api.errors for the mapping)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": why} for status, why in (
        (401, "no session, or an expired, revoked or unknown one"),
        (403, "refused by the guard (the ledger holds an access.denied entry)"),
        (404, "an unknown dataset, version, model, entry or request"),
        (409, "a privacy budget would be exceeded"),
        (422, "the request or its values are wrong (the message names the field, never "
              "the value)"),
        (423, "the account is locked"))}


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class FormBody(Body):
    """A multipart form body. A browser's form on a cookie session sends its CSRF token as a
    field (checked before the route runs, see ``veil.api.auth``); it is accepted here so that
    the form is not refused as carrying an unknown field."""

    csrf_token: str | None = Field(default=None, max_length=128,
                                   description="the CSRF token of a cookie session's form")


class Answer(BaseModel):
    """A response, read from veil's objects by attribute (extra attributes are left out)."""

    model_config = ConfigDict(from_attributes=True)


class Version(Answer):
    """A dataset version as the catalog describes it: never its rows."""

    dataset: str
    version: int
    rows: int
    columns: dict[str, str]
    subject_id: str
    fingerprint: str
    created: str
    destroyed: str | None
    provenance: dict[str, Any]

    @classmethod
    def of(cls, record: DatasetVersion) -> Version:
        return cls(dataset=record.dataset, version=record.version, rows=record.rows,
                   columns=record.schema, subject_id=record.subject_id,
                   fingerprint=record.fingerprint, created=record.created,
                   destroyed=record.destroyed, provenance=record.provenance)


class Cost(Answer):
    """Privacy loss: (epsilon, delta), or zCDP rho."""

    epsilon: float
    delta: float
    rho: float


class Finding(Answer):
    """What discovery concluded about one column, and the evidence (no raw values)."""

    column: str
    category: str
    entity: str | None
    confidence: float
    evidence: dict[str, Any]


class ScanReport(Answer):
    """Findings for every column and the re-identification risk of quasi-identifier sets."""

    rows: int | None
    scanned_rows: int
    sampled: bool
    seconds: float
    columns: list[Finding]
    qi_risk: list[dict[str, Any]]
    qi_truncated: bool = False
    warnings: list[str] = []
    safe_harbor: dict[str, Any] | None = Field(
        default=None, description="the HIPAA Safe Harbor identifier kinds present and absent")


class Verdict(Answer):
    """The outcome of checking a proof. A proof that does not verify is ``valid: false``
    with one fixed statement, whatever failed (a forger learns nothing from it)."""

    valid: bool
    statement: str
