"""Sequence anomaly detection with a trained autoencoder: the EncDec-AD protocol (Malhotra et al. 2016,
"LSTM-based encoder-decoder for multi-sensor anomaly detection").

The autoencoder is trained on normal series only. Each series' absolute reconstruction errors form
an error vector e (N, T·C); a Gaussian N(μ, Σ) fitted to the error vectors of held-out NORMAL
series gives the anomaly score a = (e − μ)ᵀ Σ⁻¹ (e − μ) (:class:`ErrorGaussian`); the threshold is
the one that maximises F_β on a validation set holding both normal and anomalous series
(:func:`fit_threshold`). :func:`encdec_ad` runs the whole protocol and also scores by the plain
reconstruction NLL (the model's ``score`` hook) for comparison.

Padding: series padded at the END with NaN (aekit's variable-length sequences) get error 0 at the
padded steps, so those coordinates add nothing to a score; the mean squared error divides by the
valid values only.

    errs_fit = reconstruction_errors(model, x_val_normal)
    g = ErrorGaussian.fit(errs_fit, shrinkage="auto")
    scores = g.score(reconstruction_errors(model, x_test))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import AekitError
from ..metrics.codes import ranking

__all__ = ["ErrorGaussian", "encdec_ad", "fit_threshold", "nll_scores", "reconstruction_errors", "threshold_metrics"]


# ---- error vectors and plain scores ---------------------------------------------------------------

def _numpy(x: Any) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(np.float64)


def reconstruction_errors(model: Any, x: Any, batch_size: int = 1024, return_mask: bool = False) -> Any:
    """|x − reconstruct(x)| flattened per example, (N, T·C) float64 in data units. Non-finite inputs
    (NaN end padding) get error 0; ``return_mask`` also returns the bool (N, T·C) of valid values."""
    xa = _numpy(x)
    rec = _numpy(model.reconstruct(x, batch_size=batch_size)).reshape(xa.shape)
    valid = np.isfinite(xa)
    err = np.where(valid, np.abs(np.where(valid, xa, 0.0) - np.nan_to_num(rec)), 0.0).reshape(len(xa), -1)
    return (err, valid.reshape(len(xa), -1)) if return_mask else err


def mse_scores(errors: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean squared error per example over its valid values (all of them without ``mask``)."""
    e2 = np.asarray(errors, dtype=np.float64) ** 2
    if mask is None:
        return e2.mean(1)
    return e2.sum(1) / np.maximum(mask.sum(1), 1)


