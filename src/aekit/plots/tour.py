"""The tour page (``aekit tour``): one self-contained HTML page beside the lecture — a comparison
table of every family trained on the same digits, then the lecture's figures, each with a one-line
caption saying what the lecture claims and what the figure shows.

Everything is inline: images as base64 PNGs, the style in the page, no scripts, no external
assets (links to the run folders' own reports are plain relative links). A figure that cannot be
drawn is replaced by a sentence saying why, under its caption; writing the page never fails on a
figure (only failing to write the file raises).

The drawing functions here take arrays (the tasks layer computes them from the runs):
:func:`codes_over_priors`, :func:`activation_histograms`,
:func:`filter_panels` and :func:`linear_vs_pca`.
"""
from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import atomic_write_text
from .canvas import fig_to_base64_png, new_figure
from .figures import draw_latent_map, grid_array
from .report import _CSS, sections_html
from .sections import _esc, _fmt_number, _reason

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

log = logging.getLogger("aekit.plots.tour")

__all__ = ["PageFigure", "TableColumn", "write_tour_page", "codes_over_priors", "activation_histograms",
           "filter_panels", "linear_vs_pca"]

_TOUR_CSS = """
table.tour td, table.tour th { padding: 0.2em 0.7em 0.2em 0.4em; font-size: 0.9em; }
table.tour tr.variant td { color: #666; }
table.tour th { vertical-align: bottom; }
ul.notes { font-size: 0.9em; color: #444; }
"""


@dataclass
class PageFigure:
    """One figure section. ``make()`` returns (figure, what it shows: a sentence with its numbers,
    those numbers by name);
    ``claim`` is what the lecture says. ``missing``: why the figure is not drawn (then ``make`` is
    not called)."""

    heading: str
    claim: str
    make: Callable[[], tuple["Figure", str, dict[str, Any]]] | None = None
    missing: str = ""
    shows: str = field(default="", init=False)   # filled when drawn
    error: str = field(default="", init=False)   # filled when drawing failed
    numbers: dict[str, Any] = field(default_factory=dict, init=False)  # the figure's figures, filled when drawn

    @property
    def drawn(self) -> bool:
        return not self.missing and not self.error and self.make is not None


@dataclass
class TableColumn:
    key: str
    header: str
    note: str = ""        # shown as the header's title (hover) and in the notes under the table
    digits: int | None = None  # fixed decimals; None: the report's number format


def _render_figure(f: PageFigure) -> str:
    """The section's HTML: the image and its caption, or the reason it is missing under the claim."""
    if f.missing or f.make is None:
        return (f'<p class="caption">{_esc(f.claim)}</p>\n'
                f'<p class="unavailable">Not drawn: {_esc(f.missing or "nothing to draw")}</p>\n')
    try:
        fig, shows, numbers = f.make()
        b64 = fig_to_base64_png(fig)
    except Exception as e:  # noqa: BLE001  (a page never fails on one figure)
        f.error = _reason(e)
        log.warning("tour: figure %r unavailable: %s", f.heading, f.error)
        return (f'<p class="caption">{_esc(f.claim)}</p>\n'
                f'<p class="unavailable">Not drawn: {_esc(f.error)}</p>\n')
    f.shows, f.numbers = shows, dict(numbers)
    cap = f"{f.claim} {shows}".strip()
    return f'<figure><img alt="{_esc(f.heading)}" src="data:image/png;base64,{b64}"><figcaption>{_esc(cap)}</figcaption></figure>\n'


def _cell(v: Any, col: TableColumn) -> str:
    if isinstance(v, str):
        return f"<td>{_esc(v)}</td>"
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '<td class="num">—</td>'
    if col.digits is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f'<td class="num">{v:,.{col.digits}f}</td>'
    text, num = _fmt_number(v)
    return f'<td class="num">{_esc(text)}</td>' if num else f"<td>{_esc(text)}</td>"


def table_html(columns: Sequence[TableColumn], rows: Sequence[dict[str, Any]], notes: Sequence[str] = ()) -> str:
    """The comparison table: one row per run (``row["variant"]`` greys a run made for a figure;
    ``row["link"]``, a relative path, links the first cell)."""
    head = "".join(f'<th title="{_esc(c.note)}">{_esc(c.header)}</th>' for c in columns)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(columns):
            cell = _cell(r.get(c.key), c)
            if i == 0 and r.get("link"):
                cell = f'<td><a href="{_esc(r["link"])}">{_esc(r.get(c.key))}</a></td>'
            cells.append(cell)
        cls = ' class="variant"' if r.get("variant") else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out = f'<table class="tour">\n<tr>{head}</tr>\n' + "\n".join(body) + "\n</table>\n"
    if notes:
        out += '<ul class="notes">\n' + "".join(f"<li>{_esc(n)}</li>\n" for n in notes) + "</ul>\n"
    return out


def write_tour_page(path: Path, *, title: str, meta: Sequence[str] | Callable[[], Sequence[str]], table: str,
                    figures: Sequence[PageFigure], extra_sections: Sequence[tuple[str, str]] = ()) -> Path:
    """Write the tour page to ``path`` (atomically): ``meta`` lines under the title (or a function
    giving them, called once the figures are drawn), the table's HTML (:func:`table_html`), one
    section per figure, then ``extra_sections`` ((heading, trusted HTML))."""
    sections = [("Comparison", table)] + [(f.heading, _render_figure(f)) for f in figures] + list(extra_sections)
    meta = meta() if callable(meta) else meta
    nav, body = sections_html(sections)
    date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    lines = "".join(f'<p class="meta">{_esc(m)}</p>\n' for m in [*meta, f"Written {date}."])
    try:
        from .. import __version__ as version
    except Exception:  # noqa: BLE001
        version = None
    doc = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n{_TOUR_CSS}</style>\n</head>\n<body>\n"
           f"<header>\n<h1>{_esc(title)}</h1>\n{lines}</header>\n<nav>{nav}</nav>\n<main>\n{body}</main>\n"
           f"<footer>{_esc('written by aekit' + (f' {version}' if version else ''))}</footer>\n</body>\n</html>\n")
    atomic_write_text(Path(path), doc)
    return Path(path)


