"""Figures of a trained model on data: the objective's terms, reconstruction error in the data's own
units, the family's figures, importance-sampled NLL and denoising PSNR. Every function takes
model-space arrays (the run's fitted scaling applied) and works in batches.

Units, as the results say (``units``): loss terms are per example in the model's space (nats for
likelihoods, of the scaled data when data.scale is not none); ``mse`` is per value in the data's own
units; PSNR is in dB over the data's own range (data in [0, 1]: range 1); ``char_accuracy`` (models
with the categorical likelihood: one-hot sequences such as characters) is the share of the valid
steps (NaN end padding left out) whose most likely category in the reconstruction is the input's.
Padded steps count in no figure (``mse`` is over the valid values).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from .metrics import bce, psnr
from .parts import make_corruption

log = logging.getLogger("aekit")


def clip_for_likelihood(model: Any, x: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    """A Bernoulli model scores values in [0, 1]: values outside (test data scaled with a min-max
    fitted on the training split) are clipped, and the count is logged and returned."""
    if model.cfg.likelihood != "bernoulli":
        return x, 0
    bad = int(np.count_nonzero((x < 0) | (x > 1)))
    if bad:
        log.warning("%s: %d values outside [0, 1] (scaling fitted on the training split) clipped for the Bernoulli likelihood", what, bad)
        x = np.clip(x, 0.0, 1.0)
    return x, bad


def _tensor(a: np.ndarray | None, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
    return None if a is None else torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)


def evaluate_model(model: Any, x: np.ndarray, y: np.ndarray | None = None, split: str = "test",
                   batch_size: int = 1024) -> dict[str, Any]:
    """Figures of ``model`` on model-space ``x`` (labels ``y`` as class indices), keys prefixed
    with ``split``: loss terms, MSE (data units), BCE and PSNR (data in [0, 1]), the family's own."""
    x, clipped = clip_for_likelihood(model, np.asarray(x, dtype=np.float32), f"{split} data")
    xt, yt = _tensor(x), _tensor(y, torch.long)
    n = len(x)
    sums: dict[str, float] = {}
    recs: list[torch.Tensor] = []

    def run() -> None:
        for sl in model.batches(n, batch_size):
            b = xt[sl].to(model.device)
            yb = yt[sl].to(model.device) if yt is not None else None
            for k, v in model.loss(b, yb, corrupt=False).items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(b)
            recs.append(model.from_model_space(model.likelihood.mean(model.recon_params(b, yb))).double().cpu())

    model.evaluating(run)
    out: dict[str, Any] = {f"{split}_{k}": v / n for k, v in sums.items()} if n else {}
    if n:
        x_data = model.from_model_space(xt.to(model.device)).double().cpu().reshape(n, -1).numpy()
        rec = torch.cat(recs).reshape(n, -1).numpy()
        masked = bool(getattr(model.likelihood, "masked", False))
        out[f"{split}_mse"] = float(np.nanmean((x_data - rec) ** 2) if masked else np.mean((x_data - rec) ** 2))
        if model.cfg.likelihood == "categorical":
            out[f"{split}_char_accuracy"] = char_accuracy(x_data.reshape(n, *model.input_shape), rec.reshape(n, *model.input_shape))
        if x_data.min() >= 0 and x_data.max() <= 1:
            out[f"{split}_bce"] = bce(x_data, rec)
            out[f"{split}_psnr_db"] = psnr(x_data, rec, 1.0)
    fam = model.extra_metrics(xt, yt)
    warnings = fam.pop("warnings", [])
    if n > 1:
        note = constant_reconstruction(x_data, rec, fixes=collapse_fixes(model.cfg))
        if note:
            warnings = [*warnings, note]  # after the family's own diagnosis (a VAE's posterior collapse)
    out.update({f"{split}_{k}": v for k, v in fam.items()})
    out["warnings"] = warnings
    for w in warnings:
        log.warning("warning: %s", w)
    if clipped:
        out[f"{split}_values_clipped"] = clipped
    out["units"] = units(model)
    return out


