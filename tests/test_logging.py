"""Progress a user sees (the same from Python as from the CLI) and training logs beside history.csv."""
from __future__ import annotations

import builtins
import csv

import pytest

import aekit
import aekit.run
from aekit.cli import main
from aekit.errors import AekitError

OPTS = dict(limit=300, hidden=[16], latent_dim=3, batch_size=64, epochs=2)


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def test_train_run_shows_the_cli_progress_unless_asked_not_to(tmp_path, capsys):
    capsys.readouterr()
    aekit.train_run("ae", "digits", out=tmp_path / "a", **OPTS)
    err = capsys.readouterr().err
    assert "epoch 1/2:" in err and "epoch 2/2:" in err and "loss" in err  # one line per epoch
    aekit.train_run("ae", "digits", out=tmp_path / "b", progress=False, **OPTS)
    assert "epoch" not in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--set", "data.limit=300", "--hidden", "16", "--latent-dim", "3",
                 "--epochs", "2", "--out", str(tmp_path / "c")]) == 0
    cli_err = capsys.readouterr().err
    assert "epoch 1/2:" in cli_err and "epoch 2/2:" in cli_err


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_log_holds_every_history_column(tmp_path):
    pytest.importorskip("tensorboard", reason="the optional tensorboard package is not installed")
    run = aekit.train_run("vae", "digits", out=tmp_path / "tb", log=["tensorboard"], quiet=True, **OPTS)
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert events, "no event file written"
    s = _scalars(run / "tensorboard")
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [v for _, v in s["loss/train"]] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-6)
    assert [v for _, v in s["loss/val"]] == pytest.approx([float(r["val_loss"]) for r in rows], rel=1e-6)
    assert [st for st, _ in s["kl/train"]] == [0, 1] and "train/lr" in s
    # a resumed run appends its epochs after the first ones
    aekit.train_run(out=run, resume=True, epochs=3, progress=False)
    s = _scalars(run / "tensorboard")
    assert [st for st, _ in s["loss/train"]] == [0, 1, 2]


def test_tensorboard_not_installed_is_a_clear_error_before_anything_is_written(tmp_path, monkeypatch, capsys):
    real = builtins.__import__

    def no_tensorboard(name, *a, **k):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    run = tmp_path / "r"
    with pytest.raises(AekitError, match=r"pip install 'aekit\[tensorboard\]'"):
        aekit.train_run("ae", "digits", out=run, log=["tensorboard"], **OPTS)
    assert not run.exists() or not any(run.iterdir())
