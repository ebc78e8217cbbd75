"""What a checkpoint holds, and restoring it: the trainer's half that reads and writes state files.

A checkpoint (an :mod:`aekit.io` state file: safetensors + a JSON header, no pickle) holds the
model, each phase's optimiser state by phase name, the gradient scaler (fp16), the position
(stage, epoch, step mid-epoch, early-stopping and plateau counters, the history), every rank's
global RNG state and the shuffling generator's state at the start of the epoch. Restoring it
replays the same permutation and skips finished steps, so 2 + 2 epochs = 4 epochs and a Ctrl-C
mid-epoch resumes exactly.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import AekitError
from ..io import load_state, save_state
from . import distributed as dist_
from .schedules import Plateau

log = logging.getLogger("aekit.train")

FORMAT = 2


@dataclass
class Position:
    """Where training stands; saved in every checkpoint."""

    stage: int = 0
    epoch: int = 0          # epochs completed in the current stage
    step: int = 0           # batches completed in the current epoch (non-zero only mid-epoch)
    best: float = math.inf  # best value of the monitored validation term (early stopping)
    bad_epochs: int = 0
    stopped_early: bool = False
    plateau: Plateau = field(default_factory=Plateau)
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None  # the epoch (of the current stage) whose weights checkpoints/best holds

    def next_stage(self) -> None:
        self.stage, self.epoch, self.step = self.stage + 1, 0, 0
        self.best, self.bad_epochs, self.stopped_early, self.plateau, self.best_epoch = math.inf, 0, False, Plateau(), None

    def state(self) -> dict[str, Any]:
        return {"stage": self.stage, "epoch": self.epoch, "step": self.step, "best": self.best if math.isfinite(self.best) else None,
                "bad_epochs": self.bad_epochs, "stopped_early": self.stopped_early, "plateau": self.plateau.state(),
                "history": self.history, "best_epoch": self.best_epoch}

    @classmethod
    def from_state(cls, p: dict[str, Any]) -> Position:
        return cls(p["stage"], p["epoch"], p["step"], p["best"] if p["best"] is not None else math.inf, p["bad_epochs"],
                   p["stopped_early"], Plateau(**p["plateau"]), list(p["history"]), p.get("best_epoch"))  # absent before it was saved


class Checkpointing:
    """Mixin of the Trainer: ``save_checkpoint`` (every rank takes part; rank 0 writes) and ``restore``."""

    restored = False

    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpoint_dir / "last.safetensors" if self.checkpoint_dir else None

    def _rng_states(self) -> dict[str, Any]:
        """The global RNG states of every rank (a collective under DDP), and the shuffling generator's."""
        own = torch.get_rng_state()
        out: dict[str, Any] = {"torch": dist_.all_gather(own, self.dist, self.device)}
        if self.device.type == "cuda":
            out["cuda"] = dist_.all_gather(torch.cuda.get_rng_state(self.device), self.dist, self.device)
        out["shuffle"] = self._epoch_start_gen if self.pos.step and self._epoch_start_gen is not None else self.shuffle.get_state()
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model.state_dict(),
            "optimizers": {ph.name: o.state_dict() for ph, o in zip(self.phases, self.optimizers)},
            "base_lrs": {ph.name: self.base_lr(ph) for ph in self.phases},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "position": self.pos.state(),
            "rng": self._rng_states(),
            "sums": dict(self._sums) if self.pos.step else {},
            "count": self._count if self.pos.step else 0,
            "world": self.dist.world,
        }

    def save_checkpoint(self, name: str = "last") -> Path | None:
        """Write ``checkpoints/<name>.safetensors``; every rank must call it (the RNG states are gathered)."""
        if not self.checkpoint_dir:
            return None
        state = self._state()
        if not self.dist.is_main:
            return None
        path = self.checkpoint_dir / f"{name}.safetensors"
        save_state(path, state)
        return path

    def restore(self, path: Path) -> None:
        """Load a checkpoint into the model and the trainer's position. Raises (before anything is
        written) when it does not fit the model or its plan."""
        from ..models.loading import load_weights

        state = load_state(path)
        if state.get("format") != FORMAT:
            raise AekitError(f"{path} was written by an older aekit and cannot be resumed exactly",
                             "train the run again, or load its weights with aekit.load(run, checkpoint='last')")
        load_weights(self.model, state["model"], path)
        self.model.to(self.device)
        self.pos = Position.from_state(state["position"])
        plan = self.model.training_plan()
        if self.pos.stage >= len(plan):
            raise AekitError(f"{path} is at stage {self.pos.stage + 1}, but the model's plan has {len(plan)} stages",
                             "the checkpoint belongs to another model: restore the run's own files")
        names = [ph.name for ph in plan[self.pos.stage].phases]
        saved = list(state["optimizers"])
        if saved and saved != names:
            raise AekitError(f"{path} holds optimiser states for the phases {saved}, but this model trains {names}",
                             "the checkpoint belongs to another model: restore the run's own files")
        self._pending = state["optimizers"] or None
        self._saved_base_lrs = state["base_lrs"]
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self._restore_rng(state, path)
        self._sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self._count = state["count"]
        for cb in self.callbacks:
            if hasattr(cb, "step"):
                cb.step = len(self.pos.history)
        if self.pos.stopped_early:
            log.info("resume: the run had stopped early (no improvement of val_%s for %d epochs); it continues with a "
                     "fresh patience of %s epochs and the best value so far (%.6g)", self.cfg.monitor, self.pos.bad_epochs,
                     self.cfg.early_stopping, self.pos.best)
            self.pos.stopped_early, self.pos.bad_epochs = False, 0
        self.restored = True
        log.info("resumed from %s (stage %d, epoch %d, step %d)", path, self.pos.stage, self.pos.epoch, self.pos.step)

    def _restore_rng(self, state: dict[str, Any], path: Path) -> None:
        rng, r = state["rng"], self.dist.rank
        if state["world"] != self.dist.world:
            log.warning("resume: %s was written by %d process(es), this run has %d: each process's noise stream "
                        "differs from an uninterrupted run", path, state["world"], self.dist.world)
        torch.set_rng_state(rng["torch"][r % len(rng["torch"])])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"][r % len(rng["cuda"])], self.device)
        self.shuffle.set_state(rng["shuffle"])

    def _load_optimizers(self, states: dict[str, Any]) -> None:
        """Each phase's saved optimiser state, then the current config's hyperparameters; logs changes."""
        old_lrs = getattr(self, "_saved_base_lrs", {}) or {}
        for ph, opt in zip(self.phases, self.optimizers):
            saved = states[ph.name]
            old_betas = [g.get("betas") for g in saved["param_groups"]]
            opt.load_state_dict(saved)
            new_lr = self.base_lr(ph)
            if ph.name in old_lrs and not math.isclose(old_lrs[ph.name], new_lr, rel_tol=1e-12):
                log.info("resume: phase %s: learning rate %g → %g", ph.name, old_lrs[ph.name], new_lr)
            if ph.betas is not None and old_betas and old_betas[0] is not None and tuple(old_betas[0]) != tuple(ph.betas):
                log.info("resume: phase %s: Adam betas %s → %s", ph.name, tuple(old_betas[0]), tuple(ph.betas))
