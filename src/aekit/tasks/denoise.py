"""Denoising with a trained autoencoder (``aekit denoise RUN --corrupt masking:0.5``).

Inputs are corrupted (seeded: the same noise for the same seed) and passed through the model; the
restored data are the likelihood's mean. The figures are the PSNR of the corrupted inputs and of the
restored ones against the clean inputs, as ``aekit evaluate --corrupt`` reports them (model space,
over the data's range). :func:`denoising_grid` is the lecture's figure: the inputs, then for each
corruption the corrupted inputs above what the model made of them.

    out = denoise(model, x_test[:1000], ["masking:0.5", "salt-pepper:0.5"])
    out[0].psnr_corrupted_db, out[0].psnr_restored_db, out[0].restored   # data units
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import AekitError
from ..evaluate import clip_for_likelihood, corrupt_and_restore, parse_corruption
from ..metrics import psnr


@dataclass
class Denoised:
    """One corruption's result: ``noisy`` and ``restored`` in the data's own units."""

    corruption: str
    noisy: np.ndarray
    restored: np.ndarray
    psnr_corrupted_db: float
    psnr_restored_db: float

    def figures(self) -> dict[str, Any]:
        return {"corruption": self.corruption, "psnr_corrupted_db": self.psnr_corrupted_db,
                "psnr_restored_db": self.psnr_restored_db, "psnr_gain_db": self.psnr_restored_db - self.psnr_corrupted_db}


def denoise(model: Any, x: Any, corruptions: Sequence[str] = ("masking:0.5",), seed: int = 0,
            batch_size: int = 1024) -> list[Denoised]:
    """Corrupt data-space ``x`` by each of ``corruptions`` ("KIND:LEVEL") and restore it with ``model``."""
    if isinstance(corruptions, str):
        corruptions = [corruptions]
    specs = [(c, *parse_corruption(c)) for c in corruptions]
    if not specs:
        raise AekitError("no corruption given", "e.g. masking:0.5 or salt-pepper:0.5")
    t, _ = model.as_input(x)
    with torch.no_grad():
        xm = model.to_model_space(t).numpy()
    xm, _ = clip_for_likelihood(model, xm, "denoising input")
    lo, hi = model.cfg.input_range
    data_range = hi - lo if hi > lo else 1.0
    out = []
    for spec, kind, level in specs:
        noisy, restored = corrupt_and_restore(model, xm, kind, level, batch_size=batch_size, seed=seed)
        with torch.no_grad():
            noisy_d, restored_d = model.from_model_space(noisy).numpy(), model.from_model_space(restored).numpy()
        out.append(Denoised(spec, noisy_d, restored_d, psnr(xm, noisy.numpy(), data_range), psnr(xm, restored.numpy(), data_range)))
    return out


def denoising_grid(model: Any, x: Any, results: Sequence[Denoised], n: int = 10) -> Any:
    """The lecture's grid for images: inputs, then each corruption's noisy inputs and restorations."""
    from ..plots.figures import image_rows

    if len(model.input_shape) != 3:
        raise AekitError("the denoising grid needs image data (N, C, H, W)", "write the restored data with --out instead")
    k = max(1, min(int(n), len(results[0].noisy)))
    clean = np.asarray(model.as_input(np.asarray(x)[:k])[0])
    rows = [("input", clean)]
    for r in results:
        rows += [(r.corruption, r.noisy[:k]), (f"restored ({r.psnr_restored_db:.1f} dB)", r.restored[:k])]
    return image_rows(rows)


__all__ = ["Denoised", "denoise", "denoising_grid"]
