"""Training runs: from a config to a run folder, and back (``aekit.load``).

    runs/<name>/
      config.yaml        the full resolved config: enough to rebuild the model
      model.safetensors  weights and the fitted input scaling (no pickle anywhere)
      metrics.json       final figures on the test split
      history.csv        one row per epoch: each loss term, validation terms, epoch_time_s, samples_per_s
      report.html        self-contained figures
      checkpoints/       last (+ best with early stopping), written atomically, resumable
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

from .config import RunConfig, build_config
from .data import Prepared, prepare
from .errors import AekitError
from .io import atomic_write, atomic_write_json, atomic_write_text
from .models import get_spec
from .models.registry import config_from_dict
from .train import Trainer, resolve_device
from .train import distributed as dist_

log = logging.getLogger("aekit")


def resolve_model_config(cfg: RunConfig, data: Prepared) -> None:
    """Fill in what the model takes from the data: input shape, value range, 'auto' likelihood."""
    m = cfg.model
    m.input_shape = list(data.input_shape)
    x = data.x_train
    if data.scaler.kind != "none":
        flat = x.reshape(len(x), -1)
        x = (flat - data.scaler.shift.reshape(-1)) / data.scaler.scale.reshape(-1)
    lo, hi = float(np.min(x)), float(np.max(x))
    m.input_range = [lo, hi]
    if m.likelihood == "auto":
        m.likelihood = "bernoulli" if lo >= 0.0 and hi <= 1.0 else "gaussian"
    if hasattr(m, "n_classes"):
        if data.y_train is None:
            raise AekitError(f"the model {cfg.model_name} needs labels, but {data.source} has none",
                             "use a labelled data set (for a CSV, --label-column), or an unconditional model such as vae")
        ys = [v for v in (data.y_train, data.y_val, data.y_test) if v is not None and len(v)]
        m.n_classes = int(max(int(v.max()) for v in ys)) + 1
    if m.likelihood == "bernoulli" and (lo < 0.0 or hi > 1.0):
        raise AekitError(
            f"a Bernoulli likelihood needs values in [0, 1], but the data range is [{lo:.4g}, {hi:.4g}]",
            "use --likelihood gaussian or --scale minmax",
        )


def build_for_data(cfg: RunConfig, data: Prepared) -> torch.nn.Module:
    resolve_model_config(cfg, data)
    torch.manual_seed(cfg.train.seed)  # same seed → same initial weights
    model = get_spec(cfg.model_name).cls(cfg.model)
    if data.scaler.kind != "none":
        shape = model.input_shape
        model.input_shift.copy_(torch.from_numpy(data.scaler.shift.reshape(shape)))
        model.input_scale.copy_(torch.from_numpy(data.scaler.scale.reshape(shape)))
    return model


def scaled_arrays(model: torch.nn.Module, data: Prepared) -> dict[str, np.ndarray | None]:
    """The data splits in the model's own space (the fitted scaling applied)."""
    out: dict[str, np.ndarray | None] = {}
    for name in ("train", "val", "test"):
        x = getattr(data, f"x_{name}")
        if x is not None and data.scaler.kind != "none":
            shape = x.shape
            x = ((x.reshape(len(x), -1) - data.scaler.shift.reshape(-1)) / data.scaler.scale.reshape(-1)).reshape(shape).astype(np.float32)
        out[name] = x
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


def evaluate_model(model: torch.nn.Module, x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 1024) -> dict[str, Any]:
    """Test figures of a trained model on model-space data ``x``: loss terms, MSE, BCE, PSNR,
    and the family's own figures (``model.extra_metrics``)."""
    from .metrics import bce, mse, psnr

    device = model.device
    model.eval()
    sums: dict[str, float] = {}
    recons = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i: i + batch_size])).to(device)
            yb = torch.from_numpy(np.asarray(y[i: i + batch_size])).to(device) if y is not None else None
            for k, v in model.loss(xb, yb, corrupt=False).items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
            recons.append(model.likelihood.mean(model._recon_params(xb, yb)).cpu().numpy())
    x_hat = np.concatenate(recons)
    out = {f"test_{k}": v / len(x) for k, v in sums.items()}
    out["test_mse"] = mse(x, x_hat)
    lo, hi = model.cfg.input_range
    if lo >= 0 and hi <= 1:
        out["test_bce"] = bce(x, x_hat)
        out["test_psnr_db"] = psnr(x, x_hat, 1.0)
    yt = torch.from_numpy(np.asarray(y)) if y is not None else None
    out.update(model.extra_metrics(torch.from_numpy(np.ascontiguousarray(x)), yt))
    for w in out.get("warnings", []):
        log.warning("warning: %s", w)
    return out


