"""What a run takes from its data: the input shape and range, the ``auto`` likelihood, the classes.

Each choice made for the user is written to the run config's ``notes`` (saved in config.yaml) and
logged, with its reason.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .config import check_unused
from .errors import AekitError
from .nets import auto_net, default_hidden

log = logging.getLogger("aekit")


def auto_likelihood(x: np.ndarray, kind: str) -> tuple[str, str]:
    """(likelihood, reason) for ``likelihood=auto``: Bernoulli only for binary data or for images
    in [0, 1] — not for any data that happens to lie in [0, 1] (min-max-scaled tables, the swiss roll);
    categorical for one-hot sequences (characters). NaN (sequence padding) is left out."""
    if kind == "sequences":
        if x.ndim == 3 and x.shape[2] > 1:
            steps = x.reshape(-1, x.shape[2])
            steps = steps[~np.isnan(steps).any(1)]
            if len(steps) and np.all((steps == 0) | (steps == 1)) and np.all(steps.sum(1) == 1):
                return "categorical", f"one-hot sequences ({x.shape[2]} categories)"
        x = x[~np.isnan(x)]
    lo, hi = float(np.min(x)), float(np.max(x))
    if np.all((x == 0) | (x == 1)):
        return "bernoulli", "binary data (every value is 0 or 1)"
    if kind == "images" and lo >= 0.0 and hi <= 1.0:
        return "bernoulli", "images with values in [0, 1] (grey levels read as probabilities)"
    why = f"{kind} with values in [{lo:.4g}, {hi:.4g}]"
    return "gaussian", why + (": not binary, and not images" if kind != "images" else ": outside [0, 1]")


def resolve_model_config(cfg: Any, data: Any, x_scaled: np.ndarray) -> None:
    """Fill ``cfg.model`` (a RunConfig's) from the prepared data; ``x_scaled``: training data in model space."""
    from .models import get_spec

    m = cfg.model
    m.input_shape = list(data.input_shape)
    lo, hi = float(np.nanmin(x_scaled)), float(np.nanmax(x_scaled))
    m.input_range = [lo, hi]
    given = cfg.given.get("model", set())
    if m.net == "auto":
        m.net, why = auto_net(data.input_shape, type(m).networks)
        cfg.notes["net"] = f"auto → {m.net}: {why}"
        log.info("network: %s", cfg.notes["net"])
        if m.net != "mlp" and "hidden" not in given:
            m.hidden = default_hidden(m.net)  # a preset's widths are its MLP's
    if m.likelihood == "auto":
        m.likelihood, why = auto_likelihood(x_scaled, data.kind)
        cfg.notes["likelihood"] = f"auto → {m.likelihood}: {why}"
        log.info("likelihood: %s", cfg.notes["likelihood"])
    if "net" in cfg.notes or "likelihood" in cfg.notes:  # keys without effect under the resolved values
        defaults = get_spec(cfg.model_name).make_config(likelihood=m.likelihood, net=m.net)
        check_unused(m, defaults, "model", given)
    if data.kind == "sequences" and m.net != "rnn" and np.isnan(x_scaled).any():
        raise AekitError(f"{data.source} holds sequences of different lengths (padded with NaN); the {m.net} network reads fixed-size inputs",
                         "use --net rnn, which reads each sequence to its own length")
    if hasattr(m, "n_classes"):
        if data.y_train is None:
            raise AekitError(f"the model {cfg.model_name} needs labels, but {data.source} has none",
                             "use a labelled data set (for a CSV, --label-column), or an unconditional model such as vae")
        m.n_classes = len(data.classes)
    if m.likelihood == "bernoulli" and (lo < 0.0 or hi > 1.0):
        raise AekitError(f"a Bernoulli likelihood needs values in [0, 1], but the data range is [{lo:.4g}, {hi:.4g}]",
                         "use --likelihood gaussian or --scale minmax")
