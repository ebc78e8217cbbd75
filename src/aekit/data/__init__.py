"""Data sets: named ones (embedded, scikit-learn, generated, IDX downloads, files placed in the data
directory) and user files.

``load_raw(name_or_path)`` gives a data set's own splits; ``prepare(cfg, seed)`` (in
:mod:`aekit.data.splits`) turns them into train/validation/test arrays ready for training (validated,
scaled, split with the seed), with the labels as class indices and the classes (the label values, in
order) beside them.

How arrays are read (shapes under ``data.kind``, integer values) is written down once, in
:mod:`aekit.data.base`. An option that cannot apply to the data (``label_column`` for anything but a
table, ``image_size`` for anything but an image folder, ``test_fraction`` for data with a test split
of its own) is an error, never silently ignored.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError, unknown_choice
from .base import RawData, check_labels, check_raw, class_indices, label_classes
from .download import RemoteFile, ensure_files
from .scaling import Scaler
from .splits import Prepared, class_positions, hide_labels, prepare

__all__ = ["RawData", "Prepared", "Scaler", "load_raw", "load_like", "prepare", "class_indices", "check_labels",
           "label_classes", "class_positions", "hide_labels", "data_dir", "DATASETS", "dataset_status", "ARRAYS", "from_arrays"]


def data_dir(explicit: str | Path | None = None) -> Path:
    """``--data-dir``, else ``$AEKIT_DATA_DIR``, else the user cache (``~/.cache/aekit``)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AEKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aekit"


@dataclass
class NamedDataset:
    name: str
    describe: str
    load: Callable[[Path], RawData]
    remote: list[RemoteFile] = field(default_factory=list)  # files fetched into <dir>/<folder>/
    embedded: bool = False
    local: list[str] = field(default_factory=list)  # files placed by hand in <dir>/<folder>/, never downloaded
    folder: str | None = None  # the sub-folder of the data directory; default: the name

    def available(self, root: Path) -> bool:
        where = root / (self.folder or self.name)
        return all((where / f).exists() for f in [r.filename for r in self.remote] + self.local)


DATASETS: dict[str, NamedDataset] = {}


def _register(ds: NamedDataset) -> None:
    DATASETS[ds.name] = ds


# --- embedded and generated ------------------------------------------------------------------

EMBEDDED = Path(__file__).parent / "embedded"


def _mnist_sample(_root: Path) -> RawData:
    path = EMBEDDED / "mnist_sample.npz"
    with np.load(path, allow_pickle=False) as z:
        return RawData(z["x_train"][:, None], z["y_train"], "images", z["x_test"][:, None], z["y_test"], source="mnist-sample")


def _digits(_root: Path) -> RawData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    return RawData(x, d.target, "images", source="digits")


def _manifold(kind: str) -> Callable[[Path], RawData]:
    def load(_root: Path) -> RawData:
        from sklearn import datasets

        make = datasets.make_swiss_roll if kind == "swiss-roll" else datasets.make_s_curve
        x, t = make(n_samples=6000, noise=0.05, random_state=0)
        # intrinsic coordinates: position along the roll/curve and the height (axis 1)
        coords = np.stack([t, x[:, 1]], axis=1).astype(np.float32)
        return RawData(x.astype(np.float32), None, "vectors", source=kind, extras={"coords": coords})

    return load


_register(NamedDataset("mnist-sample", "MNIST subset shipped with aekit (10,000 train / 2,000 test digits)", _mnist_sample, embedded=True))
_register(NamedDataset("digits", "scikit-learn's 8×8 digits (1,797 images, no own test split)", _digits, embedded=True))
_register(NamedDataset("swiss-roll", "generated 3-D swiss roll (6,000 points) with its true 2-D coordinates", _manifold("swiss-roll"), embedded=True))
_register(NamedDataset("s-curve", "generated 3-D S-curve (6,000 points) with its true 2-D coordinates", _manifold("s-curve"), embedded=True))


# --- IDX downloads ------------------------------------------------------------------------------

_MNIST_URLS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
_FASHION_URLS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
_KMNIST_URLS = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]

MNIST_FILES = [
    RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", _MNIST_URLS),
    RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", _MNIST_URLS),
    RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", _MNIST_URLS),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", _MNIST_URLS),
]
FASHION_FILES = [
    RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", _FASHION_URLS),
    RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", _FASHION_URLS),
    RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", _FASHION_URLS),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", _FASHION_URLS),
]
# KMNIST's canonical distribution also ships NumPy archives; ../shared/data keeps that layout.
KMNIST_FILES = [
    RemoteFile("kmnist-train-imgs.npz", "a183fbc01ed9a345513b145673d3d0bb", _KMNIST_URLS),
    RemoteFile("kmnist-train-labels.npz", "b0e1d240e8afec72b50437fc3bc5908a", _KMNIST_URLS),
    RemoteFile("kmnist-test-imgs.npz", "dace6de62ca8b90843cc45366337d02e", _KMNIST_URLS),
    RemoteFile("kmnist-test-labels.npz", "3ae489a79983d0fe386152684e3b5412", _KMNIST_URLS),
]


