"""Images: PNG/JPEG folders (RGB, grayscale, mixed modes, 16-bit, resizing), .npy/.npz NCHW vs NHWC
readings said in the log, and the generated color-mnist set built from the real MNIST files."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import aekit.data as data
from aekit.data import DATASETS, load_raw
from aekit.data.files import load_path
from aekit.errors import AekitError

RNG = np.random.default_rng(0)


def raises(match: str):
    return pytest.raises(AekitError, match=match)


def save(folder: Path, arrays: list[np.ndarray], mode: str | None = None, fmt: str = "png") -> list[np.ndarray]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        img = Image.fromarray(a) if mode is None else Image.fromarray(a, mode)
        img.save(folder / f"im{i:02d}.{fmt}")
    return arrays


def messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


# --- folders -------------------------------------------------------------------------------------

def test_rgb_folder_is_n_3_h_w(tmp_path, caplog):
    imgs = save(tmp_path / "rgb", [RNG.integers(0, 256, size=(12, 20, 3), dtype=np.uint8) for _ in range(6)])
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(tmp_path / "rgb"))
    assert raw.kind == "images" and raw.x_train.shape == (6, 3, 12, 20) and raw.x_train.dtype == np.float32
    np.testing.assert_allclose(raw.x_train, np.stack(imgs).transpose(0, 3, 1, 2) / 255.0, atol=1e-6)
    assert "image modes" not in messages(caplog)  # plain RGB: nothing converted, nothing to say


def test_grayscale_folder_is_n_1_h_w(tmp_path):
    imgs = save(tmp_path / "gray", [RNG.integers(0, 256, size=(9, 7), dtype=np.uint8) for _ in range(4)])
    raw = load_raw(str(tmp_path / "gray"))
    assert raw.x_train.shape == (4, 1, 9, 7)
    np.testing.assert_allclose(raw.x_train[:, 0], np.stack(imgs) / 255.0, atol=1e-6)


def test_mixed_modes_are_read_as_rgb_and_said(tmp_path, caplog):
    from PIL import Image

    folder = tmp_path / "mixed"
    gray = save(folder, [RNG.integers(0, 256, size=(8, 8), dtype=np.uint8) for _ in range(3)])
    rgb = RNG.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "zz_rgb.png")
    rgba = RNG.integers(0, 256, size=(8, 8, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(folder / "zz_rgba.png")
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(folder))
    assert raw.x_train.shape == (5, 3, 8, 8)
    for k in range(3):  # a grayscale image is repeated to three equal channels
        np.testing.assert_allclose(raw.x_train[k], np.repeat(gray[k][None] / 255.0, 3, axis=0), atol=1e-6)
    np.testing.assert_allclose(raw.x_train[3], rgb.transpose(2, 0, 1) / 255.0, atol=1e-6)
    np.testing.assert_allclose(raw.x_train[4], rgba[..., :3].transpose(2, 0, 1) / 255.0, atol=1e-6)  # alpha dropped
    said = messages(caplog)
    assert "image modes L (3), RGB (1), RGBA (1) read as RGB, (N, 3, H, W)" in said
    assert "grayscale images repeated to 3 channels" in said and "alpha channels dropped" in said


def test_16_bit_grayscale_png(tmp_path, caplog):
    from PIL import Image

    folder = tmp_path / "deep"
    folder.mkdir()
    a = RNG.integers(0, 65536, size=(2, 6, 5)).astype(np.uint16)
    for i, im in enumerate(a):
        Image.fromarray(im).save(folder / f"{i}.png")
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(folder))
    assert raw.x_train.shape == (2, 1, 6, 5) and raw.x_train.dtype == np.float32
    np.testing.assert_allclose(raw.x_train[:, 0], a / 65535.0, atol=1e-6)
    assert "16-bit values divided by 65535" in messages(caplog)


def test_rgb_jpeg_and_resize(tmp_path):
    smooth = np.stack(list(np.meshgrid(np.linspace(0, 255, 32), np.linspace(0, 255, 24))) + [np.full((24, 32), 128.0)], axis=2)
    save(tmp_path / "jpg", [smooth.astype(np.uint8)] * 3, fmt="jpg")
    raw = load_raw(str(tmp_path / "jpg"))
    assert raw.x_train.shape == (3, 3, 24, 32)
    assert np.abs(raw.x_train[0].transpose(1, 2, 0) * 255 - smooth).mean() < 4  # lossy but close
    small = load_raw(str(tmp_path / "jpg"), image_size=[12, 16])
    assert small.x_train.shape == (3, 3, 12, 16) and 0 <= small.x_train.min() and small.x_train.max() <= 1


def test_class_subfolders_of_rgb_images(tmp_path):
    for name in ("cats", "dogs"):
        save(tmp_path / "pets" / name, [RNG.integers(0, 256, size=(5, 5, 3), dtype=np.uint8) for _ in range(2)])
    raw = load_raw(str(tmp_path / "pets"))
    assert raw.x_train.shape == (4, 3, 5, 5) and raw.y_train.tolist() == [0, 0, 1, 1]


# --- NumPy arrays: NCHW or NHWC ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_npy_nchw_and_nhwc(tmp_path, caplog, dtype):
    x = RNG.integers(0, 256, size=(5, 3, 16, 12)).astype(np.uint8)
    stored = x if dtype == np.uint8 else (x / 255.0).astype(np.float32)
    np.save(tmp_path / "nchw.npy", stored)
    np.save(tmp_path / "nhwc.npy", stored.transpose(0, 2, 3, 1))
    with caplog.at_level(logging.INFO, logger="aekit"):
        a = load_raw(str(tmp_path / "nchw.npy"))
    assert "channels" not in messages(caplog)  # channels-first: as stored, nothing to say
    with caplog.at_level(logging.INFO, logger="aekit"):
        b = load_raw(str(tmp_path / "nhwc.npy"))
    assert a.x_train.shape == b.x_train.shape == (5, 3, 16, 12)
    np.testing.assert_allclose(a.x_train, x / 255.0, atol=1e-6)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert "(5, 16, 12, 3) looks channels-last; read as images (N, C, H, W) (5, 3, 16, 12)" in messages(caplog)
    np.savez(tmp_path / "d.npz", x=stored.transpose(0, 2, 3, 1), x_test=stored[:2].transpose(0, 2, 3, 1))
    raw = load_raw(str(tmp_path / "d.npz"))
    assert raw.x_train.shape == (5, 3, 16, 12) and raw.x_test.shape == (2, 3, 16, 12)


def test_ambiguous_and_unusual_channel_counts_are_said(tmp_path, caplog):
    np.save(tmp_path / "amb.npy", RNG.random((4, 3, 10, 3), dtype=np.float32))
    np.save(tmp_path / "many.npy", RNG.random((4, 8, 8, 2), dtype=np.float32))
    with caplog.at_level(logging.INFO, logger="aekit"):
        assert load_raw(str(tmp_path / "amb.npy")).x_train.shape == (4, 3, 10, 3)
        assert load_raw(str(tmp_path / "many.npy")).x_train.shape == (4, 8, 8, 2)
    said = messages(caplog)
    assert "(4, 3, 10, 3) could be channels-first or channels-last; read channels-first" in said
    assert "(4, 8, 8, 2) read as images (N, C, H, W) with 8 channels" in said


# --- color-mnist -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def have_mnist(shared_data) -> Path:
    if not DATASETS["color-mnist"].available(shared_data):
        pytest.skip(reason=f"MNIST files not under {shared_data / 'mnist'}")
    return shared_data


def test_palette_is_distinct_and_pairs_keep_the_digit_visible_in_gray():
    from aekit.data.generated import COLORS, LUMA, MIN_LUMA_GAP, PALETTE, color_pairs, split_colors

    assert 8 <= len(PALETTE) <= 10
    d = np.linalg.norm(COLORS[:, None] - COLORS[None], axis=2) + np.eye(len(COLORS)) * 9
    assert d.min() > 0.3  # clearly distinct colours
    pairs = color_pairs()
    lum = COLORS @ LUMA
    assert np.all(pairs[:, 0] != pairs[:, 1]) and np.all(np.abs(lum[pairs[:, 0]] - lum[pairs[:, 1]]) >= MIN_LUMA_GAP)
    c = split_colors("train")
    assert c.shape == (60000, 2)
    assert set(c[:, 0]) == set(c[:, 1]) == set(range(len(PALETTE)))  # every colour as stroke and as background
    np.testing.assert_array_equal(c, split_colors("train"))  # seeded: the same every time
    assert not np.array_equal(c[:10000], split_colors("test"))  # another seed for the other split


def test_color_mnist_digits(have_mnist):
    from aekit.data.generated import COLORS, color_mnist, grayscale
    from aekit.data.idx import read_idx

    x, y, colors = color_mnist(have_mnist, "test", n=300, return_colors=True)
    assert x.shape == (300, 3, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    gray = read_idx(have_mnist / "mnist" / "t10k-images-idx3-ubyte.gz")[:300]
    np.testing.assert_array_equal(y, read_idx(have_mnist / "mnist" / "t10k-labels-idx1-ubyte.gz")[:300])
    for i in (0, 1, 299):
        fg, bg = COLORS[colors[i, 0]], COLORS[colors[i, 1]]
        np.testing.assert_allclose(x[i][:, gray[i] == 0].T, np.broadcast_to(bg, ((gray[i] == 0).sum(), 3)), atol=1e-6)
        np.testing.assert_allclose(x[i][:, gray[i] == 255].T, np.broadcast_to(fg, ((gray[i] == 255).sum(), 3)), atol=1e-6)
    first, _ = color_mnist(have_mnist, "test", n=50)
    np.testing.assert_array_equal(first, x[:50])  # a prefix is coloured as in the whole split
    g = grayscale(x)
    assert g.shape == (300, 1, 28, 28)
    ink = gray > 128
    contrast = [abs(g[i, 0][ink[i]].mean() - g[i, 0][~ink[i]].mean()) for i in range(len(g))]
    assert min(contrast) > 0.15  # the digit is still visible in the grayscale input of every example
    with raises("split 'valid' is not one of train, test"):
        color_mnist(have_mnist, "valid")
    with raises("n=0: the MNIST test split has 10000 digits"):
        color_mnist(have_mnist, "test", n=0)
    with raises(r"grayscale needs RGB images \(N, 3, H, W\)"):
        grayscale(g)


def test_color_mnist_named_set(have_mnist):
    raw = load_raw("color-mnist")
    assert raw.kind == "images" and raw.source == "color-mnist"
    assert raw.x_train.shape == (60000, 3, 28, 28) and raw.x_test.shape == (10000, 3, 28, 28)
    assert raw.x_train.dtype == np.float32 and 0 <= raw.x_train.min() and raw.x_train.max() <= 1
    assert set(np.unique(raw.y_train)) == set(range(10)) and raw.y_test.shape == (10000,)
    from aekit.data.generated import color_mnist

    x, _ = color_mnist(have_mnist, "train", n=20)
    np.testing.assert_array_equal(raw.x_train[:20], x)


def test_color_mnist_without_mnist_says_where_to_put_it(tmp_path, monkeypatch):
    dead = [data.RemoteFile(f.filename, f.md5, ["http://127.0.0.1:1/"]) for f in data.MNIST_FILES]
    monkeypatch.setattr(data, "MNIST_FILES", dead)
    assert not DATASETS["color-mnist"].available(tmp_path)
    with raises("data set 'mnist': could not download train-images-idx3-ubyte.gz") as e:
        load_raw("color-mnist", data_dir_=tmp_path)
    assert f"place the files in {tmp_path / 'mnist'}/" in e.value.hint


def test_load_path_of_single_image_still_refused(tmp_path):
    save(tmp_path, [RNG.integers(0, 256, size=(4, 4), dtype=np.uint8)])
    with raises("is a single image"):
        load_path(tmp_path / "im00.png")
