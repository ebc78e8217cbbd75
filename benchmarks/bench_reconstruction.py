"""Table 2 of the benchmark issue: reconstruction on MNIST and Fashion-MNIST at code sizes 2, 8, 32.

    python benchmarks/bench_reconstruction.py --epochs 10 [--resume]       # the whole table
    python benchmarks/bench_reconstruction.py --data mnist --codes 8 --models pca,ae,vae --nets mlp

Models: PCA (scikit-learn, fitted on the flattened training images: no network) and the presets ae,
denoising-ae, sparse-ae, contractive-ae, vae and aae, each with two networks:

mlp   784-512-256-code (MLP, ReLU), mirrored decoder
conv  conv blocks of 32 and 64 channels (kernel 3, stride 2, ReLU), no fully connected hidden layer,
      mirrored transposed convolutions (bench_networks.py's "mlp" and "conv")

Every preset gets the same network (net, hidden, channels, activation relu, latent_dim = the code
size): where a preset's own architecture differs (sparse-ae: one sigmoid layer of 196; contractive-ae:
one sigmoid layer of 256; vae: code 16; aae: code 2) it is replaced, and each row lists what changed
(``changed_from_preset``). Each preset keeps its own objective: denoising-ae 25% masking, sparse-ae
KL sparsity (rho 0.05, beta 3, on its sigmoid code) and weight decay 1e-4, contractive-ae lambda 0.1
on its sigmoid code (no closed form for these encoders: the exact Jacobian, about code-size backward
passes per step), vae the ELBO, aae the N(0, I) prior matched by a discriminator. Likelihood: auto
(Bernoulli for [0, 1] images). Training: aekit's defaults (Adam 1e-3, batch 128, the default 10%
validation split held out: 54,000 training images; the seed --seed); PCA is fitted on the same
54,000 images.

Figure per cell: test MSE per pixel in data units ([0, 1] pixels) on the 10,000 test images, the
run's metrics.json ``test_mse``: the decoder's mean at the deterministic code (the denoising AE
reconstructs clean inputs; the VAE decodes the posterior mean; the AAE its deterministic encoder's
code). Also the parameter count (all of the model's: the AAE's includes its discriminator, so
``n_params_autoencoder`` gives encoder + decoder) and the training seconds (the summed epoch times;
PCA: its fit). Runs go to results/runs/recon-{data}-{model}-{net}-{code}; --resume continues them
(finished ones are only evaluated again). The cells run PCA first, then network by network (mlp
before conv), data set, code size, model; results/reconstruction_{E}ep.json is written after every
cell, with the cells still pending, so a stopped table keeps what it measured. Under --resume the
rows already in that file for other cells are kept (and the cells it still lists as pending stay
pending), so that processes sharing the table (say one per data set and model, at once on a GPU)
fill one file; each row records its commit and device. A model/network combination that aekit
refuses stops the script (its error is the bug to fix), after the cells before it were written.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import add_resume_option, apply_options, parser, results_lock, save, train_run  # noqa: E402

MODELS = ("pca", "ae", "denoising-ae", "sparse-ae", "contractive-ae", "vae", "aae")
NETS = {"mlp": {"net": "mlp", "hidden": [512, 256]}, "conv": {"net": "conv", "channels": [32, 64], "hidden": []}}
SHARED = {"activation": "relu"}  # the same hidden activation for every preset (sparse-ae and contractive-ae default to sigmoid)
DATA = ("mnist", "fashion-mnist")
OBJECTIVE_KEYS = ("likelihood", "corruption", "noise_level", "l1", "sparsity_weight", "sparsity_target", "contractive",
                  "weight_decay", "beta", "kl_schedule", "encoder_type", "prior")  # recorded per row where the preset has them


def _csv(text: str, allowed: tuple[str, ...] | None, what: str, ap) -> list[str]:
    items = [s for s in text.split(",") if s]
    bad = [s for s in items if allowed is not None and s not in allowed]
    if bad or not items:
        ap.error(f"unknown {what} {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed or ())}")
    return items


def changed_from_preset(model: str, opts: dict) -> dict:
    """The options that differ from the preset's own: {key: {"preset": default, "used": value}}."""
    from aekit.models import get_spec

    preset = get_spec(model).make_config()
    out = {}
    for key, used in opts.items():
        if hasattr(preset, key) and getattr(preset, key) != used:
            out[key] = {"preset": getattr(preset, key), "used": used}
    return out


def network_options(model: str, net: str, code: int) -> dict:
    return {**NETS[net], **SHARED, "latent_dim": code}


