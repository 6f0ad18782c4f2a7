"""The one enforcement point: every call that touches data, keys, budgets or policies is decided
here before anything is read or spent.

A decision, for a principal acting for a purpose on a dataset (or on the workspace):

1. **Purpose.** A user names a registered purpose for anything that touches personal data; the
   built-in ``administration`` purpose covers only work on the workspace itself (users,
   policies, keys, budgets, consent, requests, audit). The owner (the master-key holder) may
   name any purpose, and a registered one binds the owner as it binds everyone.
2. **Policy.** The Casbin policy (:mod:`veil.access.policy`) must allow the operation on the
   dataset, for the purpose, for every data category among the columns asked for, given the
   session's MFA state and the hour; an API token narrows this to its own roles and datasets.
   The owner holds every right.
3. **Minimization.** A registered purpose allows only its datasets, operations and columns
   (:mod:`veil.govern.purposes`): asking for others is refused, naming them.
4. **Step-up.** A raw read of direct identifiers needs a TOTP code in the last
   :data:`STEP_UP` (or the master key).
5. **Consent.** Where the purpose needs consent, the call sees only the subjects whose consent
   is in force now (:mod:`veil.govern.consent`).

A refusal raises :class:`~veil.errors.AccessDenied` naming what was missing, and is logged
(principal, operation, resource, purpose; never values) in a transaction of its own, so it
spends nothing and leaves nothing else behind.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from veil.access import identity
from veil.access import policy as access_policy
from veil.access.identity import Identities
from veil.access.policy import Operation, Policy, Request
from veil.access.scope import ADMINISTRATION, OWNER, Scope
from veil.discover.entities import Category
from veil.errors import AccessDenied, BoundStateError, NotFoundError
from veil.govern import consent, purposes
from veil.workspace import binding
from veil.workspace.catalog import DatasetVersion
from veil.workspace.store import Store, extra_schema

__all__ = ["NO_CATEGORY", "STEP_UP", "Guard", "Identity", "categories"]

STEP_UP = timedelta(minutes=10)  # how long a TOTP code vouches for a raw read of identifiers
NO_CATEGORY = "none"  # the category of an operation that names no columns
# what a user may do under the built-in purpose: work on the workspace, not on personal data
extra_schema(identity.SCHEMA + access_policy.SCHEMA)
binding.guard_table("api_tokens", "row")
_ADMINISTRATIVE = frozenset({Operation.INGEST, Operation.BUDGET_ADMIN, Operation.KEY_ADMIN,
                             Operation.POLICY_ADMIN, Operation.GOVERN, Operation.CONSENT,
                             Operation.DSAR, Operation.AUDIT})


@dataclass(frozen=True)
class Identity:
    """Who a session acts as: the owner, a user logged in with password and TOTP, or a
    principal holding an API token (which narrows it to the token's roles and datasets)."""

    name: str
    mfa_at: datetime | None = None
    roles: frozenset[str] | None = None  # a token's roles; None: all the principal's
    datasets: frozenset[str] | None = None  # a token's datasets; None: any

    @property
    def owner(self) -> bool:
        return self.name == OWNER

    def mfa_fresh(self, now: datetime) -> bool:
        return self.mfa_at is not None and now - self.mfa_at <= STEP_UP


def categories(record: DatasetVersion | None, columns: Iterable[str]) -> list[str]:
    """The distinct discovery categories of ``columns`` in ``record`` (``other`` for a column
    the classification does not name; ``none`` when no column is involved)."""
    columns = list(columns)
    if record is None or not columns:
        return [NO_CATEGORY]
    found = {c["column"]: c.get("category", Category.OTHER)
             for c in (record.classification or {}).get("columns", [])}
    return sorted({str(found.get(c, Category.OTHER)) for c in columns})


class Guard:
    """Decides calls for every session of one workspace (they share the policy)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.policy = Policy(store.conn, datasets=lambda name: name in store.dataset_names())
        self.identities = Identities(store.conn, wrap=store.ring.wrap_secret,
                                     unwrap=store.ring.unwrap_secret)
        self._policy_checked = False

    def check(self, who: Identity, purpose: str, operation: Operation, *,
              record: DatasetVersion | None = None, dataset: str | None = None,
              columns: Sequence[str] = (), identifying: bool = False,
              now: datetime | None = None) -> Scope:
        """A :class:`Scope` for the call, or :class:`AccessDenied` (logged). ``identifying``
        marks a call that reveals who people are (re-identification): it is decided as one on
        direct identifiers, step-up included."""
        now = now or datetime.now(UTC)
        target = record.dataset if record is not None else dataset
        kinds = [str(Category.DIRECT_IDENTIFIER)] if identifying else categories(record, columns)
        why = self._refusal(who, purpose, operation, record, target, columns, kinds, now)
        if why is not None:
            self._deny(who, purpose, operation, target, why)
        registered = self.purpose(purpose)
        rows = None
        if registered is not None and registered.consent_required:
            rows = consent.filter_for(self.store, purpose, at=now)
        return Scope(who.name, purpose, rows)

    def purpose(self, name: str) -> purposes.Purpose | None:
        """The registered purpose ``name`` (None for the built-in or an unregistered one)."""
        if name == ADMINISTRATION:
            return None
        try:
            return purposes.get(self.store, name)
        except NotFoundError:
            return None

    def known_principal(self, name: str) -> None:
        """Refuse a principal that does not exist (a budget for a typo is a budget nobody
        spends from)."""
        if name != OWNER:
            self.identities.get(name)

    def _refusal(self, who: Identity, purpose: str, operation: Operation,
                 record: DatasetVersion | None, target: str | None, columns: Sequence[str],
                 kinds: Sequence[str], now: datetime) -> str | None:
        """Why the call is refused, or None."""
        registered = self.purpose(purpose)
        if registered is None and not who.owner and (
                purpose != ADMINISTRATION or operation not in _ADMINISTRATIVE):
            known = [p.name for p in purposes.all(self.store)]
            what = ("the built-in one for administration" if purpose == ADMINISTRATION
                    else "not registered")
            return (f"{operation} needs a registered purpose that allows it; {purpose!r} is "
                    f"{what} (registered purposes: {known})")
        if not who.owner:
            if self.policy.sync() or not self._policy_checked:
                check_policy(self.policy, self.store.conn)  # a hand-edited policy is refused
                self._policy_checked = True
            if who.datasets is not None and target not in who.datasets:
                return (f"the token of {who.name!r} is limited to datasets "
                        f"{sorted(who.datasets)}; it does not reach {target!r}")
            for category in kinds:
                refused = self._decide(who, target, operation, purpose, category, now)
                if refused is not None:
                    return refused
            if operation in (Operation.RAW_READ, Operation.REIDENTIFY) and (
                    Category.DIRECT_IDENTIFIER in kinds) and not who.mfa_fresh(now):
                return (f"{operation} of direct identifiers needs a step-up: a TOTP code in the "
                        f"last {int(STEP_UP.total_seconds() // 60)} minutes")
        if registered is not None and record is not None:
            try:
                registered.check(record, operation, columns, now=now)
            except AccessDenied as exc:
                return exc.message
        return None

    def _decide(self, who: Identity, target: str | None, operation: Operation, purpose: str,
                category: str, now: datetime) -> str | None:
        """The policy's refusal for one category, or None. A token's session is decided by
        the token's roles alone (those the principal still holds)."""
        request = Request(who.name, target or "*", operation, purpose, category,
                          who.mfa_fresh(now), now.hour)
        if who.roles is None:
            decision = self.policy.decide(request)
            return None if decision.allowed else decision.message
        held = sorted(self.policy.roles(who.name, target or "*") & who.roles)
        decisions = [self.policy.decide(dataclasses.replace(request, subject=role))
                     for role in held]
        if any(d.allowed for d in decisions):
            return None
        if decisions:
            return decisions[0].message
        return (f"the token of {who.name!r} carries no role that {who.name!r} holds on "
                f"{target or 'the workspace'!r}")

    def _deny(self, who: Identity, purpose: str, operation: Operation, target: str | None,
              why: str) -> None:
        scope = Scope(who.name, purpose)
        with self.store.transaction() as stamp:
            self.store.log(stamp, scope, "access.denied", target or "workspace",
                           operation=str(operation), reason=why)
        raise AccessDenied(why)


# -- binding principals and the policy to the ledger (tokens are guarded table rows) --------
_PRINCIPAL, _POLICY = "principals:", "access:"


def bind_principal(identities: Identities, name: str) -> dict[str, object]:
    """What a login trusts about ``name`` (see ``Identities.credential_digest``)."""
    return binding.bind_digest("principal", _PRINCIPAL, name, identities.credential_digest(name))


def check_principal(identities: Identities, conn: sqlite3.Connection, name: str) -> None:
    binding.check_digest(conn, "principal", _PRINCIPAL, name, identities.credential_digest(name))


def bind_policy(policy: Policy) -> dict[str, object]:
    return binding.bind_digest("policy", _POLICY, "rules", policy.digest())


def check_policy(policy: Policy, conn: sqlite3.Connection) -> None:
    binding.check_digest(conn, "policy", _POLICY, "rules", policy.digest())


def _verify_principals(conn: sqlite3.Connection, bound: dict[str, str]) -> None:
    found = Identities(conn, wrap=_unused, unwrap=_unused)
    names = {p.name for p in found.principals()}
    if names != set(bound) or any(found.credential_digest(n) != bound[n] for n in names):
        raise BoundStateError(f"principals differ from their ledger registrations ("
                              f"{len(names - set(bound))} unregistered, "
                              f"{len(set(bound) - names)} missing); the catalog was edited")


def _verify_policy(conn: sqlite3.Connection, bound: dict[str, str]) -> None:
    (rows,) = conn.execute("SELECT COUNT(*) FROM access_rules").fetchone()
    if ("rules" in bound or rows) and Policy(conn).digest() != bound.get("rules"):
        raise BoundStateError("the access policy differs from its ledger registration; the "
                              "catalog was edited")


def _unused(label: str, data: bytes) -> bytes:
    raise AssertionError("verification reads no secret")


binding.register_verifier("principal", _PRINCIPAL, _verify_principals)
binding.register_verifier("policy", _POLICY, _verify_policy)
