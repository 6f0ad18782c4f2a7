"""Identities: passwords, TOTP (replay, window, lockout), recovery codes, API tokens, what is
stored, and the binding digests. Time comes from an injected clock, never from sleeping."""

from __future__ import annotations

import base64
import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from veil.access.identity import LOCKOUT, MAX_FAILURES, SCHEMA, Enrollment, Identities
from veil.errors import (
    AuthenticationError,
    InputError,
    IntegrityError,
    InvalidNameError,
    LockedError,
    NotFoundError,
    WorkspaceError,
)
from veil.keys import MasterKey
from veil.keys.ring import KeyRing

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
STEP = timedelta(seconds=30)


class Clock:
    """An aware UTC clock the test moves by hand (aligned to a TOTP step)."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class CountingHasher(PasswordHasher):
    """The cheap hasher, counting verifications (the Argon2 work done per attempt)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(SCHEMA)
    conn.execute("BEGIN IMMEDIATE")  # the workspace's write transaction
    yield conn
    conn.close()


@pytest.fixture
def ring(conn: sqlite3.Connection) -> KeyRing:
    return KeyRing(conn, MasterKey(os.urandom(32)))


def identities(conn: sqlite3.Connection, ring: KeyRing, **kwargs) -> Identities:
    kwargs.setdefault("hasher", CHEAP)
    return Identities(conn, wrap=ring.wrap_secret, unwrap=ring.unwrap_secret, **kwargs)


@pytest.fixture
def ids(conn: sqlite3.Connection, ring: KeyRing) -> Identities:
    return identities(conn, ring)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alice(ids: Identities, clock: Clock) -> Enrollment:
    return ids.add_user("alice", PASSWORD, attributes={"team": "research"}, now=clock())


def code(enrollment: Enrollment, when: datetime) -> str:
    return pyotp.TOTP(enrollment.secret).at(when)


def login(ids: Identities, enrollment: Enrollment, clock: Clock, password: str = PASSWORD):
    return ids.authenticate(enrollment.name, password, code(enrollment, clock()), now=clock())


def refused(outcome, reason: str) -> AuthenticationError | LockedError:
    assert outcome.principal is None and outcome.reason == reason
    with pytest.raises(type(outcome.error)):
        outcome.require()
    return outcome.error


# -- logins --------------------------------------------------------------------------------------
def test_right_password_and_totp_log_in(ids, alice, clock):
    assert alice.uri.startswith("otpauth://totp/veil:alice?secret=")
    assert len(alice.recovery_codes) == 10 and len(set(alice.recovery_codes)) == 10
    outcome = login(ids, alice, clock)
    principal = outcome.require()
    assert (principal.name, principal.kind, principal.attributes) == (
        "alice", "user", {"team": "research"})
    assert outcome.reason is None and not outcome.rebind


def test_wrong_password_and_wrong_totp_are_refused_and_counted(ids, alice, clock):
    wrong_password = refused(login(ids, alice, clock, "not the password!"), "password")
    good = code(alice, clock())
    wrong_code = f"{(int(good) + 1) % 10**6:06d}"
    wrong_totp = refused(ids.authenticate("alice", PASSWORD, wrong_code, now=clock()), "totp")
    assert isinstance(wrong_password, AuthenticationError)
    assert str(wrong_password) == str(wrong_totp) == "authentication failed"
    assert wrong_password.code == "access.auth"
    assert ids.get("alice").failures == 2


def test_unknown_user_is_refused_like_a_wrong_password_with_the_same_work(conn, ring, clock):
    hasher = CountingHasher()
    ids = identities(conn, ring, hasher=hasher)
    alice = ids.add_user("alice", PASSWORD, now=clock())
    before = hasher.verified
    wrong = refused(login(ids, alice, clock, "not the password!"), "password")
    per_known = hasher.verified - before
    unknown = refused(ids.authenticate("mallory", PASSWORD, "123456", now=clock()), "unknown")
    assert hasher.verified - before == 2 * per_known == 2
    assert (type(unknown), str(unknown), unknown.code) == (type(wrong), str(wrong), wrong.code)


def test_a_code_is_good_once(ids, alice, clock):
    now_code = code(alice, clock())
    login(ids, alice, clock).require()
    replay = ids.authenticate("alice", PASSWORD, now_code, now=clock() + timedelta(seconds=10))
    assert str(refused(replay, "replay")) == "authentication failed"
    step_up = refused(ids.step_up("alice", now_code, now=clock()), "replay")
    assert isinstance(step_up, AuthenticationError)


