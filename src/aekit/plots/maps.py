"""2-D maps of points coloured by label: one map (``aekit map``) and panels side by side with one
shared colour key (``aekit compare-manifold``).

The points are already 2-D (codes, their PCA or t-SNE, an embedding): these functions only draw.
Labels are either class indices (named by ``class_names``; −1 is drawn grey as "unlabelled"), or
continuous values such as a true manifold coordinate (a colour scale). Every function returns a
:class:`matplotlib.figure.Figure` built without pyplot (:mod:`aekit.plots.canvas`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .canvas import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["map_figure", "panels_figure", "draw_points", "is_continuous"]

UNLABELLED = -1


def is_continuous(labels: np.ndarray) -> bool:
    """Continuous values (a colour scale) rather than classes (a legend): non-integer floats."""
    lab = np.asarray(labels)
    if lab.dtype.kind != "f":
        return False
    finite = lab[np.isfinite(lab)]
    return not np.all(finite == np.round(finite))


def _class_colours(classes: np.ndarray) -> list[Any]:
    import matplotlib

    named = [c for c in classes if c != UNLABELLED]
    cm = matplotlib.colormaps["tab10" if len(named) <= 10 else "tab20" if len(named) <= 20 else "turbo"]
    n = max(1, len(named) - 1)
    out, j = [], 0
    for c in classes:
        if c == UNLABELLED:
            out.append("0.7")
            continue
        out.append(cm(j % cm.N) if len(named) <= 20 else cm(j / n))
        j += 1
    return out


def draw_points(fig: "Figure", ax: Any, xy: np.ndarray, labels: np.ndarray | None = None, title: str = "", *,
                class_names: Sequence[Any] | None = None, continuous: bool | None = None, label_name: str | None = None,
                xlabel: str = "", ylabel: str = "", key: bool = True, cmap: str = "viridis",
                vmin: float | None = None, vmax: float | None = None) -> Any:
    """Scatter 2-D ``xy`` on ``ax``, coloured by ``labels``; ``key`` adds this panel's legend or
    colourbar. Returns what a shared key needs: the scatter (continuous) or the legend handles."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {xy.shape}")
    size = float(np.clip(12000 / max(len(xy), 1), 3, 30))
    out: Any = None
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6, lw=0, color="#4c72b0")
    else:
        lab = np.asarray(labels).reshape(-1)
        if len(lab) != len(xy):
            raise ValueError(f"{len(lab)} labels for {len(xy)} points")
        if is_continuous(lab) if continuous is None else continuous:
            out = ax.scatter(xy[:, 0], xy[:, 1], c=lab.astype(float), s=size, alpha=0.8, lw=0, cmap=cmap, vmin=vmin, vmax=vmax)
            if key:
                cb = fig.colorbar(out, ax=ax)
                if label_name:
                    cb.set_label(label_name)
        else:
            lab = lab.astype(np.int64)
            classes = np.unique(lab)
            handles = []
            for c, colour in zip(classes, _class_colours(classes)):
                m = lab == c
                name = "unlabelled" if c == UNLABELLED else str(class_names[c]) if class_names is not None else str(c)
                handles.append(ax.scatter(xy[m, 0], xy[m, 1], s=size, alpha=0.7, lw=0, color=colour, label=name))
            out = handles
            if key and len(classes) <= 30:
                ax.legend(title=label_name or "label", fontsize=8, title_fontsize=8, markerscale=max(1.0, 6 / math.sqrt(size)),
                          loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return out


def map_figure(xy: np.ndarray, labels: np.ndarray | None = None, title: str = "", **kw: Any) -> "Figure":
    """One 2-D map as its own figure (see :func:`draw_points` for the keywords)."""
    fig = new_figure((6.6, 5.2))
    draw_points(fig, fig.subplots(), xy, labels, title, **kw)
    return fig


def panels_figure(panels: Sequence[tuple[np.ndarray, str]], labels: np.ndarray | None = None, *, ncols: int = 3,
                  class_names: Sequence[Any] | None = None, continuous: bool | None = None, label_name: str | None = None,
                  suptitle: str = "", axis_names: tuple[str, str] = ("", "")) -> "Figure":
    """One panel per (points, title), ``ncols`` to a row, with one colour key for all of them (a
    legend of the classes, or one colourbar on a common scale for continuous labels)."""
    if not panels:
        raise ValueError("no panels to draw")
    ncols = max(1, min(ncols, len(panels)))
    rows = math.ceil(len(panels) / ncols)
    fig = new_figure((4.2 * ncols + 1.4, 3.9 * rows + (0.4 if suptitle else 0.0)))
    axes = fig.subplots(rows, ncols, squeeze=False)
    cont = labels is not None and (is_continuous(np.asarray(labels)) if continuous is None else continuous)
    lo = hi = None
    if cont:
        lab = np.asarray(labels, dtype=np.float64)
        lo, hi = float(np.nanmin(lab)), float(np.nanmax(lab))
    used = []
    key: Any = None
    for ax, (xy, title) in zip(axes.flat, panels):
        key = draw_points(fig, ax, xy, labels, title, class_names=class_names, continuous=cont if labels is not None else None,
                          xlabel=axis_names[0], ylabel=axis_names[1], key=False, vmin=lo, vmax=hi)
        ax.set_xticks([])
        ax.set_yticks([])
        used.append(ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    if labels is not None and key is not None:
        if cont:
            cb = fig.colorbar(key, ax=used, shrink=0.8)
            if label_name:
                cb.set_label(label_name)
        elif len(key) <= 30:
            fig.legend(handles=key, title=label_name or "label", fontsize=8, title_fontsize=8, loc="outside right center",
                       frameon=False, markerscale=2.0)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig
