"""Evaluation: figures named after the split, in the data's own units (and saying so), corruption in
batches, one importance sampler (with a progress bar) for every model with a bound."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

import aekit
import aekit.run
from aekit.cli import main
from aekit.evaluate import denoising_psnr
from aekit.models import build_model

DIGITS = ["--data", "digits", "--set", "data.limit=400", "--hidden", "16", "--latent-dim", "3", "--epochs", "2", "--quiet"]


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def evaluate(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(["evaluate", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_figures_are_named_after_the_split(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *DIGITS, "--out", str(run)]) == 0
    for split in ("val", "train", "test"):
        m = evaluate(capsys, run, "--split", split)
        figures = [k for k in m if k not in ("data", "n", "units", "warnings")]
        assert figures and all(k.startswith(split + "_") for k in figures), figures
        assert {f"{split}_loss", f"{split}_mse", f"{split}_psnr_db"} <= set(m)
        assert "mse" in m["units"] and "data's own units" in m["units"]["mse"]
    assert (run / "eval-digits_val_.json").is_file()


def test_mse_is_in_the_data_units_when_the_run_scales_its_inputs(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--data", "swiss-roll", "--scale", "standard", "--likelihood", "gaussian", "--hidden", "16",
                 "--latent-dim", "2", "--epochs", "2", "--quiet", "--out", str(run)]) == 0
    m = evaluate(capsys, run)
    cfg = aekit.load_config(run)
    from aekit.data import prepare

    x = prepare(cfg.data, cfg.train.seed).x_test  # the test split in the data's own units
    rec = aekit.load(run).reconstruct(x)
    assert m["test_mse"] == pytest.approx(float(np.mean((x.astype(np.float64) - rec) ** 2)), rel=1e-5)
    assert "scaled data" in m["units"]["loss terms"]
    assert json.loads((run / "metrics.json").read_text())["test_mse"] == pytest.approx(m["test_mse"], rel=1e-6)


def test_corruption_runs_in_batches(monkeypatch):
    torch.manual_seed(0)
    m = build_model("denoising-ae", input_shape=[16], likelihood="bernoulli", hidden=[8], latent_dim=4)
    x = np.random.default_rng(0).random((50, 16)).astype(np.float32)
    sizes = []
    real = type(m).recon_params

    def spy(self, b, y=None):
        sizes.append(len(b))
        return real(self, b, y)

    monkeypatch.setattr(type(m), "recon_params", spy)
    out = denoising_psnr(m, x, "masking", 0.5, batch_size=16)
    assert sizes and max(sizes) <= 16 and sum(sizes) == 50
    assert out["psnr_corrupted_db"] < 100 and np.isfinite(out["psnr_restored_db"])
    assert out == denoising_psnr(m, x, "masking", 0.5, batch_size=16)  # seeded: the same noise each time


def test_one_importance_sampler_with_one_default_k_and_a_progress_bar(monkeypatch, capsys):
    from aekit.models.cvae import CVAE
    from aekit.models.vae import VAE

    k_vae = inspect.signature(VAE.log_likelihood).parameters["k"].default
    k_cvae = inspect.signature(CVAE.log_likelihood).parameters["k"].default
    assert k_vae == k_cvae == 1000
    import aekit.progress

    monkeypatch.setattr(aekit.progress, "interactive", lambda: True)
    torch.manual_seed(0)
    x = torch.rand(6, 12)
    for model in (build_model("vae", input_shape=[12], likelihood="bernoulli", hidden=[8], latent_dim=2),
                  build_model("cvae", input_shape=[12], likelihood="bernoulli", hidden=[8], latent_dim=2, n_classes=3,
                              classifier_hidden=[4])):
        capsys.readouterr()
        ll = model.log_likelihood(x, k=3, batch_size=2)
        assert ll.shape == (6,) and torch.isfinite(ll).all()
        assert "log p(x), k=3" in capsys.readouterr().err, type(model).__name__
