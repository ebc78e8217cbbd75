"""Retrieval: nearest neighbours in code space, semantic hashing, precision@k (``aekit retrieve``).

On the embedded MNIST sample (9,000 training digits after the validation split, 2,000 test digits):
searches against brute force, precision@10 of briefly trained autoencoders against chance, the
command end to end and its errors.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.data import load_raw
from aekit.errors import AekitError
from aekit.tasks import retrieval as R
from aekit.tasks.retrieval import binary_codes, hamming_search, pack_bits, precision_at_k, retrieve, run_split, search

# sigmoid codes (semantic hashing) with squared error: under the Bernoulli likelihood these sigmoid
# codes stay saturated at 1 on this 9,000-digit sample for 5 epochs (measured: precision@10 at chance)
SIGMOID = dict(hidden=[256], latent_dim=16, code_activation="sigmoid", likelihood="gaussian", epochs=5)


@pytest.fixture(scope="module")
def sig_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aekit.train_run("ae", "mnist-sample", out=tmp_path_factory.mktemp("ret") / "sig", progress=False, quiet=True, **SIGMOID)


@pytest.fixture(scope="module")
def lin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aekit.train_run("ae", "mnist-sample", out=tmp_path_factory.mktemp("ret") / "lin", hidden=[64], latent_dim=8,
                           epochs=2, progress=False, quiet=True)


@pytest.fixture(scope="module")
def pixels() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = load_raw("mnist-sample")
    return (raw.x_test[:300].reshape(300, -1).astype(np.float64), raw.y_test[:300],
            raw.x_train[:3000].reshape(3000, -1).astype(np.float64), raw.y_train[:3000])


def brute(q: np.ndarray, db: np.ndarray, metric: str) -> np.ndarray:
    """All distances, by SciPy's direct formulas (Hamming: the number of differing bits)."""
    from scipy.spatial.distance import cdist

    d = cdist(q, db, metric)
    return (d * q.shape[1]).round() if metric == "hamming" else d


# ---- search against brute force ------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_real_search_equals_brute_force(pixels, metric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    q, _, db, _ = pixels
    monkeypatch.setattr(R, "CHUNK", 50_000)  # 16 queries a chunk: many chunks
    idx, dist = search(q, db, 10, metric)
    full = brute(q, db, metric)
    order = np.argsort(full, axis=1, kind="stable")[:, :11]
    near = np.take_along_axis(full, order, 1)
    assert np.allclose(dist, near[:, :10], rtol=0, atol=1e-9)
    clear = (np.diff(near, axis=1) > 1e-9).all(1)  # rows without a (near-)tie among the first 11
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(idx[clear], order[clear, :10])