def constant_reconstruction(x: np.ndarray, rec: np.ndarray, share: float = 0.01, fixes: str = "train longer") -> str | None:
    """A warning when the reconstructions (N, D) hardly vary with the input: their summed variance over
    the examples below ``share`` of the data's. The code then carries next to nothing (a collapsed
    code: saturated sigmoid units, a VAE whose posterior ignores x; or an untrained model)."""
    data_var, rec_var = _summed_variance(x), _summed_variance(rec)
    if not data_var > 0 or rec_var >= share * data_var:
        return None
    return (f"the reconstructions hardly depend on the input: their variance over the examples is {rec_var / data_var:.2g} "
            f"of the data's (below {share:g}), so the code carries next to nothing (saturated code units, a posterior that "
            f"ignores x, or too little training): {fixes}")


def _summed_variance(a: np.ndarray) -> float:
    """The variance over the examples (axis 0), summed over the values; NaN (padding) is left out, and so
    is a value with fewer than two examples (a time step past every sequence's end)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    seen = ~np.isnan(a)
    n = seen.sum(0)
    keep = n >= 2
    a, seen, n = a[:, keep], seen[:, keep], n[keep]
    mean = np.where(seen, a, 0.0).sum(0) / n
    return float((np.where(seen, a - mean, 0.0) ** 2).sum(0).dot(1 / n))


def collapse_fixes(cfg: Any) -> str:
    """What to try against a collapsed code, among the options this model has."""
    out = ["train longer", "a lower train.lr"]
    if getattr(cfg, "output_bias", None) == "zero":
        out.append("model.output_bias=data (decoders starting at the training mean)")
    if getattr(cfg, "code_activation", "linear") not in ("linear", "none") and not getattr(cfg, "sparsity_weight", 0):
        out.append("model.code_activation=linear (an unbounded code)")
    return ", or ".join([", ".join(out[:-1]), out[-1]]) if len(out) > 1 else out[0]


def char_accuracy(x: np.ndarray, rec: np.ndarray) -> float:
    """Per-step accuracy of one-hot sequences (N, T, K) (characters): the share of the valid steps
    (not NaN end padding) where the argmax of ``rec`` (scores or probabilities) is the category of ``x``."""
    x, rec = np.asarray(x), np.asarray(rec)
    valid = ~np.isnan(x).all(axis=-1)
    if not valid.any():
        return float("nan")
    hit = np.nan_to_num(rec, nan=-np.inf).argmax(-1) == np.nan_to_num(x, nan=-np.inf).argmax(-1)
    return float(hit[valid].mean())


def units(model: Any) -> dict[str, str]:
    """What the figures of ``evaluate_model`` are measured in."""
    scaled = bool((model.input_scale != 1).any() or (model.input_shift != 0).any())
    space = "the scaled data (data.scale)" if scaled else "the data"
    out = {"loss terms": f"per example, of {space}; nats for likelihood terms",
           "mse": "squared error per value, in the data's own units" + (
               " (valid steps only: padding left out)" if getattr(model.likelihood, "masked", False) else ""),
           "bce, psnr_db": "data in [0, 1] only: nats per example; dB with peak 1"}
    if model.cfg.likelihood == "categorical":
        out["char_accuracy"] = ("share of the valid (non-padded) steps whose most likely category in the reconstruction "
                                "is the input's (per character, for text)")
    return out


def nll_figures(model: Any, x: np.ndarray | torch.Tensor, k: int = 1000, batch_size: int | None = None, seed: int = 0,
                progress: bool = True) -> dict[str, Any]:
    """Importance-sampled test NLL (``nll``, nats per example; k samples) and −ELBO where the family
    has one (``neg_elbo``), on model-space ``x`` — with a note when the figure is a Bernoulli
    likelihood of grey levels, which is not comparable with binarized-MNIST results."""
    xt = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    kw = {"k": k, "seed": seed, "progress": progress}
    if batch_size:
        kw["batch_size"] = batch_size
    ll = model.log_likelihood(xt, **kw)
    out: dict[str, Any] = {"nll": float(-ll.double().mean()), "nll_k": int(k)}
    if hasattr(model, "neg_elbo"):
        gen = torch.Generator(device=model.device).manual_seed(seed)
        out["neg_elbo"] = float(model.map_batches(lambda b: model.neg_elbo(model.eval_input(b), gen)[0], xt).double().mean())
    note = grey_level_note(model, xt)
    if note:
        out["nll_note"] = note
    return out


def grey_level_note(model: Any, x: torch.Tensor) -> str | None:
    if model.cfg.likelihood != "bernoulli" or getattr(model.cfg, "dynamic_binarization", False):
        return None
    if bool(((x == 0) | (x == 1)).all()):
        return None
    return ("a Bernoulli likelihood of grey-level values (the data are not binary and the model was trained without "
            "dynamic binarization): not comparable with NLL figures on binarized MNIST")


def parse_corruption(spec: str) -> tuple[str, float]:
    """``"masking:0.5"`` → ("masking", 0.5), checked: a known kind and a level >= 0."""
    from .errors import AekitError

    kind, sep, level = str(spec).partition(":")
    try:
        lvl = float(level)
    except ValueError:
        lvl = None
    if not sep or lvl is None:
        raise AekitError(f"corruption {spec!r} is not KIND:LEVEL", "e.g. masking:0.5, salt-pepper:0.5 or gaussian:0.3")
    make_corruption(kind, lvl)  # an unknown kind or a negative level: the parts' own error
    if kind == "none":
        raise AekitError(f"corruption {spec!r} corrupts nothing", "e.g. masking:0.5, salt-pepper:0.5 or gaussian:0.3")
    return kind, lvl


def corrupt_and_restore(model: Any, x: np.ndarray, kind: str, level: float, batch_size: int = 1024,
                        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded corruption of model-space ``x`` (in the data's range) and the model's restoration of it
    (the likelihood's mean), both model-space CPU tensors, in batches."""
    lo, hi = model.cfg.input_range
    corrupt = make_corruption(kind, level, lo, hi)
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    state = torch.get_rng_state()
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    try:
        noisy = torch.cat([corrupt(xt[i: i + batch_size]) for i in range(0, len(xt), batch_size)]) if len(xt) else xt
    finally:
        torch.set_rng_state(state)
    restored = model.map_batches(lambda b: model.likelihood.mean(model.recon_params(b)), noisy, batch_size=batch_size)
    return noisy, restored


