"""The HIPAA report: de-identification status of each release (Safe Harbor's 18 identifiers, or
expert determination evidence: k, risk and measured linkage), access logs, encryption at rest
and in transit, and minimum necessary."""

from __future__ import annotations

from veil.govern.report import facts as facts_
from veil.govern.report.matrix import Scorer
from veil.govern.report.model import Cell, Finding, Section, Table
from veil.workspace.catalog import DatasetVersion

__all__ = ["sections"]


def _release(s: Scorer, record: DatasetVersion) -> tuple[Finding, tuple[str, ...]]:
    """A release's de-identification finding and its table row."""
    prov, linkage = record.provenance, s.policy["linkage"]
    present = facts_.safe_harbor(record)
    kinds = [] if present is None else [str(i) for i in present.present]
    attacks = s.facts.attacks_on("release", record.dataset, record.version)
    rate = max((float(a["result"]["rate"]) for a in attacks), default=None)
    cited = [s.version(record, f"{record.ref}: identifier kinds by its scan: "
                               f"{', '.join(kinds) or 'none'}")]
    cited += [s.attack(a, f"linkage rate {float(a['result']['rate']):.2%}") for a in attacks]
    how = facts_.kind_of(record)
    k = prov.get("achieved", {}).get("k") if how == "anonymize" else None
    risk = prov.get("risk_after", {}).get("highest_risk") if how == "anonymize" else None
    if how == "safe_harbor" and not kinds:
        status, method = "met", "Safe Harbor (164.514(b)(2)): none of the 18 kinds found"
    elif how == "synthesize" and not kinds:
        privacy = prov.get("privacy", {})
        status = "met"
        method = (f"expert determination evidence (164.514(b)(1)): "
                  f"({privacy.get('epsilon')}, {privacy.get('delta')})-DP synthetic data "
                  f"({str(prov.get('method', '')).upper()}); no row is a person's record")
    elif how == "anonymize" and k is not None and k >= linkage["k_min"] and (
            risk is not None and risk <= linkage["prosecutor_risk_max"]) and (
            rate is None or rate <= linkage["linkage_rate_max"]):
        status = "met" if rate is not None else "gap"
        method = (f"expert determination evidence (164.514(b)(1)): k = {k}, highest risk "
                  f"{risk:.3g}" + (f", linkage {rate:.2%}" if rate is not None else
                                   "; no linkage attack yet, which an expert would want"))
    else:
        status = "risk"
        method = ("not de-identified: " + (f"identifier kinds {', '.join(kinds)} remain"
                                           if kinds else f"{how} release, k = {k}, risk {risk}"))
    if kinds and how != "safe_harbor":
        method += f"; Safe Harbor kinds still present: {', '.join(kinds)}"
    finding = Finding(f"hipaa.deid.{record.ref}", f"{record.ref}", status, method, tuple(cited))
    row = (record.ref, how, "-" if k is None else str(k), "-" if risk is None else f"{risk:.3g}",
           "-" if rate is None else f"{rate:.2%}", ", ".join(kinds) or "none", status)
    return finding, row


def _deidentification(s: Scorer) -> Section:
    made = [_release(s, r) for r in s.facts.releases()]
    phi = [r for r in s.facts.raw() if (found := facts_.safe_harbor(r)) and found.present]
    held = Finding("hipaa.phi", "Protected health information held", "info",
                   f"{len(phi)} dataset(s) hold Safe Harbor identifiers as collected "
                   f"({', '.join(r.dataset for r in phi) or 'none'}): kept encrypted, reached "
                   "only through the guard",
                   tuple(s.version(r, f"{r.ref}: PHI by its scan") for r in phi))
    return Section("deid", "De-identification of releases (45 CFR 164.514)",
                   "Safe Harbor needs all 18 identifier kinds gone (the scan checks the first "
                   "half; actual knowledge stays the covered entity's judgement); expert "
                   "determination rests on measured risk: k, prosecutor risk and a linkage "
                   "attack on the release.", (held, *(f for f, _ in made)),
                   (Table("Releases", ("release", "method", "k", "highest risk", "linkage",
                                       "identifier kinds found", "status"),
                          tuple(row for _, row in made)),), ("release_risk",))


def _access_logs(s: Scorer) -> Section:
    facts = s.facts
    reads = facts.of("dataset.read")
    queries = facts.of("dp.query")
    refused = facts.of("access.denied")
    logins = facts.of("access.login")
    rows = tuple((action, str(len(entries))) for action, entries in (
        ("raw reads", reads), ("DP queries", queries), ("refusals", refused),
        ("sign-ins", logins), ("model uses", facts.of("model.load", "he.evaluate"))))
    newest = facts.entries[-1]
    return Section("logs", "Audit controls (164.312(b))",
                   "Every access is an entry of the signed ledger: who, what, for which "
                   "purpose, never the values.",
                   (Finding("hipaa.logs", "Activity recorded and verified",
                            "met", f"{facts.head.size} entries, verified with every "
                                   "bound catalog row",
                            (s.entry(newest, "newest entry at the report's head"),)),),
                   (Table("Access by kind", ("activity", "entries"), rows),))


def _encryption(s: Scorer, cells: tuple[Cell, ...]) -> Section:
    return Section("encryption", "Encryption (164.312(a)(2)(iv), 164.312(e)(2)(ii))", "",
                   (s.from_cells("hipaa.rest", "At rest", [c for c in cells if (
                       c.stage, c.risk) == ("storage", "leakage")]),
                    s.from_cells("hipaa.transit", "In transit", [c for c in cells if (
                        c.stage, c.risk) == ("sharing", "leakage")])))


def _minimum(s: Scorer) -> Section:
    findings = []
    for purpose in s.facts.purposes:
        wide = [d for d, cols in purpose.datasets.items() if "*" in cols]
        findings.append(Finding(
            f"hipaa.min.{purpose.name}", purpose.name, "gap" if wide else "met",
            (f"may use every column of {', '.join(wide)}" if wide else
             "; ".join(f"{d}: {', '.join(c)}" for d, c in purpose.datasets.items()))
            + f"; operations {', '.join(sorted(purpose.operations))}"))
    users = [e for e in s.facts.of("dataset.read") if e.actor != "owner"]
    findings.append(Finding("hipaa.min.reads", "Raw reads by users", "info" if not users
                            else "gap", f"{len(users)} raw read(s) by users; the guard asks a "
                            "step-up for direct identifiers"))
    return Section("minimum", "Minimum necessary (164.502(b), 164.514(d))",
                   "Each purpose's columns and operations, which the guard enforces.",
                   tuple(findings))


def sections(s: Scorer, cells: tuple[Cell, ...]) -> tuple[Section, ...]:
    return (_deidentification(s), _access_logs(s), _encryption(s, cells), _minimum(s))
