"""Sequences (N, T, C): UCR text tables, sktime .ts files, the named ecg5000 / gunpoint sets on the
real files, NumPy arrays, NaN end padding of variable-length series and per-channel scaling."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from aekit.config import DataConfig
from aekit.data import DATASETS, Scaler, load_like, load_raw, prepare
from aekit.data.base import RawData, check_raw, pad_sequences, series_lengths
from aekit.data.sequences import read_ts, read_ucr
from aekit.errors import AekitError


def cfg(name: str | Path, **kw) -> DataConfig:
    return dataclasses.replace(DataConfig(), name=str(name), **kw)


def raises(match: str):
    return pytest.raises(AekitError, match=match)


@pytest.fixture(scope="module")
def ts_dir(shared_data) -> Path:
    d = shared_data / "timeseries"
    if not (d / "ECG5000_TRAIN.txt").exists() or not (d / "GunPoint_TRAIN.ts").exists():
        pytest.skip(reason=f"the time-series files are not under {d}")
    return d


# --- the named sets on the real files -----------------------------------------------------------

def test_ecg5000_named(ts_dir):
    raw = load_raw("ecg5000")
    assert raw.kind == "sequences" and raw.source == "ecg5000"
    assert raw.x_train.shape == (500, 140, 1) and raw.x_train.dtype == np.float32 and raw.x_test is None
    values, counts = np.unique(raw.y_train, return_counts=True)
    assert values.tolist() == [1, 2, 3, 4, 5] and counts.tolist() == [292, 177, 10, 19, 2]
    assert raw.y_train.dtype == np.int64
    first = [float(v) for v in (ts_dir / "ECG5000_TRAIN.txt").read_text().splitlines()[0].split()]
    assert raw.y_train[0] == int(first[0])
    np.testing.assert_allclose(raw.x_train[0, :, 0], first[1:], rtol=1e-6)
    assert not np.isnan(raw.x_train).any()


def test_ecg5000_prepare_carves_the_test_split(ts_dir):
    p = prepare(cfg("ecg5000", val_fraction=0.1, test_fraction=0.2), seed=0)
    assert p.kind == "sequences" and p.input_shape == (140, 1) and p.classes == [1, 2, 3, 4, 5]
    assert len(p.x_test) == 100 and len(p.x_val) == 40 and len(p.x_train) == 360
    assert set(np.unique(np.concatenate([p.y_train, p.y_val, p.y_test]))) == set(range(5))


def test_gunpoint_named(ts_dir):
    raw = load_raw("gunpoint")
    assert raw.kind == "sequences" and raw.source == "gunpoint"
    assert raw.x_train.shape == (50, 150, 1) and raw.x_test.shape == (150, 150, 1)
    assert np.unique(raw.y_train).tolist() == [1, 2] and np.unique(raw.y_test).tolist() == [1, 2]
    assert len(raw.y_train) == 50 and len(raw.y_test) == 150
    text = (ts_dir / "GunPoint_TEST.ts").read_text().splitlines()
    line = text[next(i for i, s in enumerate(text) if s.strip().lower() == "@data") + 1]
    values, label = line.rsplit(":", 1)
    np.testing.assert_allclose(raw.x_test[0, :, 0], [float(v) for v in values.split(",")], rtol=1e-6)
    assert raw.y_test[0] == int(label)
    p = prepare(cfg("gunpoint", val_fraction=0.2), seed=0)
    assert len(p.x_test) == 150 and len(p.x_train) == 40 and p.classes == [1, 2]


def test_named_sequences_missing_files_say_where_to_put_them(tmp_path):
    for name, filename in (("ecg5000", "ECG5000_TRAIN.txt"), ("gunpoint", "GunPoint_TRAIN.ts")):
        assert not DATASETS[name].available(tmp_path)
        with raises(f"data set '{name}': .*{filename} is missing \\(aekit does not download it\\)") as e:
            load_raw(name, data_dir_=tmp_path)
        assert f"in {tmp_path / 'timeseries'}/" in e.value.hint and "AEKIT_DATA_DIR" in e.value.hint
    assert not (tmp_path / "timeseries").exists()  # nothing created, nothing fetched


def test_named_sequences_available_in_the_shared_data(ts_dir):
    from aekit.data import dataset_status

    status = {n: (d, ok) for n, d, ok in dataset_status(ts_dir.parent)}
    assert status["ecg5000"][1] and status["gunpoint"][1]
    missing = {n: d for n, d, ok in dataset_status(ts_dir / "nowhere")}
    assert "aekit does not download it: put ECG5000_TRAIN.txt in" in missing["ecg5000"]


# --- UCR layout: a delimited text file under data.kind=sequences --------------------------------

def test_ucr_file_reads_like_the_named_set(ts_dir, caplog):
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(ts_dir / "ECG5000_TRAIN.txt"), kind="sequences")
    named = load_raw("ecg5000")
    np.testing.assert_array_equal(raw.x_train, named.x_train)
    np.testing.assert_array_equal(raw.y_train, named.y_train)
    assert any("read as UCR sequences" in r.getMessage() and "class label first" in r.getMessage() for r in caplog.records)
    same = load_raw(str(ts_dir / "ECG5000_TRAIN.txt"), label_column="0", kind="sequences")
    np.testing.assert_array_equal(same.x_train, named.x_train)
    unlabelled = load_raw(str(ts_dir / "ECG5000_TRAIN.txt"), label_column="none", kind="sequences")
    assert unlabelled.y_train is None and unlabelled.x_train.shape == (500, 141, 1)
    table = load_raw(str(ts_dir / "ECG5000_TRAIN.txt"))  # without data.kind=sequences: a numeric table as before
    assert table.kind == "vectors" and table.x_train.shape == (500, 141) and table.y_train is None


@pytest.mark.parametrize("ext,sep", [(".txt", "  "), (".txt", "\t"), (".tsv", "\t"), (".csv", ","), (".csv", ";")])
def test_ucr_delimiters(tmp_path, ext, sep):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 30)).round(5)
    y = np.arange(12) % 3 + 1
    p = tmp_path / f"d{ext}"
    p.write_text("".join(sep.join([str(lab)] + [repr(float(v)) for v in row]) + "\n" for lab, row in zip(y, x)))
    raw = load_raw(str(p), kind="sequences")
    assert raw.x_train.shape == (12, 30, 1)
    np.testing.assert_allclose(raw.x_train[..., 0], x, rtol=1e-6)
    np.testing.assert_array_equal(raw.y_train, y)


def test_ucr_label_elsewhere_text_labels_and_header(tmp_path):
    x = np.arange(20, dtype=float).reshape(4, 5)
    p = tmp_path / "last.csv"
    p.write_text("".join(",".join(map(str, r)) + f",{c}\n" for r, c in zip(x, ["up", "down", "up", "up"])))
    raw = load_raw(str(p), label_column="-1", kind="sequences")
    assert raw.y_train.tolist() == ["up", "down", "up", "up"] and raw.x_train.shape == (4, 5, 1)
    np.testing.assert_array_equal(raw.x_train[..., 0], x)
    h = tmp_path / "h.csv"
    h.write_text("t0,t1,kind,t2\n1,2,a,3\n4,5,b,6\n")
    raw = load_raw(str(h), label_column="kind", kind="sequences")
    assert raw.y_train.tolist() == ["a", "b"] and raw.x_train[..., 0].tolist() == [[1, 2, 3], [4, 5, 6]]
    h.write_text("class,t0,t1\nup,1,2\ndown,3,4\n")  # a header row and text labels, the label first
    raw = load_raw(str(h), kind="sequences")
    assert raw.y_train.tolist() == ["up", "down"] and raw.x_train[..., 0].tolist() == [[1, 2], [3, 4]]


def test_ucr_rows_of_different_lengths_are_padded_at_the_end(tmp_path, caplog):
    p = tmp_path / "var.txt"
    p.write_text("1 0.1 0.2 0.3 0.4\n2 0.5 0.6\n1 0.7 0.8 0.9 NaN NaN\n2 1.0 1.1 1.2 1.3 1.4\n")
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(p), kind="sequences")
    assert raw.x_train.shape == (4, 5, 1)
    assert series_lengths(raw.x_train).tolist() == [4, 2, 3, 5]
    np.testing.assert_array_equal(raw.x_train[1, :2, 0], np.float32([0.5, 0.6]))
    assert np.isnan(raw.x_train[1, 2:]).all() and np.isnan(raw.x_train[0, 4:]).all()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "lengths 2..5" in said and "3 of 4 series are shorter than 5 steps (lengths 2..5), NaN-padded at the end" in said
    c = tmp_path / "trail.csv"  # empty cells at the end of a row are padding too
    c.write_text("1,1,2,3\n2,4,5,,\n")
    assert series_lengths(load_raw(str(c), kind="sequences").x_train).tolist() == [3, 2]


def test_ucr_bad_rows(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("1,0.1,0.2,0.3\n2,0.4,,0.6\n")
    with raises(r"line 2, column 3 is missing inside the series \(before its last value, column 4\)") as e:
        load_raw(str(p), kind="sequences")
    assert "impute" in e.value.hint
    p.write_text("1,0.1,NaN,0.3\n")
    with raises("line 1, column 3 is missing inside the series"):
        load_raw(str(p), kind="sequences")
    p.write_text("1,0.1,0.2\n2,0.3,oops\n")
    with raises(r"line 2, column 3 is not a number: 'oops'"):
        load_raw(str(p), kind="sequences")
    p.write_text("1,0.1,0.2\n,0.3,0.4\n")
    with raises("line 2 has no label"):
        load_raw(str(p), kind="sequences")
    p.write_text("1,0.1,0.2\n2,NaN,\n")
    with raises("line 2 has no values"):
        load_raw(str(p), kind="sequences")
    p.write_text("")
    with raises("is empty"):
        load_raw(str(p), kind="sequences")
    write_ts(tmp_path / "x.ts", ["1,2,3:a"])
    with raises("label_column='x' has no effect"):  # a .ts file has its labels in the file
        load_raw(str(tmp_path / "x.ts"), label_column="x")


# --- sktime .ts ----------------------------------------------------------------------------------

HEADER = "# a comment\n@problemName Toy\n@timeStamps false\n@missing {missing}\n@univariate {uni}\n{dims}" \
         "@equalLength {equal}\n{length}@classLabel true a b c\n@data\n"


def write_ts(path: Path, lines: list[str], uni: bool = True, dims: int | None = None, equal: bool = True,
             length: int | None = None, missing: bool = False) -> Path:
    path.write_text(HEADER.format(uni=str(uni).lower(), dims=f"@dimensions {dims}\n" if dims else "",
                                  equal=str(equal).lower(), length=f"@seriesLength {length}\n" if length else "",
                                  missing=str(missing).lower()) + "\n".join(lines) + "\n")
    return path


def test_ts_univariate_and_multivariate(tmp_path):
    p = write_ts(tmp_path / "u.ts", ["1,2,3,4:a", "5,6,7,8:c", "9,10,11,12:a"], length=4)
    raw = load_raw(str(p))  # data.kind auto: a .ts file is sequences
    assert raw.kind == "sequences" and raw.x_train.shape == (3, 4, 1)
    assert raw.y_train.tolist() == ["a", "c", "a"]
    assert raw.x_train[1, :, 0].tolist() == [5, 6, 7, 8]
    m = write_ts(tmp_path / "m.ts", ["1,2,3:10,20,30:b", "4,5,6:40,50,60:a"], uni=False, dims=2)
    raw = load_raw(str(m))
    assert raw.x_train.shape == (2, 3, 2) and raw.x_train[0].tolist() == [[1, 10], [2, 20], [3, 30]]
    assert load_raw(str(m), kind="vectors").x_train.shape == (2, 6)
    with raises("data.kind=images, but a .ts file holds sequences"):
        load_raw(str(m), kind="images")
    p = prepare(cfg(m, val_fraction=0.0, test_fraction=0.5), seed=0)
    assert p.classes == ["a", "b"] and p.input_shape == (3, 2)


def test_ts_variable_length_and_missing_at_the_end(tmp_path):
    p = write_ts(tmp_path / "v.ts", ["1,2,3,4,5:a", "6,7:b", "8,9,10,?,?:c"], equal=False, missing=True)
    raw = load_raw(str(p))
    assert raw.x_train.shape == (3, 5, 1) and series_lengths(raw.x_train).tolist() == [5, 2, 3]
    assert np.isnan(raw.x_train[1, 2:]).all() and raw.x_train[2, :3, 0].tolist() == [8, 9, 10]
    m = write_ts(tmp_path / "mv.ts", ["1,2,3:4,5,6:a", "1,?:2,?:b"], uni=False, dims=2, equal=False, missing=True)
    assert series_lengths(load_raw(str(m)).x_train).tolist() == [3, 1]


def test_ts_real_gunpoint_file(ts_dir):
    raw = read_ts(ts_dir / "GunPoint_TRAIN.ts")
    assert raw.x_train.shape == (50, 150, 1) and raw.kind == "sequences"
    np.testing.assert_array_equal(check_raw(raw).x_train, load_raw("gunpoint").x_train)


def test_ts_malformed_lines(tmp_path):
    p = tmp_path / "bad.ts"
    write_ts(p, ["1,2,3:a", "4,5,6:7:b"])
    with raises(r"line 10 has 3 parts separated by ':', expected 2 \(1 dimensions? and the class label\)") as e:
        load_raw(str(p))
    assert "separated by ':'" in e.value.hint
    write_ts(p, ["1,2,3:a", "4,x,6:b"])
    with raises(r"line 10: dimension 1, value 2 is not a number: 'x'"):
        load_raw(str(p))
    write_ts(p, ["1,2,3:a", "4,5,6:z"])
    with raises(r"line 10: class label 'z' is not one of those @classLabel declares: a, b, c"):
        load_raw(str(p))
    write_ts(p, ["1,2,3:a", "4,?,6:b"], missing=True)
    with raises(r"line 10: dimension 1, value 2 is missing inside the series") as e:
        load_raw(str(p))
    assert "impute" in e.value.hint
    write_ts(p, ["1,2,3:4,5:a"], uni=False, dims=2)
    with raises("line 10: the dimensions have different lengths \\(3, 2\\)"):
        load_raw(str(p))
    write_ts(p, ["1,2,3:a", "4,5:b"], length=3)
    with raises(r"series 1 has 2 values, but the header says @equalLength true, @seriesLength 3"):
        load_raw(str(p))
    p.write_text("@problemName x\n@classLabel false\n1,2,3\n")
    with raises("line 3 holds data before the @data line"):
        load_raw(str(p))
    p.write_text("@problemName x\n@classLabel false\n")
    with raises("has no @data line"):
        load_raw(str(p))
    p.write_text("@problemName x\n@timeStamps true\n@data\n(0,1),(1,2):a\n")
    with raises(r"time-stamped series \(@timeStamps true\) are not supported"):
        load_raw(str(p))
    p.write_text("@problemName x\n@classLabel false\n@data\n")
    with raises("holds no series after @data"):
        load_raw(str(p))


def test_ts_without_labels_and_with_regression_targets(tmp_path, caplog):
    p = tmp_path / "n.ts"
    p.write_text("@problemName x\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5,6\n")
    raw = load_raw(str(p))
    assert raw.y_train is None and raw.x_train.shape == (2, 3, 1)
    p.write_text("@problemName x\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n")
    with caplog.at_level(logging.INFO, logger="aekit"):
        raw = load_raw(str(p))
    assert raw.y_train is None and raw.x_train[:, :, 0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert any("regression targets" in r.getMessage() for r in caplog.records)


# --- NumPy arrays and the NaN rule ----------------------------------------------------------------

def test_npy_and_npz_sequences(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 16, 3)).astype(np.float32)
    x[3, 10:] = np.nan  # a shorter series: every channel NaN to the end
    np.save(tmp_path / "s.npy", x)
    raw = load_raw(str(tmp_path / "s.npy"), kind="sequences")
    assert raw.kind == "sequences" and raw.x_train.shape == (20, 16, 3)
    np.testing.assert_array_equal(raw.x_train, x)
    assert series_lengths(raw.x_train)[3] == 10
    np.savez(tmp_path / "s.npz", x=x, y=np.arange(20) % 2, x_test=x[:5], y_test=np.arange(5) % 2)
    p = prepare(cfg(tmp_path / "s.npz", kind="sequences", val_fraction=0.0), seed=0)
    assert p.kind == "sequences" and p.input_shape == (16, 3) and p.x_test.shape == (5, 16, 3)
    with raises("NaN or inf"):  # the same array read as images: NaN is not allowed there
        load_raw(str(tmp_path / "s.npy"))


def test_nan_inside_a_sequence_is_an_error(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 12, 2)).astype(np.float32)
    bad = x.copy()
    bad[5, 4, 1] = np.nan
    np.save(tmp_path / "mid.npy", bad)
    with raises(r"example 5 has NaN at step 4 \(channel 1\) inside the series, before its last value") as e:
        load_raw(str(tmp_path / "mid.npy"), kind="sequences")
    assert "impute" in e.value.hint
    part = x.copy()
    part[2, 9:, 0] = np.nan  # the end of one channel only: not padding
    with raises(r"example 2 has NaN at step 9 \(channel 0\)"):
        check_raw(RawData(part, None, "sequences", source="mine"))
    empty = x.copy()
    empty[6] = np.nan
    with raises(r"mine: example 6 has no values"):
        check_raw(RawData(empty, None, "sequences", source="mine"))
    inf = x.copy()
    inf[1, 11:] = np.nan
    inf[7, 0, 0] = np.inf
    with raises(r"first: inf in example 7"):
        check_raw(RawData(inf, None, "sequences", source="mine"))
    flat = x[:, :, 0].copy()
    flat[0, -1] = np.nan  # vectors take no NaN, even at the end
    with raises(r"NaN or inf \(first: NaN in example 0\)"):
        check_raw(RawData(flat, None, "vectors", source="mine"))


def test_pad_sequences():
    x = pad_sequences([np.ones((3, 2)), np.zeros((5, 2))])
    assert x.shape == (2, 5, 2) and x.dtype == np.float32 and np.isnan(x[0, 3:]).all() and not np.isnan(x[1]).any()
    assert pad_sequences([np.arange(4.0)]).shape == (1, 4, 1)
    assert pad_sequences([np.arange(4.0)], length=6).shape == (1, 6, 1)


# --- per-channel scaling ------------------------------------------------------------------------

def _padded(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(50, 20, 2)) * [1.0, 10.0] + [0.0, 100.0]).astype(np.float32)
    for i, t in enumerate(rng.integers(5, 21, size=50)):
        x[i, t:] = np.nan
    return x


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_sequences_are_scaled_per_channel(kind):
    x = _padded()
    s = Scaler.fit(kind, x, "sequences")
    assert s.shift.shape == (20, 2) and s.scale.shape == (20, 2) and s.shift.dtype == np.float32
    assert np.all(s.shift == s.shift[0]) and np.all(s.scale == s.scale[0])  # the same at every step
    values = x.reshape(-1, 2)
    if kind == "standard":
        np.testing.assert_allclose(s.shift[0], np.nanmean(values, 0), rtol=1e-5)
        np.testing.assert_allclose(s.scale[0], np.nanstd(values, 0), rtol=1e-5)
    else:
        np.testing.assert_allclose(s.shift[0], np.nanmin(values, 0), rtol=1e-6)
    y = s.apply(x)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))  # padding stays NaN
    scaled = y.reshape(-1, 2)
    if kind == "standard":
        np.testing.assert_allclose(np.nanmean(scaled, 0), 0, atol=1e-4)
        np.testing.assert_allclose(np.nanstd(scaled, 0), 1, atol=1e-4)
    else:
        np.testing.assert_allclose(np.nanmin(scaled, 0), 0, atol=1e-6)
        np.testing.assert_allclose(np.nanmax(scaled, 0), 1, atol=1e-6)
    # the way a run applies it: one value per input cell, flattened
    flat = (x.reshape(len(x), -1) - s.shift.reshape(-1)) / s.scale.reshape(-1)
    np.testing.assert_allclose(flat.reshape(x.shape), y, equal_nan=True)


def test_vectors_and_images_keep_per_feature_scaling():
    x = np.random.default_rng(0).normal(size=(30, 4, 5)).astype(np.float32)
    s = Scaler.fit("standard", x, "images")
    assert s.shift.shape == (20,)
    np.testing.assert_allclose(s.shift, x.reshape(30, -1).mean(0), rtol=1e-5, atol=1e-6)


def test_prepare_scales_sequences_per_channel(tmp_path):
    np.save(tmp_path / "s.npy", _padded())
    p = prepare(cfg(tmp_path / "s.npy", kind="sequences", scale="standard", val_fraction=0.0), seed=0)
    assert p.scaler.shift.shape == p.input_shape == (20, 2)
    np.testing.assert_allclose(p.scaler.shift[0], np.nanmean(p.x_train.reshape(-1, 2), 0), rtol=1e-5)


def test_test_data_of_a_named_sequence_set_is_read_as_sequences(ts_dir, tmp_path):
    lines = (ts_dir / "ECG5000_TRAIN.txt").read_text().splitlines()
    (tmp_path / "test.txt").write_text("\n".join(lines[:50]) + "\n")
    p = prepare(cfg("ecg5000", test_data=str(tmp_path / "test.txt")), seed=0)
    assert p.x_test.shape == (50, 140, 1) and p.classes == [1, 2, 3, 4, 5]


def test_load_like_a_ts_run(ts_dir):
    raw = load_like(cfg("gunpoint"), str(ts_dir / "GunPoint_TEST.ts"))
    assert raw.kind == "sequences" and raw.x_train.shape == (150, 150, 1)


def test_read_ucr_directly(ts_dir):
    raw = read_ucr(ts_dir / "ECG5000_TRAIN.txt")
    assert raw.kind == "sequences" and raw.x_train.shape == (500, 140, 1) and raw.y_train.shape == (500,)
