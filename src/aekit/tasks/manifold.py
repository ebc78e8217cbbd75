"""Manifold learning side by side (``aekit compare-manifold``): AE, VAE, PCA, Isomap, LLE and t-SNE
embed the same points of one data set in 2-D; one figure, one table.

    r = compare_manifold("swiss-roll", n=1500, seed=0)
    r.table           # one row per method: trustworthiness, the kNN score, fit time
    r.figure          # one panel per method, coloured by label / true coordinate
    r.to_dict()       # what --json writes

The points: a seeded subsample of ``n`` rows of the data set's training split (vectors or images;
images are flattened for scikit-learn). Every method sees the same points, and none sees a label.

The columns:

- ``trustworthiness``: scikit-learn's trustworthiness of the embedding against the input space
  (5 neighbours; on a seeded subsample of 2,000 points when n is larger): 1 when every embedding
  neighbourhood holds only input-space neighbours.
- labelled data (``mnist-sample``, a labelled file): ``knn_accuracy``, the 5-fold cross-validated
  accuracy of a 5-nearest-neighbour classifier on the 2-D points.
- data with true coordinates instead of labels (``swiss-roll``, ``s-curve``): ``knn_r2``, the 5-fold
  cross-validated R² of a 5-nearest-neighbour regression of both true coordinates (position along
  the manifold, height; each standardised, R² averaged) on the 2-D points. Both coordinates count:
  a projection that keeps only one (PCA of the swiss roll keeps the spiral, loses the height) scores
  about half.
- ``fit_time_s``: wall-clock seconds of the method's fit and transform in this run (the AE and VAE:
  ``aekit.fit``, i.e. configuration, training and encoding; imports are left out). A figure of this
  run on this machine, not a benchmark.

The AE and VAE (``aekit.fit``, :data:`NET`): MLP 256-128, 2-D code, Adam at 1e-3, batches of 128,
``epochs`` (default 100), seeded. Images: Bernoulli likelihood. Vectors: standardised inputs, a
Gaussian likelihood; the VAE's σ is 0.1 (in standard units; σ = 1 lets the KL term flatten a 2-D
code). Isomap and LLE use ``neighbors`` neighbours (default 10; LLE standard, seeded), t-SNE
perplexity 30 with PCA initialisation (seeded), PCA 2 components.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AekitError, closest

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

METHODS = ("ae", "vae", "pca", "isomap", "lle", "tsne")
NAMES = {"ae": "AE", "vae": "VAE", "pca": "PCA", "isomap": "Isomap", "lle": "LLE", "tsne": "t-SNE"}
DATA = ("swiss-roll", "s-curve", "mnist-sample")  # the lecture's three; any labelled vectors or images also work
TRAINED = ("ae", "vae")
NEIGHBOURED = ("isomap", "lle")
MIN_N, MAX_N = 100, 10000
DEFAULT_N, DEFAULT_EPOCHS, DEFAULT_NEIGHBORS = 1500, 100, 10
SCORE_K, FOLDS, TRUST_K = 5, 5, 5
NET = {"hidden": [256, 128], "latent_dim": 2, "batch_size": 128, "lr": 1e-3}
VAE_VECTOR_SIGMA = 0.1
COLUMNS = {
    "trustworthiness": f"trustworthiness of the 2-D embedding against the input space ({TRUST_K} neighbours)",
    "knn_accuracy": f"{FOLDS}-fold cross-validated accuracy of a {SCORE_K}-NN classifier of the labels on the 2-D points",
    "knn_r2": f"{FOLDS}-fold cross-validated R² of a {SCORE_K}-NN regression of both true manifold coordinates "
              "(standardised, averaged) on the 2-D points",
    "fit_time_s": "wall-clock seconds to fit and embed in this run (AE/VAE: training + encoding)",
}

__all__ = ["compare_manifold", "ManifoldComparison", "METHODS", "DATA", "check_methods", "load_points"]


@dataclass
class ManifoldComparison:
    """The embeddings of each method, their table rows, and the figure (drawn when first asked for)."""

    data: str
    n: int
    seed: int
    score: str  # "knn_accuracy" or "knn_r2"
    table: list[dict[str, Any]]
    embeddings: dict[str, np.ndarray] = field(repr=False)
    colour: np.ndarray | None = field(repr=False)  # what the panels are coloured by
    class_names: list[Any] | None
    colour_name: str
    settings: dict[str, Any]

    @property
    def columns(self) -> list[str]:
        return ["trustworthiness", self.score, "fit_time_s"]

    @cached_property
    def figure(self) -> "Figure":
        from ..plots.maps import panels_figure

        short = {"trustworthiness": "T", "knn_accuracy": "kNN acc", "knn_r2": "kNN R²"}
        panels = [(self.embeddings[r["method"]], f"{NAMES[r['method']]}: T {r['trustworthiness']:.3f}, "
                   f"{short[self.score]} {r[self.score]:.3f}, {r['fit_time_s']:.1f} s") for r in self.table]
        return panels_figure(panels, self.colour, class_names=self.class_names, label_name=self.colour_name,
                             continuous=self.class_names is None,
                             suptitle=f"{self.data}: {self.n:,} points embedded in 2-D (seed {self.seed})")

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "n": self.n, "seed": self.seed, "score": self.score,
                "columns": {c: COLUMNS[c] for c in self.columns}, "rows": self.table, "settings": self.settings}

    def format_table(self) -> str:
        """The table as fixed-width text (what the command prints)."""
        cols = ["method", *self.columns]
        cells = [[NAMES[r["method"]], *(f"{r[c]:.3f}" if c != "fit_time_s" else f"{r[c]:.2f}" for c in self.columns)]
                 for r in self.table]
        width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        line = lambda row: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, width)))  # noqa: E731
        return "\n".join([line(cols), *(line(r) for r in cells)])

    def to_markdown(self) -> str:
        head = f"{self.data}, {self.n:,} points, seed {self.seed}. {self.score}: {COLUMNS[self.score]}."
        rows = [f"| {NAMES[r['method']]} | " + " | ".join(f"{r[c]:.3f}" if c != "fit_time_s" else f"{r[c]:.2f}"
                                                        for c in self.columns) + " |" for r in self.table]
        return "\n".join([head, "", "| method | " + " | ".join(self.columns) + " |",
                          "|---" * (len(self.columns) + 1) + "|", *rows]) + "\n"


def check_methods(methods: str | Sequence[str]) -> list[str]:
    """Methods as a list (a comma-separated string or a sequence); unknown ones suggest the nearest."""
    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else [str(m).strip() for m in methods]
    names = [m for m in names if m]
    if not names:
        raise AekitError("no methods to compare", "give some of: " + ",".join(METHODS))
    for m in names:
        if m not in METHODS:
            near = closest(m.lower(), METHODS)
            raise AekitError(f"unknown method {m!r}", (f"did you mean {near!r}? " if near else "") + "valid: " + ",".join(METHODS))
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise AekitError(f"method {dup[0]!r} is given twice", "name each method once")
    return names


def _int(name: str, value: Any, lo: int, hi: int | None, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise AekitError(f"{name} must be an integer, got {value!r}", hint)
    if value < lo or (hi is not None and value > hi):
        raise AekitError(f"{name} must be in {lo}..{hi}, got {value}" if hi is not None else f"{name} must be >= {lo}, got {value}", hint)
    return int(value)


def load_points(data: str, n: int, seed: int, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, Any]:
    """(x, coloured-by values, class names or None) of ``n`` seeded rows of ``data``'s training split;
    the values are class indices (labelled data) or the true coordinates (N, 2) (swiss-roll, s-curve)."""
    from ..data import class_indices, label_classes, load_raw

    raw = load_raw(data, data_dir)
    if raw.kind not in ("vectors", "images"):
        raise AekitError(f"{data} holds {raw.kind}; compare-manifold embeds vectors or images",
                         "use --data " + ", ".join(DATA) + ", or a file of vectors or images with labels")
    coords = raw.extras.get("coords")
    if raw.y_train is None and coords is None:
        raise AekitError(f"{data} has no labels (and no true coordinates) to colour and score the embeddings by",
                         "use --data " + ", ".join(DATA) + ", or a labelled file (.npz with x and y, a CSV with --label-column"
                         " in aekit train, image folders with class sub-folders)")
    rows = len(raw.x_train)
    if n > rows:
        raise AekitError(f"-n {n} is more than the {rows:,} examples of {data}", f"give -n {MIN_N}..{min(rows, MAX_N)}")
    idx = np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))
    x = np.asarray(raw.x_train[idx], dtype=np.float32)
    if raw.y_train is not None:
        classes = label_classes([(raw.y_train, data)])
        y = class_indices(np.asarray(raw.y_train)[idx], classes, data)
        if len(np.unique(y)) < 2:
            raise AekitError(f"the {n} points of {data} hold one class only; kNN accuracy needs two or more", "give a larger -n")
        return x, y, classes
    return x, np.asarray(coords, dtype=np.float64)[idx], None


def knn_score(emb: np.ndarray, target: np.ndarray, classes: bool, seed: int) -> float:
    """Cross-validated kNN accuracy (classes) or R² (coordinates, standardised and averaged)."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    folds = KFold(FOLDS, shuffle=True, random_state=seed)
    if classes:
        return float(cross_val_score(KNeighborsClassifier(SCORE_K), emb, target, cv=folds).mean())
    t = target.reshape(len(target), -1)
    t = (t - t.mean(0)) / np.where(t.std(0) > 0, t.std(0), 1.0)
    return float(cross_val_score(KNeighborsRegressor(SCORE_K), emb, t, cv=folds, scoring="r2").mean())


