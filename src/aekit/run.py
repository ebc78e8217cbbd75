"""Training runs: from a config to a run folder, and back (``aekit.load``).

    runs/<name>/
      config.yaml        the full resolved config (and notes on what was resolved): enough to rebuild the model
      model.safetensors  weights and the fitted input scaling (no pickle anywhere)
      metrics.json       final figures on the test split
      history.csv        one row per epoch: each loss term, validation terms, lr, epoch_time_s, samples_per_s
      report.html        self-contained figures
      checkpoints/       last (+ best with early stopping), written atomically, resumable

A refused command leaves the folder as it was: everything that can fail (the data, the model, a
resume's compatibility and its checkpoint) is checked before the first write.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .data import Prepared, prepare
from .errors import AekitError
from .evaluate import clip_for_likelihood, evaluate_model
from .io import atomic_write, atomic_write_json, atomic_write_text
from .models import get_spec, load_model
from .models.output_bias import init_output_bias
from .resolve import resolve_model_config
from .runconfig import RunConfig, check_resume, load_config, read_saved
from .train import Trainer
from .train import distributed as dist_

log = logging.getLogger("aekit")


def run_data(cfg: RunConfig) -> Prepared:
    """The run's own data, split as in training (the seed), its labels mapped to the run's classes
    (−1 kept as unlabelled for the semi-supervised families)."""
    return prepare(cfg.data, cfg.train.seed, allow_unlabelled=type(cfg.model).label_use == "partial")


def scale(data: Prepared, x: np.ndarray | None) -> np.ndarray | None:
    """``x`` in the model's space (the scaling fitted on the training split applied)."""
    if x is None or data.scaler.kind == "none":
        return x
    shape = x.shape
    return ((x.reshape(len(x), -1) - data.scaler.shift.reshape(-1)) / data.scaler.scale.reshape(-1)).reshape(shape).astype(np.float32)


def build_for_data(cfg: RunConfig, data: Prepared) -> torch.nn.Module:
    """The untrained model of ``cfg`` for ``data``: its config resolved from the data, seeded weights,
    the fitted scaling in its buffers."""
    if data.classes:
        cfg.data.classes = list(data.classes)
    if data.vocab is not None:  # text: the run reads and decodes new text with its own vocabulary
        cfg.data.vocab = "".join(data.vocab)
    x_train = scale(data, data.x_train)
    resolve_model_config(cfg, data, x_train)
    torch.manual_seed(cfg.train.seed)  # same seed → same initial weights
    model = get_spec(cfg.model_name).build(cfg.model)
    if getattr(cfg.model, "output_bias", "zero") == "data":
        init_output_bias(model, x_train)
    if data.scaler.kind != "none":
        shape = model.input_shape
        model.input_shift.copy_(torch.from_numpy(data.scaler.shift.reshape(shape)))
        model.input_scale.copy_(torch.from_numpy(data.scaler.scale.reshape(shape)))
    return model


def scaled_arrays(model: torch.nn.Module, data: Prepared, notes: dict[str, str] | None = None) -> dict[str, np.ndarray | None]:
    """The splits in the model's space. Validation values a Bernoulli model cannot score (outside
    [0, 1] after a min-max fitted on the training split) are clipped, with a note; the test split is
    left to ``evaluate_model``, which clips it the same way and counts what it clipped."""
    out = {name: scale(data, getattr(data, f"x_{name}")) for name in ("train", "val", "test")}
    if out["val"] is not None:
        out["val"], n = clip_for_likelihood(model, out["val"], "validation data")
        if n and notes is not None:
            notes["clipped_val"] = f"{n} validation values outside [0, 1] clipped for the Bernoulli likelihood"
    return out


