"""Table 3 of the benchmark issue: the denoising sweep on MNIST — which corruption gives the best features?

    python benchmarks/bench_denoising.py --epochs 10 --seeds 0,1,2 [--resume]
    python benchmarks/bench_denoising.py --corruptions masking:0,masking:0.25 --epochs 5
    python benchmarks/bench_denoising.py --net vincent --epochs 10 --seeds 0,1,2 [--resume]

Model: the denoising-ae preset, one fixed architecture for every cell: MLP 784-512-256-32 (ReLU, linear
code, Bernoulli likelihood), trained with aekit's defaults (Adam 1e-3, batch 128, the default 10%
validation split held out: 54,000 training digits) on inputs corrupted by, in turn:
masking 0 (no corruption: the plain AE of the same network), 10, 25, 50, 75, 90% (values set to 0); Gaussian
noise sigma 0.1, 0.3, 0.5 (not clipped); salt-and-pepper 10, 25, 50% (values set to 0 or 1, half each).
The reconstruction target is always the clean digit. Every cell trains once per seed of --seeds (the
seed sets the weights, the validation split, the shuffling and the training corruption); the JSON
gives each run and, per corruption, the mean ± sd over the seeds.

Figures of each trained model, on the 10,000 test digits:
probe   test error % of a linear probe of its codes: aekit.metrics.codes.linear_probe_accuracy
        (standardised codes, scikit-learn LogisticRegression, C = 1, max_iter 2000), fitted on the codes
        of the run's 54,000 training digits (clean inputs), scored on the test codes (aekit evaluate
        --metrics linear-probe). A row "pixels" gives the same probe on the raw pixels.
psnr    restored PSNR: the test digits corrupted by the model's own training corruption (seeded,
        --corruption-seed; aekit.tasks.denoise, as `aekit denoise RUN --corrupt KIND:LEVEL`) and
        reconstructed, PSNR (dB, peak 1, averaged over images) against the clean digits; the PSNR of
        the corrupted digits themselves is the baseline. Masking 0: no corruption, so the restored
        PSNR is that of the clean reconstructions and the baseline is none.
--net vincent trains Vincent et al.'s layer instead: one overcomplete hidden layer of --code (default 1000)
sigmoid units with tied weights (784-1000-784, Bernoulli cross-entropy, bench_pretraining's LAYER), the
network whose features the paper judged, so that the sweep tests the claim at the paper's sizes (aekit's
training defaults kept, not the paper's SGD). A network other than the default 784-512-256-32 gets its own
results file and run folders (denoising_sweep_vincent1000_{E}ep.json, runs/denoise-vincent1000-…;
--code 64 alone: …_code64_…), so that it never replaces the default table.
Also the clean test MSE (metrics.json), parameters and training seconds. The lecture's claim (Vincent
et al. 2010): about 25% masking gives the best features; ``best`` in the JSON says which level did
(by the mean over the seeds). Runs go to results/runs/denoise-KIND-LEVEL (seed 0) and
denoise-KIND-LEVEL-sS (seed S); --resume continues them (finished ones are only evaluated again).
results/denoising_sweep_{E}ep.json is written after every cell, with the cells still pending.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from bench_pretraining import LAYER  # noqa: E402
from common import add_resume_option, apply_options, parser, save, seed_list, train_run  # noqa: E402

SWEEP = ("masking:0", "masking:0.1", "masking:0.25", "masking:0.5", "masking:0.75", "masking:0.9",
         "gaussian:0.1", "gaussian:0.3", "gaussian:0.5",
         "salt-pepper:0.1", "salt-pepper:0.25", "salt-pepper:0.5")
NET = {"net": "mlp", "hidden": [512, 256], "activation": "relu", "code_activation": "linear"}
NETS = {"bottleneck": (NET, 32, "MLP 784-512-256-{code} (ReLU, linear code)"),
        "vincent": ({"net": "mlp", **{k: v for k, v in LAYER.items() if k != "latent_dim"}}, LAYER["latent_dim"],
                    "MLP 784-{code}-784, one sigmoid layer, tied weights (Vincent et al. 2010's layer)")}


def tag(net: str, code: int) -> str:
    """What names a sweep's results file and run folders: '' for the default network (784-512-256-32),
    else the network and code ('vincent1000', 'code64'), so that no other sweep replaces the default's."""
    if net == "bottleneck":
        return "" if code == NETS[net][1] else f"code{code}"
    return f"{net}{code}"


def parse(spec: str, ap) -> tuple[str, float]:
    """"KIND:LEVEL" → (kind, level), checked by aekit's own parser; level 0 means no corruption."""
    from aekit.errors import AekitError
    from aekit.evaluate import parse_corruption

    try:
        return parse_corruption(spec)
    except AekitError as e:
        ap.error(f"--corruptions: {e}")
        raise


