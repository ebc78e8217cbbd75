"""The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016) as a training objective:
its k = 1 case against the ELBO, the bound's tightness, the DReG gradient (Tucker et al. 2019) against
the standard one, the networks and bf16, the `iwae` preset on real binarized MNIST, exact resume,
the options that do not apply, Adam's ε and the paper's staged learning-rate schedule."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
import aekit.run
from aekit.config import DataConfig, TrainConfig
from aekit.data import prepare
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.models.iwae import decoder_log_lik
from aekit.parts.gaussian import log_normal_diag, log_standard_normal
from aekit.parts.importance import importance_bound, importance_log_px
from aekit.runconfig import build_config
from aekit.train import Trainer, TrainingInterrupted, load_state
from aekit.train.schedules import BURDA_ENDS, BURDA_EPOCHS, burda_stage, lr_factor
from conftest import interrupt_on_call

TINY = {"input_shape": [1, 28, 28], "likelihood": "bernoulli", "hidden": [32], "latent_dim": 4}


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- (a) k = 1 is the ELBO ---------------------------------------------------------------------

def test_one_sample_iwae_is_the_elbo_under_the_same_noise():
    """Same weights, same seed: the ELBO draws ε = randn(B, D), the IWAE with k = 1 randn(1, 1, B, D),
    the same numbers. The IWAE's value is then the one-sample ELBO with its KL by Monte Carlo (exactly),
    and the closed-form ELBO's value in expectation."""
    x = torch.bernoulli(torch.rand(32, 1, 28, 28) * 0.4)
    torch.manual_seed(0)
    iwae = build_model("vae", **TINY, objective="iwae", k=1).train()
    torch.manual_seed(0)
    elbo = build_model("vae", **TINY).train()
    torch.manual_seed(5)
    t = iwae.loss(x)
    assert set(t) == {"recon", "kl", "iwae", "loss"} and torch.equal(t["loss"], t["iwae"])
    torch.manual_seed(5)
    e = elbo.loss(x)
    torch.testing.assert_close(t["recon"], e["recon"], rtol=1e-6, atol=1e-4)  # the same z
    torch.testing.assert_close(t["kl"], e["kl"])
    torch.manual_seed(5)
    with torch.no_grad():
        mu, logvar = elbo.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        kl_mc = (log_normal_diag(z, mu, logvar) - log_standard_normal(z)).mean()
    torch.testing.assert_close(t["iwae"].detach(), e["recon"].detach() + kl_mc, rtol=1e-6, atol=1e-4)
    # in expectation over the noise: the closed-form −ELBO (one draw of recon + KL_mc per seed)
    with torch.no_grad():
        a = torch.stack([iwae.loss(x)["iwae"] for _ in range(400)]).double()
        b = torch.stack([elbo.loss(x)["loss"] for _ in range(400)]).double()
    se = math.sqrt(float(a.var() + b.var()) / 400)
    assert abs(float(a.mean() - b.mean())) < 4 * se


def test_the_evaluation_bound_is_the_training_bound():
    """One implementation: with the same draws, importance_log_px (evaluation) and the training
    objective give the same values, and the seeded evaluation is reproducible."""
    torch.manual_seed(0)
    m = build_model("vae", **TINY, objective="iwae", k=7).eval()
    x = torch.bernoulli(torch.rand(16, 1, 28, 28) * 0.4)
    with torch.no_grad():
        mu, logvar = m.posterior(x)
        ll = importance_log_px(mu[None], logvar[None], decoder_log_lik(m, x), 7, torch.Generator().manual_seed(3))
        torch.manual_seed(3)
        t = m.loss(x)
    torch.testing.assert_close(-ll.mean(), t["iwae"])
    torch.testing.assert_close(ll, m.log_likelihood(x, k=7, seed=3))
    # in chunks of one sample (a running logsumexp) or in one: the same bound
    with torch.no_grad():
        chunked = importance_bound(mu[None], logvar[None], decoder_log_lik(m, x), 7, torch.Generator().manual_seed(3),
                                   floats_per_sample=10**9)[0]
    torch.testing.assert_close(chunked, ll)


# ---- (c) DReG against the standard gradient -------------------------------------------------------

