"""Figures for runs and reports: image grids, reconstructions, latent maps, filters, and a model's
report items; the charts of numbers (loss curves, schedules, accuracies, bar charts) live in
:mod:`aekit.plots.charts` and are re-exported here, so ``figures`` is the one module to draw from.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (see
:mod:`aekit.plots.canvas`): no window is ever opened and nothing is left in pyplot's figure
registry (there is nothing to close; a figure is freed with its last reference).
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .canvas import fig_to_base64_png, new_figure as _new_figure
from .charts import (
    ACCURACY_SUFFIXES,
    HISTORY_META_KEYS,
    SCHEDULE_KEYS,
    accuracy_curves,
    bar_chart,
    has_schedules,
    history_columns,
    loss_curves,
    schedule_curves,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["image_grid", "save_image_grid", "grid_array", "tiled", "bar_chart", "report_item", "reconstructions", "loss_curves",
           "accuracy_curves", "schedule_curves", "history_columns", "has_schedules", "latent_map", "latent_maps",
           "draw_latent_map", "filters", "fig_to_base64_png", "HISTORY_META_KEYS", "SCHEDULE_KEYS", "ACCURACY_SUFFIXES"]


# ---- images ------------------------------------------------------------------------------------

def _as_images(images: Any) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) → float (N, H, W) grey or (N, H, W, 3) RGB, clipped to [0, 1]."""
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {a.shape}")
    a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0).clip(0.0, 1.0)
    if a.shape[1] == 3:
        return a.transpose(0, 2, 3, 1)
    return a[:, 0]  # grey, or the first channel of other channel counts