def pca_cell(data: str, code: int, seed: int) -> dict:
    """PCA with ``code`` components fitted on the run's training split (the networks' own)."""
    from sklearn.decomposition import PCA

    from aekit.config import DataConfig
    from aekit.data import prepare
    from aekit.metrics import mse

    prep = prepare(DataConfig(name=data, limit=common.LIMIT), seed)
    x_train = prep.x_train.reshape(len(prep.x_train), -1).astype("float64")
    x_test = prep.x_test.reshape(len(prep.x_test), -1).astype("float64")
    t0 = time.perf_counter()
    pca = PCA(n_components=code, svd_solver="full").fit(x_train)
    secs = time.perf_counter() - t0
    rec = pca.inverse_transform(pca.transform(x_test))
    dim = x_train.shape[1]
    return {"test_mse": mse(x_test, rec), "n_params": code * dim + dim, "n_params_autoencoder": code * dim + dim,
            "train_seconds": secs, "n_train": len(x_train), "n_test": len(x_test),
            "explained_variance_ratio": float(pca.explained_variance_ratio_.sum()),
            "method": "sklearn.decomposition.PCA(svd_solver='full') on the flattened training images; reconstruction "
                      "inverse_transform(transform(x)), not clipped to [0, 1]; n_params: components + mean"}


def network_cell(data: str, model: str, net: str, code: int, epochs: int, seed: int, device: str = "auto") -> dict:
    import aekit
    from aekit.nets import CONV_KEYS

    opts = network_options(model, net, code)
    run, secs = train_run(f"recon-{data}-{model}-{net}-{code}", model, data=data, epochs=epochs, seed=seed, quiet=True,
                          device=device, **opts)
    m = json.loads((run / "metrics.json").read_text())
    cfg = aekit.load_config(run)
    net_model = aekit.load(run)
    parts = [getattr(net_model, p, None) for p in ("encoder", "decoder")]
    ae_params = sum(p.numel() for part in parts for p in part.parameters()) if all(p is not None for p in parts) else None
    return {"test_mse": m["test_mse"], "test_bce": m.get("test_bce"), "n_params": m["n_params"], "n_params_autoencoder": ae_params,
            "train_seconds": secs, "epochs_trained": len(common.read_history(run)), "n_train": common.n_train(run),
            "likelihood": cfg.model.likelihood, "changed_from_preset": changed_from_preset(model, opts),
            "model_options": {k: getattr(cfg.model, k) for k in ("net", "hidden", *(CONV_KEYS if net == "conv" else ()), "activation",
                                                                 "code_activation", "latent_dim") if hasattr(cfg.model, k)},
            "objective_options": {k: getattr(cfg.model, k) for k in OBJECTIVE_KEYS if hasattr(cfg.model, k)},
            "train_options": {k: getattr(cfg.train, k) for k in ("epochs", "batch_size", "lr", "optimizer", "seed")},
            "run": os.path.relpath(run, common.RESULTS), "device": m.get("device"),
            "warnings": m.get("warnings", [])}


def cell_key(row: dict) -> str:
    return f"{row['data']}/{row['model']}/{row['net']}/{row['code']}"


def merged(path, rows: list[dict], pending: list[str]) -> tuple[list[dict], list[str]]:
    """This process's rows and pending cells over those already in ``path`` (other processes' cells
    of the same table): a cell this process measured replaces the file's row; the file's pending
    cells stay pending unless measured here. Rows in the order of the full table (PCA, then network,
    data set, code, model)."""
    old = json.loads(path.read_text()) if path.is_file() else {"rows": [], "pending": []}
    mine = {cell_key(r) for r in rows}
    all_rows = [r for r in old["rows"] if cell_key(r) not in mine] + rows
    done = {cell_key(r) for r in all_rows}
    todo = [c for c in dict.fromkeys([*old.get("pending", []), *pending]) if c not in done]

    def order(key: str) -> tuple:
        d, m, n, c = key.split("/")
        return (m != "pca", tuple(NETS).index(n) if n in NETS else -1, DATA.index(d) if d in DATA else len(DATA), int(c),
                MODELS.index(m) if m in MODELS else len(MODELS))
    return sorted(all_rows, key=lambda r: order(cell_key(r))), sorted(todo, key=order)


