"""Folders of PNG/JPEG images (class sub-folders give labels, ``data.image_size`` resizes) for
:func:`~aekit.data.files.load_path`: decoding, modes and sizes are apart from the other readers.

Modes: grayscale images (PIL modes 1, L, LA, I;16, I, F) give one channel, (N, 1, H, W); colour ones
(RGB, RGBA, P, CMYK, ...) three, (N, 3, H, W). A folder that mixes them is read as RGB, the
grayscale images repeated to three channels; alpha channels are dropped (not composited). 8-bit
images stay uint8 (÷ 255 later), 16-bit ones are divided by 65535 and float ones kept. Anything
converted is said in the log, once per folder, with the count of images of each mode."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .base import RawData
from .files import IMAGE_EXTS

log = logging.getLogger("aekit.data.files")  # the name it had before this reader moved out of files.py


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


def _read_image(path: Path, size: tuple[int, int] | None) -> tuple[np.ndarray, str]:
    """(H, W) or (H, W, 3) array: uint8, or float32 in [0, 1] for 16-bit/float images; and the
    image's own PIL mode."""
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
        return arr, mode
    arr = arr.astype(np.float32)
    return (arr / scale if scale else arr), mode


def _stack_images(files: list[Path], folder: Path, image_size: Any) -> np.ndarray:
    size = _check_image_size(image_size)
    arrays: list[np.ndarray] = []
    first_shape: tuple[int, int] | None = None
    modes: dict[str, int] = {}
    for p in files:
        a, mode = _read_image(p, size)
        modes[mode] = modes.get(mode, 0) + 1
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
    _note_modes(folder, modes, rgb)
    if any(a.dtype != np.uint8 for a in arrays):
        arrays = [a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a for a in arrays]
    if rgb:
        arrays = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]
        x = np.stack(arrays).transpose(0, 3, 1, 2)
    else:
        x = np.stack(arrays)[:, None]
    return np.ascontiguousarray(x)


_GRAY = ("1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _note_modes(folder: Path, modes: dict[str, int], rgb: bool) -> None:
    """Say how the images' modes were read when any was converted (see the module docstring)."""
    plain = "RGB" if rgb else "L"
    if set(modes) <= {plain}:
        return
    what = []
    if rgb and any(m in _GRAY for m in modes):
        what.append("grayscale images repeated to 3 channels")
    if any(m in ("RGBA", "LA", "PA", "RGBa") for m in modes):
        what.append("alpha channels dropped")
    if any(m.startswith("I") for m in modes):
        what.append("16-bit values divided by 65535")
    shown = ", ".join(f"{m} ({n})" for m, n in sorted(modes.items()))
    log.info("%s: image modes %s read as %s, (N, %d, H, W)%s", folder, shown, "RGB" if rgb else "grayscale",
             3 if rgb else 1, "; " + "; ".join(what) if what else "")


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
