"""aekit.fit: training on in-memory arrays, with or without a run folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.data import load_raw
from aekit.errors import AekitError


@pytest.fixture(scope="module")
def digits(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = load_raw("mnist", shared_data)
    return np.ascontiguousarray(raw.x_train[:1500]), raw.y_train[:1500]


def test_fit_trains_on_every_row_and_returns_a_model(digits) -> None:
    x, _ = digits
    flat = x.reshape(len(x), -1)
    model = aekit.fit(flat, latent_dim=4, hidden=[64], epochs=3, seed=0, progress=False)
    assert not model.training and model.device.type == "cpu"
    assert [r["epoch"] for r in model.history] == [1, 2, 3]
    assert "val_loss" not in model.history[0]  # no validation split unless asked for
    assert model.history[-1]["loss"] < model.history[0]["loss"]
    assert model.run_config.data.name == "<arrays>" and model.run_config.data.test_fraction == 0
    z = model.encode(flat[:10])
    assert z.shape == (10, 4)
    rec = model.reconstruct(flat)
    assert np.mean((rec - flat) ** 2) < np.mean((flat - flat.mean(0)) ** 2)  # better than the mean digit
    again = aekit.fit(flat, latent_dim=4, hidden=[64], epochs=3, seed=0, progress=False)
    assert np.array_equal(again.encode(flat[:10]), z)  # same seed, same model


def test_fit_with_early_stopping_holds_out_validation_and_keeps_the_best(digits) -> None:
    x, _ = digits
    model = aekit.fit(x, net="conv", channels=[8, 16], latent_dim=8, epochs=2, early_stopping=1, seed=0, progress=False)
    assert "val_loss" in model.history[0]
    assert model.run_config.data.val_fraction == pytest.approx(0.1)
    assert model.encode(x[:3]).shape == (3, 8)


def test_fit_with_labels_of_any_kind_and_a_run_folder(tmp_path: Path, digits) -> None:
    x, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    out = tmp_path / "run"
    model = aekit.fit(x, names, "cvae", out=out, hidden=[64], latent_dim=4, epochs=1, seed=0, progress=False)
    assert (out / "config.yaml").exists() and (out / "model.safetensors").exists() and (out / "report.html").exists()
    assert sorted(model.run_config.data.classes) == sorted(set(names))
    assert [r["epoch"] for r in model.history] == [1] and isinstance(model.history[0]["loss"], float)
    loaded = aekit.load(out)
    assert torch.equal(loaded.state_dict()["input_shift"], model.state_dict()["input_shift"])
    np.testing.assert_allclose(loaded.encode(x[:5], y=np.zeros(5, int)), model.encode(x[:5], y=np.zeros(5, int)), atol=1e-6)


def test_a_run_of_arrays_has_no_data_set_to_reload(tmp_path: Path, digits, capsys) -> None:
    x, _ = digits
    out = tmp_path / "run"
    aekit.fit(x[:300], out=out, hidden=[16], latent_dim=2, epochs=1, progress=False)
    assert main(["evaluate", str(out)]) == 2
    err = capsys.readouterr().err
    assert "in-memory arrays" in err and "fix:" in err and "--data" in err


@pytest.mark.parametrize("bad, match", [
    ({"data": "mnist"}, "names other data"),
    ({"test_data": "x.npy"}, "names other data"),
    ({"latent_dimm": 3}, "latent_dim"),
])
def test_fit_refuses_options_that_do_not_apply(digits, bad, match) -> None:
    with pytest.raises(AekitError, match=match):
        aekit.fit(digits[0][:100], epochs=1, progress=False, **bad)


@pytest.mark.parametrize("x, match", [
    (np.zeros(10), "2-D"),
    (np.array([["a", "b"], ["c", "d"]]), "numbers"),
])
def test_fit_refuses_arrays_it_cannot_read(x, match) -> None:
    with pytest.raises(AekitError, match=match):
        aekit.fit(x, epochs=1, progress=False)


def test_test_fraction_zero_means_no_test_split(tmp_path: Path) -> None:
    run = aekit.train_run("ae", "digits", out=tmp_path / "r", test_fraction=0, hidden=[16], latent_dim=2, epochs=1,
                          progress=False, quiet=True)
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    assert not any(k.startswith("test_") for k in metrics)
