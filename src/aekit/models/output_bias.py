"""The decoder's output bias set from the training data: every reconstruction starts at the mean example.

With a zero output bias a Bernoulli decoder starts at p = 0.5 for every pixel (≈ 544 nats on MNIST
against ≈ 206 for the mean image), and the first few dozen Adam steps are spent walking its output to
the mean image. Through a bounded code (the contractive and sparse AEs' sigmoid) that walk drives the
code units into saturation, where no gradient reaches the encoder again: measured on MNIST with the
784-512-256-2 ReLU encoder, every code unit ends at 1 within 20 steps and the run reconstructs the
mean image for good (Table 2 of BENCHMARKS.md). Starting the output at the likelihood's parameter of
the training mean (logit of the mean grey level per pixel; the mean itself for Gaussians) removes
that phase: the same run trains. ``model.output_bias=zero`` keeps the networks' own zero bias.
A convolutional decoder ends in a transposed convolution with one bias per channel, which would
start it at a flat image (the conv contractive AE of Table 2 collapsed from there on MNIST at codes 2
and 8): its fixed per-pixel ``output_offset`` takes the mean instead, and that last bias is zeroed.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ..nets.conv import OFFSET

CHOICES = ("data", "zero")
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned")  # one parameter per data value, in the data's shape


def _last_bias(decoder: nn.Module) -> torch.nn.Parameter | None:
    last = None
    for module in decoder.modules():
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.nn.Parameter):
            last = bias
    return last


def init_output_bias(model: nn.Module, x_train: np.ndarray) -> bool:
    """Start ``model.decoder``'s output at the likelihood's parameter of ``x_train``'s mean example
    (model space), per data value: in its last bias (MLP decoders), or in its ``output_offset`` buffer
    with the last bias zeroed (convolutional decoders). True when set; False (nothing changed) for
    models whose decoder does not end in the data's likelihood parameters (M1+M2's M2 reconstructs
    M1's codes)."""
    likelihood = getattr(getattr(model, "likelihood", None), "name", None)
    decoder = getattr(model, "decoder", None)
    bias = _last_bias(decoder) if isinstance(decoder, nn.Module) else None
    if likelihood not in LIKELIHOODS or bias is None or x_train is None or len(x_train) == 0:
        return False
    x = np.asarray(x_train, dtype=np.float64)
    offset = getattr(decoder, OFFSET, None)
    target = offset if isinstance(offset, torch.Tensor) else bias
    if tuple(x.shape[1:]) != tuple(model.input_shape) or target.numel() != x[0].size:
        return False
    with warnings.catch_warnings():  # NaN (sequence end padding) is left out; a value never observed gets the neutral 0.5 / 0
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, 0).reshape(-1)
    mean = np.nan_to_num(mean, nan=0.5 if likelihood == "bernoulli" else 0.0)
    if likelihood == "bernoulli":
        mean = np.clip(mean, 1e-3, 1 - 1e-3)
        mean = np.log(mean) - np.log1p(-mean)  # the logit
    with torch.no_grad():
        target.copy_(torch.from_numpy(mean).to(target.dtype).reshape(target.shape))
        if target is offset:
            bias.zero_()
    return True
