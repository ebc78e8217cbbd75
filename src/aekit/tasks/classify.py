"""Classes from a trained run (``aekit classify RUN``).

Two kinds of run predict a class: the families whose model holds q(y | x) (cvae, m1m2, aae-semi:
``model.can_classify``), and any run whose encoder ``aekit finetune RUN --labels N`` fine-tuned with
a softmax head (``finetuned=N``, the classifier in ``RUN/finetune-N.safetensors``). Both take data
in its own units and give class probabilities; with labels, the accuracy, the accuracy of each
class and the confusion matrix (rows: true class, columns: predicted).

    out = classify("runs/m2", x_test, y_test)
    out.predictions, out.figures["accuracy"]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError


@dataclass
class Classified:
    """Predicted class indices (N,), probabilities (N, K), the class names and, with labels, figures."""

    predictions: np.ndarray
    proba: np.ndarray
    classes: list[str]
    figures: dict[str, Any] = field(default_factory=dict)

    def labels(self) -> np.ndarray:
        """The predictions as the data names its classes."""
        return np.asarray(self.classes, dtype=object)[self.predictions]


def classifier(run: str | Path, finetuned: str | int | None = None) -> tuple[Any, str]:
    """The run's class predictor (an object with ``predict_proba(x)`` on data-space ``x``) and what it is."""
    from ..run import load
    from ..runconfig import load_config
    from .finetune import load_finetuned

    run = Path(run)
    if finetuned is not None:
        return load_finetuned(run, finetuned), f"{load_config(run).model_name} encoder fine-tuned with {finetuned} labels"
    model = load(run)
    if not model.can_classify:
        have = sorted(p.stem.removeprefix("finetune-") for p in run.glob("finetune-*.safetensors"))
        name = load_config(run).model_name
        hint = (f"use a fine-tuned classifier of it: --finetuned {have[0]}" if have else
                f"fine-tune its encoder first: aekit finetune {run} --labels 100, then aekit classify {run} --finetuned 100")
        raise AekitError(f"{run} is a run of {name}, which does not predict classes", hint + "; or train cvae, m1m2 or aae-semi, which do")
    return model, f"{load_config(run).model_name}: q(y | x)"


def classify(run: str | Path, x: Any, y: Any = None, finetuned: str | int | None = None, batch_size: int = 1024) -> Classified:
    """Class predictions of ``run`` for data-space ``x``; with ``y`` (the run's class indices) the
    accuracy, per-class accuracy and confusion matrix."""
    from ..runconfig import load_config

    clf, what = classifier(run, finetuned)
    proba = np.asarray(clf.predict_proba(x, batch_size=batch_size), dtype=np.float64)
    k = proba.shape[1]
    names = load_config(run).data.classes
    classes = [str(c) for c in names] if names and len(names) == k else [str(i) for i in range(k)]
    pred = proba.argmax(1) if len(proba) else np.zeros(0, np.int64)
    out = Classified(pred, proba, classes, {"classifier": what, "n": int(len(pred))})
    if y is not None:
        y = np.asarray(y).astype(np.int64)
        if y.shape != pred.shape:
            raise AekitError(f"{len(y)} labels for {len(pred)} examples", "give one label per example")
        keep = y >= 0
        yk, pk = y[keep], pred[keep]
        if ((yk >= k)).any():
            raise AekitError(f"label {int(yk[yk >= k][0])} is not one of the classifier's {k} classes",
                             "classify data with the run's own classes")
        cm = np.zeros((k, k), np.int64)
        np.add.at(cm, (yk, pk), 1)
        per = cm.diagonal() / np.maximum(cm.sum(1), 1)
        out.figures.update({"labelled": int(keep.sum()), "accuracy": float(np.mean(yk == pk)) if len(yk) else float("nan"),
                            "error_percent": float(100 * np.mean(yk != pk)) if len(yk) else float("nan"),
                            "per_class_accuracy": {c: float(a) for c, a, n in zip(classes, per, cm.sum(1)) if n},
                            "confusion": cm.tolist(), "classes": classes})
    return out


__all__ = ["Classified", "classifier", "classify"]
