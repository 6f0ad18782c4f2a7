"""The GDPR report: Art. 5 principles, Art. 6/9 bases, Art. 15-17 requests, Art. 25 defaults,
the Art. 30 record of processing, Art. 32 security and an Art. 35 DPIA draft built on the
risk matrix."""

from __future__ import annotations

from collections import Counter

from veil.discover.entities import Category
from veil.govern.report import facts as facts_
from veil.govern.report.matrix import Scorer
from veil.govern.report.model import Cell, Finding, Section, Table

__all__ = ["sections"]


def _cells(cells: tuple[Cell, ...], *pairs: tuple[str, str]) -> list[Cell]:
    return [c for c in cells if (c.stage, c.risk) in pairs]


def _article5(s: Scorer, cells: tuple[Cell, ...]) -> Section:
    facts = s.facts
    accountability = Finding(
        "gdpr.5.2", "Accountability (Art. 5(2))", "met",
        f"every call is a signed ledger entry; {facts.verified} entries and every bound catalog "
        f"row verified at head {facts.head.size}",
        (s.entry(facts.entries[-1], "newest entry at the report's head"),))
    rectified = [r for r in facts.requests if r.kind == "rectify"]
    findings = [
        s.from_cells("gdpr.5.1.a", "Lawfulness, fairness and transparency (Art. 5(1)(a))",
                     _cells(cells, ("collection", "purpose_creep"),
                            ("collection", "missing_consent"))),
        s.from_cells("gdpr.5.1.b", "Purpose limitation (Art. 5(1)(b))",
                     _cells(cells, ("analytics", "purpose_creep"),
                            ("training", "purpose_creep"))),
        s.from_cells("gdpr.5.1.c", "Data minimisation (Art. 5(1)(c))",
                     _cells(cells, ("collection", "over_collection"),
                            ("preparation", "over_collection"))),
        Finding("gdpr.5.1.d", "Accuracy (Art. 5(1)(d))", "info",
                f"{len(rectified)} rectification request(s) served; a rectification makes a "
                "new version with the subject's rows corrected (veil dsar rectify)"),
        s.from_cells("gdpr.5.1.e", "Storage limitation (Art. 5(1)(e))",
                     _cells(cells, ("storage", "over_retention"),
                            ("retention", "over_retention"))),
        s.from_cells("gdpr.5.1.f", "Integrity and confidentiality (Art. 5(1)(f))",
                     _cells(cells, ("storage", "leakage"), ("storage", "unauthorised_access"),
                            ("sharing", "leakage"))),
        accountability]
    return Section("art5", "Art. 5: principles", "Each principle judged from the risk-matrix "
                   "cells that bear on it: met when they are low, a gap at medium, a risk at "
                   "high or critical.", tuple(findings))


def _bases(s: Scorer) -> Section:
    facts = s.facts
    rows, findings = [], []
    for purpose in facts.purposes:
        entry = facts.find("govern.purpose.add", purpose.name)
        cited = () if entry is None else (s.entry(entry, f"purpose {purpose.name} registered: "
                                                         f"{purpose.basis}"),)
        rows.append((purpose.name, str(purpose.basis), str(purpose.special or "-"),
                     ", ".join(purpose.datasets), "yes" if purpose.consent_required else "no",
                     "-" if purpose.retention_days is None else f"{purpose.retention_days} d",
                     purpose.ends or "-"))
        sensitive = [d for d in purpose.datasets if d in facts.newest()
                     and facts_.special(facts.newest()[d])]
        if sensitive and purpose.special is None:
            findings.append(Finding(f"gdpr.9.{purpose.name}", f"{purpose.name}: no Art. 9(2) "
                                    "condition", "risk", f"uses special-category data in "
                                    f"{', '.join(sensitive)} without a condition", cited))
        else:
            findings.append(Finding(
                f"gdpr.6.{purpose.name}", f"{purpose.name}: Art. 6(1) {purpose.basis}", "met",
                f"Art. 6 basis {purpose.basis}"
                + (f", Art. 9(2) {purpose.special}" if purpose.special else "")
                + (f" for special-category data in {', '.join(sensitive)}" if sensitive else ""),
                cited))
    covered = {d for p in facts.purposes for d in p.datasets}
    for record in facts.raw():
        if record.dataset not in covered:
            findings.append(Finding(f"gdpr.6.{record.dataset}", f"{record.dataset}: no basis",
                                    "gap", "no registered purpose names this dataset, so no "
                                    "lawful basis is recorded for it",
                                    (s.version(record, f"{record.ref} ingested"),)))
    return Section("art6", "Art. 6 and 9: lawful basis per purpose", "The registry refuses a "
                   "purpose on special-category data without an Art. 9(2) condition, and a "
                   "consent basis without consent required.", tuple(findings),
                   (Table("Purposes", ("purpose", "Art. 6 basis", "Art. 9 condition",
                                       "datasets", "consent required", "retention", "ends"),
                          tuple(rows)),))


