"""The ROC plot of a membership attack, as an SVG a model card can hold inline.

Log-log axes, as LiRA's authors plot it: the low false-positive corner, where an attack is
confident about a few people, is what matters. A DP model's ceiling (the most any attack can
reach under its epsilon and delta) is drawn too, so a reader sees the curve stay below it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from veil.attacks.metrics import dp_tpr_bound

__all__ = ["roc_svg"]


def roc_svg(curves: Mapping[str, Sequence[Sequence[float]]], title: str, *,
            epsilon: float | None = None, delta: float = 0.0) -> str:
    """An SVG of the ``(fpr, tpr)`` curves named by attack, with the chance line and, for a DP
    model, the (epsilon, delta) ceiling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.geomspace(1e-4, 1, 200)
    figure, axes = plt.subplots(figsize=(5.2, 4.2))
    try:
        for name, points in curves.items():
            fpr, tpr = np.asarray(points, np.float64).T
            keep = fpr > 0
            axes.step(fpr[keep], np.maximum(tpr[keep], 1e-4), where="post", label=name)
        axes.plot(grid, grid, color="grey", linestyle=":", label="chance")
        if epsilon is not None:
            axes.plot(grid, [dp_tpr_bound(a, epsilon, delta) for a in grid], color="black",
                      linestyle="--", label=f"DP ceiling (epsilon {epsilon:.3g})")
        axes.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1.05),
                 xlabel="false-positive rate", ylabel="true-positive rate", title=title)
        axes.legend(loc="lower right", fontsize="small")
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    finally:
        plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]
