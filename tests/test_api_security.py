"""The service's security, route by route: no route answers without a session, every route
names what the guard will ask and the guard's answer for every shipped role is the one the
role's rights give (a table of every route x role, asserted in full), CSRF on cookie sessions,
cookie flags, sign-in rate limit and lockout, TLS only, no path traversal, bounded bodies, and
no personal value in the server's log.

Routes are enumerated from the app, so a new route is covered at once: the tables fail for a
route without an example request (``EXAMPLES``) or without ``x-veil-operations``."""

from __future__ import annotations

import itertools
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from conftest import snapshot
from service import EVERYTHING, PASSWORD, World, build_world, client, serve
from test_access_guard import EXPECTED
from veil import Workspace
from veil.access.guard import STEP_UP
from veil.access.policy import Operation
from veil.api.app import create_app
from veil.api.pool import WorkspacePool
from veil.errors import InputError

OPERATIONS = "x-veil-operations"
PUBLIC = {("POST", "/auth/login")}  # the one route that makes a session rather than using one
_count = itertools.count()


def fresh(prefix: str) -> str:
    """A name no other request of this module used (for anything that creates state)."""
    return f"{prefix}-{next(_count)}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operations: tuple[str, ...] | None  # None: the route does not say

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def routes(app: FastAPI) -> list[Route]:
    """Every API route of ``app`` (not the dashboard's pages, not ``/openapi.json``), with the
    operations its ``openapi_extra`` names."""
    found = []
    for route in _api_routes(app):
        if route.path.startswith("/ui"):
            continue
        extra = (route.openapi_extra or {}).get(OPERATIONS)
        for method in sorted(set(route.methods) - {"HEAD"}):
            found.append(Route(method, route.path, None if extra is None else tuple(extra)))
    return found


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """``app``'s API routes with their full paths: FastAPI from 0.13x keeps included routers
    whole in ``app.routes`` and walks them with ``iter_route_contexts``; before, the routes
    were copied into ``app.routes``."""
    from fastapi import routing

    walk = getattr(routing, "iter_route_contexts", None)
    for route in walk(app.routes) if walk else app.routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