def _gradients(model, x, seed, how):
    """(encoder, decoder) gradients of the training loss for noise seed ``seed``: standard, dreg, or
    stl ("sticking the landing", Roeder et al. 2017: log q's parameters held fixed, weights w̃ not
    squared — biased for k > 1, the estimator DReG corrects)."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    if how == "stl":
        mu, logvar = model.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn((model.cfg.k, 1, *mu.shape))
        log_w = decoder_log_lik(model, x)(z) + log_standard_normal(z) - log_normal_diag(z, mu.detach(), logvar.detach())
        loss = -(torch.logsumexp(log_w, 0) - math.log(model.cfg.k)).mean()
    else:
        model.cfg.gradient = how
        loss = model.loss(x)["loss"]
    loss.backward()
    flat = [torch.cat([p.grad.reshape(-1) for p in net.parameters()]) for net in (model.encoder, model.decoder)]
    return flat[0].double(), flat[1].double()


def test_dreg_matches_the_standard_gradient_in_expectation_with_less_variance():
    """Paired over 1,000 noise seeds on a tiny model (k = 10): DReG's encoder gradient agrees with the
    standard one coordinate by coordinate (|z| < 4 for the mean paired difference, and the means
    differ by < 25 % of the standard mean's norm; measured: max |z| 1.9, 7.6 %), with a far smaller
    variance (measured: 0.14 of it; asserted < 0.5). The decoder's gradients are the same numbers.

    The tolerance can fail: the biased STL estimator, held to the same test, misses it by far
    (measured: max |z| 74, means 276 % apart)."""
    torch.manual_seed(0)
    m = build_model("vae", input_shape=[6], likelihood="bernoulli", hidden=[8], latent_dim=2, activation="tanh",
                    objective="iwae", k=10).train()
    x = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1], [1, 1, 1, 0, 0, 0], [0, 1, 0, 1, 0, 1]], dtype=torch.float32)
    n = 1000
    enc = {h: [] for h in ("standard", "dreg", "stl")}
    for seed in range(n):
        dec = {}
        for how in enc:
            e, dec[how] = _gradients(m, x, seed, how)
            enc[how].append(e)
        torch.testing.assert_close(dec["dreg"], dec["standard"], rtol=1e-6, atol=1e-9)
    g = {h: torch.stack(v) for h, v in enc.items()}
    assert bool((g["standard"].std(0) > 0).all())

    def agrees(how: str) -> bool:
        diff = g[how] - g["standard"]  # paired: the same noise, so most of it cancels
        z = diff.mean(0) / (diff.std(0) / math.sqrt(n))
        rel = float((g[how].mean(0) - g["standard"].mean(0)).norm() / g["standard"].mean(0).norm())
        return float(z.abs().max()) < 4 and rel < 0.25

    assert agrees("dreg")
    assert not agrees("stl")  # the test has the power to see a biased estimator
    assert float(g["dreg"].var(0).sum()) < 0.5 * float(g["standard"].var(0).sum())


# ---- networks, bf16 ---------------------------------------------------------------------------

@pytest.mark.parametrize("gradient", ["standard", "dreg"])
def test_iwae_trains_every_network_of_the_vae(gradient):
    torch.manual_seed(0)
    nets = [
        ("mlp", {**TINY}, torch.rand(8, 1, 28, 28)),
        ("conv", {**TINY, "net": "conv", "channels": [4, 8], "hidden": []}, torch.rand(8, 1, 28, 28)),
        ("rnn", {"input_shape": [12, 2], "likelihood": "gaussian", "net": "rnn", "hidden": [8], "latent_dim": 3,
                 "teacher_forcing": 0.5}, torch.randn(8, 12, 2)),
    ]
    for net, opts, x in nets:
        m = build_model("vae", **opts, objective="iwae", k=4, gradient=gradient).train()
        t = m.loss(x)
        t["loss"].backward()
        grads = [p.grad for p in m.parameters() if p.requires_grad]
        assert all(gr is not None and bool(torch.isfinite(gr).all()) for gr in grads), net
        assert any(float(gr.abs().sum()) > 0 for gr in (p.grad for p in m.encoder.parameters())), net
        ll = m.log_likelihood(x, k=6)
        assert ll.shape == (8,) and bool(torch.isfinite(ll).all()), net


def test_bf16_autocast_reduces_the_log_weights_in_float32():
    torch.manual_seed(0)
    m = build_model("vae", **TINY, objective="iwae", k=8, gradient="dreg").train()
    x = torch.bernoulli(torch.rand(16, 1, 28, 28) * 0.4)
    torch.manual_seed(1)
    ref = m.loss(x)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = m.loss(x)
    assert all(v.dtype == torch.float32 for v in t.values())
    t["loss"].backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in m.parameters())
    # bf16 decoder logits, float32 sums: within a fraction of a percent of the fp32 value
    assert float(t["iwae"].detach()) == pytest.approx(float(ref["iwae"].detach()), rel=1e-3)


# ---- (d), (b) the iwae preset on real binarized MNIST ---------------------------------------------

def _binarized_mnist(root: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    folder = root / "binarized-mnist"
    if not (folder / "binarized_mnist_train.amat").is_file():
        pytest.skip(reason=f"binarized MNIST not found in {folder}")
    # MATLAB files despite the .amat name (binarized-mnist/SOURCES.md); {0, 1} as float32 digits
    x_tr, x_te = (loadmat(folder / f"binarized_mnist_{s}.amat")["X"] for s in ("train", "test"))
    return (x_tr[:3000].reshape(-1, 28, 28).astype(np.float32), x_te[:500].reshape(-1, 28, 28).astype(np.float32))


@pytest.fixture(scope="module")
def preset_run(shared_data, tmp_path_factory):
    """The `iwae` preset (784-200-200-50 tanh, k = 50) trained 2 epochs on 2,700 binarized digits with
    the paper's Adam ε and the burda schedule compressed into the run; also the in-memory model."""
    tmp = tmp_path_factory.mktemp("iwae")
    x_tr, x_te = _binarized_mnist(shared_data)
    np.save(tmp / "train.npy", x_tr)
    np.save(tmp / "test.npy", x_te)
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aekit.run, "_report", lambda out, cfg, model, *a, **k: seen.append(model))
        out = aekit.train_run("iwae", str(tmp / "train.npy"), out=tmp / "run", test_data=str(tmp / "test.npy"), epochs=2,
                              batch_size=100, adam_eps=1e-4, schedule="burda", seed=0, progress=False)
    return out, seen[0].cpu().eval(), x_te


