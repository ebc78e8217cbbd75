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
