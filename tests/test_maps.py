"""aekit map and aekit compare-manifold: the Python calls and the commands, on real data.

Small n and few epochs keep the default file to seconds on one core; the defaults on all three
data sets run under -m slow.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.errors import AekitError
from aekit.tasks.manifold import METHODS, compare_manifold
from aekit.tasks.maps import latent_map, subsample
from conftest import assert_user_error, cli

PNG = b"\x89PNG\r\n\x1a\n"




def panel_titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def digits_sample(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    from aekit.data import load_raw

    raw = load_raw("mnist-sample")
    return raw.x_train[:n], raw.y_train[:n]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2-D AE on the embedded digits, a 4-D AE trained by aekit.fit (a run on arrays), and a 2-D AE
    on the swiss roll: tiny, one or two epochs (the maps' mechanics, not their quality)."""
    import aekit.run

    root = tmp_path_factory.mktemp("maps")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(aekit.run, "_report", lambda *a, **k: None)  # the HTML report costs seconds and is not tested here
        two = aekit.train_run("ae", "mnist-sample", out=root / "ae2", hidden=[32], latent_dim=2, epochs=2, limit=600,
                              batch_size=32, seed=0, quiet=True)
        roll = aekit.train_run("ae", "swiss-roll", out=root / "roll", hidden=[32], latent_dim=2, epochs=1, limit=1000,
                               scale="standard", seed=0, quiet=True)
        x, y = digits_sample()
        aekit.fit(x, y, model="ae", hidden=[32], latent_dim=4, epochs=1, seed=0, progress=False, out=root / "ae4")
    return {"ae2": Path(two), "roll": Path(roll), "ae4": root / "ae4"}


# ---- compare_manifold ---------------------------------------------------------------------------

def test_swiss_roll_isomap_unrolls_what_pca_squashes():
    r = compare_manifold("swiss-roll", ("ae", "pca", "isomap"), n=1000, epochs=30, seed=0, progress=False)
    rows = {row["method"]: row for row in r.table}
    assert list(rows) == ["ae", "pca", "isomap"] and r.score == "knn_r2"
    for row in r.table:
        assert set(row) == {"method", "trustworthiness", "knn_r2", "fit_time_s"}
        assert 0 < row["trustworthiness"] <= 1 and row["knn_r2"] <= 1 and row["fit_time_s"] >= 0
    # Isomap's geodesic distances unroll the roll; a linear projection folds its layers together
    assert rows["isomap"]["trustworthiness"] > 0.99 > rows["pca"]["trustworthiness"] + 0.02
    assert rows["isomap"]["knn_r2"] > 0.95 > rows["pca"]["knn_r2"] + 0.1
    assert rows["ae"]["trustworthiness"] > 0.9  # a 2-D AE after 30 short epochs: well above a random map's ~0.5
    assert {k: v.shape for k, v in r.embeddings.items()} == {m: (1000, 2) for m in rows}
    assert r.colour.shape == (1000,) and r.class_names is None  # coloured by the position along the roll
    titles = panel_titles(r.figure)
    assert [t.split(":")[0] for t in titles if ":" in t and "points" not in t] == ["AE", "PCA", "Isomap"]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["score"] == "knn_r2" and "R²" in d["columns"]["knn_r2"] and d["settings"]["autoencoders"]["ae"]["epochs"] == 30


def test_tsne_separates_the_digit_classes_that_pca_mixes():
    r = compare_manifold("mnist-sample", "pca,tsne", n=600, seed=0, progress=False)
    rows = {row["method"]: row for row in r.table}
    assert r.score == "knn_accuracy" and r.class_names == list(range(10))
    assert rows["tsne"]["knn_accuracy"] > 0.7 > rows["pca"]["knn_accuracy"] + 0.2
    assert rows["tsne"]["trustworthiness"] > 0.93 > rows["pca"]["trustworthiness"]
    assert "| t-SNE |" in r.to_markdown() and "knn_accuracy" in r.format_table().splitlines()[0]


def test_same_seed_same_embeddings_other_seed_other_points():
    a = compare_manifold("s-curve", ("pca", "lle"), n=300, seed=3, progress=False)
    b = compare_manifold("s-curve", ("pca", "lle"), n=300, seed=3, progress=False)
    c = compare_manifold("s-curve", ("pca",), n=300, seed=4, progress=False)
    np.testing.assert_array_equal(a.embeddings["lle"], b.embeddings["lle"])
    assert a.table[0]["trustworthiness"] == b.table[0]["trustworthiness"]
    assert not np.array_equal(a.colour, c.colour)  # another seed draws other points


