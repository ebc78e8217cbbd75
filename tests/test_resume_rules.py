"""What a resume means: extending a schedule, refusing a resume that would change the run before
anything is written, the saved config from Python as from the CLI, one rule for every phase's
hyperparameters, early stopping, and the GMM sampler cache keyed by weights and seed."""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import aekit
import aekit.run
from aekit.cli import main
from aekit.train import load_state

TINY = ["--data", "digits", "--set", "data.limit=600", "--hidden", "32", "--latent-dim", "4", "--batch-size", "32", "--quiet"]


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_extending_a_finished_cosine_run_recomputes_the_schedule_and_lowers_the_loss(tmp_path, capsys):
    run = tmp_path / "cos"
    assert cli(capsys, "train", *TINY, "--epochs", "3", "--set", "train.schedule=cosine", "--out", run)[0] == 0
    assert cli(capsys, "train", *TINY, "--epochs", "6", "--set", "train.schedule=cosine", "--out", run, "--resume")[0] == 0
    rows = history(run)
    lrs = [float(r["lr"]) for r in rows]
    # epochs 1-3 ran on a 3-epoch cosine; the added epochs 4-6 follow the cosine recomputed for 6 epochs
    assert lrs[:3] == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)])
    assert lrs[3:] == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * e / 6)) for e in (3, 4, 5)])
    assert min(lrs[3:]) > 0
    assert float(rows[-1]["loss"]) < float(rows[2]["loss"])  # the added epochs trained


@pytest.mark.parametrize("change, named", [
    (["--latent-dim", "8"], "model.latent_dim (4 → 8)"),
    (["--model", "vae"], "model.name ('ae' → 'vae')"),
    (["--set", "data.limit=500"], "data.limit (600 → 500)"),
    (["--seed", "3"], "train.seed (0 → 3)"),
])
def test_a_resume_that_would_change_the_run_is_refused_before_anything_is_written(tmp_path, capsys, change, named):
    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY, "--epochs", "1", "--out", run)[0] == 0
    before = snapshot(run)
    args = list(TINY)
    if "--latent-dim" in change:
        i = args.index("--latent-dim")
        del args[i: i + 2]
    if "data.limit=500" in change:
        args[args.index("data.limit=600")] = "data.limit=500"
        change = []
    rc, err = cli(capsys, "train", *args, *change, "--epochs", "2", "--out", run, "--resume")
    assert rc == 2 and err.startswith("error:") and "fix:" in err and "Traceback" not in err
    assert named in err
    assert snapshot(run) == before  # the folder is as it was
    assert aekit.load(run).cfg.latent_dim == 4  # and still loads


def test_a_checkpoint_that_does_not_fit_is_refused_before_anything_is_written(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY, "--epochs", "1", "--out", run)[0] == 0
    other = tmp_path / "other"
    assert cli(capsys, "train", *TINY, "--hidden", "16", "--epochs", "1", "--out", other)[0] == 0
    (run / "checkpoints" / "last.safetensors").write_bytes((other / "checkpoints" / "last.safetensors").read_bytes())
    before = snapshot(run)
    rc, err = cli(capsys, "train", *TINY, "--epochs", "2", "--out", run, "--resume")
    assert rc == 2 and "does not fit" in err and "shapes differ: decoder.layers.0.bias (16,) vs (32,)" in err and "Traceback" not in err
    assert snapshot(run) == before


def test_resume_from_python_continues_the_saved_config(tmp_path):
    run = tmp_path / "vae"
    opts = dict(limit=600, hidden=[32], latent_dim=3, batch_size=32, beta=2.0, kl_schedule="linear", kl_anneal_steps=40,
                schedule="step", step_size=1, gamma=0.5, quiet=True)
    aekit.train_run("vae", "digits", out=run, epochs=2, **opts)
    aekit.train_run(out=run, resume=True, epochs=4, progress=False)  # no model, no data: the run's own
    cfg = aekit.load_config(run)
    assert cfg.model_name == "vae" and cfg.data.name == "digits" and cfg.data.limit == 600
    assert cfg.model.beta == 2.0 and cfg.model.kl_schedule == "linear" and cfg.model.latent_dim == 3
    assert cfg.train.schedule == "step" and cfg.train.epochs == 4
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])
    # the same as four epochs in one go
    whole = tmp_path / "whole"
    aekit.train_run("vae", "digits", out=whole, epochs=4, **opts)
    a, b = aekit.load(run).state_dict(), aekit.load(whole).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_one_rule_for_every_phase_on_resume(tmp_path, capsys, caplog):
    """Each phase's rate comes from the current config (its own rate, else train.lr); betas too."""
    run = tmp_path / "aae"
    aae = ["--model", "aae", "--data", "digits", "--set", "data.limit=400", "--hidden", "32", "--latent-dim", "2",
           "--batch-size", "50", "--set", "model.disc_hidden=[16]", "--quiet"]
    assert cli(capsys, "train", *aae, "--epochs", "1", "--lr", "1e-3", "--out", run)[0] == 0
    with caplog.at_level(logging.INFO, logger="aekit"):
        rc, err = cli(capsys, "train", *aae, "--epochs", "2", "--lr", "5e-4", "--set", "model.disc_lr=3e-4",
                      "--set", "model.adv_betas=[0.9,0.99]", "--out", run, "--resume")
    assert rc == 0, err
    state = load_state(run / "checkpoints" / "last.safetensors")
    opts = state["optimizers"]
    groups = {name: s["param_groups"][0] for name, s in (opts.items() if isinstance(opts, dict) else
                                                          zip(["reconstruction", "discriminator", "generator"], opts))}
    assert groups["reconstruction"]["lr"] == pytest.approx(5e-4)  # train.lr
    assert groups["discriminator"]["lr"] == pytest.approx(3e-4)  # its own rate, not rescaled by the new train.lr
    assert groups["generator"]["lr"] == pytest.approx(5e-4)  # model.gen_lr's default, unchanged
    assert tuple(groups["discriminator"]["betas"]) == pytest.approx((0.9, 0.99))
    assert tuple(groups["reconstruction"]["betas"]) == pytest.approx((0.9, 0.999))
    text = caplog.text
    assert "phase reconstruction: learning rate 0.001 → 0.0005" in text
    assert "phase discriminator: learning rate 0.0002 → 0.0003" in text
    assert "phase discriminator: Adam betas (0.5, 0.999) → (0.9, 0.99)" in text
    assert "generator: learning rate" not in text
    assert "train.lr (0.001 → 0.0005)" in text and "model.disc_lr (0.0002 → 0.0003)" in text


