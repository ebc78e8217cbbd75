"""End to end through the ``aekit`` command: in-process via ``aekit.cli.main`` and as a real subprocess.

Every test uses tiny networks on small data so that the whole file runs in seconds on one core.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

import aekit
from aekit.cli import main
from aekit.run import _report as REAL_REPORT
from conftest import assert_user_error, cli

AEKIT_EXE = Path(sys.executable).parent / "aekit"
TINY = ["--hidden", "32", "--latent-dim", "4", "--batch-size", "32", "--quiet"]
DIGITS = ["--data", "digits", "--set", "data.limit=600"]
PRESETS = ["ae", "linear-ae", "sparse-ae", "denoising-ae", "contractive-ae", "stochastic-contractive-ae",
           "stacked-ae", "stacked-denoising-ae", "vae", "cvae", "aae"]
DATASETS = ["mnist", "fashion-mnist", "kmnist", "binarized-mnist", "mnist-sample", "digits", "swiss-roll", "s-curve"]




def subprocess_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def read_history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small run on digits shared by the read-only tests of this file."""
    import aekit.run

    run = tmp_path_factory.mktemp("cli") / "run"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(aekit.run, "_report", lambda *a, **k: None)  # see test_train_writes_the_html_report
        rc = main(["train", *DIGITS, *TINY, "--epochs", "2", "--out", str(run)])
    assert rc == 0
    return run


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTML report costs seconds of matplotlib: only test_train_writes_the_html_report writes one."""
    import aekit.run

    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


@pytest.fixture
def arrays(tmp_path: Path) -> Path:
    """A folder of small data files, good and bad."""
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    d.mkdir()
    np.save(d / "x64.npy", rng.random((200, 64), dtype=np.float32))
    np.save(d / "x10.npy", rng.random((50, 10), dtype=np.float32))
    a = rng.random((50, 10)).astype(np.float32)
    a[3, 4] = np.nan
    np.save(d / "nan.npy", a)
    raw = (d / "x64.npy").read_bytes()
    (d / "truncated.npy").write_bytes(raw[: len(raw) // 2])
    (d / "empty.csv").write_text("")
    (d / "ragged.csv").write_text("1,2,3\n4,5,6\n7,8\n")
    np.savez(d / "labels.npz", x=rng.random((10, 5)), y=np.arange(9))
    np.save(d / "wide.npy", (rng.standard_normal((300, 20)) * 1000).astype(np.float32))
    return d


# ---- subprocess ---------------------------------------------------------------------------------

@pytest.mark.skipif(not AEKIT_EXE.exists(), reason=f"console script {AEKIT_EXE} not installed")
def test_console_script_version() -> None:
    p = subprocess.run([str(AEKIT_EXE), "--version"], capture_output=True, text=True, timeout=60, env=subprocess_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"aekit {aekit.__version__}"


def test_python_dash_m_aekit_runs_the_command() -> None:
    p = subprocess.run([sys.executable, "-m", "aekit", "--version"], capture_output=True, text=True, timeout=60,
                       env=subprocess_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"aekit {aekit.__version__}"
    p = subprocess.run([sys.executable, "-m", "aekit", "benchmark", "--list"], capture_output=True, text=True, timeout=60,
                       env=subprocess_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("linear-pca ")


@pytest.mark.skipif(not AEKIT_EXE.exists(), reason=f"console script {AEKIT_EXE} not installed")
def test_console_script_train_help_lists_every_flag_with_default() -> None:
    p = subprocess.run([str(AEKIT_EXE), "train", "--help"], capture_output=True, text=True, timeout=60,
                       env={**subprocess_env(), "COLUMNS": "200"})
    assert p.returncode == 0, p.stderr
    text = p.stdout
    lines: dict[str, str] = {}  # option → its whole help entry (continuation lines joined)
    current = None
    for line in text.splitlines():
        s = line.strip()
        if line.startswith("  -"):
            current = s.split()[0].rstrip(",")
            if current == "-h":
                current = "--help"
            lines[current] = s
        elif current and line.startswith("    ") and s:
            lines[current] += " " + s
        else:
            current = None
    expected = {
        "--model": "[default: ae]", "--data": "[default: mnist-sample]", "--net": "[default: mlp]",
        "--latent-dim": "[default: 32]", "--hidden": "[default: 512,256]", "--likelihood": "[default: auto]",
        "--epochs": "[default: 20]", "--batch-size": "[default: 128]", "--lr": "[default: 0.001]",
        "--seed": "[default: 0]", "--device": "[default: auto]", "--out": "[default: runs/<model>-<data>",
        "--config": "[default: none]", "--resume": "", "--quiet": "", "--set": "",
    }
    for flag, default in expected.items():
        assert flag in lines, f"{flag} missing from `aekit train --help`:\n{text}"
        assert default in lines[flag], f"{flag}: {default!r} not in {lines[flag]!r}"
    # a default is stated once: never "[default: ae] (default: None)"
    assert "(default: None)" not in text


# ---- train and the run folder -------------------------------------------------------------------

def test_train_writes_a_complete_run_folder(trained: Path) -> None:
    for name in ("config.yaml", "model.safetensors", "metrics.json", "history.csv", "checkpoints/last.safetensors"):
        assert (trained / name).is_file(), name
    rows = read_history(trained)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:
        assert float(r["epoch_time_s"]) > 0
        assert float(r["samples_per_s"]) > 0
        assert np.isfinite(float(r["loss"]))
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert np.isfinite(metrics["test_mse"])
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    assert cfg["model"]["name"] == "ae"
    assert cfg["model"]["hidden"] == [32] and cfg["model"]["latent_dim"] == 4
    assert cfg["model"]["input_shape"] == [1, 8, 8]
    assert cfg["data"]["name"] == "digits" and cfg["data"]["limit"] == 600
    assert cfg["train"]["epochs"] == 2 and cfg["train"]["batch_size"] == 32
    # no temporary files left behind by the atomic writes
    assert not [p for p in trained.rglob("*") if p.name.endswith(".tmp")]


def test_train_prints_the_run_folder_and_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "loud"
    rc, out, err = cli(capsys, "train", *DIGITS, "--hidden", "32", "--latent-dim", "4", "--epochs", "1", "--out", run)
    assert rc == 0, err
    assert f"run folder: {run}" in out
    assert "test_mse" in out
    assert "Traceback" not in err


def test_train_writes_the_html_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import aekit.run

    monkeypatch.setattr(aekit.run, "_report", REAL_REPORT)
    run = tmp_path / "run"
    rc, out, err = cli(capsys, "train", *DIGITS, "--hidden", "32", "--latent-dim", "4", "--epochs", "1", "--out", run)
    assert rc == 0, err
    html = (run / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert f"report: {run / 'report.html'}" in out


def test_load_reproduces_the_trained_model(trained: Path) -> None:
    from aekit.data import prepare

    model = aekit.load(trained)
    saved = load_file(str(trained / "model.safetensors"))
    state = model.state_dict()
    assert set(saved) == set(state)
    for k, v in saved.items():
        assert torch.equal(state[k], v), k
    # the loaded model gives the test figures the run reported
    cfg = aekit.load_config(trained)
    data = prepare(cfg.data, cfg.train.seed)
    rec = model.reconstruct(data.x_test)
    assert rec.shape == data.x_test.shape
    metrics = json.loads((trained / "metrics.json").read_text())
    assert np.mean((rec.astype(np.float64) - data.x_test) ** 2) == pytest.approx(metrics["test_mse"], rel=1e-5)
    # and the last checkpoint holds the same weights
    last = aekit.load(trained, checkpoint="last")
    for k, v in last.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_evaluate_json(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "evaluate", trained, "--json")
    assert rc == 0, err
    metrics = json.loads(out)
    assert np.isfinite(metrics["test_mse"])
    assert metrics["n"] == 359  # digits: 20 % of 1,797 held out as the test split
    written = sorted(trained.glob("eval-*.json"))
    assert written, "evaluate wrote no eval-*.json"
    assert any(json.loads(p.read_text())["test_mse"] == metrics["test_mse"] for p in written)
    ref = json.loads((trained / "metrics.json").read_text())
    assert metrics["test_mse"] == pytest.approx(ref["test_mse"], rel=1e-5)


def test_evaluate_corrupted(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "evaluate", trained, "--corrupt", "masking:0.25", "--json")
    assert rc == 0, err
    metrics = json.loads(out)
    assert np.isfinite(metrics["psnr_corrupted_db"])
    assert np.isfinite(metrics["psnr_restored_db"])
    assert metrics["corruption"] == "masking:0.25"


def test_evaluate_bad_corruption_is_a_user_error(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "evaluate", trained, "--corrupt", "masking:lots")
    assert_user_error(rc, err, "masking:lots")


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_encode(trained: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / f"codes{suffix}"
    rc, out, err = cli(capsys, "encode", trained, "--out", out_file)
    assert rc == 0, err
    codes = np.load(out_file) if suffix == ".npy" else np.loadtxt(out_file, delimiter=",", ndmin=2)
    assert codes.shape == (359, 4)
    assert np.isfinite(codes).all()
    # the same codes as the Python API
    from aekit.data import prepare

    cfg = aekit.load_config(trained)
    x_test = prepare(cfg.data, cfg.train.seed).x_test
    np.testing.assert_allclose(codes, aekit.load(trained).encode(x_test), rtol=1e-5, atol=1e-5)


def test_encode_unsupported_extension(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "encode", trained, "--out", tmp_path / "codes.txt")
    assert_user_error(rc, err, ".txt")


def test_reconstruct_npy_and_png(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "reconstruct", trained, "--out", tmp_path / "r.npy")
    assert rc == 0, err
    rec = np.load(tmp_path / "r.npy")
    assert rec.shape == (359, 1, 8, 8)
    assert np.isfinite(rec).all() and rec.min() >= 0 and rec.max() <= 1
    rc, out, err = cli(capsys, "reconstruct", trained, "--out", tmp_path / "r2.npy", "--png", tmp_path / "g.png")
    assert rc == 0, err
    png = (tmp_path / "g.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(tmp_path / "g.png") as im:
        assert im.size[0] > 8 and im.size[1] > 8


def test_reconstruct_needs_an_output(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "reconstruct", trained)
    assert_user_error(rc, err, "--out")


def test_models_lists_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = cli(capsys, "models")
    assert rc == 0, err
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    from aekit.models import all_specs

    assert sorted(names) == sorted(s.name for s in all_specs())  # every registered preset, once
    assert set(PRESETS) <= set(names)  # including every one the issues name


def test_datasets_lists_every_named_set_with_availability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "nothing-here"
    rc, out, err = cli(capsys, "datasets", "--data-dir", empty)
    assert rc == 0, err
    status = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in DATASETS:
            status[parts[0]] = parts[1]
    assert sorted(status) == sorted(DATASETS), out
    # embedded and generated sets are always there; the downloads are not in an empty folder
    for name in ("mnist-sample", "digits", "swiss-roll", "s-curve"):
        assert status[name] == "available", out
    for name in ("mnist", "fashion-mnist", "kmnist"):
        assert status[name] == "download", out
    assert str(empty) in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = cli(capsys)
    assert rc == 2
    assert "train" in out and "evaluate" in out


# ---- configuration: YAML < flags < --set -------------------------------------------------------

def test_config_layers_yaml_then_flags_then_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({
        "data": {"name": "digits", "limit": 300},
        "model": {"hidden": [16], "latent_dim": 3, "l1": 0.01},
        "train": {"epochs": 1, "batch_size": 16, "lr": 0.01, "seed": 5},
    }))
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--config", conf, "--quiet", "--out", run,
                     "--latent-dim", "4", "--lr", "0.02", "--seed", "6",   # flags over YAML
                     "--set", "train.lr=0.03", "--set", "model.l1=0")       # --set over flags and YAML
    assert rc == 0, err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["name"] == "digits" and saved["data"]["limit"] == 300   # YAML only
    assert saved["model"]["hidden"] == [16]                                       # YAML only
    assert saved["train"]["batch_size"] == 16 and saved["train"]["epochs"] == 1  # YAML only
    assert saved["model"]["latent_dim"] == 4                                      # flag over YAML
    assert saved["train"]["seed"] == 6                                            # flag over YAML
    assert saved["train"]["lr"] == pytest.approx(0.03)                            # --set over flag
    assert saved["model"]["l1"] == 0                                              # --set over YAML
    assert len(read_history(run)) == 1


def test_unknown_yaml_key_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text("train:\n  epoch: 3\n")
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--config", conf, "--out", tmp_path / "run")
    assert_user_error(rc, err, "train.epoch", "train.epochs")
    assert not (tmp_path / "run").exists()


def test_unknown_set_key_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--set", "model.latent_dims=3", "--out", tmp_path / "run")
    assert_user_error(rc, err, "model.latent_dims", "model.latent_dim")


def test_unknown_section_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text("trian:\n  epochs: 3\n")
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--config", conf, "--out", tmp_path / "run")
    assert_user_error(rc, err, "trian", "'train'")


def test_unknown_model_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--model", "denoisng-ae", "--out", tmp_path / "run")
    assert_user_error(rc, err, "denoisng-ae", "did you mean 'denoising-ae'")


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--config", tmp_path / "nope.yaml", "--out", tmp_path / "run")
    assert_user_error(rc, err, "nope.yaml")


def test_bad_value_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--set", "train.epochs=many", "--out", tmp_path / "run")
    assert rc == 2 and err.startswith("error:") and "train.epochs" in err and "Traceback" not in err


# ---- bad inputs: exit 2, "error:" and "fix:", no traceback --------------------------------------

@pytest.mark.parametrize("name, needles", [
    ("missing.npy", ["missing.npy", "does not exist"]),
    ("truncated.npy", ["truncated.npy", "truncated"]),
    ("nan.npy", ["nan.npy", "NaN"]),
    ("empty.csv", ["empty.csv", "empty"]),
    ("ragged.csv", ["ragged.csv", "line 3"]),
    ("labels.npz", ["labels.npz", "9 labels for 10 examples"]),
])
def test_bad_data_files(arrays: Path, tmp_path: Path, name: str, needles: list[str],
                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--data", arrays / name, *TINY, "--epochs", "1", "--out", run)
    assert_user_error(rc, err, *needles)
    assert not (run / "checkpoints").exists()


def test_bernoulli_on_data_outside_unit_interval(arrays: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", "--data", arrays / "wide.npy", "--likelihood", "bernoulli", *TINY,
                     "--epochs", "1", "--out", tmp_path / "run")
    assert_user_error(rc, err, "Bernoulli")
    assert "--likelihood gaussian" in err or "--scale minmax" in err


def test_auto_likelihood_on_data_outside_unit_interval_is_gaussian(arrays: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--data", arrays / "wide.npy", "--scale", "standard", *TINY, "--epochs", "1", "--out", run)
    assert rc == 0, err
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["likelihood"] == "gaussian"


def test_encode_data_of_the_wrong_width(arrays: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--data", arrays / "x64.npy", *TINY, "--epochs", "1", "--out", run)
    assert rc == 0, err
    # another file of the right width: all of its rows, in file order
    x = np.load(arrays / "x64.npy")[:30]
    np.save(arrays / "other64.npy", x)
    rc, out, err = cli(capsys, "encode", run, "--data", arrays / "other64.npy", "--out", tmp_path / "ok.npy")
    assert rc == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "ok.npy"), aekit.load(run).encode(x), rtol=1e-5, atol=1e-6)
    rc, _, err = cli(capsys, "encode", run, "--data", arrays / "x10.npy", "--out", tmp_path / "bad.npy")
    assert_user_error(rc, err, "64", "10")
    assert not (tmp_path / "bad.npy").exists()


def test_resume_without_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--epochs", "1", "--resume", "--out", tmp_path / "nothing")
    assert_user_error(rc, err, "--resume")


def test_resume_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--epochs", "1", "--resume")
    assert_user_error(rc, err, "--out")


def test_train_into_an_existing_run(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (trained / "model.safetensors").read_bytes()
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--epochs", "1", "--out", trained)
    assert_user_error(rc, err, "already holds a run", "--resume")
    assert (trained / "model.safetensors").read_bytes() == before


def test_commands_on_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["evaluate", tmp_path], ["encode", tmp_path, "--out", tmp_path / "c.npy"],
                ["reconstruct", tmp_path, "--out", tmp_path / "r.npy"]):
        rc, _, err = cli(capsys, *cmd)
        assert_user_error(rc, err, "not a run folder")


def test_unknown_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "train", *DIGITS, *TINY, "--epochs", "1", "--device", "tpu", "--out", tmp_path / "run")
    assert_user_error(rc, err, "tpu")


# ---- divergence --------------------------------------------------------------------------------

def test_nan_loss_from_a_huge_learning_rate(arrays: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--data", arrays / "wide.npy", "--likelihood", "gaussian", *TINY,
                     "--epochs", "3", "--lr", "1e30", "--out", run)
    assert_user_error(rc, err, "NaN", "lower the learning rate")
    assert not (run / "model.safetensors").exists()
    assert not (run / "checkpoints" / "last.safetensors").exists()  # it diverged in the first epoch


def test_nan_loss_keeps_the_last_good_checkpoint(arrays: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Epoch 1 at lr 1e-3 is fine, then a step schedule multiplies the lr by 1e30 and epoch 2 diverges."""
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", "--data", arrays / "wide.npy", "--likelihood", "gaussian", *TINY,
                     "--epochs", "3", "--set", "train.schedule=step", "--set", "train.step_size=1",
                     "--set", "train.gamma=1e30", "--out", run)
    assert_user_error(rc, err, "NaN", "epoch 2", "lower the learning rate", "last good checkpoint")
    assert not (run / "model.safetensors").exists()
    model = aekit.load(run, checkpoint="last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    from aekit.train import load_state

    state = load_state(run / "checkpoints" / "last.safetensors")
    assert state["position"]["epoch"] == 1 and len(state["position"]["history"]) == 1
    codes = model.encode(np.load(arrays / "wide.npy")[:10])
    assert codes.shape == (10, 4) and np.isfinite(codes).all()
