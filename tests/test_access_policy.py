"""The policy engine: shipped roles, deny precedence, conditions, domains, role chains, storage,
and the compiled decision held to pycasbin's answers on random policies."""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path

import pytest

from veil.access.policy import (
    ANY,
    DEFAULT_RULES,
    MAX_ROLE_HOPS,
    NO_CATEGORY,
    ROLES,
    SCHEMA,
    Assignment,
    Operation,
    Policy,
    Request,
    Rule,
    condition,
)
from veil.discover.entities import Category
from veil.errors import InputError, IntegrityError, InvalidNameError, NotFoundError

CATEGORIES = (*(str(c) for c in Category), NO_CATEGORY)
DIRECT = str(Category.DIRECT_IDENTIFIER)


def _connect(path: str | Path = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


@pytest.fixture
def conn() -> sqlite3.Connection:
    return _connect()


@pytest.fixture
def policy(conn: sqlite3.Connection) -> Policy:
    return Policy(conn)


def ask(policy: Policy, who: str, operation: str, *, dataset: str = "patients",
        purpose: str = "research", category: str = NO_CATEGORY, mfa: bool = False,
        hour: int = 12) -> bool:
    """Ask the compiled policy and pycasbin; they must agree."""
    request = Request(who, dataset, operation, purpose, category, mfa, hour)
    decision = policy.decide(request)
    assert decision.allowed == policy.enforcer().enforce(*request.values()), request
    return decision.allowed


def test_a_new_user_has_no_rights(policy: Policy) -> None:
    policy.install_defaults()
    for operation in Operation:
        for category in CATEGORIES:
            for dataset in ("patients", ANY):
                request = Request("newbie", dataset, operation, "research", category, True, 12)
                decision = policy.decide(request)
                assert not decision and decision.rule is None
                assert "no rule lets 'newbie' (no roles on" in decision.message
    assert policy.roles("newbie", "patients") == frozenset()


ALL = frozenset(CATEGORIES)
# role: (categories allowed per operation without MFA, those allowed only with a step-up)
SHIPPED: dict[str, tuple[dict[Operation, frozenset[str]], dict[Operation, frozenset[str]]]] = {
    "owner": ({op: ALL for op in Operation}, {}),
    "steward": ({Operation.INGEST: ALL, Operation.RAW_READ: ALL - {DIRECT},
                 Operation.PSEUDONYMIZED_READ: ALL, Operation.RELEASE: ALL,
                 Operation.DP_SYNTH: ALL, Operation.BUDGET_ADMIN: ALL, Operation.GOVERN: ALL,
                 Operation.AUDIT: ALL},
                {Operation.RAW_READ: frozenset({DIRECT}), Operation.REIDENTIFY: ALL}),
    "analyst": ({Operation.DP_QUERY: ALL, Operation.PSEUDONYMIZED_READ: ALL}, {}),
    "ml_engineer": ({Operation.DP_TRAIN: ALL, Operation.DP_SYNTH: ALL, Operation.MODEL_USE: ALL,
                     Operation.FEDERATE: ALL, Operation.DP_QUERY: ALL}, {}),
    "auditor": ({Operation.AUDIT: ALL}, {}),
    "dpo": ({Operation.CONSENT: ALL, Operation.DSAR: ALL, Operation.GOVERN: ALL,
             Operation.AUDIT: ALL}, {}),
}


@pytest.mark.parametrize("role", sorted(SHIPPED))
def test_shipped_roles_allow_exactly_their_operations(policy: Policy, role: str) -> None:
    assert set(ROLES) == set(SHIPPED)
    policy.install_defaults()
    policy.assign("alice", role, "patients")
    plain, step_up = SHIPPED[role]
    enforcer = policy.enforcer()
    for operation in Operation:
        for category in CATEGORIES:
            for mfa in (False, True):
                request = Request("alice", "patients", operation, "research", category, mfa, 3)
                want = category in plain.get(operation, ()) or (
                    mfa and category in step_up.get(operation, ()))
                assert policy.decide(request).allowed == want, request
                assert enforcer.enforce(*request.values()) == want, request
    # the role was granted on 'patients' only
    assert not any(ask(policy, "alice", op, dataset="claims") for op in Operation)


def test_install_defaults_adds_only_what_is_missing(policy: Policy) -> None:
    assert policy.install_defaults() == list(DEFAULT_RULES)
    assert policy.install_defaults() == []
    policy.remove_rule(DEFAULT_RULES[3])
    assert policy.install_defaults() == [DEFAULT_RULES[3]]


def test_deny_overrides_allow(policy: Policy) -> None:
    policy.install_defaults()
    policy.assign("bob", "analyst")
    assert ask(policy, "bob", Operation.DP_QUERY)
    refusal = policy.deny("bob", Operation.DP_QUERY, dataset="patients", purpose="marketing")
    assert ask(policy, "bob", Operation.DP_QUERY)  # other purpose
    assert ask(policy, "bob", Operation.DP_QUERY, dataset="claims", purpose="marketing")
    assert not ask(policy, "bob", Operation.DP_QUERY, purpose="marketing")
    decision = policy.decide(Request("bob", "patients", "dp_query", "marketing", "OTHER",
                                     False, 12))
    assert decision.rule == refusal
    assert decision.message.startswith(f"the rule '{refusal}' refuses to let 'bob'")
    # a deny on a role reaches everyone holding it, even the owner role's everything
    policy.assign("carol", "owner")
    policy.assign("carol", "frozen", "patients")
    policy.deny("frozen", ANY, dataset="patients")
    assert not ask(policy, "carol", Operation.AUDIT)
    assert ask(policy, "carol", Operation.AUDIT, dataset="claims")


def test_conditions_mfa_and_hours(policy: Policy) -> None:
    policy.allow("nurse", Operation.RAW_READ, condition=" hours=8-18 ; mfa ")
    (rule,) = policy.rules()
    assert rule.condition == "mfa;hours=8-18"
    assert [h for h in range(24) if ask(policy, "nurse", "raw_read", mfa=True, hour=h)] == \
        list(range(8, 18))
    assert not any(ask(policy, "nurse", "raw_read", hour=h) for h in range(24))
    message = policy.decide(Request("nurse", "patients", "raw_read", "care", mfa=False,
                                    hour=20)).message
    assert message.endswith("needs a recent MFA step-up and the hours 8-18 UTC (it is 20h)")
    policy.allow("night", Operation.RAW_READ, condition="hours=22-6")
    assert [h for h in range(24) if ask(policy, "night", "raw_read", hour=h)] == \
        [0, 1, 2, 3, 4, 5, 22, 23]
    # a conditional deny refuses only while its condition holds
    policy.allow("guard", Operation.AUDIT)
    policy.deny("guard", Operation.AUDIT, condition="hours=0-6")
    assert [h for h in range(24) if not ask(policy, "guard", "audit", hour=h)] == list(range(6))


@pytest.mark.parametrize("text", ["sudo", "mfa;mfa", "hours=8-8", "hours=24-3", "hours=3-25",
                                  "hours=8-18;hours=1-2", "hours=8", "MFA"])
def test_bad_conditions_are_refused_by_name(text: str) -> None:
    with pytest.raises(InputError, match=r"condition|hour window"):
        condition(text)


def test_a_role_on_one_dataset_grants_nothing_on_another(policy: Policy) -> None:
    policy.install_defaults()
    policy.assign("dana", "analyst", "patients")
    assert ask(policy, "dana", Operation.DP_QUERY, dataset="patients")
    assert not ask(policy, "dana", Operation.DP_QUERY, dataset="claims")
    assert not ask(policy, "dana", Operation.DP_QUERY, dataset=ANY)  # the workspace itself
    assert policy.roles("dana", "patients") == {"analyst"}
    assert policy.roles("dana", "claims") == frozenset()
    # a rule limited to a dataset stays there, even for a role held everywhere
    policy.assign("erin", "reader")
    policy.allow("reader", Operation.PSEUDONYMIZED_READ, dataset="claims")
    assert ask(policy, "erin", Operation.PSEUDONYMIZED_READ, dataset="claims")
    assert not ask(policy, "erin", Operation.PSEUDONYMIZED_READ, dataset="patients")
    # a role held on '*' reaches every dataset and the workspace
    policy.assign("dana", "auditor")
    assert ask(policy, "dana", Operation.AUDIT, dataset="claims")
    assert ask(policy, "dana", Operation.AUDIT, dataset=ANY)


def test_roles_may_hold_roles_up_to_casbins_depth(policy: Policy) -> None:
    policy.install_defaults()
    policy.assign("lead", "analyst")  # in '*': joins every dataset's links
    policy.assign("fay", "lead", "patients")
    assert policy.roles("fay", "patients") == {"lead", "analyst"}
    assert ask(policy, "fay", Operation.DP_QUERY)
    assert not ask(policy, "fay", Operation.DP_QUERY, dataset="claims")
    chain = [f"level{i}" for i in range(MAX_ROLE_HOPS + 2)]
    policy.assign("gus", chain[0], "patients")
    for lower, upper in itertools.pairwise(chain):
        policy.assign(lower, upper, "patients")
    for depth, role in enumerate(chain, start=1):
        policy.allow(role, Operation.FEDERATE, purpose=f"p{depth}")
        assert ask(policy, "gus", Operation.FEDERATE, purpose=f"p{depth}") == (
            depth <= MAX_ROLE_HOPS)
    # a token's session is decided by one role alone
    assert policy.decide(Request("lead", "claims", "dp_query", "research")).allowed


USERS = [f"u{i}" for i in range(4)]
ROLE_NAMES = [f"r{i}" for i in range(5)]
DATASETS = ["d0", "d1", ANY]
OPERATIONS = list(Operation)[:3]


def _random_policy(rng: random.Random, policy: Policy) -> None:
    """A small vocabulary, so that random requests often meet rules, denies and conditions."""
    for _ in range(rng.randint(5, 40)):
        rule = Rule(rng.choice(USERS + ROLE_NAMES * 3), rng.choice(DATASETS),
                    rng.choice([*OPERATIONS, ANY]), rng.choice(["p0", "p1", ANY]),
                    rng.choice([*CATEGORIES[:2], ANY]),
                    rng.choice(["", "", "mfa", "hours=8-18", "hours=20-4", "mfa;hours=8-18"]),
                    rng.choice(["allow", "allow", "deny"]))
        if rule not in policy:
            policy.add(rule)
    for _ in range(rng.randint(0, 20)):
        user = rng.choice(USERS + ROLE_NAMES)
        link = Assignment(user, rng.choice([r for r in ROLE_NAMES if r != user]),
                          rng.choice(DATASETS))
        if link not in policy:
            policy.add(link)


def _random_request(rng: random.Random) -> Request:
    return Request(rng.choice([*USERS, "r0", "r3"]), rng.choice(DATASETS),
                   rng.choice(OPERATIONS), rng.choice(["p0", "p1", "p2"]),
                   rng.choice(CATEGORIES[:3]), rng.random() < 0.5, rng.randrange(24))


def test_compiled_decisions_equal_pycasbin_on_random_policies() -> None:
    rng = random.Random(20240611)
    answers = {"allowed": 0, "denied by a rule": 0, "nothing matched": 0}
    for _ in range(40):
        policy = Policy(_connect())
        _random_policy(rng, policy)
        for phase in range(2):
            if phase:  # the index must also follow removals
                for line in rng.sample(policy.rules(), k=len(policy.rules()) // 3):
                    policy.remove_rule(line)
                for link in rng.sample(policy.assignments(), k=len(policy.assignments()) // 3):
                    policy.unassign(link.user, link.role, link.dataset)
            enforcer = policy.enforcer()
            for _ in range(100):
                request = _random_request(rng)
                want = enforcer.enforce(*request.values())
                decision = policy.decide(request)
                assert decision.allowed == want, (request, policy.rules(), policy.assignments())
                effect = decision.rule.effect if decision.rule else None
                assert effect in (("allow",) if want else (None, "deny"))
                answers[{"allow": "allowed", "deny": "denied by a rule",
                         None: "nothing matched"}[effect]] += 1
    assert sum(answers.values()) == 8000
    assert min(answers.values()) > 400, answers  # every kind of answer well exercised


def test_reloading_from_the_table_gives_the_same_decisions(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    first = Policy(_connect(db))
    first.install_defaults()
    rng = random.Random(5)
    _random_policy(rng, first)
    again = Policy(_connect(db))
    assert again.rules() == first.rules() and again.assignments() == first.assignments()
    assert again.digest() == first.digest()
    for _ in range(500):
        request = _random_request(rng)
        assert again.decide(request) == first.decide(request)


def test_changes_by_another_connection_and_rollbacks_are_seen(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    conn = _connect(db)
    server, admin = Policy(conn), Policy(_connect(db))
    admin.install_defaults()
    admin.assign("hal", "analyst")
    assert ask(server, "hal", Operation.DP_QUERY)  # another process's commit is picked up
    admin.unassign("hal", "analyst")
    assert not ask(server, "hal", Operation.DP_QUERY)  # and so is a revocation
    conn.execute("BEGIN IMMEDIATE")
    server.assign("hal", "analyst")
    assert ask(server, "hal", Operation.DP_QUERY)
    conn.execute("ROLLBACK")
    assert not ask(server, "hal", Operation.DP_QUERY)  # the rolled-back grant is gone
    assert server.digest() == admin.digest()


def test_unknown_names_are_refused_and_nothing_is_written(conn: sqlite3.Connection) -> None:
    policy = Policy(conn, datasets=lambda name: name in {"patients", "claims"})
    policy.install_defaults()
    before = policy.digest()
    refusals = [
        (lambda: policy.allow("ann", "raw-read"), InputError, "'raw-read'"),
        (lambda: policy.allow("ann", "raw_read", category="secret"), InputError, "'secret'"),
        (lambda: policy.allow("ann", "raw_read", condition="sudo"), InputError, "'sudo'"),
        (lambda: policy.allow("ann", "raw_read", dataset="tables"), NotFoundError, "'tables'"),
        (lambda: policy.assign("ann", "analyst", "tables"), NotFoundError, "'tables'"),
        (lambda: policy.allow(ANY, "raw_read"), InvalidNameError, r"'\*'"),
        (lambda: policy.allow("ann smith", "raw_read"), InvalidNameError, "'ann smith'"),
        (lambda: policy.allow("ann", "raw_read", purpose="a,b"), InvalidNameError, "'a,b'"),
        (lambda: policy.add(Rule("ann", effect="maybe")), InputError, "'maybe'"),
        (lambda: policy.assign("analyst", "analyst"), InputError, "itself"),
        (lambda: policy.add(DEFAULT_RULES[0]), InputError, "already"),
        (lambda: policy.remove_rule(Rule("ann")), NotFoundError, "ann"),
        (lambda: policy.unassign("ann", "analyst"), NotFoundError, "ann holds analyst"),
        (lambda: Request("ann", "patients", "fly", "research"), InputError, "'fly'"),
        (lambda: Request("ann", "patients", "audit", ANY), InvalidNameError, "purpose"),
        (lambda: Request("ann", "patients", "audit", "x", "secret"), InputError, "'secret'"),
        (lambda: Request("ann", "patients", "audit", "x", hour=24), InputError, "0-23"),
    ]
    for call, error, named in refusals:
        with pytest.raises(error, match=named):
            call()
    assert policy.digest() == before
    assert conn.execute("SELECT COUNT(*) FROM access_rules").fetchone()[0] == len(
        DEFAULT_RULES)
    policy.allow("ann", "raw_read", dataset="claims", category="quasi_identifier")  # known


def test_a_tampered_row_is_refused_on_load(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO access_rules VALUES ('p', 'x', '*', 'fly', '*', '*', '', "
                         "'allow')")
    with pytest.raises(IntegrityError, match="row 1"):
        Policy(conn)


def test_the_digest_changes_with_every_change_and_only_then(policy: Policy) -> None:
    seen = {policy.digest()}
    changes = [
        policy.install_defaults,
        lambda: policy.allow("ivy", Operation.DP_QUERY, dataset="patients"),
        lambda: policy.allow("ivy", Operation.DP_QUERY, dataset="patients", condition="mfa"),
        lambda: policy.deny("ivy", Operation.DP_QUERY, dataset="patients"),
        lambda: policy.assign("ivy", "analyst", "patients"),
        lambda: policy.assign("ivy", "analyst"),
        lambda: policy.unassign("ivy", "analyst", "patients"),
        lambda: policy.remove_rule(Rule("ivy", "patients", "dp_query", effect="deny")),
    ]
    for change in changes:
        change()
        digest = policy.digest()
        assert digest not in seen
        seen.add(digest)
        policy.decide(Request("ivy", "patients", "dp_query", "research"))
        policy.roles("ivy", "patients")
        policy.rules()
        with pytest.raises(InputError):
            policy.allow("ivy", "nothing")
        assert policy.digest() == digest
    # the digest is of the set, not of its history
    other = Policy(_connect())
    for line in reversed([*policy.rules(), *policy.assignments()]):
        other.add(line)
    assert other.digest() == policy.digest()


def test_a_decision_reads_false_when_refused(policy: Policy) -> None:
    decision = policy.decide(Request("jo", ANY, "audit", "administration"))
    assert not decision and decision.message == (
        "no rule lets 'jo' (no roles on the workspace) audit the workspace for purpose "
        "'administration' on no columns")
