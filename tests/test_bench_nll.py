"""Table 5's script (benchmarks/probabilistic.py nll): the DReG variants train the IWAE with the
encoder's doubly reparameterised gradient, and say so in the row and the kept run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from safetensors.torch import load_file

from conftest import REPO


def nll(tmp_path: Path, variants: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "nll", "--variants", variants, "--data", "mnist",
           "--epochs", "1", "--k", "5", "--limit", "256", "--results", str(tmp_path), "--device", "cpu"]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_the_dreg_variant_trains_the_iwae_with_the_doubly_reparameterised_gradient(tmp_path: Path, shared_data: Path) -> None:
    p = nll(tmp_path, "iwae5,iwae5-dreg")
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "nll_1ep.json").read_text())["results"]
    assert rows["mnist/iwae5-dreg"]["config"]["model"]["gradient"] == "dreg"
    assert rows["mnist/iwae5"]["config"]["model"]["gradient"] == "standard"
    kept = tmp_path / "nll" / "nll-mnist-iwae5-dreg-1ep"
    assert yaml.safe_load((kept / "config.yaml").read_text())["model"]["gradient"] == "dreg"  # re-evaluable as it trained
    # the same seed, data and decoder gradient: the encoder's gradient is what differs, and its weights with it
    std, dreg = (load_file(str(tmp_path / "nll" / f"nll-mnist-{v}-1ep" / "model.safetensors")) for v in ("iwae5", "iwae5-dreg"))
    differs = {k for k in std if not (std[k] == dreg[k]).all()}
    assert any(k.startswith("encoder") for k in differs), sorted(std)


def test_an_unknown_variant_names_the_dreg_ones(tmp_path: Path) -> None:
    p = nll(tmp_path, "iwae50-dreg2")
    assert p.returncode != 0 and "unknown variant or data set iwae50-dreg2" in p.stderr and "iwae5-dreg, iwae50-dreg" in p.stderr