def nll_scores(model: Any, x: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's per-example score hook (the reconstruction's −log p(x | z); padding masked), (N,)."""
    t, _ = model.as_input(x)
    out = model.map_batches(lambda b: model.score(model.to_model_space(b)), t, batch_size=batch_size)
    return out.double().numpy()


# ---- the Gaussian of the errors -------------------------------------------------------------------

@dataclass
class ErrorGaussian:
    """N(μ, Σ) of error vectors; ``score`` is the squared Mahalanobis distance (EncDec-AD's score).

    ``fit`` takes the maximum-likelihood mean and covariance, optionally shrunk towards a scaled
    identity (``shrinkage``: a weight in [0, 1], or "auto" for Ledoit-Wolf's, which matters when there
    are fewer error vectors than dimensions), plus a ridge of ``ridge`` × the mean variance (at least
    1e-12) on the diagonal so that Σ is positive definite. Stored as plain arrays (``to_dict`` /
    ``from_dict`` / ``to_json`` round-trip through JSON, no pickle)."""

    mean: np.ndarray
    cov: np.ndarray
    shrinkage: float = 0.0
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.cov = np.asarray(self.cov, dtype=np.float64)
        d = len(self.mean)
        if self.cov.shape != (d, d):
            raise AekitError(f"covariance of shape {self.cov.shape} for a mean of {d} values", f"give a ({d}, {d}) matrix")
        try:
            self._chol = np.linalg.cholesky(self.cov)
        except np.linalg.LinAlgError:
            raise AekitError("the covariance is not positive definite", "fit with a larger ridge") from None

    @classmethod
    def fit(cls, errors: Any, ridge: float = 1e-6, shrinkage: float | str = 0.0) -> ErrorGaussian:
        e = np.asarray(errors, dtype=np.float64)
        if e.ndim != 2 or len(e) < 2:
            raise AekitError(f"fitting a Gaussian needs (N >= 2, D) error vectors, got shape {e.shape}")
        if not np.isfinite(e).all():
            raise AekitError("error vectors with non-finite values", "compute them with reconstruction_errors (padding gives 0)")
        mu = e.mean(0)
        c = e - mu
        cov = c.T @ c / len(e)
        scale = float(np.trace(cov)) / cov.shape[0]
        if shrinkage == "auto":
            from sklearn.covariance import ledoit_wolf_shrinkage

            shrinkage = float(ledoit_wolf_shrinkage(e, assume_centered=False))
        shrinkage = float(shrinkage)
        if not 0.0 <= shrinkage <= 1.0:
            raise AekitError(f"shrinkage must be in [0, 1] or 'auto', got {shrinkage}")
        cov = (1 - shrinkage) * cov + shrinkage * scale * np.eye(len(mu))
        cov[np.diag_indices_from(cov)] += max(ridge * scale, 1e-12)
        return cls(mu, cov, shrinkage, ridge)

    def score(self, errors: Any) -> np.ndarray:
        """(e − μ)ᵀ Σ⁻¹ (e − μ) per row, via the Cholesky factor (a triangular solve, no inverse)."""
        from scipy.linalg import solve_triangular

        e = np.asarray(errors, dtype=np.float64)
        e = e.reshape(1, -1) if e.ndim == 1 else e.reshape(len(e), -1)
        if e.shape[1] != len(self.mean):
            raise AekitError(f"error vectors of {e.shape[1]} values for a Gaussian of {len(self.mean)}")
        w = solve_triangular(self._chol, (e - self.mean).T, lower=True, check_finite=True)
        return (w * w).sum(0)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "cov": self.cov.tolist(), "shrinkage": self.shrinkage, "ridge": self.ridge}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ErrorGaussian:
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["cov"], dtype=np.float64),
                   float(d.get("shrinkage", 0.0)), float(d.get("ridge", 0.0)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> ErrorGaussian:
        return cls.from_dict(json.loads(s))


# ---- thresholds -------------------------------------------------------------------------------------

def _f_beta(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, beta: float) -> np.ndarray:
    b2 = beta * beta
    den = (1 + b2) * tp + b2 * fn + fp
    return np.where(den > 0, (1 + b2) * tp / np.maximum(den, 1e-300), 0.0)


def fit_threshold(scores_normal_val: Any, scores_anomalous_val: Any = None, contamination: float | None = None,
                  quantile: float | None = None, beta: float = 1.0) -> float:
    """A threshold τ (anomalous: score > τ) chosen on validation scores.

    With anomalous validation scores (and neither ``contamination`` nor ``quantile``): the τ that
    maximises F_β (anomalies the positive class), as EncDec-AD does; τ lies midway between the
    lowest score flagged anomalous and the highest left normal (among equal F_β, the higher τ). Otherwise a quantile
    of the normal scores: ``quantile`` itself, or 1 − ``contamination`` (default 0.95 when neither is given).
    """
    sn = np.asarray(scores_normal_val, dtype=np.float64).reshape(-1)
    if len(sn) == 0 or not np.isfinite(sn).all():
        raise AekitError("fit_threshold needs finite scores of normal validation examples")
    if scores_anomalous_val is not None and contamination is None and quantile is None:
        sa = np.asarray(scores_anomalous_val, dtype=np.float64).reshape(-1)
        if len(sa) == 0:
            raise AekitError("no anomalous validation scores", "give some, or use quantile=/contamination=")
        s = np.concatenate([sn, sa])
        y = np.r_[np.zeros(len(sn)), np.ones(len(sa))]
        order = np.argsort(-s, kind="stable")
        s, y = s[order], y[order]
        # candidate k: flag the k highest scores (k = 1..N), only where the next score differs
        tp = np.cumsum(y)
        fp = np.cumsum(1 - y)
        fn = len(sa) - tp
        ks = np.flatnonzero(np.r_[s[:-1] > s[1:], True])
        f = _f_beta(tp[ks], fp[ks], fn[ks], beta)
        k = int(ks[int(np.argmax(f))])
        below = s[k + 1] if k + 1 < len(s) else s[k] - max(1.0, abs(s[k]))
        return float((s[k] + below) / 2)
    if quantile is None:
        quantile = 1.0 - (0.05 if contamination is None else float(contamination))
    if not 0.0 <= quantile <= 1.0:
        raise AekitError(f"the quantile must be in [0, 1], got {quantile}")
    return float(np.quantile(sn, quantile))


def threshold_metrics(scores: Any, labels: Any, threshold: float, beta: float = 1.0) -> dict[str, float]:
    """Precision, recall, F_β (anomalies = label 1 the positive class) of ``score > threshold``."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    pred = s > threshold
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f = float(_f_beta(np.array(tp), np.array(fp), np.array(fn), beta))
    return {"threshold": float(threshold), "precision": prec, "recall": rec, "f_beta": f, "beta": beta}


# ---- the protocol -------------------------------------------------------------------------------

def encdec_ad(model: Any, x_val_normal: Any, x_val_anomalous: Any, x_test: Any, y_test: Any, *,
              x_fit_normal: Any = None, fit_fraction: float = 0.5, shrinkage: float | str = "auto", ridge: float = 1e-6,
              beta: float = 1.0, seed: int = 0, batch_size: int = 1024) -> dict[str, Any]:
    """EncDec-AD on a model trained on normal series only.

    The Gaussian of the error vectors is fitted on ``x_fit_normal`` when given, else on a seeded
    ``fit_fraction`` of ``x_val_normal`` (the paper's vN1); the thresholds are then chosen on the
    remaining normal validation series (vN2) with ``x_val_anomalous`` (vA), maximising F_β
    (when ``x_fit_normal`` is given, on all of ``x_val_normal``). Scored on (``x_test``, ``y_test``),
    y = 1 for anomalies, by (a) ``nll``: the model's reconstruction NLL, (b) ``mse``: the mean
    squared error, (c) ``mahalanobis``: the Gaussian's score of the error vectors. Returns, per
    score, ROC-AUC and average precision on the test set, and precision / recall / F_β there at the
    validation threshold; also the split sizes and the Gaussian's shrinkage."""
    y = np.asarray(y_test).reshape(-1).astype(int)
    if set(np.unique(y)) - {0, 1} or len(np.unique(y)) < 2:
        raise AekitError("y_test must hold both 0 (normal) and 1 (anomalous)")
    vn = _numpy(x_val_normal)
    if x_fit_normal is None:
        if not 0 < fit_fraction < 1:
            raise AekitError(f"fit_fraction must be in (0, 1), got {fit_fraction}")
        perm = np.random.default_rng(seed).permutation(len(vn))
        n_fit = int(round(fit_fraction * len(vn)))
        if n_fit < 2 or n_fit >= len(vn):
            raise AekitError(f"{len(vn)} normal validation series are too few to split for the Gaussian and the threshold")
        fit, vn = vn[perm[:n_fit]], vn[perm[n_fit:]]
    else:
        fit = _numpy(x_fit_normal)
    va = _numpy(x_val_anomalous)
    xt = _numpy(x_test)
    errs = {}
    for name, xs in (("fit", fit), ("vn", vn), ("va", va), ("test", xt)):
        errs[name] = reconstruction_errors(model, xs, batch_size=batch_size, return_mask=True)
    gauss = ErrorGaussian.fit(errs["fit"][0], ridge=ridge, shrinkage=shrinkage)
    scorers = {
        "nll": lambda name, xs: nll_scores(model, xs, batch_size),
        "mse": lambda name, xs: mse_scores(*errs[name]),
        "mahalanobis": lambda name, xs: gauss.score(errs[name][0]),
    }
    out: dict[str, Any] = {"n": {"fit_normal": len(fit), "val_normal": len(vn), "val_anomalous": len(va),
                                 "test_normal": int((y == 0).sum()), "test_anomalous": int((y == 1).sum())},
                           "shrinkage": gauss.shrinkage, "scores": {}}
    for key, fn in scorers.items():
        s_test = fn("test", xt)
        tau = fit_threshold(fn("vn", vn), fn("va", va), beta=beta)
        out["scores"][key] = {**ranking(s_test, y), "at_val_threshold": threshold_metrics(s_test, y, tau, beta)}
    out["gaussian"] = gauss
    return out
