"""Anomaly detection on any run (aekit.tasks.outliers, `aekit anomalies`) and the data option it needs,
data.keep_classes: one-class MNIST (an AE trained on the ones scores the other digits as more
anomalous), thresholds by contamination and by a validation quantile, the VAE's score kinds, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.config import DataConfig
from aekit.data import from_arrays, prepare
from aekit.errors import AekitError
from aekit.run import run_data
from aekit.tasks.anomaly import nll_scores
from aekit.tasks.outliers import anomaly_scores, detect_anomalies, figures


@pytest.fixture(scope="module")
def ones(tmp_path_factory, shared_data) -> Path:
    """An MLP AE trained briefly on 800 MNIST ones (the first 800 of the class; 80 held out for validation)."""
    import aekit.run

    out = tmp_path_factory.mktemp("oneclass") / "ones"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aekit.run, "_report", lambda *a, **k: None)
        aekit.train_run("ae", "mnist", out=out, keep_classes=[1], limit=800, hidden=[128], latent_dim=8, epochs=3,
                        batch_size=64, lr=3e-3, seed=0, quiet=True, progress=False)
    return out


@pytest.fixture(scope="module")
def ones_result(ones) -> dict:
    return detect_anomalies(ones, progress=False)  # the run's test split, its keep_classes normal


@pytest.fixture(scope="module")
def ones_test(ones) -> tuple[np.ndarray, np.ndarray]:
    data = run_data(aekit.load_config(ones))
    return data.x_test, np.asarray(data.classes)[data.y_test]


# ---- data.keep_classes ------------------------------------------------------------------------------

def test_keep_classes_filters_training_and_validation_and_keeps_the_test_split_whole():
    full = prepare(DataConfig(name="digits"), 0)
    kept = prepare(DataConfig(name="digits", keep_classes=["3"]), 0)  # as --set data.keep_classes=3 gives it
    three = kept.classes.index(3)
    assert kept.classes == full.classes == list(range(10))
    assert set(kept.y_train) == set(kept.y_val) == {three}
    n3 = int((full.y_train == three).sum() + (full.y_val == three).sum())
    assert len(kept.y_train) + len(kept.y_val) == n3 > 100  # every 3 of the training data, nothing else
    np.testing.assert_array_equal(kept.x_test, full.x_test)  # the carved test split keeps all ten classes
    assert set(kept.y_test) == set(range(10))
    both = prepare(DataConfig(name="digits", keep_classes=[3, 7], limit=50), 0)
    assert set(both.y_train) | set(both.y_val) == {3, 7} and len(both.y_train) + len(both.y_val) == 50  # limit after


def test_keep_classes_errors():
    with pytest.raises(AekitError, match=r"data.keep_classes: 11 is not a class"):
        prepare(DataConfig(name="digits", keep_classes=[11]), 0)
    cfg = DataConfig(name="digits", keep_classes=[])
    with pytest.raises(AekitError, match="data.keep_classes is empty"):
        cfg.validate()
    x = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    with pytest.raises(AekitError, match="needs labelled data"):
        prepare(DataConfig(name="arrays", keep_classes=[1], test_fraction=0), 0, raw=from_arrays(x))
    with pytest.raises(AekitError, match="needs labelled data"):
        aekit.fit(x, keep_classes=[1], epochs=1, progress=False)


def test_the_run_keeps_its_classes(ones):
    cfg = aekit.load_config(ones)
    assert cfg.data.keep_classes == [1]
    data = run_data(cfg)
    one = data.classes.index(1)
    assert set(data.y_train) == set(data.y_val) == {one} and len(data.y_train) + len(data.y_val) == 800
    assert len(data.x_test) == 10000 and set(data.y_test) == set(range(10))
    with pytest.raises(AekitError, match=r"data.keep_classes \(\[1\] → \[2\]\)"):  # a resume cannot change them
        aekit.train_run(out=ones, resume=True, keep_classes=[2], progress=False)


# ---- one-class MNIST from Python ----------------------------------------------------------------------

def test_an_ae_trained_on_ones_finds_the_other_digits(ones, ones_result):
    r = ones_result
    assert r["model"] == "ae" and r["score"] == "nll" and r["k"] is None and r["n"] == 10000
    assert r["normal"] == [1] and r["n_normal"] == 1135 and r["n_anomalous"] == 8865
    assert r["roc_auc"] > 0.95 and r["average_precision"] > 0.99  # measured 0.994 and 0.999; chance 0.5 and 0.887
    per = r["per_label"]
    assert set(per) == {str(d) for d in range(10)} and per["1"]["normal"] and not per["7"]["normal"]
    assert per["1"]["mean_score"] < min(v["mean_score"] for k, v in per.items() if k != "1")
    # the default threshold: the 0.95 quantile of the run's own validation scores (ones only)
    assert (r["rule"], r["quantile"], r["reference"], r["n_reference"]) == ("quantile", 0.95, "val", 80)
    model = aekit.load(ones)
    val = run_data(aekit.load_config(ones)).x_val
    assert r["threshold"] == pytest.approx(float(np.quantile(nll_scores(model, val), 0.95)), rel=1e-6)
    assert 0.005 < per["1"]["flagged_share"] < 0.2  # about 5% of the normal test digits
    # the flags and the figures at the threshold, by hand
    s, flags, anom = r["scores"], r["flags"], r["anomalous"]
    np.testing.assert_array_equal(flags, s > r["threshold"])
    tp = int((flags & anom).sum())
    assert r["precision"] == pytest.approx(tp / flags.sum()) and r["recall"] == pytest.approx(tp / anom.sum())
    assert r["f1"] == pytest.approx(2 * r["precision"] * r["recall"] / (r["precision"] + r["recall"]))
    json.dumps(figures(r))  # the figures are JSON-ready; the arrays are left out
    assert not set(figures(r)) & {"scores", "flags", "labels", "anomalous"}


def test_contamination_flags_that_share_of_the_scored_data(ones, ones_result, ones_test):
    x, y = ones_test
    model = aekit.load(ones)
    r = detect_anomalies(model, x, y, contamination=0.2, normal=[1], progress=False)
    assert r["rule"] == "contamination" and abs(r["flagged_share"] - 0.2) <= 1 / len(x)
    np.testing.assert_allclose(r["scores"], ones_result["scores"])  # same scores as through the run folder
    assert r["roc_auc"] == pytest.approx(ones_result["roc_auc"])
    assert detect_anomalies(ones, contamination=0.5, progress=False)["n_flagged"] == 5000
    ref = x[:500]
    q = detect_anomalies(model, x[:300], quantile=0.9, reference=ref, progress=False)
    assert q["reference"] == "given" and q["threshold"] == pytest.approx(float(np.quantile(nll_scores(model, ref), 0.9)))
    for bad in ({"contamination": 0.0}, {"contamination": 0.6}, {"quantile": 1.0}, {"contamination": 0.1, "quantile": 0.9}):
        with pytest.raises(AekitError):
            detect_anomalies(model, x[:50], reference=ref, **bad) if "quantile" in bad else detect_anomalies(model, x[:50], **bad)
    with pytest.raises(AekitError, match="reference"):  # a bare model has no validation split
        detect_anomalies(model, x[:50], quantile=0.9)


def test_labels_and_normal_classes(ones, ones_test):
    x, y = ones_test[0][:400], ones_test[1][:400]
    model = aekit.load(ones)
    r = detect_anomalies(model, x, progress=False)  # no labels: said so, no ranking figures
    assert "roc_auc" not in r and any("no labels" in n for n in r["notes"])
    assert r["rule"] == "contamination" and any("no validation data" in n for n in r["notes"])
    r = detect_anomalies(model, x, y, progress=False)  # labels, but which are normal is unknown
    assert "roc_auc" not in r and any("labels not used" in n for n in r["notes"])
    r = detect_anomalies(model, x, y.astype(str), normal=["1", "7"], progress=False)  # any label values
    assert r["normal"] == ["1", "7"] and r["n_normal"] == int(np.isin(y, [1, 7]).sum()) and 0.5 < r["roc_auc"] <= 1
    with pytest.raises(AekitError, match="needs labels"):
        detect_anomalies(model, x, normal=[1])
    with pytest.raises(AekitError, match="no example carries"):
        detect_anomalies(model, x, y, normal=["one"])
    with pytest.raises(AekitError, match="normal: 11 is not a class"):
        detect_anomalies(ones, x, y, normal=[11])
    with pytest.raises(AekitError, match="labels for"):
        detect_anomalies(model, x, y[:10], normal=[1])


def test_score_errors_name_the_option(ones):
    model = aekit.load(ones)
    x = np.zeros((4, 1, 28, 28), np.float32)
    with pytest.raises(AekitError, match="unknown score 'mae'"):
        detect_anomalies(ones, score="mae")
    with pytest.raises(AekitError, match="score='iwae' needs .* ae has none"):
        anomaly_scores(model, x, "iwae")
    with pytest.raises(AekitError, match="score='elbo' needs .* ae has none"):
        anomaly_scores(model, x, "elbo")
    with pytest.raises(AekitError, match="k=5 applies to score='iwae' only"):
        anomaly_scores(model, x, "nll", k=5)
    with pytest.raises(AekitError, match="a run folder or an aekit model"):
        detect_anomalies(np.zeros(3), x)


def test_vae_score_kinds(tmp_path, monkeypatch):
    import aekit.run

    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)
    run = aekit.train_run("vae", "mnist-sample", out=tmp_path / "vae", hidden=[64], latent_dim=4, epochs=1, limit=1000,
                          batch_size=64, lr=3e-3, seed=0, quiet=True, progress=False)
    model = aekit.load(run)
    x = run_data(aekit.load_config(run)).x_test[:200]
    elbo, kind = anomaly_scores(model, x, "auto", progress=False)
    assert kind == "elbo"
    np.testing.assert_allclose(elbo, nll_scores(model, x))  # auto: the model's own score hook, −ELBO
    np.testing.assert_allclose(anomaly_scores(model, x, "elbo")[0], elbo)
    nll, kind = anomaly_scores(model, x, "nll", progress=False)  # the decoder at the posterior mean, no KL
    assert kind == "nll" and nll.mean() < elbo.mean()
    iwae, kind = anomaly_scores(model, x, "iwae", k=20, progress=False)
    assert kind == "iwae" and iwae.mean() < elbo.mean()  # the tighter bound on −log p(x)
    r = detect_anomalies(run, x, score="iwae", k=20, contamination=0.1, progress=False)
    assert (r["score"], r["k"]) == ("iwae", 20) and r["n_flagged"] == 20


# ---- the command ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def threes(tmp_path_factory) -> Path:
    """An AE trained from the command line on the 3s of scikit-learn's 8×8 digits."""
    import aekit.run

    run = tmp_path_factory.mktemp("cli") / "threes"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aekit.run, "_report", lambda *a, **k: None)
        assert main(["train", "--data", "digits", "--set", "data.keep_classes=3", "--hidden", "32", "--latent-dim", "4",
                     "--epochs", "15", "--lr", "3e-3", "--batch-size", "32", "--quiet", "--out", str(run)]) == 0
    return run


