"""aekit map (2-D map of a run's codes, PCA or t-SNE, coloured by label) and aekit compare-manifold (AE, VAE, PCA, Isomap, LLE, t-SNE side by side)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import AekitError
from .train import HelpFormatter
from ..plots.canvas import save_png
from .use import data_args, load_split, save_array


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("map", help="the 2-D map of a run's codes (the codes, their PCA or t-SNE), coloured by label",
                       formatter_class=HelpFormatter)
    data_args(p)
    p.add_argument("--method", default="codes", metavar="METHOD",
                   help="codes: the 2-D codes themselves; pca: PCA of the codes to 2-D; tsne: t-SNE of the codes "
                        "(seeded) [default: codes]")
    p.add_argument("-n", type=int, default=5000, help="examples to map, a seeded subsample when the split has more [default: 5000]")
    p.add_argument("--seed", type=int, default=0, help="seed of the subsample and of t-SNE [default: 0]")
    p.add_argument("--out", required=True, help="output .png; points coloured by the run's classes (a legend), else by the "
                                                "data's true coordinate (swiss-roll, s-curve: a colour scale)")
    p.add_argument("--points", default=None, help="also write the 2-D points: .npy (m, 2), or .csv with a header "
                                                  "row,x,y[,label] (row: the example's index in the split)")
    p = sub.add_parser("compare-manifold", help="AE, VAE, PCA, Isomap, LLE and t-SNE embed one data set in 2-D: one figure, "
                                                "one table (trustworthiness, kNN score, fit time)", formatter_class=HelpFormatter)
    p.add_argument("--data", default="swiss-roll",
                   help="swiss-roll, s-curve (scored against their true coordinates), mnist-sample (its labels), or any "
                        "named set or file of labelled vectors or images [default: swiss-roll]")
    p.add_argument("--data-dir", default=None, help="folder holding named data sets [default: $AEKIT_DATA_DIR]")
    p.add_argument("--methods", default="ae,vae,pca,isomap,lle,tsne",
                   help="comma-separated, any of ae, vae, pca, isomap, lle, tsne [default: all six]")
    p.add_argument("-n", type=int, default=1500, help="points, a seeded subsample of the training split (100..10000) [default: 1500]")
    p.add_argument("--epochs", type=int, default=None, help="training epochs of the AE and VAE (2-D code, MLP 256-128) [default: 100]")
    p.add_argument("--neighbors", type=int, default=None, help="neighbours of Isomap and LLE [default: 10]")
    p.add_argument("--seed", type=int, default=0, help="seed of the subsample, the AE/VAE, LLE and t-SNE [default: 0]")
    p.add_argument("--out", required=True, help="output .png: one panel per method")
    p.add_argument("--json", default=None, help="also write the table as JSON (rows, column meanings, settings)")
    p.add_argument("--markdown", default=None, help="also write the table as Markdown (.md)")


TITLES = {"codes": "codes", "pca": "PCA of the codes", "tsne": "t-SNE of the codes"}


def _suffix(option: str, path: str | None, allowed: tuple[str, ...]) -> None:
    if path is not None and Path(path).suffix.lower() not in allowed:
        raise AekitError(f"{option} {path}: unsupported extension {Path(path).suffix or '(none)'}",
                         f"give a {' or '.join(allowed)} file")


def _true_coordinate(a: argparse.Namespace, split: str, rows: int) -> np.ndarray | None:
    """The data's first true coordinate (position along the manifold) for the rows of ``split``,
    where the data have one (swiss-roll, s-curve), else None."""
    from ..data import load_like
    from ..run import run_data
    from ..runconfig import load_config

    cfg = load_config(a.run)
    if a.data_dir:
        cfg.data.data_dir = a.data_dir
    own = a.data is None or a.data == cfg.data.name
    if own and split in ("train", "val", "test"):
        c = (run_data(cfg).extras.get("coords") or {}).get(split)
    else:
        raw = load_like(cfg.data, cfg.data.name if own else a.data, a.data_dir)
        c = raw.extras.get("coords") if split == "train" or (split == "all" and raw.x_test is None) else None
    if c is None or len(c) != rows:
        return None
    return np.asarray(c, dtype=np.float64).reshape(rows, -1)[:, 0]


def _write_points(path: Path, points: np.ndarray, index: np.ndarray, labels: np.ndarray | None, column: str) -> None:
    if path.suffix.lower() != ".csv":
        save_array(path, points)
        return
    from ..io import atomic_write_text

    head = "row,x,y" + (f",{column}" if labels is not None else "")
    lines = [head]
    for i, (r, (px, py)) in enumerate(zip(index, points)):
        lab = "" if labels is None else "," + (f"{labels[i]:.7g}" if np.asarray(labels).dtype.kind == "f" else str(labels[i]))
        lines.append(f"{int(r)},{px:.7g},{py:.7g}{lab}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def cmd_map(a: argparse.Namespace) -> int:
    from ..runconfig import load_config
    from ..tasks.maps import MIN_POINTS, check_map_method, latent_map

    check_map_method(a.method)
    _suffix("--out", a.out, (".png",))
    _suffix("--points", a.points, (".npy", ".csv"))
    if a.n < MIN_POINTS:
        raise AekitError(f"-n must be >= {MIN_POINTS} (a map of fewer points shows nothing), got {a.n}", "e.g. -n 5000")
    if a.seed < 0:
        raise AekitError(f"--seed must be >= 0, got {a.seed}", "e.g. --seed 0")
    model, x, y, what, split = load_split(a)
    classes = load_config(a.run).data.classes if y is not None else None  # load_split maps labels to the run's classes
    colour, by, name = y, "label", "label"
    if y is None:
        colour = _true_coordinate(a, split, len(x))
        by, name = (("the true coordinate (position along the manifold)", "position along the manifold (true coordinate 1)")
                    if colour is not None else ("nothing (no labels)", None))
    if a.method == "tsne" and min(a.n, len(x)) > 10000:
        from ..progress import line

        line(f"t-SNE of {min(a.n, len(x)):,} codes: expect minutes on a CPU (-n 5000 is quicker)")
    m = latent_map(model, x, colour, a.method, n=a.n, seed=a.seed, classes=classes, label_name=name,
                   continuous=None if y is not None or colour is None else True,
                   title=f"{TITLES[a.method]} of {what}")
    save_png(m.figure, Path(a.out))
    sub = f"{len(m.points):,} examples" + (f" (a seeded subsample of {len(x):,})" if len(m.points) < len(x) else "")
    print(f"{a.method} map of the {m.code_dim}-D codes of {sub} of {what}, coloured by {by}, written to {a.out}")
    if a.points:
        _write_points(Path(a.points), m.points, m.index, m.labels, "label" if y is not None else "true_coordinate_1")
        print(f"{len(m.points):,} points written to {a.points}")
    return 0


def cmd_compare_manifold(a: argparse.Namespace) -> int:
    from ..io import atomic_write_json, atomic_write_text
    from ..tasks.manifold import check_methods, compare_manifold

    check_methods(a.methods)
    _suffix("--out", a.out, (".png",))
    _suffix("--json", a.json, (".json",))
    _suffix("--markdown", a.markdown, (".md",))
    r = compare_manifold(a.data, a.methods, n=a.n, seed=a.seed, epochs=a.epochs, neighbors=a.neighbors, data_dir=a.data_dir)
    print(f"{r.data}: {r.n:,} points in 2-D, seed {r.seed}")
    print(r.format_table())
    print(f"{r.score}: {r.to_dict()['columns'][r.score]}")
    save_png(r.figure, Path(a.out))
    print(f"figure written to {a.out}")
    if a.json:
        atomic_write_json(Path(a.json), r.to_dict())
        print(f"table written to {a.json}")
    if a.markdown:
        atomic_write_text(Path(a.markdown), r.to_markdown())
        print(f"table written to {a.markdown}")
    return 0


COMMANDS = {"map": cmd_map, "compare-manifold": cmd_compare_manifold}
