"""User data from files: NumPy arrays, numeric tables, image folders and IDX folders.

``load_path`` picks the reader from the path and returns :class:`~aekit.data.base.RawData` with
the arrays as stored; ``aekit.data.load_raw`` then lays them out and validates them
(:func:`~aekit.data.base.check_raw`: the shape rule under ``data.kind``, the numeric rule, NaN/inf,
labels). Every problem a user can cause (missing, truncated or corrupt files, ragged tables, mixed
image sizes, an option that does not apply to the file) is an :class:`~aekit.errors.AekitError`
naming the file, never a bare NumPy or zipfile traceback or a silently ignored option.
"""
from __future__ import annotations

import csv
import gzip
import logging
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .base import RawData

log = logging.getLogger(__name__)

TABLE_EXTS = (".csv", ".tsv", ".txt")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
SUPPORTED = (
    ".npy (one array), .npz (keys x [, y, x_test, y_test]), .csv / .tsv / .txt (numeric table, header optional), "
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


def load_path(path: Path, label_column: str | None = None, image_size: list[int] | None = None) -> RawData:
    """Read a user file or folder (see ``SUPPORTED``); the result is not yet validated.

    ``label_column`` is for tables and ``image_size`` for image folders: given for anything else,
    they are an error rather than ignored."""
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
    if suffix in TABLE_EXTS:
        return _load_table(path, label_column)
    if _looks_like_idx(path.name):
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


# --- tables --------------------------------------------------------------------------------------

def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) for each non-blank, non-comment line; the delimiter is sniffed."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise AekitError(f"{path} is not a text file ({e})", "give a numeric table in CSV/TSV/whitespace format") from None
    except OSError as e:
        raise _unreadable(path, e) from None
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return []
    first = lines[0][1]
    suffix = path.suffix.lower()
    if suffix == ".tsv" or "\t" in first:
        delim: str | None = "\t"
    elif "," in first:
        delim = ","
    elif ";" in first:
        delim = ";"
    elif suffix == ".csv" and " " not in first.strip():
        delim = ","
    else:
        delim = None  # whitespace
    if delim is None:
        return [(n, line.split()) for n, line in lines]
    out = []
    for n, line in lines:
        cells = next(csv.reader([line], delimiter=delim))
        out.append((n, [c.strip() for c in cells]))
    return out


def _label_index(label_column: str | int, header: list[str] | None, width: int, path: Path) -> int:
    if header is not None and str(label_column) in header:
        return header.index(str(label_column))
    try:
        idx = int(str(label_column))
    except ValueError:
        names = f"; columns: {', '.join(header)}" if header else "; the file has no header row, so give a 0-based column number"
        raise AekitError(f"{path}: no column named {label_column!r}{names}", "set --label-column to a column name or 0-based index") from None
    if not -width <= idx < width:
        raise AekitError(f"{path}: label column {idx} is out of range (the table has {width} columns, 0..{width - 1})",
                         "set --label-column to a 0-based index below the number of columns")
    return idx % width


def _load_table(path: Path, label_column: str | None) -> RawData:
    rows = _rows(path)
    if not rows:
        raise AekitError(f"{path} is empty (no data rows)", "give a table with one example per row")
    header: list[str] | None = None
    first_cells = rows[0][1]
    if not all(_is_number(c) for c in first_cells):
        # a first row with any non-numeric cell is a header
        header = first_cells
        rows = rows[1:]
        if not rows:
            raise AekitError(f"{path} has a header row but no data rows", "give a table with one example per row")
    width = len(header) if header is not None else len(rows[0][1])
    lab = _label_index(label_column, header, width, path) if label_column is not None else None

    values: list[list[float]] = []
    labels: list[str] = []
    for n, cells in rows:
        if len(cells) != width:
            what = "the header" if header is not None else f"line {rows[0][0]}"
            raise AekitError(f"{path}: line {n} has {len(cells)} columns, {what} has {width}",
                             "every row needs the same number of columns; fix or remove that line")
        if lab is not None:
            if not cells[lab]:
                raise AekitError(f"{path}: line {n} has an empty label (column {lab + 1})",
                                 "give every row a label, or remove the row")
            labels.append(cells[lab])
            cells = cells[:lab] + cells[lab + 1:]
        try:
            values.append([float(c) for c in cells])
        except ValueError:
            for j, c in enumerate(cells):
                if not _is_number(c):
                    col = j + (1 if lab is not None and j >= lab else 0)
                    name = f" ({header[col]!r})" if header is not None else ""
                    shown = repr(c) if c else "an empty cell"
                    raise AekitError(
                        f"{path}: line {n}, column {col + 1}{name} is not a number: {shown}",
                        "give numbers only; use --label-column for a text label column, or drop text columns",
                    ) from None
            raise  # pragma: no cover
    x = np.asarray(values, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise AekitError(f"{path}: no feature columns left (table of {width} columns)", "the table needs at least one column besides the labels")
    y = _label_values(labels) if lab is not None else None
    return RawData(x, y, "vectors", source=str(path))


def _label_values(labels: list[str]) -> np.ndarray:
    """A label column as written: integers, numbers (whole ones become integers in ``check_y``),
    or, when any cell is not a number, every label as text (class names). ``prepare`` maps the
    values to class indices and saves the mapping, so a loader never renumbers them itself."""
    try:
        return np.asarray([int(v) for v in labels], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    if all(_is_number(v) for v in labels):
        return np.asarray([float(v) for v in labels])
    return np.asarray(labels, dtype=str)


# --- image folders -------------------------------------------------------------------------------

def _image_files(folder: Path, recursive: bool = False) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))


