"""No option is silently ignored: a key another family uses is an error naming that family; a key
that does nothing under the other settings is an error naming why; values that cannot work are
`error:` + `fix:` lines, never tracebacks. And the help a user finds: per-preset defaults and keys."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aekit
import aekit.run
from aekit.cli import main
from aekit.config import TrainConfig
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runconfig import build_config

DIGITS = ["--data", "digits", "--set", "data.limit=300", "--hidden", "16", "--latent-dim", "3", "--epochs", "1", "--quiet"]


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # --help
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def user_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("error:") and "fix:" in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


@pytest.mark.parametrize("argv, needles", [
    # AE penalties on the AAE: another family's key, named with the presets that have it
    (["--model", "aae", "--set", "model.l1=0.1"], ["model.l1 is not an option of aae", "ae, linear-ae"]),
    (["--model", "aae", "--set", "model.contractive=0.1"], ["model.contractive is not an option of aae"]),
    (["--model", "vae", "--set", "model.tied=true"], ["model.tied is not an option of vae"]),
    (["--model", "cvae", "--set", "model.corruption=masking"], ["model.corruption is not an option of cvae", "vae"]),
    # --labels N on models that take no labels, or need every label
    (["--model", "ae", "--labels", "20"], ["data.labels=20", "takes no labels", "cvae", "aae-semi"]),
    (["--model", "aae-supervised", "--labels", "20"], ["needs every training label"]),
    # early stopping with no validation split
    (["--set", "train.early_stopping=2", "--set", "data.val_fraction=0"], ["early_stopping", "val_fraction"]),
    # keys without effect under the other settings
    (["--set", "train.momentum=0.5"], ["train.momentum=0.5 has no effect", "sgd"]),
    (["--set", "train.step_size=3"], ["train.step_size=3 has no effect", "step schedule"]),
    (["--set", "train.num_workers=2"], ["train.num_workers=2 has no effect", "in_memory=false"]),
    (["--set", "model.sparsity_target=0.1"], ["model.sparsity_target=0.1 has no effect", "sparsity_weight is 0"]),
    (["--set", "model.noise_level=0.3"], ["model.noise_level=0.3 has no effect", "corruption is none"]),
    (["--model", "denoising-ae", "--set", "model.noise_level=0"], ["corrupts nothing"]),
    (["--model", "vae", "--set", "model.kl_anneal_steps=100"], ["kl_anneal_steps=100 has no effect", "constant"]),
    (["--model", "vae", "--set", "model.kl_schedule=linear", "--set", "model.kl_cycles=2"], ["kl_cycles=2 has no effect"]),
    (["--model", "aae", "--set", "model.prior_radius=2"], ["prior_radius=2.0 has no effect", "normal prior"]),
    (["--model", "aae-conditional", "--set", "model.prior_components=5"], ["prior_components=5 has no effect", "per class"]),
    (["--model", "cvae", "--set", "model.labelled_batch=10"], ["model.labelled_batch has no effect", "--labels"]),
    (["--model", "m1m2", "--likelihood", "gaussian", "--set", "model.m1_run=x"], ["likelihood='gaussian' has no effect", "M1"]),
    (["--likelihood", "bernoulli", "--set", "model.sigma=0.5"], ["model.sigma=0.5 has no effect"]),
    # values that used to end in a raw traceback
    (["--likelihood", "gaussian", "--set", "model.sigma=0"], ["model.sigma must be > 0"]),
    (["--set", "train.checkpoint_every=0"], ["train.checkpoint_every must be >= 1"]),
    (["--set", "train.schedule=step", "--set", "train.step_size=0"], ["train.step_size must be >= 1"]),
    (["--precision", "fp16", "--device", "cpu"], ["fp16 needs a CUDA GPU", "bf16"]),
    (["--log", "wandb"], ["train.log 'wandb' is not supported", "tensorboard"]),
])
def test_options_that_cannot_work_are_named(tmp_path, capsys, argv, needles):
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", *DIGITS, *argv, "--out", run)
    user_error(rc, err, *needles)
    assert not run.exists() or not any(run.iterdir())  # refused before anything was written


def test_sigma_without_effect_after_auto_resolves_to_bernoulli(tmp_path, capsys):
    rc, _, err = cli(capsys, "train", *DIGITS, "--set", "model.sigma=0.5", "--out", tmp_path / "r")
    user_error(rc, err, "model.sigma=0.5 has no effect", "Gaussian")


def test_a_previous_runs_config_is_a_valid_template(tmp_path, capsys):
    """Keys at their defaults never count as given-without-effect: a saved config.yaml is a template."""
    first = tmp_path / "a"
    assert cli(capsys, "train", *DIGITS, "--out", first)[0] == 0
    rc, _, err = cli(capsys, "train", "--config", first / "config.yaml", "--quiet", "--out", tmp_path / "b")
    assert rc == 0, err


def test_device_index_beyond_the_gpus_is_named(monkeypatch):
    from aekit.train import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(AekitError, match=r"cuda:3: this machine has 1 CUDA GPU \(cuda:0\.\.cuda:0\)"):
        resolve_device("cuda:3")


def test_compile_under_torchrun_is_an_error(monkeypatch):
    from aekit.train import Trainer
    from aekit.train import distributed as dist_

    monkeypatch.setattr(dist_, "setup", lambda device: dist_.DistInfo(rank=0, world=2))
    m = build_model("ae", input_shape=[8], likelihood="gaussian", hidden=[4], latent_dim=2)
    with pytest.raises(AekitError, match="train.compile is not supported under torchrun"):
        Trainer(m, TrainConfig(compile=True), progress=False)


# ---- stacked pretraining: the penalties apply layer by layer ------------------------------------

def _mean_activations(model, x: np.ndarray) -> tuple[float, float]:
    """The mean activation of the hidden layer and of the code over ``x``."""
    with torch.no_grad():
        h = model.encoder(torch.from_numpy(x), 0, 1)
        return float(h.mean()), float(model.encoder(h, 1, 2).mean())


def test_a_stacked_sparse_ae_is_sparse_in_each_layer(tmp_path):
    """Greedy pretraining with KL sparsity drives every layer's mean activation towards ρ."""
    from aekit.config import DataConfig
    from aekit.data import prepare

    x = prepare(DataConfig(name="mnist-sample", limit=1500), 0).x_test[:500]
    opts = dict(limit=1500, hidden=[64], latent_dim=16, activation="sigmoid", code_activation="sigmoid",
                pretrain_epochs=8, epochs=0, batch_size=50, lr=3e-3, quiet=True)
    plain = aekit.train_run("stacked-ae", "mnist-sample", out=tmp_path / "plain", **opts)
    sparse = aekit.train_run("stacked-ae", "mnist-sample", out=tmp_path / "sparse", sparsity_weight=3.0,
                             sparsity_target=0.05, **opts)
    header = (sparse / "history.csv").read_text().splitlines()[0].split(",")
    assert "sparsity" in header  # the pretraining stages log their penalty
    rows = [dict(zip(header, r.split(","))) for r in (sparse / "history.csv").read_text().splitlines()[1:]]
    assert {r["stage"] for r in rows if r["sparsity"]} == {"pretrain-1", "pretrain-2"}
    # the plain baseline learned a code (from a zero output bias its sigmoid layers saturated near 1 and
    # every reconstruction was the same image, which made any sparse run look sparse by comparison)
    assert json.loads((plain / "metrics.json").read_text())["warnings"] == []
    a_plain, a_sparse = _mean_activations(aekit.load(plain), x), _mean_activations(aekit.load(sparse), x)
    for layer in (0, 1):  # 8 epochs of pretraining each: not at ρ = 0.05 yet, far below the plain layers
        assert a_sparse[layer] < 0.5 * a_plain[layer], (layer, a_sparse, a_plain)
    with pytest.raises(AekitError, match="sigmoid hidden layers"):
        build_model("stacked-ae", input_shape=[8], likelihood="gaussian", hidden=[4], latent_dim=2,
                    code_activation="sigmoid", sparsity_weight=1.0)