def test_iwae_preset_trains_on_binarized_mnist_and_reloads(preset_run):
    out, trained, x_te = preset_run
    cfg = aekit.load_config(out)
    m = cfg.model
    assert (m.objective, m.k, m.hidden, m.latent_dim, m.activation, m.likelihood, m.dynamic_binarization) == \
        ("iwae", 50, [200, 200], 50, "tanh", "bernoulli", True)
    assert cfg.train.adam_eps == 1e-4 and cfg.train.schedule == "burda"
    rows = _history(out)
    assert {"iwae", "recon", "kl", "loss", "val_iwae"} <= set(rows[0]) and "beta" not in rows[0]
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    # 2 epochs compressed from 3,280: epoch 2 starts at paper epoch 1,640, in the last stage
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 1e-4])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_iwae"] == pytest.approx(metrics["test_loss"]) and metrics["test_iwae"] < 300
    x = torch.from_numpy(x_te)
    nll = -float(trained.log_likelihood(x, k=100, progress=False).double().mean())
    torch.manual_seed(0)
    untrained = type(trained)(cfg.model).eval()
    nll0 = -float(untrained.log_likelihood(x, k=100, progress=False).double().mean())
    print(f"binarized MNIST, 500 test digits: NLL (k=100) {nll:.2f} nats trained, {nll0:.2f} untrained; "
          f"test −L_50 {metrics['test_iwae']:.2f}")
    assert nll < nll0 - 200, (nll, nll0)  # ≈ 543 nats untrained (784 pixels at p ≈ ½)
    again = aekit.load(out)
    np.testing.assert_allclose(again.log_likelihood(x_te, k=100, progress=False),
                               trained.log_likelihood(x_te, k=100, progress=False), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(again.encode(x_te[:20]), aekit.load(out).encode(x_te[:20]))


def test_the_iwae_bound_of_a_trained_model_is_tighter_than_its_elbo(preset_run):
    """Averaged over 500 test digits: −log p̂_k falls with k (k = 1 the ELBO estimate), and L_50 is
    above the closed-form ELBO by more than the Monte-Carlo noise (the gap is nats, the noise tenths)."""
    _, m, x_te = preset_run
    x = torch.from_numpy(x_te[:, None])  # model space: (N, 1, 28, 28)
    l1, l5, l50 = (float(m.log_likelihood(x, k=k, seed=k, progress=False).double().mean()) for k in (1, 5, 50))
    elbo = -float(m.map_batches(lambda b: m.neg_elbo(b, torch.Generator().manual_seed(0))[0], x).double().mean())
    assert l1 < l5 < l50
    assert l50 > elbo + 1.0, (l50, elbo)
    with torch.no_grad():  # the loss terms say the same: −L_50 below recon + KL
        t = m.eval().loss(x)
    assert float(t["iwae"]) < float(t["recon"] + t["kl"]) - 1.0


# ---- (e) resume -------------------------------------------------------------------------------------

def _resume_config(epochs: int):
    return build_config([{
        "data": {"name": "digits", "limit": 600},
        "model": {"name": "iwae", "hidden": [32], "latent_dim": 4, "k": 5, "gradient": "dreg"},
        "train": {"epochs": epochs, "batch_size": 32, "seed": 0, "quiet": True, "adam_eps": 1e-4, "schedule": "burda",
                  "schedule_scale": 0.01},
    }])


def test_ctrl_c_mid_epoch_then_resume_is_exact(tmp_path, monkeypatch):
    """IWAE with DReG, dynamic binarization (the k draws and the binary digits come from the global
    RNG), Adam's ε and the burda schedule: an interrupted, resumed run is the uninterrupted one."""
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)
    whole, split = tmp_path / "whole", tmp_path / "split"
    aekit.run.train(_resume_config(3), whole, progress=False)
    with monkeypatch.context() as m:
        interrupt_on_call(m, 17 + 9)  # epoch 2, after 8 of its 17 batches
        with pytest.raises(TrainingInterrupted):
            aekit.run.train(_resume_config(3), split, progress=False)
    pos = load_state(split / "checkpoints" / "last.safetensors")["position"]
    assert (pos["epoch"], pos["step"]) == (1, 8)
    aekit.run.train(_resume_config(3), split, resume=True, progress=False)
    a, b = _history(whole), _history(split)
    skip = {"epoch_time_s", "samples_per_s", "stage"}
    assert [{k: float(v) for k, v in r.items() if k not in skip} for r in b] == \
        [pytest.approx({k: float(v) for k, v in r.items() if k not in skip}, rel=1e-6, abs=1e-6) for r in a]
    # the scale-0.01 schedule: epochs start at paper epochs 0, 100, 200: stages 0, 4, 5
    assert [float(r["lr"]) for r in a] == pytest.approx([1e-3 * 10 ** (-i / 7) for i in (0, 4, 5)])
    wa, wb = aekit.load(whole).state_dict(), aekit.load(split).state_dict()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=1e-6)
    assert int(aekit.load(split).train_steps) == 3 * 17