def history_csv(history: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow(row)
    return buf.getvalue()


def make_trainer(cfg: RunConfig, data: Prepared, model: torch.nn.Module, checkpoint_dir: Path | None, progress: bool = True,
                 log_dir: Path | None = None) -> tuple[Trainer, dict[str, np.ndarray | None]]:
    """The Trainer of ``cfg`` for ``model`` (from :func:`build_for_data`), and the splits of ``data``
    in the model's space; semi-supervised models receive their labelled examples here. Train with
    ``trainer.fit(arrays["train"], data.y_train, arrays["val"], data.y_val)``."""
    arrays = scaled_arrays(model, data, cfg.notes)
    if cfg.data.labels is not None and data.y_train is not None:
        known = data.y_train >= 0
        model.set_labelled(torch.from_numpy(arrays["train"][known]), torch.from_numpy(data.y_train[known]))
    return Trainer(model, cfg.train, checkpoint_dir=checkpoint_dir, progress=progress, log_dir=log_dir), arrays


def train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True, data: Prepared | None = None) -> Path:
    """Train ``cfg`` and write the run folder ``out``; returns its path. With ``resume``, continue the
    run in ``out`` from its last checkpoint (``cfg`` from :func:`aekit.runconfig.resume_config`).
    ``data``: prepared in-memory data (``aekit.fit``) instead of loading ``cfg.data``."""
    out = Path(out)
    last = out / "checkpoints" / "last.safetensors"
    saved = None
    if resume:
        saved = read_saved(out, resume=True)
        if not last.exists():
            raise AekitError(f"--resume: {out} has no checkpoint (its training stopped before the first epoch ended)",
                             f"train it again without --resume, into another --out or after deleting {out}")
    elif last.exists():
        raise AekitError(f"{out} already holds a run", "pass --resume to continue it, or choose another --out")
    data = run_data(cfg) if data is None else data
    model = build_for_data(cfg, data)
    if saved is not None:
        for change in check_resume(saved, cfg):
            log.info("resume: %s", change)
    trainer, arrays = make_trainer(cfg, data, model, out / "checkpoints", progress, out if cfg.train.log else None)
    if resume:
        trainer.restore(last)  # a checkpoint that does not fit fails here, before anything is written
    trainer.check_monitor(arrays["val"], data.y_val)  # before anything is written
    if trainer.dist.is_main:
        cfg.dump(out / "config.yaml")
    history = trainer.fit(arrays["train"], data.y_train, arrays["val"], data.y_val)
    if trainer.dist.is_main:
        save_weights(model, out / "model.safetensors")
        atomic_write_text(out / "history.csv", history_csv(history))
        metrics: dict[str, Any] = {}
        if arrays["test"] is not None:
            metrics.update(evaluate_model(model, arrays["test"], data.y_test))
        last_row = history[-1] if history else {}
        kept = last_row  # the epoch whose weights model.safetensors holds
        if trainer.selected_epoch is not None:
            kept = next(r for r in history if r.get("stage") == last_row.get("stage") and r["epoch"] == trainer.selected_epoch)
            metrics["selected"] = {"epoch": trainer.selected_epoch, "monitor": f"val_{cfg.train.monitor}",
                                   "value": kept[f"val_{cfg.train.monitor}"]}
        metrics.update({"epochs": sum(1 for r in history if r.get("stage") == last_row.get("stage")),
                        "train_loss": kept.get("loss"), "val_loss": kept.get("val_loss"),
                        "mean_epoch_time_s": float(np.mean([r["epoch_time_s"] for r in history])) if history else None,
                        "n_params": sum(p.numel() for p in model.parameters()),
                        "device": str(trainer.device), "precision": trainer.precision, "torch": torch.__version__})
        atomic_write_json(out / "metrics.json", metrics)
        _report(out, cfg, model, data, history, metrics)
    dist_.barrier(trainer.dist)
    dist_.teardown(trainer.dist)
    return out


def _report(out: Path, cfg: RunConfig, model: torch.nn.Module, data: Prepared, history: list[dict[str, Any]],
            metrics: dict[str, Any]) -> None:
    from .plots.report import write_report

    write_report(out / "report.html", title=f"aekit run: {cfg.model_name} on {cfg.data.name}", model=model.cpu(), data=data,
                 history=history, metrics=metrics, config=cfg.to_dict())


def save_weights(model: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "aekit"}))


def load(run_dir: str | Path, device: str = "cpu", checkpoint: str | None = None) -> torch.nn.Module:
    """Rebuild a trained model from a run folder: config.yaml + model.safetensors, nothing else.

    ``checkpoint="last"`` loads ``checkpoints/last.safetensors`` instead (a run still training or
    interrupted); ``"best"`` the best validation epoch's weights (early stopping)."""
    from .train import resolve_device

    return load_model(run_dir, resolve_device(device), checkpoint)


__all__ = ["train", "make_trainer", "load", "load_config", "run_data", "build_for_data", "scaled_arrays", "history_csv", "save_weights"]
