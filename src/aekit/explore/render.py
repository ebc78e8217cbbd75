"""What the explorer sends and receives as examples: PNG images, series values, text lines; and the
parsing of a user's image (a drawing, an uploaded PNG) into the model's input, with every check a
request needs (size, decodability, shape).

Images travel at the model's own resolution (28×28 for MNIST); the page scales them up with
``image-rendering: pixelated``, so a decode costs one small PNG encode (~0.1 ms).
"""
from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

from ..errors import AekitError

MAX_IMAGE_BYTES = 1 << 20      # an encoded image in a request: 1 MiB
MAX_IMAGE_SIDE = 2048          # pixels per side of a decoded request image
MNIST_BOX = 20                 # a drawn digit is fitted into 20×20 and centred by mass in 28×28, as MNIST's were


def kind_of(input_shape: tuple[int, ...], vocab: str | None) -> str:
    """How the page shows an example: image (C, H, W), text (one-hot characters), series (T, C), vector (D,)."""
    if vocab:
        return "text"
    return {3: "image", 2: "series"}.get(len(input_shape), "vector")


def to_uint8(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(C, H, W) data units in [lo, hi] → (H, W) or (H, W, 3) uint8 for PIL."""
    a = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=lo)
    a = np.clip((a - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    a = np.rint(a * 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)


def png_bytes(img: np.ndarray, lo: float, hi: float) -> bytes:
    """One (C, H, W) image in data units as PNG bytes (gray for one channel, RGB for three)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(img, lo, hi)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def series_values(x: np.ndarray) -> list[list[float | None]]:
    """(T, C) or (D,) values as JSON lists; NaN (sequence end padding) → null."""
    a = np.asarray(x, dtype=np.float64)
    a = a.reshape(-1, 1) if a.ndim == 1 else a
    return [[None if not math.isfinite(v) else round(float(v), 6) for v in row] for row in a]


def text_line(probs: np.ndarray, vocab: str, length: int | None = None) -> str:
    """The most likely character of each step (to ``length`` steps when given)."""
    p = np.nan_to_num(np.asarray(probs, dtype=np.float32), nan=0.0)
    idx = p.argmax(-1)
    return "".join(vocab[int(i)] for i in idx[: length if length is not None else len(idx)])


def decode_image_data(value: str) -> bytes:
    """The bytes of a base64 image or ``data:image/…;base64,`` URL, size-checked."""
    if not isinstance(value, str) or not value:
        raise AekitError("image must be a base64 string or a data URL", 'e.g. "data:image/png;base64,iVBOR…"')
    head, _, body = value.partition(",") if value.startswith("data:") else ("", "", value)
    if head and not head.endswith(";base64"):
        raise AekitError("the image data URL is not base64-encoded", 'send "data:image/png;base64,…" (canvas.toDataURL())')
    if len(body) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise AekitError(f"the image is larger than {MAX_IMAGE_BYTES // 1024} KiB", "send a smaller image (the model sees it at its own resolution anyway)")
    try:
        return base64.b64decode(body, validate=True)
    except (ValueError, TypeError):
        raise AekitError("the image is not valid base64", "send canvas.toDataURL('image/png'), or the file's bytes in base64") from None


def center_by_mass(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST's preprocessing of a drawing: crop to the ink, fit it into a 20/28 box keeping its
    aspect, and centre it by its centre of mass in an image of ``size``. ``gray`` in [0, 1], ink
    bright. An empty drawing stays empty."""
    from PIL import Image

    h, w = size
    ys, xs = np.nonzero(gray > 0.05)
    if len(ys) == 0:
        return np.zeros(size, np.float32)
    crop = gray[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    box = max(1, round(min(h, w) * MNIST_BOX / 28))
    s = box / max(crop.shape)
    ch, cw = max(1, round(crop.shape[0] * s)), max(1, round(crop.shape[1] * s))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((cw, ch), Image.LANCZOS), np.float32) / 255
    out = np.zeros(size, np.float32)
    top, left = (h - ch) // 2, (w - cw) // 2
    out[top: top + ch, left: left + cw] = small
    mass = out.sum()
    if mass > 0:  # shift the centre of mass to the middle
        cy, cx = (np.indices(out.shape) * out).reshape(2, -1).sum(1) / mass
        dy, dx = round(h / 2 - 0.5 - cy), round(w / 2 - 0.5 - cx)
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return np.clip(out, 0.0, 1.0)


def image_input(png: bytes, input_shape: tuple[int, ...], lo: float, hi: float, center: bool) -> np.ndarray:
    """An encoded image (PNG, JPEG…) → one (C, H, W) example in data units [lo, hi]. Transparent
    pixels count as black (a drawing's empty canvas); ``center``: MNIST's crop-scale-centre."""
    from PIL import Image, UnidentifiedImageError

    if len(input_shape) != 3:
        raise AekitError("this model's examples are not images", "send the values as x")
    c, h, w = input_shape
    try:
        img = Image.open(io.BytesIO(png))
        if img.width * img.height > MAX_IMAGE_SIDE ** 2 or max(img.size) > MAX_IMAGE_SIDE:
            raise AekitError(f"the image is {img.width}×{img.height} pixels; at most {MAX_IMAGE_SIDE} per side",
                             "send a smaller image")
        img.load()
    except AekitError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AekitError(f"the image could not be read ({type(e).__name__})", "send a PNG or JPEG image") from None
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, img)
    if c == 1:
        gray = np.asarray(img.convert("L"), np.float32) / 255
        if center:
            arr = center_by_mass(gray, (h, w))[None]
        else:
            arr = np.asarray(Image.fromarray((gray * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS), np.float32)[None] / 255
    elif c == 3:
        if center:
            raise AekitError("centring by mass is for one-channel drawings", 'send "center": false for a colour model')
        arr = np.moveaxis(np.asarray(img.convert("RGB").resize((w, h), Image.LANCZOS), np.float32) / 255, -1, 0)
    else:
        raise AekitError(f"images with {c} channels cannot be sent as a picture", "send the values as x")
    return (lo + arr * (hi - lo)).astype(np.float32)


def as_example(x: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """User values (flat, or nested in the example's shape) → one example, shape-checked."""
    a = np.asarray(x, dtype=np.float64)
    n = math.prod(input_shape)
    if a.size != n:
        raise AekitError(f"x has {a.size} values; the model's examples have {n} (shape {tuple(input_shape)})",
                         "send one example, flat or nested, in the model's input shape")
    return a.reshape(input_shape).astype(np.float32)
