"""aekit anomalies (anomaly scores of a run on data, thresholds, ROC-AUC / AP)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .train import HelpFormatter
from .use import data_args, load_split, save_array


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser(
        "anomalies", help="anomaly scores of a run on data: threshold, flags, ROC-AUC / AP with labels", formatter_class=HelpFormatter,
        description="Score every example by the model's −log p(x) figure in nats or its squared reconstruction error "
                    "(higher = more anomalous), flag those "
                    "above a threshold and, where the data has labels and the normal ones are known (the run's "
                    "data.keep_classes, or --normal), report ROC-AUC, average precision and precision / recall / F1 "
                    "(anomalies the positive class). The figures are printed and written to the run folder "
                    "(anomalies-<data>.json).",
        epilog="one-class MNIST: aekit train --data mnist --set data.keep_classes=[1] --out runs/ones && aekit anomalies runs/ones")
    data_args(p)
    p.add_argument("--score", default="auto", choices=["auto", "nll", "elbo", "iwae", "mse"],
                   help="nll: the reconstruction's −log p(x|z=code(x)); elbo: −ELBO (vae, beta-vae, cvae, m1m2); iwae: "
                        "importance-sampled −log p(x) with --k samples (vae, beta-vae, cvae); mse: the reconstruction's "
                        "squared error per value (data units; ranks grey-level images better than a Bernoulli nll); "
                        "auto: elbo where the model has one, else nll [default: auto]")
    p.add_argument("--k", type=int, default=None, help="importance samples per example of --score iwae [default: 100]")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--contamination", type=float, default=None,
                   help="flag this share of the scored examples, in (0, 0.5] [default: --quantile 0.95, or 0.1 for a run "
                        "without a validation split]")
    g.add_argument("--quantile", type=float, default=None,
                   help="flag what scores above this quantile of the run's validation scores, in (0, 1) [default: 0.95]")
    p.add_argument("--normal", default=None, metavar="LABELS",
                   help="comma-separated labels (as in the data) that are normal; every other label is an anomaly "
                        "[default: the run's data.keep_classes]")
    p.add_argument("--out", default=None, help="per-example scores: .csv (index, score, flagged, and label, anomalous with "
                                               "labels) or .npy (columns score, flagged[, anomalous])")
    p.add_argument("--png", default=None, help="histogram of the scores (normal vs anomalous with labels) and the threshold")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def _csv(path: Path, res: dict[str, Any]) -> None:
    from ..io import atomic_write_text

    s, f, labels, anom = res["scores"], res["flags"], res["labels"], res["anomalous"]
    head = ["index", "score", "flagged"] + (["label"] if labels is not None else []) + (["anomalous"] if anom is not None else [])
    rows = [",".join(head)]
    for i in range(len(s)):
        row = [str(i), f"{s[i]:.7g}", str(int(f[i]))]
        if labels is not None:
            text = str(labels[i])
            row.append('"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text)
        if anom is not None:
            row.append(str(int(anom[i])))
        rows.append(",".join(row))
    atomic_write_text(path, "\n".join(rows) + "\n")


def _save_scores(path: Path, res: dict[str, Any]) -> None:
    if path.suffix.lower() == ".csv":
        _csv(path, res)
        return
    cols = [res["scores"], res["flags"].astype(np.float64)] + ([res["anomalous"].astype(np.float64)] if res["anomalous"] is not None else [])
    save_array(path, np.stack(cols, axis=1))  # .npy; any other suffix is refused there


def _histogram(path: Path, res: dict[str, Any], what: str) -> None:
    from ..plots.anomaly import score_histogram
    from ..plots.canvas import save_png

    fig = score_histogram(res["scores"], res["anomalous"], res["threshold"], title=f"{res['model']} on {what}: {res['score']} scores",
                          xlabel=f"score: {SCORE_NAMES[res['score']]}")
    save_png(fig, path)


SCORE_NAMES = {"nll": "reconstruction −log p(x|z) (nats)", "elbo": "−ELBO (nats)", "iwae": "−log p(x), importance-sampled (nats)",
               "mse": "reconstruction squared error per value"}


def _checks(a: argparse.Namespace) -> None:
    """Option errors before anything is loaded or scored."""
    for flag in ("out", "png"):
        v = getattr(a, flag)
        if v is not None and Path(v).suffix.lower() not in ((".csv", ".npy") if flag == "out" else (".png",)):
            raise AekitError(f"--{flag} {v}: unsupported extension {Path(v).suffix or '(none)'}",
                             "use .csv or .npy" if flag == "out" else "give a .png file name")
    if a.k is not None and a.score != "iwae":
        raise AekitError(f"--k applies to --score iwae only, not --score {a.score}", "drop --k, or add --score iwae")
    if a.contamination is not None and not 0 < a.contamination <= 0.5:
        raise AekitError(f"--contamination must be in (0, 0.5], got {a.contamination}", "the share of examples to flag, e.g. 0.1")
    if a.quantile is not None and not 0 < a.quantile < 1:
        raise AekitError(f"--quantile must be in (0, 1), got {a.quantile}", "e.g. 0.99")


def cmd_anomalies(a: argparse.Namespace) -> int:
    from ..io import atomic_write_json
    from ..runconfig import load_config
    from ..tasks.outliers import detect_anomalies, figures

    _checks(a)
    _, x, yi, what, split = load_split(a)
    classes = load_config(a.run).data.classes
    y = None
    notes = []
    if yi is not None:
        if (yi < 0).any():  # unlabelled rows of a semi-supervised run's training split
            notes.append(f"{int((yi < 0).sum())} examples of {what} are unlabelled: labels not used")
        else:
            y = np.asarray(classes)[yi] if classes else yi
    normal = [v.strip() for v in a.normal.split(",") if v.strip()] if a.normal else None
    if normal is not None and y is None:
        raise AekitError(f"--normal {a.normal}: {what} has no labels" + (" for every example" if notes else ""),
                         "score labelled data (--data with labels), or drop --normal")
    res = detect_anomalies(a.run, x, y, score=a.score, k=a.k, contamination=a.contamination, quantile=a.quantile,
                           normal=normal)
    res["notes"] = notes + res["notes"]
    fig = {"data": what, "split": split, **figures(res)}
    name = "anomalies-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in what.replace(" ", "")) + ".json"
    atomic_write_json(Path(a.run) / name, fig)
    written = [Path(a.run) / name]
    if a.out:
        _save_scores(Path(a.out), res)
        written.append(Path(a.out))
    if a.png:
        _histogram(Path(a.png), res, what)
        written.append(Path(a.png))
    if a.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"{fig['n']} examples of {what} scored by {SCORE_NAMES[fig['score']]}" + (f", k={fig['k']}" if fig["k"] else ""))
    rule = (f"contamination {fig['contamination']:g}" if fig["rule"] == "contamination"
            else f"quantile {fig['quantile']:g} of {fig['reference']} scores ({fig['n_reference']} examples)")
    print(f"threshold: {fig['threshold']:.5g} ({rule}); flagged: {fig['n_flagged']} ({fig['flagged_share']:.1%})")
    if "normal" in fig:
        print(f"normal labels: {', '.join(map(str, fig['normal']))} ({fig['n_normal']} normal, {fig['n_anomalous']} anomalous)")
    for key in ("roc_auc", "average_precision", "precision", "recall", "f1"):
        if key in fig:
            print(f"{key}: {fig[key]:.4f}")
    for note in fig["notes"]:
        print(f"note: {note}")
    for path in written:
        print(f"written: {path}")
    return 0


COMMANDS = {"anomalies": cmd_anomalies}
