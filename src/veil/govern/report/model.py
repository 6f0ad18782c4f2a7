"""What a report is made of: findings that cite evidence, a risk matrix, and chart data.

A report holds numbers and names only (counts, epsilons, k, dates, artifact names, ledger
sequence numbers), never a personal value; the HTML, JSON and PDF are renderings of this one
structure (:mod:`veil.govern.report.render`), so what a person reads and what a machine checks
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["LEVELS", "STATUSES", "Cell", "Chart", "Evidence", "Finding", "Report", "Section",
           "Series", "Table", "level_of"]

Status = Literal["met", "gap", "risk", "not_measured", "info"]
STATUSES: tuple[str, ...] = ("met", "gap", "risk", "not_measured", "info")
Level = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")
Applied = Literal["yes", "partly", "no"]


def level_of(score: int, bands: dict[str, int]) -> str:
    """The level a likelihood x impact score falls in, given each level's lowest score
    (``bands`` from the policy file, e.g. medium 5, high 10, critical 16)."""
    found = "low"
    for name in LEVELS[1:]:
        if score >= bands[name]:
            found = name
    return found


@dataclass(frozen=True)
class Evidence:
    """One fact a finding rests on. ``kind`` says where it lives: a ledger entry (``seq``, proved
    against the report's signed head), a catalog record (``ref`` names it; ``seq`` is the entry
    that binds it, when one does), an attack result, a benchmark figure or the policy file."""

    id: str
    kind: Literal["ledger", "catalog", "attack", "bench", "policy"]
    ref: str
    summary: str
    seq: int | None = None


@dataclass(frozen=True)
class Finding:
    """A statement about the workspace with its status and the evidence ids it cites."""

    id: str
    title: str
    status: Status
    detail: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A small table of facts (strings, already formatted for people)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Series:
    """One named line, bar group or point set: ``x`` are numbers or category labels."""

    name: str
    x: tuple[float | str, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """The data of one plot; :mod:`veil.govern.report.charts` draws it.

    ``heatmap``: ``values[r][c]`` for row ``rows[r]`` and column ``columns[c]`` (None: does not
    apply). ``steps``: cumulative lines over time (x are ISO times). ``bars``: grouped bars, one
    group per x label, one bar per series. ``scatter``: points joined per series.
    ``limits`` are horizontal reference lines (name, value), e.g. a policy threshold."""

    id: str
    kind: Literal["heatmap", "steps", "bars", "scatter"]
    title: str
    x_label: str = ""
    y_label: str = ""
    series: tuple[Series, ...] = ()
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    values: tuple[tuple[float | None, ...], ...] = ()
    limits: tuple[tuple[str, float], ...] = ()
    log_x: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell of the risk matrix: a risk at a lifecycle stage, scored likelihood x impact
    (1-5 each) from the evidence, with the mitigation veil offers and whether it is applied."""

    stage: str
    risk: str
    likelihood: int
    impact: int
    level: str
    findings: tuple[str, ...]
    evidence: tuple[str, ...]
    mitigation: str
    applied: Applied

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


@dataclass(frozen=True)
class Section:
    """A titled part of a report: findings, tables and the charts (by id) that go with them."""

    id: str
    title: str
    intro: str
    findings: tuple[Finding, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """One report (``kind`` risk, gdpr, ccpa, hipaa or ai-act) computed at a signed ledger head.

    ``head`` is the signed tree head it was computed at and ``public_key`` the ledger key that
    signed it; ``proofs`` maps each cited ledger sequence number to its inclusion proof against
    that head, so an auditor checks every cited entry later with the public key alone."""

    kind: str
    title: str
    workspace: str
    generated: str
    head: dict[str, Any]
    public_key: str
    policy: dict[str, Any]
    summary: tuple[str, ...]
    sections: tuple[Section, ...]
    evidence: tuple[Evidence, ...]
    charts: tuple[Chart, ...] = ()
    matrix: tuple[Cell, ...] = ()
    stages: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    proofs: dict[int, dict[str, Any]] = field(default_factory=dict)

    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    def chart(self, chart_id: str) -> Chart:
        return next(c for c in self.charts if c.id == chart_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see ``schema.json``): cells carry their score, proofs are keyed by
        the sequence number as text."""
        data = asdict(self)
        data["matrix"] = [asdict(c) | {"score": c.score} for c in self.matrix]
        data["proofs"] = {str(k): v for k, v in self.proofs.items()}
        return data