def test_cli_end_to_end(threes: Path, tmp_path: Path, capsys):
    capsys.readouterr()
    out, png = tmp_path / "scores.csv", tmp_path / "hist.png"
    assert main(["anomalies", str(threes), "--contamination", "0.1", "--out", str(out), "--png", str(png), "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    assert aekit.load_config(threes).data.keep_classes == [3]  # saved with the run
    assert fig["data"] == "digits (test)" and fig["normal"] == [3] and fig["n"] == 359 and fig["roc_auc"] > 0.9
    assert fig["rule"] == "contamination" and abs(fig["n_flagged"] - 35.9) < 1
    assert json.loads((threes / "anomalies-digits_test_.json").read_text()) == fig  # written to the run folder
    lines = out.read_text().splitlines()
    assert lines[0] == "index,score,flagged,label,anomalous" and len(lines) == 360
    rows = [ln.split(",") for ln in lines[1:]]
    assert sum(int(r[2]) for r in rows) == fig["n_flagged"] and {int(r[3]) for r in rows if r[4] == "0"} == {3}
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] > 300 and im.size[1] > 200
    npy = tmp_path / "scores.npy"
    assert main(["anomalies", str(threes), "--out", str(npy)]) == 0  # default threshold: quantile 0.95 of val
    text = capsys.readouterr().out
    assert "quantile 0.95 of val scores" in text and "roc_auc:" in text
    arr = np.load(npy)
    assert arr.shape == (359, 3) and set(np.unique(arr[:, 1])) == {0.0, 1.0}
    np.testing.assert_allclose(np.sort(arr[:, 0]), np.sort([float(r[1]) for r in rows]), rtol=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--score", "iwae"], "score='iwae' needs a model with a likelihood"),
    (["--contamination", "0.7"], "--contamination must be in (0, 0.5]"),
    (["--quantile", "1.5"], "--quantile must be in (0, 1)"),
    (["--k", "5"], "--k applies to --score iwae only"),
    (["--out", "scores.txt"], "unsupported extension .txt"),
    (["--normal", "12"], "normal: '12' is not a class of digits"),
])
def test_cli_errors(threes: Path, capsys, argv, message):
    capsys.readouterr()
    assert main(["anomalies", str(threes), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "fix: " in err


def test_cli_on_mnist_matches_python(ones, ones_result, capsys):
    capsys.readouterr()
    assert main(["anomalies", str(ones), "--data", "mnist", "--split", "test", "--normal", "1", "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    assert fig["roc_auc"] == pytest.approx(ones_result["roc_auc"]) and fig["threshold"] == pytest.approx(ones_result["threshold"])


def test_mse_score_is_the_reconstructions_squared_error(ones, ones_test):
    model = aekit.load(ones)
    x, labels = ones_test
    s, kind = anomaly_scores(model, x[:500], "mse", progress=False)
    by_hand = ((model.reconstruct(x[:500]) - x[:500].reshape(500, 1, 28, 28)) ** 2).reshape(500, -1).mean(1)
    assert kind == "mse" and s == pytest.approx(by_hand, rel=1e-5)
    r = detect_anomalies(ones, score="mse", contamination=0.1, progress=False)
    assert r["score"] == "mse" and r["roc_auc"] > 0.95
