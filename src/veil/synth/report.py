"""An evaluation of a synthetic table as one self-contained HTML page a person reads.

The page follows the governance reports (:mod:`veil.govern.report.render`): inline CSS and
matplotlib SVG drawn under the same options and lock (:mod:`veil.govern.report.charts`: text
stays text, output is deterministic), Jinja2 with autoescaping, no script and no network
reference, so it can be mailed, archived or printed as it is. The figures only draw numbers
already in the :class:`~veil.synth.evaluate.Evaluation` (shares, distances, rates), never a
row of anyone's data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from matplotlib import rc_context
from matplotlib.figure import Figure

from veil.attacks.plot import roc_svg
from veil.govern.report import charts
from veil.synth.evaluate import Evaluation, tvd

__all__ = ["html"]

_MARGINALS = 4  # 1-way marginals drawn: the worst ones
_LABELLED = 3  # worst column sets named on the TVD plot, per set size
_REAL, _SYNTH, _REFERENCE = "#1f5fa8", "#c0562a", "#8a94a3"
_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("veil.synth", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.2f} %"
    return env


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"
    return str(value)


def html(evaluation: Evaluation, *, title: str,
         guarantee: Mapping[str, Any] | None = None) -> str:
    """The evaluation as one HTML page: headline table, then the figures. ``guarantee`` (the
    synthesizer's privacy parameters, e.g. epsilon, delta, rho) is listed as given."""
    figures = {"marginals": _draw("marginals", "Worst 1-way marginals: real vs synthetic",
                                  _marginal_figure, evaluation),
               "tvd": _draw("tvd", "TVD by column set", _tvd_figure, evaluation),
               "associations": _draw("associations", "Association difference (Cramér's V)",
                                     _association_figure, evaluation),
               "dcr": _draw("dcr", "Distance to closest record", _dcr_figure, evaluation),
               "membership": _membership_svg(evaluation)}
    figures["tstr"] = (None if evaluation.tstr is None else
                       _draw("tstr", "ROC of train-on-synthetic, test-on-real", _tstr_figure,
                             evaluation))
    return _environment().get_template("evaluation.html").render(
        title=title, ev=evaluation, summary=evaluation.summary(),
        guarantee=dict(guarantee or {}), figures=figures,
        ways=sorted(evaluation.marginals.mean))


# --- figures --------------------------------------------------------------------------------

def _draw(name: str, title: str, draw: Any, evaluation: Evaluation) -> Markup:
    with charts.svg_options(f"synth-{name}"):
        return Markup(charts.to_svg(draw(evaluation), title))  # noqa: S704 - our own SVG


def _marginal_figure(evaluation: Evaluation) -> Figure:
    """The 1-way marginals furthest from the real ones, real bars under synthetic steps."""
    one_way = evaluation.marginals.one_way
    ranked = sorted(one_way, key=lambda a: -tvd(np.asarray(one_way[a]["real"]),
                                                np.asarray(one_way[a]["synthetic"])))
    chosen = ranked[:_MARGINALS]
    columns = 2 if len(chosen) > 1 else 1
    rows = -(-len(chosen) // columns)
    figure = Figure(figsize=(charts._WIDTH, 2.6 * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, chosen, strict=False):
        real, synth = np.asarray(one_way[name]["real"]), np.asarray(one_way[name]["synthetic"])
        codes = np.arange(len(real))
        ax.bar(codes, real, width=0.9, color=_REAL, alpha=0.55, label="real (train)")
        ax.step(codes, synth, where="mid", color=_SYNTH, linewidth=1.6, label="synthetic")
        ax.set_title(f"{name}: TVD {tvd(real, synth):.3g}", fontsize=10)
        ax.set_xlabel("code")
        ax.set_ylabel("share of rows")
        ax.grid(axis="y", color="#e4e8ee", linewidth=0.8)
        ax.set_axisbelow(True)
    for ax in axes[len(chosen):]:
        ax.set_axis_off()
    axes[0].legend(loc="upper right", fontsize=8)
    figure.suptitle("Worst 1-way marginals: real vs synthetic", x=0.01, ha="left",
                    fontweight="bold")
    return figure


def _tvd_figure(evaluation: Evaluation) -> Figure:
    """Each set size's TVDs sorted worst first, with the real-vs-real reference of each set
    as grey dots and the mean as a dashed line; the worst few sets are named."""
    ways = sorted(evaluation.marginals.mean)
    figure = Figure(figsize=(charts._WIDTH, 2.4 * len(ways) + 0.4), layout="constrained")
    axes = figure.subplots(len(ways), 1, squeeze=False).ravel()
    for ax, k in zip(axes, ways, strict=True):
        sets = sorted((s for s in evaluation.marginals.by_set if len(s.columns) == k),
                      key=lambda s: -s.tvd)
        ranks = np.arange(len(sets))
        ax.bar(ranks, [s.tvd for s in sets], width=1.0 if len(sets) > 40 else 0.8,
               color=_SYNTH, label="synthetic vs real")
        ax.plot(ranks, [s.reference for s in sets], ".", color=_REFERENCE, markersize=4,
                label="holdout vs real (reference)")
        ax.axhline(evaluation.marginals.mean[k], color="#1f2733", linestyle="--",
                   linewidth=1, label=f"mean {evaluation.marginals.mean[k]:.3g}")
        worst = "\n".join(f"{' × '.join(s.columns)}: {s.tvd:.3g}" for s in sets[:_LABELLED])
        ax.text(0.35, 0.95, f"worst\n{worst}", transform=ax.transAxes, fontsize=8, ha="left",
                va="top", bbox={"facecolor": "white", "edgecolor": "#d8dde4", "pad": 3})
        ax.set_title(f"{k}-way marginals ({len(sets)} column sets), worst first", fontsize=10)
        ax.set_ylabel("TVD")
        ax.set_xlim(-0.8, max(len(sets), 2) - 0.2)
        ax.set_xticks([])
        ax.grid(axis="y", color="#e4e8ee", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right", fontsize=8)
    figure.suptitle("TVD by column set", x=0.01, ha="left", fontweight="bold")
    return figure


def _association_figure(evaluation: Evaluation) -> Figure:
    """Synthetic minus real Cramér's V per pair: blue where the synthetic table lost
    association, red where it invented some."""
    found = evaluation.associations
    names = list(found.attributes)
    diff = np.asarray(found.synthetic) - np.asarray(found.real)
    size = len(names)
    figure = Figure(figsize=(charts._WIDTH, min(9.0, 1.6 + 0.42 * size)), layout="constrained")
    ax = figure.add_subplot()
    limit = max(0.1, float(np.abs(diff).max()))
    image = ax.imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    if size <= 16:
        for i in range(size):
            for j in range(size):
                if i != j:
                    cell = round(float(diff[i, j]), 2)
                    ax.text(j, i, f"{cell:+.2f}" if cell else "0", ha="center",
                            va="center", fontsize=7,
                            color="white" if abs(diff[i, j]) > 0.6 * limit else "#1f2733")
    ax.set_xticks(range(size), names, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(size), names)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    figure.colorbar(image, ax=ax, shrink=0.8, label="synthetic − real Cramér's V")
    ax.set_title("Association difference (Cramér's V, synthetic − real)")
    return figure


def _dcr_figure(evaluation: Evaluation) -> Figure:
    """How many synthetic rows lie at each distance from the closest training row and from
    the closest holdout row: the bars match when nothing is memorised."""
    counts = evaluation.privacy.dcr_counts
    train, holdout = np.asarray(counts["train"]), np.asarray(counts["holdout"])
    last = int(max(np.flatnonzero(train + holdout).max(initial=0), 1))
    distances = np.arange(last + 1)
    total = max(int(train.sum()), 1)
    figure = Figure(figsize=(charts._WIDTH, 3.2), layout="constrained")
    ax = figure.add_subplot()
    ax.bar(distances - 0.2, train[:last + 1] / total, 0.4, color=_SYNTH,
           label="to training rows (sample)")
    ax.bar(distances + 0.2, holdout[:last + 1] / total, 0.4, color=_REFERENCE,
           label="to holdout rows")
    ax.set_xticks(distances)
    ax.set_xlabel("attributes that differ from the closest real row")
    ax.set_ylabel("share of synthetic rows")
    ax.grid(axis="y", color="#e4e8ee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper right", fontsize=9)
    ax.set_title("Distance to closest record")
    return figure


def _tstr_figure(evaluation: Evaluation) -> Figure:
    found = evaluation.tstr
    assert found is not None
    figure = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = figure.add_subplot()
    for label, fit, colour in (("trained on synthetic", found.synthetic, _SYNTH),
                               ("trained on real", found.real, _REAL)):
        fpr, tpr = np.asarray(fit.curve).T
        ax.plot(fpr, tpr, color=colour, linewidth=1.8, label=f"{label} (AUC {fit.auc:.3f})")
    ax.plot([0, 1], [0, 1], color=_REFERENCE, linestyle=":", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate",
           ylabel="true-positive rate", title=f"TSTR ROC: {found.target}")
    ax.legend(loc="lower right", fontsize=8)
    return figure


def _membership_svg(evaluation: Evaluation) -> Markup:
    """:func:`veil.attacks.plot.roc_svg` under the report's options, made inline-safe: its
    RDF metadata and namespace declarations carry URLs a self-contained page must not."""
    title = "ROC of the membership attack"
    # the report's options, but with mathtext on: roc_svg's log ticks are written as TeX
    with charts.svg_options("synth-membership"), rc_context({"text.parse_math": True}):
        text = roc_svg({"closest-record attack": evaluation.privacy.membership.curve}, title,
                       epsilon=evaluation.epsilon, delta=evaluation.delta or 0.0)
    text = _METADATA.sub("", text)
    head_end = text.index(">") + 1
    head = _NAMESPACES.sub("", text[:head_end - 1])
    head += f' role="img" aria-label="{escape(title)}" class="chart">'
    return Markup(f"{head}<title>{escape(title)}</title>{text[head_end:]}")  # noqa: S704
