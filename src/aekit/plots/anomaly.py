"""Figures of anomaly scores: the histogram of normal and anomalous examples' scores with the threshold."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .canvas import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["score_histogram"]

NORMAL, ANOMALOUS, ALL, THRESHOLD = "#4c72b0", "#dd8452", "#55a868", "#c44e52"


def score_histogram(scores: Any, anomalous: Any = None, threshold: float | None = None, title: str = "",
                    xlabel: str = "score (nats)", bins: int = 60, clip: float = 99.5) -> "Figure":
    """Histogram of ``scores``: normal and anomalous examples apart (each group's bars sum to 1, so groups
    of different sizes compare) when ``anomalous`` (bool per example) is given, else all of them; the
    ``threshold`` as a vertical line. Scores above the ``clip`` percentile (and the threshold) are
    counted in the last bin, which the legend says."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    finite = s[np.isfinite(s)]
    lo = float(finite.min()) if len(finite) else 0.0
    hi = float(np.percentile(finite, clip)) if len(finite) else 1.0
    if threshold is not None and np.isfinite(threshold):
        lo, hi = min(lo, float(threshold)), max(hi, float(threshold))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    clipped = np.clip(finite, lo, hi)
    over = int((finite > hi).sum())
    fig = new_figure((6.4, 3.4))
    ax = fig.subplots()
    if anomalous is None:
        groups = [("all examples", clipped, ALL)]
    else:
        a = np.asarray(anomalous, dtype=bool).reshape(-1)[np.isfinite(s)]
        groups = [(name, clipped[mask], color) for name, mask, color in
                  (("normal", ~a, NORMAL), ("anomalous", a, ANOMALOUS)) if mask.any()]
    for name, v, color in groups:
        ax.hist(v, bins=edges, weights=np.full(len(v), 1.0 / len(v)), histtype="stepfilled", alpha=0.45, color=color,
                edgecolor=color, label=f"{name} ({len(v):,d})")
    if threshold is not None:
        ax.axvline(threshold, color=THRESHOLD, linestyle="--", linewidth=1.5, label=f"threshold {threshold:.4g}")
    if over:
        ax.plot([], [], " ", label=f"{over:,d} scores above {hi:.4g} in the last bin")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("share of the group per bin", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig
