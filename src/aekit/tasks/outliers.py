"""Anomaly detection with any trained model: per-example scores, a threshold, and (with labels) how
well the scores separate the normal classes from the rest.

The score is the model's −log p(x) figure in nats, or the squared reconstruction error; higher = more
anomalous (:data:`SCORES`):

* ``nll``: the reconstruction's negative log-likelihood −log p(x | z = code(x)) (every family; for a
  VAE the decoder at the posterior mean, on the input as evaluation sees it);
* ``elbo``: −ELBO, the variational bound on −log p(x) (the families that have one: vae, beta-vae,
  cvae, m1m2);
* ``iwae``: the importance-sampled −log p(x) with ``k`` samples (Burda et al. 2016; vae, beta-vae, cvae);
* ``mse``: the mean squared error of the reconstruction, per value in the data's own units (NaN
  padding left out): the score of PyOD's AutoEncoder. On grey-level images it ranks better than a
  Bernoulli NLL, whose irreducible entropy of grey pixels grows with the stroke length (one-class
  MNIST, MLP AE: mean ROC-AUC 95.6 against 87.9, BENCHMARKS.md);
* ``auto``: the model's own ``score`` hook, i.e. ``nll`` for the deterministic families, ``elbo``
  for the variational ones.

The threshold τ (flagged: score > τ) is the (1 − ``contamination``) quantile of the scored data's own
scores (that share of it is flagged), or the ``quantile`` of the scores of reference data — by default
the run's validation split, which for a run trained on some classes only (``data.keep_classes``) holds
normal examples only. Without either: ``quantile=0.95`` of the run's validation split, else
``contamination=0.1``.

With labels, ``normal`` (default: the run's ``data.keep_classes``) says which labels are normal; every
other label is an anomaly. Then ROC-AUC and average precision of the scores, and precision / recall /
F1 of the flags, anomalies the positive class.

    res = detect_anomalies("runs/ones")             # the run's test split, its keep_classes normal
    res["roc_auc"], res["scores"], res["flags"]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AekitError, unknown_choice
from ..metrics.codes import ranking
from .anomaly import mse_scores, nll_scores, reconstruction_errors, threshold_metrics

__all__ = ["SCORES", "ARRAY_KEYS", "anomaly_scores", "detect_anomalies", "figures"]

SCORES = ("auto", "nll", "elbo", "iwae", "mse")
DEFAULT_K = 100         # importance samples of score="iwae"
DEFAULT_QUANTILE = 0.95  # of the run's validation scores, when no threshold is asked for
DEFAULT_CONTAMINATION = 0.1
ARRAY_KEYS = ("scores", "flags", "labels", "anomalous")  # per-example entries of the result


def _is_bound(model: Any) -> bool:
    """Whether the model's score hook is a variational bound on −log p(x) (not the base's reconstruction NLL)."""
    from ..models.base import Autoencoder

    return type(model).score is not Autoencoder.score


def _name(model: Any) -> str:
    return getattr(model, "preset", "") or type(model).__name__


def anomaly_scores(model: Any, x: Any, score: str = "auto", k: int | None = None, batch_size: int = 1024,
                   seed: int = 0, progress: bool = True) -> tuple[np.ndarray, str]:
    """(per-example scores (N,) float64, higher = more anomalous: nats, or squared data units for mse;
    the kind they are: nll, elbo, iwae or mse) of ``model`` on ``x`` in the data's units. ``k``: importance samples of ``iwae`` (default 100)."""
    _check_score(score, k)
    bound = _is_bound(model)
    kind = ("elbo" if bound else "nll") if score == "auto" else score
    if kind == "elbo" and not bound:
        raise AekitError(f"score='elbo' needs a model with a variational bound; {_name(model)} has none",
                         "use score='nll' (its reconstruction NLL) or 'auto'; or train a vae")
    if kind == "iwae" and not hasattr(model, "log_likelihood"):
        raise AekitError(f"score='iwae' needs a model with a likelihood to importance-sample; {_name(model)} has none",
                         "use score='nll' or 'auto'; or train a vae")
    if len(x) == 0:
        raise AekitError("no examples to score", "give at least one example")
    if kind == "mse":
        err, mask = reconstruction_errors(model, x, batch_size, return_mask=True)
        return mse_scores(err, mask), kind
    if kind == "elbo" or (kind == "nll" and not bound):
        return nll_scores(model, x, batch_size), kind  # the score hook (see tasks.anomaly)
    t, _ = model.as_input(x)
    if kind == "iwae":
        k = DEFAULT_K if k is None else int(k)
        if k < 1:
            raise AekitError(f"k must be >= 1, got {k}", f"e.g. k={DEFAULT_K}")
        with torch.no_grad():
            ll = model.log_likelihood(model.to_model_space(t), k=k, seed=seed, progress=progress)
        return -np.asarray(ll, dtype=np.float64).reshape(-1), kind
    from ..models.base import Autoencoder

    def recon_nll(b: torch.Tensor) -> torch.Tensor:  # the base hook on the input as evaluation sees it
        b = model.to_model_space(b)
        b = model.eval_input(b) if hasattr(model, "eval_input") else b
        return Autoencoder.score(model, b)

    out = model.map_batches(recon_nll, t, batch_size=batch_size, desc="scoring", progress=progress)
    return out.double().numpy(), kind


