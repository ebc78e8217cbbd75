"""Speed and memory against the peers: aekit, hand-written PyTorch loops, pythae and Keras 3 (torch
backend) training the same three models on full MNIST, interleaved in one run.

Models (every variant: the same layers, Adam lr 1e-3, batch 128, the same epochs, Glorot-uniform
weights and zero biases, no validation split, no progress bar):

  ae     MLP 784-512-256-32 (ReLU), Bernoulli likelihood (BCE summed per digit, batch mean), as bench_speed.py
  vae    784-512-256-16 (ReLU), diagonal-Gaussian encoder, Bernoulli decoder, analytic KL, as bench_vae.py
  conv   conv AE of bench_conv_speed.py: conv 3x3/2 32, 64 (ReLU), linear to a code of 32, mirrored by
         transposed convolutions; Bernoulli likelihood

Variants:

  aekit            aekit's Trainer, train.precision=fp32 (its default fused Adam)
  aekit-bf16       train.precision=bf16
  aekit-bf16-compile  train.precision=bf16, train.compile=true: its first epoch holds a cold compile (an
                   empty compile cache in every process), left out of the median like every first epoch
  hand-adam        the hand-written fp32 loop of bench_speed.py / bench_vae.py / bench_conv_speed.py, Adam()
  hand-adam-fused  the same loop with Adam(fused=True)
  hand-bf16        the fused loop under torch.autocast(bfloat16), the loss in fp32
  pythae           pythae's TrainingPipeline / BaseTrainer with its AE / VAE model and a custom encoder and
                   decoder (BaseEncoder / BaseDecoder) of the same layers, in its own virtual environment
  keras            Keras 3, KERAS_BACKEND=torch, model.fit (verbose=0), in its own virtual environment

The peers run in virtual environments of their own, benchmarks/.venvs/pythae and benchmarks/.venvs/keras,
made on first use (or with --setup-only) with ``python -m venv`` and pip, torch pinned to the very
version aekit's environment has; what was installed (pip freeze) goes into the results. Their code is
benchmarks/peers_children.py, which imports nothing of aekit: it reads the digits from .npy files this
script writes from the same arrays the other variants load.

Each variant trains in its own process, the variants and models interleaved over repeats (this VM's
timings wander by 15-20% from run to run). Epochs are timed the way each library's loop runs them:
aekit from the call of fit to each epoch's end callback, pythae from its train-begin callback to each
epoch's log callback (its whole epoch: the training steps, the copy of the best model it keeps, its
callbacks), Keras from on_train_begin to each on_epoch_end, the hand loops around each epoch. Reported
per model and variant: the median epoch time over every epoch after the first of every repeat,
samples/s (training digits / that time), peak RSS (each child's own VmHWM; getrusage's max RSS, which
other benchmarks report, is in the JSON too: the same here, as the parent stays lighter than every
child), the ratios to hand-adam and to pythae, and the test
loss of the 10,000 test digits by one fp32 function for all (BCE nats per digit; the VAE's -ELBO in
nats, 10 posterior samples). The differences between the variants that could not be removed are
listed in the results (``differences``).

    python benchmarks/bench_peers.py --setup-only                        # the peers' venvs (one-time)
    python benchmarks/bench_peers.py --epochs 3 --repeats 3              # the table (models ae,vae,conv)
    python benchmarks/bench_peers.py --epochs 1 --repeats 1 --models ae --skip-missing   # a quick check
    python benchmarks/bench_peers.py --epochs 3 --repeats 4 --models conv --name peers_speed_conv   # one model, more repeats
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from peers_venvs import VENVS, _rel, ensure_venvs, venv_python  # noqa: E402
from common import HERE, bench_parser, apply_options, child_output, epoch_summary, interleaved, mnist, save, sync  # noqa: E402

MODELS = ["ae", "vae", "conv"]
AEKIT = ["aekit", "aekit-bf16", "aekit-bf16-compile"]
HAND = ["hand-adam", "hand-adam-fused", "hand-bf16"]
PEERS = ["pythae", "keras"]
VARIANTS = [*AEKIT, *HAND, *PEERS]
AIM = 1.5  # the aim: aekit the fastest of all, and at least 1.5x pythae's samples/s
LOSS = {"ae": "test_bce", "vae": "test_neg_elbo", "conv": "test_bce"}

DIFFERENCES = {
    "all": [
        "aekit uses fused Adam by default (its variant 'aekit'); pythae and hand-adam use torch's Adam(), Keras its own "
        "Adam (epsilon set to torch's 1e-8; Keras puts it after the bias correction of v, torch before)",
        "the shuffling and the noise are each library's own (same seed, different streams); the init is the same "
        "scheme (Glorot-uniform, zero biases), not the same numbers",
        "aekit and the hand loops read MNIST with aekit.data.load_raw; pythae and Keras read the same float32 arrays "
        "from .npy files this script writes (they cannot import aekit)",
        "pythae and Keras have no bf16 variant here: pythae's amp is CUDA-only (torch.autocast('cuda')) and off for "
        "its BCE loss; Keras' mixed_bfloat16 policy was not measured",
        "aekit-bf16-compile compiles the model (train.compile=true, torch.compile) and the hand loops do not: a "
        "hand loop could compile its model too; the compile's cost is in the first epoch, which the median leaves out",
    ],
    "pythae": [
        "pythae's decoders end in a sigmoid (its convention: reconstructions in [0, 1]) and its BCE is "
        "F.binary_cross_entropy on probabilities; aekit, the hand loops and Keras take BCE on logits",
        "pythae's AE has only an MSE loss: the benchmark's AE subclasses pythae.models.AE and overrides loss_function "
        "with the BCE of pythae's VAE (reconstruction_loss='bce'): summed per digit, batch mean",
        "pythae's data path is its own: DataProcessor, BaseDataset, a DataLoader over single digits with its collate_fn "
        "(aekit and the hand loops index one tensor per batch)",
        "left on in pythae (no switch for it): a deepcopy of the model every epoch whose training loss improves "
        "(keep_best_on_train, without an eval set), its per-epoch logging callback (logging silenced), its sanity "
        "forward pass before training (not timed) and the final model saved after training (not timed). Turned "
        "off: the tqdm progress bars (TQDM_DISABLE=1; aekit runs with progress=False), checkpoints (steps_saving=None)",
    ],
    "keras": [
        "Keras' convolutions run with image_data_format='channels_first' (torch's layout; the default channels_last "
        "would transpose around every convolution); its 'same' padding pads a stride-2 3x3 convolution on the "
        "bottom/right only, torch's padding=1 on every side (same shapes and parameter counts)",
        "Keras' VAE adds the KL term with Layer.add_loss and samples with keras.random.normal",
        "Keras runs eagerly (jit_compile=False) and fit computes its loss tracker every step",
    ],
}


# ---- the children --------------------------------------------------------------------------------

def vae_aekit_loop(variant: str, epochs: int, seed: int) -> tuple[list[float], float, str]:
    """aekit's VAE of bench_vae.py, timed as bench_speed.py times aekit (fit's call to each epoch's end)."""
    import logging

    if variant.endswith("-compile"):
        common.cold_compile_cache()
    import numpy as np
    import torch

    from aekit.config import TrainConfig
    from aekit.models import build_model
    from aekit.train import Trainer
    from bench_vae import neg_elbo

    logging.disable(logging.WARNING)
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    model = build_model("vae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[512, 256], latent_dim=16)
    cfg = TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True,
                      precision="fp32" if variant == "aekit" else "bf16", compile=variant.endswith("-compile"))
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # the first optimiser's import, outside the clock (as in bench_speed)
    ends: list[float] = []
    trainer = Trainer(model, cfg, progress=False, callbacks=[lambda row: (sync("cpu"), ends.append(time.perf_counter()))])
    t0 = time.perf_counter()
    trainer.fit(x_train)
    model.eval()
    xt = torch.from_numpy(x_test).reshape(len(x_test), -1)
    elbo = neg_elbo(lambda b: model.posterior(b), lambda z: model.decoder_params(z), xt)
    return np.diff([t0, *ends]).tolist(), elbo, trainer.precision


