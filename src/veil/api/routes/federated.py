"""Federated training runs in simulation, as background jobs.

A definition is the structure ``veil federate`` reads from TOML, as JSON. Its sites are veil
workspaces on the server, each opened with its own key file by its own site process, so a site
path must be an existing workspace directory on the server, never the service's own workspace
(whose rows only the guard may hand out), and each site names its key file: the service's own
key is never lent to a site. The global model is registered in the service's workspace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.jobs import Job
from veil.api.models import PROBLEMS, Body, Name
from veil.api.routes._common import needs, queue
from veil.errors import InputError
from veil.federated import Federation, federate
from veil.federated.privacy import plan
from veil.workspace.store import Store

__all__ = ["KIND", "router", "server_workspace"]

router = APIRouter(prefix="/federated", tags=["federated"], responses=PROBLEMS)

KIND = "federated.run"  # the kind of a run's job
MAX_SITES = 16  # sites of one simulated run (each a process on this machine)
MAX_ROUNDS = 500


class Run(Body):
    """A federation definition (as ``veil federate run`` reads from TOML: ``name``, ``target``,
    ``features``, ``rounds``, ``strategy``, ``public``, ``privacy``, ``secure_aggregation``,
    ``sites``...), and the name to register its global model under."""

    definition: dict[str, Any] = Field(description="the definition; each site's workspace and "
                                       "key_file are absolute paths on the server")
    name: Name | None = Field(default=None, description="default: the federation's name")


def server_workspace(label: str, workspace: str | os.PathLike[str],
                     key_file: str | os.PathLike[str] | None, own: Path) -> None:
    """Refuse a workspace that is not an existing veil workspace directory on the server, or
    that is the service's own (``own``), and a key file that is not an existing file. One
    message whatever is wrong, naming ``label`` and never the file's contents."""
    path = Path(workspace)
    if not (path.is_absolute() and (path / Store.CATALOG).is_file()) or path.samefile(own):
        raise InputError(f"{label}: workspace must be the absolute path of an existing veil "
                         "workspace directory on the server, other than the service's own")
    if key_file is None or not (Path(key_file).is_absolute() and Path(key_file).is_file()):
        raise InputError(f"{label}: key_file must be the absolute path of an existing key file "
                         "on the server (the service's own key is never lent)")


def _result(federation: Federation, s: Session, name: str | None) -> dict[str, Any]:
    done = federate(federation, workspace=s, name=name, engine="simulation")
    return {"model": done.model.name, "version": done.model.version, "rounds": done.rounds,
            "privacy": done.privacy, "seconds": done.seconds}


@router.post("/runs", response_model=Job, status_code=202,
             openapi_extra=needs(Operation.FEDERATE))
async def run(body: Run, caller: Current) -> Job:
    """Train across the sites on Flower's simulation engine and register the global model;
    poll ``GET /jobs/{id}``, whose result names the model and holds every round's metrics."""
    federation = Federation.from_dict(body.definition)  # checked: a mistake is a 422 now
    if len(federation.sites) > MAX_SITES or federation.rounds > MAX_ROUNDS:
        raise InputError(f"a run here has at most {MAX_SITES} sites and {MAX_ROUNDS} rounds")

    def check(s: Session) -> None:
        s.authorize(Operation.FEDERATE)  # first: paths are looked at for a caller who may run
        for site in federation.sites:
            server_workspace(f"site {site.name!r}", site.workspace, site.key_file, s.path)
        plan(federation)  # an epsilon too small for the rounds is refused before queueing

    return await queue(caller, KIND, lambda s: _result(federation, s, body.name), check)


@router.get("/runs", response_model=list[Job], openapi_extra=needs())
async def runs(caller: Current) -> list[Job]:
    """The caller's newest federated runs (a run's status is its job's)."""
    return await caller.run(lambda s: [job for job in caller.jobs.mine(s.principal, limit=200)
                                       if job.kind == KIND])
