"""The IDX format of MNIST-style files (optionally gzip-compressed): ``read_idx``, which the named
data sets use, and below it a user's IDX file or folder for :func:`~aekit.data.files.load_path`."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import AekitError
from .base import RawData
from .files import _looks_like_idx, _unreadable

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise AekitError(f"{path} does not exist", "check the path or the data directory")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise AekitError(f"{path} is not a readable IDX file ({e})", "the file is truncated or corrupt: delete it and fetch it again") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise AekitError(f"{path} is not an IDX file (bad magic number)", "give an IDX file such as train-images-idx3-ubyte.gz")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise AekitError(f"{path} is truncated (header incomplete)", "delete it and fetch it again")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise AekitError(
            f"{path} is truncated or padded: {len(data) - header} data bytes, header says {expected}",
            "delete it and fetch it again",
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


# --- a user's IDX file or folder -----------------------------------------------------------------

def _idx_role(name: str) -> tuple[str, str] | None:
    n = name.lower()
    if not _looks_like_idx(name):
        return None
    split = "test" if ("t10k" in n or "test" in n) else "train" if "train" in n else "?"
    if "label" in n or "idx1" in n:
        part = "labels"
    elif "image" in n or "imgs" in n or "idx3" in n:
        part = "images"
    else:
        return None
    return split, part


def _read_idx(path: Path) -> np.ndarray:
    try:
        return read_idx(path)
    except AekitError:
        raise
    except (gzip.BadGzipFile, EOFError, OSError, zlib.error, ValueError) as e:  # pragma: no cover - read_idx wraps these
        raise _unreadable(path, e, "IDX file") from None


def _idx_images(x: np.ndarray, path: Path) -> np.ndarray:
    """The examples of an IDX file as stored; ``check_raw`` reads (N, H, W) as one-channel images."""
    if x.ndim in (2, 3, 4):
        return x
    raise AekitError(f"{path}: IDX array of shape {x.shape} is not a set of images", "give an idx3 images file")


def _load_idx_dir(folder: Path) -> RawData | None:
    found: dict[tuple[str, str], list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            role = _idx_role(p.name)
            if role:
                found.setdefault(role, []).append(p)
    if not found:
        return None
    for role, ps in found.items():
        if len(ps) > 1:
            # prefer one copy: the uncompressed and .gz versions of the same file may both be there
            stems = {p.name[:-3] if p.name.endswith(".gz") else p.name for p in ps}
            if len(stems) > 1:
                raise AekitError(f"{folder}: several {role[0]} {role[1]} files: {', '.join(p.name for p in ps)}",
                                 "keep one train and one test file of each kind")
            found[role] = sorted(ps, key=lambda p: not p.name.endswith(".gz"))[:1]
    one = {role: ps[0] for role, ps in found.items()}
    train_img = one.get(("train", "images")) or one.get(("?", "images"))
    if train_img is None:
        raise AekitError(f"{folder}: no training images among the IDX files ({', '.join(p.name for p in one.values())})",
                         "name it like train-images-idx3-ubyte[.gz]")
    train_lab = one.get(("train", "labels")) or (one.get(("?", "labels")) if ("?", "images") in one else None)
    x = _idx_images(_read_idx(train_img), train_img)
    y = _read_idx(train_lab) if train_lab else None
    xt = yt = None
    if ("test", "images") in one:
        xt = _idx_images(_read_idx(one[("test", "images")]), one[("test", "images")])
        if ("test", "labels") in one:
            yt = _read_idx(one[("test", "labels")])
    return RawData(x, y, "auto", xt, yt, source=str(folder))


def _load_idx_file(path: Path) -> RawData:
    x = _idx_images(_read_idx(path), path)
    y = None
    lab = path.with_name(path.name.replace("images", "labels").replace("imgs", "labels").replace("idx3", "idx1"))
    if lab != path and lab.exists():
        y = _read_idx(lab)
    return RawData(x, y, "auto", source=str(path))
