"""The data container every loader returns, and the checks every array passes through.

Shapes, for every kind of data from the start:
  vectors    (N, D)
  images     (N, C, H, W)   floats in [0, 1] (uint8 sources are divided by 255)
  sequences  (N, T, C)
Labels, when present, are int64 or text (class names) of shape (N,), as in the data; ``prepare``
maps them to indices into the sorted label values (:func:`label_classes`, :func:`class_indices`),
and a run saves those values. Negative labels are refused, except −1 (an unlabelled example) where
a semi-supervised model allows it.

How an array is read (:func:`layout`, the one place this is decided), by ``data.kind``:

  auto       (N, D) vectors; (N, H, W) one-channel images (N, 1, H, W), the layout of Keras' MNIST;
             (N, C, H, W) images. A 3-D array is never guessed to be sequences: sequences have to
             be asked for, since (N, 28, 28) digits and (N, T, C) signals look alike.
  vectors    any array flattened to (N, D).
  images     (N, H, W) gets the channel axis; (N, C, H, W) stays; (N, D) is an error (rows of numbers
             are not pictures: reshape them first).
  sequences  (N, T, C) stays; (N, T) becomes one-channel (N, T, 1); 4-D is an error.
  text       a text file, one example per line, read as one-hot sequences (N, T, V) over its sorted
             characters (:mod:`aekit.data.text`); ``RawData.vocab`` holds the characters. After
             reading, the kind is sequences.

A 4-D array that looks channels-last (N, H, W, C with C in 1, 3, 4) is moved to channels-first;
one that could be either (N, 3, H, 3) is read channels-first, and one with more than 4 channels
first (N, 28, 28, 2) is read as (N, C, H, W) as it stands; both are said in the log.
Every reading that changes the shape or that could have gone another way is logged once per load.

Missing values: NaN and inf are errors naming the example, with one exception. Sequences of
different lengths are padded at the END with NaN: every channel NaN from some step to the last
(:func:`pad_sequences`). NaN anywhere else in a sequence (inside the series, or in some channels
only) is still an error, and so is a series with no values at all. Vectors and images take no NaN.

Values follow the one numeric-input rule of :mod:`aekit.arrays` (uint8 ÷ 255, integer pixel values
÷ 255 for images, refused for vectors and sequences, ...), so a file and an array handed to a
model's ``encode`` mean the same thing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..arrays import to_float32
from ..errors import AekitError, unknown_choice

log = logging.getLogger("aekit")

KINDS = ("vectors", "images", "sequences")
READINGS = ("auto",) + KINDS + ("text",)  # the values of data.kind (text is read as sequences)


@dataclass
class RawData:
    """What a loader returns: the data set's own splits (test may be missing).

    ``kind`` is what the loader knows of its data ("images" for an image folder, "auto" for an
    array that :func:`check_raw` reads under ``data.kind``); after ``check_raw`` it is one of KINDS.
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    kind: str
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    source: str = ""
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. true manifold coordinates
    vocab: list[str] | None = None  # text: the characters of the one-hot channels, in order


def _channels_first(x: np.ndarray, source: str) -> tuple[np.ndarray, str | None]:
    first, last = x.shape[1] in (1, 3, 4), x.shape[3] in (1, 3, 4)
    if not first and last:
        out = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return out, f"{source}: {x.shape} looks channels-last; read as images (N, C, H, W) {out.shape}"
    if first and last:
        return x, (f"{source}: {x.shape} could be channels-first or channels-last; read channels-first as images "
                   f"(N, C, H, W) with {x.shape[1]} channels (move the axis first, x.transpose(0, 3, 1, 2), for the other reading)")
    if not first:
        return x, (f"{source}: {x.shape} read as images (N, C, H, W) with {x.shape[1]} channels "
                   "(images usually have 1, 3 or 4; save them as (N, C, H, W) if the channels are elsewhere)")
    return x, None


def layout(x: np.ndarray, kind: str, source: str) -> tuple[np.ndarray, str, str | None]:
    """``x`` in the layout of its kind under ``data.kind`` = ``kind`` (see the module docstring):
    (array, kind, a note for the log when the reading changed the shape or could have gone another way)."""
    if kind not in READINGS:
        raise unknown_choice("data.kind", kind, READINGS)
    if kind == "text":  # the text reader made one-hot sequences
        kind = "sequences"
    shape = x.shape
    if x.ndim < 2:  # check_x explains what is wrong
        return x, "vectors" if kind == "auto" else kind, None
    if kind == "vectors":
        if x.ndim == 2:
            return x, "vectors", None
        out = x.reshape(len(x), -1)
        return out, "vectors", f"{source}: {shape} flattened to vectors {out.shape} (data.kind=vectors)"
    if kind == "sequences":
        if x.ndim == 3:
            return x, "sequences", None
        if x.ndim == 2:
            out = x[:, :, None]
            return out, "sequences", f"{source}: {shape} read as one-channel sequences (N, T, 1) {out.shape}"
        raise AekitError(f"{source}: data.kind=sequences, but the array has shape {shape}; sequences are (N, T, C)",
                         "reshape it to (N, T, C) before loading, or drop data.kind (auto) to read it as images")
    if x.ndim == 2:
        if kind == "images":
            raise AekitError(f"{source}: data.kind=images, but the array has shape {shape}: one row of numbers per example",
                             "save the images as (N, H, W) or (N, C, H, W), e.g. x.reshape(-1, 28, 28); "
                             "or drop data.kind to read the rows as vectors")
        return x, "vectors", None
    if x.ndim == 3:
        out = x[:, None]
        hint = "; for sequences set data.kind=sequences" if kind == "auto" else ""
        return out, "images", f"{source}: {shape} read as 1-channel images {out.shape}{hint}"
    if x.ndim == 4:
        out, note = _channels_first(x, source)
        return out, "images", note
    raise AekitError(
        f"{source}: data of shape {shape} has {x.ndim} dimensions",
        "expected (N, D) vectors, (N, H, W) or (N, C, H, W) images, or (N, T, C) sequences "
        "(with data.kind=sequences); reshape before loading",
    )


