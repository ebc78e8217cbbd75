"""Charts of numbers: a run's training history (loss terms, accuracies, schedules) and bar charts.

A history row (see :class:`aekit.train.Trainer`) holds, besides bookkeeping, the epoch means of
every term a model's loss returns (``X``; with several phases ``phase/X``), their validation figures
(``val_X``) and the learning rate. Not every term is a loss, so the columns are sorted by their term
name (the part after the last ``/``, without ``val_``):

* schedule values, :data:`SCHEDULE_KEYS`: the learning rate ``lr`` and terms that are weights set by
  a schedule rather than figures to minimise (the VAE's KL weight ``beta``, annealed or constant);
  only their training columns are drawn (validation uses the full objective);
* accuracies: term names ending in one of :data:`ACCURACY_SUFFIXES` (e.g. the AAE's
  ``discriminator/disc_acc``), fractions on a linear 0..1 axis;
* bookkeeping, :data:`HISTORY_META_KEYS` other than ``lr``: not drawn;
* everything else numeric is a loss term.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .canvas import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["HISTORY_META_KEYS", "SCHEDULE_KEYS", "ACCURACY_SUFFIXES", "HistoryColumns", "history_columns", "has_schedules",
           "loss_curves", "accuracy_curves", "schedule_curves", "bar_chart", "confusion_matrix"]

# history columns that are bookkeeping, not loss terms
HISTORY_META_KEYS = ("stage", "epoch", "lr", "epoch_time_s", "samples_per_s")
# schedule values: the learning rate, and terms that are a schedule's weight rather than a loss
SCHEDULE_KEYS = ("lr", "beta")
# term names of accuracies (fractions in [0, 1])
ACCURACY_SUFFIXES = ("_acc", "_accuracy")

_SCHEDULE_TITLES = {"lr": "learning rate (lr)", "beta": "β, the KL weight (beta)"}


def term_name(key: str) -> str:
    """The term a history column holds: ``val_discriminator/disc_acc`` → ``disc_acc``."""
    k = key[4:] if key.startswith("val_") else key
    return k.rsplit("/", 1)[-1]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


@dataclass
class HistoryColumns:
    """A history's numeric columns by kind, in their order of first appearance."""

    losses: list[str] = field(default_factory=list)
    accuracies: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)


def history_columns(history: list[dict[str, Any]]) -> HistoryColumns:
    """Sort the numeric columns of ``history`` into loss terms, accuracies and schedule values."""
    out = HistoryColumns()
    seen: set[str] = set()
    for row in history:
        for k, v in row.items():
            if k in seen or not _is_number(v):
                continue
            seen.add(k)
            term = term_name(k)
            if term in SCHEDULE_KEYS:
                if not k.startswith("val_"):
                    out.schedules.append(k)
            elif k in HISTORY_META_KEYS:
                continue
            elif term.endswith(ACCURACY_SUFFIXES) or term in ("acc", "accuracy"):
                out.accuracies.append(k)
            else:
                out.losses.append(k)
    return out


def _series(history: list[dict[str, Any]], key: str) -> np.ndarray:
    def number(v: Any) -> float:
        try:
            return float(v)
        except (TypeError, ValueError):
            return float("nan")

    return np.array([number(r.get(key)) for r in history], dtype=float)


def has_schedules(history: list[dict[str, Any]]) -> bool:
    """Whether a schedules figure has something to show: a schedule value besides the learning
    rate, or a learning rate that changes."""
    keys = history_columns(history).schedules
    if any(k != "lr" for k in keys):
        return True
    if "lr" in keys:
        lr = _series(history, "lr")
        lr = lr[np.isfinite(lr)]
        return lr.size > 1 and not np.all(lr == lr[0])
    return False


@dataclass
class _Panel:
    title: str
    train: str | None = None
    val: str | None = None
    same_as: list[str] = field(default_factory=list)  # columns with the same values, drawn here once


