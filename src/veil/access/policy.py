"""Who may do what, on which dataset, for which purpose: veil's policy engine.

The rules are Casbin's (``model.conf`` beside this module is the model; read it to know the
semantics): RBAC with domains, where a domain is a dataset or ``*`` (every dataset, and the
workspace itself), plus ABAC conditions on the purpose, the data category of the columns asked
for, the operation, the session's MFA state and the hour. A request names one category; the
guard asks once per distinct category of the columns involved (``none`` when there are none).
Deny rules win over allow rules, and nothing is allowed unless a rule allows it: a new user has
no rights.

Why not call pycasbin for each decision: its ``enforce`` evaluates the matcher on every policy
line, so a decision costs time linear in the rule count (milliseconds at ten thousand lines).
:class:`Policy` compiles the same lines into an index: rules by (subject, operation), then by
(dataset, purpose, category), each key the exact name or ``*``, and role links by dataset then
user. A decision reads at most 2 x 8 keys per subject (the user and its roles) and the lines
filed there: its time depends on the user's roles and the rules that fit the request, not on
the total. Role links may
chain (a role holding a role), looked up as Casbin's role manager does: within the dataset's
links and the ``*`` links together, up to :data:`MAX_ROLE_HOPS` hops from the user.
:meth:`Policy.enforcer` loads the same model and lines into pycasbin; a differential test holds
the two to the same answers.

Users and roles share one namespace (Casbin's): a rule or link naming ``analyst`` means the
role, and a user named like a role would hold its rights, so principals must not take role names
(:data:`ROLES` are the shipped ones). The master-key holder's principal is ``owner``, the name
of the role that may do everything.

Storage: ``access_rules`` in the catalog (:data:`SCHEMA`; one row per Casbin line, ``p`` or
``g``, fields ``v0``...``v6``: a ``p`` line has seven fields, one more than Casbin's usual
adapters store). Mutations write in the caller's transaction and return the line, for the
caller's ledger entry; :meth:`Policy.digest` binds the whole set. A trigger stamps every change
with a random token, so :meth:`Policy.sync` (run before each decision, one indexed read) picks
up changes made by other processes and drops index edits whose transaction rolled back.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from importlib.resources import files
from typing import Any, TypeVar

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from veil.access.scope import OWNER
from veil.discover.entities import Category
from veil.errors import InputError, IntegrityError, InvalidNameError, NotFoundError

__all__ = ["ANY", "DEFAULT_RULES", "MAX_ROLE_HOPS", "MODEL", "NO_CATEGORY", "ROLES", "SCHEMA",
           "Assignment", "Condition", "Decision", "Effect", "Operation", "Policy", "Request",
           "Rule", "condition"]

ANY = "*"  # any dataset, operation, purpose or category; as a dataset also the workspace itself
NO_CATEGORY = "none"  # the category of an operation that touches no columns
MAX_ROLE_HOPS = 9  # role links followed from a user, as Casbin's role manager (10 levels) does
MODEL = files("veil.access").joinpath("model.conf").read_text(encoding="utf-8")

SCHEMA = """
CREATE TABLE IF NOT EXISTS access_rules (
    ptype TEXT NOT NULL CHECK (ptype IN ('p', 'g')),
    v0 TEXT NOT NULL, v1 TEXT NOT NULL, v2 TEXT NOT NULL, v3 TEXT NOT NULL,
    v4 TEXT NOT NULL, v5 TEXT NOT NULL, v6 TEXT NOT NULL,
    UNIQUE (ptype, v0, v1, v2, v3, v4, v5, v6)
);
CREATE TABLE IF NOT EXISTS access_rules_state (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    token TEXT NOT NULL
);
INSERT OR IGNORE INTO access_rules_state (id, token) VALUES (0, '');
CREATE TRIGGER IF NOT EXISTS access_rules_added AFTER INSERT ON access_rules BEGIN
    UPDATE access_rules_state SET token = lower(hex(randomblob(16)));
END;
CREATE TRIGGER IF NOT EXISTS access_rules_removed AFTER DELETE ON access_rules BEGIN
    UPDATE access_rules_state SET token = lower(hex(randomblob(16)));
END;
CREATE TRIGGER IF NOT EXISTS access_rules_changed AFTER UPDATE ON access_rules BEGIN
    UPDATE access_rules_state SET token = lower(hex(randomblob(16)));
