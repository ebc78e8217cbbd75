"""The report's figures of the networks themselves: a conv run's first-layer filters and feature
maps, a sequence run's series and its reconstruction error over time and by class, and every run's
layer-by-layer shape trace.

:func:`network_sections` returns (heading, HTML) pairs for :func:`aekit.plots.report.write_report`
to place; every figure is drawn by ``_figure_html`` (a figure that cannot be drawn leaves a note and
a logged warning, never a failed run).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import figures as F
from .canvas import new_figure
from .sections import _SPLIT_WORDS, _esc, _figure_html, _pick_split, _reason, log

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["network_sections", "shape_trace_html", "is_conv_run", "is_sequence_run", "is_text_run",
           "conv_filters", "feature_maps", "sequence_reconstructions", "error_over_time", "sequence_errors",
           "sequence_lengths", "MAX_FILTERS", "N_SERIES", "MAX_CHANNELS", "MAX_SEQUENCES"]

MAX_FILTERS = 64      # first-layer filters and feature maps shown
N_SERIES = 4          # test series shown with their reconstructions
MAX_CHANNELS = 4      # channels shown of each of those series
MAX_SEQUENCES = 2000  # test series reconstructed for the error figures


# ---- which run is which --------------------------------------------------------------------------

def _net(model: Any) -> str | None:
    return getattr(getattr(model, "cfg", None), "net", None)


def is_conv_run(model: Any) -> bool:
    """A model whose encoder is the conv network (``model.cfg.net == "conv"``)."""
    return _net(model) == "conv" and hasattr(getattr(model, "encoder", None), "feature_maps")


def is_sequence_run(model: Any, data: Any) -> bool:
    """Sequences (N, T, C): data kind "sequences" and a model reading (T, C) examples."""
    shape = tuple(getattr(model, "input_shape", None) or getattr(data, "input_shape", ()))
    return getattr(data, "kind", None) == "sequences" and len(shape) == 2


def is_text_run(model: Any, data: Any) -> bool:
    """One-hot sequences (characters) under a categorical likelihood: their reconstructions are
    text, not series to draw."""
    return is_sequence_run(model, data) and getattr(getattr(model, "cfg", None), "likelihood", None) == "categorical"


# ---- the shape trace -----------------------------------------------------------------------------

def shape_trace_html(model: Any) -> str | None:
    """``describe_model``'s text in a collapsible <pre> (open for conv and rnn networks); None for
    an object that is not a built model (nothing to trace)."""
    if not (hasattr(model, "cfg") and hasattr(model, "encoder") and hasattr(model, "decoder")):
        return None
    from ..nets.trace import describe_model

    try:
        text = describe_model(model)
    except Exception as e:  # noqa: BLE001  (a report never fails a run)
        log.warning("report: shape trace unavailable: %s", _reason(e))
        return f'<p class="unavailable">shape trace unavailable: {_esc(_reason(e))}</p>\n'
    open_ = " open" if _net(model) in ("conv", "rnn") else ""
    return (f"<details{open_}><summary>The encoder's and decoder's layers, the shape of each one's output "
            "(without the batch axis) and its parameters, traced by running a dummy example through them."
            f"</summary>\n<pre>{_esc(text)}</pre>\n</details>\n")


# ---- conv runs -----------------------------------------------------------------------------------

def _unit(a: np.ndarray, axes: tuple[int, ...], dead: float = 0.5) -> np.ndarray:
    """``a`` scaled to [0, 1] over ``axes`` (each slice its own min..max); constant slices → ``dead``."""
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), dead)


def _picture(ax: Any, grid: np.ndarray, title: str = "") -> None:
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def _scale_for(side: int, target: int = 24) -> int:
    return max(1, math.ceil(target / max(1, side)))


def conv_filters(weight: Any, in_channels: int, n: int = MAX_FILTERS) -> "Figure":
    """The first ``n`` output channels' kernels of a conv weight (c, C_in (+label maps), k, k), the
    label-map channels dropped: colour kernels for three input channels, else one grey kernel per
    input channel (a row per filter); each filter scaled to its own min..max."""
    w = np.asarray(weight.detach().cpu().float().numpy() if hasattr(weight, "detach") else weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"a conv weight is (out, in, kh, kw), got shape {w.shape}")
    c_in = int(in_channels)
    w = w[: max(1, min(int(n), w.shape[0])), :c_in]
    k, kh, kw = len(w), w.shape[2], w.shape[3]
    w = _unit(w, (1, 2, 3))  # per filter, over its input channels together
    if c_in == 3:
        imgs, nrow = w, math.ceil(math.sqrt(k))
    elif c_in == 1:
        imgs, nrow = w, math.ceil(math.sqrt(k))
    else:  # a row per filter, a kernel per input channel
        imgs, nrow = w.reshape(k * c_in, 1, kh, kw), c_in
    grid = F.grid_array(imgs, nrow, pad=1, scale=_scale_for(max(kh, kw)))
    h, wd = grid.shape[:2]
    side = min(9.0, max(3.0, wd / 60))
    fig = new_figure((side, side * h / wd + 0.1), layout=None)
    _picture(fig.add_axes((0, 0, 1, 1)), grid)
    return fig


def _model_input(model: Any, x: np.ndarray) -> Any:
    """Data-space examples → the encoder's model-space input tensor (on the model's device)."""
    t, _ = model.as_input(np.asarray(x, dtype=np.float32))
    v = model.to_model_space(t.to(model.device))
    return model.m2_input(v) if hasattr(model, "m2_input") else v


def _cond(model: Any, net: Any, n: int, y: Any, like: Any) -> Any:
    """The encoder's label maps: the example's one-hot label when known, else zeros (None when
    the encoder takes none)."""
    import torch

    k = int(getattr(net, "cond_dim", 0) or 0)
    if not k:
        return None
    c = torch.zeros(n, k, dtype=like.dtype, device=like.device)
    if y is not None:
        lab = np.asarray(y).reshape(-1)[:n]
        for i, v in enumerate(lab):
            if 0 <= int(v) < k:
                c[i, int(v)] = 1
    return c


def feature_maps(model: Any, x: np.ndarray, y: Any = None, n: int = MAX_FILTERS) -> "Figure":
    """One input (left) and the first ``n`` maps of the conv encoder's first block (after its
    normalisation and activation) for it, each map scaled to its own range (a map that is
    constant, e.g. all zero after a ReLU, is black)."""
    import torch

    net = model.encoder
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            v = _model_input(model, np.asarray(x)[:1])
            maps = net.feature_maps(v, _cond(model, net, 1, y, v)).float().cpu().numpy()[0]
    finally:
        model.train(was)
    maps = maps[: max(1, min(int(n), len(maps)))]
    maps = _unit(maps.astype(np.float64), (1, 2), dead=0.0)[:, None]
    grid = F.grid_array(maps, math.ceil(math.sqrt(len(maps))), pad=1, scale=_scale_for(max(maps.shape[2:]), 28))
    img = np.asarray(x, dtype=np.float64)[0]
    img = _unit(np.nan_to_num(img), tuple(range(img.ndim)))
    img = img.transpose(1, 2, 0) if img.shape[0] == 3 else img[0]
    h, wd = grid.shape[:2]
    height = 4.2
    left = height * 0.55
    fig = new_figure((left + height * wd / h + 0.2, height + 0.35))
    gs = fig.add_gridspec(1, 2, width_ratios=(left, height * wd / h))
    ax0, ax1 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    ax0.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax0.set_axis_off()
    ax0.set_title("input", fontsize=9)
    _picture(ax1, grid, f"{len(maps)} feature maps, {maps.shape[2]}×{maps.shape[3]}")
    return fig


def _conv_sections(model: Any, data: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    net = model.encoder
    c_in = int(getattr(net, "input_shape", model.input_shape)[0])
    try:
        w = net.first_layer_weight
        c, k = int(w.shape[0]), int(w.shape[-1])
        shown = min(MAX_FILTERS, c)
        how = ("each a colour kernel (red, green, blue input channels)" if c_in == 3 else
               "each in grey" if c_in == 1 else f"a row per filter, one grey kernel per input channel ({c_in})")
        cap = (f"{'The' if shown == c else f'The first {shown} of the'} {c} first-layer convolution kernels ({k}×{k}), "
               f"{how}; each filter scaled to its own range (dark: most negative, light: most positive).")
        cond = int(getattr(net, "cond_dim", 0) or 0)
        if cond:
            cap += f" The weights on the {cond} label maps are not shown."
    except Exception:  # noqa: BLE001  (the figure reports the error)
        cap = None
    out.append(("First-layer filters", _figure_html("first-layer filters", lambda: conv_filters(net.first_layer_weight, c_in), cap)))

    try:
        split, x, y = _pick_split(data)
        y0 = None if y is None else np.asarray(y)[:1]
        label = ""
        if int(getattr(net, "cond_dim", 0) or 0):
            label = (f" The encoder's label maps hold the example's label ({int(y0[0])})." if y0 is not None and y0[0] >= 0
                     else " The encoder's label maps are zeros (no label).")
        cap = (f"The first {_SPLIT_WORDS[split]} example (left) and the output of the conv encoder's first block for it "
               "(after its normalisation and activation), each map scaled to its own range (a constant map is black)." + label)
    except Exception:  # noqa: BLE001
        x, y0, cap = None, None, None
    out.append(("Feature maps", _figure_html("feature maps", lambda: feature_maps(model, x, y0), cap)))
    return out


# ---- sequence runs -------------------------------------------------------------------------------

def sequence_lengths(x: np.ndarray) -> np.ndarray:
    """(N, T, C) → (N,): the number of leading steps whose channels are all finite (NaN: end padding)."""
    a = np.asarray(x)
    ok = np.isfinite(a).all(axis=2)
    return np.cumprod(ok, axis=1).sum(axis=1).astype(np.int64)


def sequence_errors(x: np.ndarray, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(squared error per example and step, averaged over channels, NaN on padding (N, T);
    mean squared error per example over its own steps (N,))."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64).reshape(x.shape)
    lens = sequence_lengths(x)
    se = ((np.nan_to_num(x) - np.nan_to_num(x_hat)) ** 2).mean(axis=2)
    se[np.arange(x.shape[1])[None, :] >= lens[:, None]] = np.nan
    with np.errstate(invalid="ignore"):
        per_example = np.nanmean(np.where(lens[:, None] > 0, se, 0.0), axis=1) if len(se) else np.zeros(0)
    return se, per_example


def sequence_reconstructions(x: np.ndarray, x_hat: np.ndarray, n: int = N_SERIES,
                             channels: int = MAX_CHANNELS) -> "Figure":
    """A panel per example (rows) and channel (columns): the input series (solid) and its
    reconstruction (dashed), each up to the series' own length."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64).reshape(x.shape)
    if x.ndim != 3:
        raise ValueError(f"expected sequences (N, T, C), got shape {x.shape}")
    k = max(1, min(int(n), len(x)))
    c = max(1, min(int(channels), x.shape[2]))
    lens = sequence_lengths(x[:k])
    fig = new_figure((min(12.0, 3.0 + 3.2 * c), 1.9 * k + 0.4))
    axes = fig.subplots(k, c, squeeze=False, sharex=True)
    for i in range(k):
        t = np.arange(lens[i])
        for j in range(c):
            ax = axes[i, j]
            ax.plot(t, x[i, : lens[i], j], lw=1.2, color="#4c72b0", label="input")
            ax.plot(t, x_hat[i, : lens[i], j], lw=1.0, ls="--", color="#dd8452", label="reconstruction")
            ax.tick_params(labelsize=7)
            title = f"example {i}" + (f", channel {j}" if x.shape[2] > 1 else "")
            if lens[i] < x.shape[1]:
                title += f" ({lens[i]} of {x.shape[1]} steps)"
            ax.set_title(title, fontsize=8)
            if i == k - 1:
                ax.set_xlabel("step", fontsize=8)
    axes[0, 0].legend(fontsize=7, frameon=False)
    return fig


