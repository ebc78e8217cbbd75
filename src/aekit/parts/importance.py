"""The importance-sampled bound on log p(x) (Burda, Grosse & Salakhutdinov 2016), for every model
with a Gaussian posterior: one implementation, batched over examples × samples with logsumexp.

    log p(x) ≥ log (1/(M·k)) Σ_m Σ_i p(x | z_mi, m) p(z_mi) / q_m(z_mi | x),   z_mi ~ q_m(z | x)

M equally weighted proposals per example: M = 1 for a VAE; one per label for a conditional model,
whose p(x) = Σ_y p(y) p(x | y) with a uniform p(y) = 1/M. The bound tightens towards log p(x) as
k grows; k = 1 (M = 1) is a single-sample ELBO estimate.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .gaussian import log_normal_diag, log_standard_normal

# floats alive at once in one chunk of samples (decoder activations and targets); bounds memory
CHUNK_FLOATS = 20_000_000


def importance_log_px(mu: torch.Tensor, logvar: torch.Tensor, log_lik: Callable[[torch.Tensor], torch.Tensor], k: int,
                      generator: torch.Generator | None = None, floats_per_sample: int = 1) -> torch.Tensor:
    """The bound per example, (B,), from proposals ``mu``, ``logvar`` of shape (M, B, D).

    ``log_lik(z)`` takes z of shape (S, M, B, D) and returns log p(x | z, m) of shape (S, M, B).
    The k samples are drawn in chunks of S (ε = torch.randn((S, M, B, D), generator=generator) per
    chunk, in order) sized so that S·M·B·``floats_per_sample`` stays under ``CHUNK_FLOATS``, and
    combined by a running logsumexp.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    M, B, D = mu.shape
    std = torch.exp(0.5 * logvar)
    chunk = max(1, min(k, CHUNK_FLOATS // max(1, M * B * floats_per_sample)))
    lse = None
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        eps = torch.randn((s, M, B, D), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + std * eps
        log_w = log_lik(z) + log_standard_normal(z) - log_normal_diag(z, mu, logvar)  # (s, M, B)
        c = torch.logsumexp(log_w.reshape(s * M, B), dim=0)
        lse = c if lse is None else torch.logaddexp(lse, c)
    assert lse is not None
    return lse - math.log(k * M)
