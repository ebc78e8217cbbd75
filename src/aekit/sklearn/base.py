"""What the three estimators share: parameters, validation, training through ``aekit.fit``,
persistence as plain data, and run folders.

Persistence: ``pickle``/``joblib`` of a fitted estimator store its parameters, its fitted plain
attributes, the resolved config (a dict) and the weights as safetensors bytes; unpickling rebuilds
the torch modules from those (no torch object is pickled). ``save(path)`` writes a run folder
(config.yaml, model.safetensors, and estimator.json for the estimator's own parameters and fitted
attributes) that ``aekit.load(path)`` also reads; ``load(path)`` reads it back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import AekitError
from ..io import atomic_write_json

# Estimator parameters that become aekit config keys of the same name (the others are the
# estimators' own, or mapped: random_state → seed, verbose → progress).
CONFIG_PARAMS = ("model", "net", "latent_dim", "hidden", "epochs", "batch_size", "lr")
TORCH_ATTRS = ("model_",)  # fitted attributes holding torch modules: rebuilt, never pickled


class AekitEstimator(BaseEstimator):
    """Parameters common to the estimators (scikit-learn convention: ``__init__`` stores them only).

    model          aekit preset (``aekit models``): ae, denoising-ae, vae, ...
    net            mlp | conv | rnn | auto (auto: mlp for table rows; conv / rnn with ``input_shape``)
    latent_dim     size of the code
    hidden         layer widths (None: the preset's)
    epochs, batch_size, lr
    input_shape    view each row as an example of this shape, e.g. (1, 28, 28) for images or
                   (T, C) for sequences (None: the row itself, a vector)
    options        any other aekit config keys, e.g. {"scale": "standard", "noise_level": 0.3}
    random_state   int for identical results on every fit; None draws a seed
    verbose        show training progress
    """

    def __init__(self, model: str = "ae", net: str = "auto", latent_dim: int = 8, hidden: list[int] | None = None,
                 epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, input_shape: tuple[int, ...] | None = None,
                 options: dict[str, Any] | None = None, random_state: int | None = None, verbose: bool = False):
        self.model = model
        self.net = net
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.input_shape = input_shape
        self.options = options
        self.random_state = random_state
        self.verbose = verbose

    # ---- validation --------------------------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=2 if reset else 1)
        return X

    def _rows_as_examples(self, X: np.ndarray) -> np.ndarray:
        """The 2-D rows as the model's examples (``input_shape``), float32."""
        X = np.asarray(X, dtype=np.float32)
        if self.input_shape is None:
            return X
        shape = tuple(int(s) for s in self.input_shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"input_shape={shape} holds {int(np.prod(shape))} values, but the rows have {X.shape[1]} features; "
                             "fix: give an input_shape whose product is the number of columns")
        return X.reshape(len(X), *shape)

    def _config_options(self) -> dict[str, Any]:
        opts = dict(self.options or {})
        clash = sorted(set(opts) & {*CONFIG_PARAMS, "seed", "quiet", "name"})
        if clash:
            raise ValueError(f"options {clash} are estimator parameters (or chosen by the estimator); "
                             "fix: set them as parameters, e.g. AutoencoderTransformer(latent_dim=4)")
        for key in CONFIG_PARAMS[1:]:
            value = getattr(self, key)
            if value is not None:
                opts[key] = list(value) if key == "hidden" else value
        return opts

    def _seed(self) -> int:
        if self.random_state is None:
            return int(check_random_state(None).randint(0, 2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _train(self, X: np.ndarray, seed: int | None = None) -> Any:
        """``aekit.fit`` on the rows (unsupervised), as this estimator's parameters say; an aekit
        error becomes a ValueError (scikit-learn's convention for bad parameters and data)."""
        from ..fitting import fit

        try:
            return fit(self._rows_as_examples(X), None, self.model, progress=bool(self.verbose),
                       seed=self._seed() if seed is None else seed, **self._config_options())
        except AekitError as e:
            raise ValueError(str(e)) from None

    def _model_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self._rows_as_examples(self._validate(X, reset=False))

    @staticmethod
    def _like(out: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``out`` in the float dtype of the validated input (float32 or float64)."""
        return np.asarray(out).astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=False)

    # ---- persistence ---------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in TORCH_ATTRS}
        for name in TORCH_ATTRS:
            if name in self.__dict__:
                net = self.__dict__[name]
                state[f"{name}_state"] = {"config": net.run_config.to_dict(), "weights": _weights_bytes(net)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in TORCH_ATTRS:
            saved = state.pop(f"{name}_state", None)
            if saved is not None:
                state[name] = _rebuild(saved["config"], saved["weights"])
        self.__dict__.update(state)

    def save(self, path: str | Path) -> Path:
        """Write a run folder: config.yaml, model.safetensors (``aekit.load`` reads them) and
        estimator.json (this estimator's parameters and fitted attributes)."""
        from ..run import save_weights

        check_is_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model_.run_config.dump(path / "config.yaml")
        save_weights(self.model_, path / "model.safetensors")
        fitted = {k: _plain(v) for k, v in self.__dict__.items() if k.endswith("_") and k not in TORCH_ATTRS}
        atomic_write_json(path / "estimator.json", {"estimator": type(self).__name__, "params": _plain(self.get_params()),
                                                    "fitted": fitted})
        return path

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """An estimator written by :meth:`save`."""
        from ..run import load as load_run
        from ..runconfig import load_config

        path = Path(path)
        meta_path = path / "estimator.json"
        if not meta_path.exists():
            raise AekitError(f"{path} holds no estimator.json", f"give a folder written by {cls.__name__}.save(path)")
        meta = json.loads(meta_path.read_text())
        if meta.get("estimator") != cls.__name__:
            raise AekitError(f"{path} holds a {meta.get('estimator')}, not a {cls.__name__}", f"load it with {meta.get('estimator')}.load")
        params = meta["params"]
        if params.get("input_shape") is not None:
            params["input_shape"] = tuple(params["input_shape"])
        est = cls(**params)
        for k, v in meta["fitted"].items():
            setattr(est, k, _unplain(v))
        net = load_run(path)
        net.run_config = load_config(path)
        est.model_ = net
        return est


def _weights_bytes(net: torch.nn.Module) -> bytes:
    return st_save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()})


def _rebuild(config: dict[str, Any], weights: bytes) -> torch.nn.Module:
    from ..models.loading import build_from_dict, load_weights
    from ..runconfig import build_config

    net = build_from_dict(config["model"])
    load_weights(net, st_load(weights), Path("<pickled estimator>"))
    net.eval()
    net.run_config = build_config([], base={k: v for k, v in config.items() if k in ("data", "model", "train")})
    net.run_config.notes = dict(config.get("notes") or {})
    return net


def _plain(v: Any) -> Any:
    """JSON-ready: arrays as {"__array__": list, "dtype": str}."""
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _unplain(v: Any) -> Any:
    if isinstance(v, dict) and "__array__" in v:
        return np.asarray(v["__array__"], dtype=v["dtype"])
    return v


__all__ = ["AekitEstimator"]
