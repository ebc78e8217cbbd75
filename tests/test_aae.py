"""Adversarial autoencoder: the priors against their definitions, each phase moving only its own
parameters, codes pushed towards the prior, the label-taking variants, save/reload."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.config import DataConfig
from aekit.data import prepare
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.parts.priors import MixtureOfGaussians, Normal, SwissRoll, check_dim, make_prior
from aekit.evaluate import evaluate_model
from aekit.run import build_for_data, history_csv, save_weights, scaled_arrays
from aekit.runconfig import build_config
from aekit.train import Trainer


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits():
    return prepare(DataConfig(name="mnist-sample", limit=2000), seed=0)


def fit(name: str, data, *, epochs: int = 3, batch_size: int = 50, seed: int = 0, out=None, **model):
    """Train a preset as run.train does, without the (slow) report: the model, and with ``out``
    a run folder holding config.yaml, model.safetensors, history.csv and metrics.json."""
    import json

    cfg = build_config([{"model": {"name": name, **model}, "data": {"name": "mnist-sample", "limit": 2000},
                         "train": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "quiet": True}}])
    m = build_for_data(cfg, data)
    arr = scaled_arrays(m, data)
    known = data.y_train >= 0 if data.y_train is not None else None
    if known is not None and not known.all():  # as run.py does for --labels N
        m.set_labelled(torch.from_numpy(arr["train"][known]), torch.from_numpy(data.y_train[known]))
    history = Trainer(m, cfg.train, progress=False).fit(arr["train"], data.y_train, arr["val"], data.y_val)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        cfg.dump(out / "config.yaml")
        save_weights(m, out / "model.safetensors")
        (out / "history.csv").write_text(history_csv(history))
        (out / "metrics.json").write_text(json.dumps(evaluate_model(m, arr["test"], data.y_test)))
    return m.eval()


# ---- priors ---------------------------------------------------------------------------------------

def test_normal_prior_moments_and_density():
    p = Normal(3, std=5.0)
    z = p.sample(20000, generator=gen())
    assert z.shape == (20000, 3)
    assert z.mean(0).abs().max() < 4 * 5.0 / math.sqrt(20000)
    assert torch.allclose(z.std(0), torch.full((3,), 5.0), rtol=0.03)
    ref = torch.distributions.Normal(0.0, 5.0).log_prob(z[:10]).sum(1)
    torch.testing.assert_close(p.log_prob(z[:10]), ref)
    with pytest.raises(AekitError, match="takes no labels"):
        p.sample(2, labels=torch.tensor([0, 1]))


def test_mixture_components_sit_on_a_circle_and_labels_pick_them():
    p = MixtureOfGaussians(4, k=10, radius=4.0, std=0.3)
    assert torch.allclose(p.means[:, :2].norm(dim=1), torch.full((10,), 4.0))
    assert p.means[:, 2:].abs().max() == 0
    labels = torch.arange(10).repeat(500)
    z = p.sample(5000, labels=labels, generator=gen())
    nearest = torch.cdist(z, p.means).argmin(1)
    assert (nearest == labels).float().mean() > 0.99  # neighbours are 2.5 apart, 8 std
    resid = z - p.means[labels]
    assert torch.allclose(resid.std(0), torch.full((4,), 0.3), rtol=0.05)
    # unlabelled (-1) draws spread evenly over all components
    free = p.sample(5000, labels=torch.full((5000,), -1), generator=gen(1))
    counts = torch.bincount(torch.cdist(free, p.means).argmin(1), minlength=10)
    assert counts.min() > 400 and counts.max() < 600
    # the density is the equal-weight mixture's
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(10)),
        torch.distributions.Independent(torch.distributions.Normal(p.means, 0.3), 1))
    torch.testing.assert_close(p.log_prob(z[:20]), mix.log_prob(z[:20]), rtol=1e-5, atol=1e-5)
    with pytest.raises(AekitError, match="out of range"):
        p.sample(1, labels=torch.tensor([10]))


def test_swiss_roll_segments_and_its_2d_only_error():
    p = SwissRoll(2, k=5, radius=3.0, std=0.0, turns=2.0)
    z = p.sample(4000, generator=gen())
    r = z.norm(dim=1)
    assert r.max() <= 3.0 + 1e-5
    # on the curve: the angle is turns·2π·r/radius (mod 2π)
    ang = torch.atan2(z[:, 1], z[:, 0])
    want = 2 * math.pi * 2.0 * r / 3.0
    assert torch.cos(ang - want).min() > 0.999
    for c in range(5):
        zc = p.sample(500, labels=torch.full((500,), c), generator=gen(c))
        rc = zc.norm(dim=1)
        lo, hi = 3.0 * math.sqrt(c / 5), 3.0 * math.sqrt((c + 1) / 5)
        assert rc.min() >= lo - 1e-5 and rc.max() <= hi + 1e-5
    with pytest.raises(AekitError, match="--latent-dim 2"):
        SwissRoll(3)
    with pytest.raises(AekitError, match="no closed-form density"):
        p.log_prob(z)


def test_make_prior_names_and_dimension_checks():
    assert isinstance(make_prior("normal", 4, std=2.0), Normal)
    with pytest.raises(AekitError, match="normal prior has no k or radius"):  # an option it cannot use is an error
        make_prior("normal", 4, std=2.0, k=3, radius=1.0)
    assert make_prior("mixture", 2, k=4).n_components == 4
    assert "swiss roll" in make_prior("swiss-roll", 2).describe()
    with pytest.raises(AekitError, match="did you mean 'mixture'"):
        make_prior("mixtur", 2)
    with pytest.raises(AekitError, match=r"3-dimensional.*2 dimensions"):
        check_dim(Normal(3), 2)
    with pytest.raises(AekitError, match="swiss-roll prior is 2-D"):
        build_model("aae", input_shape=[20], likelihood="gaussian", latent_dim=3, prior="swiss-roll")


def test_config_errors_name_the_fix():
    # the plain aae has no label options: naming one says which presets have it
    with pytest.raises(AekitError, match="aae-conditional, aae-supervised, aae-semi"):
        build_model("aae", input_shape=[20], likelihood="gaussian", n_classes=3)
    with pytest.raises(AekitError, match=r"model\.l1 is not an option of aae: it belongs to ae"):
        build_model("aae", input_shape=[20], likelihood="gaussian", l1=0.1)
    with pytest.raises(AekitError, match="prior=mixture"):
        build_model("aae-conditional", input_shape=[20], likelihood="gaussian", n_classes=3, prior="normal")
    with pytest.raises(AekitError, match="n_classes"):
        build_model("aae-semi", input_shape=[20], likelihood="gaussian")
    with pytest.raises(AekitError, match="encoder_type"):
        build_model("aae", input_shape=[20], likelihood="gaussian", encoder_type="vae")
    with pytest.raises(AekitError, match="would squash the Gaussian"):
        build_model("aae", input_shape=[20], likelihood="gaussian", encoder_type="gaussian", code_activation="sigmoid")


# ---- the phases ------------------------------------------------------------------------------------

def _moved_by(model, phase, x, y):
    model.train()
    model.zero_grad(set_to_none=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(phase.parameters(), lr=1e-2)
    model(x, y, phase=phase.name)["loss"].backward()
    opt.step()
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}


def _names(model, *prefixes):
    return {n for n, _ in model.named_parameters() if n.startswith(prefixes)}


@pytest.mark.parametrize("name,extra", [("aae", {}), ("aae", {"encoder_type": "gaussian"}),
                                        ("aae-conditional", {"n_classes": 3}), ("aae-semi", {"n_classes": 3})])
def test_each_phase_moves_only_its_own_parameters(name, extra):
    torch.manual_seed(0)
    m = build_model(name, input_shape=[20], hidden=[16], latent_dim=2, disc_hidden=[8], likelihood="gaussian", **extra)
    x, y = torch.randn(32, 20), torch.randint(-1, 3, (32,))
    phases = {p.name: p for p in m.training_plan()[0].phases}
    want = {"reconstruction": _names(m, "encoder.", "decoder."), "discriminator": _names(m, "discriminator.", "cat_discriminator."),
            "generator": _names(m, "encoder.")}
    if name == "aae-semi":
        want["classification"] = _names(m, "encoder.")
        assert _names(m, "cat_discriminator.")
    assert set(phases) == set(want)
    for pname, phase in phases.items():
        assert _moved_by(m, phase, x, y) == want[pname], pname
        if pname == "generator":  # the discriminator is frozen there: no gradient even accumulates
            assert all(p.grad is None for p in m.discriminator.parameters())


def test_loss_reports_reconstruction_as_the_loss_with_adversarial_terms_beside():
    torch.manual_seed(0)
    m = build_model("aae", input_shape=[20], likelihood="gaussian", hidden=[16], latent_dim=2).eval()
    x = torch.randn(8, 20)
    t = m.loss(x, corrupt=False)
    assert {"recon", "disc", "gen", "loss"} <= set(t)
    assert torch.equal(t["loss"], t["recon"])
    assert torch.equal(m.loss(x)["disc"], t["disc"])  # outside training the prior draw is fixed


# ---- training --------------------------------------------------------------------------------------

def _mmd(a: torch.Tensor, b: torch.Tensor, s: float = 1.0) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel: 0 when the samples match."""
    def k(u, v):
        return torch.exp(-torch.cdist(u, v) ** 2 / (2 * s * s)).mean()

    return float(k(a, a) + k(b, b) - 2 * k(a, b))


