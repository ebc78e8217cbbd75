"""Figures of codes and encoders: how much of the data's structure a code keeps.

- :func:`knn_accuracy`: a k-nearest-neighbour classifier fitted on training codes, scored on others.
- :func:`linear_probe_accuracy`: multinomial logistic regression on standardised codes (the usual
  "linear probe" of representation learning).
- :func:`trustworthiness`: scikit-learn's trustworthiness of the embedding (Venna & Kaski): 1 when
  every code neighbourhood holds only input-space neighbours.
- :func:`ranking`: ROC-AUC and average precision of scores against binary labels.
- :func:`saturated_fraction`: the share of sigmoid units near 0 or 1 (a column of the contractive-AE
  paper; its mean ‖∂h/∂x‖_F is ``aekit.evaluate``'s ``jacobian``, from the contractive penalty's
  ``jacobian_sq_norms``).
"""
from __future__ import annotations

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


def saturated_fraction(h: Any, low: float = 0.05, high: float = 0.95) -> float:
    """The share of values of sigmoid activations ``h`` below ``low`` or above ``high``."""
    h = np.asarray(h, dtype=np.float64)
    return float(np.mean((h < low) | (h > high)))


__all__ = ["knn_accuracy", "linear_probe_accuracy", "trustworthiness", "ranking", "saturated_fraction"]