END;
"""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")  # the catalog's rule for names
_HOURS = re.compile(r"^hours=(\d{1,2})-(\d{1,2})$")
_SELECT = "SELECT rowid, ptype, v0, v1, v2, v3, v4, v5, v6 FROM access_rules"
_INSERT = ("INSERT INTO access_rules (ptype, v0, v1, v2, v3, v4, v5, v6) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_DELETE = ("DELETE FROM access_rules WHERE ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? "
           "AND v3 = ? AND v4 = ? AND v5 = ? AND v6 = ?")


class Operation(StrEnum):
    """What a call does; each capability asks the guard for one of these."""

    INGEST = "ingest"  # add a dataset or a version of one
    RAW_READ = "raw_read"  # read stored rows as they are
    PSEUDONYMIZED_READ = "pseudonymized_read"  # read a release (pseudonymized, anonymized, HIPAA)
    RELEASE = "release"  # make an anonymized, pseudonymized or Safe Harbor release
    REIDENTIFY = "reidentify"  # map pseudonyms back to the people they stand for
    DP_QUERY = "dp_query"  # answer an aggregate query with differential privacy
    DP_TRAIN = "dp_train"  # train a model with DP-SGD
    DP_SYNTH = "dp_synth"  # make (and evaluate) a DP synthetic release of a dataset
    MODEL_USE = "model_use"  # score with, or export, a registered model
    FEDERATE = "federate"  # take part in or run a federated training
    HE_MPC = "he_mpc"  # HE scoring, Paillier sums, MPC statistics, ZK commitments
    BUDGET_ADMIN = "budget_admin"  # set privacy budgets and DP settings
    KEY_ADMIN = "key_admin"  # rotate keys, issue TLS certificates, crypto-shred
    POLICY_ADMIN = "policy_admin"  # manage users, roles, policies and API tokens
    GOVERN = "govern"  # register purposes, set retention
    CONSENT = "consent"  # record or withdraw a data subject's consent
    DSAR = "dsar"  # serve data subject requests (access, erasure)
    AUDIT = "audit"  # read the ledger, proofs, reports and lineage


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


def _name(value: object, what: str, *, wildcard: bool) -> str:
    if wildcard and value == ANY:
        return ANY
    if not isinstance(value, str) or not _NAME.match(value):
        any_ = " or '*' for any" if wildcard else ""
        raise InvalidNameError(f"{what} name {value!r} is not allowed; use 1-64 letters, digits, "
                               f"'_', '.' or '-', starting with a letter{any_}")
    return value


def _operation(value: object, *, wildcard: bool) -> str:
    if wildcard and value == ANY:
        return ANY
    try:
        return str(Operation(value))
    except ValueError:
        any_ = " or '*'" if wildcard else ""
        raise InputError(f"unknown operation {value!r}; use one of "
                         f"{', '.join(Operation)}{any_}") from None


def _category(value: object, *, wildcard: bool) -> str:
    """A discovery category (any case), ``none`` or, in rules, ``*``."""
    if wildcard and value == ANY:
        return ANY
    text = str(value)
    if text.lower() == NO_CATEGORY:
        return NO_CATEGORY
    try:
        return str(Category(text.upper()))
    except ValueError:
        any_ = " or '*'" if wildcard else ""
        known = ", ".join(c.lower() for c in Category)
        raise InputError(f"unknown data category {value!r}; use one of {known}, "
                         f"{NO_CATEGORY}{any_}") from None


def _columns(category: str) -> str:
    """How a message names a category: 'direct_identifier columns', 'no columns'."""
    if category == NO_CATEGORY:
        return "no columns"
    return "any columns" if category == ANY else f"{category.lower()} columns"


@dataclass(frozen=True)
class Condition:
    """A rule's condition: a recent MFA step-up, and/or an hour window (UTC hours
    ``start <= hour < end``; ``start > end`` wraps past midnight, for night shifts)."""

    mfa: bool = False
    hours: tuple[int, int] | None = None

    def _in_hours(self, hour: int) -> bool:
        if self.hours is None:
            return True
        start, end = self.hours
        return start <= hour < end if start < end else (hour >= start or hour < end)

    def holds(self, mfa: bool, hour: int) -> bool:
        return (mfa or not self.mfa) and self._in_hours(hour)

    def missing(self, mfa: bool, hour: int) -> str:
        """What the session lacks for this condition, in words."""
        parts = []
        if self.mfa and not mfa:
            parts.append("a recent MFA step-up")
        if self.hours is not None and not self._in_hours(hour):
            parts.append(f"the hours {self.hours[0]}-{self.hours[1]} UTC (it is {hour}h)")
        return " and ".join(parts)

    def __str__(self) -> str:
        parts = ["mfa"] if self.mfa else []
        if self.hours is not None:
            parts.append(f"hours={self.hours[0]}-{self.hours[1]}")
        return ";".join(parts)


@lru_cache(maxsize=1024)
def condition(text: str) -> Condition:
    """Parse the condition language: ``""`` (always), ``mfa``, ``hours=A-B`` (UTC, A in 0-23,
    B in 0-24, A != B), parts joined with ``;``. ``str()`` of the result is the canonical form."""
    found = Condition()
    for part in filter(None, (p.strip() for p in text.split(";"))):
        hours = _HOURS.match(part)
        if part == "mfa" and not found.mfa:
            found = Condition(True, found.hours)
        elif hours and found.hours is None:
            start, end = int(hours[1]), int(hours[2])
            if not (start <= 23 and end <= 24 and start != end):
                raise InputError(f"hour window {part!r} in condition {text!r} is not one; use "
                                 "hours=A-B with A in 0-23, B in 0-24 and A != B")
            found = Condition(found.mfa, (start, end))
        else:
            raise InputError(f"unknown or repeated condition {part!r} in {text!r}; use 'mfa' "
                             "and/or 'hours=A-B' (UTC), joined with ';'")
    return found


@dataclass(frozen=True, order=True)
class Rule:
    """One policy line (Casbin ``p``). Construction validates every field and puts it in
    canonical form, so a Rule in hand is one the model understands and equal rules compare
    equal."""

    subject: str
    dataset: str = ANY
    operation: str = ANY
    purpose: str = ANY
    category: str = ANY
    condition: str = ""
    effect: str = Effect.ALLOW

    def __post_init__(self) -> None:
        if not isinstance(self.condition, str):
            raise InputError(f"a condition is text; got {self.condition!r}")
        try:
            effect = str(Effect(self.effect))
        except ValueError:
            raise InputError(f"unknown effect {self.effect!r}; use allow or deny") from None
        canonical = {
            "subject": _name(self.subject, "subject", wildcard=False),
            "dataset": _name(self.dataset, "dataset", wildcard=True),
            "operation": _operation(self.operation, wildcard=True),
            "purpose": _name(self.purpose, "purpose", wildcard=True),
            "category": _category(self.category, wildcard=True),
            "condition": str(condition(self.condition)),
            "effect": effect,
        }
        for attr, value in canonical.items():
            object.__setattr__(self, attr, value)

    def row(self) -> tuple[str, ...]:
        """The catalog row (and Casbin line): ptype then the fields in the model's order."""
        return ("p", self.subject, self.dataset, self.operation, self.purpose, self.category,
                self.condition, self.effect)

    def __str__(self) -> str:
        when = f" if {self.condition}" if self.condition else ""
        return (f"{self.effect} {self.subject} {self.operation} on {self.dataset} for "
                f"{self.purpose} on {_columns(self.category)}{when}")


