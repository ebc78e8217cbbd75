"""The HTML of the report's sections, each from a run's results: the metrics (scalars in a table;
list-valued figures such as ``test_kl_per_dim`` as bar charts beneath it, ``warnings`` (a list of
sentences) in a box above it and ``units`` (what each figure is measured in) as a small table), the
latent maps and the training curves, with every figure drawn to an inline PNG by ``_figure_html``;
for text (data with a vocabulary) a table of lines and their reconstructions as text.
:mod:`.report` puts them on one page; they live apart so that the page reads in one sitting.
"""
from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import figures as F

log = logging.getLogger("aekit.plots.report")  # the report's warnings keep one logger name

MAX_LATENT_POINTS = 5000


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _reason(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _figure_html(name: str, make: Callable[[], Any], caption: str | None = None) -> str:
    """Draw ``make()`` into an inline PNG; on any error, a note (and a logged warning)."""
    try:
        fig = make()
        b64 = F.fig_to_base64_png(fig)
    except Exception as e:  # a report never fails a run
        log.warning("report: figure %r unavailable: %s", name, _reason(e))
        return f'<p class="unavailable">figure unavailable: {_esc(_reason(e))}</p>\n'
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_esc(name)}" src="data:image/png;base64,{b64}">{cap}</figure>\n'


def _fmt_number(v: Any) -> tuple[str, bool]:
    """(text, is_number) for a metric value."""
    if hasattr(v, "item") and callable(v.item) and getattr(v, "size", 1) == 1:
        try:
            v = v.item()
        except Exception:  # noqa: BLE001
            pass
    if v is None:
        return "—", False
    if isinstance(v, bool):
        return ("yes" if v else "no"), False
    if isinstance(v, int):
        return f"{v:,}", True
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v), True
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.4e}", True
        if v == int(v):
            return f"{int(v):,}", True
        return f"{v:.5g}", True
    return str(v), False


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def _is_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim >= 1)


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))


# what a list-valued figure holds, by its name without the split prefix
_LIST_NOTES = {
    "kl_per_dim": "KL(q(z_i | x) ‖ p(z_i)) per example, in nats: a dimension near 0 carries no information about x (unused).",
}


def _list_figure(key: str, values: Any) -> str:
    """A list-valued metric: a bar chart (one bar per entry) for numbers, else a bulleted list."""
    items = list(np.asarray(values).reshape(-1)) if isinstance(values, np.ndarray) else list(values)
    head = f"<h3>{_esc(key)}</h3>\n"
    if not items:
        return head + '<p class="caption">empty list</p>\n'
    if not all(_is_number(v) for v in items):
        return head + "<ul>\n" + "".join(f"<li>{_esc(_fmt_number(v)[0])}</li>\n" for v in items) + "</ul>\n"
    split, _, name = key.partition("_")
    split_word = _SPLIT_WORDS.get(split)
    name = name if split_word else key
    n = len(items)
    per_dim = "per_dim" in key
    labels = [f"z{i + 1}" for i in range(n)] if per_dim else None
    what = (f"One bar per latent dimension ({', '.join(labels) if n <= 4 else f'z1 … z{n}'})" if labels
            else f"One bar per entry (index {', '.join(map(str, range(n))) if n <= 4 else f'0 … {n - 1}'})")
    cap = what + (f", on the {split_word} split." if split_word else ".")
    if name in _LIST_NOTES:
        cap += " " + _LIST_NOTES[name]
    vals = np.array([np.nan if v is None else float(v) for v in items])
    return head + _figure_html(key, lambda: F.bar_chart(vals, labels, key, name, "latent dimension" if per_dim else "index"), cap)


def _metrics_html(metrics: dict[str, Any]) -> str:
    """Warnings in a box, the scalars in a table, each list as a bar chart and the units."""
    metrics = dict(metrics or {})
    warnings = metrics.pop("warnings", None)
    units = metrics.pop("units", None) if isinstance(metrics.get("units"), dict) else None
    if warnings is not None and not _is_list(warnings):
        warnings = [warnings]
    rows = _flatten(metrics)
    scalars = [(k, v) for k, v in rows if not _is_list(v)]
    lists = [(k, v) for k, v in rows if _is_list(v)]
    out: list[str] = []
    if warnings:
        out.append('<div class="warning" role="note"><b>Warnings</b>\n<ul>\n'
                   + "".join(f"<li>{_esc(w)}</li>\n" for w in warnings) + "</ul>\n</div>\n")
    if not scalars and not lists:
        out.append('<p class="caption">no metrics recorded</p>\n')
    if scalars:
        body = []
        for k, v in scalars:
            text, num = _fmt_number(v)
            cls = ' class="num"' if num else ""
            body.append(f"<tr><th>{_esc(k)}</th><td{cls}>{_esc(text)}</td></tr>")
        out.append("<table>\n" + "\n".join(body) + "\n</table>\n")
    for k, v in lists:
        out.append(_list_figure(k, v))
    if units:
        body = [f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in _flatten(units)]
        out.append("<h3>Units</h3>\n<table>\n<tr><th>figures</th><th>measured in</th></tr>\n" + "\n".join(body) + "\n</table>\n")
    return "".join(out)


