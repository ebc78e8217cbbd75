"""Acceptance figures of the probabilistic-autoencoder issue, on full MNIST from the data directory.

    python benchmarks/probabilistic.py latents [--epochs 10]      # AE vs VAE vs AAE 2-D latent maps
    python benchmarks/probabilistic.py latent-sizes [--epochs 10] # VAE reconstructions at |z| = 2, 5, 20
    python benchmarks/probabilistic.py nll --variants vae,iwae5,iwae50 --data mnist,binarized-mnist \\
        --epochs 250 --adam-eps 1e-4 [--k 5000] [--resume]         # Table 5: test NLL, Burda et al.'s models
    python benchmarks/probabilistic.py semi --recipe pyro --labels 100,600,1000,3000 --seeds 0,1,2,3,4 --epochs 50 [--resume] \
        [--select val-error]                                      # Table 6; val-error: the best validation epoch
    python benchmarks/probabilistic.py semi --recipe makhzani --models aae-semi ...  # the AAE at the paper's 1000-unit widths
    python benchmarks/probabilistic.py semi --recipe pyro-batch --models m1m2 --m1-epochs 300 ...  # M1+M2 on a longer M1
    python benchmarks/probabilistic.py semi --recipe pyro-batch --labelled-weight 0.1,10 ...  # M2's labelled weight w

Every run writes its folder under benchmarks/results/runs/ (not committed) and its figures to
benchmarks/results/<name>.json (committed), with the commit, the command and the machine: they are
CPU figures unless the JSON says otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import add_hidden_options, apply_options, runs_dir, save, train_run  # noqa: E402

from aekit.io import atomic_write_json  # noqa: E402


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
                         "runs": {m: aekit.load_config(r).to_dict() for m, r in runs.items()}, "reused": reused,
                         "test_recon": {m: v.get("test_recon") for m, v in metrics.items()},
                         "test_kl_vae": metrics["vae"].get("test_kl"),
                         "test_disc_accuracy_aae": metrics["aae"].get("test_disc_accuracy")})


# -dreg: the encoder's gradient doubly reparameterised (Tucker et al. 2019; the optional DReG)
NLL_VARIANTS = {"vae": ("vae", {}), "iwae5": ("iwae", {"k": 5}), "iwae50": ("iwae", {"k": 50}),
                "iwae5-dreg": ("iwae", {"k": 5, "gradient": "dreg"}), "iwae50-dreg": ("iwae", {"k": 50, "gradient": "dreg"})}
NLL_DATA = ("mnist", "binarized-mnist")  # dynamically binarized grey levels; Larochelle's fixed binarization


def nll_opts(a: argparse.Namespace, data: str) -> dict:
    """The Burda et al. architecture (784-200-200-50 tanh, Bernoulli) with this command's optimisation."""
    opts = {"hidden": [200, 200], "latent_dim": 50, "activation": "tanh", "likelihood": "bernoulli",
            "dynamic_binarization": data == "mnist", "epochs": a.epochs, "batch_size": a.batch_size, "lr": a.lr,
            "schedule": a.schedule, "val_fraction": 0.0, "seed": 0, "device": a.device}
    if a.adam_eps is not None:
        opts["adam_eps"] = a.adam_eps
    return opts


