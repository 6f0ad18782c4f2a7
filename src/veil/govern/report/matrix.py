"""The privacy risk matrix: each risk at each stage of the ML lifecycle, scored from evidence.

A cell's likelihood (1-5) comes from the facts its rule reads, judged against the report policy;
its impact (1-5) is the policy's impact of the risk, one higher when the workspace holds
special-category data (GDPR Art. 9). Every rule names the mitigation veil offers for the cell
and whether it is applied, and cites what it read. A risk nothing can measure yet (a model no
attack has tried) is scored as likely, not as absent: "not measured" is a finding.
Cells no rule covers do not apply to that stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from veil.discover.entities import Category
from veil.govern.purposes import ALL_COLUMNS, CATEGORY_PREFIX
from veil.govern.report import facts as facts_
from veil.govern.report.evidence import Citations
from veil.govern.report.facts import Facts
from veil.govern.report.model import LEVELS, Cell, Finding, level_of
from veil.govern.report.policy import ReportPolicy
from veil.workspace.catalog import DatasetVersion

__all__ = ["RISKS", "STAGES", "Scorer", "matrix"]

STAGES = {"collection": "Collection", "storage": "Storage", "preparation": "Preparation",
          "analytics": "Analytics", "training": "Training",
          "deployment": "Deployment / inference", "sharing": "Sharing",
          "retention": "Retention / deletion"}
RISKS = {"re_identification": "Re-identification (linkage)",
         "membership_inference": "Membership inference",
         "attribute_inference": "Attribute inference / model inversion",
         "reconstruction": "Reconstruction from aggregates",
         "leakage": "Leakage in transit or at rest",
         "over_collection": "Over-collection (minimization)",
         "unauthorised_access": "Unauthorised access", "purpose_creep": "Purpose creep",
         "missing_consent": "Missing consent", "over_retention": "Over-retention"}
_DATA_USES = ("dataset.read", "dp.query", "model.train", "dataset.anonymize",
              "dataset.pseudonymize", "dataset.safe_harbor", "federated.train")


@dataclass
class _Judgement:
    """What a rule found: a likelihood that only rises, findings and their evidence."""

    likelihood: int = 1
    findings: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def raise_to(self, level: int, finding: str, *evidence: str) -> None:
        self.likelihood = max(self.likelihood, min(level, 5))
        self.findings.append(finding)
        self.evidence.extend(e for e in evidence if e not in self.evidence)

    def note(self, finding: str, *evidence: str) -> None:
        self.raise_to(1, finding, *evidence)


class Scorer:
    """Facts, policy and citations shared by the matrix rules and the regulation reports."""

    def __init__(self, facts: Facts, policy: ReportPolicy, cite: Citations) -> None:
        self.facts, self.policy, self.cite = facts, policy, cite

    # -- citing ------------------------------------------------------------------------------
    def version(self, record: DatasetVersion, summary: str) -> str:
        entry = self.facts.version_entry(record)
        return self.cite.catalog(f"catalog version {record.ref}", summary,
                                 None if entry is None else entry.seq)

    def entry(self, entry: Any, summary: str) -> str:
        return self.cite.ledger(entry.seq, entry.action, entry.resource, summary)

    def threshold(self, section: str, key: str) -> str:
        return self.cite.policy(section, key, self.policy[section][key])

    def model(self, meta: dict[str, Any], summary: str) -> str:
        entry = self.facts.model_entry(meta["name"], meta["version"])
        return self.cite.catalog(f"catalog model {meta['name']}@{meta['version']}", summary,
                                 None if entry is None else entry.seq)

    def attack(self, result: dict[str, Any], summary: str) -> str:
        entry = self.facts.attack_entry(result["id"])
        return self.cite.attack(result["id"], f"{result['attack']} on {result['artifact']}@"
                                f"{result['artifact_id']}", summary,
                                None if entry is None else entry.seq)

    # -- shared judgements -------------------------------------------------------------------
    def special(self) -> bool:
        return any(facts_.special(r) for r in self.facts.raw())

    def impact(self, risk: str) -> int:
        return min(5, int(self.policy["impact"][risk]) + (1 if self.special() else 0))

    def cell(self, stage: str, risk: str, judged: _Judgement, mitigation: str,
             applied: str) -> Cell:
        impact = self.impact(risk)
        score = judged.likelihood * impact
        return Cell(stage, risk, judged.likelihood, impact,
                    level_of(score, self.policy["levels"]), tuple(judged.findings),
                    tuple(judged.evidence), mitigation, applied)  # type: ignore[arg-type]

    def from_cells(self, finding_id: str, title: str, cells: list[Cell]) -> Finding:
        """A finding summing up matrix cells: met when all are low, a gap at medium, a risk at
        high or critical; it cites what the cells cite."""
        if not cells:
            return Finding(finding_id, title, "not_measured", "no fact in the workspace bears "
                                                              "on this yet")
        worst = max(LEVELS.index(c.level) for c in cells)
        status = "met" if worst == 0 else "gap" if worst == 1 else "risk"
        lines = list(dict.fromkeys(f for c in cells for f in c.findings))
        evidence = tuple(dict.fromkeys(e for c in cells for e in c.evidence))
        where = ", ".join(f"{STAGES[c.stage]} x {RISKS[c.risk]}: {c.level} ({c.score})"
                          for c in cells)
        return Finding(finding_id, title, status,  # type: ignore[arg-type]
                       f"{where}. " + "; ".join(lines), evidence)

    def fresh(self, result: dict[str, Any]) -> bool:
        age = self.policy["membership"]["attack_age_days"]
        return self.facts.now - datetime.fromisoformat(result["recorded"]) <= timedelta(days=age)

    def membership(self, meta: dict[str, Any]) -> tuple[int, list[str], list[str], bool]:
        """A model's membership-inference likelihood, findings, evidence and whether a fresh
        attack measured it."""
        policy = self.policy["membership"]
        judged = _Judgement()
        name = f"{meta['name']}@{meta['version']}"
        epsilon = (meta.get("privacy") or {}).get("epsilon")
        cited = self.model(meta, f"model {name}: epsilon {_num(epsilon)}")
        if epsilon is None:
            judged.raise_to(4, f"{name} was trained without differential privacy", cited)
        elif epsilon > self.policy["dp"]["epsilon_max"]:
            judged.raise_to(3, f"{name} has epsilon {_num(epsilon)} > "
                               f"{_num(self.policy['dp']['epsilon_max'])}", cited,
                            self.threshold("dp", "epsilon_max"))
        else:
            judged.note(f"{name} is ({_num(epsilon)}, {_num(meta['privacy'].get('delta'))})-DP",
                        cited)
        measured = [a for a in self.facts.attacks_on("model", meta["name"], meta["version"])
                    if a["attack"] == "membership" and self.fresh(a)]
        for result in measured:
            attacks = result["result"]["attacks"]
            tpr = max(a["tpr_at_fpr"]["0.01"] for a in attacks.values())
            auc = max(a["auc"] for a in attacks.values())
            ref = self.attack(result, f"best TPR at 1 % FPR {_pct(tpr)}, AUC {auc:.3f} "
                                      f"({', '.join(attacks)})")
            if tpr > policy["tpr_at_low_fpr_max"] or auc > policy["auc_max"]:
                judged.raise_to(5, f"membership attack on {name}: TPR at 1 % FPR {_pct(tpr)}, "
                                   f"AUC {auc:.3f} (limits {_pct(policy['tpr_at_low_fpr_max'])}"
                                   f", {policy['auc_max']})", ref,
                                self.threshold("membership", "tpr_at_low_fpr_max"))
            else:
                judged.note(f"membership attack on {name}: TPR at 1 % FPR {_pct(tpr)}, AUC "
                            f"{auc:.3f}, within the policy", ref)
        if not measured:
            judged.raise_to(3, f"{name}: membership inference not measured (no attack within "
                               f"{policy['attack_age_days']} days)", cited,
                            self.threshold("membership", "attack_age_days"))
        return judged.likelihood, judged.findings, judged.evidence, bool(measured)


Rule = Callable[[Scorer], Cell | None]
_RULES: list[Rule] = []


def _rule(function: Rule) -> Rule:
    _RULES.append(function)
    return function


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _worst_uniqueness(record: DatasetVersion) -> tuple[float, list[str]]:
    found = (record.classification or {}).get("qi_risk") or []
    if not found:
        return 0.0, []
    top = max(found, key=lambda r: (r["unique_share"], -len(r["columns"])))
    return float(top["unique_share"]), list(top["columns"])


# -- re-identification ---------------------------------------------------------------------------
@_rule
def _raw_identifiability(s: Scorer) -> Cell | None:
    judged = _Judgement()
    raw = s.facts.raw()
    if not raw:
        return None
    released = {r.provenance.get("from", "").split("@")[0] for r in s.facts.releases()}
    for record in raw:
        share, columns = _worst_uniqueness(record)
        cited = s.version(record, f"{record.ref}: {record.rows:,} rows; most unique quasi-"
                                  f"identifier combination {', '.join(columns) or 'none'} "
                                  f"({_pct(share)} of scanned rows unique)")
        level = 5 if share >= 0.5 else 4 if share >= 0.2 else 3 if share >= 0.05 else (
            2 if share > 0 else 1)
        judged.raise_to(level, f"{record.ref}: {_pct(share)} of rows unique on "
                               f"{', '.join(columns) or 'no quasi-identifiers'}", cited)
    applied = sum(r.dataset in released for r in raw)
    return s.cell("preparation", "re_identification", judged,
                  "share k-anonymous, l-diverse or Safe Harbor releases instead of rows "
                  "(veil anonymize, veil safe-harbor); raw reads need raw_read and a step-up",
                  "yes" if applied == len(raw) else "partly" if applied else "no")


def _release_judgement(s: Scorer, record: DatasetVersion, judged: _Judgement) -> None:
    linkage = s.policy["linkage"]
    how = facts_.kind_of(record)
    prov = record.provenance
    if how == "anonymize":
        k = int(prov.get("achieved", {}).get("k", 0))
        risk = float(prov.get("risk_after", {}).get("highest_risk", 1.0))
        cited = s.version(record, f"{record.ref}: k = {k}, highest prosecutor risk "
                                  f"{risk:.3g}, {prov.get('suppressed', 0):,} rows suppressed")
        if k < linkage["k_min"]:
            judged.raise_to(5 if k <= 2 else 4, f"{record.ref} is only {k}-anonymous "
                                                f"(policy k >= {linkage['k_min']})",
                            cited, s.threshold("linkage", "k_min"))
        elif risk > linkage["prosecutor_risk_max"]:
            judged.raise_to(4, f"{record.ref}: highest prosecutor risk {risk:.3g} > "
                               f"{linkage['prosecutor_risk_max']}", cited,
                            s.threshold("linkage", "prosecutor_risk_max"))
        else:
            judged.raise_to(2, f"{record.ref}: k = {k}, highest risk {risk:.3g}", cited)
    elif how == "safe_harbor":
        present = facts_.safe_harbor(record)
        kinds = [] if present is None else [str(i) for i in present.present]
        cited = s.version(record, f"{record.ref}: Safe Harbor release; identifier kinds "
                                  f"found by the scan: {', '.join(kinds) or 'none'}")
        judged.raise_to(4 if kinds else 2, f"{record.ref}: Safe Harbor, "
                        f"{', '.join(kinds) + ' still present' if kinds else '18 kinds removed'}",
                        cited)
    elif how == "synthesize":
        privacy = prov.get("privacy", {})
        epsilon, ceiling = float(privacy.get("epsilon", math.inf)), s.policy["dp"]["epsilon_max"]
        cited = s.version(record, f"{record.ref}: {str(prov.get('method', '')).upper()} "
                                  f"synthetic data, ({epsilon:g}, {privacy.get('delta', 0):g})"
                                  "-DP per person")
        if epsilon > ceiling:
            judged.raise_to(4, f"{record.ref}: synthetic at epsilon {epsilon:g} > {ceiling:g}",
                            cited, s.threshold("dp", "epsilon_max"))
        else:
            judged.raise_to(1, f"{record.ref}: DP synthetic data, epsilon {epsilon:g}; no row "
                               "is a person's record", cited)
    else:
        cited = s.version(record, f"{record.ref}: pseudonymized columns "
                                  f"{', '.join(prov.get('columns', []))}")
        judged.raise_to(4, f"{record.ref} is pseudonymized: still personal data, linkable on "
                           "its remaining quasi-identifiers", cited)
    measured = s.facts.attacks_on("release", record.dataset, record.version)
    for result in measured:
        rate = float(result["result"]["rate"])
        ref = s.attack(result, f"linkage rate {_pct(rate)} with "
                               f"{', '.join(result['result']['quasi_identifiers'])}")
        if rate > linkage["linkage_rate_max"]:
            judged.raise_to(5, f"linkage attack re-identified {_pct(rate)} of the people in "
                               f"{record.ref}", ref, s.threshold("linkage", "linkage_rate_max"))
        else:
            judged.note(f"linkage attack on {record.ref}: {_pct(rate)} re-identified", ref)
    if not measured and how != "synthesize":  # a DP release's evidence is its guarantee
        judged.raise_to(judged.likelihood + 1, f"{record.ref}: linkage not measured", cited)


@_rule
def _releases(s: Scorer) -> Cell | None:
    judged = _Judgement()
    releases = s.facts.releases()
    for record in releases:
        _release_judgement(s, record, judged)
    if not releases:
        judged.note("no release made: nothing leaves the workspace as rows")
    measured = sum(facts_.kind_of(r) == "synthesize" or bool(s.facts.attacks_on(
        "release", r.dataset, r.version)) for r in releases)
    return s.cell("sharing", "re_identification", judged,
                  "k-anonymity with suppression, Safe Harbor, DP synthetic data (veil synth), "
                  "linkage attacks on each release (veil attack linkage)",
                  "yes" if releases and measured == len(releases) else
                  "partly" if releases else "no")


# -- membership and attribute inference -----------------------------------------------------------
def _models_cell(s: Scorer, *, stage: str) -> Cell | None:
    if not s.facts.models:
        return None
    judged = _Judgement()
    measured = 0
    loads = {e.resource for e in s.facts.of("model.load", "he.evaluate")}
    for meta in s.facts.models:
        likelihood, findings, evidence, was = s.membership(meta)
        if stage == "deployment" and f"{meta['name']}@{meta['version']}" not in loads:
            likelihood = max(1, likelihood - 1)
            findings = [*findings, f"{meta['name']}@{meta['version']}: not loaded or scored "
                                   "since registration"]
        for finding in findings:
            judged.raise_to(likelihood, finding, *evidence)
        measured += was
    return s.cell(stage, "membership_inference", judged,
                  "DP-SGD or federated DP with a stated epsilon; membership attacks (LiRA, "
                  "RMIA) against each model (veil attack membership)",
                  "yes" if measured == len(s.facts.models) else "partly" if measured else "no")


def _attribute_cell(s: Scorer, *, stage: str) -> Cell | None:
    if not s.facts.models:
        return None
    judged = _Judgement()
    limit = s.policy["attribute"]["advantage_max"]
    measured = 0
    for meta in s.facts.models:
        name = f"{meta['name']}@{meta['version']}"
        found = [a for a in s.facts.attacks_on("model", meta["name"], meta["version"])
                 if a["attack"] == "attribute" and s.fresh(a)]
        for result in found:
            advantage = max(result["result"]["advantage"].values())  # members or not
            ref = s.attack(result, f"{result['result'].get('mode', 'attribute')} of "
                                   f"{result['result'].get('sensitive')}: advantage "
                                   f"{advantage:.3f}")
            if advantage > limit:
                judged.raise_to(4, f"{name}: attribute inference advantage {advantage:.3f} > "
                                   f"{limit}", ref, s.threshold("attribute", "advantage_max"))
            else:
                judged.note(f"{name}: attribute inference advantage {advantage:.3f}", ref)
        if not found:
            epsilon = (meta.get("privacy") or {}).get("epsilon")
            cited = s.model(meta, f"model {name}: epsilon {_num(epsilon)}")
            judged.raise_to(2 if epsilon is not None and epsilon <= 1 else 3,
                            f"{name}: attribute inference not measured", cited)
        measured += bool(found)
    return s.cell(stage, "attribute_inference", judged,
                  "DP training bounds what a model reveals about any one person's attributes; "
                  "attribute-inference and inversion attacks measure it (veil attack attribute)",
                  "yes" if measured == len(s.facts.models) else "partly" if measured else "no")


_RULES += [partial(cell, stage=stage) for cell in (_models_cell, _attribute_cell)
           for stage in ("training", "deployment")]


# -- reconstruction ------------------------------------------------------------------------------
@_rule
def _analytics_reconstruction(s: Scorer) -> Cell | None:
    budgets = [b for b in s.facts.budgets if b["principal"] == "*"]
    if not budgets and not s.facts.spends:
        return None
    judged = _Judgement()
    policy = s.policy["dp"]
    for budget in budgets:
        spent = s.facts.spent(budget["dataset"])
        share = spent / budget["epsilon"] if budget["epsilon"] else 1.0
        entry = s.facts.find("dp.budget.set", budget["dataset"])
        cited = (s.entry(entry, f"budget of {budget['dataset']}: epsilon {budget['epsilon']:g}")
                 if entry else s.cite.catalog(f"catalog dp_budgets {budget['dataset']}",
                                             f"epsilon {budget['epsilon']:g}"))
        finding = (f"{budget['dataset']}: epsilon {spent:.4g} of {budget['epsilon']:g} spent "
                   f"({share:.0%})")
        if share > policy["budget_used_max"]:
            judged.raise_to(3, finding, cited, s.threshold("dp", "budget_used_max"))
        else:
            judged.raise_to(2, finding, cited)
    unbudgeted = {x["dataset"] for x in s.facts.spends} - {b["dataset"] for b in budgets}
    for name in sorted(unbudgeted):
        judged.raise_to(4, f"{name}: DP answers released without a dataset-wide budget")
    for result in (a for a in s.facts.attacks if a["attack"] == "reconstruction"):
        through = result["result"]["through_dp_queries"]
        advantage = float(through["advantage"])
        recovered, baseline = through["recovered_share"], through["baseline_share"]
        ref = s.attack(result, f"Dinur-Nissim through DP queries: {_pct(recovered)} of "
                               f"secret bits recovered (baseline {_pct(baseline)})")
        finding = (f"reconstruction attack on {result['artifact']}: advantage "
                   f"{advantage:.3f} over guessing")
        if advantage > s.policy["attribute"]["advantage_max"]:
            judged.raise_to(4, finding, ref, s.threshold("attribute", "advantage_max"))
        else:
            judged.note(finding, ref)
    for result in (a for a in s.facts.attacks if a["attack"] == "audit"):
        found = result["result"]
        ref = s.attack(result, f"audit of {found.get('mechanism')}: epsilon >= "
                               f"{found.get('lower_bound', 0):.3f} of "
                               f"{found.get('claimed_epsilon')} claimed")
        if found.get("lower_bound", 0) > found.get("claimed_epsilon", float("inf")) * 1.01:
            judged.raise_to(5, "a DP mechanism leaks more than its claimed epsilon", ref)
        else:
            judged.note(f"DP audit: measured epsilon lower bound "
                        f"{found.get('lower_bound', 0):.3f} <= claimed "
                        f"{found.get('claimed_epsilon')}", ref)
    return s.cell("analytics", "reconstruction", judged,
                  "every aggregate is answered with OpenDP noise and debited from a budget "
                  "that cannot be overspent; reconstruction attacks and DP audits measure it",
                  "yes" if not unbudgeted else "partly")


@_rule
def _federated_reconstruction(s: Scorer) -> Cell | None:
    federated = [m for m in s.facts.models if (m.get("privacy") or {}).get("mode")
                 or "federation" in m]
    if not federated:
        return None
    judged = _Judgement()
    for meta in federated:
        privacy = meta.get("privacy") or {}
        definition = (meta.get("federation") or {}).get("definition", {})
        secure = (definition.get("secure_aggregation") or {}).get("enabled", False)
        name = f"{meta['name']}@{meta['version']}"
        cited = s.model(meta, f"federated model {name}: {privacy.get('mode', 'none')} DP, "
                              f"epsilon {_num(privacy.get('epsilon'))}, secure aggregation "
                              f"{'on' if secure else 'off'}")
        if privacy.get("mode", "none") == "none":
            judged.raise_to(4, f"{name}: site updates carry no DP noise", cited)
        if not secure:
            judged.raise_to(3, f"{name}: the server saw each site's update", cited)
        if privacy.get("mode", "none") != "none" and secure:
            judged.raise_to(2, f"{name}: SecAgg+ and {privacy['mode']} DP (epsilon "
                               f"{_num(privacy.get('epsilon'))})", cited)
    return s.cell("sharing", "reconstruction", judged,
                  "secure aggregation (SecAgg+) hides each site's update; central or local DP "
                  "bounds what the sum reveals", "yes" if judged.likelihood <= 2 else "partly")


# -- leakage -------------------------------------------------------------------------------------
@_rule
def _at_rest(s: Scorer) -> Cell:
    judged = _Judgement()
    created = s.facts.find("workspace.create")
    assert created is not None  # the first entry of every workspace
    cited = s.entry(created, "workspace created: AES-256-GCM vault, data keys wrapped under "
                             "the master key")
    judged.note("every version and model is sealed with AES-256-GCM under its own data key",
                cited)
    rotated = s.facts.find("keys.rotate") or created
    days = (s.facts.now - datetime.fromisoformat(rotated.time)).days
    limit = s.policy["keys"]["rotation_days"]
    ref = s.entry(rotated, f"master key last (re)wrapped {rotated.time[:10]}")
    if days > limit:
        judged.raise_to(3, f"master key not rotated for {days} days (policy {limit})", ref,
                        s.threshold("keys", "rotation_days"))
    else:
        judged.note(f"master key rotated or set {days} days ago", ref)
    return s.cell("storage", "leakage", judged,
                  "envelope encryption at rest, key rotation (veil keys rotate), "
                  "crypto-shredding", "yes" if days <= limit else "partly")


@_rule
def _in_transit(s: Scorer) -> Cell:
    judged = _Judgement()
    issued = s.facts.of("tls.issue")
    for entry in issued[-3:]:
        judged.note(f"TLS certificate issued ({entry.resource})",
                    s.entry(entry, "TLS certificate issued by the workspace CA"))
    computed = s.facts.of("he.", "mpc.", "zk.")
    if computed:
        entry = computed[-1]
        judged.note(f"{len(computed)} computations on encrypted or secret-shared data "
                    "(HE, MPC, ZK)", s.entry(entry, f"{entry.action} on {entry.resource}"))
    federated = [m for m in s.facts.models if "federation" in m]
    if federated and not issued:
        judged.raise_to(2, "federated runs took place; no TLS certificate issued by this "
                           "workspace (the sites' channel is not evidenced here)")
    if not issued:
        judged.raise_to(2, "no TLS certificate issued yet: `veil serve` makes one at start")
    return s.cell("sharing", "leakage", judged,
                  "TLS 1.2+ on the service and federation, HE scoring, MPC statistics",
                  "yes" if issued else "partly")


# -- over-collection -----------------------------------------------------------------------------
@_rule
def _collection_minimization(s: Scorer) -> Cell | None:
    raw = s.facts.raw()
    if not raw:
        return None
    judged = _Judgement()
    for record in raw:
        found = facts_.categories(record)
        direct = found.get(str(Category.DIRECT_IDENTIFIER), [])
        used = _purpose_columns(s, record)
        unused = [c for c in record.schema if c not in used] if used is not None else []
        cited = s.version(record, f"{record.ref}: {len(record.schema)} columns, "
                                  f"{len(direct)} direct identifiers")
        if used is None:
            judged.raise_to(3, f"{record.ref}: no purpose names this dataset, so no column "
                               "is justified by one", cited)
        elif unused:
            judged.raise_to(3 if set(unused) & set(direct) else 2,
                            f"{record.ref}: {len(unused)} of {len(record.schema)} columns used "
                            f"by no purpose ({', '.join(unused[:6])}"
                            f"{'…' if len(unused) > 6 else ''})", cited)
        else:
            judged.note(f"{record.ref}: every column serves a purpose", cited)
    return s.cell("collection", "over_collection", judged,
                  "purposes list the columns they need; the guard refuses the rest; "
                  "pseudonymize or drop identifiers (veil pseudonymize)",
                  "yes" if judged.likelihood == 1 else "partly")


def _purpose_columns(s: Scorer, record: DatasetVersion) -> set[str] | None:
    """The columns of ``record`` some registered purpose may use (None: no purpose names it)."""
    found = facts_.categories(record)
    named = [p for p in s.facts.purposes if record.dataset in p.datasets]
    if not named:
        return None
    columns: set[str] = set()
    for purpose in named:
        for named_column in purpose.datasets[record.dataset]:
            if named_column == ALL_COLUMNS:
                return set(record.schema)
            if named_column.startswith(CATEGORY_PREFIX):
                columns.update(found.get(named_column.removeprefix(CATEGORY_PREFIX).upper(), []))
            else:
                columns.add(named_column)
    return columns


@_rule
def _preparation_minimization(s: Scorer) -> Cell | None:
    releases = s.facts.releases()
    if not releases:
        return None
    judged = _Judgement()
    for record in releases:
        direct = facts_.categories(record).get(str(Category.DIRECT_IDENTIFIER), [])
        cited = s.version(record, f"{record.ref}: direct identifiers by its scan: "
                                  f"{', '.join(direct) or 'none'}")
        if direct:
            judged.raise_to(3, f"{record.ref} still holds direct identifiers "
                               f"({', '.join(direct)})", cited)
        else:
            judged.note(f"{record.ref}: no direct identifier left", cited)
    return s.cell("preparation", "over_collection", judged,
                  "releases drop or pseudonymize direct identifiers by default",
                  "yes" if judged.likelihood == 1 else "partly")


# -- unauthorised access -------------------------------------------------------------------------
@_rule
def _storage_access(s: Scorer) -> Cell:
    judged = _Judgement()
    policy = s.policy["access"]
    users = [p for p in s.facts.principals if p["kind"] == "user" and not p["disabled"]]
    without = [p["name"] for p in users if not p["mfa"]]
    if without and policy["mfa_required"]:
        judged.raise_to(4, f"users without a second factor: {', '.join(without)}")
    else:
        judged.note(f"{len(users)} active user(s), all enrolled in TOTP")
    refused = s.facts.of("access.denied")
    failed = [e for e in s.facts.of("access.login") if not e.parameters.get("ok", True)]
    if refused:
        ref = s.entry(refused[-1], f"{len(refused)} refused call(s); newest shown")
        if len(refused) > policy["refusals_max"]:
            judged.raise_to(3, f"{len(refused)} refused calls (policy {policy['refusals_max']})",
                            ref, s.threshold("access", "refusals_max"))
        else:
            judged.note(f"{len(refused)} call(s) refused by the guard and logged", ref)
    if len(failed) >= 5:
        judged.raise_to(3, f"{len(failed)} failed sign-ins",
                        s.entry(failed[-1], "newest failed sign-in"))
    judged.note(f"ledger and bound catalog rows verified ({s.facts.verified} entries)")
    return s.cell("storage", "unauthorised_access", judged,
                  "the guard (RBAC/ABAC, purposes), password + TOTP, step-up for identifiers, "
                  "a signed ledger of every call",
                  "yes" if judged.likelihood <= 2 else "partly")


@_rule
def _analytics_access(s: Scorer) -> Cell | None:
    reads = [e for e in s.facts.of("dataset.read") if e.actor != "owner"]
    uses = s.facts.of(*_DATA_USES)
    if not uses:
        return None
    judged = _Judgement()
    if reads:
        judged.raise_to(2, f"{len(reads)} raw read(s) by users",
                        s.entry(reads[-1], "newest raw read by a user"))
    actors = sorted({e.actor for e in uses})
    judged.note(f"{len(uses)} data operations by {', '.join(actors)}; each decided by the "
                "guard and logged")
    return s.cell("analytics", "unauthorised_access", judged,
                  "users get DP answers, not rows; raw reads need a rule and a step-up",
                  "yes")


# -- purpose creep -------------------------------------------------------------------------------
def _creep(s: Scorer, actions: tuple[str, ...], stage: str, what: str) -> Cell | None:
    uses = s.facts.of(*actions)
    if not uses:
        return None
    judged = _Judgement()
    registered = {p.name for p in s.facts.purposes}
    loose = [e for e in uses if e.purpose not in registered]
    if loose:
        names = sorted({e.purpose for e in loose})
        judged.raise_to(3, f"{len(loose)} of {len(uses)} {what} ran under purposes no "
                           f"registry entry defines ({', '.join(names)}): only the owner can",
                        s.entry(loose[-1], f"{loose[-1].action} for purpose "
                                           f"{loose[-1].purpose!r}"))
    bound = [e for e in uses if e.purpose in registered]
    if bound:
        judged.note(f"{len(bound)} {what} under registered purposes, their columns and "
                    "operations enforced", s.entry(bound[-1], f"{bound[-1].action} for "
                                                              f"{bound[-1].purpose!r}"))
    beyond = [e for e in s.facts.of("access.denied")
              if "purpose" in str(e.parameters.get("reason", ""))]
    if beyond:
        judged.note(f"{len(beyond)} call(s) beyond a purpose refused",
                    s.entry(beyond[-1], "a refusal naming the purpose's limits"))
    return s.cell(stage, "purpose_creep", judged,
                  "register purposes (veil purpose add) with their datasets, columns and "
                  "operations; every user session names one",
                  "yes" if not loose else "partly")


@_rule
def _analytics_creep(s: Scorer) -> Cell | None:
    return _creep(s, ("dp.query", "dataset.read"), "analytics", "queries and reads")


@_rule
def _training_creep(s: Scorer) -> Cell | None:
    return _creep(s, ("model.train", "federated.train"), "training", "trainings")


@_rule
def _collection_creep(s: Scorer) -> Cell | None:
    raw = s.facts.raw()
    if not raw:
        return None
    judged = _Judgement()
    for record in raw:
        named = [p.name for p in s.facts.purposes if record.dataset in p.datasets]
        cited = s.version(record, f"{record.ref}: purposes naming it: "
                                  f"{', '.join(named) or 'none'}")
        if named:
            judged.note(f"{record.dataset} collected for {', '.join(named)}", cited)
        else:
            judged.raise_to(3, f"{record.dataset}: no registered purpose", cited)
    return s.cell("collection", "purpose_creep", judged,
                  "a purpose per dataset, with its lawful basis (GDPR Art. 6/9)",
                  "yes" if judged.likelihood == 1 else "partly")


# -- consent -------------------------------------------------------------------------------------
@_rule
def _consent(s: Scorer) -> Cell | None:
    if not s.facts.raw():
        return None
    judged = _Judgement()
    needing = [p for p in s.facts.purposes if p.consent_required]
    minimum = s.policy["consent"]["coverage_min"]
    for purpose in needing:
        state = s.facts.consent.get(purpose.name)
        held = s.facts.held(purpose)
        given = 0 if state is None else state.given
        coverage = given / held if held else 1.0
        entry = s.facts.find("govern.consent.record")
        cited = (s.entry(entry, f"consent recorded; {purpose.name}: {given:,} in force, "
                                f"{0 if state is None else state.withdrawn:,} withdrawn")
                 if entry else None)
        finding = (f"{purpose.name}: consent in force for {given:,} of {held:,} rows' subjects "
                   f"({coverage:.1%})")
        evidence = [e for e in (cited, s.threshold("consent", "coverage_min")) if e]
        if coverage < minimum:
            judged.raise_to(4 if coverage < 0.5 else 3, finding, *evidence)
        else:
            judged.note(finding, *evidence)
    if not needing:
        judged.raise_to(2, "no purpose requires consent (other lawful bases, or none "
                           "registered)")
    return s.cell("collection", "missing_consent", judged,
                  "consent per subject and purpose; the guard keeps only subjects whose "
                  "consent is in force (withdrawals apply to every later call)",
                  "yes" if needing else "no")


# -- retention -----------------------------------------------------------------------------------
@_rule
def _storage_retention(s: Scorer) -> Cell | None:
    raw = s.facts.raw()
    if not raw:
        return None
    judged = _Judgement()
    for record in raw:
        rule = s.facts.retention.get(record.dataset)
        if rule is None:
            if s.policy["retention"]["require_policy"]:
                judged.raise_to(3, f"{record.dataset}: no retention rule",
                                s.version(record, f"{record.ref}: created {record.created[:10]}"),
                                s.threshold("retention", "require_policy"))
            continue
        entry = s.facts.find("govern.retention.set", record.dataset)
        cited = s.entry(entry, f"retention of {record.dataset}: {rule.to_dict()}") \
            if entry else None
        days = rule.keep_versions_days
        overdue = [v for v in s.facts.live() if v.dataset == record.dataset and days is not None
                   and s.facts.now - datetime.fromisoformat(v.created) > timedelta(days=days)]
        if overdue:
            judged.raise_to(4, f"{record.dataset}: {len(overdue)} version(s) past "
                               f"{days} days still held", *(e for e in (cited,) if e))
        else:
            judged.note(f"{record.dataset}: retention rule set, nothing overdue",
                        *(e for e in (cited,) if e))
    return s.cell("storage", "over_retention", judged,
                  "retention rules per dataset, enforced by crypto-shredding "
                  "(veil retention enforce)",
                  "yes" if judged.likelihood == 1 else "partly" if s.facts.retention else "no")


@_rule
def _erasure(s: Scorer) -> Cell:
    judged = _Judgement()
    limit = s.policy["requests"]["response_days"]
    for request in s.facts.requests:
        entry = s.facts.find(f"govern.dsar.{request.kind}", request.request_id)
        cited = s.entry(entry, f"{request.kind} request {request.request_id}: {request.state}") \
            if entry else None
        evidence = [e for e in (cited,) if e]
        if request.finished is None:
            age = (s.facts.now - request.created).days
            if age > limit:
                judged.raise_to(4, f"{request.request_id} open for {age} days (policy {limit})",
                                *evidence, s.threshold("requests", "response_days"))
        else:
            judged.note(f"{request.kind} request done in {request.days:.2f} days", *evidence)
    live = {r.ref for r in s.facts.live()}
    stale = [f for f in s.facts.flags
             if f["effect"] == "stale" and f"{f['name']}@{f['artifact']}" in live]
    for flag in stale:
        judged.raise_to(3, f"{flag['name']}@{flag['artifact']} was flagged stale by "
                           f"{flag['request_id']} and still holds the erased subject's rows; "
                           "make it again from the new version")
    if not s.facts.requests:
        judged.note("no data subject request received yet")
    return s.cell("retention", "over_retention", judged,
                  "erasure everywhere the subject is (new versions, old ones crypto-shredded), "
                  "receipts proven in the ledger, flags on derived artifacts",
                  "yes" if not stale else "partly")


@_rule
def _consent_withdrawal(s: Scorer) -> Cell | None:
    withdrawn = sum(c.withdrawn for c in s.facts.consent.values())
    if not s.facts.consent:
        return None
    judged = _Judgement()
    queries = [e for e in s.facts.of("dp.query", "model.train", "dataset.read")
               if e.parameters.get("consent_left_out")]
    if queries:
        judged.note(f"{withdrawn:,} withdrawal(s); later calls left "
                    f"{queries[-1].parameters['consent_left_out']:,} rows out",
                    s.entry(queries[-1], "a call after withdrawals, with rows left out"))
    elif withdrawn:
        judged.raise_to(2, f"{withdrawn:,} withdrawal(s) recorded; no call has run since")
    trained = [m for m in s.facts.models if (m.get("privacy") or {}).get("epsilon") is None]
    if withdrawn and trained:
        judged.raise_to(3, f"{len(trained)} model(s) without DP keep what withdrawn subjects "
                           "taught them")
    return s.cell("retention", "missing_consent", judged,
                  "withdrawal takes effect for every later call; DP models bound what a "
                  "withdrawn subject contributed", "yes" if judged.likelihood == 1 else "partly")


def matrix(scorer: Scorer) -> tuple[Cell, ...]:
    """Every rule's cell, in stage then risk order."""
    cells = [c for c in (rule(scorer) for rule in _RULES) if c is not None]
    order = {k: i for i, k in enumerate(STAGES)}, {k: i for i, k in enumerate(RISKS)}
    return tuple(sorted(cells, key=lambda c: (order[0][c.stage], order[1][c.risk])))