@dataclass(frozen=True, order=True)
class Assignment:
    """A role held by a user (or by another role) on one dataset, or on all with ``*``
    (Casbin ``g``)."""

    user: str
    role: str
    dataset: str = ANY

    def __post_init__(self) -> None:
        _name(self.user, "user", wildcard=False)
        _name(self.role, "role", wildcard=False)
        _name(self.dataset, "dataset", wildcard=True)
        if self.user == self.role:
            raise InputError(f"{self.role!r} cannot hold itself as a role")

    def row(self) -> tuple[str, ...]:
        return ("g", self.user, self.role, self.dataset, "", "", "", "")

    def __str__(self) -> str:
        return f"{self.user} holds {self.role} on {self.dataset}"


Line = TypeVar("Line", Rule, Assignment)


def _utc_hour() -> int:
    return datetime.now(UTC).hour


@dataclass(frozen=True, slots=True)
class Request:
    """One question to the policy: may ``subject`` (a user, or a role to decide by that role
    alone) do ``operation`` on ``dataset`` (``*``: the workspace itself) for ``purpose`` on
    columns of ``category``, with this MFA state at this UTC hour?"""

    subject: str
    dataset: str
    operation: str
    purpose: str
    category: str = NO_CATEGORY
    mfa: bool = False
    hour: int = field(default_factory=_utc_hour)

    def __post_init__(self) -> None:
        _name(self.subject, "subject", wildcard=False)
        _name(self.dataset, "dataset", wildcard=True)
        _name(self.purpose, "purpose", wildcard=False)
        object.__setattr__(self, "operation", _operation(self.operation, wildcard=False))
        object.__setattr__(self, "category", _category(self.category, wildcard=False))
        if isinstance(self.hour, bool) or not isinstance(self.hour, int) or not (
                0 <= self.hour <= 23):
            raise InputError(f"hour must be an integer in 0-23; got {self.hour!r}")

    def values(self) -> tuple[Any, ...]:
        """The request as Casbin's ``r`` (``Enforcer.enforce(*request.values())``)."""
        return (self.subject, self.dataset, self.operation, self.purpose, self.category,
                bool(self.mfa), self.hour)