# -- example requests, one per route -----------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A valid request to a route: path parameters, query, and a JSON body or a form; ``ok``:
    what an allowed caller gets when it is not a success (the request is refused after the
    guard allowed it: real federations and MPC parties are test_api_compute's); ``purpose``:
    the purpose it is sent for, when not ``everything``."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    ok: int | None = None
    purpose: str | None = None


class Setup:
    """What an example may need: the world, and the owner's workspace to make fresh state
    (each call of an example that changes something makes its own target). ``role`` is the
    role the example is made for."""

    def __init__(self, world: World, app: FastAPI) -> None:
        self.world, self.app = world, app
        self.role = "owner"
        self.csv = world.frame.head(20).write_csv().encode()
        with self.owner() as ws:
            self.token = ws.read("patients.pseudonymized", columns=["email"])["email"][0]
            self.erasure = ws.requests.erase("P9999999").request_id  # holds nobody
        self._tokens: dict[str, tuple[str, float]] = {}
        self._cached: dict[str, Any] = {}

    def owner(self) -> Workspace:
        return Workspace.open(self.world.path, master_key=self.world.master)

    def bearer(self, role: str | None = None) -> str:
        """A session token of ``role`` (default: :attr:`role`), renewed well within the
        step-up window (its MFA time is when it was made)."""
        role = role or self.role
        token, made = self._tokens.get(role, ("", -STEP_UP.total_seconds()))
        if time.monotonic() - made > STEP_UP.total_seconds() / 2:
            token = self.world.token(role)
            self._tokens[role] = token, time.monotonic()
        return token

    def dataset(self, retention: bool = False) -> str:
        """A fresh small dataset (version 1), with a retention policy if asked."""
        from veil.govern.retention import Retention

        name = fresh("ds")
        with self.owner() as ws:
            ws.ingest(self.world.frame.head(5), name, subject_id="patient_id", classify=False)
            if retention:
                ws.retention.set(name, Retention(keep_versions_days=3650))
        return name

    def user(self) -> str:
        name = fresh("user")
        with self.owner() as ws:
            ws.users.add(name, PASSWORD)
        return name

    def purpose(self) -> str:
        from veil.govern.purposes import LawfulBasis, Purpose

        name = fresh("purpose")
        with self.owner() as ws:
            ws.purposes.add(Purpose(name, "ends in the security test",
                                    LawfulBasis.LEGITIMATE_INTERESTS, {"patients": ("sex",)},
                                    frozenset({"dp_query"}), consent_required=False,
                                    retention_days=None))
        return name

    def token_id(self) -> str:
        with self.owner() as ws:
            _, info = ws.users.issue_token("u-analyst", roles=["analyst"], datasets=["patients"],
                                           days=1)
        return info.token_id

    def job(self) -> str:
        """A finished job of :attr:`role`'s (a job is only its requester's to see)."""
        token = self.bearer()
        with self.owner() as ws:
            session = ws.session(token, purpose=EVERYTHING)
        return self.app.state.jobs.submit(session, token, "test.nothing", lambda s: None).id

    def upload(self, name: str | None = None) -> Example:
        return Example(form={"name": name or fresh("up"), "subject_id": "patient_id"},
                       files={"file": ("patients.csv", self.csv, "text/csv")})

    def paillier(self) -> dict[str, Any]:
        """A Paillier public key, and another party's encrypted contribution under it."""
        import json

        from veil.he import paillier

        if "paillier" not in self._cached:
            pair = paillier.generate_keypair(2048)
            self._cached["paillier"] = {
                "public_key": json.loads(paillier.public_key_to_json(pair.public)),
                "parts": [json.loads(paillier.encrypt_vector(pair.public, [1.0, 1.0]).to_json())]}
        return self._cached["paillier"]

    def synthetic(self) -> str:
        """A small DP synthetic release of ``patients`` (made once)."""
        if "synthetic" not in self._cached:
            with self.owner() as ws:
                made = ws.synthesize("patients", epsilon=1.0, delta=1e-6, method="mst",
                                     columns=SYNTH_COLUMNS, rows=50, output=fresh("syn"))
            self._cached["synthetic"] = made.record.dataset
        return self._cached["synthetic"]

    def login_proof(self) -> dict[str, Any]:
        import json

        from veil.zk import keygen, login_context, schnorr

        pair, nonce = keygen(), os.urandom(32)
        proof = schnorr.prove(pair.secret, context=login_context("veil-test", nonce))
        return {"kind": "login", "proof": json.loads(proof.to_json()),
                "public": pair.public.to_bytes().hex(), "audience": "veil-test",
                "nonce": nonce.hex()}


def _locked(setup: Setup) -> str:
    from datetime import UTC, datetime, timedelta

    name = setup.user()
    with setup.owner() as ws:
        ws.users.lock(name, until=datetime.now(UTC) + timedelta(hours=1))
    return name


def _assigned(setup: Setup) -> dict[str, str]:
    line = {"user": setup.user(), "role": "analyst", "dataset": "patients"}
    with setup.owner() as ws:
        ws.policy.assign(**line)
    return line


def _allowed(setup: Setup) -> dict[str, str]:
    line = {"subject": setup.user(), "operation": "dp_query", "dataset": "patients"}
    with setup.owner() as ws:
        ws.policy.allow(**line)
    return line


NOWHERE = "/no/such/workspace"  # refused after the guard: a site or party must exist
CONSENT = {"subject": "P0000002", "purpose": EVERYTHING, "source": "form", "notice": "v1"}
CONSENT_CSV = (b"subject,purpose,state,at,source,notice\n"
               b"P0000002,everything,given,2025-01-01T00:00:00+00:00,form,v1\n")
ROW = {"glucose_mg_dl": 120.0, "sex": "F"}
MODEL = "patients.readmitted_30d"
SYNTH_COLUMNS = ["sex", "glucose_mg_dl", "readmitted_30d"]  # columns with a public domain

ExampleOf = Example | Callable[[Setup], Example]
EXAMPLES: dict[tuple[str, str], ExampleOf] = {
    # datasets
    ("GET", "/datasets"): Example(),
    ("POST", "/datasets/upload"): lambda s: s.upload(),
    ("GET", "/datasets/{name}/versions"): Example(path={"name": "patients"}),
    ("GET", "/datasets/{name}/versions/{version}"): Example(path={"name": "patients",
                                                                  "version": 1}),
    ("DELETE", "/datasets/{name}/versions/{version}"): lambda s: Example(
        path={"name": s.dataset(), "version": 1}, purpose="administration"),
    ("GET", "/datasets/{name}/classification"): Example(path={"name": "patients"}),
    ("GET", "/datasets/{name}/rows"): Example(path={"name": "patients"},
                                              query={"columns": ["glucose_mg_dl"], "limit": 3}),
    ("POST", "/scan"): Example(files={"file": ("patients.csv", b"email\na@example.org\n",
                                               "text/csv")}),
    # releases
    ("POST", "/releases/pseudonymize"): lambda s: Example(json={
        "dataset": "patients", "columns": ["email"], "output": fresh("pseudo")}),
    ("POST", "/releases/safe-harbor"): lambda s: Example(json={
        "dataset": "patients", "output": fresh("harbor"), "reference_year": 2025}),
    ("POST", "/releases/anonymize"): lambda s: Example(json={
        "dataset": "patients", "quasi_identifiers": ["sex"], "sensitive": [], "keep": [],
        "k": 2, "output": fresh("anon")}),
    ("POST", "/releases/synthesize"): lambda s: Example(json={
        "dataset": "patients", "epsilon": 1.0, "delta": 1e-6, "method": "mst",
        "columns": SYNTH_COLUMNS, "rows": 50, "output": fresh("syn")}),
    ("POST", "/releases/evaluate-synthetic"): lambda s: Example(json={
        "release": s.synthetic(), "target": "readmitted_30d"}),
    ("POST", "/releases/reidentify"): lambda s: Example(json={
        "dataset": "patients.pseudonymized", "tokens": [s.token]}),
    # DP
    ("POST", "/dp/query"): Example(json={"sql": "SELECT COUNT(*) FROM patients GROUP BY sex",
                                         "epsilon": 0.1}),
    ("GET", "/dp/budgets/{dataset}"): Example(path={"dataset": "patients"}),
    ("PUT", "/dp/budgets/{dataset}"): Example(path={"dataset": "patients"},
                                              json={"epsilon": 1000.0, "delta": 0.5}),
    ("GET", "/dp/settings/{dataset}"): Example(path={"dataset": "patients"}),
    ("PUT", "/dp/settings/{dataset}"): Example(path={"dataset": "patients"},
                                               json={"bounds": {"bmi": [10, 60]}}),
    ("POST", "/dp/bounds"): Example(json={"dataset": "patients", "column": "systolic_bp",
                                          "within": [0, 400], "epsilon": 0.5}),
    # models
    ("GET", "/models"): Example(),
    ("GET", "/models/{name}"): Example(path={"name": MODEL}),
    ("POST", "/models/train"): lambda s: Example(json={
        "dataset": "patients", "target": "readmitted_30d", "features": ["glucose_mg_dl", "sex"],
        "epsilon": 1.0, "model": "logreg", "epochs": 1, "batch_size": 64,
        "name": fresh("model")}),
    ("POST", "/models/{name}/retrain"): Example(path={"name": MODEL}),
    ("POST", "/models/{name}/predict"): Example(path={"name": MODEL}, json={"rows": [ROW]}),
    ("POST", "/federated/runs"): Example(json={"definition": {
        "name": "fed", "target": "readmitted_30d", "features": ["bmi", "sex"], "rounds": 1,
        "public": {"bounds": {"bmi": [10, 70]}, "categories": {"sex": ["F", "M"]}},
        "secure_aggregation": {"enabled": False},
        "sites": [{"name": f"s{i}", "workspace": NOWHERE, "dataset": "patients",
                   "key_file": NOWHERE} for i in range(2)]}}, ok=422),
    ("GET", "/federated/runs"): Example(),
    # HE, Paillier, MPC, ZK
    ("POST", "/he/score"): Example(json={"model": MODEL, "rows": [ROW]}),
    ("POST", "/paillier/sum"): lambda s: Example(json={
        **s.paillier(), "dataset": "patients", "column": "glucose_mg_dl"}),
    ("POST", "/mpc/stats"): Example(json={
        "statistic": "sum", "bounds": [0, 300], "parties": [
            {"workspace": NOWHERE, "key_file": NOWHERE, "dataset": "patients",
             "column": "systolic_bp"}] * 2}, ok=422),
    ("POST", "/zk/verify"): lambda s: Example(json=s.login_proof()),
    # governance
    ("GET", "/purposes"): Example(),
    ("POST", "/purposes"): lambda s: Example(json={
        "name": fresh("purpose"), "description": "a test", "basis": "legitimate_interests",
        "datasets": {"patients": ["sex"]}, "operations": ["dp_query"]}),
    ("POST", "/purposes/{name}/end"): lambda s: Example(path={"name": s.purpose()},
                                                        json={"on": "2030-01-01"}),
    ("POST", "/consent/events"): Example(json={"events": [
        {**CONSENT, "state": "given", "at": "2025-01-01T00:00:00Z"}]}),
    ("POST", "/consent/give"): Example(json=CONSENT),
    ("POST", "/consent/withdraw"): Example(json=CONSENT),
    ("POST", "/consent/history"): Example(json={"subject": "P0000002"}),
    ("POST", "/consent/import"): Example(files={"file": ("consent.csv", CONSENT_CSV,
                                                         "text/csv")}),
    ("GET", "/retention"): Example(),
    ("PUT", "/retention/{dataset}"): lambda s: Example(path={"dataset": s.dataset()},
                                                       json={"keep_versions_days": 3650}),
    ("DELETE", "/retention/{dataset}"): lambda s: Example(
        path={"dataset": s.dataset(retention=True)}),
    ("POST", "/retention/enforce"): Example(json={"dry_run": True}),
    ("POST", "/dsar/access"): Example(json={"subject": "P0000002"}),
    ("POST", "/dsar/erase"): Example(json={"subject": "P9999999"}),  # held nowhere
    ("POST", "/dsar/rectify"): lambda s: Example(json={
        "subject": "P0000001", "dataset": s.dataset(), "changes": {"city": "Springfield"}}),
    ("GET", "/dsar/{request_id}"): lambda s: Example(path={"request_id": s.erasure}),
    ("GET", "/dsar/{request_id}/receipt"): lambda s: Example(path={"request_id": s.erasure}),
    ("GET", "/lineage/{name}"): Example(path={"name": "patients"}),
    # jobs
    ("GET", "/jobs"): Example(),
    ("GET", "/jobs/{job_id}"): lambda s: Example(path={"job_id": s.job()}),
    # access
    ("GET", "/access/users"): Example(),
    ("POST", "/access/users"): lambda s: Example(json={"name": fresh("user"),
                                                       "password": PASSWORD}),
    ("POST", "/access/service-accounts"): lambda s: Example(json={"name": fresh("svc")}),
    ("PUT", "/access/users/{name}/password"): lambda s: Example(
        path={"name": s.user()}, json={"password": PASSWORD + " again"}),
    ("POST", "/access/users/{name}/mfa"): lambda s: Example(path={"name": s.user()}),
    ("POST", "/access/users/{name}/lock"): lambda s: Example(path={"name": s.user()},
                                                             json={"hours": 1}),
    ("POST", "/access/users/{name}/unlock"): lambda s: Example(path={"name": _locked(s)}),
    ("POST", "/access/users/{name}/disable"): lambda s: Example(path={"name": s.user()}),
    ("POST", "/access/tokens"): Example(json={"principal": "u-analyst", "roles": ["analyst"],
                                              "datasets": ["patients"], "days": 1}),
    ("GET", "/access/tokens"): Example(query={"principal": "u-analyst"}),
    ("DELETE", "/access/tokens/{token_id}"): lambda s: Example(path={"token_id": s.token_id()}),
    ("GET", "/access/roles"): Example(),
    ("POST", "/access/roles/assign"): lambda s: Example(json={
        "user": s.user(), "role": "analyst", "dataset": "patients"}),
    ("POST", "/access/roles/unassign"): lambda s: Example(json=_assigned(s)),
    ("GET", "/access/policy"): Example(),
    ("POST", "/access/policy/allow"): lambda s: Example(json={
        "subject": s.user(), "operation": "dp_query", "dataset": "patients"}),
    ("POST", "/access/policy/deny"): lambda s: Example(json={
        "subject": s.user(), "operation": "dp_query", "dataset": "patients"}),
    ("POST", "/access/policy/remove"): lambda s: Example(json=_allowed(s)),
    ("POST", "/access/policy/check"): Example(json={
        "subject": "u-analyst", "operation": "dp_query", "dataset": "patients",
        "purpose": EVERYTHING}),
    # audit
    ("POST", "/audit/verify"): Example(),
    ("GET", "/audit/entries"): Example(query={"limit": 3}),
    ("GET", "/audit/entries/{seq}/proof"): Example(path={"seq": 1}),
    ("GET", "/audit/consistency"): Example(query={"old_size": 1}),
    ("GET", "/audit/head"): Example(),
    # reports
    ("GET", "/reports/{kind}"): Example(path={"kind": "gdpr"}),
}


def example(route: Route, setup: Setup) -> Example | None:
    found = EXAMPLES.get((route.method, route.path))
    return found(setup) if callable(found) else found


def send(http: Any, route: Route, made: Example, **headers: str) -> httpx.Response:
    """``made`` as a request (a path parameter it lacks is ``x``)."""
    url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(made.path.get(m[1], "x")), route.path)
    if made.purpose is not None:
        headers = {"x-veil-purpose": made.purpose, **headers}
    return http.request(route.method, url, params=made.query or None, json=made.json,
                        data=made.form, files=made.files, headers=headers)


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("security"))
    with Workspace.open(world.path, master_key=world.master) as ws:
        for name in ("u-lockme", "u-steady"):
            world.secrets[name] = ws.users.add(name, PASSWORD).secret
        ws.policy.assign("u-steady", "steward")
    return world


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[Any]:
    """One in-process client of one app (no session of its own: each request says who)."""
    with client(world) as found:
        yield found


