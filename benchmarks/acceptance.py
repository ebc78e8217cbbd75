"""The acceptance figures of the core issue, on full MNIST from the data directory.

    python benchmarks/acceptance.py            # all of them (about 10 minutes on 2 CPU cores)
    python benchmarks/acceptance.py --only pca,ae

pca   LinearAE (16 codes, squared error, Adam, batch 128, 20 epochs) vs PCA-16: the largest
      principal angle between the span of its centred test reconstructions and PCA's top 16
      components, and its test MSE relative to PCA's.
ae    AE 784-512-256-32 (Bernoulli) after 10 epochs: test MSE relative to PCA with 32 components.
dae   DenoisingAE (25% masking, 10 epochs): PSNR of masked test digits and of their restorations.
init  Test BCE after 10 epochs with Glorot-uniform/zero-bias init vs PyTorch's default, on all
      60,000 digits and on the first 4,000.
Runs write their folders under benchmarks/results/runs/ (not committed).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save, train_run  # noqa: E402



def _test_arrays():
    from aekit.data import load_raw

    raw = load_raw("mnist")
    return raw.x_train, raw.x_test


def bench_pca() -> dict:
    import aekit
    from aekit.metrics import mse, pca_fit, pca_reconstruct, reconstruction_span_angle

    out, secs = train_run("linear-ae-16", "linear-ae", latent_dim=16, epochs=20)
    x_train, x_test = _test_arrays()
    mu, comps = pca_fit(x_train, 16)
    model = aekit.load(out)
    rec = model.reconstruct(x_test)
    pca_rec = pca_reconstruct(x_test, mu, comps)
    ae_mse, pca_mse = mse(x_test, rec), mse(x_test, pca_rec)
    angle = reconstruction_span_angle(rec, comps, 16)
    return {"largest_principal_angle_deg": angle, "test_mse_linear_ae": ae_mse, "test_mse_pca16": pca_mse,
            "mse_ratio": ae_mse / pca_mse, "train_seconds": secs,
            "targets": "angle < 5 deg, MSE within 2% of PCA"}


def bench_ae() -> dict:
    import aekit
    from aekit.metrics import mse, pca_fit, pca_reconstruct

    out, secs = train_run("ae-784-512-256-32", "ae", hidden=[512, 256], latent_dim=32, epochs=10)
    x_train, x_test = _test_arrays()
    mu, comps = pca_fit(x_train, 32)
    rec = aekit.load(out).reconstruct(x_test)
    ae_mse, pca_mse = mse(x_test, rec), mse(x_test, pca_reconstruct(x_test, mu, comps))
    metrics = json.loads((out / "metrics.json").read_text())
    return {"test_mse_ae": ae_mse, "test_mse_pca32": pca_mse, "ratio": ae_mse / pca_mse, "test_bce": metrics["test_bce"],
            "mean_epoch_time_s": metrics["mean_epoch_time_s"], "train_seconds": secs,
            "targets": "ratio <= 0.45 (hand-written PyTorch loop: 0.38)"}


def bench_dae() -> dict:
    import subprocess

    out, secs = train_run("denoising-ae-mask25", "denoising-ae", epochs=10)
    res = subprocess.run([sys.executable, "-m", "aekit.cli", "evaluate", str(out), "--corrupt", "masking:0.25", "--json"],
                         capture_output=True, text=True, check=True)
    m = json.loads(res.stdout)
    return {"psnr_masked_db": m["psnr_corrupted_db"], "psnr_restored_db": m["psnr_restored_db"], "test_mse": m["test_mse"],
            "train_seconds": secs}


def bench_init() -> dict:
    out = {}
    for limit in (None, 4000):
        for init in ("glorot", "torch"):
            key = f"{init}_{'all' if limit is None else limit}"
            opts = {"hidden": [512, 256], "latent_dim": 32, "epochs": 10, "init": init}
            if limit:
                opts["limit"] = limit
            run, _ = train_run(f"init-{key}", "ae", **opts)
            out[f"test_bce_{key}"] = json.loads((run / "metrics.json").read_text())["test_bce"]
    out["reference"] = "issue: 63.0 torch vs 60.5 glorot (60k); 113 vs 90 (4k)"
    return out


BENCHES = {"pca": bench_pca, "ae": bench_ae, "dae": bench_dae, "init": bench_init}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(BENCHES))
    a = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    results = {"benchmark": "acceptance", "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    for name in a.only.split(","):
        t0 = time.perf_counter()
        results[name] = BENCHES[name]()
        results[name]["wall_seconds"] = time.perf_counter() - t0
        print(name, json.dumps(results[name], indent=1), flush=True)
    path = save("acceptance" if a.only == ",".join(BENCHES) else f"acceptance-{a.only.replace(',', '-')}", results)
    print(f"written: {path}")


if __name__ == "__main__":
    main()
