"""Users, roles, policies and API tokens (every route a ``policy_admin`` right).

Secrets travel only in bodies: passwords in requests; a new user's TOTP secret and recovery
codes, and a new API token, in the one response that creates them (stored hashed or sealed,
they cannot be shown again). Every change is a ledger entry binding the changed row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from veil.access.identity import MAX_PASSWORD
from veil.access.policy import ANY, NO_CATEGORY, Operation, Rule
from veil.access.scope import ADMINISTRATION
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.models import PROBLEMS, Answer, Body, Name
from veil.api.routes._common import needs

__all__ = ["router"]

router = APIRouter(prefix="/access", tags=["access"], responses=PROBLEMS)

_ADMIN = needs(Operation.POLICY_ADMIN)
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD,
                                description="checked by the workspace's password rules")]
Scoped = Annotated[str, Field(min_length=1, max_length=64, description="a name, or '*'")]
Attributes = Annotated[dict[str, Any] | None, Field(
    default=None, max_length=32, description="attributes for conditions (JSON values)")]


class Principal(Answer):
    """A user or service account: its state, never a secret."""

    name: str
    kind: Literal["user", "service"]
    attributes: dict[str, Any]
    created: datetime
    disabled: datetime | None
    locked_until: datetime | None
    failures: int


class Enrollment(Answer):
    """A user's second factor, shown once: enter ``secret`` (or the ``uri`` as a QR code) in
    an authenticator app; keep the recovery codes offline."""

    name: str
    secret: str
    uri: str
    recovery_codes: list[str]


class Token(Answer):
    """A token as listed: its id and scope, never the token."""

    token_id: str
    principal: str
    kind: Literal["api", "session"]
    roles: list[str]
    datasets: list[str]
    created: datetime
    expires: datetime
    revoked: datetime | None


class Issued(Answer):
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown once")
    info: Token


class Assignment(Answer):
    user: str
    role: str
    dataset: str


class PolicyRule(Answer):
    subject: str
    dataset: str
    operation: str
    purpose: str
    category: str
    condition: str
    effect: Literal["allow", "deny"]


class Decision(Answer):
    allowed: bool
    rule: PolicyRule | None = Field(description="the allowing rule, or the deny that refused")
    message: str


class NewUser(Body):
    name: Name
    password: Password
    attributes: Attributes


class NewService(Body):
    name: Name
    attributes: Attributes


class NewPassword(Body):
    password: Password


class Lock(Body):
    hours: float = Field(default=24.0, gt=0, le=24 * 365, description="for how long")


class NewToken(Body):
    """An API token acting as ``principal``, limited to ``roles`` and ``datasets`` (the guard
    intersects them with the principal's own rights at every call)."""

    principal: Name
    roles: list[Name] = Field(min_length=1, max_length=32)
    datasets: list[Name] = Field(min_length=1, max_length=256)
    days: float = Field(default=90, gt=0, le=365)


class RoleOf(Body):
    user: Name
    role: Name
    dataset: Scoped = ANY


class Line(Body):
    """A policy line: ``subject`` (a user or a role) may (or, denied, may not) do
    ``operation`` on ``dataset`` for ``purpose`` on columns of ``category``, when
    ``condition`` (``''``, ``mfa``, ``hours=8-18``, or both joined by ``;``) holds."""

    subject: Name
    operation: Scoped
    dataset: Scoped = ANY
    purpose: Scoped = ANY
    category: Scoped = ANY
    condition: str = Field(default="", max_length=64)


class Removal(Line):
    effect: Literal["allow", "deny"] = "allow"


class Check(Body):
    """A request to decide as the policy would (no call is made)."""

    subject: Name
    operation: Name
    dataset: Scoped = ANY
    purpose: Name = ADMINISTRATION
    category: Name = NO_CATEGORY
    mfa: bool = Field(default=False, description="as if after a step-up")


def _principal(session: Session, name: str) -> Principal:
    """``name``'s state as the workspace lists it now."""
    return next(Principal.model_validate(p) for p in session.users.list() if p.name == name)


async def _changed(caller: Current, name: str, change: Callable[[Session], object]) -> Principal:
    """``change`` made, then ``name``'s state as it is now."""
    def work(session: Session) -> Principal:
        change(session)
        return _principal(session, name)

    return await caller.run(work)


# -- users -----------------------------------------------------------------------------------
@router.get("/users", response_model=list[Principal], openapi_extra=_ADMIN)
async def users(caller: Current) -> list[Principal]:
    return await caller.run(lambda s: [Principal.model_validate(p) for p in s.users.list()])


@router.post("/users", response_model=Enrollment, status_code=201, openapi_extra=_ADMIN)
async def add_user(body: NewUser, caller: Current) -> Enrollment:
    """A user with no rights yet (assign a role next); the second factor is shown once."""
    return await caller.run(lambda s: Enrollment.model_validate(
        s.users.add(body.name, body.password, attributes=body.attributes)))


@router.post("/service-accounts", response_model=Principal, status_code=201,
             openapi_extra=_ADMIN)
async def add_service(body: NewService, caller: Current) -> Principal:
    """A service account: it authenticates only with API tokens."""
    return await caller.run(lambda s: Principal.model_validate(
        s.users.add_service(body.name, attributes=body.attributes)))


@router.put("/users/{name}/password", status_code=204, openapi_extra=_ADMIN)
async def set_password(name: str, body: NewPassword, caller: Current) -> Response:
    await caller.run(lambda s: s.users.set_password(name, body.password))
    return Response(status_code=204)


@router.post("/users/{name}/mfa", response_model=Enrollment, openapi_extra=_ADMIN)
async def reset_mfa(name: str, caller: Current) -> Enrollment:
    """A new TOTP secret and recovery codes (a lost phone), shown once; the old ones stop
    working."""
    return await caller.run(lambda s: Enrollment.model_validate(s.users.reset_mfa(name)))


@router.post("/users/{name}/lock", response_model=Principal, openapi_extra=_ADMIN)
async def lock(name: str, body: Lock, caller: Current) -> Principal:
    """Refuse every login and token of the principal for ``hours``."""
    until = datetime.now(UTC) + timedelta(hours=body.hours)
    return await _changed(caller, name, lambda s: s.users.lock(name, until=until))


@router.post("/users/{name}/unlock", response_model=Principal, openapi_extra=_ADMIN)
async def unlock(name: str, caller: Current) -> Principal:
    return await _changed(caller, name, lambda s: s.users.unlock(name))


@router.post("/users/{name}/disable", response_model=Principal, openapi_extra=_ADMIN)
async def disable(name: str, caller: Current) -> Principal:
    """Refuse the principal for good (its tokens too); it stays in the audit trail."""
    return await _changed(caller, name, lambda s: s.users.disable(name))


# -- API tokens ------------------------------------------------------------------------------
@router.post("/tokens", response_model=Issued, status_code=201, openapi_extra=_ADMIN)
async def issue_token(body: NewToken, caller: Current) -> Issued:
    """An API token (returned once, stored hashed)."""
    def work(session: Session) -> Issued:
        token, info = session.users.issue_token(body.principal, roles=body.roles,
                                                datasets=body.datasets, days=body.days)
        return Issued(token=token, info=Token.model_validate(info))

    return await caller.run(work)


@router.get("/tokens", response_model=list[Token], openapi_extra=_ADMIN)
async def tokens(caller: Current, principal: Annotated[str | None, Query(
        min_length=1, max_length=64, description="only this principal's")] = None
                 ) -> list[Token]:
    """Tokens and kept logins: ids and scopes, never the tokens themselves."""
    return await caller.run(lambda s: [Token.model_validate(t)
                                       for t in s.users.tokens(principal)])


@router.delete("/tokens/{token_id}", response_model=Token, openapi_extra=_ADMIN)
async def revoke_token(token_id: str, caller: Current) -> Token:
    """Revoke a token at once: every later call with it gets 401."""
    return await caller.run(lambda s: Token.model_validate(s.users.revoke_token(token_id)))


# -- roles and policy lines ------------------------------------------------------------------
@router.get("/roles", response_model=list[Assignment], openapi_extra=_ADMIN)
async def assignments(caller: Current) -> list[Assignment]:
    return await caller.run(lambda s: [Assignment.model_validate(a)
                                       for a in s.policy.assignments()])


@router.post("/roles/assign", response_model=Assignment, status_code=201, openapi_extra=_ADMIN)
async def assign(body: RoleOf, caller: Current) -> Assignment:
    """Give a user a role on one dataset, or on every one (``*``)."""
    return await caller.run(lambda s: Assignment.model_validate(
        s.policy.assign(body.user, body.role, body.dataset)))


@router.post("/roles/unassign", response_model=Assignment, openapi_extra=_ADMIN)
async def unassign(body: RoleOf, caller: Current) -> Assignment:
    return await caller.run(lambda s: Assignment.model_validate(
        s.policy.unassign(body.user, body.role, body.dataset)))


@router.get("/policy", response_model=list[PolicyRule], openapi_extra=_ADMIN)
async def rules(caller: Current) -> list[PolicyRule]:
    """Every policy line, allow and deny."""
    return await caller.run(lambda s: [PolicyRule.model_validate(r) for r in s.policy.rules()])


@router.post("/policy/allow", response_model=PolicyRule, status_code=201, openapi_extra=_ADMIN)
async def allow(body: Line, caller: Current) -> PolicyRule:
    """Allow an operation (nothing is allowed otherwise)."""
    return await caller.run(lambda s: PolicyRule.model_validate(
        s.policy.allow(**body.model_dump())))


@router.post("/policy/deny", response_model=PolicyRule, status_code=201, openapi_extra=_ADMIN)
async def deny(body: Line, caller: Current) -> PolicyRule:
    """Deny an operation (a deny wins over every allow)."""
    return await caller.run(lambda s: PolicyRule.model_validate(
        s.policy.deny(**body.model_dump())))


@router.post("/policy/remove", response_model=PolicyRule, openapi_extra=_ADMIN)
async def remove(body: Removal, caller: Current) -> PolicyRule:
    """Remove a policy line (given as it is listed)."""
    return await caller.run(lambda s: PolicyRule.model_validate(
        s.policy.remove(Rule(**body.model_dump()))))


@router.post("/policy/check", response_model=Decision, openapi_extra=_ADMIN)
async def check(body: Check, caller: Current) -> Decision:
    """What the policy would decide for one request, and why."""
    return await caller.run(lambda s: Decision.model_validate(
        s.policy.check(**body.model_dump())))
