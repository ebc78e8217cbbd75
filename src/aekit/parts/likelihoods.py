"""Decoder likelihoods p(x | z): the reconstruction loss read as a negative log-likelihood.

``nll(params, x)`` returns −log p(x | z) per example, summed over every data dimension (shape
(B,)). ``mean(params)`` is the decoder's mean: probabilities for a Bernoulli, μ for a Gaussian.
``params`` is the decoder's raw output (logits for the Bernoulli); it is cast to float32 first, so
under mixed-precision autocast the likelihood and its reduction are computed in full precision.

A *masked* likelihood (``masked=True``, built for sequences) reads NaN in ``x`` as padding: those
values add nothing to the NLL, so variable-length sequences padded at the end with NaN are scored
on their own steps only. Unmasked likelihoods never look for NaN (no cost on the hot path).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AekitError, unknown_choice

LOG_2PI = math.log(2 * math.pi)


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _full(t: torch.Tensor) -> torch.Tensor:
    """``t`` in at least float32 (bf16/fp16 from autocast are upcast; float64 stays)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


class Likelihood(nn.Module):
    name = "likelihood"
    masked = False  # NaN in x marks padding (set by make_likelihood for sequences)

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.masked:
            keep = ~torch.isnan(x)
            elem = self.elementwise(_full(params), torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device)))
            return _flat(elem * keep).sum(1)
        return _flat(self.elementwise(_full(params), x)).sum(1)

    def elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x_d | z) for every data value d, in x's shape."""
        raise NotImplementedError

    def nll_mean(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``nll(params, x).mean()``: the training objective's batch mean (fused where possible)."""
        return self.nll(params, x).mean()

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Bernoulli(Likelihood):
    """−log p(x|z) = −Σ_d [x_d log σ(l_d) + (1−x_d) log(1−σ(l_d))], computed stably on logits l."""

    name = "bernoulli"

    def elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(params, x, reduction="none")

    def nll_mean(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.masked:
            return self.nll(params, x).mean()
        # one reduction kernel, no (B, D) intermediate: the hot path of every Bernoulli model
        return F.binary_cross_entropy_with_logits(_full(params), x, reduction="sum") / x.shape[0]

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(_full(params))


class Gaussian(Likelihood):
    """Fixed σ: −log p(x|z) = Σ_d (x_d − μ_d)² / (2σ²) + D (log σ + ½ log 2π)."""

    name = "gaussian"

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        if not sigma > 0:
            raise AekitError(f"a Gaussian likelihood needs sigma > 0, got {sigma}", "e.g. --set model.sigma=1.0")
        self.sigma = float(sigma)

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.masked:
            return super().nll(params, x)
        sq = _flat((_full(params) - x) ** 2).sum(1)
        d = sq.new_tensor(float(x[0].numel()))
        return sq / (2 * self.sigma**2) + d * (math.log(self.sigma) + 0.5 * LOG_2PI)

    def elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (params - x) ** 2 / (2 * self.sigma**2) + (math.log(self.sigma) + 0.5 * LOG_2PI)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return _full(params)


class GaussianLearnedSigma(Likelihood):
    """σ learned, one per data dimension: Σ_d (x_d − μ_d)² / (2σ_d²) + log σ_d + ½ log 2π.

    log σ is clamped to [−6, 3] so a perfect fit cannot drive the loss to −∞.
    """

    name = "gaussian-learned"

    def __init__(self, dim: int, init_sigma: float = 1.0):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.full((dim,), math.log(init_sigma)))

    def elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_s = self.log_sigma.clamp(-6.0, 3.0).reshape(x.shape[1:])
        return (params - x) ** 2 / (2 * torch.exp(2 * log_s)) + log_s + 0.5 * LOG_2PI

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return _full(params)


class Categorical(Likelihood):
    """One category per step of a sequence (B, T, K), x one-hot over the last axis (characters):
    −log p(x|z) = −Σ_t log softmax(l_t)[x_t]. The mean is the softmax."""

    name = "categorical"

    def elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -x * F.log_softmax(params, dim=-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.softmax(_full(params), dim=-1)


LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned", "categorical")


def make_likelihood(name: str, dim: int, sigma: float = 1.0, masked: bool = False) -> Likelihood:
    if name == "bernoulli":
        out: Likelihood = Bernoulli()
    elif name == "gaussian":
        out = Gaussian(sigma)
    elif name == "gaussian-learned":
        out = GaussianLearnedSigma(dim, sigma)
    elif name == "categorical":
        out = Categorical()
    else:
        raise unknown_choice("likelihood", name, LIKELIHOODS)
    out.masked = masked
    return out