# Larochelle's fixed binarization (Salakhutdinov & Murray 2008), 50,000 / 10,000 / 10,000 digits; MATLAB
# files despite the .amat name (binarized-mnist/SOURCES.md in the shared data). Mirror: the ARM-gradient
# repository, at the commit SOURCES.md names.
_BINARIZED_URLS = ["https://raw.githubusercontent.com/mingzhang-yin/ARM-gradient/9b5f74da4e4009c5556e8d7a87c88c8e291c253d/"]
BINARIZED_FILES = [
    RemoteFile("binarized_mnist_train.amat", "4e26f7a5b466cfcde0fa4876fa4b60a6", _BINARIZED_URLS),
    RemoteFile("binarized_mnist_valid.amat", "3c8c0bae400a11eda4c6caf6642d7d34", _BINARIZED_URLS),
    RemoteFile("binarized_mnist_test.amat", "3478bd31ef84368bf30234a011d886fa", _BINARIZED_URLS),
]


def _binarized_mnist(root: Path) -> RawData:
    """Statically binarized MNIST: train and valid (60,000, as Burda et al. train on) / test (10,000),
    {0, 1} floats, no labels; the last 10,000 training digits are the official validation split."""
    from .files import read_mat_array

    p = ensure_files("binarized-mnist", BINARIZED_FILES, root)
    tr, va, te = (read_mat_array(p[f.filename], "X", (784,)) for f in BINARIZED_FILES)
    x_train = np.concatenate([tr, va]).reshape(-1, 1, 28, 28).astype(np.float32)
    return RawData(x_train, None, "images", te.reshape(-1, 1, 28, 28).astype(np.float32), None, source="binarized-mnist")


def _idx_set(name: str, files: list[RemoteFile]) -> Callable[[Path], RawData]:
    from .idx import read_idx

    def load(root: Path) -> RawData:
        p = ensure_files(name, files, root)
        xtr, ytr, xte, yte = (read_idx(p[f.filename]) for f in files)
        return RawData(xtr[:, None], ytr, "images", xte[:, None], yte, source=name)

    return load


def _kmnist(root: Path) -> RawData:
    from .files import read_npz_array

    p = ensure_files("kmnist", KMNIST_FILES, root)
    xtr, ytr, xte, yte = (read_npz_array(p[f.filename]) for f in KMNIST_FILES)
    return RawData(xtr[:, None], ytr, "images", xte[:, None], yte, source="kmnist")


_register(NamedDataset("mnist", "MNIST, 60,000 train / 10,000 test (IDX files)", _idx_set("mnist", MNIST_FILES), MNIST_FILES))
_register(NamedDataset("fashion-mnist", "Fashion-MNIST, 60,000 train / 10,000 test (IDX files)", _idx_set("fashion-mnist", FASHION_FILES), FASHION_FILES))
_register(NamedDataset("binarized-mnist", "MNIST statically binarized (Larochelle), 60,000 train (50,000 + the "
                       "10,000 validation digits) / 10,000 test, no labels (MATLAB files)", _binarized_mnist, BINARIZED_FILES))
_register(NamedDataset("kmnist", "Kuzushiji-MNIST, 60,000 train / 10,000 test (NumPy archives)", _kmnist, KMNIST_FILES))


# --- sequences from files in the data directory, and sets generated from code -------------------

def _lazy(module: str, fn: str) -> Callable[[Path], RawData]:
    """A loader that imports its module only when the set is loaded."""
    def load(root: Path) -> RawData:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), fn)(root)

    return load


_register(NamedDataset("ecg5000", "UCR ECG5000 heartbeats, 500 series x 140 (train split only), 5 classes; sequences",
                       _lazy("sequences", "load_ecg5000"), local=["ECG5000_TRAIN.txt"], folder="timeseries"))
_register(NamedDataset("gunpoint", "UCR GunPoint hand motions, 50 train / 150 test x 150, 2 classes; sequences (.ts)",
                       _lazy("sequences", "load_gunpoint"), local=["GunPoint_TRAIN.ts", "GunPoint_TEST.ts"], folder="timeseries"))
_register(NamedDataset("color-mnist", "MNIST digits coloured (seeded stroke/background colours), 3x28x28, made from the mnist files",
                       _lazy("generated", "load_color_mnist"), MNIST_FILES, folder="mnist"))
_register(NamedDataset("sentences", "generated English-like lines (6,000), one-hot characters, NaN-padded; sequences",
                       _lazy("text", "load_sentences"), embedded=True))


def dataset_status(root: Path | None = None) -> list[tuple[str, str, bool]]:
    root = data_dir(root)

    def describe(d: NamedDataset) -> str:
        if d.local and not d.available(root):  # not downloaded: say where the files go
            return f"{d.describe} [aekit does not download it: put {', '.join(d.local)} in {root / (d.folder or d.name)}]"
        return d.describe

    return [(d.name, describe(d), d.available(root)) for d in DATASETS.values()]


