"""Find and classify personal data in tables and free text, and de-identify it.

``scan_table`` / ``scan_file`` classify columns (direct identifier, quasi-identifier, sensitive,
other) with evidence and quasi-identifier risk; ``analyze`` finds spans in free text;
``redact_text`` de-identifies them; ``safe_harbor_report`` maps a scan onto HIPAA's 18 kinds.
"""

from veil.discover.analyzer import analyze, analyze_many
from veil.discover.entities import Category, Entity, Span
from veil.discover.hipaa import SafeHarborReport, safe_harbor_report
from veil.discover.qi import QiRisk
from veil.discover.redact import Operator, Pseudonymizer, redact_text
from veil.discover.table import ColumnFinding, TableScan, scan_file, scan_table

__all__ = [
    "Category",
    "ColumnFinding",
    "Entity",
    "Operator",
    "Pseudonymizer",
    "QiRisk",
    "SafeHarborReport",
    "Span",
    "TableScan",
    "analyze",
    "analyze_many",
    "redact_text",
    "safe_harbor_report",
    "scan_file",
    "scan_table",
]
