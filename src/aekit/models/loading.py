"""A trained model from a run folder, for the library and for models that build on other runs
(M1+M2 on a VAE; fine-tuning a pretrained encoder): config.yaml's model section and the weights,
nothing else, and nothing pickled."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..config import load_yaml

from ..errors import AekitError
from ..io import load_state
from ..nets.conv import OFFSET
from .registry import config_from_dict, get_spec


def build_from_dict(values: dict[str, Any]) -> Any:
    """An untrained model from a saved model section ({"name": preset, key: value, ...})."""
    values = dict(values)
    name = values.pop("name", "ae")
    return get_spec(name).build(config_from_dict(name, values))


def read_run_config(run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """A run folder's config.yaml as a mapping; an error naming the folder when it is not a run."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        if resume:
            raise AekitError(f"--resume: {run_dir} is not a run folder (no config.yaml)",
                             f"train into {run_dir} without --resume first, or give the folder of the run to continue")
        raise AekitError(f"{run_dir} is not a run folder (no config.yaml)", "give the folder that `aekit train --out` wrote")
    return load_yaml(run_dir / "config.yaml")


def model_section(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.yaml"
    model = read_run_config(run_dir).get("model")
    if not isinstance(model, dict):
        raise AekitError(f"{path} has no model section", "restore the run's config.yaml")
    return model


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """``model.load_state_dict(state)``, with an error naming the tensors that do not fit."""
    own = model.state_dict()
    # a conv decoder's output offset is newer than some saved runs: it loads as zero, their behaviour
    missing = sorted(k for k in set(own) - set(state) if not k.endswith("." + OFFSET))
    extra = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or extra or wrong:
        parts = [f"{len(missing)} missing ({', '.join(missing[:3])})" if missing else "",
                 f"{len(extra)} unexpected ({', '.join(extra[:3])})" if extra else "",
                 "shapes differ: " + ", ".join(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in wrong[:3]) if wrong else ""]
        raise AekitError(f"{source} does not fit the model its config describes: " + "; ".join(p for p in parts if p),
                         "the weights and config.yaml come from different runs: restore the run's own files")
    model.load_state_dict(state)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu", checkpoint: str | None = None) -> Any:
    """The trained model of ``run_dir`` in eval mode: model.safetensors, or with ``checkpoint``
    ("last", "best") that checkpoint's weights (a run still training, or interrupted)."""
    run_dir = Path(run_dir)
    model = build_from_dict(model_section(run_dir))
    if checkpoint:
        path = run_dir / "checkpoints" / f"{checkpoint}.safetensors"
        state = load_state(path)["model"]
    else:
        path = run_dir / "model.safetensors"
        if not path.exists():
            raise AekitError(f"{path} does not exist",
                             "the run has not finished: load its last checkpoint (checkpoint='last'), or `aekit train --resume` it")
        try:
            state = load_file(str(path))
        except Exception as e:  # safetensors' own error types for damaged files
            raise AekitError(f"{path} is unreadable ({e})", "the file is corrupt: retrain or restore it") from None
    load_weights(model, state, path)
    return model.to(device).eval()
