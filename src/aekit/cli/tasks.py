"""The lecture's uses of a trained autoencoder as commands: ``aekit finetune`` (pretraining →
fine-tuning with few labels, against the same network from scratch), ``aekit classify`` (the
classes a run predicts) and ``aekit denoise`` (corrupted vs restored inputs)."""
from __future__ import annotations

import argparse
import json

from pathlib import Path

from .train import HelpFormatter
from .use import data_args, load_split, save_array


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("finetune", help="the run's encoder + a softmax head, fine-tuned on N labels; against the same "
                                        "network from scratch", formatter_class=HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train` (on labelled data)")
    p.add_argument("--labels", default="100", help="labelled training examples, balanced over the classes (seeded), "
                                                   "or 'all' [default: 100]")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs [default: 30]")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate [default: 0.001]")
    p.add_argument("--batch-size", type=int, default=64, help="batch size [default: 64]")
    p.add_argument("--seed", type=int, default=0, help="seed of the label choice and the training [default: 0]")
    p.add_argument("--freeze", action="store_true", help="train the head alone (a linear probe of the codes)")
    p.add_argument("--no-scratch", action="store_true", help="skip the from-scratch baseline")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = sub.add_parser("classify", help="classes predicted by a run (cvae, m1m2, aae-semi, or a fine-tuned encoder): "
                                        "accuracy and confusion matrix with labels", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--finetuned", default=None, metavar="N",
                   help="use the classifier `aekit finetune RUN --labels N` fine-tuned (N or 'all') [default: the run's own model]")
    p.add_argument("--out", default=None, help="write the predicted classes (as the data names them): .csv or .npy")
    p.add_argument("--png", default=None, help="write the confusion matrix as a PNG (labelled data)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p = sub.add_parser("denoise", help="corrupt inputs, restore them with the run: PSNR before and after, the restored "
                                       "data and the lecture's grid", formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--corrupt", action="append", default=None, metavar="KIND:LEVEL",
                   help="corruption, repeatable: masking:0.5, salt-pepper:0.5, gaussian:0.3 [default: masking:0.5]")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise [default: 0]")
    p.add_argument("--out", default=None, help="write the restored data: .npy or .csv (several corruptions: one file "
                                               "each, the corruption added to the name)")
    p.add_argument("--png", default=None, help="write the grid: inputs, corrupted, restored (images)")
    p.add_argument("-n", type=int, default=10, help="examples in the grid [default: 10]")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def _slug(what: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in what.replace(" ", ""))


def cmd_classify(a: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import AekitError
    from ..io import atomic_write_json
    from ..tasks.classify import classifier, classify

    if a.out and Path(a.out).suffix.lower() not in (".csv", ".npy"):
        raise AekitError(f"cannot write {Path(a.out).name}: predictions go to .csv or .npy", "e.g. --out predictions.csv")
    classifier(a.run, a.finetuned)  # refuse before reading any data
    _, x, y, what, _ = load_split(a)
    out = classify(a.run, x, y, finetuned=a.finetuned)
    fig = out.figures
    fig["data"] = what
    if a.png and "confusion" not in fig:
        raise AekitError(f"--png draws the confusion matrix, which needs labels; {what} has none",
                         "classify labelled data, or drop --png")
    name = f"classify-{'' if a.finetuned is None else f'finetune{a.finetuned}-'}{_slug(what)}.json"
    atomic_write_json(Path(a.run) / name, fig)
    if a.out:
        labels = out.labels()
        if Path(a.out).suffix.lower() == ".csv":
            from ..io import atomic_write_text

            atomic_write_text(Path(a.out), "predicted\n" + "".join(f"{v}\n" for v in labels))
        else:
            save_array(Path(a.out), np.asarray(labels.astype(str)))
    if a.png:
        from ..plots.canvas import save_png
        from ..plots.charts import confusion_matrix

        save_png(confusion_matrix(fig["confusion"], out.classes, f"{fig['classifier']} on {what}: "
                                    f"accuracy {fig['accuracy']:.4f}"), Path(a.png))
    if a.json:
        print(json.dumps(fig, indent=2))
    else:
        print(f"{fig['classifier']} on {what}: {fig['n']} examples"
              + (f", accuracy {fig['accuracy']:.4f} ({fig['error_percent']:.2f}% error) on {fig['labelled']} labelled"
                 if "accuracy" in fig else " (no labels: no accuracy)"))
        for path, thing in ((a.out, "predictions"), (a.png, "confusion matrix")):
            if path:
                print(f"{thing} written to {path}")
        print(f"written: {Path(a.run) / name}")
    return 0


def cmd_denoise(a: argparse.Namespace) -> int:
    from ..errors import AekitError
    from ..evaluate import parse_corruption
    from ..io import atomic_write_json
    from ..plots.canvas import save_png
    from ..tasks.denoise import denoise, denoising_grid

    specs = a.corrupt or ["masking:0.5"]
    for c in specs:
        parse_corruption(c)
    if a.n < 1:
        raise AekitError(f"-n must be >= 1, got {a.n}")
    if a.out and Path(a.out).suffix.lower() not in (".csv", ".npy"):
        raise AekitError(f"cannot write {Path(a.out).name}: restored data go to .npy or .csv", "e.g. --out restored.npy")
    model, x, _, what, _ = load_split(a)
    if a.png and len(model.input_shape) != 3:
        raise AekitError("--png draws images; this run's data are not images (N, C, H, W)", "drop --png; --out writes the restored data")
    results = denoise(model, x, specs, seed=a.seed)
    figures = {"data": what, "n": int(len(x)), "seed": a.seed, "corruptions": [r.figures() for r in results]}
    name = f"denoise-{_slug(what)}.json"
    atomic_write_json(Path(a.run) / name, figures)
    written = []
    if a.out:
        out = Path(a.out)
        for r in results:
            path = out if len(results) == 1 else out.with_name(f"{out.stem}_{_slug(r.corruption.replace(':', '-'))}{out.suffix}")
            save_array(path, r.restored)
            written.append(f"restored ({r.corruption}) written to {path}")
    if a.png:
        save_png(denoising_grid(model, x, results, n=a.n), Path(a.png))
        written.append(f"grid (input / corrupted / restored) written to {a.png}")
    if a.json:
        print(json.dumps(figures, indent=2))
    else:
        for r in results:
            f = r.figures()
            print(f"{what}, {r.corruption}: PSNR corrupted {f['psnr_corrupted_db']:.2f} dB, restored {f['psnr_restored_db']:.2f} dB "
                  f"({f['psnr_gain_db']:+.2f} dB)")
        print("\n".join(written + [f"written: {Path(a.run) / name}"]))
    return 0


def cmd_finetune(a: argparse.Namespace) -> int:
    from ..errors import AekitError
    from ..tasks.finetune import finetune

    if a.labels == "all":
        labels = None
    else:
        try:
            labels = int(a.labels)
        except ValueError:
            raise AekitError(f"--labels {a.labels!r} is not a number", "give a count, e.g. --labels 100, or --labels all") from None
    if a.epochs < 1:
        raise AekitError(f"--epochs must be >= 1, got {a.epochs}")
    out = finetune(a.run, labels, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, seed=a.seed, freeze=a.freeze,
                   scratch=not a.no_scratch, progress=not a.json)
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['labels']} labels, {out['epochs']} epochs{' (encoder frozen)' if a.freeze else ''}: test accuracy "
              f"pretrained {out['pretrained_test_accuracy']:.4f}"
              + (f", from scratch {out['scratch_test_accuracy']:.4f}" if "scratch_test_accuracy" in out else ""))
    return 0


COMMANDS = {"finetune": cmd_finetune, "classify": cmd_classify, "denoise": cmd_denoise}
