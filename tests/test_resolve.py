"""What a run takes from its data: the auto likelihood (Bernoulli only for binary data and [0, 1]
images, with its reason printed and saved) and a Bernoulli model's clipping of test values that a
min-max scaling fitted on the training split pushes out of [0, 1] (said, and counted)."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import yaml

import aekit
import aekit.run
from aekit.resolve import auto_likelihood

OPTS = dict(hidden=[16], latent_dim=2, epochs=1, batch_size=64, quiet=True)


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def test_the_auto_rule():
    rng = np.random.default_rng(0)
    assert auto_likelihood((rng.random((20, 5)) > 0.5).astype(np.float32), "vectors")[0] == "bernoulli"
    assert auto_likelihood(rng.random((20, 1, 4, 4)).astype(np.float32), "images")[0] == "bernoulli"
    lik, why = auto_likelihood(rng.random((20, 5)).astype(np.float32), "vectors")  # [0, 1] but not binary, not images
    assert lik == "gaussian" and "not binary" in why
    assert auto_likelihood(rng.normal(size=(20, 1, 4, 4)).astype(np.float32), "images")[0] == "gaussian"


def test_a_minmax_scaled_table_gets_a_gaussian_and_the_reason_is_saved_and_printed(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="aekit"):
        run = aekit.train_run("ae", "swiss-roll", out=tmp_path / "r", scale="minmax", **OPTS)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["model"]["likelihood"] == "gaussian"
    assert cfg["notes"]["likelihood"].startswith("auto → gaussian: vectors with values in [0, 1]")
    assert "likelihood: auto → gaussian" in caplog.text


def test_images_in_0_1_get_a_bernoulli_with_the_reason(tmp_path):
    run = aekit.train_run("ae", "digits", out=tmp_path / "r", limit=300, **OPTS)
    assert aekit.load_config(run).notes["likelihood"] == "auto → bernoulli: images with values in [0, 1] (grey levels read as probabilities)"


def test_bernoulli_test_values_outside_0_1_are_clipped_and_counted(tmp_path, caplog):
    rng = np.random.default_rng(0)
    x = (rng.random((400, 6)) > 0.5).astype(np.float32) * 2.0  # binary 0/2: min-max fits it to 0/1
    x_test = x[:50].copy()
    x_test[:5, 0] = 3.0  # beyond the training maximum: 1.5 after the scaling
    np.savez(tmp_path / "d.npz", x_train=x, x_test=x_test)
    with caplog.at_level(logging.WARNING, logger="aekit"):
        run = aekit.train_run("ae", str(tmp_path / "d.npz"), out=tmp_path / "r", scale="minmax", **OPTS)
    assert aekit.load_config(run).model.likelihood == "bernoulli"  # binary training data
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_values_clipped"] == 5
    assert "5 values outside [0, 1]" in caplog.text and "clipped" in caplog.text
    assert np.isfinite(metrics["test_recon"]) and metrics["test_recon"] >= 0  # a Bernoulli NLL of clipped values
