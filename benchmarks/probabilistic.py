"""Acceptance figures of the probabilistic-autoencoder issue, on full MNIST from the data directory.

    python benchmarks/probabilistic.py latents [--epochs 10]      # AE vs VAE vs AAE 2-D latent maps
    python benchmarks/probabilistic.py latent-sizes [--epochs 10] # VAE reconstructions at |z| = 2, 5, 20
    python benchmarks/probabilistic.py nll --variants vae,iwae5,iwae50 --data mnist,binarized-mnist \\
        --epochs 250 --adam-eps 1e-4 [--k 5000] [--resume]         # Table 5: test NLL, Burda et al.'s models
    python benchmarks/probabilistic.py semi --recipe pyro --labels 100,600,1000,3000 --seeds 0,1,2,3,4 --epochs 50 [--resume] \
        [--select val-error]                                      # Table 6; val-error: the best validation epoch
    python benchmarks/probabilistic.py semi --recipe makhzani --models aae-semi ...  # the AAE at the paper's 1000-unit widths
    python benchmarks/probabilistic.py semi --recipe pyro-batch --models m1m2 --m1-epochs 300 ...  # M1+M2 on a longer M1

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
from common import add_hidden_options, apply_options, results_lock, runs_dir, save, train_run  # noqa: E402

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
                         "reused_runs": {m: aekit.load_config(runs[m]).to_dict() for m in reused},
                         "test_recon": {m: v.get("test_recon") for m, v in metrics.items()},
                         "test_kl_vae": metrics["vae"].get("test_kl"),
                         "test_disc_accuracy_aae": metrics["aae"].get("test_disc_accuracy")})


NLL_VARIANTS = {"vae": ("vae", {}), "iwae5": ("iwae", {"k": 5}), "iwae50": ("iwae", {"k": 50})}
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


# the recipes of Table 6: the options each sets for M2 and M1+M2 ("m2", "train") and for the
# semi-supervised AAE ("aae"), and the models it applies to. kingma: aekit's defaults under Kingma et
# al.'s J^α; pyro: Pyro's SS-VAE example (exact enumeration over y as aekit always does); both leave
# the AAE its preset. makhzani: the AAE at Makhzani et al.'s widths (two layers of 1000 units in the
# encoder, decoder and both discriminators), the rest of its preset kept; it sets nothing for M2.
SEMI_MODELS = ("cvae", "m1m2", "aae-semi")
RECIPES = {
    "kingma": {"models": SEMI_MODELS, "m2": {}, "train": {}, "aae": {}},
    "pyro": {"models": SEMI_MODELS,
             "m2": {"hidden": [500], "classifier_hidden": [500], "latent_dim": 50, "activation": "softplus", "alpha": 46.0,
                    "balance": "paper"},
             "train": {"lr": 4.2e-4, "adam_beta1": 0.95, "batch_size": 200}, "aae": {}},
    "makhzani": {"models": ("aae-semi",), "m2": {}, "train": {}, "aae": {"hidden": [1000, 1000], "disc_hidden": [1000, 1000]}},
}
# Pyro's recipe with the labelled minibatch's mean weighted like the unlabelled batch's (N_u/N_l times
# the paper's weight): the objective most public M2 re-implementations minimise
RECIPES["pyro-batch"] = {**RECIPES["pyro"], "m2": {**RECIPES["pyro"]["m2"], "balance": "batch"}}


def check_recipe(recipe: str, models: list[str]) -> None:
    """Refuse, before anything trains, a model the recipe does not apply to (one outside Table 6 included)."""
    known = RECIPES[recipe]["models"]
    wrong = [m for m in models if m not in known]
    if wrong:
        raise SystemExit(f"error: --recipe {recipe} does not apply to {', '.join(wrong)} (it applies to {', '.join(known)}); "
                         f"fix: --models {','.join(m for m in models if m in known) or known[0]}, or another --recipe")


def semi(a: argparse.Namespace) -> None:
    """Table 6: each model × label count × seed, resumable; results/semi_supervised_RECIPE_Eep.json
    rewritten after every run (mean ± sd per model and label count, each run's error and time).
    Under --resume the rows already in that file for other models, label counts or seeds are kept, so
    that processes sharing one table (e.g. one per model and seed on a GPU) fill it together."""
    recipe = RECIPES[a.recipe]
    check_recipe(a.recipe, a.models.split(","))
    check_m1_options(a)
    results: dict[str, dict[str, list[dict]]] = {}
    m1 = None
    val = a.select == "val-error"
    name = f"semi_supervised_{a.recipe}_{a.epochs}ep{m1_tag(a.m1_epochs, '_')}" + ("_val" if val else "")
    for labels in map(int, a.labels.split(",")):
        for model in a.models.split(","):
            for seed in map(int, a.seeds.split(",")):
                opts = {"labels": labels, "epochs": a.epochs, "seed": seed, "device": a.device}
                if val:  # a patience of the whole run: no stopping, the best validation epoch's weights kept
                    opts.update(monitor="error", early_stopping=a.epochs)
                if model in ("cvae", "m1m2"):
                    opts.update(recipe["m2"], **recipe["train"])
                else:
                    opts.update(recipe["aae"])
                if model == "m1m2":
                    m1 = m1 or m1_run(a)
                    opts["m1_run"] = str(m1)
                tag = m1_tag(a.m1_epochs, "-") if model == "m1m2" else ""
                run, secs = train_run(f"semi-{a.recipe}-{model}-{labels}-s{seed}-{a.epochs}ep{tag}" + ("-val" if val else ""), model,
                                      **opts)
                row = semi_row(run, seed, secs, opts, val)
                print(f"{model} {labels} labels seed {seed}: test error {row['test_error_pct']:.2f}%, {secs:.0f} s"
                      + (f" (epoch {row['selected_epoch']}; the last epoch's {row['last_epoch_test_error_pct']:.2f}%)" if val else ""),
                      flush=True)
                results.setdefault(model, {}).setdefault(str(labels), []).append(row)
                with results_lock():
                    path = common.RESULTS / f"{name}.json"
                    merged = merge_semi_rows(path, results) if common.RESUME else results
                    cells = [f"{mo}/{n}/s{r['seed']}" for mo, per in results.items() for n, rows in per.items() for r in rows]
                    summary = {mo: {n: error_summary(rows, val) for n, rows in per.items()} for mo, per in merged.items()}
                    save(name, {"benchmark": "semi-supervised MNIST", "recipe": a.recipe, "recipe_options": recipe,
                                "labels": ",".join(sorted({n for per in merged.values() for n in per}, key=int)),
                                "epochs": a.epochs, "m1_epochs": a.m1_epochs, "summary": summary,
                                "writers": common.writers(path if common.RESUME else None, cells),
                                "selection": SELECTION[a.select], "figure": val_figure(summary, name) if val else None,
                                "reference": "M2 11.97, M1+M2 3.33 (Kingma 2014); AAE 1.90 (Makhzani 2015); "
                                             "Pyro's SS-VAE example: 6.8% at 100 labels, 4.2% at 3000 (M2)"})


M1_EPOCHS = 30  # the default M1's epochs: its run is results/runs/semi-m1-vae, and no name says its epochs


def m1_tag(m1_epochs: int, sep: str) -> str:
    """What a name says of a non-default M1 (``_m1-300ep``), so that M1+M2 on a longer M1 never
    replaces the default M1's runs and table: empty for the default."""
    return "" if m1_epochs == M1_EPOCHS else f"{sep}m1-{m1_epochs}ep"


def check_m1_options(a: argparse.Namespace) -> None:
    """--m1-epochs and --retrain-m1 set M1+M2's M1: refused, before anything trains, without m1m2 in
    --models or with fewer than one epoch; --m1-epochs defaults to M1_EPOCHS."""
    given = [flag for flag, v in (("--m1-epochs", a.m1_epochs is not None), ("--retrain-m1", a.retrain_m1)) if v]
    if given and "m1m2" not in a.models.split(","):
        raise SystemExit(f"error: {' and '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to M1+M2's M1 only, but --models "
                         f"{a.models} has no m1m2; "
                         f"fix: add m1m2 to --models, or leave {' and '.join(given)} out")
    if a.m1_epochs is not None and a.m1_epochs < 1:
        raise SystemExit(f"error: --m1-epochs {a.m1_epochs}: M1 needs at least one epoch; fix: --m1-epochs {M1_EPOCHS} (the default)")
    a.m1_epochs = M1_EPOCHS if a.m1_epochs is None else a.m1_epochs


def m1_run_name(m1_epochs: int) -> str:
    return "semi-m1-vae" + ("" if m1_epochs == M1_EPOCHS else f"-{m1_epochs}ep")


def m1_run(a: argparse.Namespace) -> Path:
    """M1 of M1+M2: a ``vae`` 784-500-500-50 trained --m1-epochs epochs (seed 0) into results/runs/
    semi-m1-vae (-Nep for a non-default length), trained by the first run that needs it and reused by
    the others (--retrain-m1: trained again from scratch, under --resume too). A reused M1 trained for
    another number of epochs (by an earlier version of this script) is refused, not silently used."""
    run = runs_dir() / m1_run_name(a.m1_epochs)
    if (run / "model.safetensors").exists() and not a.retrain_m1:
        import aekit

        trained = aekit.load_config(run).to_dict()["train"]["epochs"]
        if trained != a.m1_epochs:
            raise SystemExit(f"error: the M1 in {run} was trained {trained} epochs, not --m1-epochs {a.m1_epochs}; "
                             f"fix: --retrain-m1 to train it again (or, to use it, rename it {m1_run_name(trained)} and "
                             f"pass --m1-epochs {trained})")
        return run
    if a.retrain_m1 and run.exists():
        import shutil

        shutil.rmtree(run)  # else --resume would take its checkpoint for a run to continue
    return train_run(run.name, "vae", hidden=[500, 500], latent_dim=50, epochs=a.m1_epochs, seed=0, device=a.device)[0]


SELECTION = {"last": "none: the last epoch's model, evaluated once on the test split",
             "val-error": "the epoch of least classification error on the labelled validation split (train.monitor=error, "
                          "train.early_stopping=epochs: no stopping), evaluated once on the test split; the last epoch's "
                          "test error beside it"}


def semi_row(run: Path, seed: int, secs: float, opts: dict, val: bool) -> dict:
    """One run's row of Table 6: its test error, time, device, commit and options; under --select
    val-error also the selected epoch, its validation error, the validation error of every epoch and
    the last epoch's test error."""
    m = json.loads((run / "metrics.json").read_text())
    row = {"seed": seed, "test_error_pct": m["test_error_pct"], "train_seconds": secs, "device": m.get("device"),
           "commit": common.git_commit(),  # per row: processes and sessions sharing the file may differ
           "config": {k: v for k, v in opts.items() if k != "m1_run"}}
    if val:
        rows = [r for r in common.read_history(run) if r.get("val_error")]
        row.update(selected_epoch=m["selected"]["epoch"], val_error_pct=100 * m["selected"]["value"],
                   last_epoch_test_error_pct=last_epoch_error(run),
                   val_error_pct_by_epoch=[round(100 * float(r["val_error"]), 3) for r in rows])
    return row


def val_figure(summary: dict, name: str) -> str:
    """Validation error after every epoch of each run, its selected epoch marked: results/NAME.png."""
    from aekit.plots.canvas import new_figure, save_png

    fig = new_figure((6.4, 3.6))
    ax = fig.add_subplot()
    for mo, per in summary.items():
        for n, cell in per.items():
            for r in (r for r in cell["runs"] if "val_error_pct_by_epoch" in r):  # rows written before it are left out
                line, = ax.plot(range(1, len(r["val_error_pct_by_epoch"]) + 1), r["val_error_pct_by_epoch"], lw=1.2,
                                label=f"{mo}, {n} labels, seed {r['seed']}: test error {r['test_error_pct']:.1f}% at epoch "
                                      f"{r['selected_epoch']}, {r['last_epoch_test_error_pct']:.1f}% at the last")
                ax.plot([r["selected_epoch"]], [r["val_error_pct"]], "o", color=line.get_color())
    ax.set(xlabel="epoch", ylabel="validation error %", ylim=(0, None), title="Classification error on the validation split")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_png(fig, common.RESULTS / f"{name}.png").name


def error_summary(rows: list[dict], val: bool) -> dict:
    """Mean ± sd of the test error over a table cell's seeds (and of the last epoch's, under --select val-error)."""
    def mean_sd(key: str) -> tuple[float, float | None]:
        xs = [r[key] for r in rows]
        return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)

    out = dict(zip(("mean_error_pct", "sd_error_pct"), mean_sd("test_error_pct")))
    if val:
        out.update(zip(("mean_last_epoch_error_pct", "sd_last_epoch_error_pct"), mean_sd("last_epoch_test_error_pct")))
        out["selected_epochs"] = [r["selected_epoch"] for r in rows]
    return {**out, "seeds": len(rows), "runs": rows}


