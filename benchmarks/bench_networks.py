"""Acceptance figures of the networks issue: conv against MLP autoencoders, and a conv VAE's NLL.

    python benchmarks/bench_networks.py --epochs 5                 # both tables
    python benchmarks/bench_networks.py --only ae --epochs 5       # one
    python benchmarks/bench_networks.py --only ae --codes 8 --epochs 10   # code size 8 only

ae   AE (Bernoulli) on MNIST and Fashion-MNIST at code sizes 8 and 32, MLP 784-512-256-code against
     conv (channels 32, 64; kernel 3, stride 2; no fully connected hidden layer), same epochs, Adam
     1e-3, batch 128, the default 10% validation split: test MSE (data units) and parameter counts.
vae  VAE (code 32) on dynamically binarized MNIST (model.dynamic_binarization; evaluation on the
     fixed binarization), MLP 784-512-256-32 against conv, same epochs: test NLL by importance
     sampling (k = --k, on the first --nll-n test digits) and −ELBO.
Accuracy figures only (no timings: other jobs may share the machine); run folders go under
benchmarks/results/runs/ (not committed).
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apply_options, parser, runs_dir, save  # noqa: E402


def _train(name: str, model: str, data: str, **opts) -> tuple[Path, float]:
    import aekit

    out = runs_dir() / name
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    aekit.train_run(model, data, out=out, quiet=True, **opts)
    return out, time.perf_counter() - t0


NETS = {"mlp": {"net": "mlp", "hidden": [512, 256]}, "conv": {"net": "conv", "channels": [32, 64]},
        "conv-fc": {"net": "conv", "channels": [32, 64], "hidden": [64]}}  # a dense layer of 64 between the conv blocks and the code


def ae_table(epochs: int, limit: int | None, codes: tuple[int, ...] = (8, 32), nets: tuple[str, ...] = ("mlp", "conv")) -> list[dict]:
    import json

    rows = []
    for data in ("mnist", "fashion-mnist"):
        for code in codes:
            for net in nets:
                opts = NETS[net]
                out, secs = _train(f"nets-ae-{data}-{net}-{code}", "ae", data, latent_dim=code, epochs=epochs, limit=limit, **opts)
                m = json.loads((out / "metrics.json").read_text())
                rows.append({"data": data, "code": code, "net": net, "test_mse": m["test_mse"], "n_params": m["n_params"],
                             "epochs": epochs})
                print(f"{data:<14} code {code:>2} {net:<4}: test MSE {m['test_mse']:.5f}, {m['n_params']:,d} params", flush=True)
    return rows


def vae_table(epochs: int, limit: int | None, k: int, nll_n: int) -> list[dict]:
    import numpy as np

    import aekit
    from aekit.run import run_data, scaled_arrays

    rows = []
    for net in ("mlp", "conv"):
        opts = NETS[net]
        out, secs = _train(f"nets-vae-{net}", "vae", "mnist", latent_dim=32, epochs=epochs, limit=limit,
                           dynamic_binarization=True, **opts)
        model = aekit.load(out)
        cfg = aekit.load_config(out)
        data = run_data(cfg)
        x = scaled_arrays(model, data)["test"][:nll_n]
        import torch

        with torch.no_grad():
            nll = -float(np.mean(model.log_likelihood(torch.from_numpy(x), k=k, progress=False).numpy()))
            nelbo = float(model.score(torch.from_numpy(x)).mean())
        rows.append({"net": net, "test_nll": nll, "test_neg_elbo": nelbo, "k": k, "n_test": len(x),
                     "n_params": sum(p.numel() for p in model.parameters()), "epochs": epochs})
        print(f"vae {net:<4}: NLL {nll:.2f} (k={k}, {len(x)} digits), −ELBO {nelbo:.2f}", flush=True)
    return rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", default="ae,vae")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--nll-n", type=int, default=1000)
    ap.add_argument("--codes", default="8,32", help="code sizes of the ae table")
    ap.add_argument("--nets", default="mlp,conv", help=f"networks of the ae table: {', '.join(NETS)}")
    a = apply_options(ap.parse_args())
    only = a.only.split(",")
    payload: dict = {"benchmark": "networks", "epochs": a.epochs}
    if "ae" in only:
        payload["ae"] = ae_table(a.epochs, a.limit, tuple(int(c) for c in a.codes.split(",")), tuple(a.nets.split(",")))
    if "vae" in only:
        payload["vae"] = vae_table(a.epochs, a.limit, a.k, a.nll_n)
    codes = ("" if a.codes == "8,32" else "_code" + a.codes.replace(",", "_")) + ("" if a.nets == "mlp,conv" else "_" + a.nets.replace(",", "_"))
    name = "networks" if set(only) == {"ae", "vae"} and not codes else f"networks_{'_'.join(only)}{codes}_{a.epochs}ep"
    print("written:", save(name if not a.limit else "networks_smoke", payload))


if __name__ == "__main__":
    main()