@pytest.fixture(scope="module")
def setup(world: World, http: Any) -> Setup:
    return Setup(world, http.app)


@pytest.fixture(scope="module")
def table(http: Any) -> list[Route]:
    found = routes(http.app)
    assert len(found) > 10, found
    return found


# -- every route: a session, a declared right, an example ---------------------------------------
def test_every_route_needs_a_session(http: Any, table: list[Route], setup: Setup) -> None:
    """Without a session, and with a token that is not one, every route answers 401 with a
    problem that says so (never the work, never another status)."""
    wrong: list[str] = []
    for route in table:
        if (route.method, route.path) in PUBLIC:
            continue
        made = example(route, setup)
        # a token is checked when the work runs, after the request was validated
        tries = ({}, {"authorization": "Bearer not-a-token"}) if made else ({},)
        for credentials in tries:
            answer = send(http, route, made or Example(), **credentials)
            body = answer.json() if answer.headers.get("content-type", "").endswith(
                "json") else {}
            if answer.status_code != 401 or not body.get("detail"):
                wrong.append(f"{route} {credentials or 'no session'}: {answer.status_code} "
                             f"{answer.text[:120]}")
            elif answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{route}: 401 without WWW-Authenticate: Bearer")
    assert not wrong, "\n".join(wrong)