def _train_options(method: str, images: bool, epochs: int, seed: int) -> dict[str, Any]:
    opts: dict[str, Any] = {**NET, "epochs": epochs, "seed": seed}
    if not images:
        opts.update(scale="standard", likelihood="gaussian")
        if method == "vae":
            opts["sigma"] = VAE_VECTOR_SIGMA
    return opts


def embedder(method: str, x: np.ndarray, *, seed: int, epochs: int, neighbors: int, images: bool) -> Callable[[], np.ndarray]:
    """A call that embeds ``x`` (N, ...) by ``method`` and returns float32 (N, 2); the modules are
    imported and the estimator built here, so that timing the call times the fit alone."""
    flat = x.reshape(len(x), -1)
    if method in TRAINED:
        from ..fitting import fit

        options = _train_options(method, images, epochs, seed)
        return lambda: np.asarray(fit(x, model=method, progress=False, **options).encode(x), dtype=np.float32)
    if method == "pca":
        from sklearn.decomposition import PCA

        est: Any = PCA(n_components=2, random_state=seed)
    elif method == "isomap":
        from sklearn.manifold import Isomap

        est = Isomap(n_neighbors=neighbors, n_components=2)
    elif method == "lle":
        from sklearn.manifold import LocallyLinearEmbedding

        est = LocallyLinearEmbedding(n_neighbors=neighbors, n_components=2, random_state=seed)
    else:
        from sklearn.manifold import TSNE

        est = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed)
    return lambda: np.asarray(est.fit_transform(flat), dtype=np.float32)


