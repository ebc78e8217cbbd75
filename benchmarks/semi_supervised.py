"""Table 6 of the benchmarks: semi-supervised MNIST (M2, M1+M2, the semi-supervised AAE), the
``semi`` command of probabilistic.py: its recipes, the checks of its options, M1 for M1+M2, and the
rows, summaries and figure of its results files.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import common
from common import results_lock, runs_dir, save, train_run


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
    """Table 6: each model × label count × seed, resumable; results/semi_supervised_RECIPE_Eep[_m1-Nep]
    [_lw-W][_val].json (one per --labelled-weight) rewritten after every run (mean ± sd per model and
    label count, each run's error and time). Under --resume the rows already in that file for other
    models, label counts or seeds are kept, so that processes sharing one table (e.g. one per model and
    seed on a GPU) fill it together."""
    check_recipe(a.recipe, a.models.split(","))
    check_m1_options(a)
    for w in check_weight_options(a):
        semi_table(a, w)


def semi_table(a: argparse.Namespace, w: float | None) -> None:
    """One table of semi(): M2's labelled minibatch weighted ``w`` (None: the recipe's own weight)."""
    recipe = RECIPES[a.recipe]
    results: dict[str, dict[str, list[dict]]] = {}
    m1 = None
    val = a.select == "val-error"
    name = f"semi_supervised_{a.recipe}_{a.epochs}ep{m1_tag(a.m1_epochs, '_')}{weight_tag(w, '_')}" + ("_val" if val else "")
    for labels in map(int, a.labels.split(",")):
        for model in a.models.split(","):
            for seed in map(int, a.seeds.split(",")):
                opts = {"labels": labels, "epochs": a.epochs, "seed": seed, "device": a.device}
                if val:  # a patience of the whole run: no stopping, the best validation epoch's weights kept
                    opts.update(monitor="error", early_stopping=a.epochs)
                if model in ("cvae", "m1m2"):
                    opts.update(recipe["m2"], **recipe["train"])
                    if w is not None:
                        opts["labelled_weight"] = w
                else:
                    opts.update(recipe["aae"])
                if model == "m1m2":
                    m1 = m1 or m1_run(a)
                    opts["m1_run"] = str(m1)
                tag = (m1_tag(a.m1_epochs, "-") if model == "m1m2" else "") + (weight_tag(w, "-") if model != "aae-semi" else "")
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
                                "epochs": a.epochs, "m1_epochs": a.m1_epochs, "labelled_weight": w, "summary": summary,
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


def check_weight_options(a: argparse.Namespace) -> list[float | None]:
    """The tables --labelled-weight asks for, one per weight (M2's labelled minibatch weighted w against
    the unlabelled batch, model.labelled_weight): [None] without it; refused, before anything trains,
    under a recipe that does not weigh the two batches (balance=batch), with a model other than cvae
    and m1m2 in --models, or for a weight that is not a positive number."""
    if a.labelled_weight is None:
        return [None]
    flag = f"--labelled-weight {a.labelled_weight}"
    if RECIPES[a.recipe]["m2"].get("balance") != "batch":
        batch = sorted(r for r, v in RECIPES.items() if v["m2"].get("balance") == "batch")
        raise SystemExit(f"error: {flag} weighs M2's labelled minibatch against the unlabelled batch, which --recipe {a.recipe} "
                         f"does not do (its labelled weight is Kingma et al.'s N_l/N); fix: --recipe {' or '.join(batch)}")
    other = [m for m in a.models.split(",") if m not in ("cvae", "m1m2")]
    if other:  # the AAE would be trained into (and tabled under) every weight's name alike
        m2 = [m for m in a.models.split(",") if m in ("cvae", "m1m2")]
        raise SystemExit(f"error: {flag} applies to M2 (cvae, m1m2), not to {', '.join(other)}; "
                         f"fix: {'--models ' + ','.join(m2) if m2 else '--models cvae or m1m2'}, and run {', '.join(other)} "
                         f"without --labelled-weight")
    try:
        weights = [float(v) for v in a.labelled_weight.split(",")]
    except ValueError:
        raise SystemExit(f"error: {flag}: comma-separated numbers expected, e.g. --labelled-weight 0.1,10") from None
    bad = [v for v in weights if not (v > 0 and v != float("inf"))]
    if bad:
        raise SystemExit(f"error: {flag}: a weight must be a positive number, got {bad[0]:g}; fix: e.g. --labelled-weight 0.1,10")
    return [None if v == 1 else v for v in weights]  # 1 is the recipe's own weight: its runs and table


def weight_tag(w: float | None, sep: str) -> str:
    """What a name says of a labelled weight other than the recipe's (``_lw-0.1``): empty for None."""
    return "" if w is None else f"{sep}lw-{w:g}"


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