def test_hamming_search_equals_brute_force_ties_by_row(pixels, monkeypatch: pytest.MonkeyPatch) -> None:
    q, _, db, _ = pixels
    bq, bdb = q > 0.5, db > 0.5  # 784 bits: 13 words of 64
    monkeypatch.setattr(R, "CHUNK", 50_000)
    idx, dist = search(bq, bdb, 10, "hamming")
    full = brute(bq, bdb, "hamming")
    order = np.argsort(full, axis=1, kind="stable")[:, :10]  # equal distances: lower row first
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(full, order, 1))
    # the same through packed bits, and 16-bit codes (one word, many exact ties)
    np.testing.assert_array_equal(hamming_search(pack_bits(bq), pack_bits(bdb), 10)[0], idx)
    b16q, b16 = bq[:, 300:316], bdb[:, 300:316]
    order16 = np.argsort(brute(b16q, b16, "hamming"), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(search(b16q, b16, 10, "hamming")[0], order16)


def test_exact_ties_and_leaving_a_query_out() -> None:
    db = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    idx, dist = search(np.array([[0.0, 2.0]]), db, 3, "cosine")
    assert idx.tolist() == [[4, 5, 6]] and np.allclose(dist, 0)
    idx, dist = search(np.array([[1.0, 0.0]]), db, 6, "euclidean")
    assert idx.tolist() == [[0, 1, 2, 3, 4, 5]] and np.allclose(dist[0, 4:], np.sqrt(2))
    idx, _ = search(db[:3], db, 2, "euclidean", exclude=[0, 1, 2])
    assert idx.tolist() == [[1, 2], [0, 2], [0, 1]]
    zero = search(np.zeros((1, 2)), db, 1, "cosine")[1]  # a zero vector: cos 0, distance 1
    assert zero.tolist() == [[1.0]]


def test_precision_at_k_on_a_constructed_case() -> None:
    neighbours = np.array([[1, 1, 0, 2], [0, 0, 0, 0], [3, 2, 2, -1], [5, 5, 5, 5]])
    queries = np.array([1, 0, 2, -1])  # the last query is unlabelled: left out
    assert precision_at_k(neighbours, queries, 1) == pytest.approx((1 + 1 + 0) / 3)
    assert precision_at_k(neighbours, queries, 2) == pytest.approx((1 + 1 + 0.5) / 3)
    assert precision_at_k(neighbours, queries) == pytest.approx((0.5 + 1 + 0.5) / 3)  # −1 never matches
    with pytest.raises(AekitError, match="1..4"):
        precision_at_k(neighbours, queries, 5)


@pytest.mark.parametrize("call, needle", [
    (lambda: search(np.zeros((2, 3)), np.zeros((5, 3)), 6), "database has 5 examples"),
    (lambda: search(np.zeros((2, 3)), np.zeros((5, 4)), 2), "dimensions"),
    (lambda: search(np.zeros((2, 3)), np.zeros((5, 3)), 2, "manhattan"), "unknown metric"),
    (lambda: search(np.full((2, 3), 0.3), np.zeros((5, 3)), 2, "hamming"), "bits"),
    (lambda: search(np.zeros((2, 3)), np.zeros((5, 3)), 5, exclude=[0, 1]), "one of them each query itself"),
    (lambda: search(np.full((1, 3), np.nan), np.zeros((5, 3)), 2), "NaN"),
])
def test_search_errors(call, needle: str) -> None:
    with pytest.raises(AekitError, match=needle) as e:
        call()
    assert e.value.hint


# ---- trained models ------------------------------------------------------------------------------

def test_codes_retrieve_digits_far_above_chance(sig_run: Path) -> None:
    cos = retrieve(sig_run)  # the run's test split against its training split
    assert cos.n_database == 9000 and cos.indices.shape == (2000, 10)
    assert cos.chance == pytest.approx(0.1, abs=0.01)
    assert cos.precision > 0.75, cos.figures()  # 0.879 measured
    assert set(cos.per_class) == set(range(10)) and min(cos.per_class.values()) > 0.4
    ham = retrieve(sig_run, metric="hamming")
    assert ham.threshold == "sigmoid" and ham.precision > 0.5, ham.figures()  # 0.695 measured
    # beside the binary codes: the real codes' own precision, as the cosine search gives it
    assert ham.real_codes["cosine"] == pytest.approx(cos.precision)
    assert ham.precision < ham.real_codes["cosine"]  # 16 bits keep less than 16 real numbers
    model = aekit.load(sig_run)
    x, _ = run_split(sig_run, "test")
    bits = binary_codes(model, x[:50])
    np.testing.assert_array_equal(bits, model.encode(x[:50]) > 0.5)


def test_non_sigmoid_codes_are_refused_unless_median_is_asked_for(lin_run: Path) -> None:
    with pytest.raises(AekitError) as e:
        retrieve(lin_run, metric="hamming")
    assert "linear" in e.value.message and "--set model.code_activation=sigmoid" in e.value.hint
    med = retrieve(lin_run, metric="hamming", threshold="median")
    assert med.precision > 0.3, med.figures()  # 0.400 measured (cosine on the real codes: 0.707)
    x, _ = run_split(lin_run, "train")
    z = aekit.load(lin_run).encode(x)
    assert np.allclose((z > R.median_thresholds(z)).mean(0), 0.5, atol=0.01)
    with pytest.raises(AekitError, match="applies to metric hamming"):
        retrieve(lin_run, metric="cosine", threshold="median")
    vae = aekit.fit(x[:200].reshape(200, -1), model="vae", hidden=[16], latent_dim=2, epochs=1, progress=False, quiet=True)
    with pytest.raises(AekitError) as e:
        binary_codes(vae, x[:5].reshape(5, -1))
    assert "--model ae --set model.code_activation=sigmoid" in e.value.hint


# ---- the command ---------------------------------------------------------------------------------

def test_cli_hamming_json_neighbours_and_png(sig_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    out, png = tmp_path / "n.npy", tmp_path / "g.png"
    assert main(["retrieve", str(sig_run), "--metric", "hamming", "--k", "5", "--out", str(out), "--png", str(png),
                 "-n", "4", "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    ref = retrieve(sig_run, k=5, metric="hamming")
    np.testing.assert_array_equal(np.load(out), ref.indices)
    assert fig["precision_at_5"] == pytest.approx(ref.precision) and fig["n_queries"] == 2000 and fig["threshold"] == "sigmoid"
    assert fig["real_codes"]["cosine_precision_at_5"] > fig["precision_at_5"]
    assert json.loads((sig_run / "retrieve-hamming-sigmoid-k5-mnist-sample-test.json").read_text()) == fig
    w, h = Image.open(png).size  # 4 queries × (query + 5 neighbours) tiles of 56 pixels, 2 pixels apart
    assert (w, h) == (6 * 58 + 2, 4 * 58 + 2)


def test_cli_training_queries_leave_themselves_out(sig_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "n.csv"
    assert main(["retrieve", str(sig_run), "--split", "train", "--query", "0-9,42", "--metric", "euclidean", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "11 queries from mnist-sample (train)" in text and "precision@10:" in text
    rows = np.loadtxt(out, delimiter=",").astype(int)
    assert rows.shape == (11, 10) and not (rows == np.r_[np.arange(10), 42][:, None]).any()


def test_cli_without_labels_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = load_raw("mnist-sample").x_train[:600].reshape(600, -1)
    np.save(tmp_path / "x.npy", x)
    run = aekit.train_run("ae", str(tmp_path / "x.npy"), out=tmp_path / "r", hidden=[32], latent_dim=4, epochs=1,
                          progress=False, quiet=True)
    assert main(["retrieve", str(run), "--k", "3"]) == 0
    text = capsys.readouterr().out
    assert "precision@3 not computed: the queries have no labels" in text
    assert json.loads(next(run.glob("retrieve-cosine-k3-*.json")).read_text())["precision_at_3"] is None
    np.save(tmp_path / "other.npy", load_raw("mnist-sample").x_test[:7].reshape(7, -1))  # queries from another file
    assert main(["retrieve", str(run), "--data", str(tmp_path / "other.npy"), "--k", "2", "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    assert fig["n_queries"] == 7 and fig["queries"].endswith("other.npy (all)") and fig["n_database"] == 432
    assert main(["retrieve", str(run), "--png", str(tmp_path / "g.png")]) == 2  # vectors: no picture
    err = capsys.readouterr().err
    assert "--png needs image data" in err and "fix:" in err and not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("args, needle", [
    (["--metric", "manhattan"], "unknown metric"),
    (["--threshold", "median"], "applies to --metric hamming"),
    (["--metric", "hamming", "--threshold", "mean"], "unknown --threshold"),
    (["--k", "0"], "--k must be >= 1"),
    (["--k", "9001"], "the database has 9000 examples"),
    (["--query", "1999,2000"], "--query 2000 is outside"),
    (["--query", "3-1"], "not a list of row indices"),
    (["-n", "3"], "needs --png"),
    (["--out", "n.txt"], "unsupported extension"),
    (["--split", "all"], "training rows"),
])
def test_cli_errors(sig_run: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    assert main(["retrieve", str(sig_run), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err and "fix:" in err, err


def test_cli_refuses_hamming_on_linear_codes(lin_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retrieve", str(lin_run), "--metric", "hamming"]) == 2
    err = capsys.readouterr().err
    assert "codes are linear" in err and "fix: train with --set model.code_activation=sigmoid" in err
    assert main(["retrieve", str(lin_run), "--metric", "hamming", "--threshold", "median", "--query", "0-99"]) == 0
    assert "precision@10:" in capsys.readouterr().out
