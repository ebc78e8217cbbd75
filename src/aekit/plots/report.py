"""One self-contained HTML report of a run: metrics, reconstructions, loss curves, latent maps,
first-layer filters and the configuration, with every image inline (no external files).

A figure that cannot be drawn is logged as a warning and replaced by a short note, so writing
a report never fails a run (only failing to write the file itself raises).
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_text
from . import figures as F

log = logging.getLogger(__name__)

__all__ = ["write_report"]

MAX_LATENT_POINTS = 5000
N_RECONSTRUCTIONS = 10

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
.meta { color: #555; margin: 0.1em 0; }
nav { font-size: 0.9em; color: #555; margin: 1em 0; }
nav a { color: #2a5db0; text-decoration: none; margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { text-align: left; padding: 0.25em 1em 0.25em 0.4em; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, monospace; }
figure { margin: 0.8em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: 0.9em; }
.unavailable { color: #a33; font-style: italic; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; border-radius: 4px; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
""".strip()


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


def _metrics_html(metrics: dict[str, Any]) -> str:
    rows = _flatten(metrics or {})
    if not rows:
        return '<p class="caption">no metrics recorded</p>\n'
    body = []
    for k, v in rows:
        text, num = _fmt_number(v)
        cls = ' class="num"' if num else ""
        body.append(f"<tr><th>{_esc(k)}</th><td{cls}>{_esc(text)}</td></tr>")
    return "<table>\n" + "\n".join(body) + "\n</table>\n"


def _model_name(model: Any, config: dict | None) -> str:
    name = None
    if isinstance(config, dict) and isinstance(config.get("model"), dict):
        name = config["model"].get("name")
    name = name or getattr(model, "name", None)
    cls = type(model).__name__
    return f"{name} ({cls})" if name and name != cls else cls


def _n_params(model: Any) -> int | None:
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:  # noqa: BLE001
        return None


def _pick_split(data: Any, order: tuple[str, ...] = ("test", "val", "train")) -> tuple[str, np.ndarray, np.ndarray | None]:
    names = {"test": ("x_test", "y_test"), "val": ("x_val", "y_val"), "train": ("x_train", "y_train")}
    for s in order:
        xa, ya = names[s]
        x = getattr(data, xa, None)
        if x is not None and len(x):
            return s, x, getattr(data, ya, None)
    raise ValueError("the data has no examples")


_SPLIT_WORDS = {"test": "test", "val": "validation", "train": "training"}


def _header(title: str, model: Any, data: Any, config: dict | None) -> str:
    parts = [f"<h1>{_esc(title)}</h1>"]
    try:
        n = _n_params(model)
        cfg = getattr(model, "cfg", None)
        bits = [_model_name(model, config)]
        if n is not None:
            bits.append(f"{n:,} parameters")
        if getattr(cfg, "latent_dim", None) is not None:
            bits.append(f"latent dim {cfg.latent_dim}")
        if getattr(cfg, "likelihood", None):
            bits.append(f"{cfg.likelihood} likelihood")
        parts.append(f'<p class="meta"><b>Model:</b> {_esc(" · ".join(bits))}</p>')
    except Exception as e:  # noqa: BLE001
        log.warning("report: model summary unavailable: %s", _reason(e))
    try:
        sizes = []
        for s, attr in (("train", "x_train"), ("val", "x_val"), ("test", "x_test")):
            x = getattr(data, attr, None)
            if x is not None:
                sizes.append(f"{len(x):,} {s}")
        shape = "×".join(str(int(s)) for s in getattr(data, "input_shape", ()))
        src = getattr(data, "source", "") or "unknown source"
        parts.append(f'<p class="meta"><b>Data:</b> {_esc(src)} ({_esc(getattr(data, "kind", "?"))}, '
                     f'{_esc(shape)}; {_esc(", ".join(sizes))})</p>')
    except Exception as e:  # noqa: BLE001
        log.warning("report: data summary unavailable: %s", _reason(e))
    date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    parts.append(f'<p class="meta"><b>Date:</b> {_esc(date)}</p>')
    return "\n".join(parts) + "\n"


def _config_text(config: dict) -> str:
    try:
        import yaml

        return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)
    except Exception:  # noqa: BLE001
        return json.dumps(config, indent=2, default=str)


def _slug(text: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in s.split("-") if p) or "section"


def _first_layer_weight(model: Any) -> Any:
    enc = getattr(model, "encoder", None)
    layers = getattr(enc, "layers", None)
    if layers is None:
        return None
    try:
        first = layers[0]
    except (IndexError, TypeError):
        return None
    return getattr(first, "weight", None)


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


