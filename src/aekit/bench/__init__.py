"""The benchmark harness (``aekit benchmark``): one table at a time, from the repository's
benchmarks/ scripts, into one JSON file per table.

    aekit benchmark --list
    aekit benchmark one-class --seeds 0        # benchmarks/results/one-class.json
    aekit benchmark vae-nll --quick            # a smoke run: benchmarks/results/quick/vae-nll.json

A table (tables.py) names its script, its full and quick arguments and the results files the script
writes. The harness runs the script in a child process from the repository root, then writes
``NAME.json``: the table, its title, quick or full, the command, the script's own results files
(their whole content: every figure, config, seeds, the commit each recorded), the published figures
it is held against with their sources, the machine (CPU model and flags, GPU, torch), the git commit,
and the wall time. Quick runs write under ``results/quick/`` (never over the committed full results).
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import AekitError, unknown_choice
from ..io import atomic_write_json
from .tables import TABLES, Table

__all__ = ["TABLES", "Table", "run_table", "find_repo", "machine", "table_args"]

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma")


def find_repo(start: str | Path | None = None) -> Path:
    """The aekit checkout holding benchmarks/ (cwd or a parent; ``$AEKIT_REPO`` first)."""
    here = Path(os.environ.get("AEKIT_REPO") or start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "benchmarks" / "common.py").is_file() and (d / "pyproject.toml").is_file():
            return d
    raise AekitError(f"no aekit checkout (a benchmarks/ folder with common.py) at or above {here}",
                     "run aekit benchmark from the repository, or set AEKIT_REPO to it")


def machine() -> dict[str, Any]:
    """CPU model, core count and the flags that matter to the figures, GPU if any, torch and Python."""
    import torch

    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    cpu = cpu or platform.processor()
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "cpu_flags": [f for f in CPU_FLAGS if f in flags],
                            "torch": torch.__version__, "python": platform.python_version(), "gpu": None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_commit(repo: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False).stdout.strip()

    dirty = git("status", "--porcelain", "--", "src", "benchmarks", ":(exclude)benchmarks/results")
    return (git("rev-parse", "HEAD") or "unknown") + ("-dirty" if dirty else "")


def table_args(table: Table, quick: bool = False, seeds: list[int] | None = None, device: str | None = None,
               resume: bool = False) -> list[str]:
    """The script's arguments for these options; an option the table does not take is an error."""
    args = list(table.quick if quick else table.full)
    if seeds is not None:
        if table.seeds is None:
            raise AekitError(f"the {table.name} table takes no seeds (its script runs one seed)", "drop --seeds")
        flag, style = table.seeds
        if style == "one" and len(seeds) != 1:
            raise AekitError(f"the {table.name} table runs one seed at a time, got {len(seeds)}", "give one seed, e.g. --seeds 1")
        args += [flag, ",".join(map(str, seeds))] if style == "comma" else [flag, *map(str, seeds)]
    if device is not None:
        if not table.device:
            raise AekitError(f"the {table.name} table has no --device choice (it trains where aekit's train.device=auto puts it)",
                             "drop --device")
        args += ["--device", device]
    if resume:
        if not table.resume:
            raise AekitError(f"the {table.name} table has no --resume (its script does not keep its runs between invocations)",
                             "drop --resume")
        args.append("--resume")
    return args


def run_table(name: str, quick: bool = False, seeds: list[int] | None = None, device: str | None = None,
              repo: str | Path | None = None, echo: bool = True, resume: bool = False) -> Path:
    """Run table ``name``; returns the path of its NAME.json. ``resume``: the script continues the runs
    it finds in results/runs/ (an interrupted table, in this session or an earlier one) instead of
    training them again."""
    if name not in TABLES:
        raise unknown_choice("benchmark table", name, sorted(TABLES))
    table = TABLES[name]
    if f"{name}.json" in (*table.outputs, *table.quick_outputs):  # the table's file would replace its script's
        raise AekitError(f"table {name} is named like one of its script's results files", "rename the table in aekit/bench/tables.py")
    root = find_repo(repo)
    args = table_args(table, quick, seeds, device, resume)
    results = root / "benchmarks" / "results" / ("quick" if quick else "")
    script = ["benchmarks/" + table.script, *args] + (["--results", str(results)] if quick else [])
    cmd = [sys.executable, *script]
    if echo:
        print("$ python " + shlex.join(script), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise AekitError(f"benchmarks/{table.script} exited with status {proc.returncode}; nothing was written for {name}",
                         "see its output above")
    outputs = {}
    for f in (table.quick_outputs or table.outputs) if quick else table.outputs:
        path = results / f
        if not path.is_file():
            raise AekitError(f"benchmarks/{table.script} did not write {path}", "the table's outputs in aekit/bench/tables.py are out of date")
        outputs[f] = json.loads(path.read_text())
    out = results / f"{name}.json"
    atomic_write_json(out, {"table": name, "title": table.title, "quick": quick, "command": "python " + shlex.join(script),
                            "aekit_command": "aekit " + shlex.join(["benchmark", name, *(["--quick"] if quick else []),
                                                                    *(["--seeds", ",".join(map(str, seeds))] if seeds else []),
                                                                    *(["--device", device] if device else []),
                                                                    *(["--resume"] if resume else [])]),
                            "commit": git_commit(root), "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "wall_s": round(wall, 2), "seeds": seeds, "published": table.published, "outputs": outputs})
    return out
