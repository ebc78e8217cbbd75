"""Trainer behaviour beyond resume: the DataLoader path, early stopping, schedules, clipping,
devices, and the history it records."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.config import TrainConfig
from aekit.data import prepare
from aekit.config import DataConfig
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.train import Trainer, resolve_device


@pytest.fixture(scope="module")
def digits():
    d = prepare(DataConfig(name="mnist-sample", limit=640, val_fraction=0.2), seed=0)
    return d


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[32], latent_dim=4, **kw)


def _fit(digits, tmp_path=None, **cfg):
    m = _model()
    t = Trainer(m, TrainConfig(**{"epochs": 2, "batch_size": 32, "quiet": True, **cfg}),
                checkpoint_dir=tmp_path, progress=False)
    hist = t.fit(digits.x_train, digits.y_train, digits.x_val, digits.y_val)
    return m, hist


def test_dataloader_path_sees_the_same_batches_as_the_in_memory_path(digits):
    fast, h1 = _fit(digits, in_memory=True)
    slow, h2 = _fit(digits, in_memory=False)
    for a, b in zip(fast.state_dict().values(), slow.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert h1[-1]["loss"] == pytest.approx(h2[-1]["loss"], rel=1e-4)


def test_dataloader_path_reads_memory_mapped_arrays(digits, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, digits.x_train)
    mm = np.load(path, mmap_mode="r")
    m = _model()
    t = Trainer(m, TrainConfig(epochs=1, batch_size=64, quiet=True), progress=False)
    assert not t._in_memory(mm)
    hist = t.fit(mm)
    assert np.isfinite(hist[-1]["loss"])


def test_history_rows_have_terms_validation_and_timings(digits):
    _, hist = _fit(digits)
    assert [r["epoch"] for r in hist] == [1, 2]
    for key in ("loss", "recon", "val_loss", "val_recon", "lr", "epoch_time_s", "samples_per_s"):
        assert key in hist[0]
    assert hist[1]["loss"] < hist[0]["loss"]


def test_early_stopping_stops_and_restores_the_best_weights(digits, tmp_path):
    # a learning rate that makes validation loss go up after the first epochs
    m, hist = _fit(digits, tmp_path=tmp_path, epochs=30, lr=0.05, early_stopping=2)
    assert len(hist) < 30
    best = min(r["val_loss"] for r in hist)
    t = Trainer(m, TrainConfig(quiet=True), progress=False)
    val = t.evaluate_terms(torch.from_numpy(digits.x_val))["loss"]
    assert val == pytest.approx(best, rel=1e-4)
    assert (tmp_path / "best.safetensors").exists()


@pytest.mark.parametrize("schedule,expect", [("step", [1e-3, 5e-4, 5e-4]), ("cosine", None)])
def test_learning_rate_schedules(digits, schedule, expect):
    _, hist = _fit(digits, epochs=3, schedule=schedule, step_size=1, gamma=0.5)
    lrs = [r["lr"] for r in hist]
    if expect:
        assert lrs == pytest.approx([1e-3, 5e-4, 2.5e-4])
    else:
        assert lrs[0] == pytest.approx(1e-3) and lrs[1] < lrs[0] and lrs[2] < lrs[1]


def test_gradient_clipping_bounds_the_update(digits):
    m0 = _model()
    m1, _ = _fit(digits, epochs=1, optimizer="sgd", lr=1.0, momentum=0.0, clip_grad=1e-3, batch_size=640)
    # one SGD step with lr 1 and global grad norm clipped to 1e-3 moves the weights by at most 1e-3
    delta = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(m0.parameters(), m1.parameters())))
    assert delta.item() <= 1e-3 * 1.0001


def test_same_seed_same_weights_on_cpu(digits):
    a, _ = _fit(digits, seed=3)
    b, _ = _fit(digits, seed=3)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(AekitError, match="no CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"
    with pytest.raises(AekitError):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_the_gpu(digits):
    m, hist = _fit(digits, device="cuda")
    assert next(m.parameters()).is_cuda and hist[-1]["loss"] < hist[0]["loss"]


# ---- Adam's β1 (train.adam_beta1) -------------------------------------------------------------------

def test_adam_beta1_reaches_the_optimizers_and_phases_with_betas_of_their_own_keep_them():
    x = np.random.default_rng(0).random((64, 1, 8, 8)).astype(np.float32)
    ae = build_model("ae", input_shape=[1, 8, 8], hidden=[16], latent_dim=2, likelihood="bernoulli")
    t = Trainer(ae, TrainConfig(epochs=1, batch_size=32, adam_beta1=0.95, quiet=True), progress=False)
    t.fit(x)
    assert [tuple(g["betas"]) for o in t.optimizers for g in o.param_groups] == [(0.95, 0.999)]
    aae = build_model("aae", input_shape=[1, 8, 8], hidden=[16], latent_dim=2, likelihood="bernoulli")
    t = Trainer(aae, TrainConfig(epochs=1, batch_size=32, adam_beta1=0.95, quiet=True), progress=False)
    t.fit(x)
    betas = {ph.name: tuple(o.param_groups[0]["betas"]) for ph, o in zip(t.phases, t.optimizers)}
    assert betas == {"reconstruction": (0.95, 0.999), "discriminator": (0.5, 0.999), "generator": (0.5, 0.999)}


@pytest.mark.parametrize("layer, words", [
    ({"train": {"optimizer": "sgd", "adam_beta1": 0.95}}, ["train.adam_beta1=0.95 has no effect", "sgd"]),
    ({"train": {"adam_beta1": 1.0}}, ["train.adam_beta1 must be in [0, 1)"]),
])
def test_adam_beta1_errors(layer, words):
    from aekit.runconfig import build_config

    with pytest.raises(AekitError) as info:
        build_config([{"data": {"name": "mnist-sample"}, **layer}])
    for w in words:
        assert w in str(info.value), str(info.value)
