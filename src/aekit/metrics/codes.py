"""Figures of codes and encoders: how much of the data's structure a code keeps.

- :func:`knn_accuracy`: a k-nearest-neighbour classifier fitted on training codes, scored on others.
- :func:`linear_probe_accuracy`: multinomial logistic regression on standardised codes (the usual
  "linear probe" of representation learning).
- :func:`trustworthiness`: scikit-learn's trustworthiness of the embedding (Venna & Kaski): 1 when
  every code neighbourhood holds only input-space neighbours.
- :func:`ranking`: ROC-AUC and average precision of scores against binary labels.
- :func:`jacobian_frobenius`: mean ‖∂h/∂x‖_F of an encoder over examples (the contractive-AE
  paper's column), by ``torch.func`` (exact, batched).
- :func:`saturated_fraction`: the share of sigmoid units near 0 or 1 (the same paper's column).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _flat(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def knn_accuracy(z_train: Any, y_train: Any, z: Any, y: Any, k: int = 5) -> float:
    """Accuracy on (z, y) of a k-NN classifier (Euclidean) fitted on (z_train, y_train)."""
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(n_neighbors=k).fit(_flat(z_train), np.asarray(y_train)).score(_flat(z), np.asarray(y)))


def linear_probe_accuracy(z_train: Any, y_train: Any, z: Any, y: Any, max_iter: int = 2000) -> float:
    """Accuracy on (z, y) of logistic regression fitted on standardised (z_train, y_train)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    return float(probe.fit(_flat(z_train), np.asarray(y_train)).score(_flat(z), np.asarray(y)))


def trustworthiness(x: Any, z: Any, k: int = 5, max_n: int = 2000, seed: int = 0) -> float:
    """Trustworthiness of codes ``z`` of inputs ``x`` with ``k`` neighbours, on at most ``max_n``
    examples (a seeded subsample: the figure needs all pairwise distances)."""
    from sklearn.manifold import trustworthiness as tw

    x, z = _flat(x), _flat(z)
    if len(x) > max_n:
        idx = np.random.default_rng(seed).choice(len(x), max_n, replace=False)
        x, z = x[idx], z[idx]
    return float(tw(x, z, n_neighbors=min(k, len(x) // 2 - 1)))


def ranking(scores: Any, labels: Any) -> dict[str, float]:
    """ROC-AUC and average precision of ``scores`` (higher = more positive) for binary ``labels``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    return {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}


def jacobian_frobenius(fn: Callable[[Any], Any], x: Any, batch_size: int = 256) -> float:
    """Mean over examples of ‖∂fn(x)/∂x‖_F for ``fn`` mapping a (B, *shape) tensor to (B, D) codes,
    computed exactly (``vmap(jacrev)``) on float32 tensors."""
    import torch
    from torch.func import jacrev, vmap

    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    one = lambda v: fn(v.unsqueeze(0)).squeeze(0)  # noqa: E731
    total = 0.0
    for i in range(0, len(xt), batch_size):
        with torch.enable_grad():
            jac = vmap(jacrev(one))(xt[i: i + batch_size])
        total += float(jac.detach().reshape(jac.shape[0], -1).pow(2).sum(1).sqrt().sum())
    return total / max(len(xt), 1)


def saturated_fraction(h: Any, low: float = 0.05, high: float = 0.95) -> float:
    """The share of values of sigmoid activations ``h`` below ``low`` or above ``high``."""
    h = np.asarray(h, dtype=np.float64)
    return float(np.mean((h < low) | (h > high)))


__all__ = ["knn_accuracy", "linear_probe_accuracy", "trustworthiness", "ranking", "jacobian_frobenius", "saturated_fraction"]
