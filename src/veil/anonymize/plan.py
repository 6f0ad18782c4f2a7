"""Which columns a release generalizes, keeps and drops, read from the discovery classification.

A stored dataset carries the classification its ingest made (:mod:`veil.discover`). Unless
told otherwise a release generalizes the quasi-identifier columns, keeps the sensitive ones
as they are (l-diversity and t-closeness protect them), keeps columns classified OTHER, and
drops the direct identifiers, the subject-id column and anything unclassified: a k-anonymous
table with names or record ids in it is not anonymous at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from veil.errors import InputError

__all__ = ["ReleasePlan", "plan_release"]


@dataclass(frozen=True)
class ReleasePlan:
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    kept: tuple[str, ...]  # released unchanged besides the sensitive columns
    dropped: tuple[str, ...]
    entities: dict[str, str]  # column -> discovered entity, for default hierarchies

    @property
    def columns(self) -> list[str]:
        """What the release reads from the dataset."""
        return [*self.quasi_identifiers, *self.sensitive, *self.kept]


def plan_release(columns: Sequence[str], classification: Mapping[str, Any] | None,
                 subject_id: str | None, *, quasi_identifiers: Sequence[str] | None = None,
                 sensitive: Sequence[str] | None = None, keep: Sequence[str] | None = None
                 ) -> ReleasePlan:
    """The plan for a dataset with ``columns`` (see the module docstring); explicit lists win
    over the classification, and a column may appear in one list only."""
    found = {c["column"]: c for c in (classification or {}).get("columns", [])}
    by = {category: [c for c in columns if found.get(c, {}).get("category") == category]
          for category in ("DIRECT_IDENTIFIER", "QUASI_IDENTIFIER", "SENSITIVE", "OTHER")}
    if quasi_identifiers is None and not found:
        msg = ("name the quasi-identifiers: this dataset has no discovery classification to "
               "take them from")
        raise InputError(msg)
    qi = list(quasi_identifiers) if quasi_identifiers is not None else by["QUASI_IDENTIFIER"]
    sens = list(sensitive) if sensitive is not None else [
        c for c in by["SENSITIVE"] if c not in qi]
    if not qi:
        raise InputError("a release needs at least one quasi-identifier; none was found or named")
    named = [*qi, *sens, *(keep or [])]
    unknown = [c for c in named if c not in columns]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}; the dataset has {list(columns)}")
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise InputError(f"column(s) {twice} are named in more than one role")
    if keep is not None:
        kept = list(keep)
    else:
        # unclassified columns are dropped: nobody has looked at what they hold
        kept = [c for c in by["OTHER"] if c not in named and c != subject_id]
    dropped = [c for c in columns if c not in (*qi, *sens, *kept)]
    entities = {c: str(found[c]["entity"]) for c in qi if found.get(c, {}).get("entity")}
    return ReleasePlan(tuple(qi), tuple(sens), tuple(kept), tuple(dropped), entities)