def _requests(s: Scorer) -> Section:
    facts, limit = s.facts, s.policy["requests"]["response_days"]
    counts = Counter(r.kind for r in facts.requests)
    rows, findings = [], []
    for request in facts.requests:
        entry = facts.find(f"govern.dsar.{request.kind}", request.request_id)
        cited = () if entry is None else (s.entry(entry, f"{request.kind} {request.request_id}"
                                                         f" {request.state} (the receipt)"),)
        days = request.days
        rows.append((request.request_id, request.kind, request.state,
                     request.created.isoformat(timespec="seconds"),
                     "-" if days is None else f"{days:.2f}"))
        late = days is not None and days > limit
        overdue = days is None and (facts.now - request.created).days > limit
        findings.append(Finding(
            f"gdpr.15-17.{request.request_id}", f"{request.kind} {request.request_id}",
            "risk" if late or overdue else "met" if days is not None else "gap",
            (f"answered in {days:.2f} days (limit {limit})" if days is not None else
             f"open since {request.created.date()}"), cited))
    summary = Finding("gdpr.15-17", "Requests handled", "info" if facts.requests else
                      "not_measured", f"access (Art. 15) {counts['access']}, rectification "
                      f"(Art. 16) {counts['rectify']}, erasure (Art. 17) {counts['erase']}")
    return Section("art15", "Art. 15-17: data subject requests",
                   "Each request is a catalog row bound to its ledger entry; an erasure's "
                   "receipt is that entry with an inclusion proof.",
                   (summary, *findings),
                   (Table("Requests", ("request", "kind", "state", "received", "days"),
                          tuple(rows)),), ("requests",))


def _by_default(s: Scorer) -> Section:
    facts = s.facts
    users = [p for p in facts.principals if p["kind"] == "user"]
    budgets = {b["dataset"] for b in facts.budgets}
    created = facts.find("workspace.create")
    assert created is not None
    findings = [
        Finding("gdpr.25.encryption", "Encryption at rest, always", "met",
                f"{len(facts.versions)} version(s) sealed with AES-256-GCM under their own "
                "data key; there is no unencrypted mode",
                (s.entry(created, "workspace created with its key ring"),)),
        Finding("gdpr.25.rights", "No rights until granted", "met",
                f"a new user has no rights; {sum(r[0] == 'p' for r in facts.rules)} policy "
                f"line(s) grant what exists"),
        Finding("gdpr.25.mfa", "Second factor for every user",
                "met" if all(u["mfa"] for u in users) else "gap",
                f"{len(users)} user(s); passwords and TOTP are required to sign in"),
        Finding("gdpr.25.dp", "Aggregates only under a privacy budget",
                "met" if all(r.dataset in budgets for r in facts.raw()) or not facts.spends
                else "gap", f"DP budgets on {', '.join(sorted(budgets)) or 'no dataset'}; "
                            "a query without a budget is refused"),
        Finding("gdpr.25.consent", "Consent filter on consent purposes", "met",
                f"{sum(p.consent_required for p in facts.purposes)} purpose(s) see only "
                "subjects whose consent is in force"),
        Finding("gdpr.25.releases", "Releases drop direct identifiers", "met"
                if all(not facts_.categories(r).get(str(Category.DIRECT_IDENTIFIER))
                       for r in facts.releases()) else "gap",
                f"{len(facts.releases())} release(s) checked by their own scan")]
    return Section("art25", "Art. 25: data protection by design and by default",
                   "What holds without anyone switching it on.", tuple(findings))