def _pick_split(data: Any, order: tuple[str, ...] = ("test", "val", "train")) -> tuple[str, np.ndarray, np.ndarray | None]:
    names = {"test": ("x_test", "y_test"), "val": ("x_val", "y_val"), "train": ("x_train", "y_train")}
    for s in order:
        xa, ya = names[s]
        x = getattr(data, xa, None)
        if x is not None and len(x):
            return s, x, getattr(data, ya, None)
    raise ValueError("the data has no examples")


_SPLIT_WORDS = {"test": "test", "val": "validation", "train": "training"}


N_TEXT_LINES = 8


def _marked(text: str, truth: str) -> str:
    """``text`` escaped, its characters that differ from ``truth`` (position by position) in <mark>."""
    from itertools import groupby

    same = [i < len(truth) and c == truth[i] for i, c in enumerate(text)]
    out, i = [], 0
    for ok, run in groupby(same):
        n = len(list(run))
        part = _esc(text[i: i + n])
        out.append(part if ok else f"<mark>{part}</mark>")
        i += n
    return "".join(out)


def _text_section(model: Any, data: Any, n: int = N_TEXT_LINES) -> str:
    """Text data (``data.vocab``): the first ``n`` lines of a split and their reconstructions decoded
    to text with the run's vocabulary (argmax per character, to the input line's length)."""
    from ..data.base import series_lengths
    from ..data.text import decode_lengths, decode_onehot

    try:
        split, x, _ = _pick_split(data)
        x = np.asarray(x[:n])
        vocab = list(data.vocab)
        inputs = decode_onehot(x, vocab)
        outputs = decode_lengths(np.asarray(model.reconstruct(x)), vocab, series_lengths(x))
    except Exception as e:  # a report never fails a run
        log.warning("report: text reconstructions unavailable: %s", _reason(e))
        return f'<p class="unavailable">text reconstructions unavailable: {_esc(_reason(e))}</p>\n'
    hits = sum(a == b for s, r in zip(inputs, outputs) for a, b in zip(s, r))
    total = sum(len(s) for s in inputs)
    rows = []
    for i, (s, r) in enumerate(zip(inputs, outputs)):
        ok = sum(a == b for a, b in zip(s, r))
        rows.append(f'<tr><td class="num">{i}</td><td class="text">{_esc(s)}</td><td class="text">{_marked(r, s)}</td>'
                    f'<td class="num">{ok}/{len(s)}</td></tr>')
    cap = (f"The first {len(inputs)} {_SPLIT_WORDS[split]} lines and their reconstructions, decoded with the run's vocabulary "
           f"({len(vocab)} characters): the most likely character at each step, to the input line's length; characters "
           f"that differ from the input are marked. {hits} of {total} characters right here"
           f" ({hits / max(total, 1):.1%}); the metrics give the figure over the whole split ({split}_char_accuracy).")
    return ('<table class="text-lines">\n<tr><th>#</th><th>input</th><th>reconstruction</th><th>right</th></tr>\n'
            + "\n".join(rows) + f'\n</table>\n<p class="caption">{_esc(cap)}</p>\n')


