"""Learning-rate schedules as pure functions of the epoch (testable and plottable), and the one
stateful schedule, plateau, as a small record saved in checkpoints.

A phase's rate for an epoch is its base rate (the phase's own, e.g. ``model.disc_lr``, else
``train.lr``) times ``lr_factor``. Because the factor depends only on (epoch, total), extending a
finished run (``--resume --epochs 20`` after 10) recomputes the schedule for the new total: a cosine
schedule continues from its value at epoch 10 of 20 (half the base rate), not from the 0 it had
reached at the end of the 10-epoch run; a step schedule is unchanged by the extension (and so is
burda with an explicit ``train.schedule_scale``; without one it is refitted to the new total).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


# Burda et al. 2016, appendix: stage i = 0..7 trains 3^i passes at 10^(−i/7) times the first rate
BURDA_STAGES = 8
BURDA_EPOCHS = (3**BURDA_STAGES - 1) // 2  # 3,280
# the paper epoch at which each stage ends: 1, 4, 13, 40, 121, 364, 1093, 3280
BURDA_ENDS = tuple((3 ** (i + 1) - 1) // 2 for i in range(BURDA_STAGES))


def burda_stage(epoch: int, epochs: int, scale: float | None = None) -> int:
    """The stage (0..7) of Burda et al.'s schedule that epoch ``epoch`` (0-based) starts in.

    ``scale``: run epochs per epoch of the paper (stage i lasts scale·3^i epochs; 1: the paper's).
    None: ``epochs`` / 3280, the eight stages compressed in proportion to fill the run (computed in
    integers: exact boundaries). After the last stage: 7."""
    if scale is None:  # epoch·3280/epochs ≥ end ⇔ epoch·3280 ≥ end·epochs
        n = max(epochs, 1)
        return sum(epoch * BURDA_EPOCHS >= end * n for end in BURDA_ENDS[:-1])
    return sum(epoch >= end * scale * (1 - 1e-12) for end in BURDA_ENDS[:-1])


def burda_factor(epoch: int, epochs: int, scale: float | None = None) -> float:
    """10^(−i/7) for the stage i of :func:`burda_stage`: from 1 down to 1/10 in eight steps."""
    return 10.0 ** (-burda_stage(epoch, epochs, scale) / (BURDA_STAGES - 1))


def lr_factor(schedule: str, epoch: int, epochs: int, step_size: int = 10, gamma: float = 0.5, plateau: float = 1.0,
              scale: float | None = None) -> float:
    """The factor on the base rate during epoch ``epoch`` (0-based) of a stage of ``epochs``.

    none: 1.  cosine: ½(1 + cos(π·epoch/epochs)), from 1 towards 0.  step: gamma^⌊epoch/step_size⌋.
    plateau: the current factor of the plateau record (``plateau``).  burda: Burda et al. 2016's
    staged schedule, 10^(−i/7) in stage i (:func:`burda_stage`, ``scale`` its train.schedule_scale)."""
    if schedule == "none":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / max(epochs, 1)))
    if schedule == "step":
        return gamma ** (epoch // step_size)
    if schedule == "plateau":
        return plateau
    if schedule == "burda":
        return burda_factor(epoch, epochs, scale)
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