def _check_score(score: str, k: int | None) -> None:
    if score not in SCORES:
        raise unknown_choice("score", score, SCORES)
    if k is not None and score != "iwae":
        raise AekitError(f"k={k} applies to score='iwae' only (importance samples), not score={score!r}",
                         "drop k, or use score='iwae'")


def _values(v: Any) -> list[str]:
    return [str(a) for a in np.asarray(v, dtype=object).reshape(-1).tolist()]


def _check_threshold(contamination: float | None, quantile: float | None, reference: Any) -> None:
    if contamination is not None and quantile is not None:
        raise AekitError("give contamination or quantile, not both", "contamination: a share of the scored data; "
                         "quantile: of the scores of reference (validation) data")
    if contamination is not None and reference is not None:
        raise AekitError("reference data sets a quantile threshold; contamination uses the scored data's own scores",
                         "drop reference, or give quantile= instead of contamination=")
    if contamination is not None and not 0 < contamination <= 0.5:
        raise AekitError(f"contamination must be in (0, 0.5], got {contamination}", "the share of the scored examples to flag, e.g. 0.1")
    if quantile is not None and not 0 < quantile < 1:
        raise AekitError(f"quantile must be in (0, 1), got {quantile}", "e.g. 0.99: flag what scores above 99% of the reference data")


def _threshold(s: np.ndarray, contamination: float | None, quantile: float | None, ref_scores: Any) -> tuple[float, dict[str, Any]]:
    if contamination is not None:
        c = float(contamination)
        return float(np.quantile(s, 1 - c)), {"rule": "contamination", "contamination": c}
    r = np.asarray(ref_scores, dtype=np.float64)
    return float(np.quantile(r, quantile)), {"rule": "quantile", "quantile": float(quantile), "n_reference": int(len(r))}


