"""The VAE: closed-form KL and Gaussian parts against Monte Carlo, the IWAE bound, KL schedules and
the model's step clock, sampling/encoding, posterior collapse, dynamic binarization, and a run
end to end on real digits."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
import aekit.run
from aekit.config import DataConfig
from aekit.data import prepare
from aekit.errors import AekitError
from aekit.evaluate import nll_figures
from aekit.models import build_model
from aekit.parts.gaussian import kl_standard_normal, log_normal_diag, log_standard_normal, reparameterize
from aekit.parts.schedules import kl_weight

TINY = {"input_shape": [1, 28, 28], "likelihood": "bernoulli", "hidden": [32], "latent_dim": 4}


@pytest.fixture(scope="module")
def digits():
    return prepare(DataConfig(name="mnist-sample", limit=2000), seed=0)


def _run(out, **options):
    """train_run without the HTML report (seconds of figures these tests do not look at)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aekit.run, "_report", lambda *a, **k: None)
        return aekit.train_run(out=out, **options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The `vae` preset (784-512-256-16, Bernoulli) trained 3 epochs on 1,800 digits."""
    out = tmp_path_factory.mktemp("vae") / "run"
    return _run(out, model="vae", data="mnist-sample", limit=2000, epochs=3, batch_size=64, lr=2e-3, seed=0)


def _history(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- parts: Gaussian maths -------------------------------------------------------------------

def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(6, generator=g, dtype=torch.float64)
    logvar = 1.5 * torch.randn(6, generator=g, dtype=torch.float64)
    torch.manual_seed(1)
    z = reparameterize(mu, logvar, 200_000)  # (n, D)
    log_ratio = log_normal_diag(z, mu, logvar) - log_standard_normal(z)  # log q − log p per sample
    se = log_ratio.std() / math.sqrt(len(log_ratio))
    kl = kl_standard_normal(mu, logvar)
    assert kl.shape == mu.shape and bool((kl >= 0).all())
    assert abs(float(log_ratio.mean() - kl.sum())) < 5 * float(se)
    # per dimension, the closed form is torch's own Normal-Normal KL
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                            torch.distributions.Normal(0.0, 1.0))
    torch.testing.assert_close(kl, ref)


def test_gaussian_log_densities_and_reparameterisation():
    g = torch.Generator().manual_seed(0)
    mu, logvar, z = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3))
    normal = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    torch.testing.assert_close(log_normal_diag(z, mu, logvar), normal.log_prob(z).sum(-1))
    torch.testing.assert_close(log_standard_normal(z), torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.manual_seed(0)
    assert reparameterize(mu, logvar).shape == (5, 3)
    draws = reparameterize(mu, logvar, 40_000)
    assert draws.shape == (40_000, 5, 3)
    std = torch.exp(0.5 * logvar)
    assert float(((draws.mean(0) - mu).abs() / std).max()) < 5 / math.sqrt(40_000)
    assert float((draws.std(0) / std - 1).abs().max()) < 0.03


# ---- KL schedules and the model's step clock --------------------------------------------------

def test_kl_schedules_at_key_steps():
    assert kl_weight("constant", 12345, 100) == 1.0
    assert [kl_weight("linear", s, 100) for s in (0, 25, 50, 100, 400)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_weight("linear", 5, 0) == 1.0  # no warm-up
    sig = [kl_weight("sigmoid", s, 100) for s in (0, 25, 50, 75, 100)]
    assert sig[0] == pytest.approx(1 / (1 + math.exp(5))) and sig[2] == pytest.approx(0.5)
    assert sig[4] == pytest.approx(1 / (1 + math.exp(-5))) and all(a < b for a, b in zip(sig, sig[1:]))
    # Fu et al. 2019: 4 cycles over 1000 steps, rising over the first half of each 250-step cycle
    cyc = {s: kl_weight("cyclical", s, 1000, cycles=4, ratio=0.5) for s in (0, 62, 125, 200, 249, 250, 375, 500, 625, 750, 999)}
    assert cyc == {0: 0.0, 62: 62 / 125, 125: 1.0, 200: 1.0, 249: 1.0, 250: 0.0, 375: 1.0, 500: 0.0, 625: 1.0,
                   750: 0.0, 999: 1.0}
    assert kl_weight("cyclical", 1000, 1000) == 1.0 and kl_weight("cyclical", 1100, 1000) == 1.0  # over: hold 1
    with pytest.raises(AekitError, match="cyclical"):
        kl_weight("cosine", 0, 10)


def test_loss_terms_follow_the_schedule_and_the_step_buffer_survives_save(tmp_path):
    torch.manual_seed(0)
    m = build_model("vae", **TINY, beta=2.0, kl_schedule="linear", kl_anneal_steps=4)
    x = torch.rand(16, 1, 28, 28)
    m.train()
    betas = []
    for _ in range(3):
        t = m.loss(x)
        assert set(t) == {"recon", "kl", "beta", "loss"} and t["beta"].dim() == 0
        torch.testing.assert_close(t["loss"], t["recon"] + t["beta"] * t["kl"])
        betas.append(float(t["beta"]))
    assert betas == [0.0, 0.5, 1.0] and int(m.train_steps) == 3
    m.eval()  # evaluation: the target beta, no step taken
    assert float(m.loss(x)["beta"]) == 2.0 and float(m.train().loss(x, corrupt=False)["beta"]) == 2.0
    assert int(m.train_steps) == 3
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(tmp_path / "w.safetensors"))
    again = build_model("vae", **TINY, beta=2.0, kl_schedule="linear", kl_anneal_steps=4)
    again.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    assert again.steps == 3
    assert [float(again.train().loss(x)["beta"]) for _ in range(2)] == [1.5, 2.0]


def test_resumed_run_continues_the_schedule_exactly(tmp_path):
    opts = dict(model="vae", data="mnist-sample", limit=300, hidden=[32], latent_dim=4, batch_size=64, seed=0,
                kl_schedule="linear", kl_anneal_steps=20)
    out = _run(tmp_path / "run", epochs=1, **opts)
    assert int(aekit.load(out).train_steps) == 5  # 270 training digits, batches of 64
    _run(tmp_path / "run", epochs=2, resume=True, **opts)
    model = aekit.load(out)
    assert int(model.train_steps) == 10
    sizes = [64, 64, 64, 64, 14]

    def epoch_beta(first):  # the trainer's batch-size-weighted mean of beta over the epoch's steps
        return sum(b * (first + i) / 20 for i, b in enumerate(sizes)) / sum(sizes)

    rows = _history(out)
    assert [float(r["beta"]) for r in rows] == pytest.approx([epoch_beta(0), epoch_beta(5)], abs=1e-6)
    assert [float(r["val_beta"]) for r in rows] == [1.0, 1.0]


def test_free_bits_in_training_only_and_kl_logged_true():
    torch.manual_seed(0)
    m = build_model("vae", **TINY, free_bits=2.0, beta=1.5)
    x = torch.rand(32, 1, 28, 28)
    with torch.no_grad():
        kl_d = kl_standard_normal(*m.posterior(x)).mean(0)
    assert bool((kl_d < 2.0).any())  # the floor is active on some dims
    t = m.train().loss(x)
    close = dict(rtol=0, atol=1e-3)  # loss − recon loses digits of a ~550-nat recon
    torch.testing.assert_close(t["loss"] - t["recon"], 1.5 * kl_d.clamp(min=2.0).sum(), **close)
    torch.testing.assert_close(t["kl"], kl_d.sum())
    t = m.eval().loss(x)
    torch.testing.assert_close(t["loss"] - t["recon"], 1.5 * kl_d.sum(), **close)


def test_several_latent_samples_and_gaussian_likelihoods():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    m = build_model("vae", **TINY, latent_samples=3)
    t = m.train().loss(x)
    t["loss"].backward()
    assert math.isfinite(float(t["loss"].detach()))
    for lik in ("gaussian", "gaussian-learned"):
        g = build_model("vae", **{**TINY, "likelihood": lik}, sigma=0.5)
        g.train().loss(x)["loss"].backward()
        assert bool(torch.isfinite(g.log_likelihood(x, k=5)).all())


@pytest.mark.parametrize("override, word", [
    ({"free_bits": -0.1}, "free_bits"),
    ({"beta": -1.0}, "beta"),
    ({"latent_samples": 0}, "latent_samples"),
    ({"kl_schedule": "cosine"}, "linear"),  # the hint lists the valid names
    ({"logvar_min": 4.0, "logvar_max": -4.0}, "logvar_min"),
    ({"code_activation": "sigmoid"}, "not an option of vae"),  # the VAE's heads are linear: it has no such key
    ({"dynamic_binarization": True, "input_range": [-1.0, 1.0]}, "minmax"),
    ({"kl_ratio": 0.0}, "kl_ratio"),
    ({"l1": 0.1}, r"model\.l1 is not an option of vae: it belongs to ae"),
])
def test_bad_settings_are_named(override, word):
    with pytest.raises(AekitError, match=word):
        build_model("vae", **{**TINY, **override})


# ---- the IWAE bound ----------------------------------------------------------------------------

def test_iwae_with_one_sample_is_exactly_the_one_sample_elbo(trained, digits):
    m = aekit.load(trained)
    x = torch.from_numpy(digits.x_test[:20])
    ll = m.log_likelihood(x, k=1, seed=7)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        mu, logvar = m.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn((1, *mu.shape), generator=g)[0]
        recon = m.likelihood.nll(m.decoder_params(z), x)
        kl_mc = log_normal_diag(z, mu, logvar) - log_standard_normal(z)
    torch.testing.assert_close(ll, -(recon + kl_mc), rtol=0, atol=2e-3)


def test_iwae_with_one_sample_is_the_analytic_elbo_in_expectation(trained, digits):
    m = aekit.load(trained)
    x = torch.from_numpy(digits.x_test[:10]).repeat(300, 1, 1, 1)  # 300 independent draws per example
    a = m.log_likelihood(x, k=1, seed=1).double()
    torch.manual_seed(2)
    with torch.no_grad():  # −ELBO with the KL in closed form, independent draws for the reconstruction
        mu, logvar = m.posterior(x)
        b = -(m.likelihood.nll(m.decoder_params(reparameterize(mu, logvar)), x) + kl_standard_normal(mu, logvar).sum(1)).double()
    se = math.sqrt(float(a.var() + b.var()) / len(a))
    assert abs(float(a.mean() - b.mean())) < 4 * se


def test_importance_sampling_tightens_with_k(trained, digits):
    m = aekit.load(trained)
    x = torch.from_numpy(digits.x_test[:200])
    l1, l10, l100 = (float(m.log_likelihood(x, k=k, seed=k).mean()) for k in (1, 10, 100))
    slack = 0.5  # Monte-Carlo noise of a mean over 200 digits; the true gaps are nats
    assert l1 <= l10 + slack and l10 <= l100 + slack and l1 < l100
    r = nll_figures(m, x, k=100)
    assert r["nll"] == pytest.approx(-l100, abs=slack)
    assert r["nll"] <= r["neg_elbo"] + slack


# ---- the trained model -------------------------------------------------------------------------

def test_end_to_end_run_load_and_nll(trained, digits):
    header = _history(trained)[0].keys()
    assert {"recon", "kl", "beta", "loss", "val_kl"} <= set(header)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["warnings"] == []
    assert len(metrics["test_kl_per_dim"]) == 16 and metrics["test_kl"] == pytest.approx(sum(metrics["test_kl_per_dim"]))
    assert 1 <= metrics["test_active_units"] <= 16
    model = aekit.load(trained)
    assert int(model.train_steps) == 3 * math.ceil(1800 / 64)
    x = digits.x_test[:500]
    r = nll_figures(model, x, k=10)
    assert r["nll_k"] == 10 and r == nll_figures(model, x, k=10)  # seeded: reproducible
    assert r["nll"] <= r["neg_elbo"] + 0.5
    assert 80 < r["nll"] < 300
    assert "not comparable" in r["nll_note"]  # grey-level digits without dynamic binarization


def test_sampling_encoding_and_active_units(trained, digits):
    m = aekit.load(trained)
    s = m.sample(16, seed=3)
    assert s.shape == (16, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    np.testing.assert_array_equal(s, m.sample(16, seed=3))
    assert not np.array_equal(s, m.sample(16, seed=4))
    assert m.sample(0).shape == (0, 1, 28, 28)
    with pytest.raises(AekitError, match="cvae"):
        m.sample(4, label=3)
    x = digits.x_test[:50]
    mean = m.encode(x)
    np.testing.assert_array_equal(mean, m.encode(x))
    z1, z2 = m.encode(x, sample=True), m.encode(x, sample=True)
    assert z1.shape == mean.shape and not np.array_equal(z1, z2)
    assert isinstance(m.encode(torch.from_numpy(x), sample=True), torch.Tensor)
    au = m.active_units(torch.from_numpy(digits.x_test[:500]))
    assert 1 <= au <= m.cfg.latent_dim
    kl = m.kl_per_dim(torch.from_numpy(digits.x_test[:500]))
    assert kl.shape == (16,) and bool((kl >= 0).all())


def test_report_sections_and_the_manifold(trained, digits):
    from matplotlib.figure import Figure

    from aekit.plots.figures import report_item

    sections = aekit.load(trained).report_sections(digits)
    assert [s.heading for s in sections] == ["Samples from the prior"]  # KL per dimension: a metric, drawn as bars
    assert sections[0].data.shape == (64, 1, 28, 28)
    assert all(isinstance(report_item(s), Figure) for s in sections)
    torch.manual_seed(0)
    flat = build_model("vae", **{**TINY, "latent_dim": 2})
    grid = flat.manifold(5)
    assert grid.shape == (25, 1, 28, 28)
    from scipy.stats import norm

    lo, hi = norm.ppf(0.05), norm.ppf(0.95)  # top-left: z1 lowest, z2 highest; bottom-right the reverse
    np.testing.assert_allclose(grid[[0, 24]], flat.decode(np.array([[lo, hi], [hi, lo]], dtype=np.float32)), atol=1e-6)
    assert "Latent manifold" in [s.heading for s in flat.report_sections(digits)]
    with pytest.raises(AekitError, match="2-D"):
        build_model("vae", **TINY).manifold()


def test_collapse_warning_fires_for_a_huge_beta(tmp_path, digits):
    out = _run(tmp_path / "collapse", model="vae", data="mnist-sample", limit=600, epochs=2, batch_size=32, lr=3e-3,
               hidden=[64], latent_dim=4, beta=1e3, seed=0)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_kl"] < 0.1
    warning, generic = metrics["warnings"]  # the family's diagnosis first, then evaluate's: the decoder ignores z
    assert "collapse" in warning and "kl_schedule" in warning and "free_bits" in warning and "beta" in warning
    assert "hardly depend on the input" in generic and "code_activation" not in generic  # not an option of the VAE


# ---- dynamic binarization ------------------------------------------------------------------------

def test_dynamic_binarization(digits):
    torch.manual_seed(0)
    m = build_model("vae", **TINY, dynamic_binarization=True)
    seen = []
    nll, nll_mean = m.likelihood.nll, m.likelihood.nll_mean

    def spy(params, x):
        seen.append(x.detach().clone())
        return nll(params, x)

    def spy_mean(params, x):
        seen.append(x.detach().clone())
        return nll_mean(params, x)

    m.likelihood.nll, m.likelihood.nll_mean = spy, spy_mean
    x = torch.from_numpy(digits.x_train[:64])
    m.train()
    m.loss(x)
    m.loss(x)
    a, b = seen
    assert bool(((a == 0) | (a == 1)).all()) and not torch.equal(a, b)
    assert abs(float(a.mean() - x.mean())) < 0.01  # Bernoulli(x): the grey level is the mean
    m.eval()
    m.loss(x)
    m.loss(x)
    c, d = seen[2:]
    assert torch.equal(c, d) and bool(((c == 0) | (c == 1)).all())
    torch.testing.assert_close(m.binarize(x[:10], random=False), c[:10])  # example i: row i of the fixed table
    assert int(m.train_steps) == 2
    m.likelihood.nll = nll
    assert nll_figures(m, x, k=4) == nll_figures(m, x, k=4)
    assert m.extra_metrics(x, None) == m.extra_metrics(x, None)
