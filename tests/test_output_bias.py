"""The decoder's output bias starts at the training data's mean (model.output_bias=data, the default),
and a model whose reconstructions do not depend on the input says so in its metrics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.data import load_raw
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


def test_a_conv_decoder_that_started_from_a_flat_image_trains_from_the_data_mean(tmp_path: Path, shared_data: Path) -> None:
    """Real MNIST, the conv AE with a 2-unit sigmoid code: from a zero output bias (p = 0.5, the flat
    start a per-channel bias also gives) the code saturates and every digit decodes to the same image;
    from the per-pixel output offset at the mean image the same network and seed learn a code."""
    conv = {"net": "conv", "channels": [32, 64], "hidden": [], "latent_dim": 2, "code_activation": "sigmoid"}
    runs = {bias: aekit.train_run("ae", "mnist", out=tmp_path / bias, epochs=1, limit=12000, seed=0, quiet=True,
                                  output_bias=bias, **conv) for bias in ("zero", "data")}
    zero, data = (json.loads((runs[b] / "metrics.json").read_text()) for b in ("zero", "data"))
    assert any("hardly depend on the input" in w for w in zero["warnings"])
    assert not any("hardly depend on the input" in w for w in data["warnings"])
    assert data["test_mse"] < 0.9 * zero["test_mse"]
    # the offset is saved with the weights (a model built afresh has it zero) and shapes the output
    model = aekit.load(runs["data"])
    assert model.decoder.output_offset.abs().max() > 1  # the logits of MNIST's mean digit reach ±6.9
    x = load_raw("mnist").x_test[:16]
    rec = model.reconstruct(x)
    model.decoder.output_offset.zero_()
    assert np.abs(model.reconstruct(x) - rec).max() > 0.1


def test_the_output_starts_at_the_logit_of_the_mean_per_pixel(shared_data: Path) -> None:
    x = load_raw("mnist").x_train[:2000].astype(np.float32)
    mean = np.clip(x.astype(np.float64).mean(0), 1e-3, 1 - 1e-3)
    logit = torch.from_numpy(np.log(mean / (1 - mean)))
    for net, opts in (("mlp", {"hidden": [32]}), ("conv", {"channels": [8, 16], "hidden": []})):
        model = build_model("ae", input_shape=list(x.shape[1:]), likelihood="bernoulli", net=net, latent_dim=4, init="torch", **opts)
        assert init_output_bias(model, x)
        bias = [p for n, p in model.decoder.named_parameters() if n.endswith("bias")][-1].detach().double()
        if net == "mlp":
            assert torch.allclose(bias, logit.reshape(-1), atol=1e-5)
        else:  # the fixed per-pixel offset takes the mean; the transposed convolution's own bias is zeroed
            assert torch.allclose(model.decoder.output_offset.double(), logit.reshape(1, 28, 28), atol=1e-5)
            assert bias.abs().max() == 0
        # and the untrained model's reconstruction of any digit is (about) the mean image
        assert np.abs(model.reconstruct(x[:5]) - mean).max() < 0.2, net


def test_a_conv_model_saved_before_the_output_offset_loads_with_a_zero_offset(tmp_path: Path) -> None:
    """Weights files written before ConvDecoder had its output_offset buffer lack the key: they load,
    with the offset zero (the behaviour they were trained with), by every path that reads weights."""
    from aekit.models.loading import load_weights

    model = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", channels=[8], latent_dim=4)
    old = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("output_offset")}
    assert len(old) == len(model.state_dict()) - 1
    for load in (lambda m: load_weights(m, dict(old), tmp_path / "model.safetensors"), lambda m: m.load_state_dict(dict(old))):
        fresh = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", channels=[8], latent_dim=4)
        fresh.decoder.output_offset.fill_(3.0)
        load(fresh)
        assert fresh.decoder.output_offset.abs().max() == 0
    with pytest.raises(AekitError, match="1 missing"):  # any other missing tensor is still an error
        load_weights(fresh, {k: v for k, v in old.items() if k != "decoder.head.layers.0.bias"}, tmp_path / "model.safetensors")


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


def test_constant_reconstruction_of_padded_sequences_raises_no_numpy_warning() -> None:
    """Padding NaN fills whole time steps of short test sets (every line ends before them): those steps
    are left out of both variances without numpy's 'Degrees of freedom <= 0' RuntimeWarning."""
    import warnings

    rng = np.random.default_rng(0)
    x = rng.random((50, 6, 3))
    x[:, 4:] = np.nan  # no line reaches the last two steps
    x[1:, 3] = np.nan  # one line reaches step 3
    flat = np.where(np.isnan(x), np.nan, x[:1]) + 1e-6 * rng.random((50, 6, 3))  # the first line everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert constant_reconstruction(x, x * 0.5) is None
        assert "hardly depend" in constant_reconstruction(x, flat)
        assert constant_reconstruction(np.full((5, 4), np.nan), np.zeros((5, 4))) is None
