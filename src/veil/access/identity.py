"""Principals and their credentials: users (password + TOTP, recovery codes) and service
accounts (API tokens only). The master-key holder is not one of them: ``owner`` is reserved.

Storage only. Every method reads or writes the catalog inside the caller's transaction and
returns the facts to log; nothing here writes the ledger. Methods that write refuse to run
outside a transaction, so a check and the write it decides (a TOTP step, a failure count) are
one atomic step under the workspace's ``BEGIN IMMEDIATE``: two racing logins cannot both spend
the same code.

What the catalog holds, so that a copy of it gives no credential away:

==============  ===============================================================================
password        Argon2id hash (argon2-cffi; OWASP's m=19 MiB, t=2, p=1 by default), re-hashed
                with the current parameters at the next successful login after they change
TOTP seed       sealed under the master key by the ``wrap``/``unwrap`` callables (label
                ``totp:<name>``); master-key rotation re-seals it (:meth:`Identities.rewrap`)
recovery codes  SHA-256 of 80-bit random codes (random secrets need no slow hash)
API tokens      SHA-256 of 256-bit random tokens; the plaintext is shown once
==============  ===============================================================================

Credential checks (:meth:`Identities.authenticate`, :meth:`~Identities.recover`,
:meth:`~Identities.step_up`) never raise for wrong credentials: they return an :class:`Outcome`
whose error the caller raises *after* committing, so failures stay counted (5 in a row lock the
principal for ``lockout``). An unknown name costs the same Argon2 work as a known one and gets
the same :class:`~veil.errors.AuthenticationError`.

Binding: :meth:`~Identities.credential_digest` and :meth:`~Identities.token_digest` cover what
a login or a token check trusts, not the volatile counters. Rebind a principal after
``add_user``, ``add_service``, ``set_password``, ``reset_mfa``, ``disable``, a login whose
outcome says ``rebind`` and :meth:`~Identities.rewrap`; rebind a token after ``issue_token``
and ``revoke_token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from veil.access.policy import ROLES
from veil.access.scope import OWNER
from veil.errors import (
    AuthenticationError,
    InputError,
    IntegrityError,
    InvalidNameError,
    LockedError,
    NotFoundError,
    WorkspaceError,
)

__all__ = ["LOCKOUT", "MAX_FAILURES", "MAX_SESSION_LIFETIME", "MAX_TOKEN_LIFETIME",
           "OWASP_HASHER", "SCHEMA",
           "Enrollment", "Identities", "Outcome", "Principal", "TokenInfo", "check_password"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS principals (
    name           TEXT PRIMARY KEY COLLATE NOCASE,
    kind           TEXT NOT NULL CHECK (kind IN ('user', 'service')),
    password_hash  TEXT,
    totp_wrapped   BLOB,
    totp_last_step INTEGER,
    failures       INTEGER NOT NULL DEFAULT 0,
    locked_until   TEXT,
    attributes     TEXT NOT NULL,
    created        TEXT NOT NULL,
    disabled       TEXT,
    CHECK ((kind = 'user') = (password_hash IS NOT NULL AND totp_wrapped IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS recovery_codes (
    principal TEXT NOT NULL REFERENCES principals(name),
    code_hash TEXT NOT NULL,
    used      TEXT,
    PRIMARY KEY (principal, code_hash)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id   TEXT PRIMARY KEY,
    principal  TEXT NOT NULL REFERENCES principals(name),
    token_hash TEXT NOT NULL UNIQUE,
    roles      TEXT NOT NULL,
    datasets   TEXT NOT NULL,
    created    TEXT NOT NULL,
    expires    TEXT NOT NULL,
    revoked    TEXT,
    kind       TEXT NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session')),
    mfa_at     TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_by_principal ON api_tokens(principal);
"""