@dataclass(frozen=True)
class Decision:
    """The answer, the rule behind it (the allowing rule, or the deny rule that refused; None
    when nothing matched) and a message that says, when refused, what is missing."""

    allowed: bool
    rule: Rule | None
    message: str

    def __bool__(self) -> bool:  # a refusal must never read as true in `if decision:`
        return self.allowed


class _Index:
    """The compiled lines. Rules are filed by (subject, operation), then by (dataset, purpose,
    category), each key holding the exact name or ``*``, down to a tuple of (rule, condition
    or None, is deny); links map dataset -> user -> roles. A request reads at most eight keys
    per (subject, operation) pair, whatever the rule count. Leaves are tuples and frozensets
    replaced on change, so a decision may read while one writer edits."""

    def __init__(self, lines: Iterable[Rule | Assignment] = ()) -> None:
        self.rules: dict[Rule, None] = {}
        self.assignments: dict[Assignment, None] = {}
        self.tree: dict[tuple[str, str], dict[tuple[str, str, str], tuple[Any, ...]]] = {}
        self.links: dict[str, dict[str, frozenset[str]]] = {}
        self.digest: str | None = None
        for line in lines:
            self.add(line)

    def __contains__(self, line: object) -> bool:
        return line in self.rules or line in self.assignments

    def _leaf(self, rule: Rule) -> tuple[dict[tuple[str, str, str], tuple[Any, ...]],
                                         tuple[str, str, str]]:
        node = self.tree.setdefault((rule.subject, rule.operation), {})
        return node, (rule.dataset, rule.purpose, rule.category)

    def add(self, line: Rule | Assignment) -> None:
        self.digest = None
        if isinstance(line, Rule):
            self.rules[line] = None
            node, key = self._leaf(line)
            compiled = (line, condition(line.condition) if line.condition else None,
                        line.effect == Effect.DENY)
            node[key] = (*node.get(key, ()), compiled)
        else:
            self.assignments[line] = None
            graph = self.links.setdefault(line.dataset, {})
            graph[line.user] = graph.get(line.user, frozenset()) | {line.role}

    def remove(self, line: Rule | Assignment) -> None:
        self.digest = None
        if isinstance(line, Rule):
            del self.rules[line]
            node, key = self._leaf(line)
            node[key] = tuple(c for c in node[key] if c[0] != line)
        else:
            del self.assignments[line]
            graph = self.links[line.dataset]
            graph[line.user] = graph[line.user] - {line.role}

    def subjects(self, subject: str, dataset: str) -> set[str]:
        """``subject`` and every role it reaches through links on ``dataset`` or ``*``."""
        graphs = [g for g in (self.links.get(dataset),
                              self.links.get(ANY) if dataset != ANY else None) if g]
        found, frontier = {subject}, [subject]
        for _ in range(MAX_ROLE_HOPS):
            frontier = [role for name in frontier for graph in graphs
                        for role in graph.get(name, ()) if role not in found]
            if not frontier:
                break
            found.update(frontier)
        return found

    def buckets(self, request: Request, subjects: Iterable[str]) -> list[tuple[Any, ...]]:
        """The lines filed under the request's values or ``*`` at every key."""
        datasets = (ANY,) if request.dataset == ANY else (request.dataset, ANY)
        keys = [(d, p, c) for d in datasets for p in (request.purpose, ANY)
                for c in (request.category, ANY)]
        found = []
        for subject in subjects:
            for operation in (request.operation, ANY):
                node = self.tree.get((subject, operation))
                if node:
                    found += [lines for key in keys if (lines := node.get(key))]
        return found


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(OWNER),
    *(Rule("steward", operation=op) for op in (
        Operation.INGEST, Operation.PSEUDONYMIZED_READ, Operation.RELEASE,
        Operation.DP_SYNTH, Operation.BUDGET_ADMIN, Operation.GOVERN, Operation.AUDIT)),
    *(Rule("steward", operation=Operation.RAW_READ, category=c) for c in (
        Category.QUASI_IDENTIFIER, Category.SENSITIVE, Category.OTHER, NO_CATEGORY)),
    Rule("steward", operation=Operation.RAW_READ, category=Category.DIRECT_IDENTIFIER,
         condition="mfa"),
    Rule("steward", operation=Operation.REIDENTIFY, condition="mfa"),
    *(Rule("analyst", operation=op) for op in (Operation.DP_QUERY,
                                               Operation.PSEUDONYMIZED_READ)),
    *(Rule("ml_engineer", operation=op) for op in (
        Operation.DP_TRAIN, Operation.DP_SYNTH, Operation.MODEL_USE, Operation.FEDERATE,
        Operation.DP_QUERY)),
    Rule("auditor", operation=Operation.AUDIT),
    *(Rule("dpo", operation=op) for op in (
        Operation.CONSENT, Operation.DSAR, Operation.GOVERN, Operation.AUDIT)),
)
ROLES: tuple[str, ...] = tuple(dict.fromkeys(rule.subject for rule in DEFAULT_RULES))


