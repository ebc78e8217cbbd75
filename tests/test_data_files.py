"""User files: every format round-trips real MNIST data, every bad input is a helpful AekitError."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from aekit.data import load_raw
from aekit.data.base import RawData, check_raw
from aekit.data.files import load_path, read_npz_array
from aekit.data.idx import read_idx
from aekit.errors import AekitError

N = 60  # examples per test: small and fast


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """Write ``arr`` (uint8) as an IDX file, gzip-compressed when ``path`` ends in .gz."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    data = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A slice of real MNIST test digits: (x_a, y_a, x_b, y_b), x of shape (N, 28, 28) uint8."""
    import os

    root = Path(os.environ["AEKIT_DATA_DIR"]) / "mnist"
    if not (root / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(reason=f"real MNIST not found under {root}")
    x = read_idx(root / "t10k-images-idx3-ubyte.gz")[: 2 * N]
    y = read_idx(root / "t10k-labels-idx1-ubyte.gz")[: 2 * N]
    return x[:N], y[:N], x[N:], y[N:]


def raises(match: str):
    return pytest.raises(AekitError, match=match)


# --- NumPy ---------------------------------------------------------------------------------------

def test_npy_images_vectors_sequences(tmp_path, mnist):
    x, _, _, _ = mnist
    np.save(tmp_path / "img.npy", x[:, None])
    np.save(tmp_path / "vec.npy", x.reshape(N, -1).astype(np.float32) / 255)
    np.save(tmp_path / "seq.npy", x.astype(np.float64))
    raw = load_path(tmp_path / "img.npy")  # the array as stored: load_raw decides how it is read
    assert raw.kind == "auto" and raw.x_train.shape == (N, 1, 28, 28) and raw.y_train is None
    np.testing.assert_array_equal(raw.x_train[:, 0], x)
    raw = load_raw(str(tmp_path / "img.npy"))  # validated: uint8 → floats in [0, 1]
    assert raw.x_train.dtype == np.float32 and raw.x_train.max() <= 1.0
    np.testing.assert_allclose(raw.x_train[:, 0], x / 255.0, atol=1e-6)
    raw = load_raw(str(tmp_path / "vec.npy"))
    assert raw.kind == "vectors" and raw.x_train.shape == (N, 784)
    raw = load_raw(str(tmp_path / "seq.npy"))  # 3-D: one-channel images unless sequences are asked for
    assert raw.kind == "images" and raw.x_train.shape == (N, 1, 28, 28)
    raw = load_raw(str(tmp_path / "seq.npy"), kind="sequences")
    assert raw.kind == "sequences" and raw.x_train.shape == (N, 28, 28)
    np.testing.assert_array_equal(raw.x_train, x.astype(np.float32))


def test_npy_channels_last_is_moved_first(tmp_path, mnist):
    x = np.repeat(mnist[0][..., None], 3, axis=3)  # (N, 28, 28, 3)
    np.save(tmp_path / "hwc.npy", x)
    raw = load_raw(str(tmp_path / "hwc.npy"))
    assert raw.kind == "images" and raw.x_train.shape == (N, 3, 28, 28)
    np.testing.assert_allclose(raw.x_train[:, 1], mnist[0] / 255.0, atol=1e-6)


def test_npz_with_labels_and_test_split(tmp_path, mnist):
    x, y, xt, yt = mnist
    np.savez(tmp_path / "d.npz", x=x[:, None], y=y, x_test=xt[:, None], y_test=yt)
    raw = load_raw(str(tmp_path / "d.npz"))
    assert raw.kind == "images" and raw.x_train.shape == (N, 1, 28, 28) and raw.x_test.shape == (N, 1, 28, 28)
    np.testing.assert_array_equal(raw.y_train, y)
    np.testing.assert_array_equal(raw.y_test, yt)
    np.testing.assert_allclose(raw.x_test[:, 0], xt / 255.0, atol=1e-6)
    assert raw.y_train.dtype == np.int64


def test_npz_uppercase_keys_and_vectors(tmp_path, mnist):
    x, y, _, _ = mnist
    np.savez_compressed(tmp_path / "d.npz", X=x.reshape(N, -1), Y=y)
    raw = load_raw(str(tmp_path / "d.npz"))
    assert raw.kind == "vectors" and raw.x_train.shape == (N, 784) and raw.x_test is None
    np.testing.assert_array_equal(raw.y_train, y)


def test_npz_without_x_lists_keys(tmp_path, mnist):
    np.savez(tmp_path / "d.npz", images=mnist[0], targets=mnist[1])
    with raises(r"no array named x \(keys found: images, targets\)") as e:
        load_path(tmp_path / "d.npz")
    assert "np.savez" in e.value.hint


def test_read_npz_array_kmnist_style(tmp_path, mnist):
    np.savez_compressed(tmp_path / "imgs.npz", mnist[0])
    np.testing.assert_array_equal(read_npz_array(tmp_path / "imgs.npz"), mnist[0])
    np.savez(tmp_path / "two.npz", a=mnist[0], b=mnist[1])
    with raises("holds 2 arrays"):
        read_npz_array(tmp_path / "two.npz")
    with raises("does not exist"):
        read_npz_array(tmp_path / "nope.npz")


def test_read_npz_array_real_kmnist(shared_data):
    p = shared_data / "kmnist" / "kmnist-test-labels.npz"
    if not p.exists():
        pytest.skip(reason="kmnist test labels not in the shared data")
    y = read_npz_array(p)
    assert y.shape == (10000,) and y.max() == 9


def test_object_arrays_refused(tmp_path):
    arr = np.array([[1, "a"], [2, None]], dtype=object)
    np.save(tmp_path / "o.npy", arr, allow_pickle=True)
    with raises("Python objects"):
        load_path(tmp_path / "o.npy")
    np.savez(tmp_path / "o.npz", x=arr)
    with raises("Python objects"):
        load_path(tmp_path / "o.npz")


# --- tables --------------------------------------------------------------------------------------

def _table(x: np.ndarray, y: np.ndarray | None, sep: str, header: bool, label_at: int = 0) -> str:
    cols = [f"p{i}" for i in range(x.shape[1])]
    rows = [[str(v) for v in r] for r in x]
    if y is not None:
        cols.insert(label_at, "label")
        for r, lab in zip(rows, y):
            r.insert(label_at, str(lab))
    lines = ([sep.join(cols)] if header else []) + [sep.join(r) for r in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("ext,sep", [(".csv", ","), (".tsv", "\t"), (".txt", " "), (".txt", "\t")])
def test_table_with_header_and_label_name(tmp_path, mnist, ext, sep):
    x = mnist[0].reshape(N, -1)[:, 200:260]
    y = mnist[1]
    p = tmp_path / f"d{ext}"
    p.write_text(_table(x, y, sep, header=True, label_at=5))
    raw = load_raw(str(p), label_column="label")
    assert raw.kind == "vectors" and raw.x_train.shape == (N, 60)
    np.testing.assert_allclose(raw.x_train, x / 1.0)
    np.testing.assert_array_equal(raw.y_train, y)


def test_table_without_header_label_index(tmp_path, mnist):
    x = mnist[0].reshape(N, -1)[:, 300:340]
    p = tmp_path / "d.csv"
    p.write_text(_table(x, mnist[1], ",", header=False, label_at=0))
    raw = load_raw(str(p), label_column="0")
    np.testing.assert_allclose(raw.x_train, x)
    np.testing.assert_array_equal(raw.y_train, mnist[1])
    raw = load_raw(str(p))  # no label column: everything is a feature
    assert raw.x_train.shape == (N, 41) and raw.y_train is None
    raw = load_raw(str(p), label_column="-1")  # python-style from the end
    assert raw.x_train.shape == (N, 40)


def test_table_text_labels_are_kept(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,kind\n1,2,dog\n3,4,cat\n5,6,dog\n")
    raw = load_raw(str(p), label_column="kind")
    assert raw.y_train.tolist() == ["dog", "cat", "dog"]  # class names as written; prepare maps them


def test_real_ucr_and_csv_tables(shared_data):
    ecg = shared_data / "timeseries" / "ECG5000_TRAIN.txt"
    if ecg.exists():
        raw = load_raw(str(ecg), label_column="0")
        assert raw.x_train.shape == (500, 140) and set(np.unique(raw.y_train)) == {1, 2, 3, 4, 5}
    mit = shared_data / "timeseries" / "mitdb.csv"
    if mit.exists():
        raw = load_raw(str(mit), label_column="label")
        assert raw.x_train.shape == (7500, 1) and set(np.unique(raw.y_train)) <= {0, 1}


def test_table_bad_label_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,2\n")
    with raises("no column named 'c'; columns: a, b"):
        load_path(p, label_column="c")
    with raises("out of range"):
        load_path(p, label_column="5")


# --- image folders -------------------------------------------------------------------------------

def _save_images(folder: Path, x: np.ndarray, fmt: str = "png", mode: str | None = None) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(x):
        img = Image.fromarray(a)
        if mode:
            img = img.convert(mode)
        img.save(folder / f"img{i:03d}.{fmt}")


def test_image_folder_grayscale_png(tmp_path, mnist):
    _save_images(tmp_path / "imgs", mnist[0])
    raw = load_path(tmp_path / "imgs")
    assert raw.kind == "images" and raw.x_train.dtype == np.uint8 and raw.y_train is None
    np.testing.assert_array_equal(raw.x_train[:, 0], mnist[0])  # PNG is lossless
    raw = check_raw(raw)
    assert raw.x_train.shape == (N, 1, 28, 28) and raw.x_train.dtype == np.float32


def test_image_folder_class_subfolders(tmp_path, mnist):
    x, y, _, _ = mnist
    for d in (0, 1, 2):
        _save_images(tmp_path / "digits" / f"class_{d}", x[y == d])
    raw = load_raw(str(tmp_path / "digits"))
    keep = np.isin(y, (0, 1, 2))
    assert raw.x_train.shape == (int(keep.sum()), 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(raw.y_train), [np.sum(y == d) for d in (0, 1, 2)])
    first = x[y == 0][0] / 255.0
    np.testing.assert_allclose(raw.x_train[0, 0], first, atol=1e-6)


def test_image_folder_rgb_rgba_and_jpeg(tmp_path, mnist):
    x = mnist[0][:5]
    _save_images(tmp_path / "rgb", x, mode="RGB")
    _save_images(tmp_path / "rgba", x, mode="RGBA")
    _save_images(tmp_path / "jpg", x, fmt="jpg")
    rgb = load_path(tmp_path / "rgb")
    assert rgb.x_train.shape == (5, 3, 28, 28)
    np.testing.assert_array_equal(rgb.x_train[:, 2], x)
    assert load_path(tmp_path / "rgba").x_train.shape == (5, 3, 28, 28)
    jpg = load_path(tmp_path / "jpg")
    assert jpg.x_train.shape == (5, 1, 28, 28)
    assert np.abs(jpg.x_train[:, 0].astype(int) - x).mean() < 8  # lossy but close


def test_image_folder_resize(tmp_path, mnist):
    from PIL import Image

    _save_images(tmp_path / "imgs", mnist[0][:3])
    Image.fromarray(mnist[0][3]).resize((32, 32)).save(tmp_path / "imgs" / "big.png")
    raw = load_path(tmp_path / "imgs", image_size=[16, 20])
    assert raw.x_train.shape == (4, 1, 16, 20)
    with raises("image_size must be"):
        load_path(tmp_path / "imgs", image_size=[16])


# --- IDX -----------------------------------------------------------------------------------------

def test_idx_folder(tmp_path, mnist):
    x, y, xt, yt = mnist
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", xt)  # uncompressed works too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", yt)
    raw = load_raw(str(tmp_path))
    assert raw.kind == "images" and raw.x_train.shape == (N, 1, 28, 28) and raw.x_test.shape == (N, 1, 28, 28)
    np.testing.assert_array_equal(raw.y_train, y)
    np.testing.assert_array_equal(raw.y_test, yt)
    np.testing.assert_allclose(raw.x_train[:, 0], x / 255.0, atol=1e-6)


def test_idx_single_file_finds_its_labels(tmp_path, mnist):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", mnist[0])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", mnist[1])
    raw = load_raw(str(tmp_path / "train-images-idx3-ubyte.gz"))
    assert raw.x_train.shape == (N, 1, 28, 28)
    np.testing.assert_array_equal(raw.y_train, mnist[1])


def test_idx_folder_real_mnist(shared_data):
    folder = shared_data / "mnist"
    if not folder.exists():
        pytest.skip(reason="no shared mnist")
    raw = load_path(folder)  # as stored
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    raw = load_raw(str(folder))  # read as one-channel images
    assert raw.kind == "images" and raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.y_train.shape == (60000,) and raw.y_test.shape == (10000,)


# --- bad inputs ----------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with raises("does not exist") as e:
        load_raw(str(tmp_path / "nothing.csv"))
    assert "supported" in e.value.hint


def test_unsupported_extension(tmp_path):
    p = tmp_path / "data.xlsx"
    p.write_bytes(b"PK\x03\x04")
    with raises("unsupported file type '.xlsx'") as e:
        load_raw(str(p))
    for fmt in (".npy", ".npz", ".csv", "PNG", "IDX"):
        assert fmt in e.value.hint


def test_truncated_gzip_idx(tmp_path, mnist):
    p = write_idx(tmp_path / "train-images-idx3-ubyte.gz", mnist[0])
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with raises("truncated or corrupt"):
        load_raw(str(tmp_path))
    with raises("truncated or corrupt"):
        load_raw(str(p))


def test_truncated_idx_payload(tmp_path, mnist):
    p = write_idx(tmp_path / "train-images-idx3-ubyte", mnist[0])
    p.write_bytes(p.read_bytes()[:-100])
    with raises("truncated"):
        load_raw(str(tmp_path))


def test_truncated_npy(tmp_path, mnist):
    p = tmp_path / "x.npy"
    np.save(p, mnist[0])
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with raises("truncated"):
        load_raw(str(p))
    p.write_bytes(data[:40])  # cut inside the header
    with raises("truncated|not a readable"):
        load_raw(str(p))
    p.write_bytes(b"hello, not numpy at all")
    with raises("not a readable .npy"):
        load_raw(str(p))


def test_truncated_or_bad_npz(tmp_path, mnist):
    p = tmp_path / "d.npz"
    np.savez_compressed(p, x=mnist[0], y=mnist[1])
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with raises(r"d\.npz.*(truncated|not a readable)"):
        load_raw(str(p))
    p.write_bytes(b"garbage bytes, not a zip")
    with raises("not a readable .npz"):
        load_raw(str(p))


def test_nan_and_inf(tmp_path, mnist):
    x = mnist[0].reshape(N, -1).astype(np.float32)
    x[3, 7] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with raises(r"NaN or inf \(first: NaN in example 3\)") as e:
        load_raw(str(tmp_path / "nan.npy"))
    assert "remove or impute" in e.value.hint
    p = tmp_path / "inf.csv"
    p.write_text("a,b\n1,2\n3,inf\n")
    with raises("first: inf in example 1"):
        load_raw(str(p))
    with raises("NaN or inf"):
        check_raw(RawData(np.array([[1.0, np.inf]]), None, "vectors", source="mine"))


def test_empty_data(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with raises("is empty"):
        load_raw(str(tmp_path / "e.csv"))
    (tmp_path / "h.csv").write_text("a,b,c\n")
    with raises("header row but no data rows"):
        load_raw(str(tmp_path / "h.csv"))
    np.save(tmp_path / "e.npy", np.zeros((0, 4), np.float32))
    with raises(r"empty \(0 examples\)"):
        load_raw(str(tmp_path / "e.npy"))
    (tmp_path / "imgs").mkdir()
    with raises("holds no PNG/JPEG images"):
        load_raw(str(tmp_path / "imgs"))


def test_ragged_csv(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n")
    with raises("line 4 has 2 columns, the header has 3"):
        load_raw(str(p))


def test_non_numeric_cell(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text("1,2,3\n4,five,6\n")
    with raises(r"line 2, column 2 is not a number: 'five'"):
        load_raw(str(p))
    p.write_text("x,y,z\n1,2,3\n4,,6\n")
    with raises(r"line 3, column 2 \('y'\) is not a number: an empty cell"):
        load_raw(str(p))


def test_wrong_length_labels(tmp_path, mnist):
    np.savez(tmp_path / "d.npz", x=mnist[0], y=mnist[1][:-1])
    with raises(f"{N - 1} labels for {N} examples"):
        load_raw(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "f.npz", x=mnist[0], y=mnist[1] + 0.5)
    with raises("labels must be whole numbers"):
        load_raw(str(tmp_path / "f.npz"))


def test_mixed_image_sizes(tmp_path, mnist):
    from PIL import Image

    _save_images(tmp_path / "imgs", mnist[0][:3])
    Image.fromarray(mnist[0][3]).resize((32, 30)).save(tmp_path / "imgs" / "odd.png")
    with raises(r"img000\.png is 28x28.*odd\.png is 30x32") as e:
        load_raw(str(tmp_path / "imgs"))
    assert "--set data.image_size=[28,28]" in e.value.hint


def test_unreadable_image(tmp_path, mnist):
    _save_images(tmp_path / "imgs", mnist[0][:3])
    bad = tmp_path / "imgs" / "img001.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with raises(r"img001\.png: unreadable image"):
        load_raw(str(tmp_path / "imgs"))

