"""aekit retrieve (nearest neighbours in code space, precision@k; semantic hashing with Hamming search)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("retrieve", help="nearest neighbours of queries among the run's training examples in code space; "
                                        "precision@k by label (cosine, euclidean, or hamming on binary codes)",
                       formatter_class=HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("--query", default="all", metavar="INDICES",
                   help="queries: rows of the query split, comma-separated, ranges a-b included (e.g. 0,5,10-19), or all "
                        "[default: all]")
    p.add_argument("--data", default=None, help="queries from this data set name or path [default: the run's own data set]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets [default: the run's, else $AEKIT_DATA_DIR]")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"],
                   help="the queries' split. auto: the run's test split for its own data, every row for a path; train: the "
                        "database itself, each query's own row left out of its neighbours; all: every row of a --data "
                        "file [default: auto]")
    p.add_argument("--k", type=int, default=10, help="neighbours per query [default: 10]")
    p.add_argument("--metric", default="cosine", metavar="NAME",
                   help="cosine | euclidean (real codes) | hamming (binary codes: semantic hashing) [default: cosine]")
    p.add_argument("--threshold", default=None, metavar="RULE",
                   help="--metric hamming only: sigmoid (bit = sigmoid code > 0.5; needs model.code_activation=sigmoid) | "
                        "median (bit = code > its median over the training codes; any model) [default: sigmoid]")
    p.add_argument("--out", default=None, help="write the neighbours: (queries, k) rows of the run's training split, .npy or .csv")
    p.add_argument("--png", default=None, help="write a PNG grid: each query, then its neighbours (images only; grayscale "
                                               "neighbours of another class in red)")
    p.add_argument("-n", type=int, default=None, help="queries in the PNG grid, with --png [default: 8]")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def parse_indices(text: str, n: int, what: str) -> np.ndarray | None:
    """Rows named by ``--query`` (None: all), checked against the ``n`` rows of ``what``."""
    if text.strip() == "all":
        return None
    rows: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            a, dash, b = part.partition("-") if not part.startswith("-") else (part, "", "")
            if dash:
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                rows += range(lo, hi + 1)
            else:
                rows.append(int(part))
    except ValueError:
        raise AekitError(f"--query {text!r} is not a list of row indices", "e.g. --query 0,5,10-19, or --query all") from None
    bad = [i for i in rows if not 0 <= i < n]
    if bad:
        raise AekitError(f"--query {bad[0]} is outside {what}, which has {n} examples", f"give rows in 0..{n - 1}, or all")
    return np.asarray(rows, dtype=np.int64)


def _check_options(a: argparse.Namespace) -> None:
    from ..tasks.retrieval import METRICS

    if a.metric not in METRICS:
        from ..errors import unknown_choice

        raise unknown_choice("metric", a.metric, METRICS)
    if a.k < 1:
        raise AekitError(f"--k must be >= 1, got {a.k}", "e.g. --k 10")
    if a.threshold is not None:
        if a.metric != "hamming":
            raise AekitError(f"--threshold makes binary codes: it applies to --metric hamming, not {a.metric}",
                             "drop --threshold, or add --metric hamming")
        if a.threshold not in ("sigmoid", "median"):
            raise AekitError(f"unknown --threshold {a.threshold!r}", "use --threshold sigmoid or --threshold median")
    if a.n is not None and not a.png:
        raise AekitError("-n sets the queries in the PNG grid: it needs --png", "add --png grid.png, or drop -n")
    if a.n is not None and a.n < 1:
        raise AekitError(f"-n must be >= 1, got {a.n}", "e.g. -n 8")
    if a.out and Path(a.out).suffix.lower() not in (".npy", ".csv"):
        raise AekitError(f"cannot write {Path(a.out).name}: unsupported extension {Path(a.out).suffix or '(none)'}", "use .npy or .csv")


def cmd_retrieve(a: argparse.Namespace) -> int:
    from ..io import atomic_write_json
    from ..runconfig import load_config
    from ..tasks.retrieval import check_sigmoid_codes, retrieve, run_split, save_neighbour_grid
    from .use import load_split, save_array

    _check_options(a)
    cfg = load_config(a.run)
    own = a.data is None or a.data == cfg.data.name
    if own and a.split == "all":
        raise AekitError("--split all of the run's own data would put the training rows (the database) among the queries",
                         "use --split test (the default), val, or train (each query's own row is then left out)")
    model, x, y, what, split = load_split(a)
    if a.png and len(model.input_shape) != 3:
        raise AekitError("--png needs image data (N, C, H, W)", "use --out to save the neighbours of vectors or sequences")
    if a.metric == "hamming" and (a.threshold or "sigmoid") == "sigmoid":
        check_sigmoid_codes(model)  # before the database is read and encoded
    rows = parse_indices(a.query, len(x), what)
    xq, yq = (x, y) if rows is None else (x[rows], None if y is None else y[rows])
    x_db, y_db = run_split(a.run, "train", a.data_dir)
    exclude = None
    if own and split == "train":  # the queries are database rows: leave each one out of its own neighbours
        exclude = np.arange(len(x)) if rows is None else rows
    res = retrieve(model, xq, x_db, a.k, a.metric, query_labels=yq, database_labels=y_db, threshold=a.threshold,
                   exclude=exclude, progress=not a.json)
    figures: dict[str, Any] = {"run": str(a.run), "queries": what, "query_rows": "all" if rows is None else rows.tolist(),
                               "database": f"{cfg.data.name} (train)", **res.figures()}
    if res.per_class and cfg.data.classes:  # class indices → the labels as written in the data
        figures["per_class"] = {str(cfg.data.classes[int(c)]): p for c, p in figures["per_class"].items()}
    if res.precision is None:
        figures["note"] = f"precision@{a.k} not computed: " + ("the queries have no labels" if yq is None or not (yq >= 0).any()
                                                          else "the run's training split has no labels")
    if a.out:
        save_array(Path(a.out), res.indices)
        figures["neighbours_file"] = str(a.out)
    if a.png:
        m = min(a.n or 8, len(xq))
        near = res.indices[:m]
        save_neighbour_grid(a.png, np.asarray(model.as_input(xq[:m])[0]), np.asarray(model.as_input(x_db[near.ravel()])[0]),
                            np.arange(near.size).reshape(near.shape), None if yq is None else yq[:m],
                            None if y_db is None else y_db[near.ravel()])
        figures["png"] = str(a.png)
    source = Path(str(cfg.data.name if own else a.data)).name
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{source}-{split}")
    path = Path(a.run) / f"retrieve-{a.metric}{'-' + res.threshold if res.threshold else ''}-k{a.k}-{name}.json"
    atomic_write_json(path, figures)
    if a.json:
        print(json.dumps(figures, indent=2))
        return 0
    how = f"{a.metric} on {res.code_dim}-bit binary codes ({res.threshold})" if a.metric == "hamming" else \
        f"{a.metric} on {res.code_dim}-d codes"
    print(f"{len(xq)} queries from {what} against {res.n_database} examples of the run's training split, {how}")
    if res.precision is None:
        print(figures["note"])
    else:
        print(f"precision@{a.k}: {res.precision:.4f} (chance {res.chance:.4f})")
        if res.real_codes:
            print("  real-valued codes beside: " + ", ".join(f"{m} {p:.4f}" for m, p in res.real_codes.items()))
    if a.out:
        print(f"neighbours ({len(xq)} × {a.k} rows of the training split) written to {a.out}")
    if a.png:
        print(f"grid of {min(a.n or 8, len(xq))} queries and their {a.k} neighbours written to {a.png}")
    print(f"written: {path}")
    return 0


COMMANDS = {"retrieve": cmd_retrieve}
