"""One suite over the whole model registry: build, train a few steps on real digits, the loss
falls, save, reload, identical outputs. A new preset is covered by registering it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.config import DataConfig
from aekit.data import prepare
from aekit.models import all_specs, get_spec
from conftest import small_m1

SPECS = [s.name for s in all_specs()]


@pytest.fixture(scope="module")
def digits():
    return prepare(DataConfig(name="mnist-sample", limit=1200, val_fraction=0.1), seed=0)


@pytest.mark.parametrize("name", SPECS)
def test_preset_trains_saves_and_reloads(name, digits, tmp_path):
    overrides = {"epochs": 4, "batch_size": 32, "lr": 3e-3, "limit": 1200, "seed": 0}
    small = {"hidden": [64, 32], "latent_dim": 8}
    if name in ("sparse-ae", "contractive-ae", "stochastic-contractive-ae"):
        small = {"latent_dim": 32}
    if name.startswith("stacked"):
        overrides["pretrain_epochs"] = 1
    if name == "linear-ae":
        small = {"latent_dim": 8}
    if name == "m1m2":  # builds on a trained VAE
        overrides["m1_run"] = str(small_m1(tmp_path))
    out = aekit.train_run(name, "mnist-sample", out=tmp_path / "run", **small, **overrides)
    hist = (out / "history.csv").read_text().strip().splitlines()
    header = hist[0].split(",")
    rows = [dict(zip(header, r.split(","))) for r in hist[1:]]
    last_stage = rows[-1]["stage"]
    losses = [float(r["loss"]) for r in rows if r["stage"] == last_stage]
    assert losses[-1] < losses[0], f"{name}: loss did not fall: {losses}"
    # pretraining stages report their own falling losses too
    for stage in {r["stage"] for r in rows if r["stage"].startswith("pretrain")}:
        assert all(np.isfinite(float(r["loss"])) for r in rows if r["stage"] == stage)
    model = aekit.load(out)
    x = digits.x_test[:50]
    codes = model.encode(x)
    assert codes.shape == (50, model.cfg.latent_dim)
    np.testing.assert_array_equal(codes, model.encode(x))  # deterministic
    rec = model.reconstruct(x)
    assert rec.shape == x.shape
    again = aekit.load(out)
    np.testing.assert_array_equal(again.encode(x), codes)
    np.testing.assert_array_equal(again.reconstruct(x), rec)
    # tensors in, tensors out, same values
    tz = model.encode(torch.from_numpy(x))
    assert isinstance(tz, torch.Tensor)
    np.testing.assert_allclose(tz.numpy(), codes, rtol=1e-6, atol=1e-6)
    if model.cfg.likelihood == "bernoulli":
        assert rec.min() >= 0 and rec.max() <= 1
    # training improved held-out reconstructions over the same model at its initial weights
    cfg = aekit.load_config(out)
    torch.manual_seed(0)
    untrained = type(model)(cfg.model).eval()
    assert np.mean((x - rec) ** 2) < np.mean((x - untrained.reconstruct(x)) ** 2)


def test_every_preset_is_listed_by_the_issue():
    assert set(SPECS) >= {"ae", "linear-ae", "sparse-ae", "denoising-ae", "contractive-ae",
                          "stochastic-contractive-ae", "stacked-ae", "stacked-denoising-ae"}


def test_parts_combine_freely(tmp_path):
    """A denoising, sparse, contractive AE with weight decay is one config."""
    out = aekit.train_run("ae", "mnist-sample", out=tmp_path / "combo", hidden=[], latent_dim=16, activation="sigmoid",
                          code_activation="sigmoid", corruption="masking", noise_level=0.2, sparsity_weight=0.5,
                          contractive=0.01, weight_decay=1e-4, l1=1e-3, epochs=2, limit=600)
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    for term in ("recon", "sparsity", "contractive", "weight_decay", "l1", "loss"):
        assert term in header


def test_stacked_pretraining_moves_only_its_layer():
    from aekit.models import build_model

    torch.manual_seed(0)
    m = build_model("stacked-ae", input_shape=[20], hidden=[12], latent_dim=4, likelihood="gaussian")
    plan = m.training_plan()
    assert [s.name for s in plan] == ["pretrain-1", "pretrain-2", "finetune"]
    phase = plan[1].phases[0]
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.SGD(phase.parameters(), lr=0.1)
    m.train()
    phase.loss(torch.randn(16, 20), None)["loss"].backward()
    opt.step()
    changed = {n for n, p in m.named_parameters() if not torch.equal(before[n], p)}
    assert changed == {"encoder.layers.1.weight", "encoder.layers.1.bias", "decoder.layers.0.weight", "decoder.layers.0.bias"}


def _networks(name):
    return [n for n in get_spec(name).config_cls.networks if n != "mlp"]


CONV = [(n, "conv") for n in SPECS if "conv" in _networks(n) and n != "stochastic-contractive-ae"]


@pytest.mark.parametrize("name,net", CONV)
def test_preset_trains_with_a_conv_net(name, net, digits, tmp_path):
    """Every family that supports the conv network trains with it, saves and reloads; codes stay flat."""
    overrides = {"epochs": 3, "batch_size": 32, "lr": 3e-3, "limit": 600, "seed": 0, "net": net, "channels": [8, 16]}
    overrides["latent_dim"] = 4 if name.startswith("contractive") else 8
    out = aekit.train_run(name, "mnist-sample", out=tmp_path / "run", **overrides)
    rows = (out / "history.csv").read_text().strip().splitlines()
    col = rows[0].split(",").index("loss")
    losses = [float(r.split(",")[col]) for r in rows[1:]]
    assert losses[-1] < losses[0], f"{name}: loss did not fall: {losses}"
    model = aekit.load(out)
    assert type(model.encoder).__name__ == "ConvEncoder"
    x = digits.x_test[:20]
    codes = model.encode(x)
    assert codes.shape == (20, model.cfg.latent_dim)
    np.testing.assert_array_equal(aekit.load(out).reconstruct(x), model.reconstruct(x))
    assert model.reconstruct(x).shape == x.shape


def test_stochastic_contractive_preset_refuses_conv_for_its_tied_weights():
    from aekit.errors import AekitError
    from aekit.models import build_model

    with pytest.raises(AekitError, match="tied weights"):
        build_model("stochastic-contractive-ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv")
    build_model("stochastic-contractive-ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", tied=False)


@pytest.mark.parametrize("name", ["stacked-ae", "m1m2"])
def test_mlp_only_families_say_why(name):
    from aekit.errors import AekitError

    with pytest.raises(AekitError, match="works with the mlp network"):
        aekit.train_run(name, "mnist-sample", net="conv", epochs=1, limit=100, m1_run="x") if name == "m1m2" else \
            aekit.train_run(name, "mnist-sample", net="conv", epochs=1, limit=100)


RNN = [n for n in SPECS if "rnn" in _networks(n) and n not in ("stochastic-contractive-ae", "contractive-ae")]


@pytest.mark.parametrize("name", RNN)
def test_preset_trains_with_a_recurrent_net_on_real_series(name, tmp_path, shared_data):
    """Every family that supports the rnn network trains on ECG5000 series, saves and reloads."""
    out = aekit.train_run(name, "ecg5000", out=tmp_path / "run", net="rnn", hidden=[16], latent_dim=4, epochs=2,
                          batch_size=32, lr=3e-3, limit=160, scale="standard", seed=0)
    rows = (out / "history.csv").read_text().strip().splitlines()
    col = rows[0].split(",").index("loss")
    assert all(np.isfinite(float(r.split(",")[col])) for r in rows[1:])
    model = aekit.load(out)
    assert type(model.encoder).__name__ == "RNNEncoder"
    x = np.asarray(model.from_model_space(torch.zeros(3, 140, 1)))  # any series of the model's shape
    codes = model.encode(x)
    assert codes.shape == (3, model.cfg.latent_dim)
    np.testing.assert_array_equal(aekit.load(out).reconstruct(x), model.reconstruct(x))


def test_contractive_penalty_trains_a_recurrent_encoder(tmp_path, shared_data):
    out = aekit.train_run("contractive-ae", "ecg5000", out=tmp_path / "run", net="rnn", hidden=[8], latent_dim=3, epochs=1,
                          batch_size=32, limit=64, scale="standard", code_activation="tanh")
    assert "contractive" in (out / "history.csv").read_text().splitlines()[0]