def pad_sequences(series: list[np.ndarray], length: int | None = None) -> np.ndarray:
    """Series of shape (T_i, C) (or (T_i,)) as one float32 array (N, T, C), padded at the end with
    NaN to ``length`` (default: the longest), the padding that sequences allow."""
    arrs = [np.asarray(s, dtype=np.float32).reshape(len(s), -1) for s in series]
    t = max((len(a) for a in arrs), default=0) if length is None else length
    c = arrs[0].shape[1] if arrs else 1
    out = np.full((len(arrs), t, c), np.nan, dtype=np.float32)
    for i, a in enumerate(arrs):
        out[i, : len(a)] = a[:t]
    return out


def series_lengths(x: np.ndarray) -> np.ndarray:
    """The length of each (N, T, C) series: the steps before its NaN end padding."""
    pad = np.isnan(x).all(axis=2)
    tail = np.flip(np.logical_and.accumulate(np.flip(pad, 1), axis=1), 1)  # padding from here to the end
    return x.shape[1] - tail.sum(axis=1)


def _check_padding(x: np.ndarray, source: str) -> None:
    """NaN in (N, T, C) sequences only as end padding (every channel, from some step to the end)."""
    lengths = series_lengths(x)
    inside = np.isnan(x) & (np.arange(x.shape[1])[None, :, None] < lengths[:, None, None])
    if inside.any():
        i, t, c = (int(v) for v in np.argwhere(inside)[0])
        n = int(inside.any(axis=(1, 2)).sum())
        raise AekitError(
            f"{source}: example {i} has NaN at step {t} (channel {c}) inside the series, before its last value"
            f"{f' ({n} examples in all)' if n > 1 else ''}; in sequences NaN may only pad the end",
            "impute the missing values (e.g. interpolate), or cut the series there; padding of a shorter "
            "series is NaN in every channel from some step to the end")
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        raise AekitError(f"{source}: example {int(empty[0])} has no values (every step is NaN)"
                         f"{f' ({len(empty)} examples in all)' if len(empty) > 1 else ''}",
                         "remove the empty series")


def check_x(x: np.ndarray, source: str, sequences: bool = False) -> np.ndarray:
    """Shape, emptiness and finiteness checks with messages that say what to do; ``sequences``
    (N, T, C) may be NaN-padded at the end (see the module docstring)."""
    if x.ndim < 2:
        raise AekitError(f"{source}: expected one example per row, got an array of shape {x.shape}", "give a 2-D array (examples × features)")
    if x.shape[0] == 0:
        raise AekitError(f"{source}: the data set is empty (0 examples)", "check the file holds data")
    if int(np.prod(x.shape[1:])) == 0:
        raise AekitError(f"{source}: examples have 0 features (shape {x.shape})", "check the file holds data")
    bad = ~np.isfinite(x)
    if sequences and x.ndim == 3 and bad.any():
        _check_padding(x, source)
        bad = np.isinf(x)  # NaN is end padding; inf is still an error
    if bad.any():
        idx = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(x[tuple(idx)]) else "inf"
        raise AekitError(
            f"{source}: {int(bad.sum())} values are NaN or inf (first: {kind} in example {idx[0]})",
            "remove or impute those rows before training",
        )
    return x


