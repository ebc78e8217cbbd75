"""The data layer's rules: integer inputs, array layout under data.kind, labels → classes, a user's
test split, and options that cannot apply being errors rather than ignored."""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from aekit.config import DataConfig
from aekit.data import load_like, load_raw, prepare
from aekit.data.idx import read_idx
from aekit.errors import AekitError

N = 40


def cfg(name: str | Path, **kw) -> DataConfig:
    return dataclasses.replace(DataConfig(), name=str(name), **kw)


def raises(match: str):
    return pytest.raises(AekitError, match=match)


@pytest.fixture(scope="module")
def digits28() -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST test digits, (2N, 28, 28) uint8 and their labels."""
    root = Path(os.environ["AEKIT_DATA_DIR"]) / "mnist"
    if not (root / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(reason=f"real MNIST not found under {root}")
    return read_idx(root / "t10k-images-idx3-ubyte.gz")[: 2 * N], read_idx(root / "t10k-labels-idx1-ubyte.gz")[: 2 * N]


def rows(x: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(x).reshape(len(x), -1)}


# --- 1. integer inputs: the rule of aekit.arrays -----------------------------------------------

def test_int64_pixel_images_are_divided_by_255_and_said(tmp_path, digits28, caplog):
    x = digits28[0].astype(np.int64)[:N, None]  # (N, 1, 28, 28) int64 in 0..255
    np.save(tmp_path / "x.npy", x)
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(tmp_path / "x.npy"))
    assert raw.kind == "images" and raw.x_train.dtype == np.float32
    np.testing.assert_allclose(raw.x_train, x / 255.0, atol=1e-6)
    assert raw.x_train.max() <= 1.0
    assert any("divided by 255" in r.getMessage() for r in caplog.records)


def test_int_values_0_255_as_vectors_are_refused(tmp_path):
    x = np.random.default_rng(0).integers(0, 200, size=(N, 10)).astype(np.int32)
    np.save(tmp_path / "counts.npy", x)
    with raises("could be pixel values or counts") as e:
        load_raw(str(tmp_path / "counts.npy"))
    assert "astype('float32')" in e.value.hint and "data.kind=images" in e.value.hint


def test_int_rule_keeps_0_1_and_large_numbers(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "bin.npy", rng.integers(0, 2, size=(N, 6)).astype(np.int64))
    np.save(tmp_path / "big.npy", rng.integers(0, 5000, size=(N, 6)).astype(np.int64) + np.array([0, 0, 0, 0, 0, 4000]))
    b = load_raw(str(tmp_path / "bin.npy")).x_train
    assert set(np.unique(b)) == {0.0, 1.0}
    big = load_raw(str(tmp_path / "big.npy")).x_train
    assert big.dtype == np.float32 and big.max() > 255  # plain numbers, not divided


def test_npz_splits_are_read_alike(tmp_path):
    """One decision for the whole file: a test split whose own range is 0..1 is still pixels ÷ 255."""
    x = np.random.default_rng(0).integers(0, 256, size=(N, 1, 8, 8)).astype(np.int16)
    xt = np.random.default_rng(1).integers(0, 2, size=(10, 1, 8, 8)).astype(np.int16)
    np.savez(tmp_path / "d.npz", x=x, x_test=xt)
    raw = load_raw(str(tmp_path / "d.npz"))
    np.testing.assert_allclose(raw.x_test, xt / 255.0, atol=1e-7)
    np.testing.assert_allclose(raw.x_train, x / 255.0, atol=1e-6)


# --- 2. array layout under data.kind ---------------------------------------------------------------

def test_3d_npy_is_one_channel_images_logged_once(tmp_path, digits28, caplog):
    """The Keras MNIST layout (N, 28, 28): images with a channel axis, not sequences."""
    x, xt = digits28[0][:N], digits28[0][N:]
    np.savez(tmp_path / "d.npz", x=x, x_test=xt)
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(tmp_path / "d.npz"))
    assert raw.kind == "images" and raw.x_train.shape == (N, 1, 28, 28) and raw.x_test.shape == (N, 1, 28, 28)
    np.testing.assert_allclose(raw.x_train[:, 0], x / 255.0, atol=1e-6)
    said = [r.getMessage() for r in caplog.records if "read as 1-channel images" in r.getMessage()]
    assert len(said) == 1, said
    assert f"({N}, 28, 28) read as 1-channel images ({N}, 1, 28, 28)" in said[0]
    assert "data.kind=sequences" in said[0]


def test_kind_sequences_keeps_3d_and_makes_2d_one_channel(tmp_path):
    x = np.random.default_rng(0).normal(size=(N, 50, 3)).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    raw = load_raw(str(tmp_path / "s.npy"), kind="sequences")
    assert raw.kind == "sequences" and raw.x_train.shape == (N, 50, 3)
    np.testing.assert_array_equal(raw.x_train, x)
    np.save(tmp_path / "t.npy", x[:, :, 0])
    raw = load_raw(str(tmp_path / "t.npy"), kind="sequences")
    assert raw.x_train.shape == (N, 50, 1)
    np.save(tmp_path / "img.npy", x[:, None])
    with raises("sequences are \\(N, T, C\\)"):
        load_raw(str(tmp_path / "img.npy"), kind="sequences")


def test_kind_vectors_flattens_and_kind_images(tmp_path, digits28):
    x = digits28[0][:N]
    np.save(tmp_path / "x.npy", x)
    raw = load_raw(str(tmp_path / "x.npy"), kind="vectors")
    assert raw.kind == "vectors" and raw.x_train.shape == (N, 784)
    np.testing.assert_allclose(raw.x_train, x.reshape(N, -1) / 255.0, atol=1e-6)
    raw = load_raw(str(tmp_path / "x.npy"), kind="images")
    assert raw.kind == "images" and raw.x_train.shape == (N, 1, 28, 28)
    np.save(tmp_path / "hwc.npy", np.repeat(x[..., None], 3, axis=3))  # channels-last
    assert load_raw(str(tmp_path / "hwc.npy"), kind="images").x_train.shape == (N, 3, 28, 28)
    np.save(tmp_path / "flat.npy", x.reshape(N, -1))
    with raises("data.kind=images, but the array has shape") as e:
        load_raw(str(tmp_path / "flat.npy"), kind="images")
    assert "reshape(-1, 28, 28)" in e.value.hint


def test_kind_applies_to_named_sets_and_tables(shared_data):
    raw = load_raw("digits", kind="vectors")
    assert raw.kind == "vectors" and raw.x_train.shape == (1797, 64)
    ecg = shared_data / "timeseries" / "ECG5000_TRAIN.txt"
    if not ecg.exists():
        pytest.skip(reason="ECG5000 not in the shared data")
    raw = load_raw(str(ecg), label_column="0", kind="sequences")
    assert raw.kind == "sequences" and raw.x_train.shape == (500, 140, 1)
    with raises("data.kind=images"):
        load_raw(str(ecg), label_column="0", kind="images")


def test_prepare_passes_data_kind(tmp_path, digits28):
    x = digits28[0][:N].astype(np.float32) / 255
    np.save(tmp_path / "x.npy", x)
    p = prepare(cfg(tmp_path / "x.npy", kind="vectors", val_fraction=0.0), seed=0)
    assert p.kind == "vectors" and p.input_shape == (784,)
    p = prepare(cfg(tmp_path / "x.npy", val_fraction=0.0), seed=0)  # auto
    assert p.kind == "images" and p.input_shape == (1, 28, 28)
    p = prepare(cfg(tmp_path / "x.npy", kind="sequences", val_fraction=0.0), seed=0)
    assert p.kind == "sequences" and p.input_shape == (28, 28)


# --- 3. labels → class indices, the mapping saved --------------------------------------------------

def _csv(path: Path, labels: list) -> Path:
    """A table of three random features and a label column named "label"."""
    x = np.random.default_rng(0).normal(size=(len(labels), 3))
    lines = ["f0,f1,f2,label"] + [",".join(f"{v:.4f}" for v in r) + f",{lab}" for r, lab in zip(x, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_text_labels_become_classes_in_sorted_order(tmp_path):
    labels = ["dog", "cat", "bird"] * 20
    p = prepare(cfg(_csv(tmp_path / "d.csv", labels), label_column="label", val_fraction=0.1), seed=0)
    assert p.classes == ["bird", "cat", "dog"] and all(type(c) is str for c in p.classes)
    for y in (p.y_train, p.y_val, p.y_test):
        assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1, 2}
    assert len(p.y_train) + len(p.y_val) + len(p.y_test) == 60
    assert sorted(np.bincount(np.concatenate([p.y_train, p.y_val, p.y_test])).tolist()) == [20, 20, 20]


def test_numeric_label_column_stays_numbers(tmp_path):
    p = prepare(cfg(_csv(tmp_path / "d.csv", [7, 3, 5] * 10), label_column="label"), seed=0)
    assert p.classes == [3, 5, 7] and all(type(c) is int for c in p.classes)
    y = np.concatenate([p.y_train, p.y_val, p.y_test])
    assert np.bincount(y).tolist() == [10, 10, 10]


def test_saved_classes_are_used_and_unknown_labels_named(tmp_path):
    path = _csv(tmp_path / "d.csv", ["dog", "cat"] * 10)
    p = prepare(cfg(path, label_column="label", classes=["cat", "dog", "eel"]), seed=0)
    assert p.classes == ["cat", "dog", "eel"] and set(np.unique(p.y_test)) <= {0, 1}
    with raises(r"d\.csv: label 'dog' is not one of the classes of the training data: \['cat', 'eel'\]"):
        prepare(cfg(path, label_column="label", classes=["cat", "eel"]), seed=0)


def test_classes_cover_every_split_of_the_data_set(tmp_path):
    """A class seen only beyond data.limit or only in the test split is still a class."""
    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    y = np.array([0, 1] * 10 + [4] * 10)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:6], y_test=np.array([0, 1, 9, 0, 1, 0]))
    p = prepare(cfg(tmp_path / "d.npz", limit=20, val_fraction=0.0), seed=0)
    assert p.classes == [0, 1, 4, 9]  # 4: only in the rows beyond the limit; 9: only in the test split
    np.testing.assert_array_equal(p.y_test, [0, 1, 3, 0, 1, 0])


def test_npz_text_and_float_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x=x, y=np.array(["b", "a"] * 10))
    assert prepare(cfg(tmp_path / "t.npz"), seed=0).classes == ["a", "b"]
    np.savez(tmp_path / "f.npz", x=x, y=np.array([2.0, 1.0] * 10))
    p = prepare(cfg(tmp_path / "f.npz"), seed=0)
    assert p.classes == [1, 2] and all(type(c) is int for c in p.classes)


def test_negative_labels_are_refused(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1, -3, 1] * 5))
    with raises(r"label -3 \(example 2\) is negative") as e:
        prepare(cfg(tmp_path / "d.npz"), seed=0)
    assert "0..K-1" in e.value.hint and "semi-supervised" in e.value.hint
    with raises("is negative"):
        prepare(cfg(tmp_path / "d.npz"), seed=0, allow_unlabelled=True)  # −1 only


def test_minus_one_is_unlabelled_only_when_allowed(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = np.array([5, 7, -1, -1] * 10)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    with raises("label -1 .* is negative; this model does not take unlabelled examples"):
        prepare(cfg(tmp_path / "d.npz"), seed=0)
    p = prepare(cfg(tmp_path / "d.npz", val_fraction=0.0), seed=0, allow_unlabelled=True)
    assert p.classes == [5, 7]
    y_all = np.concatenate([p.y_train, p.y_test])
    assert sorted(np.unique(y_all).tolist()) == [-1, 0, 1] and (y_all == -1).sum() == 20


def test_one_class_is_fine(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.full(20, 3))
    p = prepare(cfg(tmp_path / "d.npz"), seed=0)
    assert p.classes == [3] and not p.y_train.any() and not p.y_test.any()


def test_hide_labels_on_mapped_text_labels(tmp_path):
    p = prepare(cfg(_csv(tmp_path / "d.csv", ["x", "y"] * 30), label_column="label", labels=4, val_fraction=0.0), seed=0)
    kept = p.y_train[p.y_train >= 0]
    assert p.classes == ["x", "y"] and np.bincount(kept).tolist() == [2, 2] and (p.y_train == -1).sum() == len(p.y_train) - 4
    few = _csv(tmp_path / "few.csv", ["x"] * 30 + ["y"] * 2)
    with raises("asks for 10 examples of class 'y', but the training split has only"):  # named as in the data
        prepare(cfg(few, label_column="label", labels=20, val_fraction=0.0), seed=0)


def test_empty_label_cell_is_an_error(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,cat\n3,4,\n")
    with raises("line 3 has an empty label"):
        load_raw(str(tmp_path / "d.csv"), label_column="label")


# --- 4. a user's test split ------------------------------------------------------------------------

def test_test_data_is_exactly_the_test_split(tmp_path, digits28):
    x, y = digits28
    seen = np.isin(y[N:], y[:N])  # test digits of classes the training part has
    xt, yt = x[N:][seen], y[N:][seen]
    np.savez(tmp_path / "train.npz", x=x[:N], y=y[:N])
    np.save(tmp_path / "test_x.npy", xt)  # no labels
    np.savez(tmp_path / "test.npz", x=xt, y=yt)
    p = prepare(cfg(tmp_path / "train.npz", test_data=str(tmp_path / "test.npz"), val_fraction=0.25), seed=0)
    np.testing.assert_allclose(p.x_test[:, 0], xt / 255.0, atol=1e-6)  # exactly that file, in order
    assert p.classes == sorted(set(y[:N].tolist()))
    np.testing.assert_array_equal(np.asarray(p.classes)[p.y_test], yt)
    assert len(p.x_train) + len(p.x_val) == N and len(p.x_val) == 10  # validation from the training data only
    assert rows(p.x_val) <= rows(x[:N, None].astype(np.float32) / np.float32(255))
    q = prepare(cfg(tmp_path / "train.npz", test_data=str(tmp_path / "test_x.npy")), seed=0)
    assert q.y_test is None and q.x_test.shape == (len(xt), 1, 28, 28)


def test_test_data_with_real_table_and_its_classes(tmp_path, shared_data):
    ecg = shared_data / "timeseries" / "ECG5000_TRAIN.txt"
    if not ecg.exists():
        pytest.skip(reason="ECG5000 not in the shared data")
    lines = ecg.read_text().splitlines()
    (tmp_path / "train.txt").write_text("\n".join(lines[:400]) + "\n")  # the file is ordered: classes 1 and 2
    (tmp_path / "test.txt").write_text("\n".join(lines[400:]) + "\n")  # classes 2 to 5
    with raises(r"test\.txt: label 3 is not one of the classes of the training data: \[1, 2\]"):
        prepare(cfg(tmp_path / "train.txt", test_data=str(tmp_path / "test.txt"), label_column="0"), seed=0)
    (tmp_path / "train.txt").write_text("\n".join(lines[100:]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(lines[:100]) + "\n")
    p = prepare(cfg(tmp_path / "train.txt", test_data=str(tmp_path / "test.txt"), label_column="0", kind="sequences"), seed=0)
    assert p.kind == "sequences" and p.x_test.shape == (100, 140, 1) and p.classes == [1, 2, 3, 4, 5]
    first = np.array([float(v) for v in lines[0].split()])
    np.testing.assert_allclose(p.x_test[0, :, 0], first[1:], rtol=1e-6)
    assert p.classes[int(p.y_test[0])] == int(first[0])


def test_test_data_shape_mismatch(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(N, 5)).astype(np.float32))
    np.save(tmp_path / "b.npy", rng.normal(size=(N, 6)).astype(np.float32))
    with raises(r"b\.npy have shape \(6,\) \(vectors\), those of the training data .*a\.npy \(5,\)") as e:
        prepare(cfg(tmp_path / "a.npy", test_data=str(tmp_path / "b.npy")), seed=0)
    assert "same kind and size" in e.value.hint


def test_test_data_with_an_own_test_split_is_ambiguous(tmp_path):
    x = np.random.default_rng(0).normal(size=(N, 5)).astype(np.float32)
    np.save(tmp_path / "t.npy", x)
    np.savez(tmp_path / "both.npz", x=x, x_test=x[:5])
    with raises("test_data=.* is ambiguous: .*both.npz has a test split of its own") as e:
        prepare(cfg(tmp_path / "both.npz", test_data=str(tmp_path / "t.npy")), seed=0)
    assert "drop --test-data" in e.value.hint
    with raises("ambiguous: mnist-sample has a test split"):
        prepare(cfg("mnist-sample", test_data=str(tmp_path / "t.npy")), seed=0)
    with raises("holds a train and a test split"):
        prepare(cfg(tmp_path / "t.npy", test_data=str(tmp_path / "both.npz")), seed=0)


def test_npz_own_test_split_kept_and_validation_from_train(tmp_path):
    rng = np.random.default_rng(0)
    x, xt = rng.normal(size=(50, 4)).astype(np.float32), rng.normal(size=(12, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(50) % 3, x_test=xt, y_test=np.arange(12) % 3)
    p = prepare(cfg(tmp_path / "d.npz", val_fraction=0.2), seed=0)
    np.testing.assert_array_equal(p.x_test, xt)
    np.testing.assert_array_equal(p.y_test, np.arange(12) % 3)
    assert len(p.x_val) == 10 and len(p.x_train) == 40
    assert rows(p.x_val) | rows(p.x_train) == rows(x) and not rows(p.x_val) & rows(xt)


# --- 5. options that cannot apply are errors ------------------------------------------------------

def test_label_column_for_a_non_table(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.float32))
    with raises("data.label_column='y' has no effect: .*x.npy is not a table") as e:
        load_raw(str(tmp_path / "x.npy"), label_column="y")
    assert "drop --label-column" in e.value.hint
    with raises("label_column='y' has no effect: the named data set digits"):
        load_raw("digits", label_column="y")
    with raises("label_column='y' has no effect: the folder"):
        prepare(cfg(tmp_path, label_column="y"), seed=0)


def test_image_size_for_data_that_is_not_an_image_folder(tmp_path, digits28):
    np.save(tmp_path / "x.npy", digits28[0][:4])
    with raises(r"data.image_size=\[14, 14\] has no effect: .*x.npy is not a folder of PNG/JPEG images") as e:
        load_raw(str(tmp_path / "x.npy"), image_size=[14, 14])
    assert "drop data.image_size" in e.value.hint
    with raises("image_size=.* has no effect: the named data set mnist-sample"):
        prepare(cfg("mnist-sample", image_size=[14, 14]), seed=0)
    idx = tmp_path / "idx"
    idx.mkdir()
    a = digits28[0][:4]
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    (idx / "train-images-idx3-ubyte").write_bytes(header + a.tobytes())
    with raises("image_size=.* has no effect: .*IDX files"):
        load_raw(str(idx), image_size=[14, 14])


def test_test_fraction_with_an_own_test_split(tmp_path):
    with raises(r"data.test_fraction=0.3 has no effect: the data has its own test split \(mnist-sample has one\)") as e:
        prepare(cfg("mnist-sample", test_fraction=0.3), seed=0)
    assert "drop data.test_fraction" in e.value.hint
    x = np.random.default_rng(0).normal(size=(N, 5)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, x_test=x[:5])
    with raises("test_fraction=0.3 has no effect"):
        prepare(cfg(tmp_path / "d.npz", test_fraction=0.3), seed=0)
    np.save(tmp_path / "x.npy", x)
    with raises(r"test_fraction=0.3 has no effect: .*\(data.test_data="):
        prepare(cfg(tmp_path / "x.npy", test_data=str(tmp_path / "x.npy"), test_fraction=0.3), seed=0)
    p = prepare(cfg(tmp_path / "x.npy", test_fraction=0.3, val_fraction=0.0), seed=0)  # no own test split: it applies
    assert len(p.x_test) == 12


def test_load_like_reads_other_data_as_the_run_did(tmp_path, digits28):
    """Evaluating a run on other data: its options apply where they fit the other data, not as errors."""
    table = _csv(tmp_path / "d.csv", ["a", "b"] * 5)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32))
    run = cfg(table, label_column="label", kind="sequences")
    raw = load_like(run, str(table))
    assert raw.y_train.tolist()[:2] == ["a", "b"] and raw.x_train.shape == (10, 3, 1)
    raw = load_like(run, str(tmp_path / "x.npy"))  # no label column in an .npy: not applied, not an error
    assert raw.y_train is None and raw.kind == "sequences" and raw.x_train.shape == (10, 3, 1)
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i, a in enumerate(digits28[0][:3]):
        Image.fromarray(a).save(tmp_path / "imgs" / f"{i}.png")
    raw = load_like(cfg("imgs", image_size=[14, 14]), str(tmp_path / "imgs"))
    assert raw.x_train.shape == (3, 1, 14, 14)
    assert load_like(cfg("imgs", image_size=[14, 14]), "digits").x_train.shape == (1797, 1, 8, 8)