def _cond(text: str, mfa: bool, hour: int) -> bool:
    """The model's ``cond`` function for pycasbin."""
    return condition(text).holds(mfa, hour)


def _domain_inherits(dataset: str, linked: str) -> bool:
    """Role links in ``*`` hold on every dataset (pycasbin's domain matching function)."""
    return linked == ANY


class _Lines(Adapter):
    """Feeds the policy's lines to pycasbin the way its file adapter feeds a CSV's."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def load_policy(self, model: Any) -> None:
        for line in self._lines:
            load_policy_line(line, model)


def _parse_row(row: tuple[Any, ...]) -> Rule | Assignment:
    rowid, ptype, *values = row
    try:
        if ptype == "p":
            return Rule(*values)
        if ptype == "g" and not any(values[3:]):
            return Assignment(*values[:3])
    except (InputError, TypeError) as exc:
        raise IntegrityError(f"access_rules row {rowid} is not a valid rule: {exc}") from None
    raise IntegrityError(f"access_rules row {rowid} is not a valid rule")


class Policy:
    """The workspace's rules, compiled for fast decisions, kept in step with ``access_rules``.

    ``datasets``, when given, tells whether a dataset exists: rules and links naming an
    unknown one are refused (removing them is not, so a dropped dataset's rules can go).
    Mutations run in the caller's transaction; the caller logs the line they return to the
    ledger, with :meth:`digest`.
    """

    def __init__(self, conn: sqlite3.Connection, *,
                 datasets: Callable[[str], bool] | None = None) -> None:
        self._conn = conn
        self._datasets = datasets
        self._token: str | None = None
        self._index = _Index()
        self.sync()

    # -- keeping in step with the catalog ------------------------------------------------------
    def _read_token(self) -> str:
        return self._conn.execute("SELECT token FROM access_rules_state").fetchone()[0]

    def sync(self) -> bool:
        """Reload the index if the table changed since this object last saw it (another
        process's commit, or a rolled-back edit of ours); True when it reloaded."""
        token = self._read_token()  # before the rows: a commit in between only reloads again
        if token == self._token:
            return False
        self._index = _Index(_parse_row(row) for row in self._conn.execute(_SELECT))
        self._token = token
        return True

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, request: Request) -> Decision:
        """Allowed if a rule allows the request and no deny rule matches it."""
        self.sync()
        index = self._index
        subjects = index.subjects(request.subject, request.dataset)
        allows: list[Rule] = []
        denies: list[Rule] = []
        unmet: list[tuple[Rule, Condition]] = []
        for bucket in index.buckets(request, subjects):
            for rule, cond, deny in bucket:
                if cond is None or cond.holds(request.mfa, request.hour):
                    (denies if deny else allows).append(rule)
                elif not deny:
                    unmet.append((rule, cond))
        if denies:
            rule = min(denies)
            return Decision(False, rule, f"the rule '{rule}' refuses to let "
                                         f"{self._asked(request, subjects)}")
        if allows:
            rule = min(allows)
            return Decision(True, rule, f"allowed by the rule '{rule}'")
        needs = "".join(f"; the rule '{rule}' needs {cond.missing(request.mfa, request.hour)}"
                        for rule, cond in sorted(unmet, key=lambda u: u[0]))
        return Decision(False, None, f"no rule lets {self._asked(request, subjects)}{needs}")

    @staticmethod
    def _asked(request: Request, subjects: set[str]) -> str:
        where = "the workspace" if request.dataset == ANY else repr(request.dataset)
        roles = sorted(subjects - {request.subject})
        held = f"roles {', '.join(roles)}" if roles else "no roles"
        return (f"{request.subject!r} ({held} on {where}) {request.operation} {where} for "
                f"purpose {request.purpose!r} on {_columns(request.category)}")

    def roles(self, user: str, dataset: str) -> frozenset[str]:
        """The roles ``user`` holds on ``dataset``: its links there and on ``*``, and the
        roles those roles hold, transitively."""
        self.sync()
        return frozenset(self._index.subjects(user, dataset) - {user})

    # -- reading the rule set ------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        self.sync()
        return sorted(self._index.rules)

    def assignments(self) -> list[Assignment]:
        self.sync()
        return sorted(self._index.assignments)

    def __contains__(self, line: object) -> bool:
        self.sync()
        return line in self._index

    def digest(self) -> str:
        """SHA-256 of the canonical rule set (sorted rows as JSON), for binding in the ledger."""
        self.sync()
        index = self._index
        if index.digest is None:
            rows = sorted(line.row() for line in (*index.rules, *index.assignments))
            text = json.dumps(rows, separators=(",", ":"))
            index.digest = hashlib.sha256(text.encode()).hexdigest()
        return index.digest

    def enforcer(self) -> casbin.Enforcer:
        """The same model and lines in pycasbin: the reference semantics (and the baseline the
        benchmark races). Ask it with ``enforce(*request.values())``."""
        self.sync()
        lines = [", ".join(line.row()) for line in (*self._index.rules,
                                                     *self._index.assignments)]
        enforcer = casbin.Enforcer(casbin.Enforcer.new_model(text=MODEL), _Lines(lines))
        enforcer.add_function("cond", _cond)
        enforcer.add_named_domain_matching_func("g", _domain_inherits)
        return enforcer

    # -- changes (in the caller's transaction) -------------------------------------------------
    def allow(self, subject: str, operation: str, *, dataset: str = ANY, purpose: str = ANY,
              category: str = ANY, condition: str = "") -> Rule:
        return self.add(Rule(subject, dataset, operation, purpose, category, condition,
                             Effect.ALLOW))

    def deny(self, subject: str, operation: str, *, dataset: str = ANY, purpose: str = ANY,
             category: str = ANY, condition: str = "") -> Rule:
        return self.add(Rule(subject, dataset, operation, purpose, category, condition,
                             Effect.DENY))

    def remove_rule(self, rule: Rule) -> Rule:
        return self.remove(rule)

    def assign(self, user: str, role: str, dataset: str = ANY) -> Assignment:
        return self.add(Assignment(user, role, dataset))

    def unassign(self, user: str, role: str, dataset: str = ANY) -> Assignment:
        return self.remove(Assignment(user, role, dataset))

    def install_defaults(self) -> list[Rule]:
        """Add the shipped roles' lines that are missing; returns those it added."""
        return [self.add(rule) for rule in DEFAULT_RULES if rule not in self]

    def add(self, line: Line) -> Line:
        """Write one line and index it; a line already there is refused."""
        self.sync()
        if line.dataset != ANY and self._datasets is not None and not self._datasets(
                line.dataset):
            raise NotFoundError(f"no dataset {line.dataset!r} in this workspace; name one of "
                                "its datasets, or '*' for all")
        if line in self._index:
            raise InputError(f"already in the policy: {line}")
        self._conn.execute(_INSERT, line.row())
        self._index.add(line)
        self._token = self._read_token()
        return line

    def remove(self, line: Line) -> Line:
        """Delete one line and drop it from the index; a line not there is refused."""
        self.sync()
        if line not in self._index:
            raise NotFoundError(f"not in the policy: {line}")
        self._conn.execute(_DELETE, line.row())
        self._index.remove(line)
        self._token = self._read_token()
        return line
