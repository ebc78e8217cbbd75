"""Shared pieces of the benchmarks: machine description, full MNIST, the reference model."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full MNIST from the data directory, floats in [0, 1], shape (N, 1, 28, 28)."""
    from aekit.data import load_raw

    raw = load_raw("mnist")
    return raw.x_train, raw.y_train, raw.x_test, raw.y_test


def save(name: str, payload: dict) -> Path:
    from aekit.io import atomic_write_json

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, payload)
    return path


def run_child(args: list[str], timeout: int = 1800) -> dict:
    """Run ``python <this file's sibling> args`` and parse the JSON it prints last."""
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def train_run(name: str, model: str, **opts) -> tuple[Path, float]:
    """Train ``model`` on full MNIST into results/runs/<name> (replacing it); (folder, seconds)."""
    import shutil
    import time

    import aekit

    out = RESULTS / "runs" / name
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    aekit.train_run(model, "mnist", out=out, **opts)
    return out, time.perf_counter() - t0


def interleaved(script: str, variants: list[str], epochs: int, repeats: int, seed: int, seed_step: int = 0) -> dict[str, list[dict]]:
    """Run ``script --child VARIANT`` for every variant, repeat after repeat (so the machine's
    drift hits every variant alike); each child prints one JSON line with ``epoch_times_s``."""
    import statistics

    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(repeats):
        for v in variants:
            res = run_child([script, "--child", v, "--epochs", str(epochs), "--seed", str(seed + seed_step * r)])
            runs[v].append(res)
            extra = f", test -ELBO {res['test_neg_elbo']:.2f}" if "test_neg_elbo" in res else ""
            print(f"repeat {r + 1}: {v:<16} median {statistics.median(res['epoch_times_s'][1:] or res['epoch_times_s']):.3f} s/epoch, "
                  f"peak {res['peak_rss_mb']:.0f} MB{extra}", file=sys.stderr, flush=True)
    return runs


def epoch_summary(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Median epoch time (first epoch of each repeat left out), peak RSS, ratio to hand-adam."""
    import statistics

    summary = {}
    for v, rs in runs.items():
        ts = [t for res in rs for t in (res["epoch_times_s"][1:] or res["epoch_times_s"])]
        summary[v] = {"median_epoch_s": statistics.median(ts), "min_epoch_s": min(ts),
                      "peak_rss_mb": max(res["peak_rss_mb"] for res in rs)}
    ref = summary.get("hand-adam", {}).get("median_epoch_s")
    for v in summary:
        if ref:
            summary[v]["ratio_to_hand_adam"] = summary[v]["median_epoch_s"] / ref
    return summary


def bench_args(doc: str, variants: list[str]):
    """The command line shared by the interleaved speed benchmarks."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--variants", default=",".join(variants))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()