# OWASP Password Storage Cheat Sheet's Argon2id floor; injectable so tests can use cheap ones.
OWASP_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
MAX_FAILURES = 5  # consecutive failures (password, TOTP or recovery code) that lock
LOCKOUT = timedelta(minutes=15)
MAX_TOKEN_LIFETIME = timedelta(days=365)
MAX_SESSION_LIFETIME = timedelta(hours=12)  # a login kept as a token stays short-lived
MIN_PASSWORD, MAX_PASSWORD = 12, 1024  # the cap keeps hashing cost bounded
RECOVERY_CODES = 10
TOKEN_PREFIX = "veil_"  # noqa: S105 - marks a veil token (for secret scanners), not a secret
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")  # + token_urlsafe(32)
_TOTP_WINDOW = 1  # steps either side of now, for clock drift

Wrap = Callable[[str, bytes], bytes]  # (label, bytes) -> bytes: KeyRing.wrap_secret/unwrap_secret
Factor = Callable[[sqlite3.Row, datetime], str | None]  # None: accepted and recorded; else why


@dataclass(frozen=True)
class Principal:
    """A user or service account as the guard and administrators see it: no secrets."""

    name: str
    kind: Literal["user", "service"]
    attributes: dict[str, Any]
    created: datetime
    disabled: datetime | None
    locked_until: datetime | None
    failures: int  # consecutive failed attempts since the last success or lock

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and _utc(now) < self.locked_until


@dataclass(frozen=True)
class Enrollment:
    """A user's second factor, to show once (QR code of ``uri``, or ``secret`` typed in) with
    the recovery codes; none of it is stored in clear, so it cannot be shown again."""

    name: str
    secret: str = field(repr=False)  # base32 TOTP seed
    uri: str = field(repr=False)  # otpauth:// provisioning URI for an authenticator app
    recovery_codes: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed and checked; never the token itself. An ``api`` token is scoped to
    ``roles`` and ``datasets``; a ``session`` token (a login kept by the CLI or the service)
    carries all the user's rights and the time of the login's TOTP code (``mfa_at``)."""

    token_id: str
    principal: str
    roles: tuple[str, ...]
    datasets: tuple[str, ...]
    created: datetime
    expires: datetime
    revoked: datetime | None
    kind: Literal["api", "session"] = "api"
    mfa_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """One credential check. Accepted: ``principal`` is set. Refused: ``error`` is the exception
    to raise once the caller has committed (the failure count and any lock must persist).
    ``reason`` (unknown, disabled, service, locked, password, totp, replay, recovery) is for the
    ledger only: never show it to the client."""

    name: str  # as given when refused; the stored spelling when accepted
    factor: Literal["totp", "recovery"]
    principal: Principal | None = None
    error: AuthenticationError | LockedError | None = None
    reason: str | None = None
    rehashed: bool = False  # the password hash was upgraded to the current parameters
    locked_until: datetime | None = None  # this attempt locked the principal until then
    recovery_left: int | None = None  # unused recovery codes, after a recovery login

    @property
    def rebind(self) -> bool:
        """The principal's credential digest changed (new hash, spent recovery code)."""
        return self.rehashed or (self.principal is not None and self.factor == "recovery")

    def require(self) -> Principal:
        """The accepted principal, or raise the refusal (call it after committing)."""
        if self.error is not None:
            raise self.error
        assert self.principal is not None
        return self.principal


def check_password(name: str, password: object) -> None:
    """Refuse a password that breaks the policy (length first, as NIST SP 800-63B and OWASP
    advise, no composition rules); messages name the rule and never echo the password."""
    if not isinstance(password, str):
        msg = f"a password is a string, not {type(password).__name__}"
        raise InputError(msg)
    if len(password) < MIN_PASSWORD:
        msg = f"a password needs at least {MIN_PASSWORD} characters"
        raise InputError(msg)
    if len(password) > MAX_PASSWORD:
        msg = f"a password may have at most {MAX_PASSWORD} characters"
        raise InputError(msg)
    if len(set(password)) == 1:
        raise InputError("a password may not be one character repeated")
    if password.casefold() == name.casefold():
        raise InputError("a password may not be the principal's name")


