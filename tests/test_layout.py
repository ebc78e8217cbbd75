"""train.memory_format: channels_last for conv nets (auto), same values as contiguous, exact resume."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import aekit.run
from aekit.config import TrainConfig
from aekit.data import load_raw
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runconfig import build_config
from aekit.train import Trainer, TrainingInterrupted
from aekit.train.layout import resolve_memory_format
from conftest import interrupt_on_call
from test_resume import assert_same_history, assert_same_weights, weights


@pytest.fixture(scope="module")
def digits(shared_data: Path) -> np.ndarray:
    """1,000 real MNIST training digits (N, 1, 28, 28)."""
    return np.ascontiguousarray(load_raw("mnist", shared_data).x_train[:1000])


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def conv_model(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", channels=[8, 16], latent_dim=8)


def test_auto_is_channels_last_for_conv_nets_on_a_gpu_only() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_memory_format("auto", conv_model(), cuda) is torch.channels_last
    assert resolve_memory_format("auto", conv_model(), cpu) is torch.contiguous_format  # measured: no gain on the CPU
    mlp = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[16], latent_dim=4)
    assert resolve_memory_format("auto", mlp, cuda) is torch.contiguous_format
    assert resolve_memory_format("channels_last", mlp, cpu) is torch.channels_last
    with pytest.raises(AekitError, match="memory_format"):
        TrainConfig(memory_format="nhwc").validate()


def test_channels_last_trains_to_the_same_weights_and_hands_back_a_contiguous_model(digits: np.ndarray,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # on a GPU, cuDNN's default TF32 convolutions round to 10 bits and the two layouts take different
    # kernels: their weights then differ by ~1e-4 after 16 steps (measured on an H100); in full fp32 they agree
    # (matmuls are fp32 by default)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    x = digits[:512]
    out = {}
    for fmt in ("channels_last", "contiguous"):
        model = conv_model()
        seen: list[bool] = []
        second = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][1]  # 8 input channels: unambiguous
        second.register_forward_pre_hook(lambda m, a: seen.append(a[0].is_contiguous(memory_format=torch.channels_last)))
        Trainer(model, TrainConfig(epochs=2, batch_size=64, seed=0, quiet=True, memory_format=fmt), progress=False).fit(x)
        assert all(seen) == (fmt == "channels_last") and seen, fmt  # the batches really took that layout
        assert all(p.is_contiguous() for p in model.parameters()), "fit must hand back the default layout"
        out[fmt] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert_same_weights(out["channels_last"], out["contiguous"], atol=1e-4)


def test_restored_optimiser_states_take_the_parameters_layout(tmp_path: Path, digits: np.ndarray) -> None:
    x = digits[:256]
    cfg = TrainConfig(epochs=1, batch_size=64, seed=0, quiet=True, memory_format="channels_last")
    Trainer(conv_model(), cfg, checkpoint_dir=tmp_path, progress=False).fit(x)
    cfg2 = TrainConfig(epochs=2, batch_size=64, seed=0, quiet=True, memory_format="channels_last")
    t = Trainer(conv_model(), cfg2, checkpoint_dir=tmp_path, progress=False)
    t.restore(tmp_path / "last.safetensors")
    checked = []

    def check(row: dict[str, Any]) -> None:
        for opt in t.optimizers:
            for p in opt.param_groups[0]["params"]:
                for v in opt.state[p].values():
                    if v.shape == p.shape and p.dim() == 4:
                        checked.append(v.stride() == p.stride())
    t.callbacks.append(check)
    t.fit(x)
    assert checked and all(checked)


def conv_config(epochs: int) -> Any:
    return build_config([{
        "data": {"name": "mnist", "limit": 600},
        "model": {"name": "ae", "net": "conv", "channels": [8, 16], "latent_dim": 4},
        "train": {"epochs": epochs, "batch_size": 64, "seed": 0, "quiet": True, "memory_format": "channels_last"},
    }])


def test_conv_run_in_channels_last_resumes_exactly_mid_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             shared_data: Path) -> None:
    # on a GPU, cuDNN's default weight-gradient kernels may sum in any order (two uninterrupted runs
    # differ in the last bits; seen on an H100): bitwise-exact runs, resumed or not, take its
    # deterministic kernels (README, "Resuming")
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    whole, split = tmp_path / "whole", tmp_path / "split"
    aekit.run.train(conv_config(2), whole, progress=False)
    with monkeypatch.context() as m:
        interrupt_on_call(m, 12)  # epoch 2 (9 steps per epoch), after 2 of its batches
        with pytest.raises(TrainingInterrupted):
            aekit.run.train(conv_config(2), split, progress=False)
    aekit.run.train(conv_config(2), split, resume=True, progress=False)
    assert_same_history(split, whole)
    assert_same_weights(weights(whole), weights(split))
    assert np.isfinite(list(weights(split).values())[0].numpy()).all()