def denoising_psnr(model: Any, x: np.ndarray, kind: str, level: float, batch_size: int = 1024, seed: int = 0) -> dict[str, float]:
    """PSNR (dB, over the data's range) of corrupted inputs and of their reconstructions, in batches."""
    noisy, restored = corrupt_and_restore(model, x, kind, level, batch_size, seed)
    lo, hi = model.cfg.input_range
    data_range = hi - lo if hi > lo else 1.0
    return {"psnr_corrupted_db": psnr(x, noisy.numpy(), data_range), "psnr_restored_db": psnr(x, restored.numpy(), data_range)}


# ---- figures of the codes -----------------------------------------------------------------------

CODE_METRICS = {
    "knn": "accuracy of a 5-NN classifier of the codes, fitted on the run's training codes (needs labels)",
    "linear-probe": "accuracy of logistic regression on the standardised codes, fitted on the training codes (needs labels)",
    "trustworthiness": "trustworthiness of the codes as an embedding of the inputs (5 neighbours, at most 2,000 examples)",
    "jacobian": "mean Frobenius norm of the encoder's Jacobian ∂code/∂x (model space; at most 1,000 examples)",
    "saturation": "share of code units below 0.05 or above 0.95 (sigmoid codes only)",
    "pca-angle": "largest principal angle (degrees) between PCA's top-k subspace of the run's training data and the top-k "
                 "principal directions of the centred reconstructions (k = the code size; 0: the linear AE's claim)",
    "nll": "importance-sampled negative log-likelihood, nats per example (k samples; models with a likelihood bound); "
           "the same as --nll",
}
NEEDS_LABELS = ("knn", "linear-probe")
NEEDS_TRAIN = NEEDS_LABELS + ("pca-angle",)


def check_code_metrics(names: list[str]) -> list[str]:
    """The names, checked against :data:`CODE_METRICS`."""
    from .errors import AekitError, closest

    for n in names:
        if n not in CODE_METRICS:
            near = closest(n, CODE_METRICS)
            raise AekitError(f"unknown metric {n!r}" + (f" (did you mean {near!r}?)" if near else ""),
                             "choose from: " + ", ".join(CODE_METRICS))
    return names


