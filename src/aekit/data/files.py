"""User data from files: NumPy arrays, numeric tables, sequences, image folders and IDX folders.

``load_path`` picks the reader from the path and returns :class:`~aekit.data.base.RawData` with
the arrays as stored; ``aekit.data.load_raw`` then lays them out and validates them
(:func:`~aekit.data.base.check_raw`: the shape rule under ``data.kind``, the numeric rule, NaN/inf,
labels). Every problem a user can cause (missing, truncated or corrupt files, ragged tables, mixed
image sizes, an option that does not apply to the file) is an :class:`~aekit.errors.AekitError`
naming the file, never a bare NumPy or zipfile traceback or a silently ignored option.

This module holds the dispatcher, the helpers the readers share and the NumPy readers; tables are
read in :mod:`.tables`, sequence files (UCR text tables under ``data.kind=sequences``, sktime
``.ts``) in :mod:`.sequences`, image folders in :mod:`.images` and IDX files in :mod:`.idx`. Those
import the shared helpers from here, so the dispatcher imports them when it needs them.
"""
from __future__ import annotations

import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .base import RawData

TABLE_EXTS = (".csv", ".tsv", ".txt")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
SUPPORTED = (
    ".npy (one array), .npz (keys x [, y, x_test, y_test]), .csv / .tsv / .txt (numeric table, header optional; "
    "with data.kind=sequences one series per row, the label first as in the UCR archive), .ts (sktime sequences), "
    "a folder of PNG/JPEG images (class sub-folders give labels), a folder of IDX files "
    "(train-images-idx3-ubyte[.gz], ...) or a single IDX file"
)
# what goes wrong inside numpy / zipfile / gzip when a file is cut short or damaged
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, KeyError, IndexError)


def _unreadable(path: Path, e: BaseException | str, what: str = "file") -> AekitError:
    return AekitError(
        f"{path}: unreadable {what} — it is truncated or corrupt ({e})",
        "re-create or re-copy the file; check it was fully written",
    )


def label_column_error(label_column: Any, what: str) -> AekitError:
    return AekitError(f"data.label_column={label_column!r} has no effect: {what} is not a table (CSV/TSV/TXT)",
                      "drop --label-column / data.label_column; labels of .npz files go under the key y, "
                      "of image folders in class sub-folders")


def image_size_error(image_size: Any, what: str) -> AekitError:
    return AekitError(f"data.image_size={image_size!r} has no effect: {what} is not a folder of PNG/JPEG images",
                      "drop data.image_size (it resizes the images of an image folder); resize arrays before saving them")


def _looks_like_idx(name: str) -> bool:
    n = name.lower()
    n = n[:-3] if n.endswith(".gz") else n
    return ("idx" in n and "ubyte" in n) or n.endswith("-ubyte") or n.endswith(".idx")


def load_path(path: Path, label_column: str | None = None, image_size: list[int] | None = None,
              kind: str = "auto") -> RawData:
    """Read a user file or folder (see ``SUPPORTED``); the result is not yet validated.

    ``label_column`` is for tables and ``image_size`` for image folders: given for anything else,
    they are an error rather than ignored. ``kind`` (``data.kind``) picks the reader of a text table:
    "sequences" reads it in the UCR layout (:func:`~aekit.data.sequences.read_ucr`)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise AekitError(
            f"{path} does not exist",
            "check the path (relative paths start at the current folder), or give a named data set; supported: " + SUPPORTED,
        )
    if path.is_dir():
        return _load_dir(path, image_size, label_column)
    suffix = path.suffix.lower()
    if label_column is not None and suffix not in TABLE_EXTS:
        raise label_column_error(label_column, str(path))
    if image_size is not None:
        raise image_size_error(image_size, str(path))
    if suffix == ".npy":
        return _load_npy(path)
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".ts":
        from .sequences import read_ts

        return read_ts(path, kind)
    if suffix in TABLE_EXTS and kind == "sequences":
        from .sequences import read_ucr

        return read_ucr(path, label_column)
    if suffix in TABLE_EXTS:
        from .tables import _load_table

        return _load_table(path, label_column)
    if _looks_like_idx(path.name):
        from .idx import _load_idx_file

        return _load_idx_file(path)
    if suffix in IMAGE_EXTS:
        raise AekitError(f"{path} is a single image", "give the folder that holds the images instead")
    raise AekitError(f"{path}: unsupported file type {suffix or '(no extension)'!r}", "supported: " + SUPPORTED)


# --- NumPy ---------------------------------------------------------------------------------------

def _check_numeric_dtype(arr: np.ndarray, path: Path, key: str = "", text_ok: bool = False) -> np.ndarray:
    """Numbers only (``text_ok``: text too, for labels that are class names)."""
    where = f" (array {key!r})" if key else ""
    if arr.dtype.hasobject:
        raise AekitError(f"{path}{where} holds Python objects (dtype object)", "save a numeric array, e.g. np.save(path, x.astype(np.float32))")
    if arr.dtype.kind in "US" and text_ok:
        return arr
    if arr.dtype.kind in "USV":
        raise AekitError(f"{path}{where} holds text or raw bytes (dtype {arr.dtype}), not numbers",
                         "save a numeric array, e.g. np.save(path, x.astype(np.float32))")
    return arr


def _object_error(path: Path, key: str = "") -> AekitError:
    where = f" (array {key!r})" if key else ""
    return AekitError(
        f"{path}{where} holds Python objects (dtype object), which aekit does not load (no pickles)",
        "save a numeric array, e.g. np.save(path, x.astype(np.float32))",
    )


def _npy_header(path: Path) -> np.dtype:
    """Check the .npy magic and header before loading, so damage gives a clear message."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(f)
            offset = f.tell()
    except _READ_ERRORS as e:
        raise AekitError(f"{path} is not a readable .npy file — bad or truncated header ({e})",
                         "re-save it with np.save, or re-copy it if the copy was cut short") from None
    if dtype.hasobject:
        raise _object_error(path)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise AekitError(f"{path} is truncated: {size} bytes, its header needs {expected} for shape {shape}",
                         "re-save it with np.save, or re-copy it if the copy was cut short")
    return dtype


