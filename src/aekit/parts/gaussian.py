"""Diagonal-Gaussian codes: the reparameterisation trick, log-densities and the closed-form KL."""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, n: int = 1) -> torch.Tensor:
    """z = μ + σ ⊙ ε, ε ~ N(0, I); with ``n`` > 1 the samples are stacked first: (n, B, D)."""
    std = torch.exp(0.5 * logvar)
    if n == 1:
        return mu + std * torch.randn_like(std)
    return mu + std * torch.randn((n, *mu.shape), device=mu.device, dtype=mu.dtype)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + z**2).sum(-1)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per dimension (same shape as μ): ½(μ² + σ² − 1 − log σ²)."""
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar)


def split_gaussian(h: torch.Tensor, logvar_min: float, logvar_max: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ, log σ²) from an encoder's output [μ | log σ²] (last dimension 2·D), in float32 (so the
    KL and the densities are computed in full precision under autocast), log σ² clamped."""
    mu, logvar = h.float().chunk(2, dim=-1)
    return mu, logvar.clamp(logvar_min, logvar_max)