def compare_manifold(data: str = "swiss-roll", methods: str | Sequence[str] = METHODS, *, n: int = DEFAULT_N, seed: int = 0,
                     epochs: int | None = None, neighbors: int | None = None, data_dir: str | Path | None = None,
                     progress: bool = True) -> ManifoldComparison:
    """Embed ``n`` seeded points of ``data`` in 2-D with each of ``methods`` and score them (see the
    module's docstring for the columns). ``epochs`` applies to ae/vae, ``neighbors`` to isomap/lle;
    giving either without those methods is an error."""
    import logging

    from ..metrics.codes import trustworthiness
    from ..progress import bar, line

    names = check_methods(methods)
    seed = _int("--seed", seed, 0, 2**32 - 1, "give a seed >= 0")
    n = _int("-n", n, MIN_N, MAX_N, f"give -n {MIN_N}..{MAX_N} (Isomap, LLE and t-SNE need n×n matrices; "
                                    "kNN scores need a few points per fold)")
    if epochs is not None and not set(names) & set(TRAINED):
        raise AekitError(f"--epochs trains the AE and VAE, and neither is among the methods ({','.join(names)})",
                         "drop --epochs, or add ae and/or vae to --methods")
    if neighbors is not None and not set(names) & set(NEIGHBOURED):
        raise AekitError(f"--neighbors sets Isomap's and LLE's neighbourhoods, and neither is among the methods "
                         f"({','.join(names)})", "drop --neighbors, or add isomap and/or lle to --methods")
    epochs = _int("--epochs", DEFAULT_EPOCHS if epochs is None else epochs, 1, None, "e.g. --epochs 100")
    neighbors = _int("--neighbors", DEFAULT_NEIGHBORS if neighbors is None else neighbors, 2, n - 1, "e.g. --neighbors 10")
    x, target, classes = load_points(data, n, seed, data_dir)
    images = x.ndim == 4
    flat = x.reshape(len(x), -1)
    labelled = classes is not None
    score = "knn_accuracy" if labelled else "knn_r2"
    rows: list[dict[str, Any]] = []
    embeddings: dict[str, np.ndarray] = {}
    quiet = logging.getLogger("aekit")
    level = quiet.level
    b = bar(len(names), f"compare-manifold {data}", unit="method", enabled=progress)
    try:
        for m in names:
            b.set_description(f"{NAMES[m]} on {data}")
            quiet.setLevel(logging.WARNING)  # aekit.fit's notes on what it resolved, once per model, are noise here
            try:
                run = embedder(m, x, seed=seed, epochs=epochs, neighbors=neighbors, images=images)
                t0 = time.perf_counter()
                emb = run()
                took = time.perf_counter() - t0
            finally:
                quiet.setLevel(level)
            if not np.all(np.isfinite(emb)):
                raise AekitError(f"{NAMES[m]} gave non-finite coordinates on {data}", "try another --seed or fewer --epochs")
            embeddings[m] = emb
            row = {"method": m, "trustworthiness": trustworthiness(flat, emb, k=TRUST_K, seed=seed),
                   score: knn_score(emb, target, labelled, seed), "fit_time_s": round(took, 3)}
            rows.append(row)
            b.update(1)
            if progress:
                line(f"{NAMES[m]:7s} trustworthiness {row['trustworthiness']:.3f}  {score} {row[score]:.3f}  fit {took:.2f} s")
    finally:
        b.close()
    colour = target if labelled else target[:, 0]
    colour_name = "label" if labelled else ("position along the roll (true t)" if data == "swiss-roll" else
                                             "position along the curve (true t)" if data == "s-curve" else "true coordinate 1")
    settings = {"points": f"{n} seeded rows of the training split", "neighbors": neighbors,
                "trustworthiness_neighbors": TRUST_K, "knn": {"k": SCORE_K, "folds": FOLDS}}
    if set(names) & set(TRAINED):
        settings["autoencoders"] = {m: _train_options(m, images, epochs, seed) for m in names if m in TRAINED}
    if "tsne" in names:
        settings["tsne"] = {"perplexity": min(30.0, (n - 1) / 3), "init": "pca"}
    return ManifoldComparison(data, n, seed, score, rows, embeddings, colour, classes, colour_name, settings)
