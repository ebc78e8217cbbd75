"""Exact resumption: 2 + 2 epochs = 4 epochs, Ctrl-C mid-epoch and resume, seeds, atomic checkpoints."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import aekit
from conftest import interrupt_on_call
import aekit.run
from aekit.cli import main
from aekit.runconfig import build_config
from aekit.models.base import Autoencoder
from aekit.train import TrainingInterrupted, load_state, save_state

TINY = ["--data", "digits", "--set", "data.limit=600", "--hidden", "32", "--latent-dim", "4", "--batch-size", "32", "--quiet"]
STEPS_PER_EPOCH = 17  # digits: 1,438 training rows, limit 600, 10 % validation → 540 rows; ceil(540 / 32)

# the stacked model pretrains each of its 2 layers (hidden 32, code 4) for one epoch first
MODEL_ARGS = {
    "ae": [],
    "denoising-ae": [],
    "stacked-ae": ["--set", "model.pretrain_epochs=1"],
}


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTML report is not what these tests are about, and costs seconds per run."""
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def train(out: Path, *extra: str) -> None:
    rc = main(["train", *TINY, "--out", str(out), *extra])
    assert rc == 0, f"aekit train {' '.join(extra)} exited {rc}"


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    assert set(a) == set(b)
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=atol), f"{k}: max |diff| {(a[k] - b[k]).abs().max().item():.3g}"


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def loss_columns(rows: list[dict[str, str]]) -> list[tuple[str, float]]:
    """The numeric cells of the history that must match exactly (not the timings), flattened."""
    skip = {"stage", "epoch_time_s", "samples_per_s"}
    return [(f"{r['stage']}:{r['epoch']}:{k}", float(v)) for r in rows for k, v in r.items() if k not in skip and v != ""]


def assert_same_history(a: Path, b: Path) -> None:
    ca, cb = loss_columns(history(a)), loss_columns(history(b))
    assert [k for k, _ in ca] == [k for k, _ in cb]
    assert [v for _, v in ca] == pytest.approx([v for _, v in cb], rel=1e-6, abs=1e-6)


def api_config(model: str = "ae", epochs: int = 4, seed: int = 0, **model_opts: Any) -> Any:
    return build_config([{
        "data": {"name": "digits", "limit": 600},
        "model": {"name": model, "hidden": [32], "latent_dim": 4, **model_opts},
        "train": {"epochs": epochs, "batch_size": 32, "seed": seed, "quiet": True},
    }])


# ---- 2 + 2 = 4 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model", list(MODEL_ARGS))
def test_two_plus_two_epochs_equal_four(tmp_path: Path, model: str) -> None:
    extra = ["--model", model, *MODEL_ARGS[model]]
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, *extra, "--epochs", "4")
    train(split, *extra, "--epochs", "2")
    n_before = len(history(split))
    train(split, *extra, "--epochs", "4", "--resume")
    rows = history(split)
    assert len(rows) > n_before
    finetune = [r for r in rows if r["stage"] in ("train", "finetune")]
    assert [int(r["epoch"]) for r in finetune] == [1, 2, 3, 4]
    if model == "stacked-ae":
        assert [r["stage"] for r in rows] == ["pretrain-1", "pretrain-2"] + ["finetune"] * 4
    else:
        assert len(rows) == 4
    assert_same_history(split, whole)
    assert_same_weights(weights(whole), weights(split))


# ---- seeds -------------------------------------------------------------------------------------

def test_same_seed_same_weights_different_seed_different_weights(tmp_path: Path) -> None:
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        train(tmp_path / name, "--model", "denoising-ae", "--epochs", "1", "--seed", seed)
    a, b, c = (weights(tmp_path / n) for n in "abc")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert any(not torch.allclose(a[k], c[k]) for k in a if a[k].is_floating_point() and a[k].numel() > 1)
    assert loss_columns(history(tmp_path / "a")) == loss_columns(history(tmp_path / "b"))


