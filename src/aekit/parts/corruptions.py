"""Corruption processes q(x̃ | x) for denoising autoencoders.

Each is a pure function of its input and the global torch RNG (seeded by the trainer), applied
only in training. ``level`` is σ for Gaussian noise and the corrupted fraction p otherwise.
"""
from __future__ import annotations

import torch

from ..errors import AekitError, unknown_choice


class Corruption:
    name = "none"

    def __init__(self, level: float):
        self.level = float(level)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.level})"


class GaussianNoise(Corruption):
    """x̃ = x + ε, ε ~ N(0, σ² I)."""

    name = "gaussian"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.level * torch.randn_like(x)


class MaskingNoise(Corruption):
    """Each value set to 0 independently with probability p (Vincent et al. 2010)."""

    name = "masking"

    def __init__(self, level: float):
        super().__init__(level)
        if not 0 <= level < 1:
            raise AekitError(f"masking fraction must be in [0, 1), got {level}", "e.g. --set model.noise_level=0.25")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand_like(x) >= self.level
        return x * keep


class SaltAndPepperNoise(Corruption):
    """A fraction p of values set to v_min or v_max with equal chance."""

    name = "salt-pepper"

    def __init__(self, level: float, low: float = 0.0, high: float = 1.0):
        super().__init__(level)
        if not 0 <= level <= 1:
            raise AekitError(f"salt-and-pepper fraction must be in [0, 1], got {level}")
        self.low, self.high = float(low), float(high)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(x)
        hit = u < self.level
        salt = u < self.level / 2  # half of the hits go high, half low
        return torch.where(hit, torch.where(salt, torch.full_like(x, self.high), torch.full_like(x, self.low)), x)


CORRUPTIONS = ("none", "gaussian", "masking", "salt-pepper")


def make_corruption(name: str, level: float, low: float = 0.0, high: float = 1.0) -> Corruption:
    if name == "none":
        return Corruption(0.0)
    if level < 0:
        raise AekitError(f"corruption level must be >= 0, got {level}")
    if name == "gaussian":
        return GaussianNoise(level)
    if name == "masking":
        return MaskingNoise(level)
    if name == "salt-pepper":
        return SaltAndPepperNoise(level, low, high)
    raise unknown_choice("corruption", name, CORRUPTIONS)
