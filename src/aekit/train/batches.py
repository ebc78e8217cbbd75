"""The batches of one epoch, for the trainer.

In memory (the default below 4 GiB): the training arrays live on the target device as one tensor,
and each batch gathers its rows of the epoch's permutation (the run's seeded generator) by
``index_select``, so an epoch holds no shuffled copy of the data set beside it. Otherwise
(``train.in_memory=false``, or a memory-mapped array) a DataLoader fetches the same rows of the same
permutation a batch at a time, so both paths train the same model.

Under DDP every rank takes the same number of steps: each global batch of ``B·W`` examples is split
between the ranks, and the remainder of the permutation (fewer than ``B·W`` examples) is left out.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..errors import AekitError
from .layout import to_layout

Batch = tuple[int, int, torch.Tensor, torch.Tensor | None]  # (step, steps, x, y)


def fits_in_memory(x: np.ndarray, setting: bool | None) -> bool:
    """``train.in_memory`` when set; else whether ``x`` is an ordinary array under 4 GiB."""
    if setting is not None:
        return setting
    return not isinstance(x, np.memmap) and x.nbytes < 4 * 2**30


def to_device(a: np.ndarray | None, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    if a is None:
        return None
    return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(device)


class _ArrayDataset(torch.utils.data.Dataset):
    """For the DataLoader path: rows of (possibly memory-mapped) arrays, fetched a batch at a time."""

    def __init__(self, x: np.ndarray, y: np.ndarray | None):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = np.sort(np.asarray(idx))
        xb = torch.from_numpy(np.ascontiguousarray(self.x[idx], dtype=np.float32))
        yb = torch.from_numpy(np.asarray(self.y[idx], dtype=np.int64)) if self.y is not None else None
        return xb, yb


def _collate(batch: Any) -> Any:
    return batch


def epoch_batches(perm: torch.Tensor, start: int, batch_size: int, world: int, rank: int, *,
                  x_t: torch.Tensor | None, y_t: torch.Tensor | None, x_np: np.ndarray, y_np: np.ndarray | None,
                  device: torch.device, memory_format: torch.memory_format, num_workers: int = 0) -> Iterator[Batch]:
    """Yields (step, steps, x_batch, y_batch) for the epoch shuffled by ``perm``, from step ``start`` on;
    from the device tensors ``x_t``/``y_t`` when given, else from the arrays through a DataLoader."""
    n, B, W, r = len(perm), batch_size, world, rank
    global_b = B * W
    # one process keeps the last partial batch; under DDP every rank must take the same number of steps
    steps = math.ceil(n / global_b) if W == 1 else n // global_b
    if steps == 0:
        raise AekitError(f"{n} training examples are fewer than one batch across {W} processes", "lower --batch-size")
    if x_t is not None:
        perm_d = perm.to(device)
        for s in range(start, steps):
            sl = slice(s * global_b + r, (s + 1) * global_b, W) if W > 1 else slice(s * B, (s + 1) * B)
            idx = perm_d[sl]
            yield (s, steps, to_layout(x_t.index_select(0, idx), memory_format),
                   y_t.index_select(0, idx) if y_t is not None else None)
        return
    order = perm.numpy()
    chunks = [order[s * global_b: (s + 1) * global_b][r::W] for s in range(start, steps)]
    loader = torch.utils.data.DataLoader(_ArrayDataset(x_np, y_np), batch_sampler=chunks, collate_fn=_collate,
                                         num_workers=num_workers, pin_memory=device.type == "cuda")
    for s, (xb, yb) in zip(range(start, steps), loader):
        yield (s, steps, to_layout(xb.to(device, non_blocking=True), memory_format),
               yb.to(device, non_blocking=True) if yb is not None else None)