def test_every_route_names_its_operations(table: list[Route]) -> None:
    """``openapi_extra["x-veil-operations"]`` (``needs(...)``) on every route but sign-in's,
    naming real operations: the role table below reads it."""
    known = {str(op) for op in Operation}
    missing = [str(r) for r in table if r.operations is None and not r.path.startswith("/auth/")]
    assert not missing, f"routes without needs(...): {missing}"
    unknown = [f"{r}: {op}" for r in table for op in r.operations or () if op not in known]
    assert not unknown, unknown


def test_every_route_has_an_example(table: list[Route]) -> None:
    """A new route cannot escape the role table: it needs an example request here."""
    missing = [str(r) for r in table
               if (r.method, r.path) not in EXAMPLES and not r.path.startswith("/auth/")]
    assert not missing, f"add an example request to EXAMPLES for: {missing}"
    stale = [f"{m} {p}" for m, p in EXAMPLES if Route(m, p, None) not in
             {Route(r.method, r.path, None) for r in table}]
    assert not stale, f"examples of routes that no longer exist: {stale}"


def test_role_table(http: Any, table: list[Route], setup: Setup) -> None:
    """Every route x every shipped role: 403 exactly when the role lacks one of the operations
    the route names; otherwise the example succeeds (2xx, or its ``ok``). Printed in full on
    failure."""
    wrong: list[str] = []
    for route in table:
        if route.path.startswith("/auth/") or route.operations is None:
            continue
        if (route.method, route.path) not in EXAMPLES:
            wrong.append(f"{route}: no example")
            continue
        needed = {Operation(op) for op in route.operations}
        for role, rights in EXPECTED.items():
            setup.role = role
            made = example(route, setup)
            answer = send(http, route, made, authorization=f"Bearer {setup.bearer()}")
            allowed = needed <= rights
            if allowed and not (answer.status_code == made.ok if made.ok
                                else 200 <= answer.status_code < 300):
                wrong.append(f"{route} as {role}: expected success, got {answer.status_code} "
                             f"{answer.text[:160]}")
            elif not allowed and answer.status_code != 403:
                wrong.append(f"{route} as {role}: expected 403, got {answer.status_code} "
                             f"{answer.text[:160]}")
            elif not allowed and answer.json()["type"] != "access.denied":
                wrong.append(f"{route} as {role}: 403 is not the guard's: {answer.text[:160]}")
    assert not wrong, "\n".join(wrong)


