"""Sequence anomaly detection on ECG5000 with the EncDec-AD protocol (Malhotra et al. 2016).

Data: UCR ECG5000, the 500 series x 140 steps of ECG5000_TRAIN.txt (named set ``ecg5000``); class 1
(292 series) is normal, classes 2-5 (208 series) anomalous. Split, per seed (NumPy default_rng(seed)):
normal series 70% train / 15% validation / 15% test; anomalous series 30% validation / 70% test
(normal: 204 / 44 / 44; anomalous: 62 / 146). The half of the normal validation series (22, seeded)
fits the Gaussian of the error vectors (EncDec-AD's vN1), the other half (vN2) with the anomalous
validation series chooses the F1-maximising threshold; the test split is used for nothing else.

Models, trained on the normal training series only (aekit.train_run on an .npz, data.kind=sequences,
standard scaling fitted on those series, no validation split, Gaussian likelihood sigma=1, Adam,
batch 32, seed = split seed): the recurrent autoencoder (GRU, hidden [64], code 16, lr 3e-3, 100
epochs) and an MLP autoencoder baseline (hidden [128, 64], code 16, lr 1e-3, 100 epochs).

Scores: (a) ``nll``, the model's reconstruction NLL; (b) ``mahalanobis``, EncDec-AD's
(e - mu)^T Sigma^-1 (e - mu) of the absolute error vectors e (140 values), mu and Sigma fitted on vN1
(Ledoit-Wolf shrinkage, since 22 < 140 vectors). Reported on the test split: ROC-AUC and average
precision (sklearn), precision / recall / F1 at the validation threshold; mean and sd (ddof=1)
over the seeds.

    python benchmarks/bench_ecg.py            # 3 seeds, both models (a few minutes on one thread)
    python benchmarks/bench_ecg.py --quick    # 1 seed, small and short (under a minute)
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, apply_options, parser, save  # noqa: E402

MODELS = {
    "rnn": {"net": "rnn", "hidden": [64], "latent_dim": 16, "lr": 3e-3, "epochs": 100},
    "mlp": {"net": "mlp", "hidden": [128, 64], "latent_dim": 16, "lr": 1e-3, "epochs": 100},
}
QUICK = {
    "rnn": {"net": "rnn", "hidden": [32], "latent_dim": 8, "lr": 3e-3, "epochs": 15},
    "mlp": {"net": "mlp", "hidden": [128, 64], "latent_dim": 16, "lr": 1e-3, "epochs": 30},
}
COMMON = {"batch_size": 32, "scale": "standard", "val_fraction": 0.0}
SPLIT = {"normal": {"train": 0.70, "val": 0.15, "test": 0.15}, "anomalous": {"val": 0.30, "test": 0.70},
         "gaussian_fit_fraction_of_val_normal": 0.5}
SCORES = ("nll", "mahalanobis")


def load_ecg(data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    from aekit.data import load_raw

    raw = load_raw("ecg5000", data_dir)
    return raw.x_train.astype(np.float32), np.asarray(raw.y_train).astype(int)


def split(y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Indices of the protocol's sets; class 1 normal, the others anomalous."""
    rng = np.random.default_rng(seed)
    nor = rng.permutation(np.flatnonzero(y == 1))
    ano = rng.permutation(np.flatnonzero(y != 1))
    n = SPLIT["normal"]
    tr, vn, tn = np.split(nor, [int(n["train"] * len(nor)), int((n["train"] + n["val"]) * len(nor))])
    va, ta = np.split(ano, [int(SPLIT["anomalous"]["val"] * len(ano))])
    return {"train": tr, "val_normal": vn, "test_normal": tn, "val_anomalous": va, "test_anomalous": ta}


def train(x_train: np.ndarray, x_val: np.ndarray, opts: dict, seed: int, folder: Path):
    """An ae trained on ``x_train`` through aekit.train_run (``x_val`` only as its test figures)."""
    import aekit

    path = folder / "train.npz"
    np.savez(path, x=x_train, x_test=x_val)
    run = aekit.train_run("ae", str(path), out=folder / "run", kind="sequences", seed=seed, quiet=True, progress=False,
                          **COMMON, **opts)
    return aekit.load(run)


