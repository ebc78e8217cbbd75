"""The data container every loader returns, and the checks every array passes through.

Shapes, for every kind of data from the start:
  vectors    (N, D)
  images     (N, C, H, W)   floats in [0, 1] (uint8 sources are divided by 255)
  sequences  (N, T, C)
Labels, when present, are int64 of shape (N,).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AekitError

KINDS = ("vectors", "images", "sequences")


@dataclass
class RawData:
    """What a loader returns: the data set's own splits (test may be missing)."""

    x_train: np.ndarray
    y_train: np.ndarray | None
    kind: str
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    source: str = ""
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. true manifold coordinates


def kind_of(x: np.ndarray) -> str:
    if x.ndim == 2:
        return "vectors"
    if x.ndim == 4:
        return "images"
    if x.ndim == 3:
        return "sequences"
    raise AekitError(
        f"data of shape {x.shape} has {x.ndim} dimensions",
        "expected (N, D) vectors, (N, C, H, W) images or (N, T, C) sequences; reshape before loading",
    )


def to_float(x: np.ndarray, source: str) -> np.ndarray:
    """Floats for training: uint8 → [0, 1]; other numbers → float32; anything else is an error."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / 255.0)
    if x.dtype == np.uint16:
        return (x.astype(np.float32) / 65535.0)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise AekitError(f"{source}: values are not numeric (dtype {x.dtype})", "give numbers only; drop text columns or use --label-column")
    return x.astype(np.float32, copy=False)


def check_x(x: np.ndarray, source: str) -> np.ndarray:
    """Shape, emptiness and finiteness checks with messages that say what to do."""
    if x.ndim < 2:
        raise AekitError(f"{source}: expected one example per row, got an array of shape {x.shape}", "give a 2-D array (examples × features)")
    if x.shape[0] == 0:
        raise AekitError(f"{source}: the data set is empty (0 examples)", "check the file holds data")
    if int(np.prod(x.shape[1:])) == 0:
        raise AekitError(f"{source}: examples have 0 features (shape {x.shape})", "check the file holds data")
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(x[tuple(idx)]) else "inf"
        raise AekitError(
            f"{source}: {int(bad.sum())} values are NaN or inf (first: {kind} in example {idx[0]})",
            "remove or impute those rows before training",
        )
    return x


def check_y(y: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.reshape(-1) if y.size == n else y
    if y.shape[0] != n:
        raise AekitError(f"{source}: {y.shape[0]} labels for {n} examples", "give exactly one label per example")
    if not np.issubdtype(y.dtype, np.integer):
        yf = y.astype(np.float64)
        if not np.all(np.isfinite(yf)) or not np.all(yf == np.round(yf)):
            raise AekitError(f"{source}: labels must be whole numbers", "encode class names as integers 0..K-1")
    return y.astype(np.int64)


def check_raw(raw: RawData) -> RawData:
    src = raw.source or "data"
    raw.x_train = check_x(to_float(np.asarray(raw.x_train), src), src)
    raw.y_train = check_y(raw.y_train, raw.x_train.shape[0], src)
    if raw.x_test is not None:
        raw.x_test = check_x(to_float(np.asarray(raw.x_test), src + " (test)"), src + " (test)")
        raw.y_test = check_y(raw.y_test, raw.x_test.shape[0], src + " (test)")
        if raw.x_test.shape[1:] != raw.x_train.shape[1:]:
            raise AekitError(f"{src}: test examples have shape {raw.x_test.shape[1:]}, train {raw.x_train.shape[1:]}", "both splits must have the same width")
    if raw.kind not in KINDS:
        raw.kind = kind_of(raw.x_train)
    return raw
