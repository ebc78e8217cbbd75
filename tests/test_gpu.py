"""The CUDA code paths: every precision on a GPU (fp16 with its gradient scaler), the conv
(channels-last) and rnn networks, exact resume with the CUDA RNG state, the DataLoader path with
pinned memory. Skipped without a CUDA GPU (CI has none);
run on a lent GPU with `python -m pytest tests/test_gpu.py`."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import aekit
import aekit.run
from aekit.errors import AekitError
from aekit.train import load_state, resolve_device
from aekit.train.precision import resolve_precision
from test_resume import history

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

OPTS = dict(limit=1200, hidden=[64], latent_dim=4, batch_size=64, lr=3e-3, seed=0, quiet=True, device="cuda")


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def gpu_run_losses(out, precision: str) -> list[float]:
    """A run trained on the GPU in ``precision``, with finite losses and fp32 weights saved (the int64
    step counter beside them): its loss per epoch."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["precision"] == precision and metrics["device"].startswith("cuda")
    losses = [float(r["loss"]) for r in history(out)]
    assert all(v == v and abs(v) < 1e9 for v in losses), losses
    assert all(v.dtype in (torch.float32, torch.int64) for v in load_file(str(out / "model.safetensors")).values())
    return losses


def test_precision_choices_on_a_gpu():
    gpu = torch.device("cuda")
    assert resolve_precision("fp16", gpu) == "fp16"
    assert resolve_precision("auto", gpu) == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    n = torch.cuda.device_count()
    with pytest.raises(AekitError, match=f"cuda:{n}: this machine has {n} CUDA GPU"):
        resolve_device(f"cuda:{n}")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("model, extra", [("ae", {}), ("denoising-ae", {}), ("vae", {}), ("cvae", {"labels": 100}),
                                          ("aae-semi", {"labels": 100, "disc_hidden": [32]}), ("stacked-ae", {"pretrain_epochs": 1}),
                                          ("ae", {"contractive": 0.01})])
def test_every_family_trains_on_the_gpu_in_every_precision(tmp_path, model, extra, precision):
    out = aekit.train_run(model, "mnist-sample", out=tmp_path / "r", epochs=2, precision=precision, **{**OPTS, **extra})
    losses = gpu_run_losses(out, precision)
    assert losses[-1] < losses[0] or model.startswith("stacked")
    state = load_state(out / "checkpoints" / "last.safetensors")
    assert (state["scaler"] is not None) == (precision == "fp16")
    assert len(state["rng"]["cuda"]) == 1


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resume_on_the_gpu_continues_exactly(tmp_path, precision):
    """2 + 2 epochs = 4 epochs with the CUDA RNG (corruption noise) and the fp16 scaler restored."""
    opts = {**OPTS, "precision": precision}
    whole = aekit.train_run("denoising-ae", "mnist-sample", out=tmp_path / "whole", epochs=4, **opts)
    split = aekit.train_run("denoising-ae", "mnist-sample", out=tmp_path / "split", epochs=2, **opts)
    aekit.train_run(out=split, resume=True, epochs=4, progress=False)
    a, b = load_file(str(whole / "model.safetensors")), load_file(str(split / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5)


def test_the_dataloader_path_on_the_gpu(tmp_path):
    fast = aekit.train_run("ae", "mnist-sample", out=tmp_path / "a", epochs=1, **OPTS)
    slow = aekit.train_run("ae", "mnist-sample", out=tmp_path / "b", epochs=1, in_memory=False, num_workers=2, **OPTS)
    a, b = load_file(str(fast / "model.safetensors")), load_file(str(slow / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def conv_inputs_seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each training-mode Conv2d input of more than one channel was channels-last (one channel
    is both layouts; the evaluations after fit see the contiguous model it hands back)."""
    seen: list[bool] = []
    forward = torch.nn.Conv2d._conv_forward

    def spy(self, x, *args):
        if self.training and x.shape[1] > 1:
            seen.append(x.is_contiguous(memory_format=torch.channels_last))
        return forward(self, x, *args)
    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy)
    return seen


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("model", ["ae", "vae"])
@pytest.mark.parametrize("net, data, extra", [("conv", "mnist-sample", {"channels": [8, 16], "limit": 1200}),
                                              ("rnn", "ecg5000", {"hidden": [16], "limit": 400})])
def test_every_network_trains_on_the_gpu_in_every_precision(tmp_path, monkeypatch, shared_data, net, data, extra, model,
                                                            precision):
    """conv under memory_format=auto takes channels-last batches on the GPU; rnn goes through cuDNN's
    recurrent kernels under autocast."""
    seen = conv_inputs_seen(monkeypatch)
    out = aekit.train_run(model, data, out=tmp_path / "r", net=net, epochs=2, precision=precision, latent_dim=4, batch_size=64,
                          lr=3e-3, seed=0, quiet=True, device="cuda", **extra)
    losses = gpu_run_losses(out, precision)
    assert losses[-1] < losses[0], losses
    if net == "conv":
        assert seen and all(seen), "auto must give conv nets channels-last batches on a GPU"
    else:
        assert not seen