# ---- (f) options that do not apply --------------------------------------------------------------

@pytest.mark.parametrize("layer, words", [
    ({"model": {"name": "vae", "k": 10}}, ["model.k=10 has no effect", "iwae objective"]),
    ({"model": {"name": "vae", "gradient": "dreg"}}, ["model.gradient='dreg' has no effect", "iwae objective"]),
    ({"model": {"name": "iwae", "beta": 2.0}}, ["model.beta=2.0 has no effect", "no KL weight"]),
    ({"model": {"name": "iwae", "free_bits": 0.5}}, ["model.free_bits=0.5 has no effect"]),
    ({"model": {"name": "iwae", "kl_schedule": "linear"}}, ["model.kl_schedule='linear' has no effect"]),
    ({"model": {"name": "iwae", "latent_samples": 3}}, ["model.latent_samples=3 has no effect", "model.k"]),
    ({"model": {"name": "vae", "objective": "iwae", "latent_samples": 2}}, ["model.latent_samples=2 has no effect"]),
    ({"model": {"name": "vae", "likelihood": "gaussian", "dynamic_binarization": True}},
     ["model.dynamic_binarization=True has no effect", "Bernoulli"]),
    ({"train": {"optimizer": "sgd", "adam_eps": 1e-4}}, ["train.adam_eps=0.0001 has no effect", "sgd"]),
    ({"train": {"schedule": "cosine", "schedule_scale": 1.0}}, ["train.schedule_scale=1.0 has no effect", "burda"]),
    ({"train": {"adam_eps": 0}}, ["train.adam_eps must be > 0"]),
    ({"train": {"schedule": "burda", "schedule_scale": -1}}, ["train.schedule_scale must be > 0"]),
])
def test_options_that_do_not_apply_are_errors_naming_them(layer, words):
    with pytest.raises(AekitError) as info:
        build_config([{"data": {"name": "mnist-sample"}, **layer}])
    for w in words:
        assert w in str(info.value), str(info.value)
    # the same keys at their defaults (not given) are fine
    build_config([{"model": {"name": "iwae", "beta": 1.0, "latent_samples": 1}, "train": {"adam_eps": 1e-8}}])