# -- cookie sessions -------------------------------------------------------------------------
def _sign_in(http: Any, world: World, user: str, role: str) -> httpx.Response:
    answer = http.post("/auth/login", json={"user": user, "password": PASSWORD,
                                            "totp": world.code(role)})
    assert answer.status_code == 200, answer.text
    return answer


def test_csrf_on_cookie_sessions(world: World, setup: Setup) -> None:
    """A cookie session's state-changing request needs the CSRF token (the header, or a form
    field): without it or with a wrong one, 403 and nothing changes; with it, the request
    succeeds; a bearer request needs none."""
    with client(world) as browser:
        signed = _sign_in(browser, world, "u-steady", "u-steady").json()
        assert browser.cookies.get("veil_session") and browser.cookies.get("veil_csrf")
        assert browser.get("/datasets").status_code == 200  # a safe request needs none
        name = fresh("csrf")
        body = {"dataset": "patients", "columns": ["email"], "output": name}
        with setup.owner() as ws:
            before = snapshot(ws)
        for headers in ({}, {"x-csrf-token": "wrong"}, {"x-csrf-token": ""}):
            answer = browser.post("/releases/pseudonymize", json=body, headers=headers)
            assert answer.status_code == 403, answer.text
            assert "CSRF" in answer.json()["detail"]
        upload = setup.upload(name)
        for form in ({}, {"csrf_token": "wrong"}):  # a form may carry it as a field
            answer = browser.post("/datasets/upload", data={**upload.form, **form},
                                  files=upload.files)
            assert answer.status_code == 403, answer.text
        with setup.owner() as ws:
            assert snapshot(ws) == before
        assert browser.post("/releases/pseudonymize", json=body,
                            headers={"x-csrf-token": signed["csrf"]}).status_code == 201
        upload = setup.upload()
        answer = browser.post("/datasets/upload", data=upload.form, files=upload.files,
                              headers={"x-csrf-token": signed["csrf"]})
        assert answer.status_code == 201, answer.text
    with client(world) as api:  # the same token as a bearer: no CSRF
        answer = api.post("/releases/pseudonymize", json={**body, "output": fresh("csrf")},
                          headers={"authorization": f"Bearer {signed['token']}"})
        assert answer.status_code == 201, answer.text


