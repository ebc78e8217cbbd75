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
from .run import load  # noqa: E402
from .runconfig import load_config  # noqa: E402


def train_run(model: str | None = None, data: str | None = None, out: str | Path = "runs/run", resume: bool = False,
              progress: bool = True, **options: Any) -> Path:
    """Train a model and write its run folder; ``options`` are config keys of any section.

    ``aekit.train_run("denoising-ae", "mnist", epochs=10, latent_dim=16, noise_level=0.5)``

    New runs default to ``model="ae"`` on ``data="mnist-sample"``. With ``resume=True`` the run in
    ``out`` continues from its last checkpoint: its saved config, with the options given layered on
    top (as ``aekit train --resume`` does); ``epochs`` is the new total. ``progress`` shows the same
    progress as the command line (a bar on a terminal or in a notebook, a line per epoch otherwise).
    """
    from .config import DataConfig, TrainConfig
    from .models import get_spec
    from .run import train
    from .runconfig import build_config, read_saved, resume_config

    saved = read_saved(out, resume=True) if resume else None
    name = model or (str((saved or {}).get("model", {}).get("name", "ae")))
    model_keys = set(get_spec(name).config_cls.__dataclass_fields__)
    sections = {"data": set(DataConfig.__dataclass_fields__), "train": set(TrainConfig.__dataclass_fields__)}
    layer: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    if model is not None:
        layer["model"]["name"] = model
    if data is not None:
        layer["data"]["name"] = data
    for k, v in options.items():
        where = [s for s, keys in (("model", model_keys), *sections.items()) if k in keys]
        layer[where[0] if where else "model"][k] = v  # an unknown key is reported by the model section
    if saved is not None:
        cfg = resume_config(saved, [layer])
    else:
        layer["model"].setdefault("name", "ae")
        cfg = build_config([layer])
    return train(cfg, out, resume=resume, progress=progress)


__all__ = ["__version__", "AekitError", "load", "load_config", "train_run"]