def test_adversarial_training_pushes_codes_towards_the_prior(digits):
    x = torch.from_numpy(digits.x_test[:1000])
    prior = torch.randn(1000, 2, generator=gen(1))
    common = dict(hidden=[128], latent_dim=2, epochs=6)
    # adversarial phases at the reconstruction's rate: this short run tests the mechanism, not the defaults
    z_aae = fit("aae", digits, disc_lr=1e-3, gen_lr=1e-3, **common).code(x).detach()
    z_ae = fit("ae", digits, **common).code(x).detach()
    # a plain AE's codes sit wherever they fall (typically 5-20 units out); the AAE's match N(0, I)
    # (over seeds 0-6: MMD 0.01-0.18 against the AE's 0.34, all codes inside the 99% disc)
    assert _mmd(z_aae, prior) < 0.6 * _mmd(z_ae, prior)
    assert (z_aae.norm(dim=1) ** 2 < 9.21).float().mean() > 0.9  # 9.21: the 99% quantile of chi2(2)
    assert z_aae.mean(0).abs().max() < 1.0


def test_the_plain_aae_trains_on_unlabelled_data_and_the_label_presets_say_they_need_labels(digits, tmp_path):
    np.save(tmp_path / "x.npy", digits.x_train[:300].reshape(300, -1))
    data = prepare(DataConfig(name=str(tmp_path / "x.npy")), seed=0)
    assert data.y_train is None
    m = fit("aae", data, hidden=[32], epochs=1)
    assert m.sample(4, seed=0).shape == (4, 784)
    with pytest.raises(AekitError, match="needs labels"):
        fit("aae-supervised", data, hidden=[32], epochs=1)


