"""DistributedDataParallel on CPU: torchrun, gloo, two processes.

Rank 0 alone writes the run folder, and the trainer's sharding (the global batch is one slice of the
epoch's permutation, rank r takes every W-th row of it, DDP averages the gradients) makes 2 ranks ×
batch 32 the same optimisation as 1 process × batch 64.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

import aekit
import aekit.run
from aekit.cli import main

TORCHRUN = Path(sys.executable).parent / "torchrun"

pytestmark = [
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available in this PyTorch build"),
    pytest.mark.skipif(dist.is_available() and not dist.is_gloo_available(), reason="the gloo backend is missing from this PyTorch build"),
    pytest.mark.skipif(not TORCHRUN.exists(), reason=f"{TORCHRUN} not found"),
]


def torchrun(args: list[str], tmp_path: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", *args]
    try:
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{e.stdout}\n{e.stderr}")


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_torchrun_cli_module_writes_one_complete_run(tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    p = torchrun(["-m", "aekit.cli", "train", "--data", "digits", "--hidden", "32", "--latent-dim", "4", "--epochs", "2",
                  "--batch-size", "32", "--quiet", "--out", str(run), "--device", "cpu"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    for name in ("config.yaml", "model.safetensors", "metrics.json", "history.csv", "checkpoints/last.safetensors"):
        assert (run / name).is_file(), name
    # written once, by rank 0: no leftovers of racing writers, no numbered duplicates, whole files
    assert not [q for q in run.rglob("*") if q.name.startswith(".") or q.name.endswith(".tmp")]
    assert sorted(q.name for q in (run / "checkpoints").iterdir()) == ["last.safetensors"]
    assert not list(tmp_path.glob("ddp-*")) and not (tmp_path / "runs").exists()
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and np.isfinite(metrics["test_mse"])
    cfg = aekit.load_config(run)
    assert cfg.train.epochs == 2 and cfg.model.hidden == [32]
    model = aekit.load(run)
    saved = load_file(str(run / "model.safetensors"))
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    assert model.encode(x).shape == (5, 4)
    assert model.reconstruct(x).shape == x.shape


# Runs the CLI under torchrun, recording which rank writes which file and skipping the HTML report.
SCRIPT = textwrap.dedent("""
    import os, sys
    import aekit.io, aekit.run, aekit.train.checkpoint

    rank = os.environ.get("RANK", "?")
    log = open(os.path.join(os.environ["WRITES_DIR"], f"writes-rank{rank}.txt"), "w")
    real = aekit.io.atomic_write

    def atomic_write(path, write):
        log.write(f"{path}\\n")
        log.flush()
        return real(path, write)

    # every write of the run goes through atomic_write: the module itself and where it was imported by name
    for mod in (aekit.io, aekit.run, aekit.train.checkpoint):
        mod.atomic_write = atomic_write
    aekit.run._report = lambda *a, **k: None

    from aekit.cli import main
    sys.exit(main(sys.argv[1:]))