def run_aekit_child(model: str, variant: str, epochs: int, seed: int) -> tuple[list[float], float, str]:
    """One aekit or hand-loop variant, by the loops of bench_speed.py, bench_vae.py and bench_conv_speed.py."""
    if model == "ae":
        import bench_speed

        loop = bench_speed.aekit_loop if variant in AEKIT else bench_speed.hand_loop
        return loop(variant, epochs, seed, "cpu")
    if model == "conv":
        import bench_conv_speed

        if variant in AEKIT:
            return bench_conv_speed.aekit_loop(variant, epochs, seed, "cpu")
        # its names: "hand" is the plain-Adam loop; "fused" and "bf16" in a name switch those on
        name = {"hand-adam": "hand", "hand-adam-fused": "hand-fused", "hand-bf16": "hand-bf16-fused"}[variant]
        return bench_conv_speed.hand_loop(name, epochs, seed, "cpu")
    if variant in AEKIT:
        return vae_aekit_loop(variant, epochs, seed)
    import bench_vae

    times, elbo = bench_vae.hand(epochs, fused=variant != "hand-adam", seed=seed, bf16=variant == "hand-bf16")
    return times, elbo, "bf16" if variant == "hand-bf16" else "fp32"


def exec_peer_child(model: str, lib: str, a) -> None:
    """Become the peer's child: its venv's python running peers_children.py (exec, so no process sits in
    between; nothing heavy is imported before, so the peak RSS is the peer's own)."""
    py = venv_python(lib)
    if not py.exists():
        sys.exit(f"{_rel(py)} is missing: run benchmarks/bench_peers.py --setup-only")
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(VENVS / lib / "keras_home"), "TQDM_DISABLE": "1",
           "PYTHONNOUSERSITE": "1"}
    args = [str(py), str(HERE / "peers_children.py"), "--lib", lib, "--model", model, "--epochs", str(a.epochs),
            "--seed", str(a.seed), "--data", a.data, "--variant", a.child]
    sys.stdout.flush()
    os.execve(str(py), args, env)