def _panels(keys: list[str], history: list[dict[str, Any]], merge_same: bool = True) -> list[_Panel]:
    """One panel per training column with its validation column beside it (``val_X`` goes with
    ``X``, else with the one ``phase/X``); the total ``loss`` first. With ``merge_same``, a column
    with the same values as an earlier panel's (e.g. a phase's ``loss`` that is its only term) is
    named in that panel's title rather than drawn again."""
    train = [k for k in keys if not k.startswith("val_")]
    if "loss" in train:
        train.remove("loss")
        train.insert(0, "loss")
    panels = {k: _Panel(k, train=k) for k in train}
    extra: list[_Panel] = []
    for v in (k for k in keys if k.startswith("val_")):
        base = v[4:]
        partner = base if base in panels else None
        if partner is None:
            cands = [k for k in train if k.endswith("/" + base) and panels[k].val is None]
            partner = cands[0] if len(cands) == 1 else None
        if partner is not None and panels[partner].val is None:
            panels[partner].val = v
        else:
            extra.append(_Panel(base, val=v))
    ordered = [panels[k] for k in train] + extra
    if not merge_same:
        return ordered

    def same(a: str | None, b: str | None) -> bool:
        return a is not None and b is not None and np.array_equal(_series(history, a), _series(history, b), equal_nan=True)

    kept: list[_Panel] = []
    for p in ordered:
        twin = next((q for q in kept if p.train is not None and same(p.train, q.train)
                     and (p.val is None or same(p.val, q.val))), None)
        if twin is None:
            kept.append(p)
        else:
            twin.same_as.append(p.title)
    return kept