def check_y(y: Any, n: int, source: str) -> np.ndarray | None:
    """One label per example, as int64 (whole numbers, bools) or as text (class names)."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.reshape(-1) if y.size == n else y
    if y.shape[0] != n:
        raise AekitError(f"{source}: {y.shape[0]} labels for {n} examples", "give exactly one label per example")
    if y.dtype.kind in "US" or (y.dtype == object and all(isinstance(v, str) for v in y.tolist())):
        return y.astype(str)
    if y.dtype == np.bool_ or np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        yf = y.astype(np.float64)
        if np.all(np.isfinite(yf)) and np.all(yf == np.round(yf)):
            return yf.astype(np.int64)
    raise AekitError(f"{source}: labels must be whole numbers or class names (got {y.dtype} values such as {y[:3].tolist()})",
                     "give class labels: integers or text, one per example")


def _int_bounds(*arrays: np.ndarray | None) -> tuple[float, float] | None:
    """The value range of the integer arrays of one data set, so that its splits are read alike."""
    ints = [a for a in arrays if a is not None and a.size and np.issubdtype(a.dtype, np.integer)]
    if not ints:
        return None
    return min(float(a.min()) for a in ints), max(float(a.max()) for a in ints)


def check_raw(raw: RawData, kind: str = "auto") -> RawData:
    """Lay out (under ``data.kind`` = ``kind``), convert to float32 and check both splits of ``raw``.

    The loader's own kind counts when ``kind`` is "auto" (an image folder is images). The test
    split is read under the same rule (a different shape is an error, not reshaped to fit), and the
    reading is logged once."""
    src = raw.source or "data"
    if kind == "text":  # read by the text reader as one-hot sequences
        kind = "sequences"
    want = kind if kind != "auto" else (raw.kind if raw.kind in KINDS else "auto")
    x, raw.kind, note = layout(np.asarray(raw.x_train), want, src)
    xt = None
    if raw.x_test is not None:
        xt, _, _ = layout(np.asarray(raw.x_test), want, src + " (test)")  # a different shape is caught below
    if note:
        log.info("%s", note)
    images = raw.kind == "images"
    bounds = _int_bounds(x, xt)
    x, note = to_float32(x, src, images=images, bounds=bounds)
    if note:
        log.info("%s", note)
    seqs = raw.kind == "sequences"
    raw.x_train = check_x(x, src, seqs)
    raw.y_train = check_y(raw.y_train, raw.x_train.shape[0], src)
    if xt is not None:
        xt, _ = to_float32(xt, src + " (test)", images=images, bounds=bounds)
        raw.x_test = check_x(xt, src + " (test)", seqs)
        raw.y_test = check_y(raw.y_test, raw.x_test.shape[0], src + " (test)")
        if raw.x_test.shape[1:] != raw.x_train.shape[1:]:
            raise AekitError(f"{src}: test examples have shape {raw.x_test.shape[1:]}, train {raw.x_train.shape[1:]}", "both splits must have the same width")
    elif raw.y_test is not None:
        raise AekitError(f"{src}: test labels without test examples", "give the test examples too, or drop the test labels")
    if seqs:
        _note_padding(raw, src)
    return raw


def _note_padding(raw: RawData, src: str) -> None:
    """Say once how many series are shorter than the array (NaN-padded at the end)."""
    for x, where in ((raw.x_train, src), (raw.x_test, src + " (test)")):
        if x is None or x.ndim != 3 or not np.isnan(x).any():
            continue
        n = series_lengths(x)
        short = int((n < x.shape[1]).sum())
        log.info("%s: %d of %d series are shorter than %d steps (lengths %d..%d), NaN-padded at the end",
                 where, short, len(x), x.shape[1], int(n.min()), int(n.max()))


# --- labels → classes -----------------------------------------------------------------------------

def check_labels(y: np.ndarray | None, source: str, allow_unlabelled: bool = False) -> None:
    """Negative labels are refused: −1 marks an unlabelled example, and only where it is allowed."""
    if y is None or not np.issubdtype(y.dtype, np.integer):
        return
    bad = (y < 0) & ~((y == -1) & allow_unlabelled)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        why = "; this model does not take unlabelled examples" if y[i] == -1 else ""
        raise AekitError(f"{source}: label {int(y[i])} (example {i}) is negative{why}",
                         "map the labels to 0..K-1 (or give class names); -1 marks unlabelled examples, "
                         "and only for semi-supervised models")


def label_classes(labelled: list[tuple[np.ndarray | None, str]], allow_unlabelled: bool = False) -> list[Any]:
    """The sorted distinct label values (python ints or strs, so YAML can save them) of ``labelled``,
    pairs of (labels, source); −1 (unlabelled, where allowed) is not a class."""
    values: set[Any] = set()
    for y, source in labelled:
        if y is not None:
            check_labels(y, source, allow_unlabelled)
            values.update(np.unique(y).tolist())
    values.discard(-1)
    return sorted(values)


def class_indices(y: np.ndarray | None, classes: list[Any], source: str, *, allow_unlabelled: bool = False) -> np.ndarray | None:
    """Label values → int64 indices into ``classes``; −1 (unlabelled) stays −1 where allowed. A label
    outside ``classes`` is an error naming it, ``source`` and the known classes."""
    if y is None:
        return None
    check_labels(y, source, allow_unlabelled)
    index = {c: i for i, c in enumerate(classes)}
    values, inverse = np.unique(y, return_inverse=True)
    lookup = np.empty(len(values), dtype=np.int64)
    for j, v in enumerate(values.tolist()):
        if v == -1 and allow_unlabelled:
            lookup[j] = -1
        elif v in index:
            lookup[j] = index[v]
        else:
            shown = ", ".join(map(repr, classes[:20])) + (f", ... ({len(classes)} in all)" if len(classes) > 20 else "")
            raise AekitError(f"{source}: label {v!r} is not one of the classes of the training data: [{shown}]",
                             "give data with the classes the model was trained on")
    return lookup[inverse.reshape(-1)]
