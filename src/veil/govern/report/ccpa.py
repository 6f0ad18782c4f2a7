"""The CCPA/CPRA report: notice at collection, the rights to know, delete and correct, opting
out of sale and sharing, and limits on sensitive personal information."""

from __future__ import annotations

from collections import Counter

from veil.discover.entities import Category
from veil.govern.report import facts as facts_
from veil.govern.report.matrix import Scorer
from veil.govern.report.model import Cell, Finding, Section, Table

__all__ = ["sections"]


def _notice(s: Scorer) -> Section:
    facts = s.facts
    rows, findings = [], []
    for record in facts.raw():
        found = facts_.categories(record)
        kinds = [f"{c.lower().replace('_', ' ')} ({len(cols)})" for c, cols in found.items()
                 if cols and c != str(Category.OTHER)]
        purposes = [p for p in facts.purposes if record.dataset in p.datasets]
        rule = facts.retention.get(record.dataset)
        rows.append((record.dataset, ", ".join(kinds) or "-",
                     ", ".join(p.name for p in purposes) or "-",
                     "-" if rule is None else str(rule.to_dict())))
        cited = s.version(record, f"{record.ref}: categories from its classification scan")
        missing = [what for what, ok in (("a purpose", purposes), ("a retention period", rule))
                   if not ok]
        findings.append(Finding(f"ccpa.notice.{record.dataset}", f"{record.dataset}: notice "
                                "facts", "gap" if missing else "met",
                                f"categories {', '.join(kinds) or 'none found'}"
                                + (f"; missing {' and '.join(missing)} to state in the notice"
                                   if missing else ""), (cited,)))
    for name, state in facts.consent.items():
        findings.append(Finding(f"ccpa.notice.{name}", f"{name}: notice versions shown", "info",
                                ", ".join(f"{n} ({c:,} events)"
                                          for n, c in sorted(state.notices.items()))))
    return Section("notice", "Notice at collection (Cal. Civ. Code 1798.100)",
                   "Categories of personal information, purposes and retention per dataset, "
                   "as a notice at collection must state them.", tuple(findings),
                   (Table("What is collected", ("dataset", "categories", "purposes",
                                                "retention"), tuple(rows)),))


def _rights(s: Scorer) -> Section:
    facts, limit = s.facts, s.policy["requests"]["ccpa_response_days"]
    counts = Counter(r.kind for r in facts.requests)
    late = [r for r in facts.requests if (r.days or 0) > limit or (
        r.days is None and (facts.now - r.created).days > limit)]
    cited = tuple(s.entry(e, f"{e.action} {e.resource}")
                  for e in facts.of("govern.dsar.erase", "govern.dsar.access",
                                    "govern.dsar.rectify")[-3:])
    findings = [
        Finding("ccpa.know", "Right to know (1798.110)", "info",
                f"{counts['access']} access request(s); an access export lists every dataset, "
                "release and model holding the consumer"),
        Finding("ccpa.delete", "Right to delete (1798.105)", "info",
                f"{counts['erase']} deletion request(s); erasure reaches every version, "
                "crypto-shreds the old ones and flags derived artifacts", cited),
        Finding("ccpa.correct", "Right to correct (1798.106)", "info",
                f"{counts['rectify']} correction request(s)"),
        Finding("ccpa.45days", f"Answered within {limit} days (1798.130)",
                "risk" if late else "met" if facts.requests else "not_measured",
                f"{len(late)} late of {len(facts.requests)}")]
    return Section("rights", "Rights to know, delete and correct", "", tuple(findings),
                   charts=("requests",))


def _opt_out(s: Scorer, cells: tuple[Cell, ...]) -> Section:
    facts = s.facts
    shared = len(facts.releases()) + sum("federation" in m for m in facts.models)
    consent_purposes = [p.name for p in facts.purposes if p.consent_required]
    withdrawn = sum(c.withdrawn for c in facts.consent.values())
    honoured = [c for c in cells if (c.stage, c.risk) == ("retention", "missing_consent")]
    findings = [
        Finding("ccpa.sale", "Sale of personal information", "info",
                f"veil sells nothing; {shared} artifact(s) were shared (releases, federated "
                "models): share them under purposes that honour opt-outs"),
        s.from_cells("ccpa.optout", "Opt-outs honoured (1798.120, 1798.135)", honoured)
        if honoured else
        Finding("ccpa.optout", "Opt-outs honoured (1798.120, 1798.135)", "not_measured",
                "no consent recorded: no opt-out can be honoured yet"),
        Finding("ccpa.optout.purposes", "Purposes that respect opt-outs",
                "met" if consent_purposes else "gap",
                f"{', '.join(consent_purposes) or 'none'} keep only subjects whose consent is "
                f"in force; {withdrawn:,} withdrawal(s) recorded")]
    return Section("optout", "Opting out of sale and sharing", "", tuple(findings),
                   charts=("consent",))


def _sensitive(s: Scorer) -> Section:
    facts = s.facts
    findings = []
    for record in facts.raw():
        sensitive = facts_.categories(record).get(str(Category.SENSITIVE), [])
        if not sensitive:
            continue
        wide = [p.name for p in facts.purposes
                if "*" in p.datasets.get(record.dataset, ())]
        users = [p.name for p in facts.purposes if record.dataset in p.datasets]
        findings.append(Finding(
            f"ccpa.spi.{record.dataset}", f"{record.dataset}: sensitive personal information",
            "gap" if wide else "met",
            f"{len(sensitive)} sensitive column(s) ({', '.join(sensitive[:6])}); "
            + (f"purposes {', '.join(wide)} may read every column" if wide else
               f"used only by purposes naming their columns ({', '.join(users) or 'none'})"),
            (s.version(record, f"{record.ref}: sensitive columns by its scan"),)))
    return Section("spi", "Limits on sensitive personal information (1798.121)",
                   "Sensitive columns are used only by purposes that name them: the guard "
                   "refuses the rest.", tuple(findings))


def sections(s: Scorer, cells: tuple[Cell, ...]) -> tuple[Section, ...]:
    return (_notice(s), _rights(s), _opt_out(s, cells), _sensitive(s))
