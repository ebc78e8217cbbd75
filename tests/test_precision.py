"""Mixed precision: which precision a run trains in, bf16 on a CPU that has it (same figures as fp32,
fp32 weights and checkpoints), the fallback where it has not, and every family under autocast."""
from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

import aekit
import aekit.run
from aekit.errors import AekitError
from aekit.train import load_state
from aekit.train import precision as P

CPU = torch.device("cpu")
HAS_BF16 = P.cpu_has_bf16()


@pytest.fixture(autouse=True)
def no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


def test_resolving_the_precision_on_a_cpu(monkeypatch, caplog):
    assert P.resolve_precision("fp32", CPU) == "fp32"
    with pytest.raises(AekitError, match="fp16 needs a CUDA GPU"):
        P.resolve_precision("fp16", CPU)
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: True)
    assert P.resolve_precision("bf16", CPU) == "bf16" and P.resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="aekit"):
        assert P.resolve_precision("bf16", CPU) == "fp32"  # said, and fallen back
    assert "neither AVX512-BF16 nor AMX" in caplog.text
    assert P.resolve_precision("auto", CPU) == "fp32"


def test_the_cpu_flags_are_read_from_proc_cpuinfo():
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    assert P.cpu_has_bf16() == (" avx512_bf16" in flags or " amx_bf16" in flags)


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither AVX512-BF16 nor AMX (bf16 falls back to fp32 here)")
def test_bf16_trains_to_the_same_figures_with_fp32_weights(tmp_path):
    opts = dict(limit=2000, hidden=[128, 64], latent_dim=16, epochs=3, batch_size=64, seed=0, quiet=True)
    runs = {p: aekit.train_run("ae", "mnist-sample", out=tmp_path / p, precision=p, **opts) for p in ("fp32", "bf16")}
    m = {p: json.loads((r / "metrics.json").read_text()) for p, r in runs.items()}
    assert m["bf16"]["precision"] == "bf16" and m["fp32"]["precision"] == "fp32"
    # the same test loss within 2% (measured: well under 1%), different bits: autocast really ran
    assert m["bf16"]["test_recon"] == pytest.approx(m["fp32"]["test_recon"], rel=0.02)
    assert m["bf16"]["test_recon"] != m["fp32"]["test_recon"]
    weights = load_file(str(runs["bf16"] / "model.safetensors"))
    assert all(v.dtype == torch.float32 for v in weights.values())
    state = load_state(runs["bf16"] / "checkpoints" / "last.safetensors")
    assert all(v.dtype == torch.float32 for v in state["model"].values())
    adam = state["optimizers"]["main"]["state"]
    assert all(s["exp_avg"].dtype == torch.float32 for s in adam.values())


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither AVX512-BF16 nor AMX (bf16 falls back to fp32 here)")
@pytest.mark.parametrize("model, extra", [
    ("contractive-ae", {"hidden": [], "latent_dim": 16}),  # closed-form Jacobian penalty
    ("ae", {"contractive": 0.01, "stochastic_contractive": 0.1, "l1": 1e-3}),  # exact Jacobian under autocast
    ("stacked-denoising-ae", {"pretrain_epochs": 1}),
    ("vae", {"kl_schedule": "linear", "kl_anneal_steps": 20}),
    ("cvae", {"labels": 50, "classifier_hidden": [16]}),
    ("aae-semi", {"labels": 50, "disc_hidden": [16]}),
])
def test_every_family_trains_under_bf16(tmp_path, model, extra):
    opts = dict(limit=400, hidden=[32], latent_dim=4, epochs=2, batch_size=50, lr=3e-3, seed=0, quiet=True)
    out = aekit.train_run(model, "mnist-sample", out=tmp_path / "r", precision="bf16", **{**opts, **extra})
    rows = (out / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(",")))
    assert float(last["loss"]) == float(last["loss"])  # finite, not NaN
    weights = load_file(str(out / "model.safetensors"))
    assert all(v.dtype in (torch.float32, torch.int64) for v in weights.values())
    assert json.loads((out / "metrics.json").read_text())["precision"] == "bf16"