class Identities:
    """Principals, passwords, TOTP, recovery codes and API tokens in the catalog ``conn``
    (tables from :data:`SCHEMA`). ``wrap``/``unwrap`` seal TOTP seeds under the master key
    (pass a ring's ``wrap_secret``/``unwrap_secret``). Every time is an aware datetime."""

    def __init__(self, conn: sqlite3.Connection, *, wrap: Wrap, unwrap: Wrap,
                 hasher: PasswordHasher = OWASP_HASHER, lockout: timedelta = LOCKOUT,
                 issuer: str = "veil") -> None:
        if lockout <= timedelta(0):
            msg = f"the lockout period must be positive; got {lockout}"
            raise InputError(msg)
        self._conn = conn
        self._wrap = wrap
        self._unwrap = unwrap
        self._hasher = hasher
        self._lockout = lockout
        self._issuer = issuer
        self._decoy: str | None = None

    # -- principals ---------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, attributes: Mapping[str, Any] | None = None,
                 now: datetime) -> Enrollment:
        """A user who logs in with ``password`` and a TOTP code; show the enrollment once."""
        when = _text(now)
        self._writing()
        self._check_new(name)
        check_password(name, password)
        wrapped, enrollment = self._new_mfa(name)
        self._conn.execute(
            "INSERT INTO principals(name, kind, password_hash, totp_wrapped, attributes, created) "
            "VALUES (?, 'user', ?, ?, ?, ?)",
            (name, self._hasher.hash(password), wrapped, _attributes(attributes), when))
        self._store_codes(enrollment)
        return enrollment

    def add_service(self, name: str, *, attributes: Mapping[str, Any] | None = None,
                    now: datetime) -> Principal:
        """A service account: no password, so it authenticates only by API token."""
        when = _text(now)
        self._writing()
        self._check_new(name)
        self._conn.execute("INSERT INTO principals(name, kind, attributes, created) "
                           "VALUES (?, 'service', ?, ?)", (name, _attributes(attributes), when))
        return self.get(name)

    def get(self, name: str) -> Principal:
        return _principal(self._require(name))

    def principals(self) -> list[Principal]:
        return [_principal(row) for row in self._rows("SELECT * FROM principals ORDER BY name")]

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password (by an administrator, or the user after a step-up)."""
        self._writing()
        row = self._user(name)
        check_password(row["name"], password)
        self._conn.execute("UPDATE principals SET password_hash = ? WHERE name = ?",
                           (self._hasher.hash(password), row["name"]))

    def reset_mfa(self, name: str) -> Enrollment:
        """A new TOTP seed and new recovery codes (a lost phone); the old ones stop working."""
        self._writing()
        row = self._user(name)
        wrapped, enrollment = self._new_mfa(row["name"])
        self._conn.execute("UPDATE principals SET totp_wrapped = ?, totp_last_step = NULL "
                           "WHERE name = ?", (wrapped, row["name"]))
        self._store_codes(enrollment)
        return enrollment

    def lock(self, name: str, *, until: datetime, now: datetime) -> None:
        """Refuse every login and token of ``name`` until ``until``."""
        if _utc(until) <= _utc(now):
            msg = f"a lock must end after now; got {_text(until)}"
            raise InputError(msg)
        self._writing()
        row = self._require(name)
        self._conn.execute("UPDATE principals SET locked_until = ? WHERE name = ?",
                           (_text(until), row["name"]))

    def unlock(self, name: str, *, now: datetime) -> None:
        """End a lock early and clear the failure count."""
        self._writing()
        row = self._require(name)
        if not _principal(row).locked(now):
            msg = f"principal {row['name']!r} is not locked"
            raise InputError(msg)
        self._conn.execute("UPDATE principals SET locked_until = NULL, failures = 0 "
                           "WHERE name = ?", (row["name"],))

    def disable(self, name: str, *, now: datetime) -> None:
        """Refuse the principal for good (its tokens too); the row stays for the audit trail."""
        when = _text(now)
        self._writing()
        row = self._require(name)
        if row["disabled"] is not None:
            msg = f"principal {row['name']!r} was already disabled on {row['disabled']}"
            raise InputError(msg)
        self._conn.execute("UPDATE principals SET disabled = ? WHERE name = ?",
                           (when, row["name"]))

    # -- credential checks --------------------------------------------------------------------
    def authenticate(self, name: str, password: str, totp: str, *, now: datetime) -> Outcome:
        """A login: password and TOTP code."""
        _string(totp, "a TOTP code")
        return self._attempt(name, password, "totp",
                             lambda row, at: self._check_totp(row, totp, at), now)

    def recover(self, name: str, password: str, code: str, *, now: datetime) -> Outcome:
        """A login with a one-time recovery code in place of the TOTP code."""
        _string(code, "a recovery code")
        return self._attempt(name, password, "recovery",
                             lambda row, at: self._spend_code(row, code, at), now)

    def step_up(self, name: str, totp: str, *, now: datetime) -> Outcome:
        """A fresh TOTP code from a principal already logged in (before a sensitive call)."""
        _string(totp, "a TOTP code")
        return self._attempt(name, None, "totp",
                             lambda row, at: self._check_totp(row, totp, at), now)

    def _attempt(self, name: str, password: str | None, factor: Literal["totp", "recovery"],
                 second: Factor, now: datetime) -> Outcome:
        at = _utc(now)
        self._writing()
        _string(name, "a principal name")
        if password is not None:
            _string(password, "a password")
        row = self._row(name)
        if row is None or row["kind"] != "user" or row["disabled"] is not None:
            if password is not None:  # the Argon2 work of a real check: no timing oracle
                self._decoy_check(password)
            reason = ("unknown" if row is None else "service" if row["kind"] != "user"
                      else "disabled")
            return Outcome(name, factor, error=AuthenticationError(), reason=reason)
        until = _time(row["locked_until"])
        if until is not None and at < until:
            return Outcome(name, factor, error=LockedError(until), reason="locked")
        if password is not None and not self._password_matches(row, password):
            return self._failed(row, name, factor, "password", at)
        refused = second(row, at)
        if refused is not None:
            return self._failed(row, name, factor, refused, at)
        rehashed = password is not None and self._rehash(row, password)
        self._conn.execute("UPDATE principals SET failures = 0, locked_until = NULL "
                           "WHERE name = ?", (row["name"],))
        left = None
        if factor == "recovery":
            (left,) = self._conn.execute("SELECT count(*) FROM recovery_codes WHERE principal = ? "
                                         "AND used IS NULL", (row["name"],)).fetchone()
        return Outcome(row["name"], factor, principal=self.get(row["name"]), rehashed=rehashed,
                       recovery_left=left)

    def _failed(self, row: sqlite3.Row, name: str, factor: Literal["totp", "recovery"],
                reason: str, at: datetime) -> Outcome:
        """Count a failure; the fifth in a row locks (and restarts the count for afterwards)."""
        failures = row["failures"] + 1
        until = at + self._lockout if failures >= MAX_FAILURES else None
        self._conn.execute(
            "UPDATE principals SET failures = ?, locked_until = ? WHERE name = ?",
            (0 if until else failures, None if until is None else _text(until), row["name"]))
        return Outcome(name, factor, error=AuthenticationError(), reason=reason,
                       locked_until=until)

    def _password_matches(self, row: sqlite3.Row, password: str) -> bool:
        try:
            return self._hasher.verify(row["password_hash"], password)
        except VerificationError:
            return False
        except InvalidHashError:
            msg = f"the stored password hash of principal {row['name']!r} is malformed"
            raise IntegrityError(msg) from None

    def _decoy_check(self, password: str) -> None:
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(32))
        with suppress(VerificationError):
            self._hasher.verify(self._decoy, password)

    def _rehash(self, row: sqlite3.Row, password: str) -> bool:
        if not self._hasher.check_needs_rehash(row["password_hash"]):
            return False
        self._conn.execute("UPDATE principals SET password_hash = ? WHERE name = ?",
                           (self._hasher.hash(password), row["name"]))
        return True

    def _check_totp(self, row: sqlite3.Row, code: str, at: datetime) -> str | None:
        """Accept a code of the step before, at or after now, only if that step is later than
        the last one accepted (RFC 6238 §5.2: a code is good once)."""
        seed = self._unwrap(_totp_label(row["name"]), row["totp_wrapped"]).decode()
        totp = pyotp.TOTP(seed)  # the defaults authenticator apps expect: SHA-1, 6 digits, 30 s
        now_step = totp.timecode(at)
        given = code.replace(" ", "").encode()
        matched = [step for step in range(now_step - _TOTP_WINDOW, now_step + _TOTP_WINDOW + 1)
                   if hmac.compare_digest(totp.generate_otp(step).encode(), given)]
        if not matched:
            return "totp"
        last = row["totp_last_step"]
        fresh = [step for step in matched if last is None or step > last]
        if not fresh:
            return "replay"
        self._conn.execute("UPDATE principals SET totp_last_step = ? WHERE name = ?",
                           (max(fresh), row["name"]))
        return None

    def _spend_code(self, row: sqlite3.Row, code: str, at: datetime) -> str | None:
        spent = self._conn.execute(
            "UPDATE recovery_codes SET used = ? WHERE principal = ? AND code_hash = ? AND "
            "used IS NULL", (_text(at), row["name"], _code_hash(code))).rowcount
        return None if spent == 1 else "recovery"

    # -- API tokens ---------------------------------------------------------------------------
    def issue_token(self, principal: str, *, roles: Iterable[str], datasets: Iterable[str],
                    expires: datetime, now: datetime) -> tuple[str, TokenInfo]:
        """A new token for ``principal``, limited to ``roles`` and ``datasets`` (the guard
        intersects them with the principal's own rights). The plaintext is returned once."""
        created, ends = _utc(now), _utc(expires)
        self._writing()
        row = self._require(principal)
        if row["disabled"] is not None:
            msg = f"principal {row['name']!r} is disabled and cannot be given tokens"
            raise InputError(msg)
        if not created < ends <= created + MAX_TOKEN_LIFETIME:
            msg = (f"a token must expire after now and within {MAX_TOKEN_LIFETIME.days} days; "
                   f"got {_text(ends)}")
            raise InputError(msg)
        info = TokenInfo(secrets.token_hex(8), row["name"], _scope(roles, "role"),
                         _scope(datasets, "dataset"), created, ends, None)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._conn.execute(
            "INSERT INTO api_tokens(token_id, principal, token_hash, roles, datasets, created, "
            "expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (info.token_id, info.principal, _sha256(token), json.dumps(info.roles),
             json.dumps(info.datasets), _text(created), _text(ends)))
        return token, info

    def issue_session(self, principal: str, *, mfa_at: datetime, expires: datetime,
                      now: datetime) -> tuple[str, TokenInfo]:
        """A token standing for a login just made (password and TOTP at ``mfa_at``), for a
        client that keeps it instead of the password: short-lived (at most
        :data:`MAX_SESSION_LIFETIME`), revocable like any token. The plaintext is returned
        once."""
        created, ends = _utc(now), _utc(expires)
        self._writing()
        row = self._user(principal)
        if not created < ends <= created + MAX_SESSION_LIFETIME:
            msg = (f"a session must end after now and within "
                   f"{MAX_SESSION_LIFETIME.total_seconds() / 3600:g} hours; got {_text(ends)}")
            raise InputError(msg)
        info = TokenInfo(secrets.token_hex(8), row["name"], (), (), created, ends, None,
                         "session", _utc(mfa_at))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._conn.execute(
            "INSERT INTO api_tokens(token_id, principal, token_hash, roles, datasets, created, "
            "expires, kind, mfa_at) VALUES (?, ?, ?, '[]', '[]', ?, ?, 'session', ?)",
            (info.token_id, info.principal, _sha256(token), _text(created), _text(ends),
             _text(info.mfa_at)))
        return token, info

    def check_token(self, token: str, *, now: datetime) -> TokenInfo:
        """The token's scope, if it is live and its principal may act now; else the same
        :class:`AuthenticationError` whatever was wrong (malformed, unknown, forged, expired,
        revoked, principal disabled or locked)."""
        at = _utc(now)
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise AuthenticationError
        digest = _sha256(token)
        found = self._rows("SELECT * FROM api_tokens WHERE token_hash = ?", (digest,))
        if not found or not hmac.compare_digest(found[0]["token_hash"].encode(), digest.encode()):
            raise AuthenticationError
        info = _token_info(found[0])
        owner = self._row(info.principal)
        if (info.revoked is not None or at >= info.expires or owner is None
                or owner["disabled"] is not None or _principal(owner).locked(at)):
            raise AuthenticationError
        return info

    def revoke_token(self, token_id: str, *, now: datetime) -> TokenInfo:
        when = _text(now)
        self._writing()
        info = self._token(token_id)
        if info.revoked is not None:
            msg = f"token {token_id} was already revoked on {_text(info.revoked)}"
            raise InputError(msg)
        self._conn.execute("UPDATE api_tokens SET revoked = ? WHERE token_id = ?",
                           (when, token_id))
        return self._token(token_id)

    def tokens(self, principal: str | None = None) -> list[TokenInfo]:
        """Every token (of ``principal``), oldest first: ids and scopes, never the tokens."""
        if principal is None:
            rows = self._rows("SELECT * FROM api_tokens ORDER BY created, token_id")
        else:
            rows = self._rows("SELECT * FROM api_tokens WHERE principal = ? ORDER BY created, "
                              "token_id", (self._require(principal)["name"],))
        return [_token_info(row) for row in rows]

    # -- binding and rotation -----------------------------------------------------------------
    def credential_digest(self, name: str) -> str:
        """SHA-256 of what a login trusts (kind, password hash, sealed seed, recovery codes,
        attributes, disabled), for the caller to bind in the ledger; the volatile counters
        (failures, lock, last TOTP step) are left out."""
        row = self._require(name)
        codes = self._conn.execute("SELECT code_hash, used FROM recovery_codes WHERE "
                                   "principal = ? ORDER BY code_hash", (row["name"],)).fetchall()
        seed = row["totp_wrapped"]
        return _digest("principal", row["name"], row["kind"], row["password_hash"],
                       None if seed is None else seed.hex(), row["attributes"], row["created"],
                       row["disabled"], codes)

    def token_digest(self, token_id: str) -> str:
        """SHA-256 of a token's row, for the caller to bind in the ledger (a hand-inserted
        hash would otherwise be a working token)."""
        found = self._rows("SELECT * FROM api_tokens WHERE token_id = ?", (token_id,))
        if not found:
            raise NotFoundError(f"there is no API token {token_id!r}")
        return _digest("token", *found[0])

    def rewrap(self, unwrap: Wrap, wrap: Wrap) -> list[str]:
        """Re-seal every TOTP seed, in the transaction of a master-key rotation and before
        the ring switches keys::

            identities.rewrap(ring.unwrap_secret, KeyRing(conn, new_master).wrap_secret)
            ring.rotate(new_master)

        Returns the principals re-sealed: their credential digests changed, so rebind them.
        (The ring does not learn this schema; the workspace calls both in one transaction.)"""
        self._writing()
        rows = self._rows("SELECT name, totp_wrapped FROM principals WHERE totp_wrapped IS "
                          "NOT NULL ORDER BY name")
        self._conn.execute("PRAGMA secure_delete = ON")
        for row in rows:
            label = _totp_label(row["name"])
            self._conn.execute("UPDATE principals SET totp_wrapped = ? WHERE name = ?",
                               (wrap(label, unwrap(label, row["totp_wrapped"])), row["name"]))
        return [row["name"] for row in rows]

    # -- helpers ------------------------------------------------------------------------------
    def _writing(self) -> None:
        if not self._conn.in_transaction:
            raise WorkspaceError("identity changes run inside the caller's write transaction "
                                 "(BEGIN IMMEDIATE), so a check and its write are atomic")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        cursor = self._conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()

    def _row(self, name: str) -> sqlite3.Row | None:
        found = self._rows("SELECT * FROM principals WHERE name = ?", (name,))
        return found[0] if found else None

    def _require(self, name: str) -> sqlite3.Row:
        row = self._row(name) if isinstance(name, str) else None
        if row is None:
            raise NotFoundError(f"there is no principal {name!r}")
        return row

    def _user(self, name: str) -> sqlite3.Row:
        row = self._require(name)
        if row["kind"] != "user":
            msg = f"{row['name']!r} is a service account: it has no password or TOTP"
            raise InputError(msg)
        return row

    def _check_new(self, name: str) -> None:
        _check_name(name, "principal")
        if name.casefold() == OWNER:
            msg = f"the principal name {name!r} is reserved for the holder of the master key"
            raise InvalidNameError(msg)
        if name.casefold() in ROLES:  # users and roles share the policy's name space
            msg = f"the principal name {name!r} is a role's name; choose another"
            raise InvalidNameError(msg)
        taken = self._row(name)
        if taken is not None:
            msg = f"principal {taken['name']!r} already exists (names ignore case)"
            raise InputError(msg)

    def _new_mfa(self, name: str) -> tuple[bytes, Enrollment]:
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=self._issuer)
        codes = tuple(_recovery_code() for _ in range(RECOVERY_CODES))
        return self._wrap(_totp_label(name), secret.encode()), Enrollment(name, secret, uri, codes)

    def _store_codes(self, enrollment: Enrollment) -> None:
        self._conn.execute("DELETE FROM recovery_codes WHERE principal = ?", (enrollment.name,))
        self._conn.executemany(
            "INSERT INTO recovery_codes(principal, code_hash) VALUES (?, ?)",
            [(enrollment.name, _code_hash(code)) for code in enrollment.recovery_codes])

    def _token(self, token_id: str) -> TokenInfo:
        found = self._rows("SELECT * FROM api_tokens WHERE token_id = ?", (token_id,))
        if not found:
            raise NotFoundError(f"there is no API token {token_id!r}")
        return _token_info(found[0])