# ---- help --------------------------------------------------------------------------------------

def _flag_line(text: str, flag: str) -> str:
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith(flag + " ") or line.strip() == flag)
    out = lines[i]
    for line in lines[i + 1:]:
        if line.startswith("    ") and not line.strip().startswith("-"):
            out += " " + line.strip()
        else:
            break
    return out


@pytest.mark.parametrize("model, latent, hidden", [("ae", "32", "512,256"), ("vae", "16", "512,256"), ("aae", "2", "512,256"),
                                                    ("cvae", "50", "500"), ("aae-semi", "10", "256,256")])
def test_train_help_shows_the_defaults_of_the_model_asked_for(capsys, monkeypatch, model, latent, hidden):
    monkeypatch.setenv("COLUMNS", "200")  # no line wrapping inside "[default: aae-semi]"
    rc, out, _ = cli(capsys, "train", "--model", model, "--help")
    assert rc == 0
    assert f"[default: {latent}]" in _flag_line(out, "--latent-dim")
    assert f"[default: {hidden}]" in _flag_line(out, "--hidden")
    assert f"[default: {model}]" in _flag_line(out, "--model")
    assert f"model keys of the {model} preset" in out


def test_models_name_lists_the_presets_own_keys(capsys):
    rc, out, _ = cli(capsys, "models", "vae")
    assert rc == 0
    keys = {line.split()[0]: line for line in out.splitlines() if line.strip().startswith("model.")}
    assert "model.beta" in keys and "1.0" in keys["model.beta"] and "β-VAE" in keys["model.beta"]
    assert "model.kl_schedule" in keys and "constant" in keys["model.kl_schedule"]
    assert "model.l1" not in keys and "model.code_activation" not in keys  # not the VAE's
    rc, out, _ = cli(capsys, "models", "aae")
    keys = {line.split()[0]: line for line in out.splitlines() if line.strip().startswith("model.")}
    assert "0.0002" in keys["model.disc_lr"] and "model.n_classes" not in keys
    rc, out, _ = cli(capsys, "models", "aae-semi")
    assert "model.label_batch" in out and "--labels N" in out
    rc, _, err = cli(capsys, "models", "vea")
    user_error(rc, err, "did you mean 'vae'")


