"""The importance-sampled bound on log p(x) (Burda, Grosse & Salakhutdinov 2016), for every model
with a Gaussian posterior: one implementation, batched over examples × samples with logsumexp,
that serves evaluation (``importance_log_px``: seeded, chunked) and training (the IWAE objective,
with gradients: ``importance_bound``).

    log p(x) ≥ log (1/(M·k)) Σ_m Σ_i p(x | z_mi, m) p(z_mi) / q_m(z_mi | x),   z_mi ~ q_m(z | x)

M equally weighted proposals per example: M = 1 for a VAE; one per label for a conditional model,
whose p(x) = Σ_y p(y) p(x | y) with a uniform p(y) = 1/M. The bound tightens towards log p(x) as
k grows; k = 1 (M = 1) is a single-sample ELBO estimate (its KL term by Monte Carlo).

z_mi = μ_m + σ_m ⊙ ε_mi is reparameterised, so the bound is differentiable. Its gradient, for the
encoder's parameters φ, is one of (``gradient``):

* standard — the gradient of the bound as written (Burda et al.): Σ_i w̃_i ∇_φ log w_i, which
  carries the score term −∂log q/∂φ; its signal-to-noise ratio falls as k grows (Rainforth et al. 2018);
* dreg — the doubly reparameterised gradient (Tucker, Lawson, Gu & Maddison 2019):
  Σ_i w̃_i² (∂log w_i/∂z_i)(∂z_i/∂φ), log q's parameters held fixed. Same expectation, lower variance.

w̃_i = w_i / Σ_j w_j are the normalised weights. Gradients that reach the decoder (and the
likelihood's parameters) are Σ_i w̃_i ∇_θ log p(x | z_i) under both. The log-weights are reduced
in float32 whatever the autocast dtype of the decoder.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .gaussian import log_normal_diag, log_standard_normal

# floats alive at once in one chunk of samples (decoder activations and targets); bounds memory
CHUNK_FLOATS = 20_000_000
GRADIENTS = ("standard", "dreg")


def importance_bound(mu: torch.Tensor, logvar: torch.Tensor, log_lik: Callable[[torch.Tensor], torch.Tensor], k: int,
                     generator: torch.Generator | None = None, floats_per_sample: int = 1,
                     gradient: str = "standard") -> tuple[torch.Tensor, torch.Tensor]:
    """(the bound, the mean over the M·k samples of log p(x | z, m)) per example, each (B,), from
    proposals ``mu``, ``logvar`` of shape (M, B, D).

    ``log_lik(z)`` takes z of shape (S, M, B, D) and returns log p(x | z, m) of shape (S, M, B).
    The k samples are drawn in chunks of S (ε = torch.randn((S, M, B, D), generator=generator) per
    chunk, in order; None: the global RNG) sized so that S·M·B·``floats_per_sample`` stays under
    ``CHUNK_FLOATS``, and combined by a running logsumexp. ``gradient``: standard | dreg (the
    module docstring); the values are the same under both.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if gradient not in GRADIENTS:
        raise ValueError(f"unknown gradient {gradient!r}: {' | '.join(GRADIENTS)}")
    M, B, D = mu.shape
    std = torch.exp(0.5 * logvar)
    # dreg: log q with its parameters held fixed, so that φ reaches log w through z alone
    q_mu, q_logvar = (mu.detach(), logvar.detach()) if gradient == "dreg" else (mu, logvar)
    chunk = max(1, min(k, CHUNK_FLOATS // max(1, M * B * floats_per_sample)))
    lse = ll_sum = None
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []  # dreg: (z, log w) of each chunk
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        eps = torch.randn((s, M, B, D), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + std * eps
        ll = _full(log_lik(z))
        log_w = ll + log_standard_normal(z) - log_normal_diag(z, q_mu, q_logvar)  # (s, M, B)
        c = torch.logsumexp(_full(log_w).reshape(s * M, B), dim=0)
        lse = c if lse is None else torch.logaddexp(lse, c)
        part = ll.reshape(s * M, B).sum(0)
        ll_sum = part if ll_sum is None else ll_sum + part
        if gradient == "dreg" and z.requires_grad:
            kept.append((z, log_w))
    assert lse is not None and ll_sum is not None
    for z, log_w in kept:
        # the gradient reaching z_i is w̃_i ∂log w_i/∂z_i; scaled once more by w̃_i it is DReG's
        w = torch.exp(log_w.detach() - lse.detach()).unsqueeze(-1)
        z.register_hook(lambda g, w=w: g * w.to(g.dtype))
    return lse - math.log(k * M), ll_sum / (k * M)


def importance_log_px(mu: torch.Tensor, logvar: torch.Tensor, log_lik: Callable[[torch.Tensor], torch.Tensor], k: int,
                      generator: torch.Generator | None = None, floats_per_sample: int = 1) -> torch.Tensor:
    """The bound per example, (B,), from proposals ``mu``, ``logvar`` of shape (M, B, D): the
    evaluation's figure (see :func:`importance_bound` for the arguments)."""
    return importance_bound(mu, logvar, log_lik, k, generator, floats_per_sample)[0]


def _full(t: torch.Tensor) -> torch.Tensor:
    """``t`` in at least float32 (bf16/fp16 are upcast; float64 stays)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()
