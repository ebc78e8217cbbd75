"""The core issue's acceptance figures on full MNIST (long: run with `make test-slow`)."""
from __future__ import annotations

import numpy as np
import pytest

import aekit
from aekit.data import load_raw
from aekit.metrics import mse, pca_fit, pca_reconstruct, reconstruction_span_angle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist(shared_data):
    raw = load_raw("mnist")
    return raw.x_train, raw.x_test


def test_linear_ae_learns_the_pca_subspace(mnist, tmp_path):
    x_train, x_test = mnist
    run = aekit.train_run("linear-ae", "mnist", out=tmp_path / "lin", latent_dim=16, epochs=20, val_fraction=0.0)
    rec = aekit.load(run).reconstruct(x_test)
    mu, comps = pca_fit(x_train, 16)
    assert reconstruction_span_angle(rec, comps, 16) < 5.0
    assert mse(x_test, rec) <= 1.02 * mse(x_test, pca_reconstruct(x_test, mu, comps))


def test_deep_ae_beats_pca_by_the_issue_margin(mnist, tmp_path):
    x_train, x_test = mnist
    run = aekit.train_run("ae", "mnist", out=tmp_path / "ae", hidden=[512, 256], latent_dim=32, epochs=10, val_fraction=0.0)
    rec = aekit.load(run).reconstruct(x_test)
    mu, comps = pca_fit(x_train, 32)
    assert mse(x_test, rec) <= 0.45 * mse(x_test, pca_reconstruct(x_test, mu, comps))
    assert np.isfinite(rec).all()