def test_window_is_one_step_either_side(ids, alice, clock):
    two_ago = code(alice, clock() - 2 * STEP)
    refused(ids.authenticate("alice", PASSWORD, two_ago, now=clock()), "totp")
    one_ago = code(alice, clock() - STEP)
    ids.authenticate("alice", PASSWORD, one_ago, now=clock()).require()
    # the current step is later than the one just used, so its code still works once
    ids.step_up("alice", code(alice, clock()), now=clock()).require()
    refused(ids.step_up("alice", one_ago, now=clock()), "replay")
    ahead = code(alice, clock() + STEP)
    ids.step_up("alice", ahead, now=clock()).require()
    refused(ids.step_up("alice", code(alice, clock()), now=clock()), "replay")


def test_five_failures_lock_until_the_lockout_ends(ids, alice, clock):
    for attempt in range(1, MAX_FAILURES + 1):
        outcome = login(ids, alice, clock, "not the password!")
        assert isinstance(outcome.error, AuthenticationError)
        assert outcome.locked_until == (clock() + LOCKOUT if attempt == MAX_FAILURES else None)
    locked = refused(login(ids, alice, clock), "locked")
    assert isinstance(locked, LockedError) and locked.code == "access.locked"
    assert locked.until == clock() + LOCKOUT
    assert "locked until 2030-01-01T12:15:00+00:00" in str(locked)
    assert ids.get("alice").locked(clock())
    clock.advance(LOCKOUT - timedelta(seconds=1))
    refused(login(ids, alice, clock), "locked")
    clock.advance(timedelta(seconds=1))
    assert login(ids, alice, clock).require().failures == 0


def test_totp_failures_lock_too_and_a_success_resets_the_count(ids, alice, clock):
    for _ in range(MAX_FAILURES - 1):
        refused(ids.authenticate("alice", PASSWORD, "000000x", now=clock()), "totp")
    login(ids, alice, clock).require()
    for _ in range(MAX_FAILURES - 1):
        refused(ids.step_up("alice", "not a code", now=clock()), "totp")
    assert not ids.get("alice").locked(clock())
    refused(ids.step_up("alice", "999999x", now=clock()), "totp")
    assert ids.get("alice").locked(clock())
    clock.advance(STEP)
    assert isinstance(refused(ids.step_up("alice", code(alice, clock()), now=clock()), "locked"),
                      LockedError)


def test_administrator_lock_and_unlock(ids, alice, clock):
    with pytest.raises(InputError, match="not locked"):
        ids.unlock("alice", now=clock())
    with pytest.raises(InputError, match="after now"):
        ids.lock("alice", until=clock(), now=clock())
    ids.lock("alice", until=clock() + timedelta(days=1), now=clock())
    refused(login(ids, alice, clock), "locked")
    ids.unlock("alice", now=clock())
    login(ids, alice, clock).require()
    with pytest.raises(NotFoundError, match="'bob'"):
        ids.lock("bob", until=clock() + STEP, now=clock())


def test_rehash_when_parameters_change(conn, ring, ids, alice, clock):
    stored = conn.execute("SELECT password_hash FROM principals").fetchone()[0]
    stronger = identities(conn, ring, hasher=PasswordHasher(time_cost=2, memory_cost=16,
                                                            parallelism=1))
    outcome = login(stronger, alice, clock)
    assert outcome.require() and outcome.rehashed and outcome.rebind
    rehashed = conn.execute("SELECT password_hash FROM principals").fetchone()[0]
    assert rehashed != stored and "m=16,t=2,p=1" in rehashed
    clock.advance(STEP)
    again = login(stronger, alice, clock)
    assert again.require() and not again.rehashed


def test_recovery_codes_work_once(ids, alice, clock):
    first = alice.recovery_codes[0]
    refused(ids.recover("alice", "not the password!", first, now=clock()), "password")
    outcome = ids.recover("alice", PASSWORD, first.lower().replace("-", ""), now=clock())
    assert outcome.require().name == "alice"
    assert outcome.recovery_left == 9 and outcome.rebind
    refused(ids.recover("alice", PASSWORD, first, now=clock()), "recovery")
    ids.recover("alice", PASSWORD, alice.recovery_codes[1], now=clock()).require()


def test_reset_mfa_replaces_seed_and_recovery_codes(ids, alice, clock):
    new = ids.reset_mfa("alice")
    assert new.secret != alice.secret
    refused(login(ids, alice, clock), "totp")
    refused(ids.recover("alice", PASSWORD, alice.recovery_codes[2], now=clock()), "recovery")
    login(ids, new, clock).require()
    ids.recover("alice", PASSWORD, new.recovery_codes[0], now=clock()).require()