def train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train ``cfg`` and write the run folder ``out``; returns its path."""
    out = Path(out)
    if resume:
        saved = out / "config.yaml"
        if not saved.exists():
            raise AekitError(f"--resume: {saved} does not exist", f"train into {out} without --resume first")
    elif (out / "checkpoints" / "last.safetensors").exists():
        raise AekitError(f"{out} already holds a run", "pass --resume to continue it, or choose another --out")
    data = prepare(cfg.data, cfg.train.seed)
    model = build_for_data(cfg, data)
    arrays = scaled_arrays(model, data)
    if cfg.data.labels is not None and data.y_train is not None:
        known = data.y_train >= 0
        model.set_labelled(torch.from_numpy(arrays["train"][known]), torch.from_numpy(data.y_train[known]))
    trainer = Trainer(model, cfg.train, checkpoint_dir=out / "checkpoints", progress=progress)
    if trainer.dist.is_main:
        cfg.dump(out / "config.yaml")
    history = trainer.fit(arrays["train"], data.y_train, arrays["val"], data.y_val, resume=resume)
    if trainer.dist.is_main:
        save_weights(model, out / "model.safetensors")
        atomic_write_text(out / "history.csv", history_csv(history))
        metrics: dict[str, Any] = {}
        if arrays["test"] is not None:
            metrics.update(evaluate_model(model, arrays["test"], data.y_test))
        last = history[-1] if history else {}
        metrics.update({"epochs": sum(1 for r in history if r.get("stage") == last.get("stage")),
                        "train_loss": last.get("loss"), "val_loss": last.get("val_loss"),
                        "mean_epoch_time_s": float(np.mean([r["epoch_time_s"] for r in history])) if history else None,
                        "n_params": sum(p.numel() for p in model.parameters()),
                        "device": str(trainer.device), "torch": torch.__version__})
        atomic_write_json(out / "metrics.json", metrics)
        _report(out, cfg, model, data, history, metrics)
    dist_.barrier(trainer.dist)
    dist_.teardown(trainer.dist)
    return out


def _report(out: Path, cfg: RunConfig, model: torch.nn.Module, data: Prepared, history: list[dict[str, Any]], metrics: dict[str, Any]) -> None:
    try:
        from .plots.report import write_report
    except ImportError:  # pragma: no cover - plots are part of the package
        return
    write_report(out / "report.html", title=f"aekit run: {cfg.model_name} on {cfg.data.name}", model=model.cpu(), data=data,
                 history=history, metrics=metrics, config=cfg.to_dict())


def save_weights(model: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "aekit"}))


def load_config(run_dir: str | Path) -> RunConfig:
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.exists():
        raise AekitError(f"{run_dir} is not a run folder (no config.yaml)", "give the folder that `aekit train --out` wrote")
    raw = yaml.safe_load(path.read_text()) or {}
    model = dict(raw.get("model") or {})
    name = model.pop("name", "ae")
    cfg = build_config([{"data": raw.get("data"), "train": raw.get("train")}, {"model": {"name": name}}])
    cfg.model = config_from_dict(name, model)
    return cfg


def load(run_dir: str | Path, device: str = "cpu", checkpoint: str | None = None) -> torch.nn.Module:
    """Rebuild a trained model from a run folder: config.yaml + model.safetensors, nothing else.

    ``checkpoint="last"`` loads ``checkpoints/last.safetensors`` instead (a run still training).
    """
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    model = get_spec(cfg.model_name).cls(cfg.model)
    if checkpoint:
        from .train import load_state

        state = load_state(run_dir / "checkpoints" / f"{checkpoint}.safetensors")["model"]
    else:
        path = run_dir / "model.safetensors"
        if not path.exists():
            raise AekitError(f"{path} does not exist", "the run has not finished; use checkpoint='last' or `aekit train --resume`")
        try:
            state = load_file(str(path))
        except Exception as e:
            raise AekitError(f"{path} is unreadable ({e})", "the file is corrupt: retrain or restore it") from None
    model.load_state_dict(state)
    model.eval()
    return model.to(resolve_device(device))


