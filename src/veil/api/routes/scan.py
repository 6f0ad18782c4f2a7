"""Scan an uploaded file for personal data, column by column (no workspace is touched; a
session is still needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, UploadFile
from pydantic import Field

from veil.api.auth import Current
from veil.api.models import PROBLEMS, FormBody, ScanReport
from veil.api.routes._common import TABLES, needs, received
from veil.discover.hipaa import safe_harbor_report
from veil.discover.table import scan_file

router = APIRouter(tags=["scan"], responses=PROBLEMS)


class ScanUpload(FormBody):
    """A CSV, TSV, Parquet or text file, and how much of it to read."""

    file: UploadFile = Field(description="the file; only its suffix is used from its name")
    sample: int = Field(default=10_000, ge=1, le=10_000_000,
                        description="rows to read and scan (the first ones)")
    full: bool = Field(default=False, description="scan every row instead of a sample")


@router.post("/scan", response_model=ScanReport, openapi_extra=needs())
async def scan(form: Annotated[ScanUpload, Form(media_type="multipart/form-data")],
               caller: Current) -> ScanReport:
    """Direct and quasi-identifiers, sensitive attributes, the re-identification risk of
    quasi-identifier sets and the HIPAA Safe Harbor identifiers present."""
    async with received(form.file, (*TABLES, ".txt")) as path:
        return await caller.run(lambda _: _report(path, None if form.full else form.sample))


def _report(path: Path, sample: int | None) -> ScanReport:
    found = scan_file(path, sample=sample)
    return ScanReport.model_validate(
        found.to_dict() | {"safe_harbor": safe_harbor_report(found).to_dict()})
