"""Small pieces of autoencoder maths, each checked against its formula in the tests.

Conventions, documented once: every loss term is computed per example (summed over the data or
code dimensions) and then averaged over the batch, so figures read as nats (or squared error)
per example whatever the batch size.
"""
from .corruptions import CORRUPTIONS, Corruption, GaussianNoise, MaskingNoise, SaltAndPepperNoise, make_corruption
from .likelihoods import LIKELIHOODS, Bernoulli, Gaussian, GaussianLearnedSigma, Likelihood, make_likelihood
from .penalties import (
    contractive_closed_form,
    contractive_exact,
    kl_sparsity,
    l1_code,
    stochastic_contractive,
    weight_decay,
)

__all__ = [
    "Bernoulli", "Gaussian", "GaussianLearnedSigma", "Likelihood", "LIKELIHOODS", "make_likelihood",
    "Corruption", "GaussianNoise", "MaskingNoise", "SaltAndPepperNoise", "CORRUPTIONS", "make_corruption",
    "l1_code", "kl_sparsity", "contractive_closed_form", "contractive_exact", "stochastic_contractive", "weight_decay",
]
