"""The one training loop, for every model.

A model declares ``training_plan()``: stages run in order, each with phases stepped in turn on
every batch, each phase with its own optimiser. The trainer knows nothing else about models.

Speed, by design: in-memory data lives on the target device as one tensor, and each batch gathers
its rows of the epoch's permutation from it (batches.py); loss terms accumulate on the device
and are read back only when the progress display refreshes and at the end of an epoch; the forward
pass and loss run under autocast when ``train.precision`` asks for bf16 or fp16 (precision.py).

Reproducibility: the run's seed fixes the initial weights (set before the model is built by the
caller), the shuffling generator and the global RNG used by corruptions (each rank its own stream
under torchrun). Checkpoints (checkpoint.py) hold all of that state, so an interrupted or extended
run resumes exactly (2 + 2 epochs = 4 epochs), under DDP too.

Resume rules, one for every phase: the optimiser state (Adam's moments) continues; the
hyperparameters come from the current config — each phase's base rate (its own, such as
``model.disc_lr``, else ``train.lr``) times the schedule's factor at the current epoch
(schedules.py), its betas, Adam's ε (``train.adam_eps``) and momentum — and the log says what
changed. A run that had stopped early resumes with a fresh patience count (the best validation
loss so far is kept).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from ..errors import AekitError
from ..io import load_state
from ..progress import bar as progress_bar
from ..progress import interactive, line
from . import distributed as dist_
from .batches import Batch, epoch_batches, fits_in_memory, to_device
from .checkpoint import Checkpointing, Position
from .loggers import make_loggers
from .layout import match_optimizer_layout, model_layout, resolve_memory_format, to_layout
from .precision import autocast, grad_scaler, resolve_precision
from .schedules import lr_factor

log = logging.getLogger("aekit.train")


class TrainingDiverged(AekitError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
    """Ctrl-C: a checkpoint was written at the point of interruption (None: the last epoch's is kept)."""

    def __init__(self, checkpoint: Path | None):
        self.checkpoint = checkpoint
        super().__init__(f"training interrupted; checkpoint: {checkpoint}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise AekitError(f"--device {name} asked for, but no CUDA GPU is available", "use --device cpu (or auto)")
        idx = name.partition(":")[2]
        if idx and (not idx.isdigit() or int(idx) >= torch.cuda.device_count()):
            n = torch.cuda.device_count()
            raise AekitError(f"--device {name}: this machine has {n} CUDA GPU{'s' if n != 1 else ''} (cuda:0..cuda:{n - 1})",
                             "use --device cuda (the first GPU) or one of those")
    try:
        return torch.device(name)
    except RuntimeError:
        raise AekitError(f"unknown device {name!r}", "use auto, cpu, cuda or cuda:N") from None


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig, lr: float, betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("a training phase has no trainable parameters")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    extra: dict[str, Any] = {"eps": cfg.adam_eps, "betas": tuple(betas) if betas is not None else (cfg.adam_beta1, 0.999)}
    # the fused kernel is the fastest path on CPU and GPU alike (see BENCHMARKS.md); it arrived on
    # CPU in torch 2.4, so older builds (or other devices) use the default implementation
    if all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params):
        try:
            return cls(params, lr=lr, fused=True, **extra)
        except (RuntimeError, TypeError, ValueError):
            pass
    return cls(params, lr=lr, **extra)


class Trainer(Checkpointing):
    """Runs a model's training plan on arrays; writes checkpoints to ``checkpoint_dir``.

    ``progress``: a bar on a terminal or in a notebook and one line per epoch (stderr).
    ``callbacks`` see each history row as it is made; ``log_dir`` is where ``train.log`` writes.
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, checkpoint_dir: Path | None = None, progress: bool = True,
                 callbacks: list[Callable[[dict[str, Any]], None]] | None = None, log_dir: Path | None = None):
        self.model = model
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.dist = dist_.setup(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if self.dist.enabled and cfg.compile:
            raise AekitError("train.compile is not supported under torchrun (DistributedDataParallel) in aekit",
                             "drop --set train.compile=true for distributed runs")
        self.precision = resolve_precision(cfg.precision, self.device)
        self.scaler = grad_scaler(self.precision, self.device)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress and not cfg.quiet and self.dist.is_main
        self.callbacks = list(callbacks or [])
        if cfg.log and self.dist.is_main:
            self.callbacks += make_loggers(cfg.log, log_dir or self.checkpoint_dir or Path("."))
        self.model.to(self.device)
        self.memory_format = resolve_memory_format(cfg.memory_format, model, self.device)
        self.pos = Position()
        self.selected_epoch: int | None = None  # set when fit ends on the best validation epoch's weights
        self._monitor_checked = False
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        # each rank its own noise stream; the weights are broadcast from rank 0 by DDP
        torch.manual_seed(cfg.seed + 1000 * self.dist.rank)
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(cfg.seed + 1000 * self.dist.rank)
        self._epoch_start_gen: torch.Tensor | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self.phases: list[Any] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self._pending: dict[str, Any] | None = None  # optimiser states of a restored checkpoint

    # ---- learning rates ------------------------------------------------------------------------------
    def base_lr(self, phase: Any) -> float:
        return self.cfg.lr if phase.lr is None else float(phase.lr)

    def lr_at(self, phase: Any, epoch: int, epochs: int) -> float:
        c = self.cfg
        return self.base_lr(phase) * lr_factor(c.schedule, epoch, epochs, c.step_size, c.gamma, self.pos.plateau.factor,
                                               c.schedule_scale)

    def _set_hyperparameters(self, epoch: int, epochs: int) -> None:
        for ph, opt in zip(self.phases, self.optimizers):
            for g in opt.param_groups:
                g["lr"] = self.lr_at(ph, epoch, epochs)
                if "betas" in g:
                    g["betas"] = tuple(ph.betas) if ph.betas is not None else (self.cfg.adam_beta1, g["betas"][1])
                if "momentum" in g:
                    g["momentum"] = self.cfg.momentum
                if "eps" in g and self.cfg.optimizer != "sgd":
                    g["eps"] = self.cfg.adam_eps

    def _begin_stage(self, stage: Any, epochs: int) -> None:
        self.phases = list(stage.phases)
        self.optimizers = [make_optimizer(ph.parameters(), self.cfg, self.base_lr(ph), ph.betas) for ph in self.phases]
        if self._pending is not None:
            self._load_optimizers(self._pending)
            self._pending = None
            for ph, opt in zip(self.phases, self.optimizers):
                old = opt.param_groups[0].get("eps")
                if old is not None and self.cfg.optimizer != "sgd" and old != self.cfg.adam_eps:
                    log.info("resume: phase %s: Adam eps %g → %g", ph.name, old, self.cfg.adam_eps)
            for opt in self.optimizers:
                match_optimizer_layout(opt)
        self._set_hyperparameters(self.pos.epoch, epochs)

    # ---- data (batches.py) ---------------------------------------------------------------------------
    def _in_memory(self, x: np.ndarray) -> bool:
        return fits_in_memory(x, self.cfg.in_memory)

    def _to_device(self, a: np.ndarray | None, dtype: torch.dtype) -> torch.Tensor | None:
        return to_device(a, dtype, self.device)

    def _batches(self, n: int, x_t: torch.Tensor | None, y_t: torch.Tensor | None,
                 x_np: np.ndarray, y_np: np.ndarray | None) -> Iterator[Batch]:
        """This epoch's batches from ``self.pos.step`` on; remembers the generator's state at the epoch's
        start, which a mid-epoch checkpoint holds."""
        self._epoch_start_gen = self.shuffle.get_state()
        perm = torch.randperm(n, generator=self.shuffle)
        return epoch_batches(perm, self.pos.step, self.cfg.batch_size, self.dist.world, self.dist.rank,
                             x_t=x_t, y_t=y_t, x_np=x_np, y_np=y_np, device=self.device,
                             memory_format=self.memory_format, num_workers=self.cfg.num_workers)

    # ---- the loop -------------------------------------------------------------------------------------
    def fit(self, x_train: np.ndarray, y_train: np.ndarray | None = None, x_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, resume: bool = False) -> list[dict[str, Any]]:
        """Train through the model's plan from where it stands (the start, or a restored checkpoint);
        ``resume`` restores the last checkpoint first. Returns the history (one row per epoch)."""
        if resume and not self.restored:
            if self.last_checkpoint is None or not self.last_checkpoint.exists():
                raise AekitError(f"--resume: no checkpoint at {self.last_checkpoint}", "train without --resume first")
            self.restore(self.last_checkpoint)
        self.check_monitor(x_val, y_val)
        in_memory = self._in_memory(x_train)
        model_layout(self.model, self.memory_format)  # back to contiguous when fit returns
        x_t = to_layout(self._to_device(x_train, torch.float32), self.memory_format) if in_memory else None
        y_t = self._to_device(y_train, torch.long) if in_memory else None
        xv = to_layout(self._to_device(x_val, torch.float32), self.memory_format)
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
                self._begin_stage(stage, epochs)
                while self.pos.epoch < epochs and not self.pos.stopped_early:
                    self._set_hyperparameters(self.pos.epoch, epochs)
                    row = self._run_epoch(step_model, stage, epochs, x_train, y_train, x_t, y_t, xv, yv, len(plan) > 1)
                    self.pos.history.append(row)
                    for cb in self.callbacks:
                        cb(row)
                    self._early_stop(row, stage)
                    if self.pos.epoch % self.cfg.checkpoint_every == 0 or self.pos.epoch == epochs or self.pos.stopped_early:
                        self.save_checkpoint("last")
                if si + 1 < len(plan):  # the last stage stays current, so --resume can extend it
                    self.pos.next_stage()
                    self.optimizers = []
            self.save_checkpoint("last")
            if self.cfg.early_stopping and self.checkpoint_dir and (self.checkpoint_dir / "best.safetensors").exists():
                best = load_state(self.checkpoint_dir / "best.safetensors", self.device)
                self.model.load_state_dict(best["model"])
                self.selected_epoch = self.pos.best_epoch
                log.info("restored the weights of the best validation epoch (%s)", self.selected_epoch)
        finally:
            model_layout(self.model, torch.contiguous_format)
            for cb in self.callbacks:
                if hasattr(cb, "close"):
                    cb.close()
            dist_.barrier(self.dist)
        return self.pos.history

    def _step(self, step_model: nn.Module, ph: Any, opt: torch.optim.Optimizer, ps: list[nn.Parameter],
              xb: torch.Tensor, yb: torch.Tensor | None) -> dict[str, torch.Tensor]:
        with autocast(self.precision, self.device):
            terms = step_model(xb, yb, phase=ph.name)
        opt.zero_grad(set_to_none=True)
        loss = terms["loss"]
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.cfg.clip_grad:
                self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(ps, self.cfg.clip_grad)
            self.scaler.step(opt)
        else:
            loss.backward()
            if self.cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(ps, self.cfg.clip_grad)
            opt.step()
        return terms

    def _run_epoch(self, step_model: nn.Module, stage: Any, epochs: int, x_np: np.ndarray, y_np: np.ndarray | None,
                   x_t: torch.Tensor | None, y_t: torch.Tensor | None, xv: torch.Tensor | None, yv: torch.Tensor | None,
                   show_stage: bool) -> dict[str, Any]:
        self.model.train()
        if self.pos.step == 0:
            self._sums, self._count = {}, 0
        multi_phase = len(stage.phases) > 1
        params = [[p for p in ph.parameters() if p.requires_grad] for ph in stage.phases]
        t0 = time.perf_counter()
        seen = 0
        desc = f"{stage.name + ' ' if show_stage else ''}epoch {self.pos.epoch + 1}/{epochs}"
        bar = progress_bar(None, desc, "batch", self.progress)
        refresh = 50
        try:
            for s, steps, xb, yb in self._batches(len(x_np), x_t, y_t, x_np, y_np):
                if bar.total is None:
                    bar.total = steps
                    bar.update(s)
                bs = xb.shape[0]
                for ph, opt, ps in zip(stage.phases, self.optimizers, params):
                    terms = self._step(step_model, ph, opt, ps, xb, yb)
                    for k, v in terms.items():
                        key = f"{ph.name}/{k}" if multi_phase else k
                        v = v.detach().float() * bs
                        acc = self._sums.get(key)
                        self._sums[key] = v if acc is None else acc + v
                if self.scaler is not None:
                    self.scaler.update()
                self._count += bs
                seen += bs
                self.pos.step = s + 1
                if (s + 1) % refresh == 0 or s + 1 == steps:
                    self._check_finite(s + 1)
                    if interactive() and self.progress:
                        el = time.perf_counter() - t0
                        post = {k: f"{v.item() / self._count:.4g}" for k, v in self._sums.items() if "/" not in k or k.endswith("/loss")}
                        post["samples/s"] = f"{seen / max(el, 1e-9):.0f}"
                        bar.set_postfix(post, refresh=False)
                    bar.update(s + 1 - bar.n)
        except KeyboardInterrupt:
            bar.close()
            if self.dist.enabled:  # the other ranks cannot join a checkpoint now: the last epoch's stays
                raise TrainingInterrupted(None) from None
            raise TrainingInterrupted(self.save_checkpoint("last")) from None
        finally:
            bar.close()
        elapsed = time.perf_counter() - t0
        # epoch summary: one sync per epoch, summed over ranks
        keys = sorted(self._sums)
        total = dist_.all_reduce_sum(torch.stack([self._sums[k] for k in keys] + [torch.tensor(float(self._count), device=self.device)]), self.dist)
        vals = (total[:-1] / total[-1]).tolist()
        row: dict[str, Any] = {"stage": stage.name, "epoch": self.pos.epoch + 1}
        row.update(dict(zip(keys, vals)))
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
        if self.cfg.schedule == "plateau":
            m = self.cfg.monitor
            self.pos.plateau.update(row.get(f"val_{m}", row.get(m, 0.0)), self.cfg.patience, self.cfg.gamma)
        if self.progress:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("stage", "epoch", "lr") and "/" not in k)
            line(f"{desc}: {shown}")
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
        """Mean loss terms of the model's main objective on clean inputs (no corruption), in fp32."""
        was = self.model.training
        self.model.eval()
        sums: dict[str, torch.Tensor] = {}
        try:
            for i in range(0, x.shape[0], batch_size):
                xb = x[i: i + batch_size]
                yb = y[i: i + batch_size] if y is not None else None
                for k, v in self.model.loss(xb, yb, corrupt=False).items():
                    sums[k] = sums.get(k, 0) + v.detach().float() * xb.shape[0]
        finally:
            self.model.train(was)
        return {k: (v / x.shape[0]).item() for k, v in sums.items()}

    def _early_stop(self, row: dict[str, Any], stage: Any) -> None:
        """Count epochs without improvement of the monitored validation term (``train.monitor``); save
        the best epoch's checkpoint; set ``stopped_early`` at the patience."""
        key = f"val_{self.cfg.monitor}"
        if not self.cfg.early_stopping or key not in row or stage.name.startswith("pretrain"):
            return
        if row[key] < self.pos.best - 1e-6:
            self.pos.best, self.pos.bad_epochs, self.pos.best_epoch = row[key], 0, row["epoch"]
            self.save_checkpoint("best")
            return
        self.pos.bad_epochs += 1
        if self.pos.bad_epochs >= self.cfg.early_stopping:
            log.info("early stopping: no improvement of %s for %d epochs", key, self.pos.bad_epochs)
            self.pos.stopped_early = True

    def check_monitor(self, x_val: np.ndarray | None, y_val: np.ndarray | None) -> None:
        """Refuse, before the first step, a ``train.monitor`` that the model's validation terms lack."""
        if self.cfg.monitor == "loss" or x_val is None or not (self.cfg.early_stopping or self.cfg.schedule == "plateau") \
                or self._monitor_checked:  # aekit.train_run checks before writing the run folder, then fit
            return
        xv = to_layout(self._to_device(x_val[:256], torch.float32), self.memory_format)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):  # a resumed run stays exact
            terms = self.evaluate_terms(xv, self._to_device(y_val[:256], torch.long) if y_val is not None else None)
        if self.cfg.monitor not in terms:
            raise AekitError(f"train.monitor={self.cfg.monitor!r}: the model reports no such validation term",
                             f"choose one of {', '.join(sorted(terms))}" + (
                                 "; error needs the labels of the validation split" if self.cfg.monitor == "error" else ""))
        self._monitor_checked = True