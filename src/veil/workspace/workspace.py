"""``Workspace``: the one door to personal data, and the owner's session.

Opening a workspace with its master key gives the owner's session (the key holder administers
the workspace: every right, still logged, still bound by a registered purpose it names).
Everyone else is a principal in the catalog who comes in through :meth:`Workspace.login`
(password and TOTP) or :meth:`Workspace.session` (an API token); either way every capability
is reached through a :class:`~veil.access.session.Session` and decided by the guard. What a
workspace holds is described in :mod:`veil.workspace.store`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from veil.access.guard import Guard, Identity, bind_policy, bind_principal, check_principal
from veil.access.policy import ROLES, Policy
from veil.access.scope import ADMINISTRATION, OWNER, Scope
from veil.access.session import Session
from veil.errors import InputError
from veil.keys import MasterKey
from veil.workspace import binding
from veil.workspace.store import Store, key_source

__all__ = ["Workspace"]


class Workspace(Session):
    """A directory holding personal data encrypted at rest, its catalog and its audit ledger;
    opened with its master key, it is the owner's session.

    Open one with :meth:`create` or :meth:`open`; the master key comes from ``passphrase``,
    ``key_file`` or ``master_key``, or else from ``VEIL_MASTER_KEY`` / ``VEIL_PASSPHRASE``.
    """

    CATALOG = Store.CATALOG
    HEAD = Store.HEAD
    PUBLIC_KEY = Store.PUBLIC_KEY

    def __init__(self, store: Store) -> None:
        super().__init__(store, Guard(store), Identity(OWNER), ADMINISTRATION)

    def login(self, user: str, password: str, totp: str, *,
              purpose: str = ADMINISTRATION) -> Session:
        """A user's session, after password and TOTP (or a recovery code: :meth:`recover_login`).
        Every attempt is logged, and failures count towards a lockout (5 in a row); a refusal
        says only that authentication failed."""
        return self._login(user, purpose, lambda ids, now: ids.authenticate(
            user, password, totp, now=now))

    def recover_login(self, user: str, password: str, code: str, *,
                      purpose: str = ADMINISTRATION) -> Session:
        """A login with a one-time recovery code in place of the TOTP code."""
        return self._login(user, purpose, lambda ids, now: ids.recover(
            user, password, code, now=now))

    def _login(self, user: str, purpose: str, attempt: Any) -> Session:
        store, identities = self._store, self._guard.identities
        now = datetime.now(UTC)
        with store.transaction() as stamp:
            outcome = attempt(identities, now)
            who = outcome.principal.name if outcome.principal else "anonymous"
            params = {"factor": outcome.factor, "ok": outcome.error is None}
            if outcome.error is not None:
                params |= {"reason": outcome.reason, "name": _keyed(store, user)}
            if outcome.rebind:
                params["bind"] = bind_principal(identities, who)
            store.log(stamp, Scope(who, purpose), "access.login", who, **params)
        principal = outcome.require()
        check_principal(identities, store.conn, principal.name)
        return Session(store, self._guard, Identity(principal.name, mfa_at=now), purpose)

    def session(self, token: str, *, purpose: str = ADMINISTRATION) -> Session:
        """The session an API token (or a kept login) stands for: an API token acts with its
        roles and datasets only; a login keeps its user's rights and its TOTP time."""
        store, identities = self._store, self._guard.identities
        info = identities.check_token(token, now=datetime.now(UTC))
        binding.check_table_row(store.conn, store.ledger, "api_tokens", info.token_id)
        check_principal(identities, store.conn, info.principal)
        if info.kind == "session":
            return Session(store, self._guard, Identity(info.principal, mfa_at=info.mfa_at),
                           purpose)
        return Session(store, self._guard, Identity(
            info.principal, roles=frozenset(info.roles), datasets=frozenset(info.datasets)),
            purpose)

    def end_login(self, token: str) -> None:
        """Revoke a kept login (signing out); an API token is left to its administrators."""
        identities = self._guard.identities
        info = identities.check_token(token, now=datetime.now(UTC))
        if info.kind != "session":
            return
        with self._store.transaction() as stamp:
            identities.revoke_token(info.token_id, now=datetime.now(UTC))
            self._store.log(stamp, Scope(info.principal, ADMINISTRATION), "access.session.end",
                            info.principal, token_id=info.token_id,
                            bind=binding.bind_table_row(self._store.conn, "api_tokens",
                                                        info.token_id))

    def keep_login(self, session: Session, *, hours: float = 1.0) -> str:
        """A short-lived token standing for ``session``'s login (what ``veil login`` keeps);
        returned once, stored hashed, revocable."""
        if session.principal == OWNER:
            raise InputError("the owner's session comes from the master key; nothing to keep")
        store, identities = self._store, self._guard.identities
        now = datetime.now(UTC)
        mfa_at = session._identity.mfa_at or now
        with store.transaction() as stamp:
            token, info = identities.issue_session(
                session.principal, mfa_at=mfa_at, expires=now + timedelta(hours=hours), now=now)
            store.log(stamp, Scope(session.principal, ADMINISTRATION), "access.session.keep",
                      session.principal, token_id=info.token_id,
                      expires=info.expires.isoformat(),
                      bind=binding.bind_table_row(store.conn, "api_tokens", info.token_id))
        return token

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, passphrase: str | None = None,
               key_file: str | os.PathLike[str] | None = None,
               master_key: MasterKey | None = None) -> Workspace:
        """Make a new workspace. It is built beside ``path`` and renamed into place, so a crash
        never leaves a half-made workspace under that name."""
        master = key_source(passphrase, key_file, master_key).resolve(None)
        return cls.open(Store.create(Path(path), master, setup=_install_roles),
                        master_key=master)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, passphrase: str | None = None,
             key_file: str | os.PathLike[str] | None = None,
             master_key: MasterKey | None = None, check_ledger: bool = True,
             witness: Sequence[str | os.PathLike[str]] = ()) -> Workspace:
        """Open and unlock a workspace.

        ``check_ledger`` (on by default) refuses a workspace whose signed ledger head does not
        match its entries or whose catalog is behind an anchored head (rolled back); turn it
        off only to audit or recover one. ``witness`` (and ``VEIL_WITNESS``) name witness
        directories to check and publish to in this session besides the configured ones
        (:meth:`add_witness`): naming one from outside guards against a catalog rolled back to
        before the witness was configured."""
        store = Store.open(Path(path), key_source(passphrase, key_file, master_key),
                           check_ledger=check_ledger, witness=witness)
        try:
            workspace = cls(store)
            if check_ledger:
                workspace._install_roles()
        except BaseException:
            store.close()
            raise
        return workspace

    def _install_roles(self) -> None:
        """The shipped roles in a workspace made before veil had them (logged and bound)."""
        conn = self._store.conn
        if conn.execute("SELECT 1 FROM meta WHERE key = 'access_roles'").fetchone():
            return
        with self._store.transaction() as stamp:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'access_roles'").fetchone():
                return  # another process installed them first
            self._store.log(stamp, Scope(OWNER, ADMINISTRATION), "access.policy.roles",
                            "policy", **_install_roles(conn))

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _keyed(store: Store, name: str) -> str:
    """A failed login's typed name as a keyed hash: whatever was typed (a password in the
    wrong field, someone's email) never reaches the ledger, yet repeated tries stay linkable."""
    key = store.ring.derive("pseudonym", "login-name")
    return hmac.new(key, str(name).encode(), hashlib.sha256).hexdigest()[:32]


def _install_roles(conn: sqlite3.Connection) -> dict[str, Any]:
    """The shipped roles' rules, once per workspace, inside the caller's transaction; a new
    user still has no rights until assigned a role. Returns the ledger parameters."""
    policy = Policy(conn)
    added = policy.install_defaults()
    conn.execute("INSERT INTO meta(key, value) VALUES ('access_roles', ?)", (len(added),))
    return {"roles": list(ROLES), "rules": len(added), "bind": bind_policy(policy)}