def test_supervised_aae_samples_a_chosen_class(digits):
    m = fit("aae-supervised", digits, hidden=[128], latent_dim=2, epochs=8, batch_size=32)
    # the label, not the style, decides the digit: the mean of 20 samples of class c is nearest
    # the mean training image of class c (seeds 0-3: 8-9 classes of 10; chance: 1)
    means = np.stack([digits.x_train[digits.y_train == c].mean(0) for c in range(10)]).reshape(10, -1)
    hits = sum(int(np.argmin(((means - m.sample(20, label=c, seed=0).reshape(20, -1).mean(0)) ** 2).sum(1)) == c)
               for c in range(10))
    assert hits >= 6, hits
    s3 = m.sample(6, label=3, seed=0)
    assert s3.shape == (6, 1, 28, 28) and s3.min() >= 0 and s3.max() <= 1
    np.testing.assert_array_equal(s3, m.sample(6, label=3, seed=0))
    assert s3.std(0).mean() > 0.01  # varying styles
    z = np.zeros((2, 2), np.float32)  # one style, two classes; a label per code, or one for all
    two = m.decode(z, label=[3, 7])
    np.testing.assert_allclose(two[1:], m.decode(z[1:], label=7), atol=1e-6)
    assert np.abs(two[0] - two[1]).mean() > 0.02
    with pytest.raises(AekitError, match=r"0\.\.9"):
        m.sample(2, label=10)
    plain = build_model("aae", input_shape=[1, 28, 28], likelihood="bernoulli")
    with pytest.raises(AekitError, match="aae-supervised"):
        plain.sample(2, label=1)
    assert plain.sample(3, seed=1).shape == (3, 1, 28, 28)


def test_two_d_model_report_sections(digits):
    m = fit("aae", digits, hidden=[64], epochs=1, prior="mixture")
    heads = [item.heading for item in m.report_sections(digits)]
    assert heads == ["Samples from the prior", "Codes over prior samples", "Decoded lattice over the prior"]
    extra = m.extra_metrics(torch.from_numpy(digits.x_test[:200]), None)
    assert 0 <= extra["disc_accuracy"] <= 1 and math.isfinite(extra["code_log_prior"])


@pytest.fixture(scope="module")
def semi_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("aae") / "semi"
    data = prepare(DataConfig(name="mnist-sample", limit=2000, labels=100), seed=0)
    fit("aae-semi", data, out=out, epochs=4, batch_size=100)
    return out


def test_semi_supervised_aae_classifies_from_100_labels(semi_run, digits):
    import json

    m = aekit.load(semi_run)
    pred = m.classify(digits.x_test[:1000])
    acc = float((pred == digits.y_test[:1000]).mean())
    assert acc > 0.4, acc  # chance is 0.1
    metrics = json.loads((semi_run / "metrics.json").read_text())
    assert metrics["test_error_pct"] == pytest.approx(100 * (1 - metrics["test_accuracy"]))
    assert "labelled_x" not in m.state_dict()  # the labelled set is not saved
    header = (semi_run / "history.csv").read_text().splitlines()[0].split(",")
    for term in ("reconstruction/recon", "discriminator/disc", "discriminator/disc_y", "generator/gen",
                 "generator/gen_y", "classification/xent", "val_loss"):
        assert term in header
    with pytest.raises(AekitError, match="aae-semi"):
        build_model("aae", input_shape=[20], likelihood="gaussian").classify(np.zeros((2, 20), np.float32))


def test_save_and_reload_give_identical_outputs(semi_run, digits):
    a, b = aekit.load(semi_run), aekit.load(semi_run)
    x = digits.x_test[:64]
    np.testing.assert_array_equal(a.encode(x), b.encode(x))
    np.testing.assert_array_equal(a.encode(x), a.encode(x))
    np.testing.assert_array_equal(a.reconstruct(x), b.reconstruct(x))
    np.testing.assert_array_equal(a.classify(x), b.classify(x))
    np.testing.assert_array_equal(a.sample(8, label=2, seed=5), b.sample(8, label=2, seed=5))
    assert a.encode(x).shape == (64, a.cfg.latent_dim)
