"""Reports computed from a workspace's own facts: a privacy risk matrix across the ML lifecycle
and GDPR, CCPA/CPRA, HIPAA and EU AI Act reports.

A report reads the catalog and the ledger, never the data (it needs no data key): see
:mod:`~veil.govern.report.facts`. Scores follow an editable TOML policy
(:mod:`~veil.govern.report.policy`); every finding cites its evidence, and every cited ledger
entry comes with an inclusion proof against the signed head the report was computed at.
``Session.report(kind)`` computes one; :func:`veil.govern.report.render.write` writes its
HTML, JSON and PDF.
"""

from veil.govern.report.compute import KINDS, build
from veil.govern.report.model import Cell, Chart, Evidence, Finding, Report, Section, Table
from veil.govern.report.policy import ReportPolicy, load

__all__ = ["KINDS", "Cell", "Chart", "Evidence", "Finding", "Report", "ReportPolicy", "Section",
           "Table", "build", "load"]
