"""Generation and latent-space walks that work for any model with ``encode``/``decode``.

- ``GMMSampler``: a Gaussian mixture fitted to the aggregate posterior (the codes of the training
  data); lets models without a prior (plain AEs) generate, and often sharpens VAE samples.
  Saved as JSON next to the run, never pickled.
- ``interpolate``: linear or spherical paths between the codes of two inputs.
- The "learned manifold" lattice for 2-D codes is the prior's: ``Prior.lattice`` (parts/priors.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from ..io import atomic_write_json


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between vectors ``a`` and ``b`` at fractions ``t`` (shape (T,))."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = np.clip(np.dot(a, b) / max(na * nb, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    t = np.asarray(t, np.float64)[:, None]
    if omega < 1e-6:  # (nearly) parallel: slerp is linear
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolate(model: Any, x_from: np.ndarray, x_to: np.ndarray, steps: int = 10, method: str = "linear") -> np.ndarray:
    """Decoded path from ``x_from`` to ``x_to`` (both single examples): (steps, *input_shape)."""
    if steps < 2:
        raise AekitError(f"interpolation needs at least 2 steps, got {steps}")
    z = model.encode(np.stack([np.asarray(x_from, np.float32), np.asarray(x_to, np.float32)]))
    t = np.linspace(0.0, 1.0, steps)
    if method == "linear":
        path = (1 - t)[:, None] * z[0] + t[:, None] * z[1]
    elif method in ("spherical", "slerp"):
        path = slerp(z[0], z[1], t)
    else:
        raise AekitError(f"unknown interpolation {method!r}", "use linear or spherical")
    return np.asarray(model.decode(path.astype(np.float32)))


@dataclass
class GMMSampler:
    """A Gaussian mixture over codes: fit on training codes, sample codes, decode them."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray  # full (k, d, d)
    key: dict[str, Any] | None = None  # what it was fitted for (weights' hash, seed): a cache checks it

    @classmethod
    def fit(cls, codes: np.ndarray, n_components: int = 10, seed: int = 0) -> "GMMSampler":
        from sklearn.mixture import GaussianMixture

        codes = np.asarray(codes, np.float64)
        if len(codes) < n_components:
            raise AekitError(f"{len(codes)} codes are too few for {n_components} mixture components", "use fewer components")
        gm = GaussianMixture(n_components=n_components, covariance_type="full", random_state=seed, reg_covar=1e-4).fit(codes)
        return cls(gm.weights_, gm.means_, gm.covariances_)

    def sample_codes(self, n: int, seed: int | None = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        out = np.empty((n, self.means.shape[1]))
        for k in np.unique(comp):
            idx = np.flatnonzero(comp == k)
            out[idx] = rng.multivariate_normal(self.means[k], self.covariances[k], size=len(idx))
        return out.astype(np.float32)

    def sample(self, model: Any, n: int, seed: int | None = None) -> np.ndarray:
        return np.asarray(model.decode(self.sample_codes(n, seed)))

    def save(self, path: Path) -> None:
        atomic_write_json(Path(path), {"kind": "gmm", "key": self.key, "weights": self.weights.tolist(),
                                       "means": self.means.tolist(), "covariances": self.covariances.tolist()})

    @classmethod
    def load(cls, path: Path) -> "GMMSampler":
        try:
            d = json.loads(Path(path).read_text())
            return cls(np.asarray(d["weights"]), np.asarray(d["means"]), np.asarray(d["covariances"]), d.get("key"))
        except (OSError, ValueError, KeyError) as e:
            raise AekitError(f"{path} is not a GMM sampler file ({e})", "delete it; `aekit sample --sampler gmm` refits it") from None
