"""Memory layout of image batches and convolution weights (``train.memory_format``).

channels_last stores an (N, C, H, W) tensor as N·H·W·C. On a CUDA GPU it is the layout cuDNN's
tensor-core convolutions want under mixed precision (PyTorch's performance guide), so ``auto``
picks it there for a model with 2-D convolutions. On the CPU ``auto`` stays contiguous: measured
on the CI-class 2-core CPU (``benchmarks/bench_conv_speed.py``, results/conv_speed.json, six
interleaved repeats), neither aekit's Trainer nor a hand-written loop of the conv AE gained from
channels_last beyond the machine's run-to-run spread, in fp32 or bf16. ``channels_last`` forces it.

The layout changes speed only, never values beyond float rounding: the Trainer converts the model
(4-D weights) and the image batches at the start of ``fit`` and converts the weights back at its end,
so checkpoints, saved models and later calls see the default layout; optimiser states restored from
a checkpoint are given their parameter's layout (:func:`match_optimizer_layout`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import AekitError

CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def resolve_memory_format(name: str, model: nn.Module, device: torch.device) -> torch.memory_format:
    """``auto`` → channels_last for a model with a 2-D convolution on a CUDA device, else contiguous."""
    if name == "auto":
        conv = any(isinstance(m, CONVS) for m in model.modules())
        return torch.channels_last if conv and device.type == "cuda" else torch.contiguous_format
    if name == "channels_last":
        return torch.channels_last
    if name == "contiguous":
        return torch.contiguous_format
    raise AekitError(f"unknown train.memory_format {name!r}", "use auto, channels_last or contiguous")


def to_layout(t: torch.Tensor | None, fmt: torch.memory_format) -> torch.Tensor | None:
    """A 4-D tensor in ``fmt`` (other ranks have no channels_last and come back as they are)."""
    if t is None or t.dim() != 4 or fmt is torch.contiguous_format:
        return t
    return t.contiguous(memory_format=fmt)


def model_layout(model: nn.Module, fmt: torch.memory_format) -> None:
    """Put the model's 4-D parameters and buffers in ``fmt`` (in place; a no-op for other ranks)."""
    model.to(memory_format=fmt)


def match_optimizer_layout(opt: torch.optim.Optimizer) -> None:
    """Give each state tensor of a parameter's shape (Adam's moments) that parameter's strides."""
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    state[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


__all__ = ["resolve_memory_format", "to_layout", "model_layout", "match_optimizer_layout"]
