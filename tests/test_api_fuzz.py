"""Schema fuzzing: schemathesis generates requests from the service's ``/openapi.json`` (valid
and invalid ones) for every route, sent as every shipped role; no answer may be a server error
(>= 500), carry a status the route does not document, or differ from its documented schema.

The app runs in-process (ASGI); every role signs in with a bearer token and the purpose
``everything``. Sign-in, step-up and sign-out change who may call (a wrong code counts towards
the lockout, sign-out revokes the token), so they run as a throwaway user of each role with a
token of its own each time."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from service import EVERYTHING, PASSWORD, World, build_world
from test_access_guard import EXPECTED
from veil import Workspace
from veil.api.app import create_app
from veil.api.pool import WorkspacePool

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SPENT = {"/auth/step-up", "/auth/logout"}  # a token of their own each time
EXAMPLES = 25  # per route and generation mode in the thorough run, each sent as all 7 roles


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("fuzz"))
    with Workspace.open(world.path, master_key=world.master) as ws:
        for role in EXPECTED:
            ws.users.add(f"u-spent-{role}", PASSWORD)
            if role != "nobody":
                ws.policy.assign(f"u-spent-{role}", role)
    return world


@pytest.fixture
def api(world: World) -> Any:
    """The service's schema, as schemathesis reads it from a fresh in-process app
    (schemathesis ends the app's lifespan after each test)."""
    app = create_app(WorkspacePool(world.path, world.master))
    config = schemathesis.Config.from_dict({"suppress-health-check": ["all"]})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def fuzz(api: Any, world: World, examples: int) -> list[str]:
    """``examples`` valid and ``examples`` invalid requests per route, each sent as every
    role: what went wrong, one line per route and role (the first failure of each)."""
    tokens = {role: world.token(role) for role in EXPECTED}
    failed: dict[str, str] = {}

    def send(case: Any) -> None:
        for role in EXPECTED:
            token = world.token(f"spent-{role}") if case.path in SPENT else tokens[role]
            try:
                case.call_and_validate(headers={"authorization": f"Bearer {token}",
                                                "x-veil-purpose": EVERYTHING}, checks=CHECKS)
            except Exception as exc:  # a failed check, or the server's own error
                where = f"{case.method} {case.path} as {role}"
                failed.setdefault(where, f"{where}: {type(exc).__name__} {str(exc)[:600]}")

    for result in api.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(max_examples=examples, deadline=None, database=None,
                           derandomize=True, phases=[Phase.generate],
                           suppress_health_check=list(HealthCheck))(
                given(operation.as_strategy(generation_mode=mode))(send))
            try:
                run()
            except Unsatisfiable:  # nothing about the route can be made invalid
                assert mode is GenerationMode.NEGATIVE, operation.label
    return list(failed.values())


def test_every_route_once(api: Any, world: World) -> None:
    """One valid and one invalid request per route, as every role."""
    failed = fuzz(api, world, 1)
    assert not failed, "\n".join(failed)


@pytest.mark.slow
def test_every_route_thoroughly(api: Any, world: World) -> None:
    """:data:`EXAMPLES` valid and invalid requests per route, as every role."""
    failed = fuzz(api, world, EXAMPLES)
    assert not failed, "\n".join(failed)
