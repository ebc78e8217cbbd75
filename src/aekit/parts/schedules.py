"""Weight schedules as pure functions of the training step (testable and plottable).

Each returns a factor in [0, 1] that multiplies β (the KL weight).
"""
from __future__ import annotations

import math


def constant(step: int) -> float:
    return 1.0


def linear_warmup(step: int, warmup_steps: int) -> float:
    """0 → 1 linearly over ``warmup_steps``, then 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def sigmoid_warmup(step: int, warmup_steps: int, sharpness: float = 10.0) -> float:
    """Sigmoid-shaped rise centred at ``warmup_steps / 2`` (Bowman et al. 2016)."""
    if warmup_steps <= 0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-sharpness * (step / warmup_steps - 0.5)))


def cyclical(step: int, total_steps: int, cycles: int = 4, ratio: float = 0.5) -> float:
    """Fu et al. 2019: ``cycles`` equal cycles over ``total_steps``; in each, rise linearly
    from 0 to 1 over the first ``ratio`` of the cycle, then hold 1. After ``total_steps`` the
    schedule is over and holds 1, so a run longer than planned ends on the full objective
    rather than restarting cycles with a small weight."""
    if total_steps <= 0 or cycles <= 0 or step >= total_steps:
        return 1.0
    period = total_steps / cycles
    tau = (step % period) / period
    return min(1.0, tau / ratio) if ratio > 0 else 1.0


SCHEDULES = ("constant", "linear", "sigmoid", "cyclical")


def kl_weight(schedule: str, step: int, steps: int, cycles: int = 4, ratio: float = 0.5) -> float:
    """The named schedule's factor at ``step`` (``steps``: warm-up length, or total for cyclical)."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return linear_warmup(step, steps)
    if schedule == "sigmoid":
        return sigmoid_warmup(step, steps)
    if schedule == "cyclical":
        return cyclical(step, steps, cycles, ratio)
    from ..errors import unknown_choice

    raise unknown_choice("KL schedule", schedule, SCHEDULES)
