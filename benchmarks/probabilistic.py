"""Acceptance figures of the probabilistic-autoencoder issue, on full MNIST from the data directory.

    python benchmarks/probabilistic.py latents [--epochs 10]      # AE vs VAE vs AAE 2-D latent maps
    python benchmarks/probabilistic.py nll --epochs 100 [--k 5000] # VAE 784-200-200-50 test NLL
    python benchmarks/probabilistic.py semi --models cvae,m1m2,aae-semi --seeds 0,1,2 --epochs 20

Every run writes its folder under benchmarks/results/runs/ (not committed) and its figures to
benchmarks/results/<name>.json (committed), with the commit, the command and the machine: they are
CPU figures unless the JSON says otherwise.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import add_hidden_options, apply_options, runs_dir, save, train_run  # noqa: E402


def latents(a: argparse.Namespace) -> None:
    import aekit
    from aekit.cli import main as cli

    runs, reused = {}, []
    for model in ("ae", "vae", "aae"):
        opts = {"latent_dim": 2, "hidden": [512, 256], "epochs": a.epochs, "seed": 0}
        if model in a.only.split(",") or not (runs_dir() / f"latent2-{model}" / "model.safetensors").exists():
            runs[model], secs = train_run(f"latent2-{model}", model, **opts)
            print(f"{model}: {secs:.0f} s", flush=True)
        else:
            runs[model] = runs_dir() / f"latent2-{model}"  # reuse the run made with the same settings
            reused.append(model)
    png = common.RESULTS / "latent_maps_ae_vae_aae.png"
    assert cli(["compare-latents", *map(str, runs.values()), "-n", "5000", "--out", str(png)]) == 0
    metrics = {m: json.loads((r / "metrics.json").read_text()) for m, r in runs.items()}
    save("latent_maps", {"benchmark": "latent maps", "epochs": a.epochs, "figure": png.name,
                         "reused_runs": {m: aekit.load_config(runs[m]).to_dict() for m in reused},
                         "test_recon": {m: v.get("test_recon") for m, v in metrics.items()},
                         "test_kl_vae": metrics["vae"].get("test_kl"),
                         "test_disc_accuracy_aae": metrics["aae"].get("test_disc_accuracy")})


def nll(a: argparse.Namespace) -> None:
    import torch

    import aekit
    from aekit.data import load_raw
    from aekit.evaluate import nll_figures

    opts = {"hidden": [200, 200], "latent_dim": 50, "activation": "tanh", "likelihood": "bernoulli",
            "dynamic_binarization": True, "epochs": a.epochs, "batch_size": a.batch_size, "lr": 1e-3,
            "schedule": "cosine", "val_fraction": 0.0, "seed": 0}
    run, secs = train_run("vae-200-200-50", "vae", **opts)
    model = aekit.load(run)
    x_test = load_raw("mnist").x_test
    t0 = time.perf_counter()
    res = nll_figures(model, torch.from_numpy(x_test), k=a.k, batch_size=a.eval_batch)
    eval_secs = time.perf_counter() - t0
    metrics = json.loads((run / "metrics.json").read_text())
    out = {"benchmark": "vae nll", "config": opts,
           "test_nll": res["nll"], "test_neg_elbo": res["neg_elbo"], "k": a.k,
           "active_units": metrics.get("test_active_units"), "train_seconds": secs, "eval_seconds": eval_secs,
           "reference": "Burda et al. 2016: VAE 86.76 nats after 3,280 epochs (k=5000)"}
    print(json.dumps(out, indent=1))
    save(f"vae_nll_{a.epochs}ep", out)


def semi(a: argparse.Namespace) -> None:
    results: dict[str, list[dict]] = {}
    m1 = None
    for model in a.models.split(","):
        for seed in map(int, a.seeds.split(",")):
            opts = {"labels": a.labels, "epochs": a.epochs, "seed": seed}
            if model == "m1m2":
                if m1 is None and (runs_dir() / "semi-m1-vae" / "model.safetensors").exists() and not a.retrain_m1:
                    m1 = runs_dir() / "semi-m1-vae"  # reuse M1 (its config.yaml records how it was trained)
                if m1 is None:
                    m1, _ = train_run("semi-m1-vae", "vae", hidden=[500, 500], latent_dim=50, epochs=a.m1_epochs, seed=0)
                opts["m1_run"] = str(m1)
            run, secs = train_run(f"semi-{model}-{a.labels}-s{seed}", model, **opts)
            m = json.loads((run / "metrics.json").read_text())
            row = {"seed": seed, "test_error_pct": m["test_error_pct"], "train_seconds": secs}
            print(model, row, flush=True)
            results.setdefault(model, []).append(row)
    summary = {m: {"mean_error_pct": statistics.mean(r["test_error_pct"] for r in rows),
                   "sd_error_pct": statistics.stdev([r["test_error_pct"] for r in rows]) if len(rows) > 1 else 0.0,
                   "runs": rows} for m, rows in results.items()}
    save(f"semi_supervised_{a.labels}_{a.models.replace(',', '-')}_{a.epochs}ep",
         {"benchmark": "semi-supervised MNIST", "labels": a.labels, "epochs": a.epochs, "m1_epochs": a.m1_epochs,
          "summary": summary, "reference": "M2 11.97, M1+M2 3.33 (Kingma 2014); AAE 1.90 (Makhzani 2015)"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latents")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--only", default="ae,vae,aae", help="models to (re)train; the others' runs are reused when present")
    p = sub.add_parser("nll")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--eval-batch", type=int, default=20)
    p = sub.add_parser("semi")
    p.add_argument("--models", default="cvae,m1m2,aae-semi")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--m1-epochs", type=int, default=30)
    p.add_argument("--retrain-m1", action="store_true", help="train M1 again even if results/runs/semi-m1-vae exists")
    for p in sub.choices.values():
        add_hidden_options(p)
    a = apply_options(ap.parse_args())
    import logging

    logging.basicConfig(level=logging.WARNING)
    {"latents": latents, "nll": nll, "semi": semi}[a.what](a)


if __name__ == "__main__":
    main()
