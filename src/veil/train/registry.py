"""The model registry: trained models as encrypted artifacts with their privacy guarantee.

A model version records what a reviewer needs: the dataset versions (and fingerprints) it saw,
the encoding, epsilon and delta spent with the accountant, clipping norm, noise multiplier,
sample rate and steps, its held-out metrics, and a model card (Markdown and HTML). The weights
are sealed in the vault like any dataset version (their own data key), so loading a model is
an audited access (see :mod:`veil.train.model`). This module stays free of torch, so opening
a workspace does not wait for it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["SCHEMA", "card"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name             TEXT NOT NULL,
    version          INTEGER NOT NULL,
    file             TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    dataset          TEXT NOT NULL,
    dataset_version  INTEGER NOT NULL,
    fingerprint      TEXT NOT NULL,
    meta             TEXT NOT NULL,
    created          TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
"""

def _privacy_rows(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Unit, guarantee and mechanism of a DP-SGD or a federated model."""
    privacy = meta["privacy"]
    federation = meta.get("federation")
    if federation is None:
        return [("Privacy unit", "one person (at most one row each, chosen at random)"),
                ("Guarantee", f"({privacy['epsilon']:.4g}, {privacy['delta']:.3g})-DP, "
                              f"{privacy['accountant'].upper()} accountant"),
                ("DP-SGD", f"clipping norm {privacy['max_grad_norm']:g}, noise multiplier "
                           f"{privacy['noise_multiplier']:.4g}, sample rate "
                           f"{privacy['sample_rate']:.4g}, {privacy['steps']} steps "
                           f"({privacy['engine']})")]
    sites = ", ".join(f"{s['site']} ({s['dataset']}@{s['version']}, {s['fingerprint'][:12]}...)"
                      for s in federation["sites"])
    definition = federation["definition"]
    secure = "SecAgg+" if definition["secure_aggregation"]["enabled"] else "off"
    rows = [("Sites", sites),
            ("Federation", f"{definition['strategy']}, {len(federation['rounds'])} rounds, "
                           f"secure aggregation {secure}")]
    if privacy.get("mode", "none") == "none":
        return [*rows, ("Guarantee", "none: no differential privacy")]
    record = privacy["unit"] == "record"
    clip, z = privacy["clipping_norm"], privacy["noise_multiplier"]
    if record:
        noise = (f"each row's gradient clipped to L2 norm {clip:g}, N(0, ({z:.4g} x {clip:g})^2) "
                 f"added to the sites' total; sample rate {privacy['sample_rate']:g}")
    elif privacy["mode"] == "central":
        noise = (f"each site's update clipped to L2 norm {clip:g}, N(0, ({z:.4g} x {clip:g})^2) "
                 f"added to the sum, divided by the fixed cohort of {privacy['cohort']} sites "
                 f"whoever answers (one site moves it by at most {clip:g}/{privacy['cohort']})")
    else:
        noise = (f"each site clips its update to L2 norm {clip:g} and adds N(0, ({z:.4g} x "
                 f"{clip:g})^2) before it leaves (one site moves its message by at most {clip:g})")
    return [*rows, ("Privacy unit", "one person (one row each), at any site" if record else
                    "one site: its whole contribution, present or absent"),
            ("Guarantee", f"({privacy['epsilon']:.4g}, {privacy['delta']:.3g})-DP for every "
                          f"{'person' if record else 'site'} over {privacy['rounds']} rounds, "
                          f"paid from each site's budget; {privacy['mode']} noise, "
                          f"{privacy['accountant']}"),
            ("Noise", f"{noise}; noise multiplier {z:.4g}, {privacy['rounds']} rounds")]


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _leakage_rows(attack: dict[str, Any]) -> list[tuple[str, str]]:
    """One stored attack result as card rows: (what was tried, what it reached)."""
    result, when = attack["result"], attack["recorded"][:10]
    if attack["attack"] == "attribute":
        gain = result["advantage"]
        return [(f"{result['mode'].replace('attribute', 'attribute inference')} of "
                 f"{result['sensitive']} ({when})",
                 f"balanced-accuracy advantage over the prior: members "
                 f"{gain['members']:+.3f}, non-members {gain['non_members']:+.3f}")]
    rows = []
    bound = result.get("dp_bound")
    for method, roc in result["attacks"].items():
        ci = roc["intervals"]
        text = (f"AUC {roc['auc']:.3f} [{ci['auc'][0]:.3f}, {ci['auc'][1]:.3f}]; TPR at 1 % FPR "
                f"{_pct(roc['tpr_at_fpr']['0.01'])} [{_pct(ci['tpr@0.01'][0])}, "
                f"{_pct(ci['tpr@0.01'][1])}], at 0.1 % FPR {_pct(roc['tpr_at_fpr']['0.001'])} "
                f"[{_pct(ci['tpr@0.001'][0])}, {_pct(ci['tpr@0.001'][1])}]")
        if bound:
            text += (f"; DP ceiling {_pct(bound['0.01'])} at 1 % FPR "
                     f"({_pct(bound['0.001'])} at 0.1 %): "
                     f"{'within' if result['within_bound'] else 'EXCEEDED'}")
        rows.append((f"membership, {method} ({roc['members']} members vs "
                     f"{roc['non_members']} non-members, {result['references']} references, "
                     f"{when})", text))
    return rows


def card(meta: dict[str, Any], leakage: Sequence[dict[str, Any]] = ()) -> tuple[str, str]:
    """The model card in Markdown and in HTML; ``leakage``: the attack results recorded
    against this model (:func:`veil.attacks.service.results`), shown as "Measured leakage"."""
    metrics = meta["metrics"]
    held_out = (f"{metrics['accuracy']:.4f} on {metrics['rows']} rows" if "rows" in metrics
                else f"{metrics.get('accuracy', float('nan')):.4f}, each site on its own "
                     "held-out rows")
    rows = [("Dataset", f"{meta['dataset']} (fingerprint {meta['fingerprint'][:16]}...)"),
            ("Target", f"{meta['encoding']['target']}, classes {meta['encoding']['classes']}"),
            ("Features", ", ".join(meta["encoding"]["order"])),
            ("Model", meta["architecture"]),
            *_privacy_rows(meta),
            ("Held-out accuracy", f"{held_out} (not DP: internal use)"),
            ("Trained by", f"{meta['actor']} for '{meta['purpose']}' on {meta['created']}")]
    measured = [row for attack in leakage for row in _leakage_rows(attack)]
    section = (["", "## Measured leakage", "", "| attack | result |", "|---|---|",
                *(f"| {k} | {v} |" for k, v in measured)] if measured else
               ["", "## Measured leakage", "", "Not measured: run `veil attack membership "
                f"{meta['name']}` to attack this model."])
    markdown = "\n".join([f"# Model card: {meta['name']} v{meta['version']}", "",
                          "| | |", "|---|---|",
                          *(f"| {k} | {v} |" for k, v in rows), "",
                          "Preprocessing used only public bounds and categories; no statistic "
                          "of the training data other than the model's (noised) updates was "
                          "released.", *section])

    def table(pairs: list[tuple[str, str]]) -> str:
        return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}"
                                   "</td></tr>" for k, v in pairs) + "</table>"

    plots = "".join(f"<figure>{a['result']['plot']}</figure>" for a in leakage
                    if "plot" in a["result"])
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Model card: "
            f"{html.escape(meta['name'])}</title></head><body><h1>Model card: "
            f"{html.escape(meta['name'])} v{meta['version']}</h1>{table(rows)}"
            f"<h2>Measured leakage</h2>"
            f"{table(measured) if measured else '<p>Not measured.</p>'}{plots}</body></html>")
    return markdown, page
