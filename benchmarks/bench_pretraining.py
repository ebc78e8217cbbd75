"""Unsupervised pretraining, then supervised fine-tuning: the two tables of the lecture, on full MNIST.

    python benchmarks/bench_pretraining.py --table rifai --seeds 0,1,2     # pretraining_rifai.json
    python benchmarks/bench_pretraining.py --table vincent --seeds 0,1,2   # pretraining_vincent.json
    ... [--resume]    # continue an interrupted table: pretrainings from their checkpoints, finished
                      # fine-tunings read back (RUN/bench-finetune.json) instead of trained again

rifai    Rifai et al. 2011, Table 1: one hidden layer of 1000 sigmoid units (tied weights, Bernoulli
         cross-entropy) pretrained as AE, AE + weight decay, DAE (Gaussian noise), DAE (25% masking)
         and CAE; the layer plus a softmax head is then fine-tuned on every training label
         (`aekit finetune RUN --labels all`). Columns: test error %, and of the pretrained layer on
         the test digits the mean ‖∂h/∂x‖_F and the share of saturated units (h < 0.05 or > 0.95).
         Published: CAE 1.14, DAE-g 1.18, AE 1.78 (DAE-masking 1.57, AE+wd 1.68 unverified).
vincent  Vincent et al. 2010, Table 3: three hidden layers of 1000 sigmoid units, greedy layer-wise
         pretraining as plain AEs (SAE-3) or denoising AEs with 25% masking (SDAE-3), then the
         encoder plus a softmax head fine-tuned on every training label. Published: SDAE-3 1.28,
         SAE-3 1.40.

Both tables add the same network fine-tuned from a fresh initialisation ("none": no pretraining).
The papers chose every hyper-parameter (noise level, λ, learning rates, epochs) on a validation set
and trained with SGD for far longer; this script uses the fixed values below (Adam), which the JSON
records, so compare its ordering more than its absolute errors. Fine-tuning trains on the run's
training split (54,000 digits: aekit's default 10% validation split is held out) and is scored on
the 10,000 test digits.

Every row trains once per seed of --seeds (the seed sets the pretraining's weights, split, shuffling and
corruption, and the fine-tuning's head and shuffling); the JSON gives each seed's figures (``per_seed``)
and, per row, their mean and sample sd (``test_error_percent`` and ``test_error_sd``; ``ranks`` orders
the rows by test error within each seed). A seed's ``pretrain_seconds`` sum the pretraining's epochs;
its ``finetune_seconds`` time the fine-tuning call, which for the first row also fine-tunes the "none"
row's network (both rows give that one call's seconds). Runs go to results/runs/pretraining-TABLE-ROW (seed 0) and
pretraining-TABLE-ROW-sS (seed S); the results file is written after every seed, with the seeds pending.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import add_resume_option, apply_options, parser, save, seed_list, train_run  # noqa: E402

LAYER = {"hidden": [], "latent_dim": 1000, "code_activation": "sigmoid", "tied": True, "likelihood": "bernoulli"}
RIFAI = {  # name: (preset, options), the one hidden layer of Rifai et al.
    "AE": ("ae", {}),
    "AE+wd": ("ae", {"weight_decay": 1e-4}),
    "DAE-g": ("denoising-ae", {"corruption": "gaussian", "noise_level": 0.3}),
    "DAE-b": ("denoising-ae", {"corruption": "masking", "noise_level": 0.25}),
    "CAE": ("contractive-ae", {"contractive": 0.1}),
}
RIFAI_PUBLISHED = {"AE": 1.78, "AE+wd": 1.68, "DAE-g": 1.18, "DAE-b": 1.57, "CAE": 1.14}
STACK = {"hidden": [1000, 1000], "latent_dim": 1000, "activation": "sigmoid", "code_activation": "sigmoid", "tied": True,
         "likelihood": "bernoulli"}
VINCENT = {"SAE-3": ("stacked-ae", {}), "SDAE-3": ("stacked-denoising-ae", {"corruption": "masking", "noise_level": 0.25})}
VINCENT_PUBLISHED = {"SAE-3": 1.40, "SDAE-3": 1.28}


def _layer_figures(run: Path) -> dict:
    """Mean ‖∂h/∂x‖_F and saturated share of the pretrained code on the test digits."""
    import aekit
    from aekit.evaluate import code_metrics
    from aekit.run import run_data, scale

    model = aekit.load(run)
    data = run_data(aekit.load_config(run))
    m = code_metrics(model, ["jacobian", "saturation"], scale(data, data.x_test))
    return {"jacobian_frobenius": m["test_jacobian_frobenius"], "saturated_fraction": m["test_saturated_fraction"]}


def _finetune(run: Path, a, seed: int, scratch: bool) -> dict:
    """Fine-tune ``run`` on every training label (and the same network from scratch when ``scratch``).
    The result is kept in RUN/bench-finetune.json with the options and the pretrained weights' sha256;
    under --resume a kept result of the same weights and options is read back instead of trained again."""
    from aekit.io import atomic_write_json
    from aekit.tasks.finetune import finetune

    options = {"epochs": a.finetune_epochs, "lr": a.finetune_lr, "batch_size": a.batch_size, "seed": seed, "scratch": scratch}
    weights = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    kept = run / "bench-finetune.json"
    if common.RESUME and kept.is_file():
        k = json.loads(kept.read_text())
        if k.get("options") == options and k.get("pretrained_sha256") == weights:
            print(f"{run.name}: fine-tuning read back from {kept}", file=sys.stderr, flush=True)
            return k["result"]
    t0 = time.perf_counter()
    ft = finetune(run, None, epochs=a.finetune_epochs, lr=a.finetune_lr, batch_size=a.batch_size, seed=seed,
                  scratch=scratch, progress=False)
    ft = {**ft, "seconds": time.perf_counter() - t0}
    atomic_write_json(kept, {"options": options, "pretrained_sha256": weights, "result": ft})
    return ft


NONE = "none (same net, no pretraining)"
PER_SEED = ("test_error_percent", "jacobian_frobenius", "saturated_fraction")


def one_seed(name: str, variants: dict, base: dict, a, seed: int) -> dict[str, dict]:
    """Every row of the table trained and fine-tuned with ``seed``: {row: its figures}."""
    out = {}
    for i, (label, (preset, opts)) in enumerate(variants.items()):
        pre = {"epochs": a.pretrain_epochs} if name == "rifai" else {"pretrain_epochs": a.pretrain_epochs, "epochs": 0}
        run, secs = train_run(f"pretraining-{name}-{label}" + (f"-s{seed}" if seed else ""), preset, **base, **opts, **pre,
                              lr=a.lr, batch_size=128, seed=seed, quiet=True)
        ft = _finetune(run, a, seed, scratch=(i == 0))
        where = str(run.relative_to(common.RESULTS))
        fig = {"test_error_percent": 100 * (1 - ft["pretrained_test_accuracy"]), "n_finetune": ft["labels"],
               "pretrain_seconds": secs, "finetune_seconds": ft.get("seconds"), "run": where}
        if name == "rifai":
            fig.update(_layer_figures(run))
        out[label] = fig
        if "scratch_test_accuracy" in ft:
            out[NONE] = {"test_error_percent": 100 * (1 - ft["scratch_test_accuracy"]), "n_finetune": ft["labels"],
                         "finetune_seconds": ft.get("seconds"), "run": where}
        print(f"seed {seed} {label:8s} test error {fig['test_error_percent']:.2f}%"
              + (f", |J|_F {fig['jacobian_frobenius']:.3f}, saturated {fig['saturated_fraction']:.3f}" if name == "rifai" else ""),
              file=sys.stderr, flush=True)
    return out


def summarize(variants: dict, published: dict, done: dict[int, dict[str, dict]]) -> dict[str, dict]:
    """The table's rows ("none" first, then the pretrainings): each figure's mean over the seeds done
    and its sample sd (None from one seed), and every seed's own figures."""
    rows = {}
    for label in [NONE, *variants]:
        per = [{"seed": seed, **figs[label]} for seed, figs in done.items() if label in figs]
        if not per:
            continue
        row = {"preset": variants[label][0], "options": variants[label][1],
               "published_error_percent": published.get(label)} if label in variants else {}
        row.update(seeds=[p["seed"] for p in per], n_finetune=per[0]["n_finetune"])
        for f in PER_SEED:
            vals = [p[f] for p in per if f in p]
            if vals:
                row[f] = statistics.fmean(vals)
                row[f.removesuffix("_percent") + "_sd"] = statistics.stdev(vals) if len(vals) > 1 else None
        row["per_seed"] = per
        rows[label] = row
    return rows