def write_report(path: Path, *, title: str, model: Any, data: Any, history: list[dict], metrics: dict,
                 config: dict | None = None, extra_sections: list[tuple[str, str]] | None = None) -> Path:
    """Write one self-contained HTML report of a run to ``path`` (atomically) and return the path.

    ``data`` is an :class:`aekit.data.Prepared`; ``history`` the trainer's rows; ``metrics`` a flat
    mapping of names to numbers; ``config`` the run's configuration (shown as YAML);
    ``extra_sections`` are (heading, HTML) pairs appended as they are (the HTML is trusted).
    """
    path = Path(path)
    sections: list[tuple[str, str]] = []

    sections.append(("Metrics", _metrics_html(metrics)))

    # reconstructions
    def recon_fig() -> Any:
        split, x, _ = _pick_split(data)
        x = np.asarray(x[:N_RECONSTRUCTIONS])
        return F.reconstructions(x, np.asarray(model.reconstruct(x)), n=N_RECONSTRUCTIONS)

    try:
        split_word = _SPLIT_WORDS[_pick_split(data)[0]]
        cap = f"The first {N_RECONSTRUCTIONS} {split_word} examples and their reconstructions (the decoder's mean)."
    except Exception:  # noqa: BLE001
        cap = None
    sections.append(("Reconstructions", _figure_html("reconstructions", recon_fig, cap)))

    # loss curves
    if history:
        stages = []
        for r in history:
            s = r.get("stage")
            if s is not None and (not stages or stages[-1] != s):
                stages.append(str(s))
        has_val = any(str(k).startswith("val_") for r in history for k in r)
        cap = f"{len(history)} epoch{'s' if len(history) != 1 else ''}" + \
            (f" over the stages {' → '.join(stages)}" if len(stages) > 1 else "") + \
            ("; solid: training, dashed: validation." if has_val else " (training loss).")
        sections.append(("Loss curves", _figure_html("loss curves", lambda: F.loss_curves(history), cap)))
    else:
        sections.append(("Loss curves", '<p class="caption">no training history (no epochs were run)</p>\n'))

    sections.append(("Latent map", _latent_section(model, data)))

    # filters: MLP-style first layers on image data only
    w = _first_layer_weight(model)
    reads_pixels = w is not None and getattr(w, "ndim", 2) == 2 and w.shape[1] >= int(np.prod(data.input_shape))
    if reads_pixels and getattr(data, "kind", None) == "images":
        def filt_fig() -> Any:
            wa = w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w)
            shape = tuple(getattr(model, "input_shape", None) or data.input_shape)
            # conditional encoders append label columns after the pixels: show the pixel part
            return F.filters(wa[:, : int(np.prod(shape))], shape, n=64)

        try:
            n_units = int(w.shape[0])
            cap = f"The first {min(64, n_units)} of {n_units} first-layer units' input weights, each scaled to its own range."
        except Exception:  # noqa: BLE001
            cap = None
        sections.append(("First-layer filters", _figure_html("first-layer filters", filt_fig, cap)))

    # the model family's own figures (samples, manifold grid, analogies, codes over the prior, ...)
    try:
        own = list(model.report_sections(data)) if hasattr(model, "report_sections") else []
    except Exception as e:  # a report never fails a run
        log.warning("report: model figures unavailable: %s", _reason(e))
        sections.append(("Model figures", f'<p class="unavailable">figure unavailable: {_esc(_reason(e))}</p>\n'))
        own = []
    for item in own:
        sections.append((item.heading, _figure_html(item.heading, lambda it=item: F.report_item(it), item.caption or None)))

    if config is not None:
        sections.append(("Configuration", f"<pre>{_esc(_config_text(config))}</pre>\n"))

    for heading, body in extra_sections or []:
        sections.append((str(heading), str(body)))

    # assemble
    used: set[str] = set()
    anchors = []
    for heading, _ in sections:
        a = _slug(heading)
        while a in used:
            a += "-x"
        used.add(a)
        anchors.append(a)
    nav = " ".join(f'<a href="#{a}">{_esc(h)}</a>' for a, (h, _) in zip(anchors, sections))
    body = "".join(f'<section id="{a}">\n<h2>{_esc(h)}</h2>\n{b}</section>\n' for a, (h, b) in zip(anchors, sections))
    try:
        from .. import __version__ as version  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        version = None
    foot = "written by aekit" + (f" {version}" if version else "")
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        f"<header>\n{_header(title, model, data, config)}</header>\n<nav>{nav}</nav>\n"
        f"<main>\n{body}</main>\n<footer>{_esc(foot)}</footer>\n</body>\n</html>\n"
    )
    atomic_write_text(path, doc)
    return path