def mean_jacobian_norm(model: Any, x: torch.Tensor, batch_size: int = 256) -> float:
    """Mean over the examples of model-space ``x`` of ‖∂code/∂x‖_F (eval mode; exact, batched)."""
    from .parts.penalties import jacobian_sq_norms

    was = model.training
    model.eval()
    try:
        with torch.enable_grad():
            norms = [jacobian_sq_norms(model.code, x[i: i + batch_size].to(model.device)).detach().sqrt().cpu()
                     for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return float(torch.cat(norms).double().mean()) if norms else float("nan")


def pca_angle(model: Any, x: np.ndarray, x_train: np.ndarray) -> float:
    """Largest principal angle (degrees) between PCA's top-k subspace of model-space ``x_train`` and the
    span of the centred reconstructions of ``x`` (k = the code size)."""
    from .errors import AekitError
    from .metrics import pca_fit, reconstruction_span_angle

    k = int(model.cfg.latent_dim)
    dim = int(np.prod(model.input_shape))
    if k >= min(dim, len(x)):
        raise AekitError(f"metric pca-angle compares {k}-dimensional subspaces of {dim}-dimensional data with {len(x)} "
                         "examples: nothing to compare", "use it for codes smaller than the input (undercomplete)")
    _, comps = pca_fit(np.asarray(x_train).reshape(len(x_train), -1), k)
    xt = _tensor(np.asarray(x, dtype=np.float32))
    rec = model.map_batches(lambda b: model.likelihood.mean(model.recon_params(b)), xt).double().numpy()
    return reconstruction_span_angle(rec.reshape(len(rec), -1), comps, k)


def code_metrics(model: Any, names: list[str], x: np.ndarray, y: np.ndarray | None = None,
                 x_train: np.ndarray | None = None, y_train: np.ndarray | None = None, split: str = "test",
                 k: int = 1000) -> dict[str, float]:
    """The figures ``names`` (:data:`CODE_METRICS`) of model-space ``x`` (labels ``y``), keys prefixed
    with ``split``; ``knn`` and ``linear-probe`` are fitted on model-space ``x_train`` (labels
    ``y_train``), ``pca-angle`` takes PCA's subspace from it; ``nll`` uses ``k`` importance samples."""
    from .errors import AekitError
    from .metrics.codes import knn_accuracy, linear_probe_accuracy, saturated_fraction, trustworthiness

    check_code_metrics(names)
    xt = _tensor(np.asarray(x, dtype=np.float32))
    z = model.map_batches(lambda b: model.code(b), xt).float().numpy()
    out: dict[str, float] = {}
    for name in names:
        if name in NEEDS_TRAIN and x_train is None:
            raise AekitError(f"metric {name} needs the run's training split", "evaluate a run folder with its own data")
        if name == "pca-angle":
            out[f"{split}_pca_angle_deg"] = pca_angle(model, x, x_train)
        elif name == "nll":
            if not hasattr(model, "log_likelihood"):
                raise AekitError(f"metric nll needs a model with a likelihood bound; {type(model).__name__} has none",
                                 "train --model vae or cvae; for other models use the reconstruction figures")
            out.update({kk if kk == "nll_k" else f"{split}_{kk}": v for kk, v in nll_figures(model, x, k=k).items()})
        elif name in NEEDS_LABELS:
            if y is None or y_train is None or x_train is None:
                raise AekitError(f"metric {name} needs labelled data and the run's labelled training split",
                                 "evaluate on a labelled data set, for a run trained with labels")
            keep, keep_tr = y >= 0, y_train >= 0
            z_tr = model.map_batches(lambda b: model.code(b), _tensor(np.asarray(x_train, dtype=np.float32)[keep_tr])).float().numpy()
            fn = knn_accuracy if name == "knn" else linear_probe_accuracy
            out[f"{split}_{name.replace('-', '_')}_accuracy"] = fn(z_tr, y_train[keep_tr], z[keep], y[keep])
        elif name == "trustworthiness":
            out[f"{split}_trustworthiness"] = trustworthiness(x, z)
        elif name == "jacobian":
            out[f"{split}_jacobian_frobenius"] = mean_jacobian_norm(model, xt[:1000])
        elif name == "saturation":
            act = getattr(model.cfg, "code_activation", "linear")
            if act != "sigmoid":
                raise AekitError(f"metric saturation counts sigmoid units near 0 or 1; this model's codes are {act}",
                                 "train with --set model.code_activation=sigmoid (the contractive-AE paper's setting)")
            out[f"{split}_saturated_fraction"] = saturated_fraction(z)
    return out