def nll(a: argparse.Namespace) -> None:
    """Table 5: train each variant on each data set into results/runs/nll-DATA-VARIANT-Eep (resumable),
    evaluate the test NLL with k importance samples, copy the run (config, weights, metrics, history)
    to results/nll/ so that it can be re-evaluated (aekit evaluate RUN --nll) with its evaluation
    (evaluation.json: under --resume a finished run with the same weights and k is not evaluated
    again), and write results/nll_Eep.json after every variant (a partial table says which are pending)."""
    import shutil

    import torch

    import aekit
    from aekit.data import load_raw
    from aekit.evaluate import nll_figures

    variants, datas = a.variants.split(","), a.data.split(",")
    bad = [v for v in variants if v not in NLL_VARIANTS] + [d for d in datas if d not in NLL_DATA]
    if bad:
        raise SystemExit(f"unknown variant or data set {', '.join(bad)}; variants: {', '.join(NLL_VARIANTS)}; data: {', '.join(NLL_DATA)}")
    out: dict = {"benchmark": "vae nll (Burda et al. 2016 protocol)", "epochs": a.epochs, "k": a.k,
                 "protocol": {"architecture": "784-200-200-50, tanh, Bernoulli decoder, diagonal-Gaussian encoder",
                              "optimizer": f"Adam lr {a.lr}, eps {a.adam_eps or 'default'}, batch {a.batch_size}, schedule {a.schedule}",
                              "evaluation": f"test NLL = -L_k with k = {a.k} importance samples (one seeded draw), full test split",
                              "mnist": "dynamically binarized (a fresh Bernoulli draw of the grey levels every batch)",
                              "binarized-mnist": "Larochelle's fixed binarization, 60,000 train (train + valid) / 10,000 test"},
                 "reference": "Burda et al. 2016, Table 1 (k = 5000, 3,280 epochs): VAE 86.76, IWAE(5) 85.54, IWAE(50) 84.78",
                 "results": {}}
    todo = [(d, v) for d in datas for v in variants]
    for data, variant in todo:
        model_name, extra = NLL_VARIANTS[variant]
        name = f"nll-{data}-{variant}-{a.epochs}ep"
        run, secs = train_run(name, model_name, data=data, **nll_opts(a, data), **extra)
        keep = common.RESULTS / "nll" / name
        ev = kept_evaluation(run, keep, a.k)
        if ev is None:
            model = aekit.load(run, device=a.device)
            x_test = load_raw(data).x_test
            t0 = time.perf_counter()
            res = nll_figures(model, torch.from_numpy(x_test), k=a.k, batch_size=a.eval_batch)
            ev = {"k": a.k, "test_nll": res["nll"], "test_neg_elbo": res.get("neg_elbo"),
                  "eval_seconds": time.perf_counter() - t0, "eval_device": str(model.device), "commit": common.git_commit(),
                  "command": common.command()}
            if keep.exists():
                shutil.rmtree(keep)
            keep.mkdir(parents=True)
            for f in ("config.yaml", "model.safetensors", "metrics.json", "history.csv"):
                shutil.copy2(run / f, keep / f)
            atomic_write_json(keep / "evaluation.json", ev)
        metrics = json.loads((run / "metrics.json").read_text())
        history = common.read_history(run)
        row = {"data": data, "variant": variant, "model": model_name, **extra, "run": os.path.relpath(keep, common.ROOT),
               "test_nll": ev["test_nll"], "test_neg_elbo": ev["test_neg_elbo"], "active_units": metrics.get("test_active_units"),
               "epochs_trained": len(history), "train_seconds": secs,
               "median_epoch_s": statistics.median(float(r["epoch_time_s"]) for r in history),
               "eval_seconds": ev["eval_seconds"], "device": metrics.get("device"), "eval_device": ev["eval_device"],
               "config": aekit.load_config(run).to_dict()}
        out["results"][f"{data}/{variant}"] = row
        out["pending"] = [f"{d}/{v}" for d, v in todo[len(out["results"]):]]
        print(f"{data} {variant}: test NLL {ev['test_nll']:.2f} nats (k={a.k}), {secs:.0f} s training", flush=True)
        save(f"nll_{a.epochs}ep", out)


