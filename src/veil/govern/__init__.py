"""Governance: why data may be used (purposes), whose data (consent), for how long
(retention), where it flowed (lineage) and what its subjects asked for (access, erasure,
rectification). Every change is a ledger entry bound to the catalog rows it wrote, so a
hand-edited purpose, consent, policy, lineage edge or request is refused before it is used."""

from veil.govern import consent, dsar, lineage, purposes, retention
from veil.govern.consent import ConsentEvent, ConsentFilter, ConsentReport
from veil.govern.dsar import AccessReport, Flag, Receipt, Rectification, RequestStatus
from veil.govern.lineage import Artifact, Lineage, Source
from veil.govern.purposes import LawfulBasis, Purpose, SpecialCondition
from veil.govern.retention import DatasetRetention, Retention, RetentionReport

__all__ = ["AccessReport", "Artifact", "ConsentEvent", "ConsentFilter", "ConsentReport",
           "DatasetRetention", "Flag", "LawfulBasis", "Lineage", "Purpose", "Receipt",
           "Rectification", "RequestStatus", "Retention", "RetentionReport", "Source",
           "SpecialCondition", "consent", "dsar", "lineage", "purposes", "retention"]