@pytest.mark.parametrize("kwargs, needles", [
    ({"methods": "ae,vea"}, ["unknown method 'vea'", "did you mean 'vae'"]),
    ({"methods": ["pca", "pca"]}, ["twice"]),
    ({"n": 50}, ["-n must be in 100..10000"]),
    ({"n": 7000}, ["more than the 6,000 examples"]),
    ({"methods": "pca", "epochs": 5}, ["--epochs", "neither"]),
    ({"methods": "tsne", "neighbors": 5}, ["--neighbors", "neither"]),
    ({"data": "sentences"}, ["sequences"]),
    ({"data": "swiss-rol"}, ["did you mean 'swiss-roll'"]),
])
def test_bad_arguments_are_errors_with_a_fix(kwargs, needles):
    with pytest.raises(AekitError) as e:
        compare_manifold(**{"methods": "pca", "n": 300, "progress": False, **kwargs})
    assert e.value.hint
    for n in needles:
        assert n.lower() in str(e.value).lower()


# ---- latent_map ----------------------------------------------------------------------------------

def test_latent_map_pca_is_sklearn_pca_of_the_codes(runs):
    from sklearn.decomposition import PCA

    model = aekit.load(runs["ae4"])
    x, y = digits_sample()
    m = latent_map(model, x, y, "pca", n=300, seed=1)
    idx = subsample(len(x), 300, 1)
    np.testing.assert_array_equal(m.index, idx)
    assert np.all(np.diff(idx) > 0) and len(idx) == 300
    expected = PCA(n_components=2, random_state=1).fit_transform(np.asarray(model.encode(x[idx]), dtype=np.float64))
    np.testing.assert_allclose(m.points, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(m.labels, y[idx])
    assert m.code_dim == 4 and m.axis_names[0].startswith("PC1") and m.explained_variance_ratio.sum() <= 1
    with pytest.raises(AekitError) as e:
        latent_map(model, x, y, "codes")
    assert "4-dimensional" in e.value.message and "pca" in e.value.hint and "tsne" in e.value.hint


def test_latent_map_codes_and_seeded_tsne(runs):
    model = aekit.load(runs["ae2"])
    x, y = digits_sample(200)
    m = latent_map(model, x, y, "codes", n=5000)
    np.testing.assert_allclose(m.points, model.encode(x), rtol=1e-6)  # every row, in order, as they are
    np.testing.assert_array_equal(m.index, np.arange(200))
    t1, t2 = (latent_map(model, x, y, "tsne", n=150, seed=2) for _ in range(2))
    np.testing.assert_array_equal(t1.points, t2.points)
    points, fig = t1
    assert points is t1.points and fig is t1.figure
    assert t1.points.shape == (150, 2) and t1.axis_names == ("t-SNE 1", "t-SNE 2")
    with pytest.raises(AekitError, match="did you mean 'tsne'"):
        latent_map(model, x, y, "t-sne")
    with pytest.raises(AekitError, match="-n must be"):
        latent_map(model, x, y, "codes", n=5)


# ---- the commands --------------------------------------------------------------------------------

def test_map_command_writes_png_and_points(runs, tmp_path, capsys):
    from aekit.run import run_data
    from aekit.runconfig import load_config

    rc, out, err = cli(capsys, "map", runs["ae2"], "--out", tmp_path / "m.png", "--points", tmp_path / "p.csv", "-n", 300)
    assert rc == 0, err
    assert (tmp_path / "m.png").read_bytes().startswith(PNG)
    assert "300 examples (a seeded subsample of 2,000)" in out and "coloured by label" in out
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300 and list(rows[0]) == ["row", "x", "y", "label"]
    x, y = run_data(load_config(runs["ae2"])).split("test")
    r = np.array([int(row["row"]) for row in rows])
    codes = aekit.load(runs["ae2"]).encode(x[r])
    np.testing.assert_allclose(np.array([[float(row["x"]), float(row["y"])] for row in rows]), codes, rtol=1e-5, atol=1e-5)
    assert [int(row["label"]) for row in rows] == y[r].tolist()
    rc, out, err = cli(capsys, "map", runs["ae2"], "--method", "pca", "--split", "train", "--out", tmp_path / "p.png",
                       "--points", tmp_path / "p.npy")
    assert rc == 0, err
    assert np.load(tmp_path / "p.npy").shape == (540, 2)  # 600 rows less the 10% validation split


def test_map_command_colours_a_swiss_roll_by_its_true_coordinate(runs, tmp_path, capsys):
    from aekit.run import run_data
    from aekit.runconfig import load_config

    rc, out, err = cli(capsys, "map", runs["roll"], "--out", tmp_path / "r.png", "--points", tmp_path / "r.csv")
    assert rc == 0, err
    assert "coloured by the true coordinate" in out
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    t = run_data(load_config(runs["roll"])).extras["coords"]["test"][:, 0]
    np.testing.assert_allclose([float(r["true_coordinate_1"]) for r in rows], t[[int(r["row"]) for r in rows]], rtol=1e-5)


@pytest.mark.parametrize("extra, needles", [
    (["--method", "codes"], ["4-dimensional", "--method pca", "--method tsne"]),
    (["--method", "umap"], ["unknown map method 'umap'"]),
    (["--method", "pcaa"], ["did you mean 'pca'"]),
    (["-n", "3"], ["-n must be >= 10"]),
    (["--points", "p.txt"], ["--points", ".npy or .csv"]),
    (["--split", "val"], ["--split val is only defined for the run's own data set"]),
])
def test_map_command_bad_input(runs, tmp_path, capsys, extra, needles):
    rc, _, err = cli(capsys, "map", runs["ae4"], "--data", "mnist-sample", "--out", tmp_path / "m.png", *extra)
    assert_user_error(rc, err, *needles)
    assert not (tmp_path / "m.png").exists()


def test_map_command_out_must_be_png(runs, tmp_path, capsys):
    rc, _, err = cli(capsys, "map", runs["ae2"], "--out", tmp_path / "m.jpg")
    assert_user_error(rc, err, "--out", ".png")


def test_compare_manifold_command_end_to_end(tmp_path, capsys):
    rc, out, err = cli(capsys, "compare-manifold", "--data", "s-curve", "--methods", "pca,isomap,lle", "-n", 300,
                       "--out", tmp_path / "c.png", "--json", tmp_path / "t.json", "--markdown", tmp_path / "t.md")
    assert rc == 0, err
    assert (tmp_path / "c.png").read_bytes().startswith(PNG)
    lines = out.splitlines()
    assert lines[1].split() == ["method", "trustworthiness", "knn_r2", "fit_time_s"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["PCA", "Isomap", "LLE"]
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["data"] == "s-curve" and table["n"] == 300 and set(table["columns"]) == {"trustworthiness", "knn_r2", "fit_time_s"}
    assert [r["method"] for r in table["rows"]] == ["pca", "isomap", "lle"]
    assert all(set(r) == {"method", *table["columns"]} for r in table["rows"])
    isomap, pca = table["rows"][1], table["rows"][0]
    assert isomap["knn_r2"] > 0.9 > pca["knn_r2"]  # the S folds onto itself under PCA
    assert (tmp_path / "t.md").read_text().count("\n| ") == 4  # header + three methods


def test_compare_manifold_command_every_method_on_a_labelled_file(tmp_path, capsys):
    x, y = digits_sample(200)
    np.savez(tmp_path / "d.npz", x=x.reshape(len(x), -1), y=y)
    rc, out, err = cli(capsys, "compare-manifold", "--data", tmp_path / "d.npz", "-n", 150, "--epochs", 2,
                       "--neighbors", 12, "--out", tmp_path / "c.png", "--json", tmp_path / "t.json")
    assert rc == 0, err
    table = json.loads((tmp_path / "t.json").read_text())
    assert [r["method"] for r in table["rows"]] == list(METHODS) and table["score"] == "knn_accuracy"
    assert table["settings"]["neighbors"] == 12 and table["settings"]["autoencoders"]["vae"]["epochs"] == 2
    assert all(0 <= r["knn_accuracy"] <= 1 for r in table["rows"])


@pytest.mark.parametrize("extra, needles", [
    (["--methods", "pca,isomapp"], ["unknown method 'isomapp'", "did you mean 'isomap'"]),
    (["-n", "20"], ["-n must be in 100..10000"]),
    (["--data", "mnist-sampel"], ["did you mean 'mnist-sample'"]),
    (["--methods", "pca", "--epochs", "5"], ["--epochs"]),
    (["--methods", "ae", "--epochs", "0"], ["--epochs must be >= 1"]),
    (["--json", "t.csv"], ["--json", ".json"]),
    (["--out", "c.pdf"], ["--out", ".png"]),
])
def test_compare_manifold_command_bad_input(tmp_path, capsys, extra, needles):
    argv = ["compare-manifold", "--out", tmp_path / "c.png", *extra]
    if "--out" in extra:
        argv = ["compare-manifold", *extra]
    rc, _, err = cli(capsys, *argv)
    assert_user_error(rc, err, *needles)
    assert not (tmp_path / "c.png").exists()


def test_compare_manifold_refuses_data_without_labels(tmp_path, capsys):
    x, _ = digits_sample(200)
    np.save(tmp_path / "u.npy", x.reshape(len(x), -1))
    rc, _, err = cli(capsys, "compare-manifold", "--data", tmp_path / "u.npy", "--methods", "pca", "-n", 150,
                     "--out", tmp_path / "c.png")
    assert_user_error(rc, err, "has no labels", "swiss-roll")


# ---- the defaults, as the lecture contrasts them --------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("data", ["swiss-roll", "s-curve", "mnist-sample"])
def test_defaults_on_the_three_data_sets(data):
    r = compare_manifold(data, progress=False)
    rows = {row["method"]: row for row in r.table}
    assert list(rows) == list(METHODS) and r.n == 1500
    trust = {m: rows[m]["trustworthiness"] for m in rows}
    assert trust["tsne"] > trust["pca"] and trust["ae"] > trust["pca"]
    if data == "mnist-sample":
        assert rows["tsne"]["knn_accuracy"] > 0.8 > rows["pca"]["knn_accuracy"] + 0.2
        assert rows["ae"]["knn_accuracy"] > rows["pca"]["knn_accuracy"]
    else:
        assert min(rows[m]["knn_r2"] for m in ("isomap", "lle", "tsne")) > 0.95
        assert trust["isomap"] > 0.99
    assert len(panel_titles(r.figure)) == len(METHODS)  # a panel per method
