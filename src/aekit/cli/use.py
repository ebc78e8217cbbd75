"""Commands that use a trained run: evaluate, encode, reconstruct, sample, interpolate, compare-latents."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .train import HelpFormatter


def data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("--data", default=None, help="data set name or path; a text run reads a .txt file, one line per example, "
                                                "with its own vocabulary [default: the run's own data set]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets [default: the run's, else $AEKIT_DATA_DIR]")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"],
                   help="auto: the run's test split for its own data, every row in file order for a path; "
                        "all: every row in file order (train file, then test file) [default: auto]")


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("evaluate", help="metrics of a run on a split (printed and written to the run folder)", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--corrupt", default=None, metavar="KIND:LEVEL",
                   help="also report PSNR of corrupted vs restored inputs, e.g. masking:0.25 (kinds: gaussian, masking, salt-pepper)")
    p.add_argument("--nll", action="store_true", help="importance-sampled NLL in nats (models with a likelihood bound: vae, beta-vae, iwae, cvae)")
    p.add_argument("--k", type=int, default=1000, help="importance samples per example for --nll (k=1 is the ELBO) [default: 1000]")
    p.add_argument("--metrics", default=None, metavar="NAMES",
                   help="also these figures, comma-separated: knn, linear-probe (fitted on the run's training codes), "
                        "trustworthiness, jacobian, saturation, pca-angle, nll (as --nll)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p = sub.add_parser("sample", help="generate examples from a model's prior (or a GMM fitted to its codes)", formatter_class=HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("-n", type=int, default=64, help="number of samples [default: 64]")
    p.add_argument("--label", default=None, help="class to generate, as in the data (conditional models)")
    p.add_argument("--sampler", default="prior", choices=["prior", "gmm"],
                   help="prior: the model's own p(z); gmm: a Gaussian mixture fitted to the training codes (any model) [default: prior]")
    p.add_argument("--components", type=int, default=10, help="mixture components for --sampler gmm [default: 10]")
    p.add_argument("--seed", type=int, default=0, help="random seed [default: 0]")
    p.add_argument("--out", required=True, help="output: .png grid or .npy array")
    p = sub.add_parser("interpolate", help="decode the path between the codes of two examples", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--from", dest="i", type=int, required=True, help="index of the first example in the split")
    p.add_argument("--to", dest="j", type=int, required=True, help="index of the second example in the split")
    p.add_argument("--steps", type=int, default=10, help="points on the path, ends included [default: 10]")
    p.add_argument("--method", default="linear", choices=["linear", "spherical"], help="straight line or great circle in code space")
    p.add_argument("--out", required=True, help="output: .png strip or .npy array")
    p = sub.add_parser("compare-latents", help="latent maps of several runs side by side (e.g. AE vs VAE vs AAE)", formatter_class=HelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders (trained on the same kind of data)")
    p.add_argument("--data", default=None, help="data set name or path [default: the first run's data set]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets")
    p.add_argument("-n", type=int, default=5000, help="test examples to plot [default: 5000]")
    p.add_argument("--out", required=True, help="output .png")
    p = sub.add_parser("encode", help="codes of a data set (dimensionality reduction)", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--out", required=True, help="output file: .npy or .csv")
    p = sub.add_parser("reconstruct", help="reconstructions of a data set", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--out", default=None, help="output .npy of reconstructions (the input's shape); text runs: .txt, one "
                                               "reconstructed line per input line [text runs, no --out: printed]")
    p.add_argument("--png", default=None, help="also write a PNG grid: inputs above reconstructions (images only)")
    p.add_argument("-n", type=int, default=16, help="examples in the PNG grid [default: 16]")


def load_split(a: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray | None, str, str]:
    """(model, x, y, description, split name) for commands that read data; x in the data's units,
    y as the run's class indices."""
    from ..data import DATASETS, class_indices, label_classes, load_like
    from ..run import load, run_data
    from ..runconfig import load_config

    cfg = load_config(a.run)
    model = load(a.run)
    if a.data_dir:
        cfg.data.data_dir = a.data_dir
    own = a.data is None or a.data == cfg.data.name
    split = a.split
    if own and split in ("auto", "train", "val", "test"):
        split = "test" if split == "auto" else split
        x, y = run_data(cfg).split(split)  # the run's own seeded splits, exactly as in training
        return model, x, y, f"{cfg.data.name} ({split})", split
    name = cfg.data.name if own else a.data
    # text: new lines are padded to the model's length
    raw = load_like(cfg.data, name, a.data_dir, length=int(model.input_shape[0]) if cfg.data.vocab else None)
    if split == "auto":
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
    if y is not None:  # the run's classes; a run without labels colours by this data's own
        partial = type(cfg.model).label_use == "partial"
        classes = list(cfg.data.classes) if cfg.data.classes else label_classes([(y, name)], allow_unlabelled=partial)
        y = class_indices(y, classes, name, allow_unlabelled=partial)
    return model, x, y, f"{name} ({split})", split