def child(a) -> None:
    model, variant = a.child.split(":")
    if variant in PEERS:
        exec_peer_child(model, variant, a)
    import torch

    from peers_children import vm_hwm_mb

    times, loss, precision = run_aekit_child(model, variant, a.epochs, a.seed)
    child_output(a.child, times, **{LOSS[model]: loss}, precision=precision, torch_threads=torch.get_num_threads(),
                 vm_hwm_mb=vm_hwm_mb())


def prepare_data(folder: str) -> int:
    """The number of training digits; with a folder (not "-"), also write the digits there as .npy for the
    peers. Done in a child process: a child's max RSS (getrusage) is never below its parent's peak RSS
    when it was started (Linux carries the forking process's high-water mark over the exec), so the
    parent of the timed children must not load the data itself."""
    cmd = [sys.executable, __file__, "--write-data", folder, *(["--limit", str(common.LIMIT)] if common.LIMIT else [])]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[-1])


def write_data(folder: str) -> None:
    x_train, _, x_test, _ = mnist()
    if folder != "-":
        import numpy as np

        np.save(Path(folder) / "x_train.npy", x_train)
        np.save(Path(folder) / "x_test.npy", x_test)
    print(len(x_train))


# ---- the parent: runs, summary, table ------------------------------------------------------------

def summarise(runs: dict[str, list[dict]], model: str, n_train: int, skipped: dict[str, str]) -> tuple[dict, dict]:
    """One model's summary (epoch_summary with precision, samples/s, test loss, ratio to pythae) and verdict."""
    summary = epoch_summary(runs)
    key = LOSS[model]
    for v, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            continue
        s = summary[v]
        s.update(precision=ok[0].get("precision"), samples_per_s=n_train / s["median_epoch_s"])
        if all("vm_hwm_mb" in r for r in ok):  # each process image's own peak (peers_children.vm_hwm_mb)
            s["peak_vm_hwm_mb"] = max(r["vm_hwm_mb"] for r in ok)
        losses = [r[key] for r in ok if r.get(key) is not None]
        if losses:
            s.update({f"{key}_mean": statistics.mean(losses), f"{key}_all": losses})
    ref = summary.get("pythae", {}).get("median_epoch_s")
    for s in summary.values():
        if ref and "median_epoch_s" in s:
            s["ratio_to_pythae"] = s["median_epoch_s"] / ref
    for lib, why in skipped.items():
        summary[lib] = {"skipped": why}
    timed = {v: s["median_epoch_s"] for v, s in summary.items() if "median_epoch_s" in s}
    verdict: dict = {"fastest": min(timed, key=timed.get) if timed else None}
    aekit = min((v for v in AEKIT if v in timed), key=timed.get, default=None)
    if aekit:
        others = {v: t for v, t in timed.items() if v not in AEKIT}
        verdict["aim"] = {
            "target": f"aekit (its fastest variant) the fastest of all variants, and >= {AIM}x pythae's samples/s",
            "aekit_variant": aekit, "aekit_fastest": not others or timed[aekit] < min(others.values()),
            "speedup_vs_pythae": ref / timed[aekit] if ref else None,
            "aekit_fp32_speedup_vs_pythae": ref / timed["aekit"] if ref and "aekit" in timed else None,
            "speedup_vs_keras": timed["keras"] / timed[aekit] if "keras" in timed else None,
            "met": (not others or timed[aekit] < min(others.values())) and ref / timed[aekit] >= AIM if ref else None}
    return summary, verdict