def test_login_cookie_flags(world: World) -> None:
    with client(world) as browser:
        answer = _sign_in(browser, world, "u-steady", "u-steady")
    cookies = {c.split("=", 1)[0]: c.lower() for c in answer.headers.get_list("set-cookie")}
    session, csrf = cookies["veil_session"], cookies["veil_csrf"]
    for flag in ("; httponly", "; secure", "; samesite=strict", "; path=/"):
        assert flag in session, session
    for flag in ("; secure", "; samesite=strict"):
        assert flag in csrf, csrf
    assert "httponly" not in csrf  # the page reads it to echo it


def test_login_rate_limit(world: World) -> None:
    """Per user name (10 a minute) and per client address (20 a minute): then 429, even for
    the right password and code."""
    with client(world) as http:
        for _ in range(10):
            answer = http.post("/auth/login", json={"user": "u-ghost", "password": "wrong",
                                                    "totp": "123456"})
            assert answer.status_code == 401, answer.text
        answer = http.post("/auth/login", json={"user": "u-ghost", "password": "wrong"})
        assert answer.status_code == 429
        assert answer.json()["type"] == "http.429"
        for i in range(10):  # 20 attempts from one client are allowed a minute
            assert http.post("/auth/login", json={"user": f"u-ghost{i}", "password": "x"}
                             ).status_code == 401
        answer = http.post("/auth/login", json={"user": "u-analyst", "password": PASSWORD,
                                                "totp": world.code("analyst")})
        assert answer.status_code == 429