def _model_space(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    t, _ = model.as_input(x)
    with torch.no_grad():
        return model.to_model_space(t).numpy()


def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..evaluate import NEEDS_TRAIN, check_code_metrics, code_metrics, denoising_psnr, evaluate_model, parse_corruption
    from ..io import atomic_write_json

    names = check_code_metrics([m.strip() for m in a.metrics.split(",") if m.strip()]) if a.metrics else []
    corruption = parse_corruption(a.corrupt) if a.corrupt else None
    if a.nll and "nll" not in names:
        names.append("nll")
    if "nll" in names and a.k < 1:
        raise AekitError(f"--k must be >= 1, got {a.k}")
    model, x, y, what, split = load_split(a)
    xm = _model_space(model, x)
    metrics: dict[str, Any] = {"data": what, "n": int(len(x))}
    metrics.update(evaluate_model(model, xm, y, split=split))
    if corruption:
        metrics.update(denoising_psnr(model, xm, *corruption))
        metrics["corruption"] = a.corrupt
    if names:
        x_tr = y_tr = None
        if set(names) & set(NEEDS_TRAIN):
            from ..run import run_data, scale
            from ..runconfig import load_config

            cfg = load_config(a.run)
            if a.data_dir:
                cfg.data.data_dir = a.data_dir
            own = run_data(cfg)
            x_tr, y_tr = scale(own, own.x_train), own.y_train
        metrics.update(code_metrics(model, names, xm, y, x_tr, y_tr, split=split, k=a.k))
    name = "eval-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in what.replace(" ", "")) + ".json"
    atomic_write_json(Path(a.run) / name, metrics)
    if a.json:
        print(json.dumps(metrics, indent=2))
    else:
        for k, v in metrics.items():
            if isinstance(v, (dict, list)):
                continue
            print(f"{k}: {v:.5g}" if isinstance(v, float) else f"{k}: {v}")
        print(f"written: {Path(a.run) / name}")
    return 0


def save_array(path: Path, arr: Any) -> None:
    from ..io import atomic_write

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
    model, x, _, what, _ = load_split(a)
    codes = model.encode(x)
    save_array(Path(a.out), codes)
    print(f"{len(codes)} codes of dimension {codes.shape[1]} from {what} written to {a.out}")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    from ..runconfig import load_config

    vocab = load_config(a.run).data.vocab
    text_out = a.out is not None and Path(a.out).suffix.lower() == ".txt"
    if text_out and not vocab:
        raise AekitError(f"cannot write {Path(a.out).name}: reconstructions as text need a run on text (data.kind=text, "
                         "or a named set of text such as sentences)", "write .npy or .csv")
    if not a.out and not a.png and not vocab:
        raise AekitError("nothing to write", "give --out recon.npy and/or --png grid.png")
    model, x, _, what, _ = load_split(a)
    if vocab and (text_out or not (a.out or a.png)):
        lines = text_lines(model.reconstruct(x), x, vocab)
        if text_out:
            from ..io import atomic_write_text

            atomic_write_text(Path(a.out), "".join(s + "\n" for s in lines))
            print(f"{len(lines)} reconstructed lines from {what} written to {a.out}")
        else:
            print("\n".join(lines))
    elif a.out:
        rec = model.reconstruct(x)
        save_array(Path(a.out), rec)
        print(f"{len(rec)} reconstructions from {what} written to {a.out}")
    if a.png:
        from ..plots.figures import save_image_grid

        if len(model.input_shape) != 3:
            raise AekitError("--png needs image data (N, C, H, W)", "use --out to save reconstructions of vectors or sequences")
        n = min(a.n, len(x))
        xs = np.asarray(model.as_input(x[:n])[0])
        rec = np.asarray(model.reconstruct(xs)).reshape(n, *model.input_shape)
        save_image_grid(np.concatenate([xs, rec]), Path(a.png), nrow=n)
        print(f"grid of {n} inputs (top) and reconstructions (bottom) written to {a.png}")
    return 0


def text_lines(rec: Any, x: np.ndarray, vocab: str) -> list[str]:
    """Reconstructions of one-hot text ``x`` as lines: the most likely character of each step, to the
    length of its input line (the model does not choose the length)."""
    from ..data.base import series_lengths
    from ..data.text import decode_lengths

    return decode_lengths(np.asarray(rec), list(vocab), series_lengths(np.asarray(x).reshape(len(x), -1, len(vocab))))


def save_images_or_array(path: Path, arr: Any, nrow: int) -> None:
    if path.suffix.lower() == ".png":
        from ..plots.figures import save_image_grid

        arr = np.asarray(arr)
        if arr.ndim != 4:
            raise AekitError("a PNG needs image data (N, C, H, W)", "write .npy instead")
        save_image_grid(np.clip(arr, 0, 1), path, nrow=nrow)
    else:
        save_array(path, np.asarray(arr))


def class_index(label: str, classes: list[Any] | None, n_classes: int) -> int:
    """The class index of ``label`` as written in the data (``classes``), e.g. "7" or "cat"."""
    if classes:
        for i, c in enumerate(classes):
            if str(c) == str(label):
                return i
        raise AekitError(f"--label {label}: not one of the run's classes ({', '.join(map(str, classes[:20]))})",
                         "give a label as it appears in the training data")
    try:
        return int(label)
    except ValueError:
        raise AekitError(f"--label {label!r} is not a class of this model", f"give 0..{n_classes - 1}") from None


def gmm_sampler(run: Path, model: Any, components: int, seed: int) -> Any:
    """The GMM sampler of a run, cached in the run folder keyed by the weights and the seed: a
    cache made for other weights (a resumed run) or another seed is refitted."""
    from ..run import run_data
    from ..runconfig import load_config
    from ..tasks import GMMSampler

    weights = run / "model.safetensors"
    key = {"weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "seed": int(seed), "components": int(components)}
    cache = run / f"gmm_sampler_{components}.json"
    if cache.exists():
        gmm = GMMSampler.load(cache)
        if gmm.key == key:
            return gmm
    cfg = load_config(run)
    x = run_data(cfg).x_train[:20000]
    gmm = GMMSampler.fit(model.encode(x), components, seed=seed)
    gmm.key = key
    gmm.save(cache)
    return gmm


def cmd_sample(a: argparse.Namespace) -> int:
    from ..run import load
    from ..runconfig import load_config

    if a.n < 1:
        raise AekitError(f"-n must be >= 1, got {a.n}")
    model = load(a.run)
    label = class_index(a.label, load_config(a.run).data.classes, model.n_classes) if a.label is not None else None
    if a.sampler == "gmm":
        if a.label is not None:
            raise AekitError("--label cannot be combined with --sampler gmm", "drop --label, or use a conditional model's prior")
        out = gmm_sampler(Path(a.run), model, a.components, a.seed).sample(model, a.n, seed=a.seed)
    else:
        out = model.sample(a.n, label=label, seed=a.seed)
    save_images_or_array(Path(a.out), out, nrow=int(max(1, round(a.n ** 0.5))))
    print(f"{a.n} samples ({a.sampler}{'' if a.label is None else f', label {a.label}'}) written to {a.out}")
    return 0


def cmd_interpolate(a: argparse.Namespace) -> int:
    from ..tasks import interpolate

    model, x, _, what, _ = load_split(a)
    for name, i in (("--from", a.i), ("--to", a.j)):
        if not 0 <= i < len(x):
            raise AekitError(f"{name} {i} is outside {what}, which has {len(x)} examples", f"give an index in 0..{len(x) - 1}")
    path = interpolate(model, x[a.i], x[a.j], steps=a.steps, method=a.method)
    save_images_or_array(Path(a.out), path, nrow=a.steps)
    print(f"{a.method} path of {a.steps} steps from example {a.i} to {a.j} of {what} written to {a.out}")
    return 0


def cmd_compare_latents(a: argparse.Namespace) -> int:
    from ..data import class_indices, label_classes, load_like
    from ..plots.canvas import save_png
    from ..plots.figures import latent_maps
    from ..run import load, run_data
    from ..runconfig import load_config

    cfg = load_config(a.runs[0])
    if a.data is None:
        if a.data_dir:
            cfg.data.data_dir = a.data_dir
        x, y = run_data(cfg).split("test")
        what = cfg.data.name
    else:
        raw = load_like(cfg.data, a.data, a.data_dir)
        x, y = (raw.x_test, raw.y_test) if raw.x_test is not None else (raw.x_train, raw.y_train)
        if y is not None:
            y = class_indices(y, label_classes([(y, a.data)], allow_unlabelled=True), a.data, allow_unlabelled=True)
        what = a.data
    x, y = x[: a.n], (y[: a.n] if y is not None else None)
    panels = [(load(run).encode(x), f"{load_config(run).model_name} ({Path(run).name})") for run in a.runs]
    save_png(latent_maps(panels, y), Path(a.out))
    print(f"latent maps of {len(a.runs)} runs on {what} ({len(x)} examples) written to {a.out}")
    return 0


COMMANDS = {"evaluate": cmd_evaluate, "encode": cmd_encode, "reconstruct": cmd_reconstruct, "sample": cmd_sample,
            "interpolate": cmd_interpolate, "compare-latents": cmd_compare_latents}
