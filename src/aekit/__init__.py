"""aekit: autoencoders, the whole lecture family, with one trainer.

    import aekit
    run = aekit.train_run(model="ae", data="mnist-sample", epochs=5, out="runs/demo")
    model = aekit.load(run)
    codes = model.encode(x)          # NumPy in, NumPy out
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

from .errors import AekitError  # noqa: E402
from .run import load, load_config  # noqa: E402


def train_run(model: str = "ae", data: str = "mnist-sample", out: str | Path = "runs/run", resume: bool = False,
              progress: bool = False, **options: Any) -> Path:
    """Train a model and write its run folder; ``options`` are config keys of any section.

    ``aekit.train_run("denoising-ae", "mnist", epochs=10, latent_dim=16, noise_level=0.5)``
    """
    from .config import SECTIONS, DataConfig, TrainConfig, build_config
    from .models import get_spec
    from .run import train

    import dataclasses

    spec = get_spec(model)
    model_keys = {f.name for f in dataclasses.fields(spec.config_cls)}
    data_keys = {f.name for f in dataclasses.fields(DataConfig)}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    layer: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    layer["model"]["name"] = model
    layer["data"]["name"] = data
    for k, v in options.items():
        section = "model" if k in model_keys else "data" if k in data_keys else "train" if k in train_keys else "model"
        layer[section][k] = v
    cfg = build_config([layer])
    return train(cfg, out, resume=resume, progress=progress)


__all__ = ["__version__", "AekitError", "load", "load_config", "train_run"]
