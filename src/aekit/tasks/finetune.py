"""Pretraining → fine-tuning with few labels (``aekit finetune RUN --labels N``).

The encoder of a trained run plus a softmax head (:class:`aekit.models.finetune.EncoderClassifier`)
is trained end to end on N labelled training examples of the run's own data (balanced over the
classes, seeded: the same rows ``--labels N`` would keep), and scored on the run's test split.
Beside it, the baseline the lecture compares with: the same network from a fresh initialisation,
trained the same way on the same rows ("from scratch"). ``freeze=True`` trains the head alone (a
linear probe of the pretrained codes).

Results go to ``RUN/finetune-<N>.json`` (``all`` when every label is used), the fine-tuned
classifier's weights to ``RUN/finetune-<N>.safetensors``: :func:`load_finetuned` rebuilds it, and
``aekit classify RUN --finetuned N`` uses it.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AekitError

log = logging.getLogger("aekit")


def _accuracy(clf: Any, x: np.ndarray, y: np.ndarray) -> float:
    p = clf.predict_proba(x)
    return float(np.mean(p.argmax(1) == y))


def finetune(run: str | Path, labels: int | None = None, epochs: int = 30, lr: float = 1e-3, batch_size: int = 64,
             seed: int = 0, freeze: bool = False, scratch: bool = True, progress: bool = False) -> dict[str, Any]:
    """Fine-tune ``run``'s encoder on ``labels`` training labels (None: all) and compare with the same
    network trained from scratch; returns (and writes) the test accuracies."""
    from ..data import hide_labels
    from ..io import atomic_write_json
    from ..models.finetune import EncoderClassifier
    from ..run import build_for_data, load, run_data, save_weights, scale
    from ..runconfig import load_config
    from ..train import Trainer

    run = Path(run)
    cfg = load_config(run)
    data = run_data(cfg)
    if data.y_train is None or data.y_test is None:
        raise AekitError(f"fine-tuning needs labels: the run's data {cfg.data.name} has none (or no labelled test split)",
                         "fine-tune a run trained on labelled data (e.g. --data mnist)")
    y = data.y_train
    if labels is not None:
        if labels < 1:
            raise AekitError(f"--labels must be >= 1, got {labels}", "e.g. --labels 100")
        y = hide_labels(y, labels, np.random.default_rng(seed), cfg.data.name, data.classes)
    keep = y >= 0
    x_l, y_l = scale(data, data.x_train[keep]), y[keep].astype(np.int64)
    n_classes = len(data.classes) if data.classes else int(data.y_train.max()) + 1
    train_cfg = dataclasses.replace(cfg.train, epochs=epochs, lr=lr, batch_size=min(batch_size, len(x_l)), seed=seed,
                                    early_stopping=None, schedule="none", quiet=not progress, log=[])
    out: dict[str, Any] = {"run": str(run), "labels": int(keep.sum()), "classes": n_classes, "epochs": epochs, "lr": lr,
                           "freeze_encoder": freeze, "seed": seed, "n_test": int(len(data.x_test))}
    variants = {"pretrained": lambda: load(run)}
    if scratch:
        variants["scratch"] = lambda: build_for_data(load_config(run), data)  # same network, fresh seeded weights
    tag = "all" if labels is None else str(labels)
    for name, make in variants.items():
        torch.manual_seed(seed)
        ae = make()
        clf = EncoderClassifier(ae, n_classes, freeze_encoder=freeze, init=ae.cfg.init)
        Trainer(clf, train_cfg, progress=progress).fit(x_l, y_l)
        clf.cpu()
        out[f"{name}_test_accuracy"] = _accuracy(clf, data.x_test, data.y_test)
        log.info("%s: test accuracy %.4f", name, out[f"{name}_test_accuracy"])
        if name == "pretrained":
            save_weights(clf, run / f"finetune-{tag}.safetensors")
            out["weights"] = f"finetune-{tag}.safetensors"
    atomic_write_json(run / f"finetune-{tag}.json", out)
    return out


def load_finetuned(run: str | Path, tag: str | int) -> Any:
    """The classifier ``aekit finetune RUN --labels TAG`` fine-tuned (TAG: the label count or "all"),
    rebuilt from the run's model and ``finetune-TAG.safetensors`` (CPU, eval mode)."""
    from safetensors.torch import load_file

    from ..models.finetune import EncoderClassifier
    from ..run import load

    run = Path(run)
    meta, weights = run / f"finetune-{tag}.json", run / f"finetune-{tag}.safetensors"
    if not weights.exists() or not meta.exists():
        have = sorted(p.stem.removeprefix("finetune-") for p in run.glob("finetune-*.safetensors"))
        raise AekitError(f"{run} has no classifier fine-tuned with {tag} labels"
                         + (f" (it has: {', '.join(have)})" if have else ""),
                         f"fine-tune one first: aekit finetune {run} --labels {tag}")
    info = json.loads(meta.read_text())
    clf = EncoderClassifier(load(run), int(info["classes"]), freeze_encoder=bool(info.get("freeze_encoder", False)))
    clf.load_state_dict(load_file(str(weights)))
    return clf.eval()


__all__ = ["finetune", "load_finetuned"]