# ---- figures ------------------------------------------------------------------------------------

def codes_over_priors(panels: Sequence[tuple[np.ndarray, np.ndarray | None, np.ndarray, str]]) -> "Figure":
    """2-D codes coloured by label over samples of the prior (grey), one panel per (codes, labels,
    prior samples, title)."""
    fig = new_figure((5.6 * len(panels), 4.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (z, y, prior, title) in zip(axes, panels):
        p = np.asarray(prior)
        ax.scatter(p[:, 0], p[:, 1], s=3, c="0.78", lw=0)
        draw_latent_map(fig, ax, np.asarray(z), y, title, label_name="digit")
    return fig


def activation_histograms(series: Sequence[tuple[str, np.ndarray]], target: float | None = None) -> "Figure":
    """Left: histogram of every code activation (N, J) of each model (log counts); right: histogram
    of each unit's mean activation, with the sparsity target ρ marked."""
    fig = new_figure((11.0, 3.6))
    left, right = fig.subplots(1, 2)
    bins = np.linspace(0.0, 1.0, 41)
    colours = ["#4c72b0", "#dd8452", "#55a868"]
    for (name, h), c in zip(series, colours):
        h = np.asarray(h, dtype=np.float64)
        left.hist(h.reshape(-1), bins=bins, histtype="step", lw=1.6, color=c, label=name)
        right.hist(h.mean(0), bins=bins, histtype="stepfilled", alpha=0.45, color=c, label=name)
    left.set_yscale("log")
    left.set(xlabel="activation h_j(x) of one unit on one test digit", ylabel="count (log)")
    left.set_title("every activation", fontsize=10)
    right.set(xlabel="mean activation of a unit over the test digits", ylabel="units")
    right.set_title("per unit", fontsize=10)
    if target is not None:
        right.axvline(target, color="k", ls="--", lw=1.0, label=f"target ρ = {target:g}")
    for ax in (left, right):
        ax.legend(fontsize=8, frameon=False)
        ax.tick_params(labelsize=8)
    return fig


def _normalised_filters(weight: np.ndarray, shape: tuple[int, ...], n: int) -> np.ndarray:
    """The first ``n`` rows of a first-layer weight as images (n, C, H, W), each scaled to [0, 1]."""
    w = np.asarray(weight, dtype=np.float64)[:n]
    lo = w.min(1, keepdims=True)
    span = w.max(1, keepdims=True) - lo
    w = np.where(span > 0, (w - lo) / np.where(span > 0, span, 1.0), 0.5)
    return w.reshape(len(w), *shape).astype(np.float32)


def filter_panels(panels: Sequence[tuple[str, np.ndarray, tuple[int, ...]]], n: int = 64) -> "Figure":
    """First-layer filters of several models side by side: (title, weight (units, D), image shape)."""
    fig = new_figure((3.3 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, w, shape) in zip(axes, panels):
        imgs = _normalised_filters(w, shape, n)
        grid = grid_array(imgs, int(math.ceil(math.sqrt(len(imgs)))), pad=1)
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
    return fig


def linear_vs_pca(angles: np.ndarray, cosines: np.ndarray, pca_dirs: np.ndarray, ae_cols: np.ndarray,
                  image_shape: tuple[int, ...]) -> "Figure":
    """The linear AE against PCA: principal angles between the two subspaces (bars), |cosines|
    between the AE's decoder columns and PCA's directions (a heatmap: not one-to-one), and both
    bases (k, D) as images of ``image_shape``, each scaled to its own range."""
    fig = new_figure((11.0, 5.6))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.9, 0.8])
    a1, a2 = top.subplots(1, 2)
    k = len(angles)
    ticks = np.arange(1, k + 1)
    a1.bar(ticks, angles, color="#4c72b0")
    a1.set_ylim(0, 90)
    a1.set(xlabel="principal angle (ascending)", ylabel="degrees")
    a1.set_title(f"angles between span(linear AE decoder) and PCA's top {k}", fontsize=10)
    a1.set_xticks(ticks, [str(t) for t in ticks], fontsize=7)
    im = a2.imshow(np.abs(cosines), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    a2.set(xlabel="PCA direction", ylabel="AE decoder column")
    a2.set_title("|cosine| between the two bases", fontsize=10)
    a2.set_xticks(ticks - 1, [str(t) for t in ticks], fontsize=7)
    a2.set_yticks(ticks - 1, [str(t) for t in ticks], fontsize=7)
    top.colorbar(im, ax=a2, shrink=0.85)
    shape = tuple(int(s) for s in image_shape)
    axes = bottom.subplots(2, 1)
    for ax, (label, vecs) in zip(axes, (("PCA directions", pca_dirs), ("linear AE\ndecoder columns", ae_cols))):
        grid = grid_array(_normalised_filters(vecs, shape, len(vecs)), len(vecs), pad=1)
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return fig
