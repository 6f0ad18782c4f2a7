"""A report's charts drawn with matplotlib as inline SVG, so the HTML and its PDF need no
script, no image file and no network.

Text stays text (``svg.fonttype`` none: searchable, selectable and sharp in the PDF) and the
output is byte-for-byte deterministic (fixed id salt, no date), so the same report renders the
same page. matplotlib reads these options from its global ``rcParams`` only, so every drawing
holds one lock while they are set; figures are made with :class:`~matplotlib.figure.Figure`
directly, never through pyplot's global state.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import matplotlib
from markupsafe import escape
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from veil.govern.report import policy
from veil.govern.report.model import LEVELS, Chart, level_of

__all__ = ["LEVEL_COLOURS", "NA_COLOUR", "svg", "svg_options", "to_svg"]

"""The shipped policy's lowest score of each level, used when no bands are given."""

# fill and text colour of each level; the HTML matrix table uses the same ones
LEVEL_COLOURS: dict[str, tuple[str, str]] = {
    "low": ("#cfe8d6", "#14502b"),
    "medium": ("#fbe2a0", "#5e4300"),
    "high": ("#f3a25f", "#4a1f00"),
    "critical": ("#c8372d", "#ffffff"),
}
NA_COLOUR = ("#eceff3", "#7a8594")
_INK, _MUTED, _GRID = "#1f2733", "#5b6675", "#e4e8ee"
_PALETTE = ("#1f5fa8", "#c0562a", "#1d6b3a", "#7b4fa8", "#8a6d00", "#2a8a8a")
_LIMIT = "#a12a1d"
_WIDTH = 9.0  # inches: 648 pt, 864 px, scaled to the page: text stays legible on A4

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # a "$" in a dataset name is text, not TeX
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.edgecolor": _MUTED,
    "axes.labelcolor": _INK,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 10,
    "text.color": _INK,
    "xtick.color": _MUTED,
    "ytick.color": _MUTED,
    "xtick.labelcolor": _INK,
    "ytick.labelcolor": _INK,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LOCK = threading.Lock()
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


@contextmanager
def svg_options(salt: str) -> Iterator[None]:
    with _LOCK, matplotlib.rc_context(_RC | {"svg.hashsalt": f"veil-report-{salt}"}):
        yield


def svg(chart: Chart, *, bands: dict[str, int] | None = None) -> str:
    """``chart`` as one ``<svg role="img">`` element with a ``<title>`` for screen readers;
    ``bands`` (lowest score of each level) colour a heat map, the shipped ones by default."""
    with svg_options(chart.id):
        if _empty(chart):
            figure = _no_data(chart)
        elif chart.kind == "heatmap":
            figure = _heatmap(chart, bands or dict(policy.load()["levels"]))
        else:
            figure = _DRAW[chart.kind](chart)
        return to_svg(figure, chart.title)


def _empty(chart: Chart) -> bool:
    if chart.kind == "heatmap":
        return not chart.rows or not chart.columns or not chart.values
    return not any(s.y for s in chart.series)


def to_svg(figure: Figure, title: str) -> str:
    """The figure as an element to inline in HTML: no XML prolog, no metadata, no namespace
    URLs (the HTML parser puts inline SVG in the SVG namespace by itself)."""
    out = io.StringIO()
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    figure.savefig(out, format="svg", metadata=metadata)
    text = out.getvalue()
    text = text[text.index("<svg"):]
    head_end = text.index(">") + 1
    head = _NAMESPACES.sub("", text[:head_end - 1])
    head += f' role="img" aria-label="{escape(title)}" class="chart">'
    return f"{head}<title>{escape(title)}</title>{text[head_end:]}".strip()


def _figure(height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(_WIDTH, height), layout="constrained")
    return figure, figure.add_subplot()


def _label(ax: Axes, chart: Chart) -> None:
    ax.set_title(chart.title, pad=26 if len(chart.series) > 1 else None)  # room for a legend
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.grid(axis="y", color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _finish(ax: Axes, chart: Chart) -> None:
    """Limits as dashed lines named outside the right edge (where no bar or point hides the
    name), and a legend above the plot when lines need telling apart."""
    for name, value in chart.limits:
        ax.axhline(value, color=_LIMIT, linestyle="--", linewidth=1.2)
        ax.annotate(f"{_human(name)}\n{_num(value)}", xy=(1, value),
                    xycoords=("axes fraction", "data"), xytext=(6, 0),
                    textcoords="offset points", ha="left", va="center", color=_LIMIT,
                    fontsize=9)
    if len(chart.series) > 1:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(chart.series),
                  borderaxespad=0.2, fontsize=9)


def _no_data(chart: Chart) -> Figure:
    figure = Figure(figsize=(_WIDTH, 1.1), layout="constrained")
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(chart.title)
    ax.text(0.5, 0.4, "no data yet", ha="center", va="center", color=_MUTED, fontsize=11,
            fontstyle="italic", transform=ax.transAxes)
    return figure