def pixel_probe(seed: int) -> dict:
    """The linear probe on the raw pixels of the same training split (the features' baseline)."""
    from aekit.config import DataConfig
    from aekit.data import prepare
    from aekit.metrics.codes import linear_probe_accuracy

    prep = prepare(DataConfig(name="mnist", limit=common.LIMIT), seed)
    t0 = time.perf_counter()
    acc = linear_probe_accuracy(prep.x_train, prep.y_train, prep.x_test, prep.y_test)
    return {"probe_error_pct": 100 * (1 - acc), "probe_seconds": time.perf_counter() - t0, "n_train": len(prep.x_train)}


def model_cell(kind: str, level: float, net: str, code: int, epochs: int, seed: int, corruption_seed: int) -> dict:
    import aekit
    from aekit.evaluate import code_metrics
    from aekit.run import run_data, scaled_arrays
    from aekit.tasks.denoise import denoise

    corruption = {"corruption": "none"} if level == 0 else {"corruption": kind, "noise_level": level}
    name = "-".join(["denoise", *filter(None, [tag(net, code)]), kind, f"{level:g}"]) + (f"-s{seed}" if seed else "")
    run, secs = train_run(name, "denoising-ae", data="mnist", latent_dim=code, epochs=epochs, seed=seed,
                          quiet=True, **NETS[net][0], **corruption)
    m = json.loads((run / "metrics.json").read_text())
    model = aekit.load(run)
    cfg = aekit.load_config(run)
    data = run_data(cfg)
    arrays = scaled_arrays(model, data)
    t0 = time.perf_counter()
    probe = code_metrics(model, ["linear-probe"], arrays["test"], data.y_test, arrays["train"], data.y_train)
    probe_secs = time.perf_counter() - t0
    if level == 0:
        psnr = {"psnr_corrupted_db": None, "psnr_restored_db": m["test_psnr_db"],
                "psnr_note": "no corruption: the restored PSNR is that of the clean reconstructions (metrics.json test_psnr_db)"}
    else:
        d = denoise(model, data.x_test, [f"{kind}:{level}"], seed=corruption_seed)[0]
        psnr = {"psnr_corrupted_db": d.psnr_corrupted_db, "psnr_restored_db": d.psnr_restored_db,
                "psnr_gain_db": d.psnr_restored_db - d.psnr_corrupted_db}
    return {"probe_error_pct": 100 * (1 - probe["test_linear_probe_accuracy"]), **psnr, "test_mse": m["test_mse"],
            "n_params": m["n_params"], "train_seconds": secs, "probe_seconds": probe_secs,
            "epochs_trained": len(common.read_history(run)), "n_train": len(arrays["train"]), "n_test": len(arrays["test"]),
            "model_options": {k: getattr(cfg.model, k) for k in ("net", "hidden", "activation", "code_activation", "latent_dim",
                                                                 "tied", "likelihood", "corruption", "noise_level")
                              if not (k == "noise_level" and cfg.model.corruption == "none")},
            "train_options": {k: getattr(cfg.train, k) for k in ("epochs", "batch_size", "lr", "optimizer", "seed")},
            "run": os.path.relpath(run, common.RESULTS), "warnings": m.get("warnings", [])}


FIGURES = ("probe_error_pct", "psnr_corrupted_db", "psnr_restored_db", "test_mse", "train_seconds")


def summarize(rows: list[dict]) -> list[dict]:
    """Per corruption (in sweep order): each figure's mean and sample sd over the seeds done so far."""
    cells: dict[str, dict] = {}
    for r in rows:
        cell = cells.setdefault(r["corruption"], {"corruption": r["corruption"], "kind": r["kind"], "level": r["level"],
                                                  "seeds": [], **{f: [] for f in FIGURES}})
        cell["seeds"].append(r["seed"])
        for f in FIGURES:
            if r.get(f) is not None:
                cell[f].append(r[f])
    out = []
    for cell in cells.values():
        for f in FIGURES:
            vals = cell[f]
            cell[f] = None if not vals else {"mean": statistics.fmean(vals),
                                             "sd": statistics.stdev(vals) if len(vals) > 1 else None}
        out.append(cell)
    return out


def best(cells: list[dict]) -> dict:
    """The corruptions with the lowest mean probe error: overall and among the masking levels."""
    models = [c for c in cells if c["kind"] != "pixels"]
    out = {}
    for name, cs in (("overall", models), ("masking", [c for c in models if c["kind"] == "masking"])):
        if cs:
            c = min(cs, key=lambda c: c["probe_error_pct"]["mean"])
            out[name] = {"corruption": c["corruption"], "level_pct": 100 * c["level"] if c["kind"] != "gaussian" else None,
                         "sigma": c["level"] if c["kind"] == "gaussian" else None,
                         "probe_error_pct": c["probe_error_pct"]["mean"], "seeds": c["seeds"]}
    return out