def test_lockout_after_five_wrong_codes(world: World) -> None:
    """Five wrong TOTP codes lock the account: the right password and code then get 423."""
    right = pyotp.TOTP(world.secrets["u-lockme"]).now()
    wrong_code = f"{(int(right) + 500_000) % 1_000_000:06d}"
    with client(world) as http:
        for _ in range(5):
            answer = http.post("/auth/login", json={"user": "u-lockme", "password": PASSWORD,
                                                    "totp": wrong_code})
            assert answer.status_code == 401, answer.text
        answer = http.post("/auth/login", json={"user": "u-lockme", "password": PASSWORD,
                                                "totp": right})
        assert answer.status_code == 423, answer.text
        assert answer.json()["type"] == "access.locked"


# -- TLS -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "veil.example.org"])
def test_plain_http_refused_off_loopback(world: World, host: str) -> None:
    from veil.api.server import serve as run

    with pytest.raises(InputError, match="plain HTTP is refused"):
        run(world.path, world.master, host=host, plain_http=True)


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[Any]:
    with serve(world) as found:
        yield found


def test_served_over_tls_only(served: Any, world: World) -> None:
    """HTTPS with the workspace CA's certificate, HSTS, no server banner; plain HTTP on the
    same port gets no answer, and a client that does not trust the CA refuses the server."""
    with served.client(world.token("auditor"), **{"x-veil-purpose": EVERYTHING}) as http:
        answer = http.get("/datasets")
    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert "server" not in answer.headers
    plain = served.url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{plain}/datasets", timeout=60)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{served.url}/datasets", timeout=60)  # the system's CAs do not vouch for it


# -- hostile inputs ------------------------------------------------------------------------------
def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body written byte for byte (httpx would escape a NUL in a file name)."""
    boundary = "veil-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + content + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("filename", ["../../etc/passwd.csv", "..\\..\\passwd.csv",
                                      "passwd\x00.csv", "/etc/passwd.csv", "a/b.csv", ".."])
def test_upload_names_are_never_paths(http: Any, setup: Setup, filename: str) -> None:
    """A file name with folder parts or a NUL is refused (422, without repeating it) and
    nothing is written: not in the workspace, not in the temporary folder, not elsewhere."""
    body, kind = _multipart({"name": fresh("trav"), "subject_id": "patient_id"}, filename,
                            setup.csv)
    headers = {"authorization": f"Bearer {setup.bearer('steward')}", "content-type": kind}
    before_tmp = set(Path(tempfile.gettempdir()).iterdir())
    with setup.owner() as ws:
        before = snapshot(ws)
    answer = http.post("/datasets/upload", content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "passwd" not in answer.text
    with setup.owner() as ws:
        assert snapshot(ws) == before
    assert set(Path(tempfile.gettempdir()).iterdir()) == before_tmp
    assert not Path("/etc/passwd.csv").exists()


@pytest.mark.parametrize("path", ["/datasets/..%2F..%2Fetc%2Fpasswd/versions",
                                  "/datasets/%2E%2E/versions",
                                  "/datasets/..%2F..%2F/rows", "/datasets/..%5C..%5C/versions",
                                  "/datasets/patients/versions/..%2F1"])
def test_path_parameters_are_names(http: Any, setup: Setup, path: str) -> None:
    answer = http.get(path, headers={"authorization": f"Bearer {setup.bearer('owner')}"})
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "root:" not in answer.text


def test_bodies_are_bounded(http: Any, world: World, setup: Setup) -> None:
    """A JSON body over 1 MiB on a normal route (declared or streamed without a length), and
    an upload over the upload limit, get 413 and change nothing; a smaller upload passes."""
    bearer = {"authorization": f"Bearer {setup.bearer('owner')}"}
    small = create_app(WorkspacePool(world.path, world.master), upload_limit=4096)
    upload = setup.upload()
    assert len(setup.csv) > 4096
    with setup.owner() as ws:
        before = snapshot(ws)
    big = {"dataset": "patients", "columns": ["c" * 60] * 20_000}
    assert http.post("/releases/pseudonymize", json=big, headers=bearer).status_code == 413
    chunks = (b'{"dataset": "patients", "columns": [' + b'"cccc",' * 200_000 + b'"c"]}',)
    answer = http.post("/releases/pseudonymize", content=iter(chunks),
                       headers={**bearer, "content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    with TestClient(small, base_url="https://testserver",
                    headers={**bearer, "x-veil-purpose": EVERYTHING}) as limited:
        answer = limited.post("/datasets/upload", data=upload.form, files=upload.files)
        assert answer.status_code == 413, answer.text
        assert "4,096-byte limit" in answer.json()["detail"]
        with setup.owner() as ws:
            assert snapshot(ws) == before
        under = world.frame.head(2).select("patient_id", "sex").write_csv().encode()
        answer = limited.post("/datasets/upload", data=upload.form,
                              files={"file": ("t.csv", under, "text/csv")})
        assert answer.status_code == 201, answer.text


# -- the server's log ------------------------------------------------------------------------
def test_a_server_error_is_logged_by_type(world: World,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A bug's message may quote the value that broke it: the client gets a fixed problem and
    the log the error's type, where it was raised and the route, never the message, the path
    parameters or the query."""
    app = create_app(WorkspacePool(world.path, world.master))

    @app.get("/broken/{subject}")
    async def broken(subject: str) -> None:
        raise ValueError(f"cell {subject!r} broke it")

    with caplog.at_level(logging.INFO, logger="veil.api"), TestClient(
            app, base_url="https://testserver", raise_server_exceptions=False) as http:
        answer = http.get("/broken/P0000001", params={"email": "someone@example.org"})
    assert answer.status_code == 500
    assert answer.json() == {"type": "server.error", "title": "server error", "status": 500,
                             "detail": "the server failed; the error was logged by type"}
    assert "GET /broken/{subject} failed unexpectedly: ValueError" in caplog.text
    assert 'raise ValueError(f"cell {subject!r} broke it")' in caplog.text  # where
    assert '"GET /broken/{subject}" 500' in caplog.text  # the access log
    assert "P0000001" not in caplog.text and "someone" not in caplog.text