def kept_evaluation(run: Path, keep: Path, k: int) -> dict | None:
    """Under --resume, the evaluation kept in results/nll/NAME/evaluation.json when it is of this run's
    final weights (the same model.safetensors bytes) with the same k; else None (evaluate again)."""
    record = keep / "evaluation.json"
    if not (common.RESUME and record.is_file() and (keep / "model.safetensors").is_file()):
        return None
    ev = json.loads(record.read_text())
    same = (keep / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    return ev if same and ev.get("k") == k else None


def latent_sizes(a: argparse.Namespace) -> None:
    """The lecture's figure: the same test digits reconstructed by VAEs with |z| = 2, 5, 20 (rows),
    with each model's test reconstruction term, KL and −ELBO; results/vae_latent_sizes.png."""
    import aekit
    from aekit.data import load_raw
    from aekit.plots.canvas import save_png
    from aekit.plots.figures import image_rows

    x = load_raw("mnist").x_test[:12]
    rows, table = [("test digits", x)], []
    for size in map(int, a.sizes.split(",")):
        run, secs = train_run(f"vae-z{size}-{a.epochs}ep", "vae", latent_dim=size, epochs=a.epochs, seed=0, device=a.device)
        model = aekit.load(run, device=a.device)
        m = json.loads((run / "metrics.json").read_text())
        rows.append((f"|z| = {size}", model.reconstruct(x)))
        table.append({"latent_dim": size, "test_recon": m["test_recon"], "test_kl": m["test_kl"],
                      "test_neg_elbo": m["test_recon"] + m["test_kl"], "train_seconds": secs})
        print(table[-1], flush=True)
    png = save_png(image_rows(rows), common.RESULTS / "vae_latent_sizes.png")
    save(f"vae_latent_sizes_{a.epochs}ep", {"benchmark": "VAE latent sizes (|z| = 2, 5, 20)", "epochs": a.epochs, "figure": png.name,
                                           "model": "vae preset: 784-512-256-|z|, Bernoulli decoder on grey levels, Adam 1e-3",
                                           "rows": table})


from semi_supervised import M1_EPOCHS, RECIPES, SELECTION, semi  # noqa: E402  (Table 6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("latents")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--only", default="ae,vae,aae", help="models to (re)train; the others' runs are reused when present")
    p = sub.add_parser("latent-sizes")
    p.add_argument("--sizes", default="2,5,20")
    p.add_argument("--epochs", type=int, default=10)
    p = sub.add_parser("nll")
    p.add_argument("--variants", default="vae", help=f"comma-separated: {', '.join(NLL_VARIANTS)}")
    p.add_argument("--data", default="mnist", help=f"comma-separated: {', '.join(NLL_DATA)}")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--adam-eps", type=float, default=None, help="Adam's eps (Burda et al.: 1e-4) [default: aekit's]")
    p.add_argument("--schedule", default="cosine", choices=["none", "cosine", "burda"])
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--eval-batch", type=int, default=20)
    common.add_resume_option(p)
    p = sub.add_parser("semi")
    p.add_argument("--models", default="cvae,m1m2,aae-semi")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--labels", default="100", help="comma-separated label counts, e.g. 100,600,1000,3000")
    p.add_argument("--recipe", default="kingma", choices=sorted(RECIPES),
                   help="kingma: aekit's defaults, the paper's J^α | pyro: Pyro's SS-VAE example for M2 and M1+M2 | "
                        "pyro-batch: pyro with the labelled batch weighted like the unlabelled one | makhzani: aae-semi only, "
                        "Makhzani et al.'s 1000-unit layers [default: kingma]")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--m1-epochs", type=int, default=None,
                   help=f"M1+M2's M1: epochs of its vae; another length than {M1_EPOCHS} names its runs and results _m1-Nep "
                        f"[default: {M1_EPOCHS}]")
    p.add_argument("--labelled-weight", default=None, metavar="W[,W...]",
                   help="M2 and M1+M2 (--recipe pyro-batch): the labelled minibatch's mean weighted W against the unlabelled "
                        "batch's (model.labelled_weight); one table per weight, named _lw-W [default: the recipe's, 1]")
    p.add_argument("--retrain-m1", action="store_true", help="train M1 again even if its run (results/runs/semi-m1-vae[-Nep]) exists")
    p.add_argument("--select", default="last", choices=sorted(SELECTION),
                   help="which epoch's model is tested: last, or val-error (least error on the labelled validation split; "
                        "results in semi_supervised_RECIPE_Eep_val.json) [default: last]")
    for p in sub.choices.values():
        add_hidden_options(p)
        if p is not sub.choices["nll"]:
            common.add_resume_option(p)
        if p is not sub.choices["latents"]:
            p.add_argument("--device", default="auto", help="where the runs train and are evaluated: auto (a GPU when there "
                                                            "is one), cpu, cuda or cuda:N [default: auto]")
    a = apply_options(ap.parse_args())
    import logging

    logging.basicConfig(level=logging.WARNING)
    {"latents": latents, "latent-sizes": latent_sizes, "nll": nll, "semi": semi}[a.what](a)


if __name__ == "__main__":
    main()
