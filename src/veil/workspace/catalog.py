"""The catalog's dataset tables and the records ``Workspace`` returns about them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB
);
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    dataset_id  INTEGER NOT NULL REFERENCES datasets(dataset_id),
    version     INTEGER NOT NULL,
    file        TEXT NOT NULL,
    key_id      TEXT NOT NULL REFERENCES keys(key_id),
    schema      TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    subject_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    provenance  TEXT NOT NULL,
    classification TEXT,
    created     TEXT NOT NULL,
    destroyed   TEXT,
    PRIMARY KEY (dataset_id, version)
);
"""

VERSION_COLUMNS = (
    "d.name, v.version, v.rows, v.schema, v.subject_id, v.fingerprint, v.provenance, "
    "v.classification, v.created, v.destroyed, v.file, v.key_id"
)


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable version of a dataset: what it holds and where it came from, never its data."""

    dataset: str
    version: int
    rows: int
    schema: dict[str, str]
    subject_id: str
    fingerprint: str
    provenance: dict[str, Any]
    classification: dict[str, Any] | None  # the discover scan taken at ingest (no raw values)
    created: str
    destroyed: str | None
    file: str
    key_id: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> DatasetVersion:
        name, version, rows, schema, subject, fp, prov, scan, created, destroyed, file, key = row
        return cls(name, version, rows, json.loads(schema), subject, fp, json.loads(prov),
                   json.loads(scan) if scan else None, created, destroyed, file, key)

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Public description; the vault file name and key id stay internal."""
        data = asdict(self)
        del data["file"], data["key_id"]
        return data
