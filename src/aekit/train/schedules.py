"""Learning-rate schedules as pure functions of the epoch (testable and plottable), and the one
stateful schedule, plateau, as a small record saved in checkpoints.

A phase's rate for an epoch is its base rate (the phase's own, e.g. ``model.disc_lr``, else
``train.lr``) times ``lr_factor``. Because the factor depends only on (epoch, total), extending a
finished run (``--resume --epochs 20`` after 10) recomputes the schedule for the new total: a cosine
schedule continues from its value at epoch 10 of 20 (half the base rate), not from the 0 it had
reached at the end of the 10-epoch run; a step schedule is unchanged by the extension.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def lr_factor(schedule: str, epoch: int, epochs: int, step_size: int = 10, gamma: float = 0.5, plateau: float = 1.0) -> float:
    """The factor on the base rate during epoch ``epoch`` (0-based) of a stage of ``epochs``.

    none: 1.  cosine: ½(1 + cos(π·epoch/epochs)), from 1 towards 0.  step: gamma^⌊epoch/step_size⌋.
    plateau: the current factor of the plateau record (``plateau``)."""
    if schedule == "none":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / max(epochs, 1)))
    if schedule == "step":
        return gamma ** (epoch // step_size)
    if schedule == "plateau":
        return plateau
    raise ValueError(f"unknown schedule {schedule!r}")


@dataclass
class Plateau:
    """Reduce the rate by ``gamma`` when the watched loss has not improved (relative threshold 1e-4)
    for more than ``patience`` epochs, as torch's ReduceLROnPlateau does."""

    factor: float = 1.0
    best: float | None = None
    bad: int = 0

    def update(self, value: float, patience: int, gamma: float) -> None:
        if self.best is None or value < self.best * (1 - 1e-4 if self.best > 0 else 1 + 1e-4):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > patience:
            self.factor *= gamma
            self.bad = 0

    def state(self) -> dict:
        return asdict(self)
