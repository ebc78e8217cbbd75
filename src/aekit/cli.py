"""The ``aekit`` command. Every train flag is also a config key (YAML or ``--set``)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .errors import AekitError

# flag → (section, key); the help text shows the real default from the config dataclasses
TRAIN_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--model": ("model", "name", str, "model preset (see `aekit models`)"),
    "--data": ("data", "name", str, "named data set (see `aekit datasets`) or a path: .npy, .npz, .csv, image folder, IDX folder"),
    "--data-dir": ("data", "data_dir", str, "folder holding named data sets as <dir>/<name>/<files> (else $AEKIT_DATA_DIR, else ~/.cache/aekit)"),
    "--label-column": ("data", "label_column", str, "CSV column holding labels (name or 0-based index)"),
    "--scale": ("data", "scale", str, "input scaling fitted on the training split: none | minmax | standard"),
    "--net": ("model", "net", str, "network family: mlp"),
    "--latent-dim": ("model", "latent_dim", int, "code size"),
    "--hidden": ("model", "hidden", str, "encoder hidden widths, comma-separated (decoder mirrors them); '' for none"),
    "--likelihood": ("model", "likelihood", str, "bernoulli | gaussian | gaussian-learned | auto (bernoulli for data in [0, 1])"),
    "--epochs": ("train", "epochs", int, "training epochs (fine-tuning epochs for stacked models)"),
    "--batch-size": ("train", "batch_size", int, "examples per batch"),
    "--lr": ("train", "lr", float, "learning rate"),
    "--seed": ("train", "seed", int, "random seed: same seed, same weights (on CPU)"),
    "--device": ("train", "device", str, "auto | cpu | cuda | cuda:N"),
    "--labels": ("data", "labels", int, "semi-supervised: keep N training labels, balanced per class (seeded); hide the rest"),
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """States each default once: not where the help text already gives it, nor for empty defaults."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "[default:" in text or action.default is None or action.default is False or action.default == []:
            return text
        return super()._get_help_string(action)


def _defaults() -> dict[tuple[str, str], Any]:
    from .config import DataConfig, TrainConfig
    from .models.base import AEConfig

    out: dict[tuple[str, str], Any] = {("model", "name"): "ae"}
    for section, cls in (("data", DataConfig), ("train", TrainConfig), ("model", AEConfig)):
        for f in dataclasses.fields(cls):
            out[(section, f.name)] = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    return out


def _add_train(sub: argparse._SubParsersAction) -> None:
    d = _defaults()
    p = sub.add_parser("train", help="train a model and write a run folder",
                       description="Train a model. Every flag is also settable in --config YAML (sections data/model/train) "
                                   "or with --set section.key=value; later sources win: YAML < flags < --set.",
                       formatter_class=_HelpFormatter)
    for flag, (section, key, tp, text) in TRAIN_FLAGS.items():
        default = d.get((section, key))
        if isinstance(default, list):
            default = ",".join(map(str, default))
        p.add_argument(flag, type=tp, default=None, help=f"{text} [default: {default}]")
    p.add_argument("--out", default=None, help="run folder [default: runs/<model>-<data>, numbered if taken]")
    p.add_argument("--config", default=None, help="YAML file with data/model/train sections [default: none]")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint (--epochs sets the new total)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set model.l1=1e-3 --set train.schedule=cosine (repeatable)")


def _data_args(p: argparse.ArgumentParser, split_default: str = "auto") -> None:
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("--data", default=None, help="data set name or path [default: the run's own data set]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets [default: the run's, else $AEKIT_DATA_DIR]")
    p.add_argument("--split", default=split_default, choices=["auto", "train", "val", "test", "all"],
                   help="which split: auto = test for named data sets, all rows in file order for a path; "
                        "all = every row in file order (train file then test file)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aekit", description="Autoencoders: train, evaluate, encode, reconstruct.")
    parser.add_argument("--version", action="version", version=f"aekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)
    p = sub.add_parser("evaluate", help="metrics of a run on a split (printed and written to the run folder)",
                       formatter_class=_HelpFormatter)
    _data_args(p)
    p.add_argument("--corrupt", default=None, metavar="KIND:LEVEL",
                   help="also report PSNR of corrupted vs restored inputs, e.g. masking:0.25 (kinds: gaussian, masking, salt-pepper)")
    p.add_argument("--nll", action="store_true", help="importance-sampled test NLL in nats (models with a likelihood bound: vae, cvae)")
    p.add_argument("--k", type=int, default=1000, help="importance samples per example for --nll (k=1 is the ELBO)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p = sub.add_parser("sample", help="generate examples from a model's prior (or a GMM fitted to its codes)",
                       formatter_class=_HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("--label", type=int, default=None, help="class to generate (conditional models)")
    p.add_argument("--sampler", default="prior", choices=["prior", "gmm"],
                   help="prior: the model's own p(z); gmm: a Gaussian mixture fitted to the training codes (any model)")
    p.add_argument("--components", type=int, default=10, help="mixture components for --sampler gmm")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", required=True, help="output: .png grid or .npy array")
    p = sub.add_parser("interpolate", help="decode the path between the codes of two examples", formatter_class=_HelpFormatter)
    _data_args(p)
    p.add_argument("--from", dest="i", type=int, required=True, help="index of the first example in the split")
    p.add_argument("--to", dest="j", type=int, required=True, help="index of the second example in the split")
    p.add_argument("--steps", type=int, default=10, help="points on the path, ends included")
    p.add_argument("--method", default="linear", choices=["linear", "spherical"], help="straight line or great circle in code space")
    p.add_argument("--out", required=True, help="output: .png strip or .npy array")
    p = sub.add_parser("compare-latents", help="latent maps of several runs side by side (e.g. AE vs VAE vs AAE)",
                       formatter_class=_HelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders (trained on the same kind of data)")
    p.add_argument("--data", default=None, help="data set name or path [default: the first run's data set]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets")
    p.add_argument("-n", type=int, default=5000, help="test examples to plot")
    p.add_argument("--out", required=True, help="output .png")
    p = sub.add_parser("encode", help="codes of a data set (dimensionality reduction)", formatter_class=_HelpFormatter)
    _data_args(p)
    p.add_argument("--out", required=True, help="output file: .npy or .csv")
    p = sub.add_parser("reconstruct", help="reconstructions of a data set", formatter_class=_HelpFormatter)
    _data_args(p)
    p.add_argument("--out", default=None, help="output .npy of reconstructions (input's shape)")
    p.add_argument("--png", default=None, help="also write a PNG grid: inputs above reconstructions (images only)")
    p.add_argument("-n", type=int, default=16, help="examples in the PNG grid")
    sub.add_parser("models", help="the model presets, one line each")
    p = sub.add_parser("datasets", help="the named data sets and whether each is available locally")
    p.add_argument("--data-dir", default=None, help="folder to look in [default: $AEKIT_DATA_DIR, else ~/.cache/aekit]")
    return parser


# ---- commands ----------------------------------------------------------------------------------

def _free_out(model: str, data: str) -> Path:
    base = Path("runs") / f"{model}-{Path(data).stem if ('/' in data or '.' in data) else data}"
    out, i = base, 2
    while out.exists():
        out, i = Path(f"{base}-{i}"), i + 1
    return out


def cmd_train(a: argparse.Namespace) -> int:
    from .config import build_config, load_yaml, parse_set
    from .run import train

    layers: list[dict[str, Any]] = []
    out = Path(a.out) if a.out else None
    if a.resume:
        if out is None:
            raise AekitError("--resume needs --out RUN_FOLDER", "give the run folder to continue")
        layers.append(load_yaml(out / "config.yaml") if (out / "config.yaml").exists() else {})
        if layers[0].get("model"):
            # shape, range and likelihood were resolved from the data; re-resolve the same way
            layers[0]["model"] = {k: v for k, v in layers[0]["model"].items() if k not in ("input_shape", "input_range")}
    if a.config:
        layers.append(load_yaml(a.config))
    flags: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for flag, (section, key, _, _) in TRAIN_FLAGS.items():
        v = getattr(a, flag[2:].replace("-", "_"))
        if v is not None:
            flags[section][key] = v
    if a.quiet:
        flags["train"]["quiet"] = True
    layers += [flags, parse_set(a.set)]
    cfg = build_config(layers)
    if out is None:
        out = _free_out(cfg.model_name, cfg.data.name)
    path = train(cfg, out, resume=a.resume, progress=not cfg.train.quiet)
    metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").exists() else {}
    if not cfg.train.quiet:
        shown = {k: v for k, v in metrics.items() if k.startswith("test_")}
        print(f"run folder: {path}")
        for k, v in shown.items():
            print(f"  {k}: {v:.5g}")
        if (path / "report.html").exists():
            print(f"  report: {path / 'report.html'}")
    return 0


def _load_split(a: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """(model, x, y, description) for evaluate/encode/reconstruct; x in the data's own units."""
    import numpy as np

    from .data import load_raw, prepare
    from .run import load, load_config

    cfg = load_config(a.run)
    model = load(a.run)
    split = a.split
    if a.data_dir:
        cfg.data.data_dir = a.data_dir
    own = a.data is None or a.data == cfg.data.name
    if own and split in ("auto", "train", "val", "test"):
        # the run's own seeded splits, exactly as in training
        split = "test" if split == "auto" else split
        x, y = prepare(cfg.data, cfg.train.seed).split(split)
        return model, x, y, f"{cfg.data.name} ({split})"
    name = cfg.data.name if own else a.data
    raw = load_raw(name, a.data_dir or cfg.data.data_dir, cfg.data.label_column, cfg.data.image_size)
    if split == "auto":
        from .data import DATASETS

        split = "test" if name in DATASETS and raw.x_test is not None else "all"
    if split == "test":
        if raw.x_test is None:
            raise AekitError(f"{name} has no test split of its own", "use --split all")
        x, y = raw.x_test, raw.y_test
    elif split == "train":
        x, y = raw.x_train, raw.y_train
    elif split == "all":
        x = raw.x_train if raw.x_test is None else np.concatenate([raw.x_train, raw.x_test])
        y = raw.y_train if raw.x_test is None else (np.concatenate([raw.y_train, raw.y_test]) if raw.y_train is not None and raw.y_test is not None else None)
    else:
        raise AekitError(f"--split {split} is only defined for the run's own data set", "use --split train, test or all")
    return model, x, y, f"{name} ({split})"


def cmd_evaluate(a: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .io import atomic_write_json
    from .metrics import psnr
    from .parts import make_corruption
    from .run import evaluate_model

    model, x, y, what = _load_split(a)
    xt = model._check_input(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    xm = model.to_model_space(xt).numpy()
    metrics: dict[str, Any] = {"data": what, "n": int(len(x))}
    metrics.update({k: v for k, v in evaluate_model(model, xm, y).items()})
    if a.nll:
        if not hasattr(model, "evaluate_nll"):
            raise AekitError(f"--nll needs a model with a likelihood bound; {type(model).__name__} has none",
                             "train --model vae or cvae; for other models use the reconstruction figures")
        if a.k < 1:
            raise AekitError(f"--k must be >= 1, got {a.k}")
        metrics.update(model.evaluate_nll(torch.from_numpy(xm), k=a.k))
    if a.corrupt:
        kind, _, level = a.corrupt.partition(":")
        try:
            lvl = float(level)
        except ValueError:
            raise AekitError(f"--corrupt {a.corrupt!r} is not KIND:LEVEL", "e.g. --corrupt masking:0.25") from None
        torch.manual_seed(0)
        lo, hi = model.cfg.input_range
        noisy = make_corruption(kind, lvl, lo, hi)(torch.from_numpy(xm))
        with torch.no_grad():
            restored = model.likelihood.mean(model._recon_params(noisy)).numpy()
        rng = hi - lo if hi > lo else 1.0
        metrics[f"psnr_corrupted_db"] = psnr(xm, noisy.numpy(), rng)
        metrics[f"psnr_restored_db"] = psnr(xm, restored, rng)
        metrics["corruption"] = a.corrupt
    name = "eval-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in what.replace(" ", "")) + ".json"
    atomic_write_json(Path(a.run) / name, metrics)
    if a.json:
        print(json.dumps(metrics, indent=2))
    else:
        for k, v in metrics.items():
            print(f"{k}: {v:.5g}" if isinstance(v, float) else f"{k}: {v}")
        print(f"written: {Path(a.run) / name}")
    return 0


def _save_array(path: Path, arr: Any) -> None:
    import numpy as np

    from .io import atomic_write

    suffix = path.suffix.lower()
    if suffix == ".npy":
        def w(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, arr)
    elif suffix == ".csv":
        def w(tmp: str) -> None:
            np.savetxt(tmp, arr.reshape(len(arr), -1), delimiter=",", fmt="%.7g")
    else:
        raise AekitError(f"cannot write {path.name}: unsupported extension {suffix or '(none)'}", "use .npy or .csv")
    atomic_write(path, w)


def cmd_encode(a: argparse.Namespace) -> int:
    model, x, _, what = _load_split(a)
    codes = model.encode(x)
    _save_array(Path(a.out), codes)
    print(f"{len(codes)} codes of dimension {codes.shape[1]} from {what} written to {a.out}")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    if not a.out and not a.png:
        raise AekitError("nothing to write", "give --out recon.npy and/or --png grid.png")
    model, x, _, what = _load_split(a)
    if a.out:
        rec = model.reconstruct(x)
        _save_array(Path(a.out), rec)
        print(f"{len(rec)} reconstructions from {what} written to {a.out}")
    if a.png:
        import numpy as np

        from .plots.figures import save_image_grid

        if len(model.input_shape) != 3:
            raise AekitError("--png needs image data (N, C, H, W)", "use --out to save reconstructions of vectors or sequences")
        n = min(a.n, len(x))
        xs = np.asarray(x[:n], dtype=np.float32).reshape(n, *model.input_shape)
        rec = np.asarray(model.reconstruct(xs)).reshape(n, *model.input_shape)
        save_image_grid(np.concatenate([xs, rec]), Path(a.png), nrow=n)
        print(f"grid of {n} inputs (top) and reconstructions (bottom) written to {a.png}")
    return 0


def _save_images_or_array(path: Path, arr: Any, nrow: int) -> None:
    import numpy as np

    if path.suffix.lower() == ".png":
        from .plots.figures import save_image_grid

        arr = np.asarray(arr)
        if arr.ndim != 4:
            raise AekitError("a PNG needs image data (N, C, H, W)", "write .npy instead")
        save_image_grid(np.clip(arr, 0, 1), path, nrow=nrow)
    else:
        _save_array(path, np.asarray(arr))


def cmd_sample(a: argparse.Namespace) -> int:
    from .run import load

    if a.n < 1:
        raise AekitError(f"-n must be >= 1, got {a.n}")
    model = load(a.run)
    if a.sampler == "gmm":
        from .tasks import GMMSampler

        if a.label is not None:
            raise AekitError("--label cannot be combined with --sampler gmm", "drop --label, or use a conditional model's prior")
        cache = Path(a.run) / f"gmm_sampler_{a.components}.json"
        if cache.exists():
            gmm = GMMSampler.load(cache)
        else:
            from .data import prepare
            from .run import load_config

            cfg = load_config(a.run)
            x = prepare(cfg.data, cfg.train.seed).x_train[:20000]
            gmm = GMMSampler.fit(model.encode(x), a.components, seed=a.seed)
            gmm.save(cache)
        out = gmm.sample(model, a.n, seed=a.seed)
    else:
        out = model.sample(a.n, label=a.label, seed=a.seed)
    _save_images_or_array(Path(a.out), out, nrow=int(max(1, round(a.n ** 0.5))))
    print(f"{a.n} samples ({a.sampler}{'' if a.label is None else f', label {a.label}'}) written to {a.out}")
    return 0


def cmd_interpolate(a: argparse.Namespace) -> int:
    from .tasks import interpolate

    model, x, _, what = _load_split(a)
    for name, i in (("--from", a.i), ("--to", a.j)):
        if not 0 <= i < len(x):
            raise AekitError(f"{name} {i} is outside {what}, which has {len(x)} examples", f"give an index in 0..{len(x) - 1}")
    path = interpolate(model, x[a.i], x[a.j], steps=a.steps, method=a.method)
    _save_images_or_array(Path(a.out), path, nrow=a.steps)
    print(f"{a.method} path of {a.steps} steps from example {a.i} to {a.j} of {what} written to {a.out}")
    return 0


def cmd_compare_latents(a: argparse.Namespace) -> int:
    import io

    from .data import load_raw, prepare
    from .io import atomic_write_bytes
    from .plots.figures import latent_maps
    from .run import load, load_config

    cfg = load_config(a.runs[0])
    if a.data is None:
        if a.data_dir:
            cfg.data.data_dir = a.data_dir
        x, y = prepare(cfg.data, cfg.train.seed).split("test")
        what = cfg.data.name
    else:
        raw = load_raw(a.data, a.data_dir or cfg.data.data_dir)
        x, y = (raw.x_test, raw.y_test) if raw.x_test is not None else (raw.x_train, raw.y_train)
        what = a.data
    x, y = x[: a.n], (y[: a.n] if y is not None else None)
    panels = [(load(run).encode(x), f"{load_config(run).model_name} ({Path(run).name})") for run in a.runs]
    buf = io.BytesIO()
    latent_maps(panels, y).savefig(buf, format="png", dpi=110)
    atomic_write_bytes(Path(a.out), buf.getvalue())
    print(f"latent maps of {len(a.runs)} runs on {what} ({len(x)} examples) written to {a.out}")
    return 0


def cmd_models(_: argparse.Namespace) -> int:
    from .models import all_specs

    specs = all_specs()
    w = max(len(s.name) for s in specs)
    for s in specs:
        print(f"{s.name:<{w}}  {s.describe}")
    return 0


def cmd_datasets(a: argparse.Namespace) -> int:
    from .data import data_dir, dataset_status

    root = data_dir(a.data_dir)
    rows = dataset_status(root)
    w = max(len(n) for n, _, _ in rows)
    print(f"data directory: {root}")
    for name, describe, ok in rows:
        print(f"{name:<{w}}  {'available' if ok else 'download':<9}  {describe}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "encode": cmd_encode, "reconstruct": cmd_reconstruct,
            "sample": cmd_sample, "interpolate": cmd_interpolate, "compare-latents": cmd_compare_latents,
            "models": cmd_models, "datasets": cmd_datasets}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return 2
    quiet = getattr(a, "quiet", False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    from .train import TrainingInterrupted

    try:
        return COMMANDS[a.command](a)
    except AekitError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  fix: {e.hint}", file=sys.stderr)
        return 2
    except TrainingInterrupted as e:
        print(f"\ninterrupted: checkpoint written to {e.checkpoint}; continue with --resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
