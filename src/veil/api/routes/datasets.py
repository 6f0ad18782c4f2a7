"""Datasets: list, versions, classification, upload (ingest), bounded reads, destroy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, UploadFile
from pydantic import Field

from veil.access.policy import Operation
from veil.access.session import Session
from veil.api.auth import Current
from veil.api.models import PROBLEMS, Answer, FormBody, Name, ScanReport, Version
from veil.api.routes._common import TABLES, needs, received

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=PROBLEMS)

MAX_ROWS = 1000  # the most rows one read returns (raw reads are for looking, not export)


class Upload(FormBody):
    """A file to ingest as the next version of ``name`` (CSV, TSV or Parquet)."""

    file: UploadFile = Field(description="the table; only its suffix is used from its name")
    name: Name
    subject_id: str = Field(min_length=1, max_length=256,
                            description="the column that identifies the data subject")


class Rows(Answer):
    """A window of a version's rows, as the guard allowed them (the purpose's columns, the
    people whose consent is in force)."""

    dataset: str
    version: int
    columns: list[str]
    total: int = Field(description="rows visible to this session in the version")
    offset: int
    rows: list[dict[str, Any]]


@router.get("", response_model=list[Version], openapi_extra=needs())
async def datasets(caller: Current) -> list[Version]:
    """The newest version of every dataset."""
    return await caller.run(lambda s: [Version.of(v) for v in s.datasets()])


@router.post("/upload", response_model=Version, status_code=201,
             openapi_extra=needs(Operation.INGEST))
async def upload(form: Annotated[Upload, Form(media_type="multipart/form-data")],
                 caller: Current) -> Version:
    """Ingest an uploaded file (validated, fingerprinted, classified, encrypted) as the next
    version of a dataset; the body may be as large as the service's upload limit."""
    async with received(form.file, TABLES) as path:
        return await caller.run(lambda s: Version.of(
            s.ingest(path, form.name, subject_id=form.subject_id)))


@router.get("/{name}/versions", response_model=list[Version], openapi_extra=needs())
async def versions(name: str, caller: Current) -> list[Version]:
    return await caller.run(lambda s: [Version.of(v) for v in s.versions(name)])


@router.get("/{name}/versions/{version}", response_model=Version, openapi_extra=needs())
async def version(name: str, version: int, caller: Current) -> Version:
    return await caller.run(lambda s: Version.of(s.version(name, version)))


@router.delete("/{name}/versions/{version}", response_model=Version,
               openapi_extra=needs(Operation.KEY_ADMIN))
async def destroy(name: str, version: int, caller: Current) -> Version:
    """Crypto-shred one version: its data key is erased and its data is gone for good."""
    return await caller.run(lambda s: Version.of(s.destroy(name, version)))


@router.get("/{name}/classification", response_model=ScanReport | None,
            openapi_extra=needs())
async def classification(name: str, caller: Current,
                         version: int | None = None) -> ScanReport | None:
    """What discovery found at ingest, column by column (null when ingested unclassified)."""
    found = await caller.run(lambda s: s.version(name, version).classification)
    return None if found is None else ScanReport.model_validate(found)


@router.get("/{name}/rows", response_model=Rows, openapi_extra=needs(Operation.RAW_READ))
async def rows(name: str, caller: Current, version: int | None = None,
               columns: Annotated[list[str] | None, Query()] = None,
               offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100) -> Rows:
    """Read up to ``limit`` rows from ``offset`` (a raw read, or a pseudonymized read of a
    release: decided by the guard and logged)."""
    def read(s: Session) -> Rows:
        record = s.version(name, version)
        frame = s.read(name, record.version, columns)
        return Rows(dataset=name, version=record.version, columns=frame.columns,
                    total=frame.height, offset=offset,
                    rows=frame.slice(offset, limit).to_dicts())

    return await caller.run(read)