def _check_image_size(image_size: Any) -> tuple[int, int] | None:
    if image_size is None:
        return None
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise AekitError(f"data.image_size must be [H, W], got {image_size!r}", "e.g. --set data.image_size=[28,28]") from None
    if h <= 0 or w <= 0:
        raise AekitError(f"data.image_size must be positive, got {image_size!r}", "e.g. --set data.image_size=[28,28]")
    return h, w


def _read_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """(H, W) or (H, W, 3) array: uint8, or float32 in [0, 1] for 16-bit/float images."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode == "1":
                img = img.convert("L")
            elif mode == "LA":
                img = img.convert("L")
            elif mode in ("P", "PA"):
                img = img.convert("RGBA").convert("RGB")
            elif mode in ("RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"):
                img = img.convert("RGB")
            scale = 1.0
            if img.mode.startswith("I;16") or img.mode == "I":
                img = img.convert("I")
                scale = 65535.0
            elif img.mode == "F":
                scale = 0.0  # already floats
            if size is not None and img.size != (size[1], size[0]):
                if img.mode == "I":
                    img = img.convert("F")
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise AekitError(f"{path}: unreadable image — truncated, corrupt or not an image ({e})",
                         "remove or replace that file") from None
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float32)
    return arr / scale if scale else arr


def _stack_images(files: list[Path], folder: Path, image_size: Any) -> np.ndarray:
    size = _check_image_size(image_size)
    arrays: list[np.ndarray] = []
    first_shape: tuple[int, int] | None = None
    for p in files:
        a = _read_image(p, size)
        hw = a.shape[:2]
        if first_shape is None:
            first_shape = hw
        elif hw != first_shape:
            raise AekitError(
                f"{folder}: images differ in size: {files[0].name} is {first_shape[0]}x{first_shape[1]} (HxW), "
                f"{p.relative_to(folder)} is {hw[0]}x{hw[1]}",
                f"resize them all, e.g. --set data.image_size=[{first_shape[0]},{first_shape[1]}]",
            )
        arrays.append(a)
    rgb = any(a.ndim == 3 for a in arrays)
    if any(a.dtype != np.uint8 for a in arrays):
        arrays = [a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a for a in arrays]
    if rgb:
        arrays = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]
        x = np.stack(arrays).transpose(0, 3, 1, 2)
    else:
        x = np.stack(arrays)[:, None]
    return np.ascontiguousarray(x)


def _load_images(folder: Path, image_size: Any) -> RawData | None:
    flat = _image_files(folder)
    if flat:
        subdirs = [d for d in folder.iterdir() if d.is_dir() and _image_files(d, recursive=True)]
        if subdirs:
            log.warning("%s: images sit next to class sub-folders; using only the %d top-level images, without labels", folder, len(flat))
        x = _stack_images(flat, folder, image_size)
        return RawData(x, None, "images", source=str(folder))
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and _image_files(d, recursive=True))
    if not classes:
        return None
    files: list[Path] = []
    labels: list[int] = []
    for k, d in enumerate(classes):
        fs = _image_files(d, recursive=True)
        files += fs
        labels += [k] * len(fs)
    log.info("%s: %d classes from sub-folders: %s", folder, len(classes), ", ".join(f"{k}={d.name}" for k, d in enumerate(classes)))
    x = _stack_images(files, folder, image_size)
    return RawData(x, np.asarray(labels, dtype=np.int64), "images", source=str(folder))


# --- IDX -----------------------------------------------------------------------------------------

def _looks_like_idx(name: str) -> bool:
    n = name.lower()
    n = n[:-3] if n.endswith(".gz") else n
    return ("idx" in n and "ubyte" in n) or n.endswith("-ubyte") or n.endswith(".idx")


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
    from .idx import read_idx

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


# --- folders -------------------------------------------------------------------------------------

def _load_dir(folder: Path, image_size: Any, label_column: Any = None) -> RawData:
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
