"""One epoch's batches (aekit.train.batches): the in-memory slices and the DataLoader path take the
same rows of the same permutation; under DDP the ranks split each global batch and take equal steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.train.batches import epoch_batches, fits_in_memory

CPU = torch.device("cpu")


def _rows(n: int, perm: torch.Tensor, start: int = 0, world: int = 1, rank: int = 0, in_memory: bool = True):
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # row i holds i
    y = np.arange(n)
    xt, yt = (torch.from_numpy(x), torch.from_numpy(y)) if in_memory else (None, None)
    out = list(epoch_batches(perm, start, 4, world, rank, x_t=xt, y_t=yt, x_np=x, y_np=y, device=CPU,
                             memory_format=torch.contiguous_format))
    for _, _, xb, yb in out:
        assert torch.equal(xb[:, 0].long(), yb)  # x and y stay paired
    # the DataLoader path reads a batch's rows in sorted order (memory-mapped reads): compare batches as sets
    return [s for s, *_ in out], {steps for _, steps, *_ in out}, [sorted(yb.tolist()) for *_, yb in out]


def _batched(perm: torch.Tensor, size: int) -> list[list[int]]:
    return [sorted(perm[i: i + size].tolist()) for i in range(0, len(perm), size)]


@pytest.mark.parametrize("in_memory", [True, False])
def test_one_process_takes_every_row_in_the_permutations_order(in_memory):
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    steps, totals, ys = _rows(10, perm, in_memory=in_memory)
    assert steps == [0, 1, 2] and totals == {3}
    assert ys == _batched(perm, 4)  # the last batch is partial (2 rows), not dropped


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_resumed_epoch_starts_at_its_step(in_memory):
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    steps, _, ys = _rows(10, perm, start=2, in_memory=in_memory)
    assert steps == [2] and ys == _batched(perm[8:], 4)


@pytest.mark.parametrize("in_memory", [True, False])
def test_ddp_ranks_split_each_global_batch_and_drop_the_remainder(in_memory):
    perm = torch.randperm(21, generator=torch.Generator().manual_seed(2))
    r0 = _rows(21, perm, world=2, rank=0, in_memory=in_memory)
    r1 = _rows(21, perm, world=2, rank=1, in_memory=in_memory)
    assert r0[0] == r1[0] == [0, 1] and r0[1] == r1[1] == {2}  # 21 // 8 global batches, the same on each rank
    seen = sum(r0[2], []) + sum(r1[2], [])
    assert sorted(seen) == sorted(perm[:16].tolist())  # disjoint, and the last 5 of the permutation left out


def test_fewer_examples_than_one_global_batch_is_refused():
    with pytest.raises(AekitError, match="fewer than one batch"):
        _rows(7, torch.arange(7), world=2)


def test_in_memory_unless_memory_mapped_or_set(tmp_path):
    a = np.zeros((5, 3), np.float32)
    np.save(tmp_path / "a.npy", a)
    assert fits_in_memory(a, None) and not fits_in_memory(np.load(tmp_path / "a.npy", mmap_mode="r"), None)
    assert not fits_in_memory(a, False) and fits_in_memory(np.load(tmp_path / "a.npy", mmap_mode="r"), True)


def test_an_in_memory_batch_holds_its_own_rows_not_a_shuffled_copy_of_the_epoch():
    """Each batch gathers its rows: the epoch makes no shuffled copy of the whole training tensor
    beside it (which a batch sliced from such a copy would keep alive)."""
    n, d = 64, 5
    x = torch.arange(n * d, dtype=torch.float32).reshape(n, d)
    y = torch.arange(n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    batches = list(epoch_batches(perm, 0, 8, 1, 0, x_t=x, y_t=y, x_np=x.numpy(), y_np=y.numpy(), device=CPU,
                                 memory_format=torch.contiguous_format))
    for s, _, xb, yb in batches:
        assert torch.equal(xb, x[perm[s * 8: (s + 1) * 8]]) and torch.equal(yb, perm[s * 8: (s + 1) * 8])
        assert xb.untyped_storage().nbytes() == xb.numel() * xb.element_size()
        assert yb.untyped_storage().nbytes() == yb.numel() * yb.element_size()


def test_channels_last_batches_come_in_channels_last():
    x = torch.rand(12, 3, 4, 4)
    batches = list(epoch_batches(torch.arange(12), 0, 5, 1, 0, x_t=x, y_t=None, x_np=x.numpy(), y_np=None, device=CPU,
                                 memory_format=torch.channels_last))
    assert [b[2].shape[0] for b in batches] == [5, 5, 2]
    for s, _, xb, _ in batches:
        assert xb.is_contiguous(memory_format=torch.channels_last) and torch.equal(xb, x[s * 5: (s + 1) * 5])