def ranks(done: dict[int, dict[str, dict]]) -> dict[str, list[str]]:
    """Per seed, the rows from the lowest test error to the highest."""
    return {str(seed): sorted(figs, key=lambda r: figs[r]["test_error_percent"]) for seed, figs in done.items()}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--table", choices=["rifai", "vincent"], required=True)
    ap.add_argument("--pretrain-epochs", type=int, default=10, help="pretraining epochs (per layer for vincent) [10]")
    ap.add_argument("--finetune-epochs", type=int, default=20, help="supervised fine-tuning epochs [20]")
    ap.add_argument("--lr", type=float, default=1e-3, help="pretraining learning rate (Adam) [1e-3]")
    ap.add_argument("--finetune-lr", type=float, default=1e-3, help="fine-tuning learning rate (Adam) [1e-3]")
    ap.add_argument("--batch-size", type=int, default=128, help="fine-tuning batch size [128]")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds, one training of every row each [0]")
    add_resume_option(ap)
    a = apply_options(ap.parse_args())
    seeds = seed_list(a.seeds, ap)
    if a.table == "rifai":
        variants, base, published = RIFAI, LAYER, RIFAI_PUBLISHED
        net = "784-1000-784, sigmoid code, tied weights, Bernoulli cross-entropy"
    else:
        variants, base, published = VINCENT, STACK, VINCENT_PUBLISHED
        net = "784-1000-1000-1000 sigmoid, tied weights per layer, Bernoulli cross-entropy; no unsupervised end-to-end stage"
    protocol = {"network": net, "pretrain_epochs": a.pretrain_epochs, "finetune_epochs": a.finetune_epochs, "lr": a.lr,
                "finetune_lr": a.finetune_lr, "finetune_batch_size": a.batch_size, "optimizer": "Adam", "seeds": seeds,
                "finetune_split": "the run's training split (10% validation held out, unused); scored on the 10,000 test digits"}
    done: dict[int, dict[str, dict]] = {}
    for i, seed in enumerate(seeds):
        done[seed] = one_seed(a.table, variants, base, a, seed)
        path = save(f"pretraining_{a.table}", {"protocol": protocol, "seeds": list(done), "pending": seeds[i + 1:],
                                                "rows": summarize(variants, published, done), "ranks": ranks(done)})
    print(f"written {path}")


if __name__ == "__main__":
    main()