def test_a_preset_setting_the_iwae_objective_cannot_ignore_them():
    """beta-vae's own β = 4 is not a key the user gave: the model refuses it when built."""
    with pytest.raises(AekitError, match=r"model\.beta=4\.0 has no effect under model\.objective=iwae"):
        build_model("beta-vae", **TINY, objective="iwae")
    with pytest.raises(AekitError, match=r"model\.k must be >= 1"):
        build_model("iwae", **TINY, k=0)
    with pytest.raises(AekitError, match=r"(?s)model\.objective 'bound' is not supported.*elbo, iwae"):
        build_model("vae", **TINY, objective="bound")
    with pytest.raises(AekitError, match=r"did you mean 'dreg'"):
        build_model("iwae", **TINY, gradient="drag")
    # the iwae preset on data it cannot binarize: its dynamic binarization is off, not an error
    m = build_model("iwae", input_shape=[5], likelihood="gaussian", input_range=[-2.0, 3.0])
    assert not m.binarizes
    with pytest.raises(AekitError, match="minmax"):  # asked for with a Bernoulli likelihood: an error, as before
        build_model("iwae", input_shape=[5], likelihood="bernoulli", input_range=[-2.0, 3.0])


# ---- Adam's ε ------------------------------------------------------------------------------------

def test_adam_eps_reaches_the_optimiser():
    d = prepare(DataConfig(name="mnist-sample", limit=160, val_fraction=0.0), seed=0)
    torch.manual_seed(0)
    m = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[16], latent_dim=2)
    for optimizer, eps in (("adam", 1e-4), ("adamw", 1e-4), ("adam", 1e-8)):
        t = Trainer(m, TrainConfig(epochs=1, batch_size=80, optimizer=optimizer, adam_eps=eps, quiet=True), progress=False)
        t.fit(d.x_train)
        assert [g["eps"] for o in t.optimizers for g in o.param_groups] == [eps]


# ---- (g) the burda schedule ------------------------------------------------------------------------

def test_burda_schedule_at_the_papers_scale():
    assert BURDA_EPOCHS == 3280 and BURDA_ENDS == (1, 4, 13, 40, 121, 364, 1093, 3280)
    # stage i = 0..7: 3^i epochs at 10^(−i/7); the last epoch of a stage and the first of the next
    for i, end in enumerate(BURDA_ENDS):
        for scale in (1.0, None):  # None with 3,280 epochs: the paper's own scale
            assert burda_stage(end - 1, 3280, scale) == i
            assert lr_factor("burda", end - 1, 3280, scale=scale) == pytest.approx(10 ** (-i / 7))
            assert burda_stage(end, 3280, scale) == min(i + 1, 7)
    assert [burda_stage(e, 3280) for e in (0, 1, 3, 4, 12, 13, 39, 40, 120, 121, 363, 364, 1092, 1093, 3279)] == \
        [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert sum(3**i for i in range(8)) == 3280 and [sum(burda_stage(e, 3280) == i for e in range(3280)) for i in range(8)] == \
        [3**i for i in range(8)]
    assert lr_factor("burda", 0, 3280) == 1.0 and lr_factor("burda", 3279, 3280) == pytest.approx(0.1)
    assert lr_factor("burda", 5000, 3280, scale=1.0) == pytest.approx(0.1)  # past the end: it holds lr/10


def test_burda_schedule_compressed_to_the_run():
    # 328 epochs: every stage a tenth of the paper's (ends at 0.1, 0.4, 1.3, 4, 12.1, 36.4, 109.3, 328)
    assert [burda_stage(e, 328) for e in (0, 1, 2, 3, 4, 12, 13, 36, 37, 109, 110, 327)] == [0, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert [burda_stage(e, 999, scale=0.1) for e in (0, 1, 2, 3, 4, 12, 13, 36, 37, 109, 110, 327)] == \
        [0, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]  # the same, given as a scale (it does not depend on the run's length)
    # 80 epochs (scale 1/41): the eight stages in the paper's proportions, the last two thirds at lr/10
    stages = [burda_stage(e, 80) for e in range(80)]
    assert stages == sorted(stages) and stages[0] == 0 and stages[-1] == 7
    assert sum(s == 7 for s in stages) == 80 - math.ceil(1093 / 41)
    assert burda_stage(0, 0) == 0  # no epochs: no division by zero


def test_the_trainer_follows_the_burda_schedule():
    d = prepare(DataConfig(name="mnist-sample", limit=160, val_fraction=0.0), seed=0)
    torch.manual_seed(0)
    m = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[16], latent_dim=2)
    t = Trainer(m, TrainConfig(epochs=5, batch_size=160, schedule="burda", schedule_scale=1.0, lr=1e-2, quiet=True), progress=False)
    hist = t.fit(d.x_train)
    assert [r["lr"] for r in hist] == pytest.approx([1e-2 * 10 ** (-i / 7) for i in (0, 1, 1, 1, 2)])