def _load_npy(path: Path) -> RawData:
    _npy_header(path)
    try:
        x = np.load(path, allow_pickle=False)
    except _READ_ERRORS as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise _object_error(path) from None
        raise _unreadable(path, e, ".npy file") from None
    x = _check_numeric_dtype(np.asarray(x), path)
    return RawData(x, None, "auto", source=str(path))  # check_raw reads it under data.kind


def _open_npz(path: Path) -> Any:
    try:
        z = np.load(path, allow_pickle=False)
    except _READ_ERRORS as e:
        if "pickle" in str(e):
            raise AekitError(f"{path} is not a readable .npz archive (not a zip file)",
                             "save it with np.savez / np.savez_compressed, or re-copy it if it is damaged") from None
        raise _unreadable(path, e, ".npz archive") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise AekitError(f"{path} holds a single .npy array, not an .npz archive", "rename it to .npy")
    return z


def _npz_get(z: Any, key: str, path: Path, text_ok: bool = False) -> np.ndarray:
    try:
        arr = z[key]
    except _READ_ERRORS as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise _object_error(path, key) from None
        raise _unreadable(path, f"array {key!r}: {e}", ".npz archive") from None
    return _check_numeric_dtype(np.asarray(arr), path, key, text_ok)


def _pick(keys: list[str], *names: str) -> str | None:
    for n in names:
        if n in keys:
            return n
    return None


def _load_npz(path: Path) -> RawData:
    with _open_npz(path) as z:
        keys = list(z.files)
        kx = _pick(keys, "x", "X", "x_train", "X_train")
        if kx is None and len(keys) == 1:
            kx = keys[0]
        if kx is None:
            raise AekitError(
                f"{path} has no array named x (keys found: {', '.join(keys) or 'none'})",
                "save the data under the key x (and labels under y), e.g. np.savez(path, x=x, y=y)",
            )
        ky = _pick(keys, "y", "Y", "y_train", "Y_train") if kx in ("x", "X", "x_train", "X_train") else None
        kxt = _pick(keys, "x_test", "X_test")
        kyt = _pick(keys, "y_test", "Y_test")
        x = _npz_get(z, kx, path)
        y = _npz_get(z, ky, path, text_ok=True) if ky else None  # labels may be class names
        xt = _npz_get(z, kxt, path) if kxt else None
        yt = _npz_get(z, kyt, path, text_ok=True) if kyt else None
    if yt is not None and xt is None:
        raise AekitError(f"{path} has y_test but no x_test", "save the test examples under x_test")
    return RawData(x, y, "auto", xt, yt, source=str(path))


def read_npz_array(path: Path) -> np.ndarray:
    """The one array of an .npz archive (KMNIST style: key ``arr_0``), without pickles."""
    path = Path(path)
    if not path.exists():
        raise AekitError(f"{path} does not exist", "check the path or the data directory")
    with _open_npz(path) as z:
        keys = list(z.files)
        if len(keys) == 1:
            key = keys[0]
        elif "arr_0" in keys:
            key = "arr_0"
        else:
            raise AekitError(f"{path} holds {len(keys)} arrays ({', '.join(keys) or 'none'}); expected exactly one",
                             "save one array per file, e.g. np.savez_compressed(path, x)")
        return _npz_get(z, key, path)


def read_mat_array(path: Path, key: str, row_shape: tuple[int, ...]) -> np.ndarray:
    """Array ``key`` of a MATLAB 5 file (scipy.io.loadmat; no pickles), checked to be numeric with rows
    of ``row_shape``."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        mat = loadmat(path, variable_names=[key])
    except (*_READ_ERRORS, MatReadError, NotImplementedError) as e:  # NotImplementedError: a v7.3 (HDF5) file
        raise _unreadable(path, e, "MATLAB file") from e
    if key not in mat:
        raise AekitError(f"{path} holds no array named {key!r}", "check that the file is the one the data set names")
    arr = _check_numeric_dtype(np.asarray(mat[key]), path, key)
    if arr.shape[1:] != row_shape:
        raise AekitError(f"{path}: {key} has shape {arr.shape}, expected (N, {', '.join(map(str, row_shape))})",
                         "check that the file is the one the data set names")
    return arr


# --- folders -------------------------------------------------------------------------------------

def _load_dir(folder: Path, image_size: Any, label_column: Any = None) -> RawData:
    from .idx import _load_idx_dir
    from .images import _image_files, _load_images

    if label_column is not None:
        raise label_column_error(label_column, f"the folder {folder}")
    if _image_files(folder):
        raw = _load_images(folder, image_size)
        assert raw is not None
        return raw
    raw = _load_idx_dir(folder)
    if raw is not None:
        if image_size is not None:
            raise image_size_error(image_size, f"{folder} (IDX files)")
        return raw
    raw = _load_images(folder, image_size)
    if raw is not None:
        return raw
    raise AekitError(f"{folder} holds no PNG/JPEG images (directly or in class sub-folders) and no IDX files",
                     "supported: " + SUPPORTED)
