"""Training logs beside history.csv (which stays the record): ``train.log`` names them.

TensorBoard (``--log tensorboard``): one scalar per history column and epoch in
``<run>/tensorboard/``; loss terms are tagged ``<term>/train`` and ``<term>/val`` so TensorBoard
draws them together. Needs the optional ``tensorboard`` package (``pip install 'aekit[tensorboard]'``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AekitError

META = ("lr", "epoch_time_s", "samples_per_s")


class TensorBoardLog:
    """A trainer callback writing each history row as scalars; the step is the row's index."""

    def __init__(self, log_dir: Path, start: int = 0):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise AekitError("--log tensorboard needs the tensorboard package, which is not installed",
                             "pip install 'aekit[tensorboard]' (or pip install tensorboard), or drop --log") from None
        self.writer = SummaryWriter(str(log_dir))
        self.step = start

    def __call__(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key in ("stage", "epoch") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key in META:
                tag = f"train/{key}"
            elif key.startswith("val_"):
                tag = f"{key[4:]}/val"
            else:
                tag = f"{key}/train"
            self.writer.add_scalar(tag, value, self.step)
        self.step += 1
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def make_loggers(names: list[str], run_dir: Path, start: int = 0) -> list[Any]:
    out = []
    for name in names:
        if name == "tensorboard":
            out.append(TensorBoardLog(Path(run_dir) / "tensorboard", start))
        else:  # pragma: no cover - the config checks the names
            raise AekitError(f"unknown training log {name!r}", "use tensorboard")
    return out