""")

# 640 = 10 global batches of 64 (a partial last batch would be dropped under DDP and kept by one process)
EQUIV = ["train", "--data", "digits", "--hidden", "32", "--latent-dim", "4", "--epochs", "1", "--quiet", "--device", "cpu",
         "--set", "data.val_fraction=0", "--set", "data.limit=640"]


def test_two_ranks_of_32_equal_one_process_of_64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    ddp = tmp_path / "ddp"
    monkeypatch.setenv("WRITES_DIR", str(tmp_path))
    p = torchrun([str(script), *EQUIV, "--batch-size", "32", "--out", str(ddp)], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr

    # rank 0 alone wrote, each file of the run once (the checkpoint after the epoch and at the end)
    writes0 = (tmp_path / "writes-rank0.txt").read_text().split()
    writes1 = (tmp_path / "writes-rank1.txt").read_text().split()
    assert writes1 == []
    names = sorted(Path(w).relative_to(ddp).as_posix() for w in writes0)
    assert names == ["checkpoints/last.safetensors", "checkpoints/last.safetensors", "config.yaml", "history.csv",
                     "metrics.json", "model.safetensors"]

    single = tmp_path / "single"
    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)
    assert main([*EQUIV, "--batch-size", "64", "--out", str(single)]) == 0

    a, b = load_file(str(ddp / "model.safetensors")), load_file(str(single / "model.safetensors"))
    assert set(a) == set(b)
    for k in a:
        diff = (a[k] - b[k]).abs().max().item() if a[k].numel() else 0.0
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-5), f"{k}: max |diff| {diff:.3g}"
    # the epoch's mean loss is summed over ranks: the same figure as one process
    ra, rb = history(ddp), history(single)
    assert len(ra) == len(rb) == 1
    assert float(ra[0]["loss"]) == pytest.approx(float(rb[0]["loss"]), rel=1e-5)
    # 640 examples per epoch in both
    assert float(ra[0]["samples_per_s"]) * float(ra[0]["epoch_time_s"]) == pytest.approx(640, rel=1e-6)


NO_REPORT = textwrap.dedent("""
    import sys
    import aekit.run

    aekit.run._report = lambda *a, **k: None
    from aekit.cli import main
    sys.exit(main(sys.argv[1:]))
""")
NOISY = ["train", "--model", "denoising-ae", "--data", "digits", "--hidden", "32", "--latent-dim", "4", "--batch-size", "32",
         "--quiet", "--device", "cpu", "--set", "data.val_fraction=0", "--set", "data.limit=640"]


def test_resume_under_ddp_is_exact_with_each_ranks_own_noise(tmp_path: Path) -> None:
    """Every rank's RNG state is saved and restored to that rank: 1 + 1 epochs = 2 epochs under DDP."""
    script = tmp_path / "train.py"
    script.write_text(NO_REPORT)
    whole, split = tmp_path / "whole", tmp_path / "split"
    for args in ([*NOISY, "--epochs", "2", "--out", str(whole)], [*NOISY, "--epochs", "1", "--out", str(split)],
                 [*NOISY, "--epochs", "2", "--out", str(split), "--resume"]):
        p = torchrun([str(script), *args], tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr
    a, b = load_file(str(whole / "model.safetensors")), load_file(str(split / "model.safetensors"))
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), f"{k}: max |diff| {(a[k] - b[k]).abs().max().item():.3g}"
    from aekit.train import load_state

    rng = load_state(split / "checkpoints" / "last.safetensors")["rng"]["torch"]
    assert len(rng) == 2 and not torch.equal(rng[0], rng[1])  # two ranks, two noise streams



# In a fresh interpreter, as each torchrun rank is, DistributedDataParallel's __init__ leaves the
# wrapper in a reference cycle (a frame of its own holds it); later in a long pytest process it may not.
TEARDOWN = textwrap.dedent("""
    import gc, sys, weakref
    import torch
    import torch.distributed as dist
    from aekit.train import distributed as dist_

    dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
    gc.disable()

    def step():
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 4))
        ddp(torch.randn(2, 4)).sum().backward()
        return weakref.ref(ddp)

    wrapper = step()
    print("alive after fit:", wrapper() is not None)
    dist_.teardown(dist_.DistInfo(rank=0, world=2))
    print("alive after teardown:", wrapper() is not None)
    print("group left:", not dist.is_initialized())
""")


def test_teardown_frees_the_ddp_wrapper_before_leaving_the_group(tmp_path: Path) -> None:
    """Left to the interpreter's exit, the wrapper's gloo reducer aborted a rank now and then."""
    script = tmp_path / "teardown.py"
    script.write_text(TEARDOWN)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "store")], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split("\n")[:3] == ["alive after fit: True", "alive after teardown: False", "group left: True"], p.stdout
