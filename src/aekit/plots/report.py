"""One self-contained HTML report of a run: metrics, reconstructions, loss curves (with accuracies
and schedules beside them), latent maps, first-layer filters, the networks' own figures (a conv
run's feature maps, a sequence run's error over time and per class: :mod:`.networks`), the model
family's own figures, the shape trace and the configuration, with every image inline (no external
files, no scripts).

``write_report`` assembles the page (header, navigation, sections, style); the HTML of the metrics,
latent-map and training-curve sections, and of a figure, comes from :mod:`.sections`.

A figure that cannot be drawn is logged as a warning and replaced by a short note, so writing
a report never fails a run (only failing to write the file itself raises).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_text
from . import figures as F
from .networks import network_sections, shape_trace_html
from .sections import (
    _SPLIT_WORDS,
    _esc,
    _figure_html,
    _history_sections,
    _latent_section,
    _metrics_html,
    _pick_split,
    _reason,
    _text_section,
)

log = logging.getLogger(__name__)

__all__ = ["write_report"]

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
td.text { font-family: ui-monospace, monospace; white-space: pre; }
mark { background: #ffd6d6; }
figure { margin: 0.8em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: 0.9em; }
.unavailable { color: #a33; font-style: italic; }
.warning { background: #fff4e5; border-left: 4px solid #e8a33d; padding: 0.5em 1em; margin: 0.8em 0; }
.warning ul { margin: 0.3em 0; padding-left: 1.2em; }
.notice { background: #eef4fb; border-left: 4px solid #2a5db0; padding: 0.5em 1em; margin: 0.8em 0; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; border-radius: 4px; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
""".strip()


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


def sections_html(sections: list[tuple[str, str]]) -> tuple[str, str]:
    """(the navigation links, the sections' HTML) of (heading, trusted HTML body) pairs, each
    section anchored by its heading's slug (made unique)."""
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
    return nav, body


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


def write_report(path: Path, *, title: str, model: Any, data: Any, history: list[dict], metrics: dict,
                 config: dict | None = None, extra_sections: list[tuple[str, str]] | None = None,
                 notice: str | None = None) -> Path:
    """Write one self-contained HTML report of a run to ``path`` (atomically) and return the path.

    ``data`` is an :class:`aekit.data.Prepared`; ``history`` the trainer's rows; ``metrics`` a
    mapping of names to numbers (lists of numbers become bar charts; ``warnings``, a list of
    sentences, a box; ``units``, a dict, a table); ``config`` the run's configuration (shown as
    YAML); ``extra_sections`` are (heading, HTML) pairs appended as they are (the HTML is trusted);
    ``notice`` is a sentence shown in a box under the title (e.g. what the report was built from).
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
    # conv and sequence runs: their own figures (a sequence run's series replace the reconstructions)
    net_recon, net_sections = network_sections(model, data)
    sections.append(("Reconstructions", net_recon if net_recon is not None else _figure_html("reconstructions", recon_fig, cap)))
    if getattr(data, "vocab", None):  # text: lines and their reconstructions as text
        sections.append(("Text reconstructions", _text_section(model, data)))

    sections.extend(_history_sections(history))

    sections.append(("Latent map", _latent_section(model, data)))

    sections.extend(net_sections)

    # filters: MLP-style first layers on image data only (a conv run's kernels are among net_sections)
    w = _first_layer_weight(model) if getattr(getattr(model, "cfg", None), "net", "mlp") not in ("conv", "rnn") else None
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

    trace = shape_trace_html(model)
    if trace is not None:
        sections.append(("Shape trace", trace))

    if config is not None:
        sections.append(("Configuration", f"<pre>{_esc(_config_text(config))}</pre>\n"))

    for heading, body in extra_sections or []:
        sections.append((str(heading), str(body)))

    # assemble
    nav, body = sections_html(sections)
    try:
        from .. import __version__ as version  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        version = None
    notice_html = f'<p class="notice">{_esc(notice)}</p>\n' if notice else ""
    foot = "written by aekit" + (f" {version}" if version else "")
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        f"<header>\n{_header(title, model, data, config)}{notice_html}</header>\n<nav>{nav}</nav>\n"
        f"<main>\n{body}</main>\n<footer>{_esc(foot)}</footer>\n</body>\n</html>\n"
    )
    atomic_write_text(path, doc)
    return path