def load_raw(name: str, data_dir_: str | Path | None = None, label_column: str | None = None,
             image_size: list[int] | None = None, *, kind: str = "auto", vocab: list[str] | str | None = None,
             max_len: int | None = None) -> RawData:
    """A named data set, or a user path, as validated float arrays read under ``data.kind`` = ``kind``
    (see :mod:`aekit.data.base`). Labels are as in the data (integers or text), not yet class indices.

    Text (``kind="text"`` for a file, or a named set of text such as ``sentences``): ``vocab`` (a
    run's own characters, in order) encodes the lines, else the file's sorted characters do;
    ``max_len`` is the number of steps to pad to (default: the longest line)."""
    vocab = list(vocab) if vocab is not None else None
    if name in DATASETS:
        from .files import image_size_error, label_column_error

        if label_column is not None:
            raise label_column_error(label_column, f"the named data set {name}")
        if image_size is not None:
            raise image_size_error(image_size, f"the named data set {name}")
        raw = DATASETS[name].load(data_dir(data_dir_))
        if raw.vocab is None and (kind == "text" or max_len is not None):
            raise AekitError(f"the named data set {name} is not text: data.kind=text and data.max_len read text files "
                             "(one example per line)", "drop data.kind=text / data.max_len for it")
        if raw.vocab is not None:
            from .text import fit_length

            if vocab is not None and vocab != raw.vocab:
                raise AekitError(f"the named data set {name} is one-hot over {''.join(raw.vocab)!r}, not over the vocabulary "
                                 f"given {''.join(vocab)!r}", "use a run trained on it, or give its lines as a .txt file")
            raw = fit_length(raw, max_len)
    elif any(s in name for s in ("/", "\\", ".")) or Path(name).exists():
        if kind == "text":
            from .files import image_size_error, label_column_error
            from .text import read_text

            if label_column is not None:
                raise label_column_error(label_column, f"{name} (read as text, data.kind=text)")
            if image_size is not None:
                raise image_size_error(image_size, f"{name} (read as text, data.kind=text)")
            raw = read_text(Path(name).expanduser(), vocab, max_len)
        else:
            from .files import load_path

            raw = load_path(Path(name).expanduser(), label_column=label_column, image_size=image_size, kind=kind)
    elif name == ARRAYS:
        raise AekitError("this run was trained on in-memory arrays (aekit.fit), so it has no data set to load by name",
                         "give the data: --data PATH (a .npy / .npz / .csv / folder), or arrays to the Python API")
    else:
        raise unknown_choice("data set", name, DATASETS)
    return check_raw(raw, kind=kind)


ARRAYS = "<arrays>"  # data.name of a model trained by aekit.fit on in-memory arrays


def from_arrays(x: Any, y: Any = None, kind: str = "auto") -> RawData:
    """In-memory training data (NumPy arrays, tensors or nested lists) read as a file would be: the
    same layout rules under ``data.kind``, the same float32 conversion and checks."""
    import torch

    def plain(a: Any) -> Any:
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a

    x = plain(x)
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise AekitError(f"X must hold numbers; got an array of dtype {x.dtype}",
                         "encode text and categories as numbers first (or train on a text file: data.kind=text)")
    if x.ndim < 2:
        raise AekitError(f"X must be 2-D (examples × features) or more; got shape {x.shape}",
                         "reshape a single feature with X.reshape(-1, 1), a single example with X.reshape(1, -1)")
    y = plain(y)
    return check_raw(RawData(x, None if y is None else np.asarray(y), "auto", source="arrays"), kind=kind)


def load_like(cfg: Any, name: str, data_dir_: str | Path | None = None, *, length: int | None = None) -> RawData:
    """Another data set (``name``) read the way a run read its own (``cfg``, its DataConfig): the same
    ``data.kind``, and ``label_column`` / ``image_size`` where they apply to ``name`` (a table / an
    image folder), so that evaluating a CSV-trained run on an .npy is not refused for its label column.

    A run on text (``cfg.vocab`` set: ``data.kind=text``, or a named set of text) reads a .txt file
    as text with its own vocabulary, padded to ``length`` steps (the model's, default ``cfg.max_len``)."""
    from .files import IMAGE_EXTS, TABLE_EXTS, _looks_like_idx

    path = Path(name).expanduser()
    named = name in DATASETS
    kind = getattr(cfg, "kind", None) or "auto"
    vocab = getattr(cfg, "vocab", None)
    if vocab:
        if not named and kind == "auto" and path.suffix.lower() == ".txt":
            kind = "text"  # a run on a named set of text reads a .txt as text
        return load_raw(name, data_dir_ if data_dir_ is not None else cfg.data_dir, kind=kind, vocab=list(vocab),
                        max_len=length if length is not None else getattr(cfg, "max_len", None))
    table = not named and path.suffix.lower() in TABLE_EXTS
    images = not named and path.is_dir() and (
        any(p.suffix.lower() in IMAGE_EXTS for p in path.iterdir()) or not any(_looks_like_idx(p.name) for p in path.iterdir()))
    return load_raw(name, data_dir_ if data_dir_ is not None else cfg.data_dir,
                    cfg.label_column if table else None, cfg.image_size if images else None, kind=kind)
