"""Named data sets: real files from the shared data folder, embedded sets, seeded splits."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import aekit.data as data
from aekit.config import DataConfig
from aekit.data import DATASETS, load_raw, prepare
from aekit.errors import AekitError

DEAD = "http://127.0.0.1:1/"


def _need(shared_data, name: str) -> None:
    ds = DATASETS[name]
    if not ds.available(shared_data):
        pytest.skip(reason=f"{name} files not under {shared_data / name}")


def test_data_dir_follows_env(shared_data):
    assert data.data_dir() == shared_data
    assert data.data_dir("/somewhere/else") == type(shared_data)("/somewhere/else")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_sets_from_shared_data(shared_data, name):
    _need(shared_data, name)
    raw = load_raw(name)
    assert raw.kind == "images" and raw.source == name
    assert raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.y_train.shape == (60000,) and raw.y_test.shape == (10000,)
    assert raw.x_train.dtype == np.float32 and 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0
    assert set(np.unique(raw.y_test)) == set(range(10))
    assert raw.y_train.dtype == np.int64


def test_mnist_sample_is_embedded_and_stratified():
    raw = load_raw("mnist-sample")
    assert raw.x_train.shape[0] >= 10000 and raw.x_test.shape[0] >= 2000
    assert raw.x_train.shape[1:] == (1, 28, 28) and raw.kind == "images"
    counts = np.bincount(raw.y_train, minlength=10)
    assert counts.min() > 0.08 * len(raw.y_train)  # every digit is well represented
    assert len(np.bincount(raw.y_test)) == 10
    assert 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0


def test_digits():
    raw = load_raw("digits")
    assert raw.x_train.shape == (1797, 1, 8, 8) and raw.x_test is None
    assert raw.y_train.shape == (1797,)
    assert 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0


@pytest.mark.parametrize("name", ["swiss-roll", "s-curve"])
def test_manifolds_have_coords(name):
    raw = load_raw(name)
    assert raw.kind == "vectors" and raw.x_train.shape == (6000, 3) and raw.y_train is None
    assert raw.extras["coords"].shape == (6000, 2)


def test_unknown_name_suggests_nearest():
    with pytest.raises(AekitError, match="unknown data set 'mnits'") as e:
        load_raw("mnits")
    assert "mnist" in e.value.hint


def _cfg(**kw) -> DataConfig:
    return dataclasses.replace(DataConfig(), **kw)


def test_prepare_seeded_splits_and_test_split():
    cfg = _cfg(name="digits", val_fraction=0.1, test_fraction=0.2)
    a, b, c = prepare(cfg, seed=1), prepare(cfg, seed=1), prepare(cfg, seed=2)
    n = 1797
    assert len(a.x_test) == round(0.2 * n)  # digits has no own test split: carved off
    assert len(a.x_val) == round(0.1 * (n - len(a.x_test)))
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == n
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))  # same seed, same split
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)
    # the three splits are disjoint: compare rows as bytes
    rows = lambda x: {r.tobytes() for r in x.reshape(len(x), -1)}  # noqa: E731
    assert not rows(a.x_val) & rows(a.x_test)
    assert a.input_shape == (1, 8, 8) and a.kind == "images"


def test_prepare_keeps_own_test_split_and_extras():
    p = prepare(_cfg(name="mnist-sample", val_fraction=0.1, limit=3000), seed=0)
    raw = load_raw("mnist-sample")
    assert len(p.x_test) == len(raw.x_test)  # the data set's own test split is kept whole
    assert len(p.x_train) + len(p.x_val) == 3000
    s = prepare(_cfg(name="swiss-roll", val_fraction=0.0, test_fraction=0.25), seed=3)
    coords_train, coords_test = s.extras["coords"]["train"], s.extras["coords"]["test"]
    assert len(coords_train) == len(s.x_train) == 4500 and len(coords_test) == len(s.x_test) == 1500
    assert s.x_val is None


def test_prepare_user_file(tmp_path):
    x = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    p = prepare(_cfg(name=str(tmp_path / "x.npy"), val_fraction=0.2, test_fraction=0.1, scale="standard"), seed=0)
    assert len(p.x_test) == 20 and len(p.x_val) == 36 and len(p.x_train) == 144
    assert p.scaler.kind == "standard" and p.scaler.shift.shape == (5,)


def test_kmnist_missing_train_files_says_where_to_place(shared_data, tmp_path, monkeypatch):
    src = shared_data / "kmnist"
    have = [f for f in data.KMNIST_FILES if (src / f.filename).exists() and "test" in f.filename]
    if not have:
        pytest.skip(reason="no kmnist test files in the shared data")
    (tmp_path / "kmnist").mkdir()
    for f in have:
        os.symlink(src / f.filename, tmp_path / "kmnist" / f.filename)
    dead = [data.RemoteFile(f.filename, f.md5, [DEAD]) for f in data.KMNIST_FILES]
    monkeypatch.setattr(data, "KMNIST_FILES", dead)
    assert not DATASETS["kmnist"].available(tmp_path)
    with pytest.raises(AekitError) as e:
        load_raw("kmnist", data_dir_=tmp_path)
    msg = str(e.value)
    assert "'kmnist'" in msg and "kmnist-train-imgs.npz" in msg and "http://127.0.0.1:1/kmnist-train-imgs.npz" in msg
    assert f"place the files in {tmp_path / 'kmnist'}/" in e.value.hint
    assert "--data-dir / AEKIT_DATA_DIR" in e.value.hint
    # nothing half-written was left next to the files that were there
    assert sorted(p.name for p in (tmp_path / "kmnist").iterdir()) == sorted(f.filename for f in have)


# ---- binarized MNIST (MATLAB files) ----------------------------------------------------------------

def test_binarized_mnist_from_shared_data(shared_data):
    _need(shared_data, "binarized-mnist")
    raw = load_raw("binarized-mnist")
    assert raw.kind == "images" and raw.source == "binarized-mnist" and raw.y_train is None and raw.y_test is None
    assert raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.x_train.dtype == np.float32
    assert set(np.unique(raw.x_test)) == {0.0, 1.0}
    assert 0.12 < raw.x_train.mean() < 0.14  # MNIST's mean intensity (0.1307), binarized stochastically
    # prepared for training: already binary, so the Bernoulli likelihood reads it as it is
    p = prepare(DataConfig(name="binarized-mnist", val_fraction=0.0), 0)
    assert p.x_train.shape == (60000, 1, 28, 28) and p.y_train is None


def test_binarized_mnist_downloads_from_a_mirror_and_checks_md5(shared_data, tmp_path):
    import functools
    import http.server
    import shutil
    import threading

    _need(shared_data, "binarized-mnist")
    remote = tmp_path / "remote"
    remote.mkdir()
    for f in data.BINARIZED_FILES:
        shutil.copy(shared_data / "binarized-mnist" / f.filename, remote / f.filename)
    (remote / "bad").mkdir()
    (remote / "bad" / data.BINARIZED_FILES[0].filename).write_bytes(b"not the file")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(remote)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        ds = DATASETS["binarized-mnist"]
        files = [dataclasses.replace(f, urls=(url + "bad/", url)) for f in data.BINARIZED_FILES]  # a corrupt mirror first
        mirrored = dataclasses.replace(ds, remote=files)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(data, "BINARIZED_FILES", files)
            mp.setitem(DATASETS, "binarized-mnist", mirrored)
            raw = load_raw("binarized-mnist", tmp_path / "data")
        assert raw.x_train.shape == (60000, 1, 28, 28)
        assert sorted(p.name for p in (tmp_path / "data" / "binarized-mnist").iterdir()) == sorted(f.filename for f in files)
    finally:
        server.shutdown()
        server.server_close()


def test_a_damaged_matlab_file_is_a_clear_error(tmp_path):
    from aekit.data.files import read_mat_array

    bad = tmp_path / "x.amat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(AekitError, match="unreadable MATLAB file"):
        read_mat_array(bad, "X", (784,))
    from scipy.io import savemat

    savemat(tmp_path / "y.mat", {"Y": np.zeros((3, 784))})
    with pytest.raises(AekitError, match="no array named 'X'"):
        read_mat_array(tmp_path / "y.mat", "X", (784,))
    savemat(tmp_path / "z.mat", {"X": np.zeros((3, 10))})
    with pytest.raises(AekitError, match=r"expected \(N, 784\)"):
        read_mat_array(tmp_path / "z.mat", "X", (784,))
