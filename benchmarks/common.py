"""Shared pieces of the benchmarks: what every results file records (commit, command, machine), full
MNIST, the init of the hand-written loops, child processes interleaved over repeats, the command line.

Two options are left out of every script's --help, for smoke runs only: ``--limit N`` (train on the
first N training digits; recorded in the JSON) and ``--results DIR`` (write the JSON files and run
folders there instead of benchmarks/results/).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"   # --results DIR replaces it
LIMIT: int | None = None     # --limit N
RESUME = False               # --resume (scripts that call add_resume_option)
_START: dict = {}  # the commit and time when the script started (t0: its perf_counter)


# ---- provenance ---------------------------------------------------------------------------------

def git_commit() -> str:
    """``git rev-parse HEAD``, with "-dirty" when src/ or benchmarks/ (results files aside) differ from it."""
    from aekit.bench import git_commit as commit_of

    return commit_of(ROOT)


def command() -> str:
    """This process's command line, as run from the repository root."""
    return "python " + shlex.join([f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def machine() -> dict:
    """aekit.bench.machine() (CPU model and flags, GPU, torch, Python) with this process's torch threads
    and bf16 support, and the thread settings of its environment."""
    import torch

    from aekit.bench import machine as machine_info
    from aekit.train.precision import cpu_has_bf16

    info = {**machine_info(), "cpu_bf16": cpu_has_bf16(), "torch_threads": torch.get_num_threads()}
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES") if k in os.environ}
    if env:
        info["env"] = env
    return info


def save(name: str, payload: dict) -> Path:
    """Write results/<name>.json: the payload after its provenance (commit, command, machine, date, and
    ``wall_s``: the seconds since the script's options took effect, in this process)."""
    from aekit.io import atomic_write_json

    payload = dict(payload)
    meta = {"benchmark": payload.pop("benchmark", name), "commit": git_commit(), "command": command(),
            "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    if "t0" in _START:  # this process's seconds so far (a resumed benchmark's earlier sessions not counted)
        meta["wall_s"] = round(time.perf_counter() - _START["t0"], 1)
    if _START.get("commit", meta["commit"]) != meta["commit"]:
        meta["commit_at_start"] = _START["commit"]  # the code changed while the benchmark ran
    if LIMIT:
        meta["limit"] = LIMIT
        meta["note"] = f"smoke run: trained on the first {LIMIT} training digits only"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {**meta, **payload})
    return path


def writers(path: Path | None, cells: list[str]) -> list[dict]:
    """Who wrote a results file that processes share (under --resume): the writers listed in ``path``
    (for a file from before the list, its top-level provenance, cells unknown) and this process, one
    entry each: commit, command, machine, date, start time and pid, and the cells it measured. The
    file's top-level provenance is its last writer's; this list keeps every writer's, with the file's
    ``provenance`` note (how a commit or command was recorded after the fact) on the writer it describes."""
    old = json.loads(path.read_text()) if path is not None and path.is_file() else None
    listed = [] if old is None else old.get("writers") or [{**{k: old.get(k) for k in ("commit", "command", "machine", "date")},
                                                            "cells": None}]
    if old is not None and old.get("provenance") and "provenance" not in listed[-1]:
        # a note on how the top-level commit and command were recorded: they are the last writer's, so
        # the note goes with that writer (the next save's top level is this process's, without the note)
        listed[-1] = {**listed[-1], "provenance": old["provenance"]}
    me = {"commit": git_commit(), "command": command(), "machine": machine(), "date": time.strftime("%Y-%m-%d"),
          "started": _START.get("started"), "pid": os.getpid(), "cells": cells}
    return [w for w in listed if (w.get("started"), w.get("pid")) != (me["started"], me["pid"])] + [me]


@contextlib.contextmanager
def results_lock():
    """An exclusive lock on the results folder (flock on its directory): one writer at a time among
    the processes that merge their rows into one results file."""
    import fcntl

    RESULTS.mkdir(parents=True, exist_ok=True)
    fd = os.open(RESULTS, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# ---- data, nets, runs ---------------------------------------------------------------------------

def mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full MNIST (the first --limit training digits), floats in [0, 1], shape (N, 1, 28, 28)."""
    from aekit.data import load_raw

    raw = load_raw("mnist")
    return raw.x_train[:LIMIT], raw.y_train[:LIMIT], raw.x_test, raw.y_test


def glorot_(*modules) -> None:
    """Glorot-uniform weights, zero biases on every nn.Linear inside ``modules``: aekit's default init."""
    from torch import nn

    for m in modules:
        for layer in m.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)


def runs_dir() -> Path:
    return RESULTS / "runs"


def train_run(name: str, model: str, data: str = "mnist", **opts) -> tuple[Path, float]:
    """Train ``model`` on ``data`` into results/runs/<name>; (folder, training seconds: the sum of its
    epochs' times, over every session that trained it).

    A new run replaces the folder. Under ``--resume`` a folder with a checkpoint continues instead,
    with the same options (the trainer's exact resume: a run stopped mid-way, in this session or an
    earlier one, ends as if it had not stopped; a finished one is only evaluated again)."""
    import shutil

    import aekit

    if LIMIT:
        opts["limit"] = min(opts.get("limit") or LIMIT, LIMIT)
    out = runs_dir() / name
    resume = RESUME and (out / "checkpoints" / "last.safetensors").is_file()
    if resume:
        print(f"{name}: resuming from {out / 'checkpoints' / 'last.safetensors'}", file=sys.stderr, flush=True)
    elif out.exists():
        shutil.rmtree(out)
    aekit.train_run(model, data, out=out, resume=resume, **opts)
    return out, train_seconds(out)


def read_history(run: Path) -> list[dict[str, str]]:
    """A run's history.csv, one dict per epoch (every session's epochs, resumed runs included)."""
    import csv

    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def train_seconds(run: Path) -> float:
    """The summed epoch times of a run's history."""
    return sum(float(r["epoch_time_s"]) for r in read_history(run) if r.get("epoch_time_s"))


def n_train(run: Path) -> int:
    """Training digits of a run: the training split its saved config gives (limit, validation split applied)."""
    import aekit
    from aekit.data import prepare

    cfg = aekit.load_config(run)
    return len(prepare(cfg.data, cfg.train.seed).x_train)


# ---- child processes, interleaved over repeats ------------------------------------------------------

def cold_compile_cache() -> None:
    """Give this process an empty torch.compile cache of its own (removed at exit), so that a compiling
    variant pays a cold compile in its first epoch in every repeat, whatever ran before it."""
    import atexit
    import shutil
    import tempfile

    cache = tempfile.mkdtemp(prefix="aekit-bench-inductor-")
    tempfile.tempdir = cache  # where torch puts the caches it keeps outside TORCHINDUCTOR_CACHE_DIR (C++ headers)
    os.environ.update(TORCHINDUCTOR_CACHE_DIR=cache, TRITON_CACHE_DIR=os.path.join(cache, "triton"))
    atexit.register(shutil.rmtree, cache, ignore_errors=True)


def sync(device) -> None:
    """Wait for the device's queued work (CUDA), so that a clock read after it times that work."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def speed_runs(doc: str, variants: list[str], script: str, aekit_loop, hand_loop):
    """The shared main of the speed benchmarks (hand loop against aekit): parse the options; as a
    child (``--child VARIANT``) run that variant's loop, print its JSON line and return None; as the
    parent run the variants interleaved and return (options, runs)."""
    ap = bench_parser(doc, variants)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = apply_options(ap.parse_args())
    if a.child:
        loop = aekit_loop if a.child.startswith("aekit") else hand_loop
        times, bce, precision = loop(a.child, a.epochs, a.seed, a.device)
        child_output(a.child, times, a.device, test_bce=bce, precision=precision)
        return None
    unknown = [v for v in a.variants.split(",") if v not in variants]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(variants)}")
    return a, interleaved(script, a.variants.split(","), a.epochs, a.repeats, a.seed, extra=["--device", a.device])


def child_output(variant: str, epoch_times: list[float], device: str = "cpu", **figures) -> None:
    """A child's one JSON line: its epoch times, figures and peak memory (max RSS; on CUDA also allocated)."""
    import resource

    import torch

    out = {"variant": variant, "epoch_times_s": epoch_times, **figures,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.device(device).type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


def run_child(args: list[str], timeout: int = 3600) -> dict:
    """Run ``python args`` and parse the JSON it prints last."""
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(script: str, variants: list[str], epochs: int, repeats: int, seed: int, seed_step: int = 0,
                extra: list[str] | None = None) -> dict[str, list[dict]]:
    """Run ``script --child VARIANT`` for every variant, repeat after repeat (so the machine's drift
    hits every variant alike); each child prints one JSON line (:func:`child_output`). A child that
    fails is recorded as ``{"error": ...}`` and the others go on."""
    extra = [*(extra or []), *(["--limit", str(LIMIT)] if LIMIT else [])]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(repeats):
        for v in variants:
            try:
                res = run_child([script, "--child", v, "--epochs", str(epochs), "--seed", str(seed + seed_step * r), *extra])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                runs[v].append({"variant": v, "error": str(e)[-2000:]})
                print(f"repeat {r + 1}: {v:<20} FAILED: {str(e)[-300:]}", file=sys.stderr, flush=True)
                continue
            runs[v].append(res)
            figs = "".join(f", {k} {res[k]:.2f}" for k in ("test_bce", "test_neg_elbo") if k in res)
            print(f"repeat {r + 1}: {v:<20} first epoch {res['epoch_times_s'][0]:.3f} s, median {_median_after_first(res):.3f} "
                  f"s/epoch, peak {res['peak_rss_mb']:.0f} MB{figs}", file=sys.stderr, flush=True)
    return runs


def _median_after_first(res: dict) -> float:
    return statistics.median(res["epoch_times_s"][1:] or res["epoch_times_s"])


def epoch_summary(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per variant: median epoch time (the first epoch of each repeat left out), median first epoch,
    peak memory, ratio to hand-adam. Failed children are counted, not timed."""
    summary = {}
    for v, rs in runs.items():
        ok = [res for res in rs if "error" not in res]
        if not ok:
            summary[v] = {"error": rs[-1]["error"] if rs else "not run"}
            continue
        ts = [t for res in ok for t in (res["epoch_times_s"][1:] or res["epoch_times_s"])]
        s = {"median_epoch_s": statistics.median(ts), "min_epoch_s": min(ts),
             "median_first_epoch_s": statistics.median(res["epoch_times_s"][0] for res in ok),
             "peak_rss_mb": max(res["peak_rss_mb"] for res in ok)}
        if "peak_cuda_mb" in ok[0]:
            s["peak_cuda_mb"] = max(res["peak_cuda_mb"] for res in ok)
        if len(ok) < len(rs):
            s["failed_repeats"] = len(rs) - len(ok)
        summary[v] = s
    ref = summary.get("hand-adam", {}).get("median_epoch_s")
    for s in summary.values():
        if ref and "median_epoch_s" in s:
            s["ratio_to_hand_adam"] = s["median_epoch_s"] / ref
    return summary


# ---- command line -------------------------------------------------------------------------------

def add_hidden_options(ap: argparse.ArgumentParser) -> None:
    """--limit and --results (smoke runs), left out of --help."""
    ap.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=None, help=argparse.SUPPRESS)


def add_resume_option(ap: argparse.ArgumentParser) -> None:
    """--resume, for the scripts whose runs go through :func:`train_run`."""
    ap.add_argument("--resume", action="store_true",
                    help="continue the runs already in results/runs/ from their last checkpoints (across sessions) "
                         "instead of training them again; finished runs are only evaluated again")


def apply_options(a: argparse.Namespace) -> argparse.Namespace:
    """Make --limit, --results and --resume take effect; note the commit the script starts from."""
    global RESULTS, LIMIT, RESUME
    LIMIT = a.limit
    RESUME = getattr(a, "resume", False)
    if a.results is not None:
        RESULTS = a.results.resolve()
    _START["started"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _START["t0"] = time.perf_counter()
    if not getattr(a, "child", None):
        _START["commit"] = git_commit()
    return a


def seed_list(text: str, ap: argparse.ArgumentParser) -> list[int]:
    """--seeds "0,1,2" as distinct integers; anything else is a usage error naming the fix."""
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seeds: comma-separated integers, e.g. 0,1,2 (got {text!r})")
    if not seeds or len(set(seeds)) != len(seeds):
        ap.error(f"--seeds: give distinct seeds, e.g. 0,1,2 (got {text!r})")
    return seeds


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_hidden_options(ap)
    return ap


def bench_parser(doc: str, variants: list[str]) -> argparse.ArgumentParser:
    """The command line shared by the interleaved speed benchmarks (``apply_options(ap.parse_args())``)."""
    ap = parser(doc)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--variants", default=",".join(variants))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0)
    return ap
