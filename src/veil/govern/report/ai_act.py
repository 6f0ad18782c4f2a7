"""The EU AI Act report: each model's declared intended use mapped to a risk class
(:func:`veil.govern.ai_act.classify`), and for each obligation what veil already holds as
evidence and what is missing."""

from __future__ import annotations

from typing import Any

from veil.govern.ai_act import EVIDENCE_KINDS, UNDECLARED_REASON, DecisionRole, classify
from veil.govern.report.matrix import Scorer
from veil.govern.report.model import Cell, Finding, Section, Table

__all__ = ["sections"]


def _evidence(s: Scorer, meta: dict[str, Any], decision: DecisionRole | None
              ) -> dict[str, tuple[str, str] | None]:
    """Each evidence kind this model has: (evidence id, what it shows), or None."""
    facts, name = s.facts, f"{meta['name']}@{meta['version']}"
    privacy, metrics = meta.get("privacy") or {}, meta.get("metrics") or {}
    card = s.model(meta, f"model {name}: card, metrics, privacy guarantee, sealed weights")
    lineage = facts.find("lineage.record", f"model {name}")
    source = next((v for v in facts.versions if v.dataset == meta["dataset"]
                   and v.version == meta["dataset_version"]), None)
    attacks = [a for a in facts.attacks_on("model", meta["name"], meta["version"])
               if s.fresh(a)]
    used = facts.of("model.load", "he.evaluate")
    declared = facts.find("govern.model.use", meta["name"])
    found: dict[str, tuple[str, str] | None] = {
        "model_card": (card, "model card in the registry"),
        "lineage": None if lineage is None else (
            s.entry(lineage, f"{name} learnt from {meta['dataset']}@{meta['dataset_version']}"),
            "lineage to the dataset versions and fingerprints it learnt from"),
        "classification": None if source is None or not source.classification else (
            s.version(source, f"{source.ref}: classification scan of the training data"),
            "personal-data categories of the training data"),
        "ledger": (s.entry(used[-1] if used else facts.entries[-1], "uses logged in the ledger"),
                   f"{len(used)} use(s) logged in a verified ledger"),
        "attack_results": None if not attacks else (
            s.attack(attacks[-1], f"{attacks[-1]['attack']} attack on {name}"),
            f"{len(attacks)} attack result(s)"),
        "dp_guarantee": None if privacy.get("epsilon") is None else (
            card, f"epsilon {privacy['epsilon']:.4g}"),
        "access_control": (s.cite.catalog("catalog access_rules", f"{len(facts.rules)} policy "
                                                                   "lines, guard on every call"),
                           "guard, roles, MFA"),
        "encryption": (card, "weights sealed with AES-256-GCM"),
        "risk_matrix": (s.cite.catalog("report risk matrix", "computed with this report"),
                        "the privacy risk matrix"),
        "human_oversight": None if decision not in (DecisionRole.NONE, DecisionRole.ASSISTS)
        else (s.entry(declared, f"{meta['name']} declared: a person decides")
              if declared else card, f"decision role {decision}"),
        "accuracy_metrics": None if "accuracy" not in metrics else (
            card, f"held-out accuracy {metrics['accuracy']:.4g}"),
        "intended_use": None if declared is None else (
            s.entry(declared, f"intended use of {meta['name']} declared"),
            "declared intended use"),
    }
    assert set(found) == set(EVIDENCE_KINDS)
    return found


def _ids(found: tuple[str, str] | None) -> tuple[str, ...]:
    return () if found is None else (found[0],)


def _model(s: Scorer, meta: dict[str, Any]) -> Section:
    name, anchor = f"{meta['name']}@{meta['version']}", f"model-{meta['name']}-v{meta['version']}"
    use = s.facts.uses.get(meta["name"])
    if use is None:
        held = _evidence(s, meta, None)
        return Section(anchor, f"{name}: risk class unknown", UNDECLARED_REASON + ".",
                       (Finding(f"ai.{name}.use", "Intended use", "gap", UNDECLARED_REASON + (
                           f" (veil models use {meta['name']} --domain ... --affected ... "
                           "--role ...)"), _ids(held["model_card"])),))
    made = classify(use)
    held = _evidence(s, meta, use.decision_role)
    findings = [Finding(f"ai.{name}.class", f"Risk class: {made.risk_class}",
                        "risk" if made.risk_class == "unacceptable" else "info",
                        f"{made.reference}: {made.reason}",
                        _ids(held["intended_use"]))]
    rows = []
    for duty in made.obligations:
        have = {k: held[k] for k in duty.evidence_kinds}
        present = [v for v in have.values() if v is not None]
        missing = [k for k, v in have.items() if v is None]
        if not duty.evidence_kinds:
            status, detail = "gap", "outside veil: the provider shows this elsewhere"
        else:
            status = "met" if not missing else "gap"
            detail = "; ".join(f"{what}" for _, what in present)
            if missing:
                detail += ("; " if detail else "") + "missing: " + ", ".join(
                    EVIDENCE_KINDS[k] for k in missing)
        findings.append(Finding(f"ai.{name}.{duty.article}", f"{duty.article} {duty.title}",
                                status, f"{duty.requires} Evidence: {detail}",  # type: ignore[arg-type]
                                tuple(dict.fromkeys(i for i, _ in present))))
        rows.append((duty.article, duty.title, status, detail))
    return Section(anchor, f"{name}: {made.risk_class} risk",
                   f"Declared use: {use.domain} ({use.domain.reference}); {use.description}; "
                   f"concerns {use.affected}; decision role {use.decision_role}.",
                   tuple(findings),
                   (Table("Obligations and evidence", ("article", "obligation", "status",
                                                      "evidence"), tuple(rows)),)
                   if rows else ())


def sections(s: Scorer, cells: tuple[Cell, ...]) -> tuple[Section, ...]:
    models: dict[str, dict[str, Any]] = {}
    for meta in s.facts.models:  # the newest version of each model
        if meta["name"] not in models or meta["version"] > models[meta["name"]]["version"]:
            models[meta["name"]] = meta
    overview = Table("Models", ("model", "declared domain", "decision role", "risk class"),
                     tuple((f"{m['name']}@{m['version']}",
                            str(s.facts.uses[n].domain) if n in s.facts.uses else "-",
                            str(s.facts.uses[n].decision_role) if n in s.facts.uses else "-",
                            str(classify(s.facts.uses[n]).risk_class) if n in s.facts.uses
                            else "unknown") for n, m in sorted(models.items())))
    return (Section("models", "Models and their risk classes",
                    "A model's class follows from its declared use: Art. 5 prohibited practices, "
                    "Art. 6 high risk (Annex I products, Annex III areas), Art. 50 transparency, "
                    "minimal otherwise.", (), (overview,), ("privacy_utility",)),
            *(_model(s, m) for _, m in sorted(models.items())))
