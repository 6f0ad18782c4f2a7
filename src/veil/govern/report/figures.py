"""The data of the reports' plots, from the facts: the matrix heat map, epsilon spent over time,
releases' risk before and after, consent coverage, request turnaround, privacy and utility of
models. Drawing is :mod:`veil.govern.report.charts`'s job."""

from __future__ import annotations

from itertools import accumulate

from veil.govern.report.facts import Facts
from veil.govern.report.matrix import RISKS, STAGES
from veil.govern.report.model import Cell, Chart, Series
from veil.govern.report.policy import ReportPolicy

__all__ = ["consent", "epsilon", "heatmap", "privacy_utility", "release_risk", "requests"]


def heatmap(cells: tuple[Cell, ...]) -> Chart:
    """Stages down, risks across, each cell's likelihood x impact (None where no rule applies)."""
    score = {(c.stage, c.risk): float(c.score) for c in cells}
    return Chart("matrix", "heatmap", "Privacy risk matrix (likelihood x impact)",
                 x_label="risk", y_label="lifecycle stage",
                 rows=tuple(STAGES.values()), columns=tuple(RISKS.values()),
                 values=tuple(tuple(score.get((s, r)) for r in RISKS) for s in STAGES))


def epsilon(facts: Facts, policy: ReportPolicy) -> Chart:
    """Cumulative epsilon per dataset and principal over time, with each dataset's budget."""
    lines: dict[str, list[tuple[str, float]]] = {}
    for spend in facts.spends:
        lines.setdefault(f"{spend['dataset']} / {spend['principal']}", []).append(
            (spend["created"], spend["epsilon"]))
    series = tuple(Series(name, tuple(t for t, _ in points),
                          tuple(accumulate(e for _, e in points)))
                   for name, points in sorted(lines.items()))
    limits = tuple((f"budget of {b['dataset']}", float(b["epsilon"]))
                   for b in facts.budgets if b["principal"] == "*")
    return Chart("epsilon", "steps", "Epsilon spent over time", x_label="time",
                 y_label="cumulative epsilon", series=series, limits=limits)


def release_risk(facts: Facts, policy: ReportPolicy) -> Chart:
    """Highest prosecutor risk of each k-anonymous release before and after, and 1/k_min."""
    releases = [r for r in facts.releases() if "risk_after" in r.provenance]
    names = tuple(r.ref for r in releases)
    before = tuple(float(r.provenance["risk_before"]["highest_risk"]) for r in releases)
    after = tuple(float(r.provenance["risk_after"]["highest_risk"]) for r in releases)
    return Chart("release_risk", "bars", "Re-identification risk of releases (highest "
                 "prosecutor risk)", x_label="release", y_label="risk (0-1)",
                 series=(Series("before", names, before), Series("after", names, after)),
                 limits=(("policy maximum", float(policy["linkage"]["prosecutor_risk_max"])),))


def consent(facts: Facts, policy: ReportPolicy) -> Chart:
    """Per consent purpose: subjects with consent in force, withdrawn, and without any."""
    names, given, withdrawn, missing = [], [], [], []
    for purpose in (p for p in facts.purposes if p.consent_required):
        state = facts.consent.get(purpose.name)
        held = facts.held(purpose)
        yes, no = (state.given, state.withdrawn) if state else (0, 0)
        names.append(purpose.name)
        given.append(float(yes))
        withdrawn.append(float(no))
        missing.append(float(max(held - yes - no, 0)))
    labels = tuple(names)
    return Chart("consent", "bars", "Consent coverage per purpose", x_label="purpose",
                 y_label="subjects", series=(Series("in force", labels, tuple(given)),
                                             Series("withdrawn", labels, tuple(withdrawn)),
                                             Series("none recorded", labels, tuple(missing))))


def requests(facts: Facts, policy: ReportPolicy) -> Chart:
    """Turnaround of each finished data subject request, in days, against the policy."""
    done = [r for r in facts.requests if r.days is not None]
    return Chart("requests", "bars", "Data subject requests: days to answer",
                 x_label="request", y_label="days",
                 series=(Series("turnaround", tuple(f"{r.kind} {r.request_id[5:13]}"
                                                    for r in done),
                                tuple(float(r.days or 0.0) for r in done)),),
                 limits=(("GDPR limit", float(policy["requests"]["response_days"])),))


def privacy_utility(facts: Facts, policy: ReportPolicy) -> Chart:
    """Accuracy against epsilon of the DP models (one line per training dataset), and the best
    membership attack's TPR at 1 % FPR where one was run."""
    by_data: dict[str, list[tuple[float, float]]] = {}
    attacked: list[tuple[float, float]] = []
    for meta in facts.models:
        epsilon = (meta.get("privacy") or {}).get("epsilon")
        accuracy = (meta.get("metrics") or {}).get("accuracy")
        if epsilon is None or accuracy is None:
            continue
        by_data.setdefault(meta["dataset"], []).append((float(epsilon), float(accuracy)))
        for result in facts.attacks_on("model", meta["name"], meta["version"]):
            if result["attack"] == "membership":
                attacked.append((float(epsilon), max(
                    a["tpr_at_fpr"]["0.01"] for a in result["result"]["attacks"].values())))
    series = [Series(f"accuracy ({name})", tuple(e for e, _ in sorted(points)),
                     tuple(a for _, a in sorted(points)))
              for name, points in sorted(by_data.items())]
    if attacked:
        series.append(Series("membership TPR at 1 % FPR", tuple(e for e, _ in sorted(attacked)),
                             tuple(t for _, t in sorted(attacked))))
    return Chart("privacy_utility", "scatter", "Privacy and utility of models",
                 x_label="epsilon", y_label="accuracy / attack TPR", series=tuple(series),
                 log_x=True)