def test_set_password(ids, alice, clock):
    ids.set_password("alice", "a whole new passphrase")
    refused(login(ids, alice, clock), "password")
    login(ids, alice, clock, "a whole new passphrase").require()


def test_disabled_principal_is_refused_like_an_unknown_one(ids, alice, clock):
    ids.disable("alice", now=clock())
    error = refused(login(ids, alice, clock), "disabled")
    assert str(error) == "authentication failed"
    with pytest.raises(InputError, match="already disabled"):
        ids.disable("alice", now=clock())


def test_service_account_cannot_log_in_with_a_password(ids, clock):
    service = ids.add_service("etl-bot", attributes={"owner": "data-eng"}, now=clock())
    assert service.kind == "service"
    refused(ids.authenticate("etl-bot", PASSWORD, "123456", now=clock()), "service")
    refused(ids.recover("etl-bot", PASSWORD, "AAAA-AAAA-AAAA-AAAA", now=clock()), "service")
    with pytest.raises(InputError, match="service account"):
        ids.set_password("etl-bot", PASSWORD)
    with pytest.raises(InputError, match="service account"):
        ids.reset_mfa("etl-bot")


# -- what is stored --------------------------------------------------------------------------
def test_no_secret_is_stored_in_clear(conn, ids, alice, clock):
    login(ids, alice, clock).require()
    ids.add_service("etl-bot", now=clock())
    token, _ = ids.issue_token("etl-bot", roles=["analyst"], datasets=["people"],
                               expires=clock() + timedelta(days=30), now=clock())
    conn.execute("COMMIT")
    stored = conn.serialize()
    secrets = [PASSWORD, alice.secret, token, token.removeprefix("veil_"),
               *alice.recovery_codes, *(c.replace("-", "") for c in alice.recovery_codes)]
    for secret in secrets:
        assert secret.encode() not in stored
    assert base64.b32decode(alice.secret) not in stored
    assert alice.secret not in repr(alice) and alice.recovery_codes[0] not in repr(alice)


def test_a_sealed_seed_cannot_be_moved_to_another_user(conn, ids, alice, clock):
    bob = ids.add_user("bob", "another long passphrase", now=clock())
    conn.execute("UPDATE principals SET totp_wrapped = (SELECT totp_wrapped FROM principals "
                 "WHERE name = 'alice') WHERE name = 'bob'")
    with pytest.raises(IntegrityError, match="totp:bob"):
        ids.authenticate("bob", "another long passphrase", code(alice, clock()), now=clock())
    assert bob.secret != alice.secret


def test_rewrap_moves_seeds_to_a_new_master_key(conn, ring, ids, alice, clock):
    before = ids.credential_digest("alice")
    new_ring = KeyRing(conn, MasterKey(os.urandom(32)))
    assert ids.rewrap(ring.unwrap_secret, new_ring.wrap_secret) == ["alice"]
    assert ids.credential_digest("alice") != before
    with pytest.raises(IntegrityError):
        login(ids, alice, clock)
    login(identities(conn, new_ring), alice, clock).require()


def test_credential_digest_ignores_counters_and_tracks_credentials(ids, alice, clock):
    digest = ids.credential_digest("alice")
    login(ids, alice, clock, "not the password!")
    ids.lock("alice", until=clock() + STEP, now=clock())
    assert ids.credential_digest("ALICE") == digest
    changes = [lambda: ids.set_password("alice", "a whole new passphrase"),
               lambda: ids.reset_mfa("alice"),
               lambda: ids.disable("alice", now=clock())]
    for change in changes:
        change()
        assert ids.credential_digest("alice") != digest
        digest = ids.credential_digest("alice")


# -- API tokens -----------------------------------------------------------------------------
@pytest.fixture
def service(ids, clock):
    return ids.add_service("etl-bot", now=clock())


def issue(ids, clock, days: int = 30, **scope):
    scope.setdefault("roles", ["analyst"])
    scope.setdefault("datasets", ["people", "visits"])
    return ids.issue_token("etl-bot", expires=clock() + timedelta(days=days), now=clock(),
                           **scope)


def test_token_scope_round_trips(ids, service, clock):
    token, info = issue(ids, clock, roles=["analyst", "auditor", "analyst"])
    assert token.startswith("veil_") and len(token) == 48
    assert info.roles == ("analyst", "auditor") and info.datasets == ("people", "visits")
    assert ids.check_token(token, now=clock()) == info
    assert ids.tokens() == ids.tokens("etl-bot") == [info]
    before = ids.token_digest(info.token_id)
    revoked = ids.revoke_token(info.token_id, now=clock())
    assert revoked.revoked == clock() and ids.token_digest(info.token_id) != before


