"""Input scaling fitted on the training split: ``data.scale`` = none | minmax | standard.

``shift`` and ``scale`` hold one value per input cell (x' = (x - shift) / scale, broadcast over the
examples), which is what a run copies into the model's ``input_shift`` / ``input_scale`` buffers.
Vectors and images are scaled per feature (pixel). Sequences are scaled per CHANNEL: the statistics
are taken over every example and every time step of a channel, the NaN end padding left out, and
broadcast to (T, C), so a step carries no statistics of its own (the series' position in time is not
a feature) and the saved shapes stay those of an example. Padding stays NaN after scaling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import unknown_choice


@dataclass
class Scaler:
    """Per-feature (per-channel for sequences) affine map fitted on the training split: x' = (x - shift) / scale."""

    kind: str = "none"
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, kind: str, x: np.ndarray, data_kind: str = "vectors") -> "Scaler":
        """Fit on ``x``; ``data_kind`` "sequences" fits per channel of (N, T, C) (see the module docstring)."""
        if kind == "none":
            return cls("none")
        if kind not in ("minmax", "standard"):
            raise unknown_choice("scaling", kind, ("none", "minmax", "standard"))
        seqs = data_kind == "sequences" and x.ndim == 3
        flat = (x.reshape(-1, x.shape[-1]) if seqs else x.reshape(x.shape[0], -1)).astype(np.float64)
        if kind == "minmax":
            lo, hi = (np.nanmin(flat, 0), np.nanmax(flat, 0)) if seqs else (flat.min(0), flat.max(0))
            shift, scale = lo, np.where(hi > lo, hi - lo, 1.0)
        else:
            shift, sd = (np.nanmean(flat, 0), np.nanstd(flat, 0)) if seqs else (flat.mean(0), flat.std(0))
            scale = np.where(sd > 0, sd, 1.0)
        if seqs:  # one value per channel, broadcast to the example's (T, C)
            shift, scale = (np.broadcast_to(v, x.shape[1:]) for v in (shift, scale))
        return cls(kind, np.ascontiguousarray(shift, dtype=np.float32), np.ascontiguousarray(scale, dtype=np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x`` (examples of the fitted shape) scaled; NaN padding stays NaN."""
        if self.kind == "none":
            return x
        shape = x.shape
        flat = x.reshape(len(x), -1)
        return ((flat - self.shift.reshape(-1)) / self.scale.reshape(-1)).reshape(shape).astype(np.float32)
