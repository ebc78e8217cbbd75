"""The splits a run trains on: ``prepare(cfg, seed)`` reads a data set (:func:`aekit.data.load_raw`)
and returns validated train/validation/test arrays (seeded splits, labels as class indices, the
classes beside them, ``data.keep_classes`` and ``--labels`` applied, the fitted Scaler)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..errors import AekitError
from .base import RawData, class_indices, label_classes
from .scaling import Scaler

log = logging.getLogger("aekit")


@dataclass
class Prepared:
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    kind: str
    source: str
    scaler: Scaler
    extras: dict[str, Any] = field(default_factory=dict)
    classes: list[Any] = field(default_factory=list)  # label values in class order: y holds indices into it
    vocab: list[str] | None = None  # text: the characters of the one-hot channels, in order

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        x, y = {"train": (self.x_train, self.y_train), "val": (self.x_val, self.y_val), "test": (self.x_test, self.y_test)}[name]
        if x is None:
            raise AekitError(f"this data set has no {name} split", "use --split train or --split test")
        return x, y


def prepare(cfg: Any, seed: int, *, allow_unlabelled: bool = False, raw: RawData | None = None) -> Prepared:
    """Load ``cfg.name`` and return validated train/val/test arrays (``cfg`` is a DataConfig).
    ``raw``: in-memory data (:func:`aekit.data.from_arrays`) instead of loading ``cfg.name``.

    The test split is the data set's own, else ``cfg.test_data`` (a separate file read like the
    training data), else carved off with ``cfg.test_fraction`` (0: none); validation always comes
    from the training data. Labels become indices into ``Prepared.classes`` (``cfg.classes`` when a saved run
    gives them); ``allow_unlabelled`` lets −1 mark unlabelled examples (semi-supervised models).

    Per-example extras (e.g. true manifold coordinates) are split alongside the data:
    ``extras[key]`` is ``{"train": ..., "val": ..., "test": ...}`` (None where absent).
    """
    kind = getattr(cfg, "kind", None) or "auto"
    vocab = getattr(cfg, "vocab", None)
    from . import load_raw  # the package's reader (it imports this module)

    if raw is None:
        raw = load_raw(cfg.name, cfg.data_dir, cfg.label_column, cfg.image_size, kind=kind,
                       vocab=list(vocab) if vocab else None, max_len=getattr(cfg, "max_len", None))
    # a test file is read as the training data was: sequences (a named set's kind too) stay sequences,
    # text is read with the training vocabulary and length
    test_kind = "text" if raw.vocab is not None else "sequences" if raw.kind == "sequences" else kind
    test = _test_file(cfg, raw, test_kind) if getattr(cfg, "test_data", None) else None
    if test is not None:
        xte, yte, test_src = test.x_train, test.y_train, test.source
    else:
        xte, yte, test_src = raw.x_test, raw.y_test, f"{raw.source} (test)"
    if xte is not None and cfg.test_fraction != _default("test_fraction"):
        whose = f"data.test_data={cfg.test_data}" if test is not None else f"{raw.source} has one"
        raise AekitError(f"data.test_fraction={cfg.test_fraction} has no effect: the data has its own test split ({whose})",
                         "drop data.test_fraction: the data's own test split is used as it is")
    if cfg.classes is not None:
        classes = list(cfg.classes)
    else:  # a separate test file is mapped with the training classes (its own only when training has no labels)
        labelled = [(raw.y_train, raw.source), (yte, test_src)] if test is None or raw.y_train is None else [(raw.y_train, raw.source)]
        classes = label_classes(labelled, allow_unlabelled)
        if classes and classes != list(range(len(classes))):
            log.info("%s: %d classes, label → index: %s", raw.source, len(classes),
                     ", ".join(f"{c}={i}" for i, c in enumerate(classes[:20])) + (", ..." if len(classes) > 20 else ""))
    x = raw.x_train
    y = class_indices(raw.y_train, classes, raw.source, allow_unlabelled=allow_unlabelled)
    yte = class_indices(yte, classes, test_src, allow_unlabelled=allow_unlabelled)
    rng = np.random.default_rng(seed)
    idx = np.arange(len(x))  # rows of raw.x_train behind each split, to split the extras too
    idx_te = idx_va = None
    if xte is None and cfg.test_fraction:
        if not 0 < cfg.test_fraction < 1:
            raise AekitError(f"data.test_fraction must be in [0, 1), got {cfg.test_fraction}")
        perm = rng.permutation(len(x))
        n_test = max(1, int(round(cfg.test_fraction * len(x))))
        te, tr = perm[:n_test], perm[n_test:]
        xte, yte, idx_te = x[te], (y[te] if y is not None else None), idx[te]
        x, y, idx = x[tr], (y[tr] if y is not None else None), idx[tr]
    if getattr(cfg, "keep_classes", None):  # train (hence validation) on these classes only; the test split stays whole
        if y is None:
            raise AekitError(f"data.keep_classes needs labelled data: {raw.source} has no labels",
                             "for a CSV, name the label column with --label-column; or drop data.keep_classes")
        rows = np.isin(y, class_positions(cfg.keep_classes, classes, raw.source, "data.keep_classes"))
        if not rows.any():
            raise AekitError(f"data.keep_classes={cfg.keep_classes}: the training split of {raw.source} has no example of them",
                             "name classes that the training data holds")
        x, y, idx = x[rows], y[rows], idx[rows]
    if cfg.limit is not None:
        if cfg.limit < 1:
            raise AekitError(f"data.limit must be >= 1, got {cfg.limit}", "drop it to use every example")
        x, y, idx = x[: cfg.limit], (y[: cfg.limit] if y is not None else None), idx[: cfg.limit]
    xva = yva = None
    if cfg.val_fraction:
        if not 0 < cfg.val_fraction < 1:
            raise AekitError(f"data.val_fraction must be in [0, 1), got {cfg.val_fraction}")
        perm = rng.permutation(len(x))
        n_val = max(1, int(round(cfg.val_fraction * len(x))))
        if n_val >= len(x):
            raise AekitError(f"{len(x)} training examples are too few to hold out a validation split", "use more data or --set data.val_fraction=0")
        va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        xva, yva, idx_va = x[va], (y[va] if y is not None else None), idx[va]
        x, y, idx = x[tr], (y[tr] if y is not None else None), idx[tr]
    if cfg.labels is not None:
        y = hide_labels(y, cfg.labels, rng, cfg.name, classes)
    extras = {k: {"train": v[idx], "val": v[idx_va] if idx_va is not None else None,
                  "test": v[idx_te] if idx_te is not None else None} for k, v in raw.extras.items()}
    scaler = Scaler.fit(cfg.scale, x, raw.kind)  # sequences: per channel
    return Prepared(x, y, xva, yva, xte, yte, raw.kind, raw.source, scaler, extras, classes, raw.vocab)


def class_positions(values: Any, classes: list[Any], source: str, option: str) -> list[int]:
    """The class indices of label ``values`` as the data writes them (a value or its text: 7 or "7");
    a value that is no class of ``source`` is an error naming ``option``."""
    out = []
    for v in values:
        hit = [i for i, c in enumerate(classes) if c == v or str(c) == str(v)]
        if not hit:
            shown = ", ".join(map(str, classes[:20])) + (", ..." if len(classes) > 20 else "")
            raise AekitError(f"{option}: {v!r} is not a class of {source} ({shown})", "give labels as they appear in the data")
        out.append(hit[0])
    return out


def _default(key: str) -> Any:
    """DataConfig's default for ``key`` (an option equal to it was not given)."""
    from ..config import DataConfig, field_default

    return next(field_default(f) for f in fields(DataConfig) if f.name == key)


