"""Plots drawn on the server as inline SVG: a budget bar, a risk before/after chart, an interval
whisker and a privacy-utility scatter.

Each returns :class:`~markupsafe.Markup` holding one ``<svg role="img">`` with a ``<title>``
(what a screen reader says), styled by classes of the dashboard's stylesheet and SVG
presentation attributes only: the content policy allows no inline ``style``. Every label is
escaped. The numbers a plot shows are also in the page's text or tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["budget_bar", "interval", "risk_chart", "scatter"]


def _svg(width: int, height: int, title: str, body: str, css: str) -> Markup:
    # every text in ``body`` was escaped where it was made; the rest is numbers and class names
    svg = (f'<svg class="plot {css}" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
           f"<title>{escape(title)}</title>{body}</svg>")
    return Markup(svg)  # noqa: S704


def _ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _num(value: float) -> str:
    """As people read a number: ``993.5``, ``0.04667``, ``12,000`` (no exponent below 1e4)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def budget_bar(left: float, total: float, *, measure: str = "ε") -> Markup:
    """What is left of a privacy budget, as a bar: the left part filled, the spent part hatched
    grey."""
    share = 0.0 if total <= 0 else min(max(left / total, 0.0), 1.0)
    width, height = 320, 18
    filled = round(width * share, 2)
    body = (f'<rect class="spent" x="0" y="0" width="{width}" height="{height}" rx="3"/>'
            f'<rect class="left" x="0" y="0" width="{filled}" height="{height}" rx="3"/>')
    title = f"{_num(left)} of {_num(total)} {measure} left ({share:.0%})"
    return _svg(width, height, title, body, "budget")


def interval(value: float, low: float, high: float) -> Markup:
    """A released value with its confidence interval, on an axis from zero (or the lowest end)
    to a little past the highest."""
    lo, hi = min(0.0, low, value), max(0.0, high, value)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    width, height = 200, 22

    def x(v: float) -> float:
        return round(4 + (width - 8) * (v - lo) / (hi - lo), 2)

    body = (f'<line class="axis" x1="{x(0)}" y1="3" x2="{x(0)}" y2="{height - 3}"/>'
            f'<line class="whisker" x1="{x(low)}" y1="11" x2="{x(high)}" y2="11"/>'
            f'<line class="whisker" x1="{x(low)}" y1="6" x2="{x(low)}" y2="16"/>'
            f'<line class="whisker" x1="{x(high)}" y1="6" x2="{x(high)}" y2="16"/>'
            f'<circle class="point" cx="{x(value)}" cy="11" r="4"/>')
    title = f"{_num(value)}, interval {_num(low)} to {_num(high)}"
    return _svg(width, height, title, body, "interval")


def risk_chart(before: Mapping[str, float], after: Mapping[str, float]) -> Markup:
    """Grouped bars: each risk measure (0 to 1) before and after a release."""
    names = list(before)
    width, height, left, bottom, top = 560, 230, 40, 50, 24
    group = (width - left - 10) / max(len(names), 1)
    bar = min(28.0, group / 3)
    plot_h = height - bottom - top

    def y(v: float) -> float:
        return round(top + plot_h * (1 - min(max(v, 0.0), 1.0)), 2)

    parts = [f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}"/>',
             f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - 10}" '
             f'y2="{height - bottom}"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line class="grid" x1="{left}" y1="{y(tick)}" x2="{width - 10}" '
                     f'y2="{y(tick)}"/><text class="tick" x="{left - 6}" y="{y(tick) + 4}" '
                     f'text-anchor="end">{tick:g}</text>')
    for i, name in enumerate(names):
        x0 = left + i * group + group / 2 - bar
        for j, (css, value) in enumerate((("before", before[name]), ("after", after[name]))):
            parts.append(f'<rect class="{css}" x="{round(x0 + j * bar, 2)}" y="{y(value)}" '
                         f'width="{round(bar - 2, 2)}" height="{round(y(0) - y(value), 2)}">'
                         f"<title>{escape(name)} {css}: {_num(value)}</title></rect>")
        parts.append(f'<text class="label" x="{round(x0 + bar, 2)}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{escape(name)}</text>')
    parts.append(f'<rect class="before" x="{left + 8}" y="4" width="12" height="12"/>'
                 f'<text class="legend" x="{left + 24}" y="14">before</text>'
                 f'<rect class="after" x="{left + 84}" y="4" width="12" height="12"/>'
                 f'<text class="legend" x="{left + 100}" y="14">after</text>')
    title = "Re-identification risk before and after: " + "; ".join(
        f"{n} {_num(before[n])} to {_num(after[n])}" for n in names)
    return _svg(width, height, title, "".join(parts), "risk")


def scatter(points: Sequence[tuple[float, float, str]], *, x_label: str,
            y_label: str) -> Markup:
    """Labelled points joined in x order (epsilon against accuracy), y from 0 to 1."""
    width, height, left, bottom, top, right = 560, 280, 52, 46, 16, 24
    ordered = sorted(points)
    xs = _ticks(max((p[0] for p in ordered), default=1.0) * 1.05)
    x_max = xs[-1]
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return round(left + plot_w * v / x_max, 2)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - min(max(v, 0.0), 1.0)), 2)

    parts = [f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{y(0)}"/>',
             f'<line class="axis" x1="{left}" y1="{y(0)}" x2="{width - right}" y2="{y(0)}"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line class="grid" x1="{left}" y1="{y(tick)}" x2="{width - right}" '
                     f'y2="{y(tick)}"/><text class="tick" x="{left - 6}" y="{y(tick) + 4}" '
                     f'text-anchor="end">{tick:g}</text>')
    for tick in xs:
        parts.append(f'<text class="tick" x="{x(tick)}" y="{y(0) + 16}" '
                     f'text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text class="label" x="{left + plot_w / 2}" y="{height - 6}" '
                 f'text-anchor="middle">{escape(x_label)}</text>'
                 f'<text class="label" x="14" y="{top + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>')
    if len(ordered) > 1:
        line = " ".join(f"{x(px)},{y(py)}" for px, py, _ in ordered)
        parts.append(f'<polyline class="trend" points="{line}" fill="none"/>')
    for px, py, label in ordered:
        # a label reads away from the nearer edge, so it stays inside the plot
        right = x(px) > left + plot_w / 2
        parts.append(f'<circle class="point" cx="{x(px)}" cy="{y(py)}" r="5">'
                     f"<title>{escape(label)}: {x_label} {_num(px)}, {y_label} {_num(py)}"
                     f'</title></circle><text class="point-label" '
                     f'x="{x(px) - 8 if right else x(px) + 8}" y="{y(py) - 8}" '
                     f'text-anchor="{"end" if right else "start"}">{escape(label)}</text>')
    title = f"{y_label} against {x_label}: " + "; ".join(
        f"{label} {_num(px)}, {_num(py)}" for px, py, label in ordered)
    return _svg(width, height, title, "".join(parts), "scatter")
