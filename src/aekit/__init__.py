"""aekit: autoencoders, the whole lecture family, with one trainer.

    import aekit
    run = aekit.train_run(model="ae", data="mnist-sample", epochs=5, out="runs/demo")
    model = aekit.load(run)
    codes = model.encode(x)          # NumPy in, NumPy out
    model = aekit.fit(X, model="vae", latent_dim=8, epochs=20)   # in-memory arrays, no run folder
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

from .errors import AekitError  # noqa: E402
from .export import export_onnx  # noqa: E402
from .fitting import fit  # noqa: E402
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
    from .fitting import route_options
    from .run import train
    from .runconfig import build_config, read_saved, resume_config

    saved = read_saved(out, resume=True) if resume else None
    name = model or (str((saved or {}).get("model", {}).get("name", "ae")))
    layer = route_options(name, data, options)
    if model is None:
        del layer["model"]["name"]  # a resume keeps the saved model
    if saved is not None:
        cfg = resume_config(saved, [layer])
    else:
        layer["model"].setdefault("name", "ae")
        cfg = build_config([layer])
    return train(cfg, out, resume=resume, progress=progress)


__all__ = ["__version__", "AekitError", "export_onnx", "fit", "load", "load_config", "train_run"]
