"""Mixed precision: which autocast dtype a run trains in, decided once per run.

``train.precision``: fp32 (none), bf16, fp16, or auto. Autocast covers the forward pass and the loss;
the likelihoods, KL terms and penalties cast to float32 before they reduce, weights, optimiser state
and checkpoints stay float32. fp16 needs a CUDA GPU (with a gradient scaler); bf16 needs a GPU that
supports it, or a CPU with AVX512-BF16 or AMX, where it is the fast choice: elsewhere on a CPU bf16
would be emulated (slow), so aekit says so and trains in fp32. auto: bf16 where it is supported,
else fp16 on a GPU and fp32 on a CPU.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import torch

from ..errors import AekitError

log = logging.getLogger("aekit.train")

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run trains in: fp32, bf16 or fp16 (``auto`` and unsupported bf16 resolved)."""
    cuda = device.type == "cuda"
    if name == "fp32":
        return "fp32"
    if name == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if name == "fp16":
        if not cuda:
            raise AekitError("train.precision=fp16 needs a CUDA GPU (fp16 training needs a gradient scaler and fast fp16 kernels)",
                             "on a CPU use --precision bf16 (or auto)")
        return "fp16"
    if name == "bf16":
        if cuda:
            if not torch.cuda.is_bf16_supported():
                raise AekitError(f"train.precision=bf16: the GPU {torch.cuda.get_device_name(device)} has no bf16 support",
                                 "use --precision fp16 (or auto)")
            return "bf16"
        if not cpu_has_bf16():
            log.warning("precision: this CPU has neither AVX512-BF16 nor AMX, so bf16 would be emulated and slow: training in fp32")
            return "fp32"
        return "bf16"
    raise AekitError(f"unknown precision {name!r}", "use fp32, bf16, fp16 or auto")


def autocast(precision: str, device: torch.device) -> Any:
    """The autocast context of a training step (none at all for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
