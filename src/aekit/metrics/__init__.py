"""Figures of merit: reconstruction error, PSNR, PCA baselines and subspace angles."""
from __future__ import annotations

import numpy as np


def mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error over every value (examples × dimensions)."""
    return float(np.mean((np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)) ** 2))


def psnr(x: np.ndarray, x_hat: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, averaged over images: 10 log10(range² / MSE_i)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    x_hat = np.asarray(x_hat, np.float64).reshape(len(x_hat), -1)
    per = np.mean((x - x_hat) ** 2, axis=1)
    per = np.maximum(per, 1e-12)
    return float(np.mean(10 * np.log10(data_range**2 / per)))


def bce(x: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    """Binary cross-entropy summed over dimensions, mean over examples (nats per example)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    p = np.clip(np.asarray(p, np.float64).reshape(len(p), -1), eps, 1 - eps)
    return float(np.mean(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1)))


def pca_fit(x_train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-k principal directions (k × D, orthonormal rows) of the training data."""
    x = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    mu = x.mean(0)
    # economy SVD of the centred data; rows of vt are the principal directions
    _, _, vt = np.linalg.svd(x - mu, full_matrices=False)
    return mu, vt[:k]


def pca_reconstruct(x: np.ndarray, mu: np.ndarray, comps: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    return ((flat - mu) @ comps.T @ comps + mu).reshape(np.shape(x))


def principal_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of ``a`` and ``b`` (D × k)."""
    qa, _ = np.linalg.qr(np.asarray(a, np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, np.float64))
    s = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.degrees(np.arccos(np.clip(s, -1.0, 1.0)))  # s descends, so angles ascend


def reconstruction_span_angle(x_hat: np.ndarray, comps: np.ndarray, k: int) -> float:
    """Largest principal angle between the span of centred reconstructions and PCA's top-k."""
    r = np.asarray(x_hat, np.float64).reshape(len(x_hat), -1)
    r = r - r.mean(0)
    u, _, _ = np.linalg.svd(r.T, full_matrices=False)
    return float(principal_angles_deg(u[:, :k], comps[:k].T).max())