def markdown(cells: list[dict]) -> str:
    def f(v, fmt):
        if v is None:
            return ""
        return format(v["mean"], fmt) + ("" if v["sd"] is None else f" ± {v['sd']:{fmt}}")

    out = ["| corruption | seeds | probe error % | PSNR corrupted dB | PSNR restored dB | clean test MSE | train s |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cells:
        out.append(f"| {c['corruption']} | {len(c['seeds'])} | {f(c['probe_error_pct'], '.2f')} | {f(c['psnr_corrupted_db'], '.2f')} | "
                   f"{f(c['psnr_restored_db'], '.2f')} | {f(c['test_mse'], '.5f')} | {f(c['train_seconds'], '.1f')} |")
    return "\n".join(out)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--corruptions", default=",".join(SWEEP), help="comma-separated KIND:LEVEL (masking:0 = no corruption)")
    ap.add_argument("--net", choices=tuple(NETS), default="bottleneck",
                    help="bottleneck: MLP 784-512-256-CODE (ReLU, linear code); vincent: one layer of CODE sigmoid units, "
                         "tied weights (Vincent et al. 2010)")
    ap.add_argument("--code", type=int, help="code size of every model (default 32 for bottleneck, 1000 for vincent)")
    ap.add_argument("--no-pixels", action="store_true", help="leave out the probe on the raw pixels")
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds (weights, split, shuffling, training corruption)")
    ap.add_argument("--corruption-seed", type=int, default=0, help="seed of the test digits' corruption")
    add_resume_option(ap)
    a = apply_options(ap.parse_args())
    import logging

    logging.basicConfig(level=logging.WARNING)
    code = NETS[a.net][1] if a.code is None else a.code
    if code < 1:
        ap.error(f"--code: a positive number of code units (got {code})")
    net_opts, _, net_text = NETS[a.net]
    results = "_".join(["denoising_sweep", *filter(None, [tag(a.net, code)]), f"{a.epochs}ep"])
    specs = [parse(s, ap) for s in a.corruptions.split(",") if s]
    if not specs:
        ap.error("--corruptions: none given")
    seeds = seed_list(a.seeds, ap)
    cells = ([] if a.no_pixels else [("pixels", 0.0)]) + specs
    label = {(k, lv): k if k == "pixels" else f"{k}:{lv:g}" for k, lv in cells}
    todo = [(kind, level, seed) for seed in seeds for kind, level in cells]
    payload: dict = {
        "benchmark": "denoising sweep (Table 3)", "epochs": a.epochs, "seeds": seeds, "corruption_seed": a.corruption_seed,
        "protocol": {
            "model": f"denoising-ae preset, {net_text.format(code=code)}, Bernoulli likelihood, target: the clean digit",
            "model_options": {**net_opts, "latent_dim": code},
            "training": "aekit defaults: Adam lr 1e-3, batch 128, 10% validation split held out (seeded); masking:0 = corruption none",
            "probe": "aekit.metrics.codes.linear_probe_accuracy: StandardScaler + LogisticRegression(C=1.0, max_iter=2000) "
                     "fitted on the codes of the run's training split (clean digits), test error % on the test codes",
            "psnr": "aekit.tasks.denoise.denoise: the test digits corrupted by the model's own training corruption "
                    "(seeded by corruption_seed), restored by the model; PSNR in dB (peak 1, averaged over images) against "
                    "the clean digits; psnr_corrupted_db = the corrupted digits themselves (Gaussian noise not clipped)",
            "pixels": "the same probe on the raw pixels of the same training split",
        },
        "claim": "Vincent et al. 2010 / the lecture: about 25% masking gives the best features",
        "rows": [], "pending": [f"{label[(k, lv)]} seed {s}" for k, lv, s in todo],
    }
    for kind, level, seed in todo:
        t0 = time.perf_counter()
        fig = pixel_probe(seed) if kind == "pixels" else model_cell(kind, level, a.net, code, a.epochs, seed, a.corruption_seed)
        row = {"corruption": label[(kind, level)], "kind": kind, "level": level, "seed": seed, **fig,
               "wall_seconds": time.perf_counter() - t0}
        payload["rows"].append(row)
        payload["pending"] = payload["pending"][1:]
        payload["cells"] = summarize(payload["rows"])
        payload["best"] = best(payload["cells"])
        save(results, payload)
        noisy = row.get("psnr_corrupted_db")
        psnr = (f", PSNR {'(clean)' if noisy is None else f'{noisy:.2f}'} → {row['psnr_restored_db']:.2f} dB"
                if "psnr_restored_db" in row else "")
        print(f"{row['corruption']:<17} seed {seed}: probe error {row['probe_error_pct']:.2f}%{psnr}", flush=True)
    payload["markdown"] = markdown(payload["cells"])
    path = save(results, payload)
    print("\n" + payload["markdown"] + "\n")
    print("best:", json.dumps(payload["best"]))
    print("written:", path)


if __name__ == "__main__":
    main()