def _test_file(cfg: Any, raw: RawData, kind: str) -> RawData:
    """``data.test_data``: the test split exactly as given, read with the training data's options."""
    if raw.x_test is not None:
        raise AekitError(f"data.test_data={cfg.test_data} is ambiguous: {raw.source} has a test split of its own",
                         f"drop --test-data to use the test split of {cfg.name}, or give training data without one "
                         "(for an .npz: without x_test / y_test)")
    from . import load_raw

    text = {"vocab": raw.vocab, "max_len": raw.x_train.shape[1]} if kind == "text" else {}
    test = load_raw(cfg.test_data, cfg.data_dir, cfg.label_column, cfg.image_size, kind=kind, **text)
    if test.x_test is not None:
        raise AekitError(f"data.test_data={cfg.test_data} holds a train and a test split: which one is the test set is ambiguous",
                         "give a file of test examples only (for an .npz: under the keys x and y)")
    if test.x_train.shape[1:] != raw.x_train.shape[1:]:
        raise AekitError(f"data.test_data: the examples of {test.source} have shape {test.x_train.shape[1:]} ({test.kind}), "
                         f"those of the training data {raw.source} {raw.x_train.shape[1:]} ({raw.kind})",
                         "give a test set of the same kind and size as the training data (same columns, same image size)")
    return test


def hide_labels(y: np.ndarray | None, n_labels: int, rng: np.random.Generator, source: str,
                classes: list[Any] | None = None) -> np.ndarray:
    """Keep ``n_labels`` labels (class indices), balanced over the classes (seeded); the others become
    −1. ``classes``, the label values, name a class in messages as the data does."""
    if y is None:
        raise AekitError(f"--labels {n_labels}: the data set {source} has no labels",
                         "semi-supervised training needs labelled data (for a CSV, name the column with --label-column)")
    present, counts = np.unique(y[y >= 0], return_counts=True)
    k = len(present)
    if n_labels < k:
        raise AekitError(f"--labels {n_labels} is fewer than the {k} classes", f"give at least one label per class: --labels {k} or more")
    per = np.full(k, n_labels // k)
    per[: n_labels % k] += 1  # the remainder goes to the first classes
    short = [(int(c), int(n), int(have)) for c, n, have in zip(present, per, counts) if n > have]
    if short:
        c, n, have = short[0]
        name = repr(classes[c]) if classes and 0 <= c < len(classes) else c
        raise AekitError(f"--labels {n_labels} asks for {n} examples of class {name}, but the training split has only {have}",
                         f"ask for at most {int(counts.min()) * k} labels")
    out = np.full_like(y, -1)
    for c, n in zip(present, per):
        idx = np.flatnonzero(y == c)
        keep = rng.choice(idx, size=int(n), replace=False)
        out[keep] = c
    return out
