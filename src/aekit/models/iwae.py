"""The importance-weighted objective of the VAE family: the IWAE (Burda, Grosse & Salakhutdinov
2016) and its doubly reparameterised gradient (DReG; Tucker, Lawson, Gu & Maddison 2019).

    −L_k = −log (1/k) Σ_i p(x | z_i) p(z_i) / q(z_i | x),   z_i = μ(x) + σ(x) ⊙ ε_i,  i = 1..k

per example, batch mean. L_1 is the ELBO with its KL by Monte Carlo (the ``elbo`` objective takes
it in closed form: the same value in expectation); L_k rises towards log p(x) with k. The bound is
the one of parts/importance.py, which also gives ``VAE.log_likelihood``: here it is taken on the
training batch, with gradients (``model.gradient``: standard | dreg, see that module).

What the objective leaves out — β, KL schedules, free bits, several latent samples of the ELBO —
is an error naming the key (:func:`objective_unused`, :func:`check_objective`). The VAE's other
options apply unchanged: every network (a recurrent decoder is teacher-forced on the k copies of
its target), dynamic binarization, corruption (a denoising IWAE), weight decay.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..config import check_choice
from ..errors import AekitError
from ..parts.gaussian import kl_standard_normal
from ..parts.importance import GRADIENTS, importance_bound
from .base import Terms

OBJECTIVES = ("elbo", "iwae")

# keys of the ELBO objective the importance-weighted bound has no use for, and why
_ELBO_ONLY = {
    "beta": "the importance-weighted bound has no KL weight (β = 1)",
    "kl_schedule": "the importance-weighted bound has no KL term to anneal",
    "free_bits": "the importance-weighted bound has no per-dimension KL term to floor",
    "latent_samples": "model.k sets the samples of the iwae objective",
}


def objective_unused(cfg: Any) -> dict[str, str]:
    """The VAE keys without effect under ``cfg.objective`` (see config.check_unused)."""
    if cfg.objective != "iwae":
        why = f"only the iwae objective uses it (model.objective is {cfg.objective})"
        return {"k": why, "gradient": why}
    return {key: f"{why} (model.objective is iwae)" for key, why in _ELBO_ONLY.items()}


def check_objective(cfg: Any) -> None:
    """The objective's own options, and under iwae any ELBO-only setting (a preset's too, e.g.
    beta-vae's β = 4) as an error naming it."""
    check_choice("model.objective", cfg.objective, OBJECTIVES)
    check_choice("model.gradient", cfg.gradient, GRADIENTS)
    if cfg.k < 1:
        raise AekitError(f"model.k must be >= 1 importance samples, got {cfg.k}", "e.g. --set model.k=5 (Burda et al.: 1, 5 or 50)")
    if cfg.objective != "iwae":
        return
    neutral = {"beta": 1.0, "kl_schedule": "constant", "free_bits": 0.0, "latent_samples": 1}
    for key, value in neutral.items():
        if getattr(cfg, key) != value:
            raise AekitError(f"model.{key}={getattr(cfg, key)!r} has no effect under model.objective=iwae: {_ELBO_ONLY[key]}",
                             f"set model.{key}={value}, or train with model.objective=elbo")


def floats_per_sample(model: Any) -> int:
    """A rough count of the floats one importance sample of one example keeps alive (decoder
    activations, target, densities): sizes the chunks of parts/importance.py."""
    return 3 * model.input_dim + sum(model.cfg.hidden) + 4 * model.cfg.latent_dim


def decoder_log_lik(model: Any, x: torch.Tensor, teacher: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """log p(x | z) as parts/importance.py asks for it: z (S, 1, B, D) → (S, 1, B), the S·B codes
    decoded in one call (sample s of example b at row s·B + b). ``teacher``: the decoder sees the
    S copies of ``x`` as its target (a recurrent decoder's teacher forcing in training)."""
    def log_lik(z: torch.Tensor) -> torch.Tensor:
        S, _, B, D = z.shape
        target = x.unsqueeze(0).expand(S, *x.shape).reshape(S * B, *x.shape[1:])
        params = model.decoder_params(z.reshape(S * B, D), target=target if teacher else None)
        return -model.likelihood.nll(params, target).reshape(S, 1, B)

    return log_lik


def iwae_terms(model: Any, x: torch.Tensor, x_in: torch.Tensor, k: int, gradient: str = "standard") -> Terms:
    """The IWAE objective's terms on a batch: ``iwae`` (−L_k, the objective), ``recon`` (the mean
    over the k samples of −log p(x | z_i)), ``kl`` (closed form, a figure: not in the objective) and
    ``loss`` (= ``iwae``; the caller adds penalties). ``x``: the target (binarized when the model
    binarizes), ``x_in``: what the encoder sees (corrupted, for a denoising model). The k draws
    come from the global RNG (seeded by the trainer and saved in its checkpoints)."""
    mu, logvar = model.posterior(x_in)
    bound, log_lik = importance_bound(mu[None], logvar[None], decoder_log_lik(model, x, teacher=True), k,
                                      floats_per_sample=floats_per_sample(model), gradient=gradient)
    neg = -bound.mean()
    return {"recon": -log_lik.mean(), "kl": kl_standard_normal(mu, logvar).sum(-1).mean(), "iwae": neg, "loss": neg}