PERSONAL = ("patient_id", "name", "ssn", "email", "phone", "street_address", "birth_date")


def test_no_personal_values_in_the_server_log(served: Any, world: World) -> None:
    """A realistic session against ``veil serve`` (sign-in, lists, reads, releases,
    re-identification, failing requests carrying a patient's values in bodies, paths and
    queries): the server's log holds none of the personal values of the data."""
    frame = world.frame
    person = frame.row(0, named=True)
    purpose = {"x-veil-purpose": EVERYTHING}
    with served.client(**purpose) as anonymous:
        signed = anonymous.post("/auth/login", json={
            "user": "u-steward", "password": PASSWORD, "totp": world.code("steward")}).json()
        anonymous.post("/auth/login", json={"user": person["email"], "password": "x"})
    with served.client(signed["token"], **purpose) as http:
        assert http.get("/datasets").status_code == 200
        assert http.get("/datasets/patients/rows", params={"limit": 5}).status_code == 200
        tokens = http.get("/datasets/patients.pseudonymized/rows",
                          params={"columns": ["email"], "limit": 3}).json()["rows"]
        assert http.post("/releases/reidentify", json={
            "dataset": "patients.pseudonymized",
            "tokens": [t["email"] for t in tokens]}).status_code == 200
        # failing requests that carry personal values
        http.post("/releases/pseudonymize", json={"dataset": "patients",
                                                  "columns": [person["email"]]})
        http.post("/releases/reidentify", json={"dataset": "patients",
                                                "tokens": [person["ssn"]]})
        http.get("/datasets/patients/rows", params={"columns": [person["name"],
                                                                person["phone"]]})
        http.get(f"/datasets/{person['patient_id']}/versions")
        http.get("/datasets/patients/rows", params={"offset": person["email"]})
        http.post("/datasets/upload", data={"name": person["patient_id"],
                                            "subject_id": person["email"]},
                  files={"file": (f"{person['name']}.csv", b"x\n1\n", "text/csv")})
    with served.client(world.token("dpo"), **purpose) as dpo:
        subject = {"subject": person["patient_id"]}
        assert dpo.post("/dsar/access", json=subject).status_code == 200
        assert dpo.post("/consent/give", json={**subject, "purpose": EVERYTHING,
                                               "source": "form", "notice": "v1"}
                        ).status_code == 200
        assert dpo.post("/consent/history", json=subject).status_code == 200
        dpo.post("/dsar/rectify", json={**subject, "dataset": "no-such-dataset",
                                        "changes": {"email": person["email"]}})
    log = served.log.read_text(errors="replace")
    assert "/datasets" in log  # requests are logged (so the scan below means something)
    leaked = sorted({column for column in PERSONAL if column in frame.columns
                     for value in frame[column].cast(str).drop_nulls().to_list()
                     if len(value) > 3 and value in log})
    assert not leaked, f"personal values of {leaked} in the server log"
