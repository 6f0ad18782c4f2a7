"""Background jobs: progress of long work (training, federated runs, retention, erasure)."""

from __future__ import annotations

from fastapi import APIRouter

from veil.api.auth import Current
from veil.api.jobs import Job
from veil.api.routes._common import needs

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=list[Job], openapi_extra=needs())
async def mine(caller: Current) -> list[Job]:
    """The caller's newest jobs."""
    return await caller.run(lambda s: caller.jobs.mine(s.principal))


@router.get("/{job_id}", response_model=Job, openapi_extra=needs())
async def job(job_id: str, caller: Current) -> Job:
    """One of the caller's jobs: state, progress, and the result or the error."""
    return await caller.run(lambda s: caller.jobs.get(job_id, s.principal))
