"""The decoder's output bias starts at the training data's mean (model.output_bias=data, the default),
and a model whose reconstructions do not depend on the input says so in its metrics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import AekitError
from aekit.evaluate import constant_reconstruction
from aekit.models import build_model
from aekit.models.output_bias import init_output_bias

# the network that collapsed in Table 2 of BENCHMARKS.md: a 784-512-256 ReLU encoder into a 2-unit sigmoid code
SIGMOID_CODE = {"net": "mlp", "hidden": [512, 256], "activation": "relu", "latent_dim": 2, "code_activation": "sigmoid"}


def _train(tmp_path: Path, name: str, **opts) -> dict:
    run = aekit.train_run("ae", "mnist", out=tmp_path / name, epochs=2, limit=6000, seed=0, quiet=True, **SIGMOID_CODE, **opts)
    return json.loads((run / "metrics.json").read_text())


def test_a_sigmoid_code_that_saturated_from_a_zero_output_bias_trains_from_the_data_mean(tmp_path: Path, shared_data: Path) -> None:
    """Real MNIST: from p = 0.5 everywhere the first Adam steps drive both sigmoid code units to 1 and
    the decoder outputs the mean image for every digit (the warning says so); started at the mean
    image, the same network and seed learn a code."""
    zero = _train(tmp_path, "zero", output_bias="zero")
    data = _train(tmp_path, "data")
    (warning,) = [w for w in zero["warnings"] if "hardly depend on the input" in w]
    assert "model.output_bias=data" in warning and "model.code_activation=linear" in warning  # fixes this model has
    assert not any("hardly depend on the input" in w for w in data["warnings"])
    assert data["test_mse"] < 0.9 * zero["test_mse"]


def test_the_output_bias_is_the_logit_of_the_mean_per_pixel_or_per_channel(shared_data: Path) -> None:
    from aekit.data import load_raw

    x = load_raw("mnist").x_train[:2000].astype(np.float32)
    for net, opts in (("mlp", {"hidden": [32]}), ("conv", {"channels": [8, 16], "hidden": []})):
        model = build_model("ae", input_shape=list(x.shape[1:]), likelihood="bernoulli", net=net, latent_dim=4, **opts)
        assert init_output_bias(model, x)
        bias = [p for n, p in model.decoder.named_parameters() if n.endswith("bias")][-1].detach().double()
        xd = x.astype(np.float64)
        mean = np.clip(xd.mean(0).reshape(-1) if net == "mlp" else xd.mean((0, 2, 3)), 1e-3, 1 - 1e-3)
        assert torch.allclose(bias, torch.from_numpy(np.log(mean / (1 - mean))).double().reshape(bias.shape), atol=1e-5)
        # and the untrained model's reconstruction of any digit is (about) the mean image
        rec = model.reconstruct(x[:5])
        target = np.clip(x.mean(0), 1e-3, 1 - 1e-3)
        if net == "mlp":
            assert np.abs(rec - target).max() < 0.2


def test_output_bias_is_left_alone_where_the_decoder_does_not_output_the_data(shared_data: Path) -> None:
    model = build_model("ae", input_shape=[4], likelihood="gaussian", hidden=[8], latent_dim=2)
    assert not init_output_bias(model, np.zeros((10, 5), np.float32))  # data of another shape
    with pytest.raises(AekitError, match="output_bias"):
        build_model("ae", input_shape=[4], likelihood="gaussian", hidden=[8], latent_dim=2, output_bias="mean")


def test_output_bias_zero_on_a_recurrent_model_is_refused_as_having_no_effect(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(AekitError, match="output_bias='zero' has no effect"):
        aekit.train_run("ae", "ecg5000", out=tmp_path / "r", net="rnn", epochs=1, limit=64, quiet=True, output_bias="zero")


def test_constant_reconstruction_warns_only_when_the_reconstructions_do_not_vary() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((50, 20))
    assert constant_reconstruction(x, x * 0.5) is None
    assert "hardly depend" in constant_reconstruction(x, np.tile(x.mean(0), (50, 1)) + 1e-6 * rng.random((50, 20)))


def test_padding_nan_is_left_out_of_the_mean() -> None:
    model = build_model("ae", input_shape=[3, 2], likelihood="gaussian", hidden=[8], latent_dim=2)
    x = np.array([[[1.0, 2.0], [3.0, np.nan], [np.nan, np.nan]], [[3.0, 4.0], [5.0, np.nan], [np.nan, np.nan]]], np.float32)
    assert init_output_bias(model, x)
    bias = [p for n, p in model.decoder.named_parameters() if n.endswith("bias")][-1]
    assert bias.tolist() == [2.0, 3.0, 4.0, 0.0, 0.0, 0.0]