def test_bad_tokens_are_refused_with_one_error(ids, service, clock):
    token, info = issue(ids, clock)
    expired, _ = issue(ids, clock, days=1)
    revoked, revoked_info = issue(ids, clock)
    ids.revoke_token(revoked_info.token_id, now=clock())
    forged = "veil_" + "A" * 43
    malformed = ["", "veil_", token[:-1], token + "A", token.replace("veil_", "ghp_"), None, 7]
    later = clock() + timedelta(days=1)
    for bad, when in [(expired, later), (revoked, clock()), (forged, clock()),
                      *((m, clock()) for m in malformed)]:
        with pytest.raises(AuthenticationError) as caught:
            ids.check_token(bad, now=when)
        assert str(caught.value) == "authentication failed"
    assert ids.check_token(token, now=later) == info


def test_tokens_of_locked_or_disabled_principals_are_refused(ids, service, clock):
    token, _ = issue(ids, clock)
    ids.lock("etl-bot", until=clock() + STEP, now=clock())
    with pytest.raises(AuthenticationError):
        ids.check_token(token, now=clock())
    assert ids.check_token(token, now=clock() + STEP)
    ids.disable("etl-bot", now=clock())
    with pytest.raises(AuthenticationError):
        ids.check_token(token, now=clock() + STEP)
    with pytest.raises(InputError, match="disabled"):
        issue(ids, clock)


def test_token_requests_that_are_refused(ids, service, clock):
    with pytest.raises(InputError, match="365 days"):
        issue(ids, clock, days=366)
    with pytest.raises(InputError, match="after now"):
        issue(ids, clock, days=0)
    with pytest.raises(InputError, match="list of names"):
        issue(ids, clock, roles="analyst")
    with pytest.raises(InputError, match="at least one dataset"):
        issue(ids, clock, datasets=[])
    with pytest.raises(InvalidNameError):
        issue(ids, clock, datasets=["people; drop"])
    with pytest.raises(InputError, match="timezone-aware"):
        ids.issue_token("etl-bot", roles=["a"], datasets=["b"], now=clock(),
                        expires=datetime(2030, 2, 1))
    with pytest.raises(NotFoundError):
        ids.issue_token("nobody", roles=["a"], datasets=["b"], now=clock(),
                        expires=clock() + STEP)
    _, info = issue(ids, clock)
    ids.revoke_token(info.token_id, now=clock())
    with pytest.raises(InputError, match="already revoked"):
        ids.revoke_token(info.token_id, now=clock())
    with pytest.raises(NotFoundError):
        ids.revoke_token("0123456789abcdef", now=clock())
    assert ids.tokens() == [ids.tokens("etl-bot")[0]] and ids.tokens()[0].revoked == clock()


# -- input rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(("password", "rule"), [
    ("short pw", "at least 12"),
    ("xxxxxxxxxxxxxxxx", "one character repeated"),
    ("Carol.Example", "name"),
    ("x" * 1025 + "y", "at most 1024"),
])
def test_password_policy_names_the_rule_and_never_the_password(ids, clock, password, rule):
    with pytest.raises(InputError, match=rule) as caught:
        ids.add_user("carol.example", password, now=clock())
    assert password not in str(caught.value)
    assert ids.principals() == []


@pytest.mark.parametrize("name", ["owner", "Owner", "1st", "a b", "", "x" * 65, "a/b", None])
def test_name_rules(ids, clock, name):
    with pytest.raises(InvalidNameError):
        ids.add_user(name, PASSWORD, now=clock())
    with pytest.raises(InvalidNameError):
        ids.add_service(name, now=clock())


def test_names_are_unique_ignoring_case(ids, alice, clock):
    with pytest.raises(InputError, match="already exists"):
        ids.add_service("ALICE", now=clock())
    assert ids.get("Alice").name == "alice"
    outcome = ids.authenticate("ALICE", PASSWORD, code(alice, clock()), now=clock())
    assert outcome.require().name == outcome.name == "alice"


def test_writes_need_the_callers_transaction(conn, ids, clock):
    conn.execute("COMMIT")
    with pytest.raises(WorkspaceError, match="BEGIN IMMEDIATE"):
        ids.add_user("alice", PASSWORD, now=clock())
    with pytest.raises(WorkspaceError):
        ids.authenticate("alice", PASSWORD, "123456", now=clock())
    assert ids.principals() == []


def test_times_must_be_aware(ids):
    with pytest.raises(InputError, match="timezone-aware"):
        ids.add_service("etl-bot", now=datetime(2030, 1, 1))