def _check_name(name: object, what: str) -> None:
    # Imported here: the workspace imports veil.access, so a top-level import would be circular.
    from veil.workspace.store import check_name

    check_name(name, what)


def _scope(names: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        msg = f"a token's {what}s are a list of names, not one string"
        raise InputError(msg)
    listed = list(names)
    for name in listed:
        _check_name(name, what)
    if not listed:
        msg = f"a token needs at least one {what}; it could do nothing"
        raise InputError(msg)
    return tuple(sorted(set(listed)))


def _string(value: object, what: str) -> None:
    if not isinstance(value, str):
        msg = f"{what} is a string, not {type(value).__name__}"
        raise InputError(msg)


def _utc(when: datetime) -> datetime:
    if not isinstance(when, datetime) or when.utcoffset() is None:
        msg = f"times are timezone-aware datetimes; got {when!r}"
        raise InputError(msg)
    return when.astimezone(UTC)


def _text(when: datetime) -> str:
    return _utc(when).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _attributes(attributes: Mapping[str, Any] | None) -> str:
    values = dict(attributes or {})
    if not all(isinstance(key, str) for key in values):
        raise InputError("attribute names are strings")
    try:
        return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        msg = "attribute values are JSON values: strings, finite numbers, booleans, lists"
        raise InputError(msg) from None


def _principal(row: sqlite3.Row) -> Principal:
    return Principal(row["name"], row["kind"], json.loads(row["attributes"]),
                     datetime.fromisoformat(row["created"]), _time(row["disabled"]),
                     _time(row["locked_until"]), row["failures"])


def _token_info(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(row["token_id"], row["principal"], tuple(json.loads(row["roles"])),
                     tuple(json.loads(row["datasets"])), datetime.fromisoformat(row["created"]),
                     datetime.fromisoformat(row["expires"]), _time(row["revoked"]), row["kind"],
                     _time(row["mfa_at"]))


def _totp_label(name: str) -> str:
    return f"totp:{name}"


def _recovery_code() -> str:
    """80 random bits as four groups of four base32 characters (no 0/1/8/9 to misread)."""
    text = base64.b32encode(secrets.token_bytes(10)).decode()
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def _code_hash(code: str) -> str:
    return _sha256(re.sub(r"[\s-]", "", code).upper())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(*values: Any) -> str:
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode()).hexdigest()
