"""Releases that provably meet a privacy model with as little information loss as possible.

``anonymize`` generalizes and suppresses a table until it meets k-anonymity, l-diversity and/or
t-closeness (optimal full-domain search or Mondrian), checks the result independently and
reports utility and re-identification risk before and after; ``Hierarchy`` describes how far
each value may be coarsened (ARX's format). ``safe_harbor`` applies HIPAA's Safe Harbor rule;
``tokenize`` replaces values with keyed tokens. ``veil.workspace.Workspace`` wires all of these
to stored datasets, with provenance and ledger entries.
"""

from veil.anonymize.check import Achieved, achieved
from veil.anonymize.hierarchy import Hierarchy
from veil.anonymize.models import DistinctLDiversity, EntropyLDiversity, KAnonymity, TCloseness
from veil.anonymize.release import Release, anonymize, default_hierarchy
from veil.anonymize.risk import RiskReport, reidentification_risk, risk_of_table
from veil.anonymize.safe_harbor import SafeHarborRelease, safe_harbor
from veil.anonymize.tokens import tokenize
from veil.anonymize.utility import UtilityReport, accuracy_report, utility

__all__ = [
    "Achieved",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "Hierarchy",
    "KAnonymity",
    "Release",
    "RiskReport",
    "SafeHarborRelease",
    "TCloseness",
    "UtilityReport",
    "accuracy_report",
    "achieved",
    "anonymize",
    "default_hierarchy",
    "reidentification_risk",
    "risk_of_table",
    "safe_harbor",
    "tokenize",
    "utility",
]