def _show(ax: Any, img: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> None:
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def image_grid(images: np.ndarray, nrow: int, titles: Sequence[str] | None = None) -> "Figure":
    """Images (N, C, H, W) with C in {1, 3} (values clipped to [0, 1]) in a grid.

    ``nrow`` is the number of images in each row (as torchvision's ``make_grid``); ``titles``
    optionally names each image.
    """
    imgs = _as_images(images)
    n = len(imgs)
    if n == 0:
        raise ValueError("no images to show")
    ncol = max(1, min(int(nrow), n))
    rows = math.ceil(n / ncol)
    h, w = imgs.shape[1:3]
    cell = 1.1 if max(h, w) <= 64 else 1.8
    extra = 0.25 if titles is not None else 0.0
    fig = _new_figure((ncol * cell * w / max(h, w), rows * (cell * h / max(h, w) + extra)), layout=None)
    axes = fig.subplots(rows, ncol, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_axis_off()
            continue
        _show(ax, imgs[i])
        if titles is not None and i < len(titles):
            ax.set_title(str(titles[i]), fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99 if titles is None else 0.93, wspace=0.05,
                        hspace=0.05 if titles is None else 0.35)
    return fig


def grid_array(images: np.ndarray, nrow: int, pad: int = 2, scale: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Images tiled into one uint8 array (H, W) or (H, W, 3), ``nrow`` images per row."""
    imgs = _as_images(images)
    n = len(imgs)
    if n == 0:
        raise ValueError("no images to tile")
    if scale > 1:
        imgs = imgs.repeat(scale, axis=1).repeat(scale, axis=2)
    ncol = max(1, min(int(nrow), n))
    rows = math.ceil(n / ncol)
    h, w = imgs.shape[1:3]
    shape = (rows * (h + pad) + pad, ncol * (w + pad) + pad) + imgs.shape[3:]
    out = np.full(shape, pad_value, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y: y + h, x: x + w] = imgs[i]
    return (out * 255.0 + 0.5).astype(np.uint8)


def tiled(images: np.ndarray, nrow: int, title: str = "") -> "Figure":
    """Images (N, C, H, W) tiled into one picture on one Axes (quick to draw however many), ``nrow``
    to a row; the figure's size follows the picture's."""
    grid = grid_array(images, nrow)
    h, w = grid.shape[:2]
    side = min(10.0, w / 40 + 0.4)
    fig = _new_figure((side, side * h / w + (0.4 if title else 0.1)))
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def report_item(item: Any) -> "Figure":
    """The figure of a model's :class:`aekit.models.ReportItem` (images, bars or scatter)."""
    if item.kind == "images":
        return tiled(item.data, item.nrow)
    if item.kind == "bars":
        return bar_chart(item.data, item.labels, item.heading, item.axes[1], item.axes[0])
    if item.kind == "scatter":
        fig = _new_figure((6.6, 5.2))
        ax = fig.subplots()
        if item.background is not None:
            bg = np.asarray(item.background)
            ax.scatter(bg[:, 0], bg[:, 1], s=4, c="0.75", lw=0, label="prior samples")
        draw_latent_map(fig, ax, np.asarray(item.data), item.labels, item.caption or item.heading)
        ax.set(xlabel=item.axes[0] or "z1", ylabel=item.axes[1] or "z2")
        return fig
    raise ValueError(f"unknown report item kind {item.kind!r}")


def save_image_grid(images: np.ndarray, path: str | Path, nrow: int, scale: int | None = None, pad: int = 2) -> Path:
    """Write images (N, C, H, W) as one PNG grid, ``nrow`` images per row, atomically.

    Pixels are exact (no resampling beyond an integer ``scale``; default: enough to make each
    tile at least 56 pixels high), separated by ``pad`` white pixels.
    """
    from PIL import Image

    from ..io import atomic_write_bytes

    a = np.asarray(images)
    h = a.shape[-2] if a.ndim >= 3 else 1
    if scale is None:
        scale = max(1, math.ceil(56 / max(1, h)))
    grid = grid_array(a, nrow, pad=pad, scale=int(scale))
    buf = io.BytesIO()
    Image.fromarray(grid, mode="L" if grid.ndim == 2 else "RGB").save(buf, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def image_rows(rows: Sequence[tuple[str, np.ndarray]], per_row: int | None = None) -> "Figure":
    """Labelled strips of images (N, C, H, W) in [0, 1], one strip per (label, images) pair and
    ``per_row`` images each (default: the longest row's count): inputs above their reconstructions,
    corrupted above restored. Each strip is one picture, so many rows draw quickly."""
    if not rows:
        raise ValueError("no rows of images")
    k = int(per_row) if per_row else max(len(imgs) for _, imgs in rows)
    strips = [grid_array(np.asarray(imgs)[:k], k) for _, imgs in rows]
    h, w = strips[0].shape[:2]
    width = min(11.0, w / 28 * 0.9 + 1.8)
    fig = _new_figure((width, len(rows) * (width - 1.8) * h / w + 0.2), layout=None)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (label, _), strip in zip(axes, rows, strips):
        ax.imshow(strip, cmap="gray" if strip.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
        ax.set_ylabel(str(label), rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=1.7 / width, right=0.995, top=0.995, bottom=0.005, hspace=0.04)
    return fig


def reconstructions(x: np.ndarray, x_hat: np.ndarray, n: int = 10) -> "Figure":
    """Inputs (top row) above their reconstructions (bottom row) for images (N, C, H, W); for other
    data, line (or, for at most 16 features, bar) plots of a few examples with the
    reconstruction overlaid."""
    x = np.asarray(x, dtype=np.float32)
    x_hat = np.asarray(x_hat, dtype=np.float32).reshape(x.shape)
    if x.ndim == 4:
        k = max(1, min(int(n), len(x)))
        return image_rows([("input", x[:k]), ("reconstruction", x_hat[:k])])
    xf, hf = x.reshape(len(x), -1), x_hat.reshape(len(x_hat), -1)
    k = max(1, min(int(n), len(xf), 4))
    d = xf.shape[1]
    cols = min(k, 2)
    rows = math.ceil(k / cols)
    fig = _new_figure((5.2 * cols, 2.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    idx = np.arange(d)
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.set_axis_off()
            continue
        if d <= 16:
            bw = 0.4
            ax.bar(idx - bw / 2, xf[i], bw, label="input", color="#4c72b0")
            ax.bar(idx + bw / 2, hf[i], bw, label="reconstruction", color="#dd8452")
            ax.set_xticks(idx)
            ax.axhline(0, color="0.5", lw=0.6)
        else:
            ax.plot(idx, xf[i], lw=1.2, label="input", color="#4c72b0")
            ax.plot(idx, hf[i], lw=1.0, ls="--", label="reconstruction", color="#dd8452")
        ax.set_title(f"example {i}", fontsize=9)
        ax.set_xlabel("feature", fontsize=8)
        ax.tick_params(labelsize=8)
        if i == 0:
            ax.legend(fontsize=8, frameon=False)
    return fig


# ---- codes -------------------------------------------------------------------------------------

def _is_continuous(labels: np.ndarray) -> bool:
    if labels.dtype.kind == "f":
        finite = labels[np.isfinite(labels)]
        if not np.all(finite == np.round(finite)):
            return True
    return len(np.unique(labels)) > 20


def latent_map(codes: np.ndarray, labels: np.ndarray | None = None, title: str = "latent codes", *,
               continuous: bool | None = None, label_name: str | None = None, cmap: str | None = None,
               max_points: int = 5000, seed: int = 0) -> "Figure":
    """One latent map as its own figure (see ``draw_latent_map``)."""
    fig = _new_figure((6.6, 5.2))
    draw_latent_map(fig, fig.subplots(), codes, labels, title, continuous=continuous, label_name=label_name,
                    cmap=cmap, max_points=max_points, seed=seed)
    return fig


def latent_maps(panels: Sequence[tuple[np.ndarray, str]], labels: np.ndarray | None = None, **kw: Any) -> "Figure":
    """Several latent maps side by side on the same examples (e.g. AE vs VAE vs AAE codes)."""
    fig = _new_figure((5.4 * len(panels), 4.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (codes, title) in zip(axes, panels):
        draw_latent_map(fig, ax, codes, labels, title, **kw)
    return fig


def draw_latent_map(fig: "Figure", ax: Any, codes: np.ndarray, labels: np.ndarray | None = None, title: str = "latent codes", *,
                    continuous: bool | None = None, label_name: str | None = None, cmap: str | None = None,
                    max_points: int = 5000, seed: int = 0) -> None:
    """Scatter of codes: 2-D as they are, more dimensions by their first two principal
    components (axis labels say how much variance each explains), 1-D against random jitter.

    Points are coloured by ``labels``: classes (tab10, with a legend) or, for continuous values
    (``continuous``; default: non-integer floats or more than 20 distinct values), a colour
    scale. At most ``max_points`` points are drawn (a seeded subsample).
    """
    z = np.asarray(codes, dtype=np.float64)
    z = z.reshape(len(z), -1) if z.ndim != 2 else z
    if len(z) == 0:
        raise ValueError("no codes to plot")
    lab = None if labels is None else np.asarray(labels).reshape(-1)
    if lab is not None and len(lab) != len(z):
        raise ValueError(f"{len(lab)} labels for {len(z)} codes")
    rng = np.random.default_rng(seed)
    if len(z) > max_points:
        idx = np.sort(rng.choice(len(z), max_points, replace=False))
        z = z[idx]
        lab = lab[idx] if lab is not None else None
    d = z.shape[1]
    if d == 1:
        xy = np.column_stack([z[:, 0], rng.uniform(-1, 1, len(z))])
        xlabel, ylabel = "z1", "jitter (no meaning)"
    elif d == 2:
        xy, xlabel, ylabel = z, "z1", "z2"
    else:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(z)
        r = pca.explained_variance_ratio_ * 100
        xlabel, ylabel = f"PC1 ({r[0]:.0f}% var)", f"PC2 ({r[1]:.0f}% var)"
        title = f"{title} (PCA of {d}-D codes)"
    size = float(np.clip(12000 / len(xy), 3, 30))
    if lab is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6, lw=0, color="#4c72b0")
    else:
        cont = _is_continuous(lab) if continuous is None else continuous
        if cont:
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=lab.astype(float), s=size, alpha=0.8, lw=0, cmap=cmap or "viridis")
            cb = fig.colorbar(sc, ax=ax)
            if label_name:
                cb.set_label(label_name)
        else:
            import matplotlib

            classes = np.unique(lab)
            cm = matplotlib.colormaps[cmap or ("tab10" if len(classes) <= 10 else "tab20")]
            for j, c in enumerate(classes):
                m = lab == c
                ax.scatter(xy[m, 0], xy[m, 1], s=size, alpha=0.7, lw=0, color=cm(j % cm.N), label=str(c))
            ax.legend(title=label_name or "label", fontsize=8, title_fontsize=8, markerscale=max(1.0, 6 / math.sqrt(size)),
                      loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if d == 1:
        ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)


def filters(weight: np.ndarray, image_shape: tuple[int, ...], n: int = 64) -> "Figure":
    """The first ``n`` rows of a first-layer weight (hidden, D) as images of ``image_shape``
    ((C, H, W) or (H, W)): channel 0 in grey, or RGB for three channels; each filter scaled
    to its own min/max."""
    w = np.asarray(weight, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {image_shape}")
    if w.ndim != 2 or w.shape[1] != math.prod(shape):
        raise ValueError(f"a weight of shape {w.shape} has no rows of {math.prod(shape)} values for images {shape}")
    k = max(1, min(int(n), w.shape[0]))
    side = math.ceil(math.sqrt(k))
    rows = math.ceil(k / side)
    c, h, wd = shape
    fig = _new_figure((side * 0.75 * wd / max(h, wd) + 0.1, rows * 0.75 * h / max(h, wd) + 0.1), layout=None)
    axes = fig.subplots(rows, side, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.set_axis_off()
            continue
        f = w[i].reshape(shape)
        img = f.transpose(1, 2, 0) if c == 3 else f[0]
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.full_like(img, 0.5)
        _show(ax, img)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99, wspace=0.06, hspace=0.06)
    return fig
