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
samples/s (training digits / that time), peak RSS, the ratios to hand-adam and to pythae, and the test
loss of the 10,000 test digits by one fp32 function for all (BCE nats per digit; the VAE's -ELBO in
nats, 10 posterior samples). The differences between the variants that could not be removed are
listed in the results (``differences``).

    python benchmarks/bench_peers.py --setup-only                        # the peers' venvs (one-time)
    python benchmarks/bench_peers.py --epochs 5 --repeats 3              # the table (models ae,vae,conv)
    python benchmarks/bench_peers.py --epochs 1 --repeats 1 --models ae --skip-missing   # a quick check
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, ROOT, bench_parser, apply_options, child_output, epoch_summary, interleaved, mnist, save, sync  # noqa: E402

MODELS = ["ae", "vae", "conv"]
AEKIT = ["aekit", "aekit-bf16"]
HAND = ["hand-adam", "hand-adam-fused", "hand-bf16"]
PEERS = ["pythae", "keras"]
VARIANTS = [*AEKIT, *HAND, *PEERS]
AIM = 1.5  # the aim: aekit the fastest of all, and at least 1.5x pythae's samples/s
LOSS = {"ae": "test_bce", "vae": "test_neg_elbo", "conv": "test_bce"}

VENVS = HERE / ".venvs"
REQUIREMENTS = {"pythae": ["pythae"], "keras": ["keras"]}
# pythae's own requirements but torch (its METADATA), for the --no-deps fallback when its pins clash with the torch pin
PYTHAE_DEPS = ["cloudpickle>=2.1.0", "imageio", "numpy>=1.19", "pydantic>=2.0", "scikit-learn", "scipy>=1.7.1", "tqdm",
               "typing-extensions"]
KEY_PACKAGES = {"pythae": ("torch", "pythae", "numpy", "pydantic", "scipy", "scikit-learn", "cloudpickle", "tqdm", "imageio"),
                "keras": ("torch", "keras", "numpy", "ml-dtypes", "optree", "h5py", "absl-py", "rich", "namex", "packaging")}
IMPORT_CHECK = {"pythae": "import pythae, torch; from pythae.trainers import BaseTrainer; print(torch.__version__)",
                "keras": "import keras, torch; assert keras.backend.backend() == 'torch'; print(torch.__version__)"}

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


# ---- the peers' virtual environments ------------------------------------------------------------

def torch_pin() -> str:
    """The torch version of aekit's environment (e.g. 2.13.0+cpu): the peers' venvs get exactly this build."""
    return importlib.metadata.version("torch")


def venv_python(lib: str) -> Path:
    return VENVS / lib / "bin" / "python"


def _marker(lib: str) -> Path:
    return VENVS / lib / "aekit-setup.json"


def venv_state(lib: str) -> dict | None:
    """What setup_venv recorded for ``lib``, or None when its venv is missing, unfinished or pinned to another torch."""
    try:
        state = json.loads(_marker(lib).read_text())
    except (OSError, ValueError):
        return None
    if not venv_python(lib).exists() or state.get("torch_requested") not in (torch_pin(), torch_pin().split("+")[0]):
        return None
    return state


def _rel(p: str | Path) -> str:
    try:
        return str(Path(p).relative_to(ROOT))
    except ValueError:
        return str(p)


