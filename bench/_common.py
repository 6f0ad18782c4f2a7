"""Helpers shared by every benchmark area: timing, machine facts, goals and the results file.

A goal's value is always computed from figures measured in the same run; :func:`goal` only
compares it with the target written in the goal string.
"""

from __future__ import annotations

import json
import math
import operator
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"

_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each repetition, with the best and the median."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def timed(fn: Callable[..., Any], repeat: int = 3, *,
          setup: Callable[[], Any] | None = None,
          teardown: Callable[[Any], Any] | None = None) -> Timing:
    """Time ``fn`` ``repeat`` times with ``time.perf_counter``.

    With ``setup``, each repetition first calls ``setup()`` outside the timing and passes its
    result to ``fn``; ``teardown(result_of_setup)`` runs after, also outside the timing.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    runs = []
    for _ in range(repeat):
        state = setup() if setup is not None else None
        start = time.perf_counter()
        if setup is not None:
            fn(state)
        else:
            fn()
        runs.append(time.perf_counter() - start)
        if teardown is not None:
            teardown(state)
    return Timing(tuple(runs))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def parse_goal(goal_str: str) -> tuple[str, float]:
    match = _GOAL.match(goal_str)
    if not match:
        msg = f"a goal must look like '<= 2' or '>= 50', got {goal_str!r}"
        raise ValueError(msg)
    return match.group(1), float(match.group(2))


def goal(name: str, value: float, goal_str: str) -> dict[str, Any]:
    """A goal entry; ``met`` is computed by comparing the measured ``value`` with the target."""
    op, target = parse_goal(goal_str)
    value = float(value)
    met = math.isfinite(value) and _COMPARE[op](value, target)
    return {"name": name, "value": _tidy(value), "goal": f"{op} {target:g}", "met": met}


def _tidy(value: Any) -> Any:
    """Six significant digits for floats, so the JSON stays readable; ints stay exact."""
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    if not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def _margin(entry: Mapping[str, Any]) -> str:
    """How far the value is from the target, as a ratio (> 1 means better than the goal)."""
    op, target = parse_goal(entry["goal"])
    value = entry["value"]
    if value is None:
        return "-"
    if op.startswith(">"):
        return f"{value / target:.2f}x" if target else "-"
    return f"{target / value:.2f}x" if value else "inf"


def write_results(area: str, figures: Mapping[str, float], goals: Sequence[Mapping[str, Any]],
                  *, quick: bool = False) -> Path:
    """Write ``bench/results/<area>.json`` (``<area>-quick.json`` for smoke runs, which are not
    kept) and print the figures and goals."""
    for name, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"figure {name!r} is not a number: {value!r}"
            raise TypeError(msg)
    result = {
        "area": area,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": {k: _tidy(v) for k, v in figures.items()},
        "goals": [dict(g) for g in goals],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{area}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    _print(result, path, quick)
    return path


def _print(result: Mapping[str, Any], path: Path, quick: bool) -> None:
    title = f"bench {result['area']}" + (" (quick)" if quick else "")
    fig_rows = [(k, _show(v)) for k, v in result["figures"].items()]
    goal_rows = [(g["name"], _show(g["value"]), g["goal"], _show(g["met"]), _margin(g))
                 for g in result["goals"]]
    console = Console()
    figures = Table(title=title)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for row in fig_rows:
        figures.add_row(*row)
    console.print(figures)
    goals = Table(title="goals")
    for col, justify in (("goal", "left"), ("value", "right"), ("target", "right"),
                         ("met", "center"), ("margin", "right")):
        goals.add_column(col, justify=justify)  # type: ignore[arg-type]
    for name, value, target, met, margin in goal_rows:
        style = "green" if met == "yes" else "red"
        goals.add_row(name, value, target, f"[{style}]{met}[/{style}]", margin)
    console.print(goals)
    console.print(f"wrote {path}")