def last_epoch_error(run: Path) -> float:
    """Test error (%) of a run's last epoch (checkpoints/last), beside the selected epoch's model.safetensors."""
    import aekit
    from aekit.evaluate import evaluate_model
    from aekit.run import run_data, scale
    from aekit.runconfig import load_config

    data = run_data(load_config(run))
    return evaluate_model(aekit.load(run, checkpoint="last"), scale(data, data.x_test), data.y_test)["test_error_pct"]


def merge_semi_rows(path: Path, results: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, list[dict]]]:
    """This process's rows (model → label count → runs) over the rows already in ``path`` for other
    models, label counts or seeds (written by other processes of the same table), sorted by seed."""
    old = json.loads(path.read_text())["summary"] if path.is_file() else {}
    merged: dict[str, dict[str, list[dict]]] = {}
    for mo in [*old, *(m for m in results if m not in old)]:
        for n in sorted({*old.get(mo, {}), *results.get(mo, {})}, key=int):
            mine = results.get(mo, {}).get(n, [])
            seeds = {r["seed"] for r in mine}
            rows = [r for r in old.get(mo, {}).get(n, {}).get("runs", []) if r["seed"] not in seeds] + mine
            merged.setdefault(mo, {})[n] = sorted(rows, key=lambda r: r["seed"])
    return merged


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
