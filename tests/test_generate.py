"""Generation and latent walks that work for any model: GMM sampler, interpolation, lattices,
the CLI commands around them, and semi-supervised label selection."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit.cli import main
from aekit.config import DataConfig
from aekit.data import hide_labels, prepare
from aekit.errors import AekitError
from aekit.parts.priors import MixtureOfGaussians, Normal
from aekit.tasks import GMMSampler, interpolate, slerp


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "ae"
    return aekit.train_run("ae", "mnist-sample", out=out, hidden=[64], latent_dim=2, epochs=2, limit=1500, seed=0)


def test_slerp_keeps_the_norm_between_equal_norm_ends_and_hits_them():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    path = slerp(a, b, np.linspace(0, 1, 7))
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(path[0], a, atol=1e-12)
    np.testing.assert_allclose(path[-1], b, atol=1e-12)


def test_lattice_is_placed_by_the_inverse_normal_cdf():
    z = Normal(2).lattice(5)
    assert z.shape == (25, 2)
    assert float(z[:, 0].min()) == pytest.approx(-1.6449, abs=1e-3)  # Φ⁻¹(0.05)
    assert float(z[0, 1]) == pytest.approx(1.6449, abs=1e-3)  # first row at the top
    assert float(z[0, 0]) < float(z[1, 0]) and float(z[5, 1]) < float(z[0, 1])  # z1 rises along a row, z2 falls down
    np.testing.assert_allclose(Normal(2, std=2.0).lattice(5), 2 * z, rtol=1e-6)
    with pytest.raises(AekitError, match="2-D"):
        Normal(3).lattice(5)
    m = MixtureOfGaussians(2, k=4).lattice(3)  # other priors: the central 98% of their mass
    assert m.shape == (9, 2) and float(m[:, 0].max()) > 3.0


def test_interpolation_path_starts_and_ends_at_the_reconstructions(ae_run):
    model = aekit.load(ae_run)
    x = prepare(DataConfig(name="mnist-sample"), 0).x_test[:2]
    for method in ("linear", "spherical"):
        path = interpolate(model, x[0], x[1], steps=6, method=method)
        assert path.shape == (6, 1, 28, 28)
        np.testing.assert_allclose(path[0], model.reconstruct(x[:1])[0], atol=1e-5)
        np.testing.assert_allclose(path[-1], model.reconstruct(x[1:])[0], atol=1e-5)


def test_gmm_sampler_round_trips_through_json_and_matches_the_codes(tmp_path):
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-3, 0.3, (500, 2)), rng.normal(3, 0.3, (500, 2))])
    gmm = GMMSampler.fit(codes, 2)
    gmm.save(tmp_path / "g.json")
    again = GMMSampler.load(tmp_path / "g.json")
    s = again.sample_codes(4000, seed=1)
    assert abs(s[:, 0].mean()) < 0.3 and s[:, 0].std() == pytest.approx(3.0, rel=0.1)
    np.testing.assert_array_equal(s, gmm.sample_codes(4000, seed=1))


def test_cli_sample_interpolate_and_compare_latents(ae_run, tmp_path, capsys):
    # a plain AE has no prior: the error names the models that can sample and the GMM way out
    assert main(["sample", str(ae_run), "-n", "16", "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "--sampler gmm" in err
    assert main(["sample", str(ae_run), "-n", "16", "--sampler", "gmm", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 28 * 4
    assert (ae_run / "gmm_sampler_10.json").exists()
    assert main(["sample", str(ae_run), "-n", "5", "--sampler", "gmm", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 1, 28, 28)
    assert main(["interpolate", str(ae_run), "--from", "0", "--to", "1", "--steps", "8", "--out", str(tmp_path / "i.npy")]) == 0
    assert np.load(tmp_path / "i.npy").shape == (8, 1, 28, 28)
    assert main(["interpolate", str(ae_run), "--from", "0", "--to", "99999", "--out", str(tmp_path / "i.png")]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["compare-latents", str(ae_run), str(ae_run), "-n", "300", "--out", str(tmp_path / "c.png")]) == 0
    w, h = Image.open(tmp_path / "c.png").size
    assert w > h  # two panels side by side


def test_evaluate_nll_on_a_model_without_a_bound_says_which_models_have_one(ae_run, capsys):
    assert main(["evaluate", str(ae_run), "--nll"]) == 2
    assert "vae" in capsys.readouterr().err


def test_labels_are_balanced_seeded_and_checked():
    y = np.repeat(np.arange(10), 50)
    rng = np.random.default_rng(0)
    kept = hide_labels(y, 100, rng, "toy")
    assert (kept >= 0).sum() == 100
    assert np.all(np.bincount(kept[kept >= 0]) == 10)
    assert np.all(kept[kept >= 0] == y[kept >= 0])
    again = hide_labels(y, 100, np.random.default_rng(0), "toy")
    np.testing.assert_array_equal(kept, again)
    with pytest.raises(AekitError, match="only 50"):
        hide_labels(y, 1000, np.random.default_rng(0), "toy")
    with pytest.raises(AekitError, match="no labels"):
        hide_labels(None, 10, np.random.default_rng(0), "toy")
    data = prepare(DataConfig(name="mnist-sample", labels=100), 0)
    assert (data.y_train >= 0).sum() == 100 and data.y_test.min() >= 0


def test_labels_on_unlabelled_data_is_a_clear_cli_error(tmp_path, capsys):
    x = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc = main(["train", "--data", str(tmp_path / "x.npy"), "--labels", "10", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "no labels" in capsys.readouterr().err


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "vae"
    return aekit.train_run("vae", "mnist-sample", out=out, hidden=[64], latent_dim=2, epochs=2, limit=1500, seed=0)


def test_cli_vae_nll_sample_and_label_errors(vae_run, tmp_path, capsys):
    import json

    assert main(["evaluate", str(vae_run), "--nll", "--k", "5", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert {"test_nll", "test_neg_elbo"} <= set(m) and m["nll_k"] == 5
    assert m["test_nll"] <= m["test_neg_elbo"] + 1.0  # the IS bound is tighter than the ELBO (up to MC noise)
    assert "not comparable" in m["test_nll_note"]  # a Bernoulli "NLL" of grey levels says so
    assert main(["sample", str(vae_run), "-n", "9", "--out", str(tmp_path / "v.npy")]) == 0
    s = np.load(tmp_path / "v.npy")
    assert s.shape == (9, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    assert main(["sample", str(vae_run), "-n", "4", "--label", "3", "--out", str(tmp_path / "l.png")]) == 2
    assert "cvae" in capsys.readouterr().err
    assert main(["evaluate", str(vae_run), "--nll", "--k", "0"]) == 2