def markdown(rows: list[dict], codes: list[int]) -> str:
    """Rows (data, model, net) × columns (code sizes): test MSE."""
    keys: list[tuple[str, str, str]] = []
    for r in rows:
        k = (r["data"], r["model"], r["net"])
        if k not in keys:
            keys.append(k)
    cell = {(r["data"], r["model"], r["net"], r["code"]): r["test_mse"] for r in rows}
    out = ["| data | model | net | " + " | ".join(f"code {c}" for c in codes) + " |", "|---|---|---|" + "---:|" * len(codes)]
    for d, m, n in keys:
        vals = [cell.get((d, m, n, c)) for c in codes]
        out.append(f"| {d} | {m} | {n} | " + " | ".join("" if v is None else f"{v:.5f}" for v in vals) + " |")
    return "\n".join(out)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data", default=",".join(DATA), help=f"comma-separated: {', '.join(DATA)}")
    ap.add_argument("--codes", default="2,8,32", help="comma-separated code sizes")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated: {', '.join(MODELS)}")
    ap.add_argument("--nets", default=",".join(NETS), help=f"comma-separated: {', '.join(NETS)} (PCA has none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", help="where the networks train: auto (a GPU when there is one), cpu, cuda "
                                                     "[default: auto]")
    add_resume_option(ap)
    a = apply_options(ap.parse_args())
    import logging

    logging.basicConfig(level=logging.WARNING)
    datas = _csv(a.data, DATA, "data set(s)", ap)
    models = _csv(a.models, MODELS, "model(s)", ap)
    nets = _csv(a.nets, tuple(NETS), "network(s)", ap)
    try:
        codes = [int(c) for c in _csv(a.codes, None, "code sizes", ap)]
    except ValueError:
        ap.error(f"--codes takes integers, got {a.codes}")
    # PCA first (seconds), then network by network (the MLP cells take minutes, the conv ones far longer),
    # so that a table stopped part-way holds whole columns of the cheaper networks
    todo = [(d, c, "pca", "-") for d in datas for c in codes if "pca" in models]
    todo += [(d, c, m, n) for n in nets for d in datas for c in codes for m in models if m != "pca"]
    payload: dict = {
        "benchmark": "reconstruction (Table 2)", "epochs": a.epochs, "seed": a.seed,
        "protocol": {
            "figure": "test_mse: mean squared error per pixel in data units ([0, 1] pixels) on the data set's 10,000 test images",
            "networks": {"mlp": "784-512-256-code MLP, ReLU, mirrored decoder",
                         "conv": "conv 32, 64 channels (kernel 3, stride 2, ReLU), no fully connected hidden layer, "
                                 "mirrored transposed convolutions"},
            "network_options": {n: {**NETS[n], **SHARED} for n in nets},
            "same_network_for_every_preset": "net, hidden, channels, activation and latent_dim are set alike for every preset; "
                                             "each preset keeps its own objective and code activation (see changed_from_preset)",
            "reconstruction": "the likelihood's mean decoded from the deterministic code, as metrics.json's test_mse: "
                              "denoising-ae on clean inputs (no corruption at test time); vae: the decoder's mean at the "
                              "posterior mean mu(x) (no sampling); aae: its deterministic encoder's code",
            "vae_test_mse": "decoder mean (Bernoulli probabilities) at z = posterior mean (VAE.code: posterior(x)[0]); "
                            "aekit.evaluate.evaluate_model's recon_params",
            "training": "aekit defaults: Adam lr 1e-3, batch 128, 10% validation split held out (seeded), likelihood auto "
                        "(Bernoulli for [0, 1] images)",
            "pca": "scikit-learn PCA fitted on the same training split as the networks (the flattened images)",
            "n_params": "every parameter of the model (the AAE's discriminator included); n_params_autoencoder: encoder + decoder",
            "train_seconds": "summed epoch times from history.csv (PCA: the fit); CPU unless machine says otherwise",
        },
    }
    name = f"reconstruction_{a.epochs}ep"
    rows: list[dict] = []
    pending = [f"{d}/{m}/{n}/{c}" for d, c, m, n in todo]

    def write() -> Path:
        with results_lock():
            path = common.RESULTS / f"{name}.json"
            payload["rows"], payload["pending"] = merged(path, rows, pending) if common.RESUME else (rows, pending)
            payload["writers"] = common.writers(path if common.RESUME else None, [cell_key(r) for r in rows])
            payload["markdown"] = markdown(payload["rows"], sorted({*codes, *(r["code"] for r in payload["rows"])}))
            return save(name, payload)

    write()  # the cells this process will measure are pending in the shared file from the start
    for data, code, model, net in todo:
        t0 = time.perf_counter()
        fig = pca_cell(data, code, a.seed) if model == "pca" else network_cell(data, model, net, code, a.epochs, a.seed, a.device)
        row = {"data": data, "model": model, "net": net, "code": code, **fig, "wall_seconds": time.perf_counter() - t0,
               "commit": common.git_commit()}
        rows.append(row)
        pending = pending[1:]
        path = write()
        print(f"{data:<14} code {code:>2} {model:<15} {net:<4}: test MSE {row['test_mse']:.5f}, {row['n_params']:,d} params, "
              f"{row['train_seconds']:.1f} s", flush=True)
    path = write()
    print("\n" + payload["markdown"] + "\n")
    print("written:", path)


if __name__ == "__main__":
    main()
