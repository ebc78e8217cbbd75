"""The one rule for turning numbers a user gives (files, NumPy arrays, tensors) into float32 inputs.

The data layer and every model's public API (``encode``, ``reconstruct``, ...) apply the same rule,
so an array means the same thing whichever way it arrives:

- ``uint8``: pixel values, divided by 255 (``uint16``: by 65535);
- ``bool``: 0 and 1;
- floats of any width (and bfloat16 tensors): cast to float32, values unchanged;
- other integers (int8 … int64, uint32 …): 0/1 data stay 0/1; values within 0..255 are pixel values
  when the data are images (divided by 255, and the loader says so), but are refused for vectors
  and sequences, where they could as well be counts (the message says how to choose); values
  outside 0..255 are plain numbers, cast to float32.

Integer pixel arrays are never trained on as 0..255 Gaussians.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import AekitError


def _int_rule(lo: float, hi: float, dtype: str, images: bool, source: str) -> tuple[float, str | None]:
    """The divisor for integer data with values in [lo, hi], and a note saying what was done."""
    if lo >= 0 and hi <= 1:
        return 1.0, None
    if lo >= 0 and hi <= 255:
        if images:
            return 255.0, f"{source}: {dtype} pixel values 0..{int(hi)} divided by 255, as for uint8"
        raise AekitError(
            f"{source}: integer values in 0..{int(hi)} ({dtype}) could be pixel values or counts",
            "say which: x.astype('uint8') for pixel values (divided by 255), x.astype('float32') for numbers "
            "(consider --scale standard), or --set data.kind=images for (N, H, W) / (N, C, H, W) pictures",
        )
    return 1.0, None


def to_float32(a: np.ndarray, source: str = "data", images: bool = False,
               bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, str | None]:
    """``a`` as float32 under the rule above, and a note when integers were read as pixel values.

    ``bounds``: the (min, max) that the integer rule decides on when ``a`` is one part of a whole
    (the train and test splits of one file must be read alike); default: ``a``'s own range."""
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0), None
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535.0), None
    if a.dtype == np.bool_:
        return a.astype(np.float32), None
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False), None
    if np.issubdtype(a.dtype, np.integer):
        if a.size == 0:
            return a.astype(np.float32), None
        lo, hi = bounds if bounds is not None else (float(a.min()), float(a.max()))
        div, note = _int_rule(lo, hi, str(a.dtype), images, source)
        out = a.astype(np.float32)
        return (out / np.float32(div) if div != 1.0 else out), note
    if a.dtype.hasobject or a.dtype.kind in "USV":
        raise AekitError(f"{source}: values are not numeric (dtype {a.dtype})",
                         "give numbers only; drop text columns or use --label-column")
    raise AekitError(f"{source}: unsupported dtype {a.dtype}", "give float or integer arrays")


def tensor_to_float32(t: Any, source: str = "input", images: bool = False) -> Any:
    """The same rule for a torch tensor (kept on its device)."""
    import torch

    if t.dtype == torch.uint8:
        return t.to(torch.float32) / 255.0
    if t.dtype == torch.bool:
        return t.to(torch.float32)
    if t.dtype.is_floating_point:
        return t.to(torch.float32)
    if t.dtype.is_complex:
        raise AekitError(f"{source}: complex values ({t.dtype}) are not supported", "give real numbers")
    if t.numel() == 0:
        return t.to(torch.float32)
    div, _ = _int_rule(float(t.min()), float(t.max()), str(t.dtype).replace("torch.", ""), images, source)
    out = t.to(torch.float32)
    return out / div if div != 1.0 else out
