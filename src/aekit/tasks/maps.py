"""The 2-D map of a model's codes, coloured by label (``aekit map``).

    m = latent_map(model, x, y, method="tsne", n=5000, seed=0)
    m.points          # (m, 2): the map's coordinates of the rows x[m.index]
    m.figure          # a matplotlib Figure (no pyplot)
    points, fig = latent_map(model, x, y, method="pca")   # it unpacks as (points, figure)

Methods (:data:`MAP_METHODS`):

- ``codes``: the codes themselves; only for 2-D codes (any other size is an error naming pca/tsne).
- ``pca``: scikit-learn's PCA of the codes to 2 components (the axes say how much variance each keeps).
- ``tsne``: scikit-learn's t-SNE of the codes (PCA initialisation, perplexity 30, or (m − 1)/3 when
  fewer points make 30 impossible), seeded.

At most ``n`` rows are mapped: a seeded subsample (sorted, so rows keep their order) when ``x`` has
more; the rows are ``index``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AekitError, unknown_choice

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

MAP_METHODS = ("codes", "pca", "tsne")
MIN_POINTS = 10
PERPLEXITY = 30.0

__all__ = ["latent_map", "LatentMap", "MAP_METHODS", "check_map_method", "subsample", "reduce_codes"]


@dataclass
class LatentMap:
    """A 2-D map of codes: ``points`` (m, 2) of the rows ``index`` of the data, their ``labels`` (or
    None), the ``method``, the axes' names, PCA's explained variance ratios (``pca``) and the figure."""

    points: np.ndarray
    index: np.ndarray
    labels: np.ndarray | None
    method: str
    code_dim: int
    axis_names: tuple[str, str]
    figure: "Figure" = field(repr=False)
    explained_variance_ratio: np.ndarray | None = None

    def __iter__(self) -> Any:
        """``points, figure = latent_map(...)``: the two things most callers want."""
        return iter((self.points, self.figure))


def check_map_method(method: str) -> str:
    """``method`` if it is one of :data:`MAP_METHODS`, else an error suggesting the nearest."""
    if method not in MAP_METHODS:
        raise unknown_choice("map method", method, MAP_METHODS)
    return method


def subsample(n_rows: int, n: int, seed: int) -> np.ndarray:
    """Sorted row indices: every row when ``n_rows <= n``, else a seeded choice of ``n``."""
    if n_rows <= n:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, n, replace=False))


def reduce_codes(codes: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, tuple[str, str], np.ndarray | None]:
    """Codes (m, D) → (points (m, 2), axis names, PCA's explained variance ratios or None)."""
    z = np.asarray(codes, dtype=np.float64)
    z = z.reshape(len(z), -1)
    d = z.shape[1]
    check_map_method(method)
    if method == "codes":
        if d != 2:
            raise AekitError(f"--method codes draws the codes themselves, which needs 2-D codes; this model's codes are "
                             f"{d}-dimensional", "use --method pca (a linear projection to 2-D) or --method tsne "
                                                 "(a neighbourhood-preserving map), or train with --latent-dim 2")
        return z.astype(np.float32), ("z1", "z2"), None
    if method == "pca":
        from sklearn.decomposition import PCA

        if d < 2:
            raise AekitError(f"PCA to 2 components needs codes of at least 2 dimensions; these are {d}-dimensional",
                             "use --method tsne")
        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(z)
        r = pca.explained_variance_ratio_
        return xy.astype(np.float32), (f"PC1 ({r[0] * 100:.0f}% var)", f"PC2 ({r[1] * 100:.0f}% var)"), r
    from sklearn.manifold import TSNE

    perplexity = min(PERPLEXITY, (len(z) - 1) / 3)
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z)
    return xy.astype(np.float32), ("t-SNE 1", "t-SNE 2"), None


def latent_map(model: Any, x: Any, y: Any = None, method: str = "codes", *, n: int = 5000, seed: int = 0,
               classes: Sequence[Any] | None = None, continuous: bool | None = None, label_name: str | None = None,
               title: str | None = None) -> LatentMap:
    """The 2-D map of ``model``'s codes of (at most ``n`` rows of) ``x``, coloured by ``y``.

    ``y``: class indices (named by ``classes``, −1 unlabelled) or continuous values such as a true
    manifold coordinate (``continuous``: default for non-integer floats), or None (one colour).
    """
    from ..plots.maps import map_figure

    check_map_method(method)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_POINTS:
        raise AekitError(f"-n must be an integer >= {MIN_POINTS} (a map of fewer points shows nothing), got {n!r}",
                         "e.g. -n 5000")
    rows = len(x)
    if rows < MIN_POINTS:
        raise AekitError(f"the data have {rows} examples; a map needs at least {MIN_POINTS}", "give more data")
    lab = None if y is None else np.asarray(y).reshape(-1)
    if lab is not None and len(lab) != rows:
        raise AekitError(f"{len(lab)} labels for {rows} examples", "give one label per example")
    index = subsample(rows, int(n), seed)
    xs = x[index] if isinstance(x, np.ndarray) else np.asarray(x)[index]
    codes = np.asarray(model.encode(xs))
    points, axes, ratio = reduce_codes(codes, method, seed)
    lab = lab[index] if lab is not None else None
    d = codes.reshape(len(codes), -1).shape[1]
    what = {"codes": "codes", "pca": f"PCA of the {d}-D codes", "tsne": f"t-SNE of the {d}-D codes"}[method]
    fig = map_figure(points, lab, f"{title or what}: {len(points):,} examples", class_names=classes, continuous=continuous,
                     label_name=label_name, xlabel=axes[0], ylabel=axes[1])
    return LatentMap(points, index, lab, method, d, axes, fig, ratio)