def _heatmap(chart: Chart, bands: dict[str, int]) -> Figure:
    """Stages down, risks across; each cell filled by its level and labelled with its score."""
    rows, columns = len(chart.rows), len(chart.columns)
    figure, ax = _figure(1.6 + 0.46 * rows)
    fills = [[to_rgb(_cell_colours(v, bands)[0]) for v in row] for row in chart.values]
    ax.imshow(fills, aspect="auto", interpolation="nearest")
    for r, row in enumerate(chart.values):
        for c, value in enumerate(row):
            ink = _cell_colours(value, bands)[1]
            text = "n/a" if value is None else f"{value:g}"
            ax.text(c, r, text, ha="center", va="center", color=ink,
                    fontsize=8.5 if value is None else 10.5,
                    fontweight="normal" if value is None else "bold")
    ax.set_xticks(range(columns), [_human(c) for c in chart.columns], rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(rows), [_human(r) for r in chart.rows])
    ax.set_xticks([x - 0.5 for x in range(1, columns)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
    ax.grid(which="minor", color="#ffffff", linewidth=2)
    ax.tick_params(which="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.legend(handles=_level_key(bands), loc="lower left", bbox_to_anchor=(0, 1.0),
              ncol=len(LEVELS) + 1, fontsize=9, handlelength=1.2, borderaxespad=0.2)
    ax.set_title(chart.title, pad=28)
    return figure


def _cell_colours(value: float | None, bands: dict[str, int]) -> tuple[str, str]:
    return NA_COLOUR if value is None else LEVEL_COLOURS[level_of(round(value), bands)]


def _level_key(bands: dict[str, int]) -> list[Patch]:
    """One swatch per level with its score range, and one for cells that do not apply."""
    lows = [1] + [bands[name] for name in LEVELS[1:]]
    highs = [low - 1 for low in lows[1:]] + [25]
    key = [Patch(facecolor=LEVEL_COLOURS[name][0], label=f"{name} {low}–{high}")
           for name, low, high in zip(LEVELS, lows, highs, strict=True)]
    return [*key, Patch(facecolor=NA_COLOUR[0], label="n/a: does not apply")]


def _num(value: float) -> str:
    """As people read a number on a plot: ``12,000``, ``0.2``, ``< 0.01`` (no exponents)."""
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if value and abs(value) < 0.01:
        return "< 0.01" if value > 0 else "> -0.01"
    return f"{value:.3g}"


def _human(name: str) -> str:
    return name.replace("_", " ")


def _steps(chart: Chart) -> Figure:
    """Cumulative totals over time: each value holds until the next change."""
    figure, ax = _figure(3.6)
    for i, series in enumerate(chart.series):
        times = [_time(x) for x in series.x]
        ax.step(times, series.y, where="post", color=_colour(i), linewidth=2, label=series.name)
        ax.plot(times, series.y, "o", color=_colour(i), markersize=3.5)
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    _label(ax, chart)
    _finish(ax, chart)
    ax.set_ylim(bottom=0)  # after the limits, so the view has room for them
    return figure


def _time(value: float | str) -> datetime:
    return datetime.fromisoformat(str(value))


def _bars(chart: Chart) -> Figure:
    """One group per category (the first series' order, then any others), one bar per series;
    a series without a value for a category leaves a gap."""
    figure, ax = _figure(3.6)
    categories = list(dict.fromkeys(str(x) for s in chart.series for x in s.x))
    width = 0.8 / len(chart.series)
    for i, series in enumerate(chart.series):
        by_x = {str(x): y for x, y in zip(series.x, series.y, strict=True)}
        heights = [by_x.get(c, float("nan")) for c in categories]
        offsets = [k - 0.4 + width * (i + 0.5) for k in range(len(categories))]
        bars = ax.bar(offsets, heights, width * 0.92, color=_colour(i), label=series.name)
        ax.bar_label(bars, labels=["" if math.isnan(h) else _num(h) for h in heights],
                     fontsize=8.5, padding=2, color=_INK,
                     bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6})
    ax.set_xticks(range(len(categories)), categories)
    if max(len(c) for c in categories) * len(categories) > 110:
        ax.tick_params(axis="x", labelrotation=25)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    _label(ax, chart)
    _finish(ax, chart)
    return figure


def _scatter(chart: Chart) -> Figure:
    """Points joined in x order per series (epsilon against accuracy, say)."""
    figure, ax = _figure(3.8)
    for i, series in enumerate(chart.series):
        points = sorted(zip((float(x) for x in series.x), series.y, strict=True))
        ax.plot([p[0] for p in points], [p[1] for p in points], "-o", color=_colour(i),
                linewidth=1.8, markersize=5, label=series.name)
    if chart.log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_PlainLog())
        ax.xaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False))
    _label(ax, chart)
    ax.grid(axis="x", color=_GRID, linewidth=0.8)
    _finish(ax, chart)
    return figure


class _PlainLog(ticker.LogFormatterSciNotation):
    """Log ticks as people write them (0.5, 2, 10), on the ticks matplotlib would label."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


_DRAW: dict[str, Callable[[Chart], Figure]] = {"steps": _steps, "bars": _bars,
                                               "scatter": _scatter}