# ---- Ctrl-C ------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, opts, stop_at, where", [
    # epoch 2, after 8 of its 17 batches
    ("ae", {}, STEPS_PER_EPOCH + 9, (0, 1, 8)),
    # the corruption draws from the global RNG: its state must be restored exactly too
    ("denoising-ae", {}, STEPS_PER_EPOCH + 9, (0, 1, 8)),
    # in the middle of pretraining layer 2: the resume crosses into fine-tuning
    ("stacked-denoising-ae", {"pretrain_epochs": 1}, STEPS_PER_EPOCH + 6, (1, 0, 5)),
])
def test_ctrl_c_mid_epoch_then_resume_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str,
                                               opts: dict[str, Any], stop_at: int, where: tuple[int, int, int]) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    aekit.run.train(api_config(model, 3, **opts), whole, progress=False)

    with monkeypatch.context() as m:
        calls = interrupt_on_call(m, stop_at)
        with pytest.raises(TrainingInterrupted) as info:
            aekit.run.train(api_config(model, 3, **opts), split, progress=False)
        assert calls["n"] == stop_at
    ckpt = info.value.checkpoint
    assert ckpt is not None and Path(ckpt).is_file()
    assert Path(ckpt) == split / "checkpoints" / "last.safetensors"
    assert not (split / "model.safetensors").exists()
    pos = load_state(ckpt)["position"]
    assert (pos["stage"], pos["epoch"], pos["step"]) == where  # saved mid-epoch, not at the last epoch end
    assert not [p for p in split.rglob("*") if p.name.endswith(".tmp")]

    aekit.run.train(api_config(model, 3, **opts), split, resume=True, progress=False)
    assert_same_history(split, whole)
    assert_same_weights(weights(whole), weights(split))


def test_ctrl_c_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, "--epochs", "2")
    with monkeypatch.context() as m:
        interrupt_on_call(m, 5)
        rc = main(["train", *TINY, "--epochs", "2", "--out", str(split)])
    err = capsys.readouterr().err
    assert rc == 130
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert (split / "checkpoints" / "last.safetensors").is_file()
    train(split, "--epochs", "2", "--resume")
    assert len(history(split)) == 2
    assert_same_weights(weights(whole), weights(split))


# ---- atomic checkpoint writes ------------------------------------------------------------------

def failing_save_file(monkeypatch: pytest.MonkeyPatch, fail_on: int = 1) -> dict[str, int]:
    """safetensors' save_file inside aekit.io (state files): the fail_on-th call writes half a file, then fails."""
    import aekit.io as ckpt

    real = ckpt.save_file
    calls = {"n": 0}

    def save_file(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str] | None = None) -> None:
        calls["n"] += 1
        if calls["n"] < fail_on:
            return real(tensors, filename, metadata=metadata)
        real(tensors, filename, metadata=metadata)
        data = Path(filename).read_bytes()
        Path(filename).write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save_file", save_file)
    return calls


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoints" / "last.safetensors"
    good = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "position": {"epoch": 1}}
    save_state(path, good)
    before = path.read_bytes()
    with monkeypatch.context() as m:
        failing_save_file(m)
        with pytest.raises(OSError):
            save_state(path, {"model": {"w": torch.zeros(2, 3)}, "position": {"epoch": 2}})
    assert path.read_bytes() == before
    state = load_state(path)
    assert state["position"] == {"epoch": 1}
    assert torch.equal(state["model"]["w"], good["model"]["w"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.safetensors"]


def test_failed_checkpoint_write_during_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        failing_save_file(m, fail_on=2)  # epoch 1's checkpoint is written, epoch 2's fails halfway
        with pytest.raises(OSError):
            aekit.run.train(api_config("ae", 3), run, progress=False)
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.safetensors"]
    assert not [p for p in run.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    state = load_state(ckpts / "last.safetensors")
    assert (state["position"]["epoch"], state["position"]["step"]) == (1, 0)
    model = aekit.load(run, checkpoint="last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # and training carries on from it
    aekit.run.train(api_config("ae", 3), run, resume=True, progress=False)
    assert len(history(run)) == 3
    assert (run / "model.safetensors").is_file()


def test_corrupt_checkpoint_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    train(run, "--epochs", "1")
    last = run / "checkpoints" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:100])
    capsys.readouterr()
    rc = main(["train", *TINY, "--epochs", "2", "--resume", "--out", str(run)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error:") and "fix:" in err and "Traceback" not in err
    assert "last.safetensors" in err


def test_resume_with_a_new_learning_rate_uses_it(tmp_path: Path) -> None:
    run = tmp_path / "lr"
    train(run, "--epochs", "1", "--lr", "1e-3")
    train(run, "--epochs", "2", "--lr", "1e-4", "--resume")
    rows = history(run)
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 1e-4])