def one(x: np.ndarray, y: np.ndarray, seed: int, opts: dict) -> dict:
    from aekit.tasks.anomaly import encdec_ad

    s = split(y, seed)
    with tempfile.TemporaryDirectory() as d:
        model = train(x[s["train"]], x[s["val_normal"]], opts, seed, Path(d))
    x_test = np.concatenate([x[s["test_normal"]], x[s["test_anomalous"]]])
    y_test = np.r_[np.zeros(len(s["test_normal"]), int), np.ones(len(s["test_anomalous"]), int)]
    res = encdec_ad(model, x[s["val_normal"]], x[s["val_anomalous"]], x_test, y_test,
                    fit_fraction=SPLIT["gaussian_fit_fraction_of_val_normal"], shrinkage="auto", seed=seed)
    res.pop("gaussian")
    res["n"]["train_normal"] = len(s["train"])
    return {"seed": seed, **res}


def summary(runs: list[dict]) -> dict:
    out = {}
    for score in SCORES:
        out[score] = {}
        for key, get in (("roc_auc", lambda r: r["roc_auc"]), ("average_precision", lambda r: r["average_precision"]),
                         ("precision_at_val_threshold", lambda r: r["at_val_threshold"]["precision"]),
                         ("recall_at_val_threshold", lambda r: r["at_val_threshold"]["recall"]),
                         ("f1_at_val_threshold", lambda r: r["at_val_threshold"]["f_beta"])):
            vals = [get(r["scores"][score]) for r in runs]
            out[score][key] = {"mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", default="rnn,mlp")
    ap.add_argument("--quick", action="store_true", help="one seed, small rnn, few epochs (under a minute)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--data-dir", default=None, help="folder holding timeseries/ECG5000_TRAIN.txt "
                    "(default: $AEKIT_DATA_DIR, else <repo>/../shared/data when it exists)")
    a = apply_options(ap.parse_args())
    import torch

    torch.set_num_threads(a.threads)
    shared = ROOT.parent / "shared" / "data"
    data_dir = a.data_dir or os.environ.get("AEKIT_DATA_DIR") or (str(shared) if shared.is_dir() else None)
    configs = QUICK if a.quick else MODELS
    seeds = a.seeds[:1] if a.quick else a.seeds
    x, y = load_ecg(data_dir)
    results = {}
    for name in a.models.split(","):
        runs = []
        for seed in seeds:
            r = one(x, y, seed, configs[name])
            runs.append(r)
            figs = ", ".join(f"{k} AUC {r['scores'][k]['roc_auc']:.4f} AP {r['scores'][k]['average_precision']:.4f}" for k in SCORES)
            print(f"{name} seed {seed}: {figs}", file=sys.stderr, flush=True)
        results[name] = {"config": {**configs[name], **COMMON, "model": "ae", "data.kind": "sequences"},
                         "summary": summary(runs), "runs": runs}
        for k in SCORES:
            s = results[name]["summary"][k]
            print(f"{name:>4} {k:>11}: ROC-AUC {s['roc_auc']['mean']:.4f} ± {s['roc_auc']['sd']:.4f}, "
                  f"AP {s['average_precision']['mean']:.4f} ± {s['average_precision']['sd']:.4f}, "
                  f"F1@val-threshold {s['f1_at_val_threshold']['mean']:.3f}", flush=True)
    payload = {"benchmark": "ecg5000_anomaly", "protocol": "EncDec-AD (Malhotra et al. 2016)", "data": "ecg5000 (UCR, TRAIN file)",
               "normal_class": 1, "split": SPLIT, "seeds": seeds, "quick": a.quick,
               "sd": "sample sd (ddof=1) over seeds", "scores": {"nll": "reconstruction NLL (model.score)",
               "mahalanobis": "squared Mahalanobis of |x - reconstruct(x)| under N(mu, Sigma) fitted on vN1, Ledoit-Wolf shrinkage"},
               "models": results}
    print(save("ecg5000_anomaly_quick" if a.quick else "ecg5000_anomaly", payload))


if __name__ == "__main__":
    main()