def _record(s: Scorer) -> Section:
    facts = s.facts
    newest = facts.newest()
    rows = []
    for purpose in facts.purposes:
        kinds: set[str] = set()
        for name in purpose.datasets:
            if name in newest:
                kinds.update(c.lower().replace("_", " ")
                             for c, cols in facts_.categories(newest[name]).items()
                             if cols and c != str(Category.OTHER))
        recipients = sorted({r[1] for r in facts.rules if r[0] == "p" and r[-1] == "allow"
                             and r[4] in (purpose.name, "*") and r[1] != "owner"})
        retention = [f"purpose: {purpose.retention_days} d"] if purpose.retention_days else []
        retention += [f"{d}: {facts.retention[d].to_dict()}" for d in purpose.datasets
                      if d in facts.retention]
        rows.append((purpose.name, purpose.description, ", ".join(sorted(kinds)) or "-",
                     f"subjects of {', '.join(purpose.datasets)}",
                     ", ".join(recipients) or "owner only",
                     "; ".join(retention) or "none set",
                     "AES-256-GCM at rest, TLS, guard + MFA, signed ledger"
                     + (", DP" if {"dp_query", "dp_train"} & set(purpose.operations) else "")))
    loose = sorted({e.purpose for e in facts.of("dataset.", "dp.query", "model.train")
                    if e.purpose not in {p.name for p in facts.purposes}})
    findings = [Finding("gdpr.30", "Record generated from the catalog", "info",
                        f"{len(rows)} registered purpose(s)")]
    if loose:
        findings.append(Finding("gdpr.30.unregistered", "Processing outside the record", "gap",
                                f"the owner processed data for {', '.join(loose)}, which no "
                                "registered purpose describes; register them so the record "
                                "is complete"))
    return Section("art30", "Art. 30: record of processing activities",
                   "Generated from the purpose registry, the classification of each dataset, "
                   "the policy lines and the retention rules.", tuple(findings),
                   (Table("Processing activities", ("purpose", "description",
                                                    "categories of data", "data subjects",
                                                    "recipients", "retention",
                                                    "security measures"), tuple(rows)),))


def _security(s: Scorer, cells: tuple[Cell, ...]) -> Section:
    facts = s.facts
    data_keys = [k for k in facts.keys if k["kind"] == "data"]
    shredded = sum(k["destroyed"] is not None for k in data_keys)
    witnesses = facts.of("ledger.witness.add")
    findings = [
        s.from_cells("gdpr.32.encryption", "Encryption and keys (Art. 32(1)(a))",
                     _cells(cells, ("storage", "leakage"))),
        Finding("gdpr.32.keys", "Key inventory", "info",
                f"{len(data_keys)} data keys, {shredded} crypto-shredded; keys never touch "
                "disk unwrapped; each key's quantum exposure is under Keys and quantum "
                "exposure"),
        s.from_cells("gdpr.32.access", "Access control and MFA (Art. 32(1)(b))",
                     _cells(cells, ("storage", "unauthorised_access"),
                            ("analytics", "unauthorised_access"))),
        s.from_cells("gdpr.32.transit", "In transit (Art. 32(1)(a))",
                     _cells(cells, ("sharing", "leakage"))),
        Finding("gdpr.32.audit", "Audit ledger (Art. 32(1)(d))",
                "met", f"{facts.head.size} entries under an Ed25519-signed Merkle head; "
                f"{len(witnesses)} witness folder(s) added"
                + ("" if witnesses else " (add one so a rollback is caught from outside)"))]
    return Section("art32", "Art. 32: security of processing",
                   "Measures in force, judged from the matrix where it scores them.",
                   tuple(findings))


def _dpia(s: Scorer, cells: tuple[Cell, ...]) -> Section:
    high = [c for c in cells if c.level in ("high", "critical")]
    findings = [Finding(f"gdpr.35.{c.stage}.{c.risk}", f"{c.stage}: {c.risk.replace('_', ' ')}"
                        f" ({c.level}, {c.likelihood} x {c.impact})",
                        "risk", f"{'; '.join(c.findings)}. Mitigation: {c.mitigation} "
                        f"(applied: {c.applied})", c.evidence) for c in high]
    models = len(s.facts.models)
    return Section("art35", "Art. 35: data protection impact assessment (draft)",
                   f"Processing: {len(s.facts.raw())} dataset(s), {len(s.facts.purposes)} "
                   f"purpose(s), {models} model(s), {len(s.facts.releases())} release(s). "
                   "The risks below are the matrix cells at high or critical, each with its "
                   "mitigation; the whole matrix is above. A controller completes the "
                   "necessity and proportionality assessment and consults the DPO.",
                   tuple(findings), charts=("privacy_utility",))


def sections(s: Scorer, cells: tuple[Cell, ...]) -> tuple[Section, ...]:
    return (_article5(s, cells), _bases(s), _requests(s), _by_default(s), _record(s),
            _security(s, cells), _dpia(s, cells))
