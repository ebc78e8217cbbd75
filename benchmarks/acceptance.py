"""The acceptance figures of the core issue, on full MNIST from the data directory.

    python benchmarks/acceptance.py            # all of them (about 15 minutes on 2 CPU cores)
    python benchmarks/acceptance.py --only pca,ae

pca   LinearAE (16 codes, squared error, Adam, batch 128, 20 epochs) on all 60,000 training digits
      (no validation split) vs PCA-16 fitted on the same 60,000: the largest principal angle
      between the span of its centred test reconstructions and PCA's top 16 components, and its
      test MSE relative to PCA's.
ae    AE 784-512-256-32 (Bernoulli), 10 epochs on all 60,000 training digits: test MSE relative
      to PCA with 32 components fitted on the same 60,000.
dae   DenoisingAE (25% masking, 10 epochs, the default 10% validation split: 54,000 training
      digits): PSNR of masked test digits and of their restorations.
init  Test BCE after 10 epochs with Glorot-uniform/zero-bias init vs PyTorch's default, trained
      on all 60,000 training digits and on the first 4,000 (no validation split in either).
Every result records the number of digits its model trained on (n_train). Runs write their folders
under benchmarks/results/runs/ (not committed).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apply_options, mnist, n_train, parser, save, train_run  # noqa: E402

ALL = {"val_fraction": 0.0}  # train on every training digit (the first data.limit ones where given)


def _pca_against(out: Path, k: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(training digits, test digits, PCA-k mean, components) with PCA fitted on the run's own training set."""
    from aekit.metrics import pca_fit

    x_train, _, x_test, _ = mnist()  # the first n digits: what a run with val_fraction=0 (and limit) trains on
    n = n_train(out)
    assert n == len(x_train), f"{out.name} trained on {n} digits, PCA would be fitted on {len(x_train)}"
    return n, x_test, *pca_fit(x_train, k)


def bench_pca() -> dict:
    import aekit
    from aekit.metrics import mse, pca_reconstruct, reconstruction_span_angle

    out, secs = train_run("linear-ae-16", "linear-ae", latent_dim=16, epochs=20, **ALL)
    n, x_test, mu, comps = _pca_against(out, 16)
    rec = aekit.load(out).reconstruct(x_test)
    ae_mse, pca_mse = mse(x_test, rec), mse(x_test, pca_reconstruct(x_test, mu, comps))
    angle = reconstruction_span_angle(rec, comps, 16)
    return {"n_train": n, "n_train_pca": n, "largest_principal_angle_deg": angle, "test_mse_linear_ae": ae_mse,
            "test_mse_pca16": pca_mse, "mse_ratio": ae_mse / pca_mse, "train_seconds": secs,
            "targets": "angle < 5 deg, MSE within 2% of PCA"}


def bench_ae() -> dict:
    import aekit
    from aekit.metrics import mse, pca_reconstruct

    out, secs = train_run("ae-784-512-256-32", "ae", hidden=[512, 256], latent_dim=32, epochs=10, **ALL)
    n, x_test, mu, comps = _pca_against(out, 32)
    rec = aekit.load(out).reconstruct(x_test)
    ae_mse, pca_mse = mse(x_test, rec), mse(x_test, pca_reconstruct(x_test, mu, comps))
    metrics = json.loads((out / "metrics.json").read_text())
    return {"n_train": n, "n_train_pca": n, "test_mse_ae": ae_mse, "test_mse_pca32": pca_mse, "ratio": ae_mse / pca_mse,
            "test_bce": metrics["test_bce"], "mean_epoch_time_s": metrics["mean_epoch_time_s"], "train_seconds": secs,
            "targets": "ratio <= 0.45 (hand-written PyTorch loop: 0.38)"}


def bench_dae() -> dict:
    out, secs = train_run("denoising-ae-mask25", "denoising-ae", epochs=10)
    res = subprocess.run([sys.executable, "-m", "aekit.cli", "evaluate", str(out), "--corrupt", "masking:0.25", "--json"],
                         capture_output=True, text=True, check=True)
    m = json.loads(res.stdout)
    return {"n_train": n_train(out), "psnr_masked_db": m["psnr_corrupted_db"], "psnr_restored_db": m["psnr_restored_db"],
            "test_mse": m["test_mse"], "train_seconds": secs}


def bench_init() -> dict:
    out: dict = {"n_train": {}}
    for limit in (None, 4000):
        for init in ("glorot", "torch"):
            key = f"{init}_{'all' if limit is None else limit}"
            opts = {"hidden": [512, 256], "latent_dim": 32, "epochs": 10, "init": init, **ALL}
            if limit:
                opts["limit"] = limit
            run, _ = train_run(f"init-{key}", "ae", **opts)
            out[f"test_bce_{key}"] = json.loads((run / "metrics.json").read_text())["test_bce"]
            out["n_train"][key] = n_train(run)
    out["reference"] = "issue: 63.0 torch vs 60.5 glorot (60k); 113 vs 90 (4k)"
    return out


BENCHES = {"pca": bench_pca, "ae": bench_ae, "dae": bench_dae, "init": bench_init}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", default=",".join(BENCHES))
    a = apply_options(ap.parse_args())
    import logging

    logging.basicConfig(level=logging.WARNING)
    results: dict = {"benchmark": "acceptance"}
    for name in a.only.split(","):
        t0 = time.perf_counter()
        results[name] = BENCHES[name]()
        results[name]["wall_seconds"] = time.perf_counter() - t0
        print(name, json.dumps(results[name], indent=1), flush=True)
    path = save("acceptance" if a.only == ",".join(BENCHES) else f"acceptance-{a.only.replace(',', '-')}", results)
    print(f"written: {path}")


if __name__ == "__main__":
    main()
