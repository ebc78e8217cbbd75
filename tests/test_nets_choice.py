"""Choosing a network: net options, ``auto``, the families' conditioning, masked likelihoods, describe."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import aekit
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.parts import make_likelihood


def test_an_option_of_another_network_is_an_error_naming_it():
    with pytest.raises(AekitError, match="model.channels.*conv network, and model.net is mlp"):
        aekit.train_run("ae", "mnist-sample", channels=[8], epochs=1, limit=100)
    with pytest.raises(AekitError, match="model.cell.*rnn network, and model.net is conv"):
        aekit.train_run("ae", "mnist-sample", net="conv", cell="lstm", epochs=1, limit=100)
    with pytest.raises(AekitError, match="model.activation.*recurrent cells have their own"):
        aekit.train_run("ae", "ecg5000", net="rnn", activation="tanh", epochs=1, limit=100)


def test_auto_picks_conv_for_images_with_the_conv_defaults(tmp_path):
    out = aekit.train_run("vae", "mnist-sample", out=tmp_path / "r", net="auto", epochs=1, limit=200, latent_dim=4)
    cfg = aekit.load_config(out)
    assert cfg.model.net == "conv" and cfg.model.hidden == []  # the preset's [512, 256] are its MLP's
    assert "auto → conv" in cfg.notes["net"]
    # families that only have an MLP fall back to it, saying why
    with pytest.raises(AekitError, match="works with the mlp network"):
        build_model("stacked-ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv")
    assert build_model("stacked-ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="auto").cfg.net == "mlp"


def test_a_network_that_cannot_read_the_data_says_which_can():
    with pytest.raises(AekitError, match="conv network reads images"):
        build_model("ae", input_shape=[784], likelihood="bernoulli", net="conv")
    with pytest.raises(AekitError, match="rnn network reads sequences"):
        build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="rnn")


def test_labels_condition_conv_and_rnn_nets_as_inputs_not_as_a_flat_vector():
    torch.manual_seed(0)
    m = build_model("cvae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", n_classes=10, channels=[8, 16])
    first = next(mod for mod in m.encoder.modules() if isinstance(mod, torch.nn.Conv2d))
    assert first.in_channels == 1 + 10  # ten constant label maps beside the image
    x = torch.rand(3, 1, 28, 28)
    z = torch.zeros(3, m.cfg.latent_dim)
    a, b = m.decoder_params(z, torch.tensor([0, 0, 0])), m.decoder_params(z, torch.tensor([1, 1, 1]))
    assert not torch.allclose(a, b)  # the label changes what the decoder draws from the same z
    assert m.class_logits(x).shape == (3, 10)
    r = build_model("aae-supervised", input_shape=[40, 2], likelihood="gaussian", net="rnn", n_classes=3, hidden=[16], latent_dim=4)
    assert r.decoder_params(torch.zeros(2, 4), torch.tensor([0, 2])).shape == (2, 40, 2)


def test_contractive_penalty_refuses_batch_norm():
    with pytest.raises(AekitError, match="batch normalisation"):
        build_model("contractive-ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", norm="batch")


def test_a_masked_likelihood_scores_only_the_steps_of_each_sequence():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3)
    params = torch.randn(2, 6, 3)
    padded = x.clone()
    padded[1, 4:] = float("nan")
    for name in ("gaussian", "bernoulli", "gaussian-learned"):
        lik = make_likelihood(name, 18, 1.0, masked=True)
        xx = padded.sigmoid() if name == "bernoulli" else padded
        got = lik.nll(params, xx)
        plain = make_likelihood(name, 18, 1.0)
        full = xx.clone()
        full[1, 4:] = 0.5 if name == "bernoulli" else 0.0
        want0 = plain.nll(params[:1], full[:1])
        assert torch.allclose(got[0], want0[0], atol=1e-5)
        if name != "gaussian-learned":  # one σ for every value: the first 4 steps of example 1 alone
            one = make_likelihood(name, 12, 1.0)
            assert torch.allclose(got[1], one.nll(params[1:, :4], xx[1:, :4])[0], atol=1e-5)
        assert torch.isfinite(got).all() and torch.isfinite(lik.nll_mean(params, xx))


def test_the_categorical_likelihood_is_the_cross_entropy_per_step():
    logits = torch.randn(4, 7, 5)
    idx = torch.randint(0, 5, (4, 7))
    x = F.one_hot(idx, 5).float()
    lik = make_likelihood("categorical", 35)
    want = F.cross_entropy(logits.reshape(-1, 5), idx.reshape(-1), reduction="none").reshape(4, 7).sum(1)
    assert torch.allclose(lik.nll(logits, x), want, atol=1e-5)
    assert torch.allclose(lik.mean(logits).sum(-1), torch.ones(4, 7))
    with pytest.raises(AekitError, match="one-hot sequences"):
        build_model("ae", input_shape=[784], likelihood="categorical")


def test_describe_prints_the_shape_trace_of_a_run_and_of_a_config(tmp_path, capsys):
    from aekit.cli import main

    out = aekit.train_run("ae", "mnist-sample", out=tmp_path / "r", net="conv", channels=[8, 16], latent_dim=6, epochs=1, limit=100)
    assert main(["describe", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Conv2d" in text and "16×7×7" in text and "ConvTranspose2d" in text and "1×28×28" in text
    model = aekit.load(out)
    total = sum(p.numel() for p in model.parameters())
    assert f"total {total:,d}" in text
    assert main(["describe", "--model", "vae", "--data", "mnist-sample", "--net", "mlp", "--set", "data.limit=100"]) == 0
    text = capsys.readouterr().out
    assert "Linear" in text and "net mlp" in text
    assert main(["describe"]) == 2


def test_reconstruct_aligns_a_reversed_decoder_with_each_sequences_own_length():
    torch.manual_seed(0)
    m = build_model("ae", input_shape=[10, 2], likelihood="gaussian", net="rnn", hidden=[8], latent_dim=3, reverse_target=True).eval()
    x = torch.randn(2, 10, 2)
    x[1, 6:] = float("nan")  # example 1 has 6 steps
    with torch.no_grad():
        want = m.decoder(m.code(x), lengths=torch.tensor([10, 6]))
        got = m.recon_params(x)
    assert torch.allclose(got[1, :6], want[1, :6]) and torch.allclose(got[0], want[0])