def test_a_run_that_stopped_early_resumes_with_a_fresh_patience(tmp_path, capsys, caplog):
    run = tmp_path / "early"
    # lr 0.05 makes the validation loss rise after the first epochs (see test_trainer)
    args = ["--data", "mnist-sample", "--set", "data.limit=640", "--hidden", "32", "--latent-dim", "4", "--batch-size", "32",
            "--lr", "0.05", "--set", "train.early_stopping=2", "--epochs", "30", "--quiet", "--out", run]
    assert cli(capsys, "train", *args)[0] == 0
    first = len(history(run))
    assert first < 30
    with caplog.at_level(logging.INFO, logger="aekit"):  # a rate too small to improve on the best epoch
        assert cli(capsys, "train", *args, "--lr", "1e-9", "--resume")[0] == 0
    rows = history(run)
    assert len(rows) == first + 2  # the patience's 2 epochs again (the count is not carried over), not 1
    assert "stopped early" in caplog.text and "fresh patience of 2" in caplog.text
    best = min(float(r["val_loss"]) for r in rows)
    state = load_state(run / "checkpoints" / "best.safetensors")
    assert state["position"]["best"] == pytest.approx(best, rel=1e-9)


def test_a_resume_may_not_change_what_the_best_epoch_is_judged_by(tmp_path, capsys):
    run = tmp_path / "m"
    args = ["--data", "mnist-sample", "--set", "data.limit=400", "--hidden", "16", "--latent-dim", "2", "--set",
            "train.early_stopping=3", "--quiet", "--out", run]
    assert cli(capsys, "train", *args, "--epochs", "1")[0] == 0
    code, err = cli(capsys, "train", *args, "--epochs", "2", "--set", "train.monitor=recon", "--resume")
    assert code != 0 and "train.monitor ('loss' → 'recon')" in err and len(history(run)) == 1
    # a run saved before train.monitor existed had the default then: it resumes
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    del cfg["train"]["monitor"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert cli(capsys, "train", *args, "--epochs", "2", "--resume")[0] == 0 and len(history(run)) == 2


def test_the_gmm_sampler_cache_is_keyed_by_the_weights_and_the_seed(tmp_path, capsys):
    run = tmp_path / "ae"
    assert cli(capsys, "train", *TINY, "--epochs", "1", "--out", run)[0] == 0
    out = tmp_path / "s.npy"

    def key() -> dict:
        return json.loads((run / "gmm_sampler_3.json").read_text())["key"]

    assert cli(capsys, "sample", run, "--sampler", "gmm", "--components", "3", "-n", "4", "--out", out)[0] == 0
    first = np.load(out)
    assert key()["weights_sha256"] == hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    assert key()["seed"] == 0
    # same weights and seed: the cache is reused and gives the same samples
    assert cli(capsys, "sample", run, "--sampler", "gmm", "--components", "3", "-n", "4", "--out", out)[0] == 0
    np.testing.assert_array_equal(np.load(out), first)
    # another seed: refitted for it
    assert cli(capsys, "sample", run, "--sampler", "gmm", "--components", "3", "-n", "4", "--seed", "1", "--out", out)[0] == 0
    assert key()["seed"] == 1
    # new weights (the run resumed for more epochs): refitted, different samples
    assert cli(capsys, "train", *TINY, "--epochs", "3", "--out", run, "--resume")[0] == 0
    assert cli(capsys, "sample", run, "--sampler", "gmm", "--components", "3", "-n", "4", "--out", out)[0] == 0
    assert key()["weights_sha256"] == hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    assert not np.array_equal(np.load(out), first)


def test_optimiser_states_that_do_not_match_the_phases_are_an_error_not_dropped(tmp_path, capsys):
    from aekit.io import save_state

    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY, "--epochs", "1", "--out", run)[0] == 0
    path = run / "checkpoints" / "last.safetensors"
    state = load_state(path)
    state["optimizers"] = {"reconstruction": state["optimizers"]["main"], "discriminator": state["optimizers"]["main"]}
    save_state(path, state)
    before = snapshot(run)
    rc, err = cli(capsys, "train", *TINY, "--epochs", "2", "--out", run, "--resume")
    assert rc == 2 and "['reconstruction', 'discriminator']" in err and "['main']" in err and "Traceback" not in err
    assert snapshot(run) == before
