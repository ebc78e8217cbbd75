"""Regularisers Ω added to the reconstruction loss; each returns a scalar, mean over the batch.

The weights (λ, β) are applied by the caller, so each function is exactly its formula.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def l1_code(h: torch.Tensor) -> torch.Tensor:
    """Σ_j |h_j| per example, averaged over the batch."""
    return h.reshape(h.shape[0], -1).abs().sum(1).mean()


def kl_sparsity(h: torch.Tensor, rho: float, eps: float = 1e-6) -> torch.Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the mean activation of unit j over the batch (h in (0, 1)).

    KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂)). This is a property of the batch, not of an
    example, so it is not divided by the batch size.
    """
    rho_hat = h.reshape(h.shape[0], -1).mean(0).clamp(eps, 1 - eps)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def contractive_closed_form(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """‖∂h/∂x‖²_F for one sigmoid layer h = σ(Wx + b): Σ_i (h_i(1−h_i))² Σ_j W_ij², batch mean."""
    w_sq = (weight**2).sum(1)  # (H,)
    return (((h * (1 - h)) ** 2) * w_sq).sum(1).mean()


def jacobian_sq_norms(encoder: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """‖∂h/∂x‖²_F of each example (B,), for any ``encoder`` mapping a batch (B, ...) to codes (B, H),
    by batched reverse-mode autograd (torch.func); gradients flow to the encoder's parameters."""
    from torch.func import jacrev, vmap

    def one(xi: torch.Tensor) -> torch.Tensor:
        return encoder(xi.unsqueeze(0)).squeeze(0)

    jac = vmap(jacrev(one))(x)  # (B, H, *x.shape[1:])
    return jac.reshape(x.shape[0], -1).pow(2).sum(1)


def contractive_exact(encoder: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """‖∂h/∂x‖²_F for any encoder (:func:`jacobian_sq_norms`), batch mean: the penalty trains the
    encoder like the closed form does."""
    return jacobian_sq_norms(encoder, x).mean()


def stochastic_contractive(h: torch.Tensor, h_noisy: torch.Tensor) -> torch.Tensor:
    """E‖h(x) − h(x̃)‖² with x̃ = x + N(0, σ²): a Monte-Carlo stand-in for the Jacobian norm."""
    return (h - h_noisy).reshape(h.shape[0], -1).pow(2).sum(1).mean()


def weight_decay(modules: nn.Module) -> torch.Tensor:
    """½ Σ W² over weight matrices (biases and learned σ excluded), as in the UFLDL notes."""
    total = None
    for name, p in modules.named_parameters():
        if name.endswith("weight") and p.dim() >= 2:
            s = p.pow(2).sum()
            total = s if total is None else total + s
    if total is None:
        return torch.zeros(())
    return 0.5 * total
