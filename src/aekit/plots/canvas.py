"""Headless matplotlib figures and their PNG encoding, shared by every figure module.

Figures are built without pyplot, so no window is ever opened and nothing is left in pyplot's
figure registry (a figure is freed with its last reference). The Agg backend is selected before
anything could import pyplot, unless the caller already imported pyplot with a backend of its own
(a notebook), which is then left alone.
"""
from __future__ import annotations

import base64
import io
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from matplotlib.figure import Figure

__all__ = ["new_figure", "fig_to_base64_png", "save_png"]


def _use_agg() -> None:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")


def new_figure(figsize: tuple[float, float], layout: str | None = "constrained") -> "Figure":
    """An empty figure of ``figsize`` inches (constrained layout unless ``layout`` says otherwise)."""
    _use_agg()
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


def fig_to_base64_png(fig: "Figure", dpi: int = 100) -> str:
    """The figure as a base64 PNG (ASCII), for ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def save_png(fig: "Figure", path: "str | Path", dpi: int = 110) -> "Path":
    """Write the figure as a PNG, atomically (a temporary file in the same folder, then a rename)."""
    from pathlib import Path

    from ..io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