def table(model: str, summary: dict) -> str:
    key = LOSS[model]
    unit = "test -ELBO (nats)" if model == "vae" else "test BCE (nats)"
    rows = [f"| {model} | precision | median s/epoch | samples/s | peak RSS MB | ratio to hand-adam | ratio to pythae | {unit} |",
            "|---|---|" + "---:|" * 6]
    for v, s in summary.items():
        if "skipped" in s:
            rows.append(f"| {v} | skipped: {s['skipped'].splitlines()[0][:80]} |")
        elif "error" in s:
            rows.append(f"| {v} | failed: {s['error'].strip().splitlines()[-1][:80]} |")
        else:
            f = lambda k, fmt="{:.3f}": "n/a" if s.get(k) is None else fmt.format(s[k])  # noqa: E731
            rows.append(f"| {v} | {s.get('precision')} | {s['median_epoch_s']:.3f} | {s['samples_per_s']:.0f} | "
                        f"{s.get('peak_vm_hwm_mb', s['peak_rss_mb']):.0f} | {f('ratio_to_hand_adam')} | {f('ratio_to_pythae')} | "
                        f"{f(key + '_mean', '{:.2f}')} |")
    return "\n".join(rows)


def _choices(ap, value: str, allowed: list[str], what: str) -> list[str]:
    got = [v for v in value.split(",") if v]
    bad = [v for v in got if v not in allowed]
    if bad or not got:
        ap.error(f"unknown {what} {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
    return got


def main() -> None:
    ap = bench_parser(__doc__, VARIANTS)
    ap.set_defaults(epochs=5)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {','.join(MODELS)}")
    ap.add_argument("--name", default="peers_speed",
                    help="the results file, results/NAME.json (say peers_speed_conv for more repeats of one model "
                         "beside the whole table) [default: peers_speed]")
    ap.add_argument("--setup-only", action="store_true",
                    help="create the peers' virtual environments (benchmarks/.venvs/pythae, benchmarks/.venvs/keras) "
                         "where missing or pinned to another torch, and stop (delete a venv's folder to build it anew)")
    ap.add_argument("--skip-missing", action="store_true",
                    help="record a peer whose venv is missing as skipped instead of creating its venv first")
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)  # children: the folder of the .npy digits
    ap.add_argument("--write-data", default=None, help=argparse.SUPPRESS)  # the data child (prepare_data)
    a = apply_options(ap.parse_args())
    if a.write_data:
        write_data(a.write_data)
        return
    if a.child:
        child(a)
        return
    if a.setup_only:
        ready, failed = ensure_venvs(PEERS, create=True)
        for lib, state in ready.items():
            print(json.dumps({k: state[k] for k in ("venv", "python", "torch", "versions", "notes", "created")}))
        if failed:
            sys.exit("; ".join(f"{lib}: {why.splitlines()[0]}" for lib, why in failed.items()))
        return
    models = _choices(ap, a.models, MODELS, "model(s)")
    if not a.name.replace("_", "").replace("-", "").isalnum():
        ap.error(f"--name takes a file name of letters, digits, _ and -, got {a.name!r}")
    variants = _choices(ap, a.variants, VARIANTS, "variant(s)")
    venvs, skipped = ensure_venvs([v for v in variants if v in PEERS], create=not a.skip_missing)
    runnable = [v for v in variants if v not in skipped]
    tmp = tempfile.mkdtemp(prefix="aekit-peers-")
    try:
        peers = any(v in PEERS for v in runnable)
        n_train = prepare_data(tmp if peers else "-")
        extra = ["--data", tmp] if peers else []
        names = [f"{m}:{v}" for m in models for v in runnable]
        runs = interleaved(__file__, names, a.epochs, a.repeats, a.seed, seed_step=1, extra=extra) if names else {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results: dict = {}
    for m in models:
        summary, verdict = summarise({v: runs[f"{m}:{v}"] for v in runnable}, m, n_train, skipped)
        results[m] = {**verdict, "summary": summary, "runs": {v: runs[f"{m}:{v}"] for v in runnable}}
    diffs = DIFFERENCES["all"] + [d for lib in PEERS if lib in variants for d in DIFFERENCES[lib]]
    path = save(a.name, {
        "benchmark": "peers_speed", "device": "cpu", "epochs": a.epochs, "repeats": a.repeats, "batch_size": 128,
        "n_train": n_train, "models": models, "variants": variants,
        "init": "Glorot-uniform weights, zero biases in every variant (the same scheme; each library draws its own numbers)",
        "timing": "median epoch time over every epoch after the first of every repeat; samples/s = training digits / it",
        "aim": f"aekit the fastest of all variants and at least {AIM}x pythae's samples/s, for each model",
        "differences": diffs, "venvs": venvs, "skipped": skipped, "results": results})
    for m in models:
        print(table(m, results[m]["summary"]))
        aim = results[m].get("aim", {})
        sp = aim.get("speedup_vs_pythae")
        print(f"{m}: fastest {results[m]['fastest']}; aekit vs pythae {'n/a' if sp is None else f'{sp:.2f}x'}; "
              f"aim met: {aim.get('met', 'not measured')}\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