def test_every_option_of_every_preset_has_help():
    from aekit.config import DataConfig, describe
    from aekit.models import all_specs

    for obj in (DataConfig(), TrainConfig(), *(s.make_config() for s in all_specs())):
        for key, _, _, text in describe(obj):
            assert len(text) > 10, f"{type(obj).__name__}.{key} has no help"


def test_build_config_records_what_was_given():
    cfg = build_config([{"model": {"name": "vae", "beta": 2}, "train": {"lr": 0.01}}])
    assert cfg.given == {"data": set(), "model": {"beta"}, "train": {"lr"}}


@pytest.mark.parametrize("net", [["--data", "digits", "--hidden", "16"], ["--data", "digits", "--net", "conv", "--channels", "8,16"],
                                 ["--data", "ecg5000", "--net", "rnn", "--hidden", "8"]], ids=["mlp", "conv", "rnn"])
def test_compile_trains_saves_and_reloads_with_every_network(tmp_path, capsys, shared_data, net):
    """train.compile end to end: the compiled run trains the model the eager run trains (same seed, the
    same losses to float tolerance), saves weights under the model's own names (no torch.compile
    ``_orig_mod.`` prefix), and reloads into a model that reconstructs as the eager one does."""
    from safetensors import safe_open
    from torch._dynamo.utils import counters

    base = ["train", "--model", "ae", "--set", "data.limit=256", "--latent-dim", "3",
            "--epochs", "2", "--quiet", *net]
    captured = []
    for name, extra in (("eager", []), ("compiled", ["--set", "train.compile=true"])):
        counters.clear()
        rc, _, err = cli(capsys, *base, *extra, "--out", tmp_path / name)
        assert rc == 0, err
        captured.append(counters["stats"]["calls_captured"])
    assert captured[0] == 0 and captured[1] > 0  # the option is not silently ignored: dynamo traced the step
    eager, compiled = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("eager", "compiled"))
    for key in ("train_loss", "val_loss", "test_loss"):
        assert compiled[key] == pytest.approx(eager[key], rel=1e-3), key
    with safe_open(str(tmp_path / "compiled" / "model.safetensors"), "pt") as f:
        assert f.keys() and not [k for k in f.keys() if "_orig_mod" in k]
    models = [aekit.load(tmp_path / r) for r in ("eager", "compiled")]
    x = torch.rand(16, *models[0].input_shape)
    with torch.no_grad():
        a, b = (m.decoder_params(m.code(x)) for m in models)
    assert torch.allclose(a, b, atol=1e-3)