def _latent_section(model: Any, data: Any) -> str:
    out: list[str] = []
    ctx: dict[str, Any] = {}

    def codes() -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None]:
        if "codes" not in ctx:
            split, x, y = _pick_split(data)
            idx = np.arange(len(x))
            if len(x) > MAX_LATENT_POINTS:
                idx = np.sort(np.random.default_rng(0).choice(len(x), MAX_LATENT_POINTS, replace=False))
            z = np.asarray(model.encode(np.asarray(x[idx])))
            ctx["codes"] = (split, idx, z.reshape(len(z), -1), None if y is None else np.asarray(y)[idx])
        return ctx["codes"]

    def by_label() -> Any:
        split, idx, z, y = codes()
        return F.latent_map(z, y, f"codes of {len(z):,} {_SPLIT_WORDS[split]} examples", label_name="label")

    caption = None
    try:
        split, idx, z, y = codes()
        d = z.shape[1]
        caption = f"Codes of {len(z):,} {_SPLIT_WORDS[split]} examples"
        caption += ", coloured by label." if y is not None else "."
        if d > 2:
            caption += f" The codes are {d}-dimensional: shown are their first two principal components (PCA)."
        elif d == 1:
            caption += " The codes are 1-dimensional: the vertical axis is random jitter."
    except Exception:  # noqa: BLE001  (by_label reports the error as the figure's note)
        pass
    out.append(_figure_html("latent map", by_label, caption))

    extras = getattr(data, "extras", None) or {}
    if "coords" in extras:
        def by_coords() -> Any:
            split, idx, z, _ = codes()
            c = extras["coords"]
            if isinstance(c, dict):  # per split: {"train": ..., "val": ..., "test": ...}
                c = c.get(split)
            elif isinstance(c, (tuple, list)):  # (train, test) of a data set split off its training data
                if split == "val" or len(c) != 2:
                    raise ValueError(f"true coordinates are not known for the {_SPLIT_WORDS[split]} split")
                c = c[1] if split == "test" else c[0]
            if c is None:
                raise ValueError(f"true coordinates are not known for the {_SPLIT_WORDS[split]} split")
            c = np.asarray(c)
            n_split = len(_pick_split(data)[1])
            if len(c) != n_split:
                raise ValueError(f"{len(c)} true coordinates for {n_split} examples")
            c = c.reshape(len(c), -1)[idx, 0]
            return F.latent_map(z, c, "codes coloured by the first true coordinate", continuous=True,
                                label_name="true coordinate 1", cmap="viridis")

        out.append("<h3>Coloured by the true manifold coordinate</h3>\n")
        out.append(_figure_html("latent map (true coordinates)", by_coords,
                                "The same codes, coloured by the data's first intrinsic coordinate (position along the manifold)."))
    return "".join(out)


def _history_sections(history: list[dict]) -> list[tuple[str, str]]:
    """Loss curves; accuracies and schedules (learning rate, β) each in a section of their own."""
    if not history:
        return [("Loss curves", '<p class="caption">no training history (no epochs were run)</p>\n')]
    stages: list[str] = []
    for r in history:
        s = r.get("stage")
        if s is not None and (not stages or stages[-1] != s):
            stages.append(str(s))
    n = len(history)
    over = f"{n} epoch{'s' if n != 1 else ''}" + (f" over the stages {' → '.join(stages)}" if len(stages) > 1 else "")
    try:
        cols = F.history_columns(history)
    except Exception as e:  # noqa: BLE001  (a report never fails a run)
        log.warning("report: training history unreadable: %s", _reason(e))
        cols = None

    def style(keys: list[str] | None) -> str:
        has_val = any(str(k).startswith("val_") for k in (keys if keys is not None else {k for r in history for k in r}))
        return "; solid: training, dashed: validation." if has_val else " (training)."

    cap = over + style(cols.losses if cols is not None else None)
    if cols is not None and "lr" in cols.schedules and not F.has_schedules(history):
        lr = history[-1].get("lr")
        phases = any("/" in k for k in cols.losses)
        if lr is not None:
            cap += f" Learning rate {_fmt_number(lr)[0]} throughout" + (" (the first optimiser's)." if phases else ".")
    out = [("Loss curves", _figure_html("loss curves", lambda: F.loss_curves(history), cap))]
    if cols is not None and cols.accuracies:
        out.append(("Accuracies", _figure_html("accuracies", lambda: F.accuracy_curves(history),
                                               over + style(cols.accuracies) + " Fractions of examples, on a linear 0..1 axis.")))
    if cols is not None and F.has_schedules(history):
        what = []
        if "lr" in cols.schedules:
            what.append("the learning rate of the first optimiser" if any("/" in k for k in cols.losses) else "the learning rate")
        weights = [k for k in cols.schedules if k != "lr"]
        if weights:
            what.append(f"{', '.join(weights)} as {'its' if len(weights) == 1 else 'their'} mean over the epoch's steps")
        out.append(("Schedules", _figure_html("schedules", lambda: F.schedule_curves(history),
                                              f"{over}: the values of the schedules in each epoch — {'; '.join(what)}.")))
    return out
