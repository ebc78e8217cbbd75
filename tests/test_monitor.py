"""train.monitor: early stopping, its best checkpoint and the plateau schedule watch a validation term
other than the loss, e.g. the classification error of the semi-supervised models (real digits)."""
from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from safetensors.torch import load_file

import aekit
from aekit.errors import AekitError
from aekit.evaluate import evaluate_model
from aekit.io import load_state
from aekit.run import run_data, scale
from aekit.runconfig import load_config
from aekit.train.checkpoint import Position

SMALL = dict(limit=1200, labels=50, hidden=[64], classifier_hidden=[64], latent_dim=8, batch_size=100, quiet=True)


@pytest.fixture
def no_report(monkeypatch):
    monkeypatch.setattr("aekit.run._report", lambda *a, **k: None)


def _history(run) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_monitor_error_keeps_the_epoch_of_least_validation_error(tmp_path, no_report):
    out = aekit.train_run("cvae", "mnist-sample", out=tmp_path / "r", epochs=6, seed=1, monitor="error", early_stopping=6,
                          lr=3e-3, **SMALL)
    rows = _history(out)
    assert len(rows) == 6  # a patience of the whole run never stops
    errors = [float(r["val_error"]) for r in rows]
    best = min(range(6), key=lambda i: (errors[i], i)) + 1
    assert best < 6  # on this seed the error is least before the loss is: the test tells the two apart
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selected"] == {"epoch": best, "monitor": "val_error", "value": pytest.approx(errors[best - 1])}
    assert metrics["val_loss"] == pytest.approx(float(rows[best - 1]["val_loss"]))  # the kept epoch's, not the last's
    # model.safetensors holds that epoch's weights: its validation error is the history's
    data = run_data(load_config(out))
    got = evaluate_model(aekit.load(out), scale(data, data.x_val), data.y_val, split="val")["val_error"]
    assert got == pytest.approx(errors[best - 1], abs=1e-6)
    saved, best_ckpt = load_file(out / "model.safetensors"), load_state(out / "checkpoints" / "best.safetensors", "cpu")["model"]
    assert saved.keys() == best_ckpt.keys() and all(torch.equal(v, best_ckpt[k]) for k, v in saved.items())


def test_the_semi_supervised_aae_reports_a_validation_error(tmp_path, no_report):
    out = aekit.train_run("aae-semi", "mnist-sample", out=tmp_path / "r", epochs=1, limit=600, labels=50, quiet=True,
                          monitor="error", early_stopping=1)
    err = float(_history(out)[0]["val_error"])
    assert 0 <= err <= 1 and json.loads((out / "metrics.json").read_text())["selected"]["epoch"] == 1


def test_monitor_alone_has_no_effect(tmp_path):
    with pytest.raises(AekitError, match="train.monitor='error' has no effect"):
        aekit.train_run("cvae", "mnist-sample", out=tmp_path / "r", epochs=1, monitor="error", **SMALL)
    assert not (tmp_path / "r").exists()


def test_a_term_the_model_lacks_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(AekitError, match="no such validation term") as e:
        aekit.train_run("ae", "mnist-sample", out=tmp_path / "r", epochs=1, limit=300, monitor="error", early_stopping=2,
                        quiet=True)
    assert "recon" in e.value.hint and "labels of the validation split" in e.value.hint
    assert not (tmp_path / "r" / "config.yaml").exists()


def test_the_val_prefix_is_refused_with_the_fix(tmp_path):
    with pytest.raises(AekitError, match="without its val_ prefix") as e:
        aekit.train_run("cvae", "mnist-sample", out=tmp_path / "r", epochs=1, monitor="val_error", early_stopping=2, **SMALL)
    assert "train.monitor=error" in e.value.hint


def test_checkpoints_from_before_best_epoch_restore():
    state = Position(epoch=3, best=1.5, history=[{"epoch": 1}]).state()
    del state["best_epoch"]
    pos = Position.from_state(state)
    assert pos.best_epoch is None and pos.best == 1.5 and pos.epoch == 3
    assert Position.from_state({**state, "best": None}).best == math.inf
