"""Unsupervised pretraining, then supervised fine-tuning: the two tables of the lecture, on full MNIST.

    python benchmarks/bench_pretraining.py --table rifai      # pretraining_rifai.json
    python benchmarks/bench_pretraining.py --table vincent    # pretraining_vincent.json
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
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import add_resume_option, apply_options, parser, save, train_run  # noqa: E402

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


def _finetune(run: Path, a, scratch: bool) -> dict:
    """Fine-tune ``run`` on every training label (and the same network from scratch when ``scratch``).
    The result is kept in RUN/bench-finetune.json with the options and the pretrained weights' sha256;
    under --resume a kept result of the same weights and options is read back instead of trained again."""
    from aekit.io import atomic_write_json
    from aekit.tasks.finetune import finetune

    options = {"epochs": a.finetune_epochs, "lr": a.finetune_lr, "batch_size": a.batch_size, "seed": a.seed, "scratch": scratch}
    weights = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    kept = run / "bench-finetune.json"
    if common.RESUME and kept.is_file():
        k = json.loads(kept.read_text())
        if k.get("options") == options and k.get("pretrained_sha256") == weights:
            print(f"{run.name}: fine-tuning read back from {kept}", file=sys.stderr, flush=True)
            return k["result"]
    ft = finetune(run, None, epochs=a.finetune_epochs, lr=a.finetune_lr, batch_size=a.batch_size, seed=a.seed,
                  scratch=scratch, progress=False)
    atomic_write_json(kept, {"options": options, "pretrained_sha256": weights, "result": ft})
    return ft


def table(name: str, variants: dict, base: dict, published: dict, a) -> dict:
    rows = {}
    for i, (label, (preset, opts)) in enumerate(variants.items()):
        pre = {"epochs": a.pretrain_epochs} if name == "rifai" else {"pretrain_epochs": a.pretrain_epochs, "epochs": 0}
        run, _ = train_run(f"pretraining-{name}-{label}", preset, **base, **opts, **pre, lr=a.lr, batch_size=128,
                              seed=a.seed, quiet=True)
        ft = _finetune(run, a, scratch=(i == 0))
        row = {"preset": preset, "options": opts, "test_error_percent": 100 * (1 - ft["pretrained_test_accuracy"]), "published_error_percent": published.get(label),
               "n_finetune": ft["labels"]}
        if name == "rifai":
            row.update(_layer_figures(run))
        rows[label] = row
        if "scratch_test_accuracy" in ft:
            rows["none (same net, no pretraining)"] = {"test_error_percent": 100 * (1 - ft["scratch_test_accuracy"]),
                                                       "n_finetune": ft["labels"]}
        print(f"{label:8s} test error {row['test_error_percent']:.2f}% (published {published.get(label)})"
              + (f", |J|_F {row['jacobian_frobenius']:.3f}, saturated {row['saturated_fraction']:.3f}" if name == "rifai" else ""),
              file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--table", choices=["rifai", "vincent"], required=True)
    ap.add_argument("--pretrain-epochs", type=int, default=10, help="pretraining epochs (per layer for vincent) [10]")
    ap.add_argument("--finetune-epochs", type=int, default=20, help="supervised fine-tuning epochs [20]")
    ap.add_argument("--lr", type=float, default=1e-3, help="pretraining learning rate (Adam) [1e-3]")
    ap.add_argument("--finetune-lr", type=float, default=1e-3, help="fine-tuning learning rate (Adam) [1e-3]")
    ap.add_argument("--batch-size", type=int, default=128, help="fine-tuning batch size [128]")
    ap.add_argument("--seed", type=int, default=0)
    add_resume_option(ap)
    a = apply_options(ap.parse_args())
    if a.table == "rifai":
        rows = table("rifai", RIFAI, LAYER, RIFAI_PUBLISHED, a)
        net = "784-1000-784, sigmoid code, tied weights, Bernoulli cross-entropy"
    else:
        rows = table("vincent", VINCENT, STACK, VINCENT_PUBLISHED, a)
        net = "784-1000-1000-1000 sigmoid, tied weights per layer, Bernoulli cross-entropy; no unsupervised end-to-end stage"
    path = save(f"pretraining_{a.table}", {
        "protocol": {"network": net, "pretrain_epochs": a.pretrain_epochs, "finetune_epochs": a.finetune_epochs, "lr": a.lr,
                     "finetune_lr": a.finetune_lr, "finetune_batch_size": a.batch_size, "optimizer": "Adam", "seed": a.seed,
                     "finetune_split": "the run's training split (10% validation held out, unused); scored on the 10,000 test digits"},
        "rows": rows})
    print(f"written {path}")


if __name__ == "__main__":
    main()