def setup_venv(lib: str) -> dict:
    """Create benchmarks/.venvs/<lib> anew: python -m venv, torch pinned first, then the library with the same
    pin as a constraint (pythae: --no-deps plus its other requirements if that clashes). Returns the record
    (commands, fallbacks, pip freeze) it also writes to the venv's aekit-setup.json."""
    d = VENVS / lib
    if d.exists():
        shutil.rmtree(d)
    VENVS.mkdir(parents=True, exist_ok=True)
    log_path = VENVS / f"{lib}-setup.log"
    steps: list[str] = []
    notes: list[str] = []
    print(f"setting up {_rel(d)} (one-time; pip log in {_rel(log_path)}) ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
            steps.append(shlex.join(_rel(c) if c.startswith(str(ROOT)) else c for c in cmd))
            log.write(f"$ {steps[-1]}\n")
            log.flush()
            return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=check, text=True, **kw)

        run([sys.executable, "-m", "venv", str(d)])
        py = str(venv_python(lib))
        pip = [py, "-m", "pip", "install", "--no-input"]
        pins = [torch_pin()] + ([torch_pin().split("+")[0]] if "+" in torch_pin() else [])
        for i, pin in enumerate(pins):
            if run([*pip, f"torch=={pin}"], check=i == len(pins) - 1).returncode == 0:
                break
            notes.append(f"torch=={pin} could not be installed; pinned torch=={pins[i + 1]} instead")
        constraints = d / "constraints.txt"
        constraints.write_text(f"torch=={pin}\n")
        if run([*pip, "-c", str(constraints), *REQUIREMENTS[lib]], check=lib != "pythae").returncode != 0:
            notes.append(f"pip could not install pythae with torch=={pin} (see {_rel(log_path)}): installed it with "
                         f"--no-deps, then its other requirements: {' '.join(PYTHAE_DEPS)}")
            run([*pip, "--no-deps", "pythae"])
            run([*pip, "-c", str(constraints), *PYTHAE_DEPS])
        env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(d / "keras_home")}
        got = subprocess.run([py, "-c", IMPORT_CHECK[lib]], capture_output=True, text=True, env=env, check=True).stdout.split()[-1]
        if got.split("+")[0] != pin.split("+")[0]:
            raise RuntimeError(f"{_rel(d)} has torch {got}, not the pinned {pin}")
        freeze = subprocess.run([py, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout.split()
    versions = {}
    for line in freeze:
        name, _, version = line.partition("==")
        if name.lower().replace("_", "-") in KEY_PACKAGES[lib]:
            versions[name] = version
    python = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True).stdout.strip()
    state = {"lib": lib, "venv": _rel(d), "created": time.strftime("%Y-%m-%d %H:%M"), "python": python,
             "torch_requested": pin, "torch": got, "commands": steps, "notes": notes, "versions": versions,
             "pip_freeze": freeze, "setup_s": round(time.perf_counter() - t0, 1)}
    _marker(lib).write_text(json.dumps(state, indent=1))
    print(f"{_rel(d)}: torch {got}, {', '.join(f'{k} {v}' for k, v in versions.items() if k != 'torch')} "
          f"({state['setup_s']:.0f} s)", file=sys.stderr, flush=True)
    return state


def ensure_venvs(libs: list[str], create: bool) -> tuple[dict, dict]:
    """({lib: setup record} of the venvs ready, {lib: why skipped}); missing venvs are made when ``create``."""
    ready, skipped = {}, {}
    for lib in libs:
        state = venv_state(lib)
        if state is None and not create:
            skipped[lib] = "venv missing: run --setup-only"
            continue
        if state is None:
            try:
                state = setup_venv(lib)
            except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
                tail = (VENVS / f"{lib}-setup.log").read_text()[-1500:] if (VENVS / f"{lib}-setup.log").exists() else ""
                skipped[lib] = f"venv setup failed: {e}\n{tail}"
                print(f"{lib}: venv setup failed: {e}", file=sys.stderr, flush=True)
                continue
        ready[lib] = state
    return ready, skipped


# ---- the children --------------------------------------------------------------------------------

def vae_aekit_loop(variant: str, epochs: int, seed: int) -> tuple[list[float], float, str]:
    """aekit's VAE of bench_vae.py, timed as bench_speed.py times aekit (fit's call to each epoch's end)."""
    import logging

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
                      precision="bf16" if variant == "aekit-bf16" else "fp32")
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

    times, loss, precision = run_aekit_child(model, variant, a.epochs, a.seed)
    child_output(a.child, times, **{LOSS[model]: loss}, precision=precision, torch_threads=torch.get_num_threads())


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
            "target": f"aekit (its faster of fp32 and bf16) the fastest of all variants, and >= {AIM}x pythae's samples/s",
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
                        f"{s['peak_rss_mb']:.0f} | {f('ratio_to_hand_adam')} | {f('ratio_to_pythae')} | "
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
    ap.add_argument("--setup-only", action="store_true",
                    help="create the peers' virtual environments (benchmarks/.venvs/pythae, benchmarks/.venvs/keras) "
                         "anew and stop")
    ap.add_argument("--skip-missing", action="store_true",
                    help="record a peer whose venv is missing as skipped instead of creating its venv first")
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)  # children: the folder of the .npy digits
    a = apply_options(ap.parse_args())
    if a.child:
        child(a)
        return
    if a.setup_only:
        for lib in PEERS:
            state = setup_venv(lib)
            print(json.dumps({k: state[k] for k in ("venv", "python", "torch", "versions", "notes")}))
        return
    models = _choices(ap, a.models, MODELS, "model(s)")
    variants = _choices(ap, a.variants, VARIANTS, "variant(s)")
    venvs, skipped = ensure_venvs([v for v in variants if v in PEERS], create=not a.skip_missing)
    runnable = [v for v in variants if v not in skipped]
    x_train, _, x_test, _ = mnist()
    tmp = tempfile.mkdtemp(prefix="aekit-peers-")
    try:
        extra = []
        if any(v in PEERS for v in runnable):
            import numpy as np

            np.save(Path(tmp) / "x_train.npy", x_train)
            np.save(Path(tmp) / "x_test.npy", x_test)
            extra = ["--data", tmp]
        n_train = len(x_train)
        del x_train, x_test
        names = [f"{m}:{v}" for m in models for v in runnable]
        runs = interleaved(__file__, names, a.epochs, a.repeats, a.seed, seed_step=1, extra=extra) if names else {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results: dict = {}
    for m in models:
        summary, verdict = summarise({v: runs[f"{m}:{v}"] for v in runnable}, m, n_train, skipped)
        results[m] = {**verdict, "summary": summary, "runs": {v: runs[f"{m}:{v}"] for v in runnable}}
    diffs = DIFFERENCES["all"] + [d for lib in PEERS if lib in variants for d in DIFFERENCES[lib]]
    path = save("peers_speed", {
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
