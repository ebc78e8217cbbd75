"""Colorization: grayscale in, colour out, on the generated colour digits (real MNIST strokes)."""
from __future__ import annotations

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.run import run_data


def _train(out, limit, epochs, latent):
    assert main(["train", "--model", "ae", "--data", "color-mnist", "--net", "conv", "--task", "colorize", "--channels", "32,64",
                 "--latent-dim", str(latent), "--epochs", str(epochs), "--batch-size", "64", "--lr", "2e-3", "--out", str(out),
                 "--quiet", "--set", f"data.limit={limit}"]) == 0
    model = aekit.load(out)
    x = run_data(aekit.load_config(out)).x_test[:300]
    gray = (x * np.array([0.299, 0.587, 0.114], dtype=np.float32)[None, :, None, None]).sum(1, keepdims=True)
    return model, x, gray


def test_colorize_runs_end_to_end_and_reports_gray_predicted_true(tmp_path, shared_data):
    model, x, gray = _train(tmp_path / "col", 300, 1, 16)
    painted = model.colorize(gray)
    assert painted.shape == x.shape and 0 <= painted.min() and painted.max() <= 1
    np.testing.assert_allclose(model.reconstruct(x), painted, atol=1e-5)  # the encoder only ever sees the gray
    assert "Colorization (rows: grayscale input, predicted colours, true colours)" in (tmp_path / "col" / "report.html").read_text()


@pytest.mark.slow
def test_colorize_learns_colours_the_grayscale_does_not_hold(tmp_path, shared_data):
    """5 epochs on 5,000 digits (about 2 minutes): measured 0.062 against the grayscale's 0.090."""
    model, x, gray = _train(tmp_path / "col", 5000, 5, 128)
    err = np.mean((model.colorize(gray) - x) ** 2)
    baseline = np.mean((np.repeat(gray, 3, 1) - x) ** 2)  # the grayscale copied to R, G and B
    assert err < 0.8 * baseline, (err, baseline)


def test_colorize_needs_rgb_images_and_an_ae():
    with pytest.raises(AekitError, match="colorization paints RGB images"):
        build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", task="colorize")
    with pytest.raises(AekitError, match="model.task is not an option of vae"):
        build_model("vae", input_shape=[3, 28, 28], likelihood="bernoulli", task="colorize")
    m = build_model("ae", input_shape=[3, 8, 8], likelihood="bernoulli", net="conv", channels=[4])
    with pytest.raises(AekitError, match="not trained to colorize"):
        m.colorize(np.zeros((1, 8, 8), np.float32))
