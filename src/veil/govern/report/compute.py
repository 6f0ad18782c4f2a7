"""Compute a report: gather the facts at the ledger's signed head, score the matrix, write the
kind's sections, and attach an inclusion proof of every cited ledger entry against that head."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from veil.errors import InputError
from veil.govern.report import ai_act, ccpa, figures, gdpr, hipaa, quantum
from veil.govern.report.evidence import Citations
from veil.govern.report.facts import Facts, gather
from veil.govern.report.matrix import RISKS, STAGES, Scorer, matrix
from veil.govern.report.model import Cell, Report, Section, Table
from veil.govern.report.policy import ReportPolicy
from veil.keys import inventory
from veil.workspace.store import Store

__all__ = ["KINDS", "build"]

KINDS = {"risk": "Privacy risk matrix", "gdpr": "GDPR compliance report",
         "ccpa": "CCPA/CPRA compliance report", "hipaa": "HIPAA compliance report",
         "ai-act": "EU AI Act report"}
_CHARTS = {"epsilon": figures.epsilon, "release_risk": figures.release_risk,
           "consent": figures.consent, "requests": figures.requests,
           "privacy_utility": figures.privacy_utility}
_SECTIONS = {"gdpr": gdpr.sections, "ccpa": ccpa.sections, "hipaa": hipaa.sections,
             "ai-act": ai_act.sections}


def _risk_sections(s: Scorer, cells: tuple[Cell, ...]) -> tuple[Section, ...]:
    facts = s.facts
    releases = tuple(
        (r.ref, str(r.provenance.get("achieved", {}).get("k", "-")),
         f"{r.provenance.get('risk_before', {}).get('highest_risk', float('nan')):.3g}",
         f"{r.provenance.get('risk_after', {}).get('highest_risk', float('nan')):.3g}",
         f"{r.provenance.get('suppressed', 0):,}",
         str(len(facts.attacks_on("release", r.dataset, r.version))))
        for r in facts.releases())
    models = []
    for meta in facts.models:
        attacks = [a for a in facts.attacks_on("model", meta["name"], meta["version"])
                   if a["attack"] == "membership"]
        best = max((max(x["tpr_at_fpr"]["0.01"] for x in a["result"]["attacks"].values())
                    for a in attacks), default=None)
        epsilon = (meta.get("privacy") or {}).get("epsilon")
        models.append((f"{meta['name']}@{meta['version']}",
                       "none" if epsilon is None else f"{epsilon:.4g}",
                       f"{(meta.get('metrics') or {}).get('accuracy', float('nan')):.4g}",
                       "not measured" if best is None else f"{100 * best:.2f} %"))
    budgets = tuple((b["dataset"], b["principal"], f"{b['epsilon']:g}",
                     f"{facts.spent(b['dataset'], b['principal']):.4g}") for b in facts.budgets)
    return (
        Section("releases", "Releases", "k and re-identification risk before and after each "
                "release, and how many linkage attacks measured it.",
                tables=(Table("Releases", ("release", "k", "risk before", "risk after",
                                           "suppressed", "linkage attacks"), releases),),
                charts=("release_risk",)),
        Section("dp", "Differential privacy", "Epsilon spent per dataset and principal over "
                "time, against the budgets.",
                tables=(Table("Budgets", ("dataset", "principal", "epsilon budget",
                                          "epsilon spent"), budgets),), charts=("epsilon",)),
        Section("models", "Models", "Each model's guarantee, utility and the strongest "
                "membership attack measured against it.",
                tables=(Table("Models", ("model", "epsilon", "accuracy",
                                         "best TPR at 1 % FPR"), tuple(models)),),
                charts=("privacy_utility",)),
        Section("people", "Consent and requests", "", charts=("consent", "requests")))


def _summary(kind: str, facts: Facts, cells: tuple[Cell, ...],
             sections: tuple[Section, ...]) -> tuple[str, ...]:
    levels = Counter(c.level for c in cells)
    statuses = Counter(f.status for s in sections for f in s.findings)
    worst = sorted(cells, key=lambda c: -c.score)[:3]
    lines = [f"{len(facts.raw())} dataset(s), {len(facts.releases())} release(s), "
             f"{len(facts.models)} model(s), {len(facts.purposes)} purpose(s); ledger of "
             f"{facts.head.size} entries, verified"]
    if kind in ("risk", "gdpr"):
        lines.append(f"matrix: {len(cells)} cells scored: " + ", ".join(
            f"{levels[x]} {x}" for x in ("critical", "high", "medium", "low") if levels[x]))
        lines += [f"highest: {STAGES[c.stage]} x {RISKS[c.risk]} = {c.score} ({c.level})"
                  for c in worst]
    lines.append(f"keys: {inventory.summary(facts.inventory).verdict}")
    if kind != "risk":
        lines.append("findings: " + ", ".join(f"{n} {x.replace('_', ' ')}"
                                              for x, n in statuses.most_common()))
    return tuple(lines)


def build(store: Store, kind: str, policy: ReportPolicy, *, now: datetime | None = None
          ) -> Report:
    """The ``kind`` report of the workspace ``store`` as it is now (read-only; no data key)."""
    if kind not in KINDS:
        raise InputError(f"unknown report {kind!r}; choose from {', '.join(KINDS)}")
    facts = gather(store, now=now)
    scorer = Scorer(facts, policy, Citations())
    cells = matrix(scorer)
    sections = (*(_risk_sections(scorer, cells) if kind == "risk"
                  else _SECTIONS[kind](scorer, cells)), quantum.section(scorer))
    with_matrix = kind in ("risk", "gdpr")
    charts = (*((figures.heatmap(cells),) if with_matrix else ()),
              *(_CHARTS[c](facts, policy) for c in dict.fromkeys(
                  c for section in sections for c in section.charts)))
    evidence = scorer.cite.all()
    proofs = {seq: store.ledger.prove_inclusion(seq, facts.head).to_dict()
              for seq in scorer.cite.seqs()}
    return Report(
        kind=kind, title=KINDS[kind], workspace=facts.workspace,
        generated=facts.now.isoformat(timespec="seconds"), head=facts.head.to_dict(),
        public_key=facts.public_key.hex(), policy=policy.to_dict(),
        summary=_summary(kind, facts, cells, sections), sections=sections,
        evidence=evidence, charts=charts,
        matrix=cells if with_matrix else (), stages=tuple(STAGES) if with_matrix else (),
        risks=tuple(RISKS) if with_matrix else (), proofs=proofs)
