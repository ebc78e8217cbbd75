"""aekit finetune: a pretrained encoder + softmax head against the same network from scratch."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import aekit
from aekit.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return aekit.train_run("ae", "mnist", out=tmp_path_factory.mktemp("ft") / "run", limit=6000, hidden=[256], latent_dim=32,
                           epochs=5, progress=False, quiet=True)


def test_finetune_with_100_labels_and_the_scratch_baseline(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", str(run), "--labels", "100", "--epochs", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["labels"] == 100 and out["n_test"] == 10000
    # 100 labelled digits: both well above chance (0.1); which of the two wins is a benchmark's question
    assert out["pretrained_test_accuracy"] > 0.6 and out["scratch_test_accuracy"] > 0.6, out
    assert out["pretrained_test_accuracy"] != out["scratch_test_accuracy"]  # two different starting points
    assert json.loads((run / "finetune-100.json").read_text()) == out


def test_frozen_encoder_is_a_linear_probe(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", str(run), "--labels", "50", "--epochs", "20", "--lr", "1e-2", "--freeze", "--no-scratch", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["freeze_encoder"] and "scratch_test_accuracy" not in out and out["pretrained_test_accuracy"] > 0.35  # 0.50 measured


@pytest.mark.parametrize("args, expected", [
    (["--labels", "many"], "not a number"),
    (["--labels", "5"], "fewer than the 10 classes"),
])
def test_finetune_errors(run: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    assert main(["finetune", str(run), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "fix:" in err


def test_finetune_needs_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    x = np.random.default_rng(0).uniform(size=(200, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = aekit.train_run("ae", str(tmp_path / "x.npy"), out=tmp_path / "r", hidden=[8], latent_dim=2, epochs=1,
                          progress=False, quiet=True)
    assert main(["finetune", str(run)]) == 2
    assert "needs labels" in capsys.readouterr().err
    assert main(["classify", str(run)]) == 2  # nothing fine-tuned here: the fix says how
    assert f"fix: fine-tune its encoder first: aekit finetune {run} --labels 100" in capsys.readouterr().err


def test_classify_with_the_finetuned_classifier(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finetune", str(run), "--labels", "200", "--epochs", "10", "--no-scratch", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["weights"] == "finetune-200.safetensors" and (run / tuned["weights"]).exists()
    pred, png = tmp_path / "pred.csv", tmp_path / "cm.png"
    assert main(["classify", str(run), "--finetuned", "200", "--out", str(pred), "--png", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the reloaded classifier on the run's test split is the one finetune scored
    assert out["accuracy"] == pytest.approx(tuned["pretrained_test_accuracy"], abs=1e-9)
    assert out["labelled"] == out["n"] == 10000 and sum(map(sum, out["confusion"])) == 10000
    assert sum(out["confusion"][i][i] for i in range(10)) == round(out["accuracy"] * 10000)
    rows = pred.read_text().splitlines()
    assert rows[0] == "predicted" and len(rows) == 10001 and set(rows[1:]) <= {str(d) for d in range(10)}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((run / "classify-finetune200-mnist_test_.json").read_text())["accuracy"] == out["accuracy"]


@pytest.mark.parametrize("args, expected, fix", [
    ([], "a run of ae, which does not predict classes", "finetune"),
    (["--finetuned", "7"], "no classifier fine-tuned with 7 labels", "--labels 7"),
    (["--out", "pred.txt"], "cannot write pred.txt", ".csv"),
])
def test_classify_errors(run: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str, fix: str) -> None:
    assert main(["classify", str(run), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "fix:" in err and fix in err