def detect_anomalies(run_or_model: Any, x: Any = None, y: Any = None, *, score: str = "auto", k: int | None = None,
                     contamination: float | None = None, quantile: float | None = None, reference: Any = None,
                     normal: Any = None, batch_size: int = 1024, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Score ``x`` (data units; default: a run's test split with its labels) with a run folder's model
    or a model, flag the examples above a threshold, and with labels ``y`` (values as in the data)
    measure how well the scores find the examples whose label is not in ``normal``.

    ``contamination`` (in (0, 0.5]) or ``quantile`` (in (0, 1), of the scores of ``reference`` data,
    default the run's validation split) sets the threshold (see the module docstring for the default).
    ``normal`` defaults to the run's ``data.keep_classes``.

    Returns a dict: ``scores``, ``flags`` (bool), ``labels`` and ``anomalous`` (bool, with labels and
    normal classes) per example (:data:`ARRAY_KEYS`); figures: ``score`` (the kind), ``k``, ``n``,
    ``threshold``, ``rule`` and its ``contamination`` / ``quantile`` (``reference``, ``n_reference``),
    ``n_flagged``, ``flagged_share``; with labels ``normal``, ``n_normal``, ``n_anomalous``,
    ``roc_auc``, ``average_precision``, ``precision``, ``recall``, ``f1``, ``per_label`` (n, mean
    score, flagged share); ``notes``: what was left out and why. :func:`figures` keeps the figures.
    """
    from ..run import load, run_data
    from ..runconfig import load_config

    _check_score(score, k)  # before anything is loaded or scored
    _check_threshold(contamination, quantile, reference)
    cfg = None
    if isinstance(run_or_model, (str, Path)):
        cfg, model = load_config(run_or_model), load(run_or_model)
        name = cfg.model_name
    else:
        model, name = run_or_model, _name(run_or_model)
        if not hasattr(model, "score") or not hasattr(model, "as_input"):
            raise AekitError(f"detect_anomalies takes a run folder or an aekit model, not {type(model).__name__}",
                             "give the run folder written by aekit train, or aekit.load(run)")
    data = None
    if x is None:
        if cfg is None:
            raise AekitError("no data to score", "give x (and labels y), or a run folder to score its test split")
        data = run_data(cfg)
        x, yi = data.split("test")
        y = _label_values(yi, data.classes) if y is None else y
    if y is None and normal is not None:
        raise AekitError(f"normal={normal} needs labels", "give the labels y (values as in the data), or drop normal (--normal)")
    if y is not None and len(np.asarray(y).reshape(-1)) != len(x):
        raise AekitError(f"{len(np.asarray(y).reshape(-1))} labels for {len(x)} examples", "give one label per example")
    notes: list[str] = []
    if y is not None and normal is None and cfg is not None and cfg.data.keep_classes:
        normal = list(cfg.data.keep_classes)  # the classes the run was trained on
    wanted = _normal_labels(normal, y, cfg, notes) if y is not None and normal is not None else None
    if contamination is None and quantile is None:
        has_val = cfg is not None and cfg.data.val_fraction > 0
        if reference is not None or has_val:
            quantile = DEFAULT_QUANTILE
        else:
            contamination = DEFAULT_CONTAMINATION
            notes.append(f"no validation data to set the threshold: contamination {DEFAULT_CONTAMINATION} of the scored data flagged")
    ref_what = None
    if quantile is not None and reference is None:
        if cfg is None:
            raise AekitError("a quantile threshold needs reference scores: a model has no validation split of its own",
                             "give reference=x_val (normal examples), or contamination=, or the run folder instead of the model")
        if cfg.data.val_fraction <= 0:
            raise AekitError("a quantile threshold needs the run's validation split, and this run has none (data.val_fraction=0)",
                             "give contamination= (--contamination) instead, or reference= data")
        data = run_data(cfg) if data is None else data
        reference, ref_what = data.split("val")[0], "val"
    s, kind = anomaly_scores(model, x, score, k, batch_size, seed, progress)
    ref_scores = anomaly_scores(model, reference, score, k, batch_size, seed, progress)[0] if quantile is not None else None
    tau, rule = _threshold(s, contamination, quantile, ref_scores)
    if ref_scores is not None:
        rule["reference"] = ref_what or "given"
    flags = s > tau
    out: dict[str, Any] = {"model": name, "score": kind, "k": (DEFAULT_K if k is None else int(k)) if kind == "iwae" else None,
                           "n": int(len(s)), "threshold": tau, **rule, "n_flagged": int(flags.sum()),
                           "flagged_share": float(flags.mean()), "scores": s, "flags": flags, "labels": None, "anomalous": None}
    if y is None:
        notes.append("no labels: no ROC-AUC, average precision or precision/recall (give labels to measure them)")
    else:
        out.update(_labelled(s, flags, y, wanted, tau, notes))
    out["notes"] = notes
    return out


def _label_values(yi: Any, classes: list[Any]) -> np.ndarray | None:
    """Class indices → the label values the data writes (−1, unlabelled, leaves the labels out)."""
    if yi is None or (np.asarray(yi) < 0).any():
        return None
    return np.asarray(classes)[np.asarray(yi)] if classes else np.asarray(yi)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _normal_labels(normal: Any, y: Any, cfg: Any, notes: list[str]) -> list[str]:
    """The normal labels (as text) among the labels ``y``; a label that is no class of the run, or
    normal labels of which no example is left, is an error."""
    normal = [normal] if isinstance(normal, (str, int, np.integer)) else list(normal)
    if not normal:
        raise AekitError("normal is empty", "name the normal labels, e.g. normal=[1]")
    if cfg is not None and cfg.data.classes:
        from ..data import class_positions

        class_positions(normal, list(cfg.data.classes), cfg.data.name, "normal")  # names a label that is no class
    wanted, present = _values(normal), set(_values(y))
    missing = [v for v in wanted if v not in present]
    if len(missing) == len(wanted):
        shown = ", ".join(sorted(present)[:20])
        raise AekitError(f"normal={normal}: no example carries these labels (labels present: {shown})",
                         "name labels that occur in the data")
    if missing:
        notes.append(f"normal labels without an example in the data: {', '.join(missing)}")
    return [v for v in wanted if v in present]


def _labelled(s: np.ndarray, flags: np.ndarray, y: Any, wanted: list[str] | None, tau: float, notes: list[str]) -> dict[str, Any]:
    """The figures that need labels: which are anomalous, ranking and threshold figures, per label."""
    labels = np.asarray(y).reshape(-1)
    ys = _values(labels)
    out: dict[str, Any] = {"labels": labels}
    if wanted is None:
        notes.append("labels not used: which labels are normal is unknown (the run was trained on every class); "
                     "give normal=[...] (--normal) to measure ROC-AUC and average precision")
        return out
    try:  # the labels present, in their sorted order
        present = _values(np.unique(labels))
    except TypeError:  # values that do not sort together: first appearance
        present = list(dict.fromkeys(ys))
    anomalous = ~np.isin(np.asarray(ys), wanted)
    out.update({"normal": [_plain(labels[ys.index(v)]) for v in wanted],
                "n_normal": int((~anomalous).sum()), "n_anomalous": int(anomalous.sum()), "anomalous": anomalous})
    if anomalous.all() or not anomalous.any():
        notes.append("every example is " + ("anomalous" if anomalous.all() else "normal") +
                     ": ROC-AUC, average precision and precision/recall need both")
    else:
        m = threshold_metrics(s, anomalous, tau)
        out.update(ranking(s, anomalous))
        out.update({"precision": m["precision"], "recall": m["recall"], "f1": m["f_beta"]})
    per: dict[str, Any] = {}
    for v in present:
        rows = np.asarray(ys) == v
        per[v] = {"n": int(rows.sum()), "mean_score": float(s[rows].mean()), "flagged_share": float(flags[rows].mean()),
                  "normal": v in wanted}
    out["per_label"] = per
    return out


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The result of :func:`detect_anomalies` without its per-example arrays (JSON-ready)."""
    return {k: v for k, v in result.items() if k not in ARRAY_KEYS}
