"""aekit denoise: corrupted vs restored inputs, the lecture's grid; and classify of the models that predict a class."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.tasks.denoise import denoise


@pytest.fixture(scope="module")
def dae(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    # trained on the lecture's corruption: half of the pixels masked
    return aekit.train_run("denoising-ae", "mnist", out=tmp_path_factory.mktemp("dn") / "dae", limit=6000, hidden=[256],
                           latent_dim=32, epochs=12, lr=3e-3, noise_level=0.5, progress=False, quiet=True)


def test_denoise_restores_masked_and_salted_digits(dae: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "restored.npy", tmp_path / "grid.png"
    assert main(["denoise", str(dae), "--corrupt", "masking:0.5", "--corrupt", "salt-pepper:0.5", "--out", str(out),
                 "--png", str(png), "--json"]) == 0
    figs = json.loads(capsys.readouterr().out)
    assert figs["n"] == 10000 and [c["corruption"] for c in figs["corruptions"]] == ["masking:0.5", "salt-pepper:0.5"]
    # the lecture's claim: the restored digits are closer to the clean ones (by 6 dB for the corruption
    # it was trained on, 20 epochs on 10,000 digits; salt and pepper it never saw gains less)
    masked, salted = figs["corruptions"]
    assert masked["psnr_gain_db"] > 4 and salted["psnr_gain_db"] > 0, figs
    for kind in ("masking-0.5", "salt-pepper-0.5"):
        r = np.load(tmp_path / f"restored_{kind}.npy")
        assert r.shape == (10000, 1, 28, 28) and 0 <= r.min() and r.max() <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((dae / "denoise-mnist_test_.json").read_text()) == figs
    # the same figures as `aekit evaluate --corrupt` (same seed, same split)
    assert main(["evaluate", str(dae), "--corrupt", "masking:0.5", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["psnr_restored_db"] == pytest.approx(figs["corruptions"][0]["psnr_restored_db"], abs=1e-9)
    assert ev["psnr_corrupted_db"] == pytest.approx(figs["corruptions"][0]["psnr_corrupted_db"], abs=1e-9)


def test_denoise_python_api_is_seeded_and_in_data_units(dae: Path) -> None:
    model = aekit.load(dae)
    x = (np.random.default_rng(0).random((50, 28, 28)) > 0.5).astype(np.uint8) * 255  # integer pixels: ÷ 255
    a, b = denoise(model, x, "masking:0.5", seed=1)[0], denoise(model, x, ["masking:0.5"], seed=1)[0]
    np.testing.assert_array_equal(a.noisy, b.noisy)
    assert a.noisy.shape == (50, 1, 28, 28) and set(np.unique(a.noisy)) <= {0.0, 1.0}
    masked = (a.noisy == 0) & (x[:, None] == 255)
    assert 0.4 < masked.sum() / (x == 255).sum() < 0.6  # half of the ink masked
    assert not np.array_equal(a.noisy, denoise(model, x, "masking:0.5", seed=2)[0].noisy)


@pytest.mark.parametrize("args, expected", [
    (["--corrupt", "masking"], "is not KIND:LEVEL"),
    (["--corrupt", "blur:0.5"], "blur"),
    (["--corrupt", "masking:-1"], ">= 0"),
    (["--out", "x.png"], "cannot write x.png"),
    (["-n", "0"], "-n must be >= 1"),
])
def test_denoise_errors(dae: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert main(["denoise", str(dae), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("error:")


def test_denoise_grid_needs_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(0).uniform(size=(300, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = aekit.train_run("denoising-ae", str(tmp_path / "x.npy"), out=tmp_path / "r", hidden=[16], latent_dim=4, epochs=1,
                          progress=False, quiet=True)
    assert main(["denoise", str(run), "--png", str(tmp_path / "g.png")]) == 2
    assert "fix: drop --png" in capsys.readouterr().err
    assert main(["denoise", str(run), "--corrupt", "gaussian:0.2", "--out", str(tmp_path / "r.csv")]) == 0
    assert np.loadtxt(tmp_path / "r.csv", delimiter=",").shape[1] == 12


def test_classify_a_cvae(tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = aekit.train_run("cvae", "mnist", out=tmp_path / "m2", limit=6000, epochs=3, progress=False, quiet=True)
    assert main(["classify", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classifier"] == "cvae: q(y | x)" and out["n"] == 10000
    assert out["accuracy"] > 0.8, out["accuracy"]  # supervised M2's q(y|x) after 3 epochs on 6,000 digits
    assert set(out["per_class_accuracy"]) == {str(d) for d in range(10)}
    from aekit.run import run_data
    from aekit.runconfig import load_config
    from aekit.tasks.classify import classify

    x, y = run_data(load_config(run)).split("test")
    got = classify(run, x[:500], y[:500])
    np.testing.assert_array_equal(got.predictions, aekit.load(run).classify(x[:500]))
    assert got.figures["accuracy"] == pytest.approx(np.mean(got.predictions == y[:500]))
