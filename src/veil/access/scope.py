"""What the guard hands a capability for one call: who acts, why, and whose rows it may use.

Capabilities never take a free-text actor: they take a :class:`Scope` that only the guard
makes (:mod:`veil.access.guard`), after it decided the call. The ledger's ``actor`` and the DP
budget's principal are ``principal``; ``rows`` keeps only the people whose consent for the
purpose is in force when the call runs (None when the purpose needs no consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

__all__ = ["ADMINISTRATION", "OWNER", "RowFilter", "Scope"]

OWNER = "owner"  # the principal of whoever opened the workspace with its master key
ADMINISTRATION = "administration"  # the built-in purpose of work that uses no personal data


class RowFilter(Protocol):
    """Keeps the rows of the subjects a purpose may use (see :mod:`veil.govern.consent`)."""

    @property
    def state(self) -> str:
        """Changes whenever the filter would keep other rows (a cache key part)."""
        ...

    def __call__(self, frame: pl.DataFrame, subject_id: str) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Scope:
    principal: str
    purpose: str
    rows: RowFilter | None = None

    def filter(self, frame: pl.DataFrame, subject_id: str) -> tuple[pl.DataFrame, int]:
        """The rows this call may use and how many were left out."""
        if self.rows is None or not subject_id or subject_id not in frame.columns:
            return frame, 0
        kept = self.rows(frame, subject_id)
        return kept, frame.height - kept.height

    def left_out(self, count: int) -> dict[str, int]:
        """The ledger parameter saying how many rows the purpose's consent rule left out."""
        return {} if self.rows is None else {"consent_left_out": count}

    def rows_state(self) -> str | None:
        return None if self.rows is None else self.rows.state
