"""Administering access: principals, their credentials and tokens (``session.users``), and the
policy (``session.policy``). Every call needs the ``policy_admin`` right; every change is a
ledger entry that binds the changed row (a credential digest, a token row, the policy's digest),
so a hand edit of these tables is caught by ``verify`` and refused at login or decision time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from veil.access.guard import bind_policy, bind_principal
from veil.access.identity import Enrollment, Principal, TokenInfo
from veil.access.policy import ANY, Assignment, Operation, Rule
from veil.access.scope import ADMINISTRATION
from veil.workspace import binding

if TYPE_CHECKING:
    from veil.access.session import Session

__all__ = ["Policies", "Users"]


class _Admin:
    """What the two namespaces share: the session they act for, and a guarded transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _change(self) -> tuple[Any, Any]:
        """(store, scope) for a ``policy_admin`` change, after the guard allowed it."""
        scope = self._session._allow(Operation.POLICY_ADMIN)
        return self._session._store, scope


class Users(_Admin):
    """Principals: users (password + TOTP) and service accounts (API tokens only)."""

    def add(self, name: str, password: str, *,
            attributes: Mapping[str, Any] | None = None) -> Enrollment:
        """A user with no rights yet; show the enrollment (TOTP secret, recovery codes) once."""
        store, scope = self._change()
        identities = self._session._guard.identities
        with store.transaction() as stamp:
            made = identities.add_user(name, password, attributes=attributes, now=_now())
            store.log(stamp, scope, "access.user.add", name, kind="user",
                      bind=bind_principal(identities, name))
        return made

    def add_service(self, name: str, *,
                    attributes: Mapping[str, Any] | None = None) -> Principal:
        """A service account: it authenticates only with API tokens."""
        store, scope = self._change()
        identities = self._session._guard.identities
        with store.transaction() as stamp:
            made = identities.add_service(name, attributes=attributes, now=_now())
            store.log(stamp, scope, "access.user.add", name, kind="service",
                      bind=bind_principal(identities, name))
        return made

    def list(self) -> list[Principal]:
        self._change()
        return self._session._guard.identities.principals()

    def set_password(self, name: str, password: str) -> None:
        self._credential(name, "access.user.password",
                         lambda ids: ids.set_password(name, password))

    def reset_mfa(self, name: str) -> Enrollment:
        """A new TOTP seed and recovery codes (a lost phone); show them once."""
        return self._credential(name, "access.user.mfa", lambda ids: ids.reset_mfa(name))

    def lock(self, name: str, *, until: datetime) -> None:
        self._credential(name, "access.user.lock",
                         lambda ids: ids.lock(name, until=until, now=_now()), until=str(until))

    def unlock(self, name: str) -> None:
        self._credential(name, "access.user.unlock", lambda ids: ids.unlock(name, now=_now()))

    def disable(self, name: str) -> None:
        """Refuse the principal for good (tokens included); the row stays for the audit."""
        self._credential(name, "access.user.disable",
                         lambda ids: ids.disable(name, now=_now()))

    def _credential(self, name: str, action: str, change: Any, **params: Any) -> Any:
        store, scope = self._change()
        identities = self._session._guard.identities
        with store.transaction() as stamp:
            result = change(identities)
            store.log(stamp, scope, action, name, **params,
                      bind=bind_principal(identities, name))
        return result

    def issue_token(self, principal: str, *, roles: Iterable[str], datasets: Iterable[str],
                    days: float = 90) -> tuple[str, TokenInfo]:
        """An API token for ``principal`` limited to ``roles`` and ``datasets`` (intersected
        with the principal's own rights at every call), expiring in ``days``; the token is
        returned once and stored hashed."""
        store, scope = self._change()
        identities = self._session._guard.identities
        now = _now()
        with store.transaction() as stamp:
            token, info = identities.issue_token(principal, roles=roles, datasets=datasets,
                                                 expires=now + timedelta(days=days), now=now)
            store.log(stamp, scope, "access.token.issue", principal, token_id=info.token_id,
                      roles=list(info.roles), datasets=list(info.datasets),
                      expires=info.expires.isoformat(),
                      bind=binding.bind_table_row(store.conn, "api_tokens", info.token_id))
        return token, info

    def revoke_token(self, token_id: str) -> TokenInfo:
        store, scope = self._change()
        identities = self._session._guard.identities
        with store.transaction() as stamp:
            info = identities.revoke_token(token_id, now=_now())
            store.log(stamp, scope, "access.token.revoke", info.principal, token_id=token_id,
                      bind=binding.bind_table_row(store.conn, "api_tokens", token_id))
        return info

    def tokens(self, principal: str | None = None) -> list[TokenInfo]:
        self._change()
        return self._session._guard.identities.tokens(principal)


class Policies(_Admin):
    """The Casbin policy: permission lines and role assignments (see
    :mod:`veil.access.policy`). A dataset named in a line must exist."""

    def allow(self, subject: str, operation: str, *, dataset: str = ANY, purpose: str = ANY,
              category: str = ANY, condition: str = "") -> Rule:
        return self._apply("access.policy.allow", lambda p: p.allow(
            subject, operation, dataset=dataset, purpose=purpose, category=category,
            condition=condition))

    def deny(self, subject: str, operation: str, *, dataset: str = ANY, purpose: str = ANY,
             category: str = ANY, condition: str = "") -> Rule:
        return self._apply("access.policy.deny", lambda p: p.deny(
            subject, operation, dataset=dataset, purpose=purpose, category=category,
            condition=condition))

    def remove(self, line: Rule | Assignment) -> Rule | Assignment:
        return self._apply("access.policy.remove", lambda p: p.remove(line))

    def assign(self, user: str, role: str, dataset: str = ANY) -> Assignment:
        """Give ``user`` the role on ``dataset`` (``*``: every dataset)."""
        self._session._guard.known_principal(user)
        return self._apply("access.role.assign", lambda p: p.assign(user, role, dataset))

    def unassign(self, user: str, role: str, dataset: str = ANY) -> Assignment:
        return self._apply("access.role.unassign", lambda p: p.unassign(user, role, dataset))

    def rules(self) -> list[Rule]:
        self._change()
        return self._session._guard.policy.rules()

    def assignments(self) -> list[Assignment]:
        self._change()
        return self._session._guard.policy.assignments()

    def check(self, subject: str, operation: str, *, dataset: str = ANY,
              purpose: str = ADMINISTRATION, category: str = "none", mfa: bool = False) -> Any:
        """What the policy would decide (a Decision: allowed, the rule, the reason)."""
        from veil.access.policy import Request

        self._change()
        return self._session._guard.policy.decide(
            Request(subject, dataset, operation, purpose, category, mfa))

    def _apply(self, action: str, change: Any) -> Any:
        store, scope = self._change()
        policy = self._session._guard.policy
        with store.transaction() as stamp:
            line = change(policy)
            store.log(stamp, scope, action, "policy", line=str(line),
                      bind=bind_policy(policy))
        return line


def _now() -> datetime:
    return datetime.now(UTC)
