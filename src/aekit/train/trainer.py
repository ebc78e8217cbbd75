"""The one training loop, for every model.

A model declares ``training_plan()``: stages run in order, each with phases stepped in turn on
every batch, each phase with its own optimiser. The trainer knows nothing else about models.

Speed, by design: in-memory data lives on the target device as one tensor, shuffled once per
epoch, and batches are contiguous slices of it; loss terms accumulate on the device and are read
back only when the progress display refreshes and at the end of an epoch.

Reproducibility: the run's seed fixes the initial weights (set before the model is built by the
caller), the shuffling generator and the global RNG used by corruptions. Checkpoints hold all of
that state, so an interrupted or extended run resumes exactly (2 + 2 epochs = 4 epochs).
"""
from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from ..errors import AekitError
from . import distributed as dist_
from .checkpoint import load_state, save_state

log = logging.getLogger("aekit.train")


class TrainingDiverged(AekitError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
    """Ctrl-C: a checkpoint was written at the point of interruption."""

    def __init__(self, checkpoint: Path | None):
        self.checkpoint = checkpoint
        super().__init__(f"training interrupted; checkpoint: {checkpoint}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AekitError(f"--device {name} asked for, but no CUDA GPU is available", "use --device cpu (or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise AekitError(f"unknown device {name!r}", "use auto, cpu, cuda or cuda:N") from None


@dataclass
class _Position:
    """Where training stands; saved in every checkpoint."""

    stage: int = 0
    epoch: int = 0          # epochs completed in the current stage
    step: int = 0           # batches completed in the current epoch (non-zero only mid-epoch)
    best: float = math.inf  # best validation loss (early stopping)
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _make_optimizer(params: list[nn.Parameter], cfg: TrainConfig, lr: float | None = None,
                    betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    lr = cfg.lr if lr is None else lr
    extra = {"betas": tuple(betas)} if betas is not None and cfg.optimizer != "sgd" else {}
    if not params:
        raise ValueError("a training phase has no trainable parameters")
    dev_ok = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    if cfg.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        # the fused kernel is the fastest path on CPU and GPU alike (see BENCHMARKS.md)
        return cls(params, lr=lr, fused=dev_ok or None, **extra)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum)


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, epochs: int) -> Any:
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.gamma, patience=2)
    return None


class _ArrayDataset(torch.utils.data.Dataset):
    """For the DataLoader path: rows of (possibly memory-mapped) arrays, fetched a batch at a time."""

    def __init__(self, x: np.ndarray, y: np.ndarray | None):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = np.sort(np.asarray(idx))
        xb = torch.from_numpy(np.ascontiguousarray(self.x[idx], dtype=np.float32))
        yb = torch.from_numpy(np.asarray(self.y[idx], dtype=np.int64)) if self.y is not None else None
        return xb, yb


def _collate(batch: Any) -> Any:
    return batch


class Trainer:
    """Runs a model's training plan on arrays; writes checkpoints to ``checkpoint_dir``.

    ``progress``: a progress bar on a terminal, plain per-epoch log lines otherwise.
    ``on_epoch_end(row)`` callbacks see each history row as it is made.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, checkpoint_dir: Path | None = None,
                 progress: bool = True, callbacks: list[Callable[[dict[str, Any]], None]] | None = None):
        self.model = model
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.dist = dist_.setup(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress and not cfg.quiet and self.dist.is_main
        self.callbacks = list(callbacks or [])
        self.model.to(self.device)
        self.pos = _Position()
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        # corruption noise differs per rank; weights are broadcast from rank 0 by DDP
        torch.manual_seed(cfg.seed + 1000 * self.dist.rank)
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(cfg.seed + 1000 * self.dist.rank)
        self._epoch_start_gen: torch.Tensor | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []

    # ---- checkpoints ------------------------------------------------------------------------------
    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpoint_dir / "last.safetensors" if self.checkpoint_dir else None

    def _state(self) -> dict[str, Any]:
        p = self.pos
        state = {
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() if s is not None else None for s in self.schedulers],
            "position": {"stage": p.stage, "epoch": p.epoch, "step": p.step, "best": p.best if math.isfinite(p.best) else None,
                         "bad_epochs": p.bad_epochs, "history": p.history, "base_lr": self.cfg.lr},
            "rng": {"torch": torch.get_rng_state(),
                    "shuffle": self._epoch_start_gen if p.step and self._epoch_start_gen is not None else self.shuffle.get_state()},
            "sums": {k: v for k, v in self._sums.items()} if p.step else {},
            "count": self._count if p.step else 0,
        }
        if self.device.type == "cuda":
            state["rng"]["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def save_checkpoint(self, name: str = "last") -> Path | None:
        if not self.checkpoint_dir or not self.dist.is_main:
            return None
        path = self.checkpoint_dir / f"{name}.safetensors"
        save_state(path, self._state())
        return path

    def _restore(self, path: Path) -> None:
        state = load_state(path)
        self.model.load_state_dict(state["model"])
        self.model.to(self.device)
        p = state["position"]
        self.pos = _Position(p["stage"], p["epoch"], p["step"], p["best"] if p["best"] is not None else math.inf,
                             p["bad_epochs"], list(p["history"]))
        self._pending_opt = state["optimizers"], state["schedulers"]
        self._saved_base_lr = p.get("base_lr")
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.shuffle.set_state(state["rng"]["shuffle"])
        self._sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self._count = state["count"]

    # ---- data -----------------------------------------------------------------------------------
    def _in_memory(self, x: np.ndarray) -> bool:
        if self.cfg.in_memory is not None:
            return self.cfg.in_memory
        return not isinstance(x, np.memmap) and x.nbytes < 4 * 2**30

    def _to_device(self, a: np.ndarray | None, dtype: torch.dtype) -> torch.Tensor | None:
        if a is None:
            return None
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(self.device)

    # ---- the loop ---------------------------------------------------------------------------------
    def fit(self, x_train: np.ndarray, y_train: np.ndarray | None = None, x_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, resume: bool = False) -> list[dict[str, Any]]:
        """Train through the model's plan; returns the history (one row per epoch)."""
        if resume:
            if self.last_checkpoint is None or not self.last_checkpoint.exists():
                raise AekitError(f"--resume: no checkpoint at {self.last_checkpoint}", "train without --resume first")
            self._restore(self.last_checkpoint)
            log.info("resumed from %s (stage %d, epoch %d, step %d)", self.last_checkpoint, self.pos.stage, self.pos.epoch, self.pos.step)
        in_memory = self._in_memory(x_train)
        x_t = self._to_device(x_train, torch.float32) if in_memory else None
        y_t = self._to_device(y_train, torch.long) if in_memory else None
        xv = self._to_device(x_val, torch.float32)
        yv = self._to_device(y_val, torch.long)
        plan = self.model.training_plan()
        multi = len(plan) > 1 or len(plan[0].phases) > 1
        step_model: nn.Module = self.model
        if self.dist.enabled:
            step_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=multi)
        elif self.cfg.compile:
            step_model = torch.compile(self.model)
        try:
            for si in range(self.pos.stage, len(plan)):
                stage = plan[si]
                epochs = self.cfg.epochs if stage.epochs is None else stage.epochs
                self._begin_stage(si, stage, epochs)
                while self.pos.epoch < epochs:
                    row = self._run_epoch(step_model, stage, epochs, x_train, y_train, x_t, y_t, xv, yv, in_memory, len(plan) > 1)
                    self.pos.history.append(row)
                    for cb in self.callbacks:
                        cb(row)
                    if self.pos.epoch % self.cfg.checkpoint_every == 0 or self.pos.epoch == epochs:
                        self.save_checkpoint("last")
                    if self._early_stop(row, stage):
                        break
                if si + 1 < len(plan):  # the last stage stays current, so --resume can extend it
                    self.pos.stage, self.pos.epoch, self.pos.step = si + 1, 0, 0
                    self.pos.best, self.pos.bad_epochs = math.inf, 0
                    self.optimizers, self.schedulers = [], []
            self.save_checkpoint("last")
            if self.cfg.early_stopping and self.checkpoint_dir and (self.checkpoint_dir / "best.safetensors").exists():
                best = load_state(self.checkpoint_dir / "best.safetensors", self.device)
                self.model.load_state_dict(best["model"])
                log.info("restored the weights of the best validation epoch")
        finally:
            dist_.barrier(self.dist)
        return self.pos.history

    def _begin_stage(self, si: int, stage: Any, epochs: int) -> None:
        self.optimizers = [_make_optimizer(ph.parameters(), self.cfg, ph.lr, ph.betas) for ph in stage.phases]
        self.schedulers = [_make_scheduler(o, self.cfg, epochs) for o in self.optimizers]
        pending = getattr(self, "_pending_opt", None)
        if pending is not None:
            opts, scheds = pending
            if len(opts) == len(self.optimizers):
                for o, s in zip(self.optimizers, opts):
                    o.load_state_dict(s)
                for sch, s in zip(self.schedulers, scheds):
                    if sch is not None and s is not None:
                        sch.load_state_dict(s)
                self._apply_changed_settings(epochs)
            self._pending_opt = None

    def _apply_changed_settings(self, epochs: int) -> None:
        """On resume, a new --lr rescales the restored learning rates and a new --epochs
        stretches a cosine schedule; everything else continues exactly."""
        old_lr = getattr(self, "_saved_base_lr", None)
        if old_lr and old_lr != self.cfg.lr:
            factor = self.cfg.lr / old_lr
            for o in self.optimizers:
                for g in o.param_groups:
                    g["lr"] *= factor
                    if "initial_lr" in g:
                        g["initial_lr"] *= factor
            for sch in self.schedulers:
                if sch is not None and hasattr(sch, "base_lrs"):
                    sch.base_lrs = [b * factor for b in sch.base_lrs]
            log.info("resume: learning rate changed from %g to %g", old_lr, self.cfg.lr)
        for sch in self.schedulers:
            if isinstance(sch, torch.optim.lr_scheduler.CosineAnnealingLR):
                sch.T_max = max(epochs, 1)

    def _batches(self, n: int, in_memory: bool, x_t: torch.Tensor | None, y_t: torch.Tensor | None,
                 x_np: np.ndarray, y_np: np.ndarray | None):
        """Yields (step, x_batch, y_batch) for this epoch from ``self.pos.step`` on."""
        B, W, r = self.cfg.batch_size, self.dist.world, self.dist.rank
        self._epoch_start_gen = self.shuffle.get_state()
        perm = torch.randperm(n, generator=self.shuffle)
        global_b = B * W
        # one process keeps the last partial batch; under DDP every rank must take the same number
        # of steps, so the remainder of the epoch's permutation (< B·W examples) is left out
        steps = math.ceil(n / global_b) if W == 1 else n // global_b
        if steps == 0:
            raise AekitError(f"{n} training examples are fewer than one batch across {W} processes", "lower --batch-size")
        start = self.pos.step
        if in_memory:
            assert x_t is not None
            perm_d = perm.to(self.device)
            xs = x_t.index_select(0, perm_d)  # the one pre-shuffled tensor of this epoch
            ys = y_t.index_select(0, perm_d) if y_t is not None else None
            for s in range(start, steps):
                sl = slice(s * global_b + r, (s + 1) * global_b, W) if W > 1 else slice(s * B, (s + 1) * B)
                yield s, steps, xs[sl], (ys[sl] if ys is not None else None)
        else:
            order = perm.numpy()
            chunks = [order[s * global_b: (s + 1) * global_b][r::W] for s in range(start, steps)]
            loader = torch.utils.data.DataLoader(_ArrayDataset(x_np, y_np), batch_sampler=chunks, collate_fn=_collate,
                                                 num_workers=self.cfg.num_workers, pin_memory=self.device.type == "cuda")
            for s, (xb, yb) in zip(range(start, steps), loader):
                yield s, steps, xb.to(self.device, non_blocking=True), (yb.to(self.device, non_blocking=True) if yb is not None else None)

    def _run_epoch(self, step_model: nn.Module, stage: Any, epochs: int, x_np: np.ndarray, y_np: np.ndarray | None,
                   x_t: torch.Tensor | None, y_t: torch.Tensor | None, xv: torch.Tensor | None, yv: torch.Tensor | None,
                   in_memory: bool, show_stage: bool) -> dict[str, Any]:
        cfg = self.cfg
        self.model.train()
        n = len(x_np)
        if self.pos.step == 0:
            self._sums, self._count = {}, 0
        multi_phase = len(stage.phases) > 1
        params = [[p for p in ph.parameters() if p.requires_grad] for ph in stage.phases]
        t0 = time.perf_counter()
        seen = 0
        bar = None
        label = f"{stage.name} " if show_stage else ""
        desc = f"{label}epoch {self.pos.epoch + 1}/{epochs}"
        if self.progress and sys.stderr.isatty():
            from tqdm.auto import tqdm

            bar = tqdm(total=None, desc=desc, unit="batch", leave=False, dynamic_ncols=True, file=sys.stderr)
        refresh = 50
        try:
            for s, steps, xb, yb in self._batches(n, in_memory, x_t, y_t, x_np, y_np):
                if bar is not None and bar.total is None:
                    bar.total = steps
                    bar.update(s)
                for ph, opt, ps in zip(stage.phases, self.optimizers, params):
                    terms = step_model(xb, yb, phase=ph.name)
                    opt.zero_grad(set_to_none=True)
                    terms["loss"].backward()
                    if cfg.clip_grad:
                        torch.nn.utils.clip_grad_norm_(ps, cfg.clip_grad)
                    opt.step()
                    bs = xb.shape[0]
                    for k, v in terms.items():
                        key = f"{ph.name}/{k}" if multi_phase else k
                        v = v.detach() * bs
                        acc = self._sums.get(key)
                        self._sums[key] = v if acc is None else acc + v
                self._count += xb.shape[0]
                seen += xb.shape[0]
                self.pos.step = s + 1
                if (s + 1) % refresh == 0 or s + 1 == steps:
                    self._check_finite(s + 1)
                    if bar is not None:
                        el = time.perf_counter() - t0
                        post = {k: f"{v.item() / self._count:.4g}" for k, v in self._sums.items()}
                        post["samples/s"] = f"{seen / max(el, 1e-9):.0f}"
                        bar.set_postfix(post, refresh=False)
                        bar.update(s + 1 - bar.n)
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            path = self.save_checkpoint("last")
            raise TrainingInterrupted(path) from None
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - t0
        # epoch summary: one sync per epoch, summed over ranks
        keys = sorted(self._sums)
        total = dist_.all_reduce_sum(torch.stack([self._sums[k] for k in keys] + [torch.tensor(float(self._count), device=self.device)]), self.dist)
        vals = (total[:-1] / total[-1]).tolist()
        row: dict[str, Any] = {"stage": stage.name, "epoch": self.pos.epoch + 1}
        row.update({k: v for k, v in zip(keys, vals)})
        if multi_phase and f"{stage.phases[0].name}/loss" in row:
            row["loss"] = row[f"{stage.phases[0].name}/loss"]  # the first phase is the model's main objective
        if xv is not None:
            row.update({f"val_{k}": v for k, v in self.evaluate_terms(xv, yv).items()})
        row["lr"] = self.optimizers[0].param_groups[0]["lr"]
        row["epoch_time_s"] = elapsed
        row["samples_per_s"] = seen * self.dist.world / max(elapsed, 1e-9)
        self.pos.epoch += 1
        self.pos.step = 0
        self._sums, self._count = {}, 0
        for sch in self.schedulers:
            if isinstance(sch, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sch.step(row.get("val_loss", row.get("loss", 0.0)))
            elif sch is not None:
                sch.step()
        if not cfg.quiet and self.dist.is_main:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("stage", "epoch", "lr"))
            log.info("%s: %s", desc, shown)
        return row

    def _check_finite(self, step: int) -> None:
        loss_keys = [k for k in self._sums if k == "loss" or k.endswith("/loss")]
        bad = [k for k in loss_keys if not torch.isfinite(self._sums[k]).item()]
        if bad:
            where = f"epoch {self.pos.epoch + 1}, step {step}"
            keep = f"; the last good checkpoint is kept at {self.last_checkpoint}" if self.last_checkpoint and self.last_checkpoint.exists() else ""
            raise TrainingDiverged(
                f"the loss became NaN/inf at {where}{keep}",
                "lower the learning rate (e.g. --lr 1e-4), add gradient clipping (--set train.clip_grad=1.0), "
                "or scale the data (--set data.scale=standard); a Gaussian likelihood with learned sigma can also diverge on constant features",
            )

    @torch.no_grad()
    def evaluate_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1024) -> dict[str, float]:
        """Mean loss terms of the model's main objective on clean inputs (no corruption)."""
        was = self.model.training
        self.model.eval()
        sums: dict[str, torch.Tensor] = {}
        try:
            for i in range(0, x.shape[0], batch_size):
                xb = x[i: i + batch_size]
                yb = y[i: i + batch_size] if y is not None else None
                terms = self.model.loss(xb, yb, corrupt=False)
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0) + v.detach() * xb.shape[0]
        finally:
            self.model.train(was)
        return {k: (v / x.shape[0]).item() for k, v in sums.items()}

    def _early_stop(self, row: dict[str, Any], stage: Any) -> bool:
        if not self.cfg.early_stopping or "val_loss" not in row or stage.name.startswith("pretrain"):
            return False
        if row["val_loss"] < self.pos.best - 1e-6:
            self.pos.best, self.pos.bad_epochs = row["val_loss"], 0
            self.save_checkpoint("best")
            return False
        self.pos.bad_epochs += 1
        if self.pos.bad_epochs >= self.cfg.early_stopping:
            log.info("early stopping: no improvement of val_loss for %d epochs", self.pos.bad_epochs)
            return True
        return False
