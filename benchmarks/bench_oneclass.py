"""One-class MNIST anomaly detection: for each digit d, an autoencoder trained on the training images of
d only scores all 10,000 test images; ROC-AUC of "not d" (anomalous) against d (normal).

    python benchmarks/bench_oneclass.py                                # MLP and conv AE, digits 0-9 (~15 min, 1-2 CPU threads)
    python benchmarks/bench_oneclass.py --nets mlp --digits 0,1 --mlp-epochs 5   # a part
    python benchmarks/bench_oneclass.py --output-bias zero             # decoders from a zero output bias

Each model is an aekit run: `aekit train --model ae --data mnist --set data.keep_classes=[d]` (10% of
d's training images held out for validation, seed 0), then `aekit anomalies RUN` on the run's test
split (every digit) with the default score, the reconstruction NLL −log p(x | z = code(x)) of the
Bernoulli likelihood (aekit's `auto` for pixels in [0, 1]). Also recorded: ROC-AUC of the plain mean
squared error of the same reconstructions (the published conv AE's score), average precision, and
precision / recall / F1 at the default threshold (0.95 quantile of the validation scores).

Networks: mlp 784-512-256-32; conv: two stride-2 3×3 convolutions (32, 64 channels) to a 32-d code,
mirrored by transposed convolutions. Adam 1e-3, batch 128.

The published figures (../shared/REFERENCES.md, "One-class MNIST") differ in protocol: Ruff et al.
(2018) apply global contrast normalisation (L1) and min-max scaling fitted on the normal class, use a
LeNet-type conv AE (8 and 4 5×5 filters, max pooling, 32-d code, batch norm, leaky ReLU) trained for
250 + 100 epochs on the squared error; Deep SVDD is a different method (a hypersphere around the
codes of such an encoder). Here: raw pixels in [0, 1], aekit's networks, a few epochs. Accuracy
figures; the timings are only what the run cost on a shared machine. Run folders go under
benchmarks/results/runs/ (not committed).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apply_options, n_train, parser, save, train_run  # noqa: E402

# ROC-AUC %, digits 0-9 (../shared/REFERENCES.md)
PUBLISHED = {
    "deep_svdd": {"source": "Deep SVDD official code re-run (lukasruff/Deep-SVDD-PyTorch README), verified",
                  "per_digit": [97.77, 99.42, 88.91, 90.5, 93.48, 86.01, 98.27, 95.07, 92.99, 95.77]},
    "dcae": {"source": "Ruff et al. 2018, Table 1, conv AE (DCAE) baseline, unverified",
             "per_digit": [97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3, 86.5, 90.4]},
    "ocsvm": {"source": "Ruff et al. 2018, Table 1, unverified", "mean": 91.3},
    "kde": {"source": "Ruff et al. 2018, Table 1, unverified", "mean": 86.9},
}
for p in PUBLISHED.values():
    if "per_digit" in p:
        p["mean"] = round(statistics.fmean(p["per_digit"]), 2)

NETS = {"mlp": {"net": "mlp", "hidden": [512, 256]}, "conv": {"net": "conv", "channels": [32, 64]}}


def one(digit: int, net: str, epochs: int, seed: int, output_bias: str = "data") -> dict:
    import aekit
    from aekit.metrics.codes import ranking
    from aekit.run import run_data
    from aekit.tasks.anomaly import mse_scores, reconstruction_errors
    from aekit.tasks.outliers import detect_anomalies, figures

    suffix = "" if output_bias == "data" else f"-output-bias-{output_bias}"
    run, train_s = train_run(f"oneclass-{net}-{digit}{suffix}", "ae", keep_classes=[digit], latent_dim=32, epochs=epochs, seed=seed,
                             quiet=True, progress=False, output_bias=output_bias, **NETS[net])
    t0 = time.perf_counter()
    res = detect_anomalies(run, progress=False)   # the run's test split: all ten digits; normal = keep_classes
    score_s = time.perf_counter() - t0
    f = figures(res)
    x_test = run_data(aekit.load_config(run)).x_test
    mse = mse_scores(reconstruction_errors(aekit.load(run), x_test))
    return {"digit": digit, "net": net, "epochs": epochs, "n_train": n_train(run), "roc_auc": f["roc_auc"],
            "average_precision": f["average_precision"], "roc_auc_mse": ranking(mse, res["anomalous"])["roc_auc"],
            "score": f["score"], "threshold_rule": f"quantile {f['quantile']} of val", "precision": f["precision"],
            "recall": f["recall"], "f1": f["f1"], "normal_flagged_share": f["per_label"][str(digit)]["flagged_share"],
            "train_s": round(train_s, 1), "score_s": round(score_s, 2)}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--nets", default="mlp,conv", help="mlp, conv or both")
    ap.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--mlp-epochs", type=int, default=20)
    ap.add_argument("--conv-epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    from aekit.models.output_bias import CHOICES

    ap.add_argument("--output-bias", choices=CHOICES, default="data",
                    help="where the decoders' output starts (model.output_bias): the normal digit's mean image "
                         "(aekit's default) or the networks' own zero bias; zero writes a file of its own")
    a = apply_options(ap.parse_args())
    nets = [n for n in a.nets.split(",") if n]
    unknown = [n for n in nets if n not in NETS]
    if unknown:
        ap.error(f"unknown net(s) {', '.join(unknown)}; choose from {', '.join(NETS)}")
    digits = [int(d) for d in a.digits.split(",")]
    epochs = {"mlp": a.mlp_epochs, "conv": a.conv_epochs}
    rows = []
    t0 = time.perf_counter()
    for net in nets:
        for d in digits:
            r = one(d, net, epochs[net], a.seed, a.output_bias)
            rows.append(r)
            print(f"{net:<4} digit {d}: ROC-AUC {100 * r['roc_auc']:.1f} (MSE score {100 * r['roc_auc_mse']:.1f}), AP "
                  f"{100 * r['average_precision']:.1f}, {r['n_train']} training images, {r['train_s']:.0f} s", flush=True)
    means = {net: {"roc_auc": statistics.fmean(r["roc_auc"] for r in rows if r["net"] == net),
                   "roc_auc_mse": statistics.fmean(r["roc_auc_mse"] for r in rows if r["net"] == net)} for net in nets}
    for net, m in means.items():
        print(f"{net:<4} mean ROC-AUC {100 * m['roc_auc']:.1f} (MSE score {100 * m['roc_auc_mse']:.1f}) over {len(digits)} digits")
    payload = {"benchmark": "oneclass_mnist", "protocol": "train on one digit's training images (10% of them for validation), "
               "score the 10,000 test images; ROC-AUC with that digit normal", "digits": digits,
               "epochs": {n: epochs[n] for n in nets}, "nets": {n: NETS[n] for n in nets}, "latent_dim": 32,
               "seed": a.seed, "output_bias": a.output_bias,
               "rows": rows, "mean": means, "published_roc_auc_percent": PUBLISHED,
               "total_s": round(time.perf_counter() - t0, 1)}
    full = digits == list(range(10)) and set(nets) == set(NETS) and not a.limit
    name = "oneclass_mnist" if full else "oneclass_mnist_part"
    print("written:", save(name if a.output_bias == "data" else f"{name}_output-bias-{a.output_bias}", payload))


if __name__ == "__main__":
    main()