def error_over_time(se: np.ndarray) -> "Figure":
    """The mean squared error at each step across the examples still running there (padding
    excluded), with the band of their 25th..75th percentiles."""
    se = np.asarray(se, dtype=np.float64)
    running = np.isfinite(se).sum(axis=0)
    steps = np.flatnonzero(running)
    if not len(steps):
        raise ValueError("no unpadded steps to show")
    s = se[:, steps]
    mean = np.nanmean(s, axis=0)
    lo, hi = np.nanpercentile(s, 25, axis=0), np.nanpercentile(s, 75, axis=0)
    fig = new_figure((7.5, 3.2))
    ax = fig.subplots()
    ax.fill_between(steps, lo, hi, color="#4c72b0", alpha=0.2, lw=0, label="25th–75th percentile")
    ax.plot(steps, mean, color="#4c72b0", lw=1.4, label="mean")
    ax.set_xlabel("step", fontsize=9)
    ax.set_ylabel("squared error (mean over channels)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)
    if running.min() < running.max():
        ax2 = ax.twinx()
        ax2.plot(steps, running[steps], color="0.6", lw=0.8, ls=":", label="series still running")
        ax2.set_ylabel("series still running", fontsize=8, color="0.45")
        ax2.tick_params(labelsize=7, colors="0.45")
        ax2.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _sequence_sections(model: Any, data: Any, text: bool) -> tuple[str | None, list[tuple[str, str]]]:
    """(the Reconstructions section's HTML for series (None for text), the error sections)."""
    ctx: dict[str, Any] = {}

    def rec() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(split, x, x_hat, squared error per step, error per example, labels), computed once."""
        if "rec" not in ctx:
            split, x, y = _pick_split(data)
            x = np.asarray(x[:MAX_SEQUENCES], dtype=np.float32)
            x_hat = np.asarray(model.reconstruct(x), dtype=np.float32)
            ctx["rec"] = (split, x, x_hat, *sequence_errors(x, x_hat), None if y is None else np.asarray(y)[:MAX_SEQUENCES])
        return ctx["rec"]

    try:
        split, x, _ = _pick_split(data)
        n, words = min(len(x), MAX_SEQUENCES), _SPLIT_WORDS[split]
        c = int(np.shape(x)[2])
        over = f"{n:,} {words} series" + (f" (the first {n:,} of {len(x):,})" if n < len(x) else "")
    except Exception:  # noqa: BLE001
        n, words, c, over = 0, "test", 1, "the test series"

    recon = None
    if not text:
        chans = f" Channels 0..{MAX_CHANNELS - 1} of {c}." if c > MAX_CHANNELS else ""
        cap = (f"The first {min(N_SERIES, n)} {words} series (solid) and their reconstructions (dashed, the decoder's mean), "
               f"a panel per series and channel, each drawn up to the series' own length.{chans}")
        recon = _figure_html("reconstructions", lambda: sequence_reconstructions(rec()[1], rec()[2]), cap)

    out = [("Error over time", _figure_html(
        "error over time", lambda: error_over_time(rec()[3]),
        f"The squared reconstruction error at each step, averaged over the channels, across {over} "
        "(the padding after a series' end excluded): the mean and the band of the middle half. In the data's units."))]

    ydata = getattr(data, f"y_{split}", None) if n else None
    if ydata is not None and np.any(np.asarray(ydata)[:MAX_SEQUENCES] >= 0):
        classes = list(getattr(data, "classes", None) or [])

        def per_class() -> "Figure":
            _, _, _, _, per_ex, y = rec()
            y = np.asarray(y).reshape(-1)
            ks = np.unique(y[y >= 0]).astype(int)
            vals = np.array([per_ex[y == k].mean() for k in ks])
            labels = [f"{classes[k]}" if k < len(classes) else str(k) for k in ks]
            return F.bar_chart(vals, labels, "mean reconstruction error per class", "mean squared error", "class")

        out.append(("Per-class error", _figure_html(
            "per-class error", per_class,
            f"The mean squared reconstruction error of the series of each class (each series' error averaged over its "
            f"own steps and channels), over {over}. In the data's units.")))
    return recon, out


# ---- the sections ------------------------------------------------------------------------------

def network_sections(model: Any, data: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """(the HTML of the Reconstructions section when this run draws its own — series overlaid
    for a sequence run that is not text — else None; the run's network sections: first-layer
    filters and feature maps for a conv run, error over time and per-class error for a sequence
    run, none for others). Figures are drawn here, each to an inline PNG or a note."""
    try:
        if is_conv_run(model):
            return None, _conv_sections(model, data)
        if is_sequence_run(model, data):
            return _sequence_sections(model, data, is_text_run(model, data))
    except Exception as e:  # noqa: BLE001  (a report never fails a run)
        log.warning("report: network figures unavailable: %s", _reason(e))
        return None, [("Network figures", f'<p class="unavailable">figure unavailable: {_esc(_reason(e))}</p>\n')]
    return None, []
