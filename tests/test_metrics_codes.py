"""aekit.metrics.codes and `aekit evaluate --metrics`: figures of codes and encoders."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.metrics.codes import knn_accuracy, linear_probe_accuracy, ranking, saturated_fraction, trustworthiness
from aekit.parts.penalties import jacobian_sq_norms


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.normal(size=(n, 4)) * 0.3 + np.eye(3, 4)[y] * 4, y


def test_accuracies_separate_structure_from_chance() -> None:
    z, y = blobs()
    zt, yt = blobs(seed=1)
    assert knn_accuracy(z, y, zt, yt) == 1.0 and linear_probe_accuracy(z, y, zt, yt) == 1.0
    shuffled = np.random.default_rng(2).permutation(y)
    assert knn_accuracy(z, shuffled, zt, yt) < 0.6  # labels unrelated to the codes: near chance (1/3)


def test_trustworthiness_of_an_isometry_and_of_noise() -> None:
    x, _ = blobs(200)
    rot, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    assert trustworthiness(x, x @ rot) == pytest.approx(1.0)
    assert trustworthiness(x, np.random.default_rng(1).normal(size=(200, 2))) < 0.7


def test_jacobian_norm_of_a_linear_map_is_its_frobenius_norm() -> None:
    w = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(7, 5)), dtype=torch.float32)
    got = jacobian_sq_norms(lambda b: b @ w.T, x).sqrt()
    assert got.shape == (7,)
    assert got.numpy() == pytest.approx(np.full(7, float(torch.linalg.matrix_norm(w))), rel=1e-6)


def test_saturation_and_ranking() -> None:
    assert saturated_fraction(np.array([0.01, 0.5, 0.99, 0.96])) == 0.75
    assert ranking([0.1, 0.9, 0.8, 0.2], [0, 1, 1, 0]) == {"roc_auc": 1.0, "average_precision": 1.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aekit.train_run("ae", "digits", out=tmp_path_factory.mktemp("m") / "run", hidden=[64], latent_dim=4, epochs=20, batch_size=32,
                           lr=3e-3, progress=False, quiet=True)


def test_evaluate_reports_code_figures(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(run), "--metrics", "knn,linear-probe,trustworthiness,jacobian", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["test_knn_accuracy"] > 0.7  # 4 codes of 8×8 digits: well above chance (0.1)
    assert m["test_linear_probe_accuracy"] > 0.5
    assert 0.7 < m["test_trustworthiness"] <= 1.0
    assert m["test_jacobian_frobenius"] > 0


@pytest.mark.parametrize("metrics, expected", [
    ("knnn", "unknown metric 'knnn' (did you mean 'knn'?)"),
    ("saturation", "sigmoid units"),
])
def test_evaluate_metric_errors(run: Path, capsys: pytest.CaptureFixture[str], metrics: str, expected: str) -> None:
    assert main(["evaluate", str(run), "--metrics", metrics]) == 2
    err = capsys.readouterr().err
    assert expected in err and "fix:" in err


def test_saturation_of_sigmoid_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = aekit.train_run("ae", "digits", out=tmp_path / "s", hidden=[32], latent_dim=4, epochs=1, code_activation="sigmoid",
                          progress=False, quiet=True)
    assert main(["evaluate", str(run), "--metrics", "saturation", "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["test_saturated_fraction"] <= 1.0


def test_pca_angle_of_a_linear_ae_is_small_and_nll_needs_a_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lin = aekit.train_run("linear-ae", "digits", out=tmp_path / "lin", latent_dim=4, epochs=60, batch_size=32, lr=1e-2,
                          val_fraction=0.0, progress=False, quiet=True)
    assert main(["evaluate", str(lin), "--metrics", "pca-angle", "--json"]) == 0
    lin_angle = json.loads(capsys.readouterr().out)["test_pca_angle_deg"]
    assert 0 <= lin_angle < 15, lin_angle  # the linear AE finds PCA's subspace (2.1° measured; 88.8° untrained)
    assert main(["evaluate", str(lin), "--metrics", "nll"]) == 2
    err = capsys.readouterr().err
    assert "metric nll needs a model with a likelihood bound" in err and "fix:" in err


def test_nll_by_name_is_the_nll_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vae = aekit.train_run("vae", "digits", out=tmp_path / "vae", hidden=[32], latent_dim=2, epochs=2, progress=False, quiet=True)
    assert main(["evaluate", str(vae), "--metrics", "nll", "--k", "20", "--json"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(vae), "--nll", "--k", "20", "--json"]) == 0
    by_flag = json.loads(capsys.readouterr().out)
    assert by_name["nll_k"] == 20 and by_name["test_nll"] == by_flag["test_nll"] and by_name["test_nll"] > 0
