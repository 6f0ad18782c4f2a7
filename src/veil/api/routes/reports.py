"""Reports: the privacy risk matrix and the compliance reports as JSON (an ``audit`` right).

The JSON is the report as ``veil report`` writes it (``schema.json``): findings with their
evidence, the matrix, chart data, and an inclusion proof of every cited ledger entry against the
signed head it was computed at. Making one reads the catalog and the ledger only, and is logged.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter

from veil.access.policy import Operation
from veil.api.auth import Current
from veil.api.models import PROBLEMS
from veil.api.routes._common import needs
from veil.govern.report import render

__all__ = ["router"]

router = APIRouter(prefix="/reports", tags=["reports"], responses=PROBLEMS)

Kind = Literal["risk", "gdpr", "ccpa", "hipaa", "ai-act"]


@router.get("/{kind}", response_model=dict[str, Any], openapi_extra=needs(Operation.AUDIT))
async def report(kind: Kind, caller: Current) -> dict[str, Any]:
    """The ``kind`` report of the workspace as it is now, judged by the shipped policy."""
    return await caller.run(lambda s: json.loads(render.to_json(s.report(kind))))