def _stages(history: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    stages = [str(r.get("stage", "")) for r in history]
    return stages, [i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]


def _plain_log_formatter(minor: bool = False) -> Any:
    """Matplotlib's log-axis labelling (which ticks get a label), written as plain numbers."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            if not super().__call__(x, pos):
                return ""
            return f"{x:.6g}" if 1e-4 <= abs(x) < 1e6 else f"{x:.0e}"

    return PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5) if minor else (np.inf, np.inf))


def _log_scale(ax: Any) -> None:
    ax.set_yscale("log")
    # plain numbers ("90", "100", "0.1") rather than mathtext powers ("9×10¹")
    ax.yaxis.set_major_formatter(_plain_log_formatter())
    ax.yaxis.set_minor_formatter(_plain_log_formatter(minor=True))


def _history_grid(history: list[dict[str, Any]], n: int, draw: Any, ylabel: str = "") -> "Figure":
    """``n`` panels (up to 3 a row) against the epoch counted over all stages; ``draw(ax, i)`` draws
    panel ``i`` and returns its title; dotted lines mark where the stage changes."""
    epochs = np.arange(1, len(history) + 1)
    stages, changes = _stages(history)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = new_figure((4.3 * cols, 3.1 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_axis_off()
            continue
        title = draw(ax, i, epochs)
        for c in changes:
            ax.axvline(c + 0.5, color="0.4", ls=":", lw=1.0)
        if changes:
            for start, name in zip([0, *changes], [stages[0], *(stages[c] for c in changes)]):
                ax.text(start + 0.6, 0.98, name, transform=ax.get_xaxis_transform(), rotation=90, va="top",
                        ha="left", fontsize=7, color="0.3")
        ax.set_title(title, fontsize=10 if "\n" not in title else 9)
        ax.set_xlabel("epoch (all stages)", fontsize=8)
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_xlim(0.5, len(history) + 0.5)
        if len(history) <= 12:
            ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3, which="both")
    return fig


def _pair_drawer(history: list[dict[str, Any]], panels: list[_Panel], fractions: bool) -> Any:
    marker = "o" if len(history) <= 30 else None

    def draw(ax: Any, i: int, epochs: np.ndarray) -> str:
        p = panels[i]
        values = []
        for k, lab, style in ((p.train, "train", "-"), (p.val, "validation", "--")):
            if k is None:
                continue
            y = _series(history, k)
            values.append(y)
            ax.plot(epochs, y, style, marker=marker, ms=3, lw=1.4, label=lab)
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite)]
        if fractions:
            if finite.size and finite.min() >= 0 and finite.max() <= 1:
                ax.set_ylim(-0.02, 1.02)
        elif finite.size and np.all(finite > 0):
            _log_scale(ax)
        if len(values) > 1:
            ax.legend(fontsize=8, frameon=False)
        title = p.title
        if p.same_as:
            title += "\n(= " + ", ".join(p.same_as) + ")"
        return title

    return draw


def loss_curves(history: list[dict[str, Any]]) -> "Figure":
    """One subplot per loss term (``X`` and ``val_X`` together) against the epoch counted over all
    stages; dotted lines mark where the stage changes; log scale when every value is positive.
    Schedule values and accuracies are not loss terms (see the module docstring): they have figures
    of their own, :func:`schedule_curves` and :func:`accuracy_curves`."""
    if not history:
        raise ValueError("the training history is empty")
    panels = _panels(history_columns(history).losses, history)
    if not panels:
        raise ValueError("the training history has no loss terms")
    return _history_grid(history, len(panels), _pair_drawer(history, panels, fractions=False))


def accuracy_curves(history: list[dict[str, Any]]) -> "Figure":
    """One subplot per accuracy (training and validation together) on a linear 0..1 axis."""
    panels = _panels(history_columns(history).accuracies, history, merge_same=False) if history else []
    if not panels:
        raise ValueError("the training history has no accuracies")
    return _history_grid(history, len(panels), _pair_drawer(history, panels, fractions=True), ylabel="accuracy")


def schedule_curves(history: list[dict[str, Any]]) -> "Figure":
    """One subplot per schedule value (the learning rate, the KL weight β, ...): its value in each
    epoch (for β, the mean over the epoch's steps); linear axes from 0, except for a learning rate
    spanning more than a factor of 20 (log)."""
    keys = history_columns(history).schedules if history else []
    if not keys:
        raise ValueError("the training history has no schedule values")
    marker = "o" if len(history) <= 30 else None

    def draw(ax: Any, i: int, epochs: np.ndarray) -> str:
        k = keys[i]
        y = _series(history, k)
        ax.plot(epochs, y, "-", marker=marker, ms=3, lw=1.4, color="#55a868")
        finite = y[np.isfinite(y)]
        if term_name(k) == "lr" and finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
            _log_scale(ax)
        elif finite.size and finite.min() >= 0:
            ax.set_ylim(bottom=0, top=max(float(finite.max()) * 1.08, 1e-12))
        phase = k.rsplit("/", 1)[0] + ": " if "/" in k else ""
        return phase + _SCHEDULE_TITLES.get(term_name(k), term_name(k))

    return _history_grid(history, len(keys), draw)


def bar_chart(values: Any, labels: Sequence[str] | None = None, title: str = "", ylabel: str = "",
              xlabel: str = "") -> "Figure":
    """One bar per value (e.g. a per-dimension figure), labelled by ``labels`` or the index."""
    v = np.asarray(values, dtype=float).reshape(-1)
    n = len(v)
    fig = new_figure((max(4.0, 0.28 * n + 1.5), 3.2))
    ax = fig.subplots()
    ax.bar(np.arange(n), v, color="#4c72b0")
    names = [str(s) for s in labels] if labels is not None else [str(i) for i in range(n)]
    ax.set_xticks(np.arange(n), names, fontsize=7 if n > 20 else 8, rotation=90 if n > 40 else 0)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def confusion_matrix(counts: Any, classes: Sequence[str], title: str = "") -> "Figure":
    """A confusion matrix (rows: true class, columns: predicted), shaded by the share of each row,
    with the counts written in the cells (up to 20 classes)."""
    cm = np.asarray(counts, dtype=np.int64)
    k = len(cm)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    side = min(9.0, 1.5 + 0.45 * k)
    fig = new_figure((side + 0.8, side))
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    labels = [str(c) for c in classes]
    ax.set_xticks(range(k), labels, fontsize=8, rotation=90 if max(map(len, labels), default=0) > 3 else 0)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted class", fontsize=9)
    ax.set_ylabel("true class", fontsize=9)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
