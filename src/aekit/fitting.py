"""Training from in-memory arrays: ``aekit.fit(X, y=None, model="ae", **options) -> model``.

The same config, model, resolution and Trainer as ``aekit train``; only the data differ: the rows
given, read by the rules of a file (:func:`aekit.data.from_arrays`), all of them for training. No
test split is carved off (``test_fraction`` 0) and no validation split is held out unless asked
for: ``val_fraction=…``, or ``early_stopping=N``, which then takes the command line's 10%. Without
``out`` nothing is written (checkpoints, when early stopping needs its best weights, go to a
temporary folder); with ``out`` the run folder is written as ``aekit train`` writes it, and its
config says ``data.name: <arrays>``.

    model = aekit.fit(X, model="vae", latent_dim=8, epochs=20)
    Z = model.encode(X)
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .errors import AekitError

ARRAY_DEFAULTS = {"test_fraction": 0.0}


def route_options(model: str | None, data: str | None, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One config layer from flat keyword options: each key goes to the section that has it (the
    model's first; an unknown key goes to the model section, which reports it with suggestions)."""
    from .config import DataConfig, TrainConfig
    from .models import get_spec

    name = model or "ae"
    model_keys = set(get_spec(name).config_cls.__dataclass_fields__)
    sections = {"data": set(DataConfig.__dataclass_fields__), "train": set(TrainConfig.__dataclass_fields__)}
    layer: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    if model is not None:
        layer["model"]["name"] = model
    if data is not None:
        layer["data"]["name"] = data
    for k, v in options.items():
        where = [s for s, keys in (("model", model_keys), *sections.items()) if k in keys]
        layer[where[0] if where else "model"][k] = v
    return layer


def fit(X: Any, y: Any = None, model: str = "ae", *, out: str | Path | None = None, progress: bool = True,
        **options: Any) -> Any:
    """Train ``model`` on the rows of ``X`` (labels ``y``: class values of any kind, −1 for unlabelled
    rows of the semi-supervised families) and return the trained model in eval mode on the CPU.

    ``options`` are config keys of any section (``latent_dim=8``, ``epochs=10``, ``net="conv"``,
    ``scale="standard"``, ``seed=0`` …), as for :func:`aekit.train_run`. The returned model carries
    ``history`` (one dict per epoch) and ``run_config`` (the resolved configuration; its
    ``data.classes`` maps class indices back to the label values of ``y``).
    """
    from .data import ARRAYS, from_arrays, prepare
    from .run import build_for_data, make_trainer, train
    from .runconfig import build_config

    for key in ("name", "data", "test_data"):
        if key in options:
            raise AekitError(f"aekit.fit trains on the arrays it is given; option {key!r} names other data",
                             "drop it, or train on a named set or a file with aekit.train_run(model, data, ...)")
    layer = route_options(model, ARRAYS, options)
    for k, v in ARRAY_DEFAULTS.items():
        layer["data"].setdefault(k, v)
    if "val_fraction" not in layer["data"]:
        layer["data"]["val_fraction"] = 0.1 if layer["train"].get("early_stopping") else 0.0
    cfg = build_config([layer])
    if not progress:
        cfg.train.quiet = True
    raw = from_arrays(X, y, cfg.data.kind)
    data = prepare(cfg.data, cfg.train.seed, allow_unlabelled=type(cfg.model).label_use == "partial", raw=raw)
    if out is not None:
        from .run import load

        return _with(load(train(cfg, out, progress=progress, data=data)), history=_history(Path(out)), run_config=cfg)
    with tempfile.TemporaryDirectory(prefix="aekit-fit-") as tmp:
        net = build_for_data(cfg, data)
        ckpt = Path(tmp) if cfg.train.early_stopping else None
        trainer, arrays = make_trainer(cfg, data, net, ckpt, progress)
        history = trainer.fit(arrays["train"], data.y_train, arrays["val"], data.y_val)
    net.cpu().eval()
    return _with(net, history=history, run_config=cfg)


def _history(run: Path) -> list[dict[str, Any]]:
    """The run's history.csv as the Trainer's rows (numbers as int or float, empty cells dropped)."""
    import csv

    def value(v: str) -> Any:
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v

    with open(run / "history.csv", newline="") as f:
        return [{k: value(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _with(model: Any, **attrs: Any) -> Any:
    for k, v in attrs.items():
        setattr(model, k, v)
    return model


__all__ = ["fit", "route_options"]
