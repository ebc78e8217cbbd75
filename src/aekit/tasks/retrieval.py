"""Retrieval in code space: nearest neighbours and semantic hashing (``aekit retrieve``).

- :func:`search`: the exact k nearest database rows of each query by ``cosine`` (1 − cos),
  ``euclidean`` or ``hamming`` distance, nearest first; equal distances are ordered by database row
  (lower first), so results are deterministic. The work goes in chunks of queries, so that at most
  ``CHUNK`` distances exist at once (10,000 × 60,000 never materialises). A row of zeros has cosine
  distance 1 to everything.
- :func:`binary_codes`: semantic hashing (Salakhutdinov & Hinton): bits = sigmoid code > 0.5. A
  model whose codes are not sigmoid is refused (an AekitError naming
  ``--set model.code_activation=sigmoid``), unless thresholds are given explicitly: e.g.
  :func:`median_thresholds` of the database codes (``threshold="median"`` in :func:`retrieve`),
  which makes every bit split the database in half. Nothing else is ever done silently.
- :func:`pack_bits` / :func:`hamming_search`: bits packed 8 to a byte and compared 64 at a time
  (XOR + ``np.bitwise_count``).
- :func:`precision_at_k`: the share of the first k neighbours with the query's label, averaged over
  the labelled queries (label −1 = unlabelled: such queries are left out, such neighbours never count).
- :func:`retrieve`: the whole task for a run or a model; with ``metric="hamming"`` and labels it
  also gives the real-valued codes' precision@k beside the binary codes'.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError, unknown_choice

METRICS = ("cosine", "euclidean", "hamming")
REAL_METRICS = ("cosine", "euclidean")
CHUNK = 1 << 22  # distances held at once (32 MB as float64)


# ---- search --------------------------------------------------------------------------------------

def _check_k(k: int, n: int, exclude: bool = False) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise AekitError(f"k must be an integer >= 1, got {k!r}", "e.g. --k 10")
    room = n - 1 if exclude else n
    if k > room:
        what = f"{n} examples, one of them each query itself" if exclude else f"{n} examples"
        raise AekitError(f"k={k} neighbours asked for, but the database has {what}", f"give k (--k) of at most {max(1, room)}")
    return int(k)


def _matrix(a: Any, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim < 2 or len(a) == 0:
        raise AekitError(f"{name} must be a non-empty array of rows (N, D), got shape {a.shape}", f"give {name} as (N, D) codes")
    return a.reshape(len(a), -1)


def _smallest(score: Any, k: int, largest: bool = False) -> np.ndarray:
    """Columns of the k smallest (``largest``: greatest) values of each row of ``score`` (B, N), best
    first; ties by lower column. Integer scores must be small enough that value·N + column fits int64."""
    import torch

    t = torch.as_tensor(score)
    n = t.shape[1]
    if not t.is_floating_point():  # value·N + column is unique: no ties at all
        key = t.to(torch.int64).mul_(n).add_(torch.arange(n))
        return torch.topk(key, k, dim=1, largest=largest, sorted=True).indices.numpy()
    vals, part = torch.topk(t, min(k + 1, n), dim=1, largest=largest, sorted=True)
    vals, part = vals.numpy(), part.numpy()
    # where the (k+1)-th value ties the k-th, topk chose among equals: choose by column instead
    for r in np.flatnonzero(vals[:, k] == vals[:, k - 1]) if k < n else ():
        row, kth = score[r], vals[r, k - 1]
        cand = np.flatnonzero(row >= kth if largest else row <= kth)
        part[r, :k] = cand[np.lexsort((cand, -row[cand] if largest else row[cand]))[:k]]
        vals[r, :k] = row[part[r, :k]]
    vals, part = vals[:, :k], part[:, :k]
    return np.take_along_axis(part, np.lexsort((part, -vals if largest else vals), axis=1), 1)


def _chunks(nq: int, n: int, progress: bool, desc: str):
    """Slices of the queries: at most CHUNK distances (queries × database rows) at once."""
    from ..progress import iterate

    step = max(1, CHUNK // n)
    starts = range(0, nq, step)
    return (slice(s, s + step) for s in iterate(starts, len(starts), desc, "chunk", progress))


def _drop_excluded(idx: np.ndarray, dist: np.ndarray, exclude: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first k neighbours of each row that are not that row's excluded database row."""
    if exclude is None:
        return idx[:, :k], dist[:, :k]
    order = np.argsort(idx == exclude[:, None], axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)


def _exclusions(exclude: Any, nq: int, n: int) -> np.ndarray | None:
    if exclude is None:
        return None
    e = np.asarray(exclude, dtype=np.int64).reshape(-1)
    if len(e) != nq or e.min() < -1 or e.max() >= n:
        raise AekitError(f"exclude must give one database row (or −1) per query: {nq} values in −1..{n - 1}",
                         "give the database row each query was taken from, −1 for none")
    return e


def search(queries: Any, database: Any, k: int = 10, metric: str = "cosine", exclude: Any = None,
           progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (Q, k): the k nearest ``database`` rows of each query, nearest first.

    ``cosine`` (distance 1 − cos) and ``euclidean`` take real vectors (computed in float64);
    ``hamming`` takes bits (bool or 0/1; see :func:`binary_codes`) and gives the number of differing
    bits. ``exclude``: per query, a database row to leave out (−1: none), for queries taken from the
    database itself."""
    if metric not in METRICS:
        raise unknown_choice("metric", str(metric), METRICS)
    q, db = _matrix(queries, "queries"), _matrix(database, "database")
    if q.shape[1] != db.shape[1]:
        raise AekitError(f"queries have {q.shape[1]} dimensions, the database {db.shape[1]}", "encode both with the same model")
    ex = _exclusions(exclude, len(q), len(db))
    k = _check_k(k, len(db), ex is not None)
    if metric == "hamming":
        for a, name in ((q, "queries"), (db, "database")):
            if a.dtype != bool and not np.isin(a, (0, 1)).all():
                raise AekitError(f"hamming search takes bits (bool or 0/1); the {name} hold other values",
                                 "binarise codes with binary_codes(...) first, or use metric cosine or euclidean")
        return hamming_search(pack_bits(q), pack_bits(db), k, exclude=ex, progress=progress)
    q, db = q.astype(np.float64), db.astype(np.float64)
    if not (np.isfinite(q).all() and np.isfinite(db).all()):
        raise AekitError("the codes hold NaN or infinite values", "check the model and the data it encodes")
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-300)
        db = db / np.maximum(np.linalg.norm(db, axis=1, keepdims=True), 1e-300)
    else:
        q_sq, db_sq = (q ** 2).sum(1), (db ** 2).sum(1)
    kk = k + (ex is not None)
    idx, dist = np.empty((len(q), kk), np.int64), np.empty((len(q), kk), np.float64)
    for s in _chunks(len(q), len(db), progress, f"{metric} search"):
        score = q[s] @ db.T  # cosine: cos; euclidean: 2 q·x − |x|² (|q − x|² minus the row's constant |q|²)
        if metric == "euclidean":
            score *= 2.0
            score -= db_sq[None]
        idx[s] = _smallest(score, kk, largest=True)
        best = np.take_along_axis(score, idx[s], 1)
        dist[s] = 1.0 - best if metric == "cosine" else np.sqrt(np.maximum(q_sq[s, None] - best, 0.0))
    return _drop_excluded(idx, dist, ex, k)


def pack_bits(bits: Any) -> np.ndarray:
    """Bits (N, D) (bool or 0/1) packed 8 to a byte, first bit highest: uint8 (N, ⌈D/8⌉)."""
    b = np.asarray(bits)
    return np.packbits(b.reshape(len(b), -1).astype(bool), axis=1)


def _words(packed: np.ndarray) -> np.ndarray:
    """Packed bytes as uint64 words (N, ⌈bytes/8⌉), padded with zero bytes."""
    p = np.ascontiguousarray(packed, dtype=np.uint8)
    pad = (-p.shape[1]) % 8
    if pad:
        p = np.concatenate([p, np.zeros((len(p), pad), np.uint8)], 1)
    return p.view(np.uint64)


def hamming_search(queries: np.ndarray, database: np.ndarray, k: int = 10, exclude: Any = None,
                   progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`search` on bits packed by :func:`pack_bits`: (indices, Hamming distances), each (Q, k)."""
    q, db = np.asarray(queries), np.asarray(database)
    if q.dtype != np.uint8 or db.dtype != np.uint8 or q.ndim != 2 or db.ndim != 2 or q.shape[1] != db.shape[1]:
        raise AekitError("hamming_search takes packed bits: uint8 (N, bytes) of the same width for queries and database",
                         "pack bits with pack_bits(...), or call search(..., metric='hamming') on the bits")
    ex = _exclusions(exclude, len(q), len(db))
    k = _check_k(k, len(db), ex is not None)
    qw, dw = _words(q), _words(db)
    kk = k + (ex is not None)
    idx, dist = np.empty((len(q), kk), np.int64), np.empty((len(q), kk), np.int64)
    for s in _chunks(len(q), len(db), progress, "hamming search"):
        d = np.bitwise_count(qw[s, None, 0] ^ dw[None, :, 0]).astype(np.int32)
        for w in range(1, dw.shape[1]):
            d += np.bitwise_count(qw[s, None, w] ^ dw[None, :, w])
        idx[s] = _smallest(d, kk)
        dist[s] = np.take_along_axis(d, idx[s], 1)
    return _drop_excluded(idx, dist, ex, k)


# ---- binary codes --------------------------------------------------------------------------------

def median_thresholds(codes: Any) -> np.ndarray:
    """Each code dimension's median over ``codes`` (N, D): thresholds under which every bit splits
    those codes in half (an explicit alternative to sigmoid codes at 0.5)."""
    return np.median(_matrix(codes, "codes").astype(np.float64), axis=0)


def check_sigmoid_codes(model: Any) -> None:
    """Refuse a model whose codes are not sigmoid (binary codes at 0.5 would mean nothing)."""
    act = getattr(model.cfg, "code_activation", None)
    if act == "sigmoid":
        return
    name = getattr(model, "preset", "") or type(model).__name__
    median = "or threshold at the database codes' per-dimension median (--threshold median; threshold='median')"
    if act is None:
        fix = f"{name} has no code activation: train --model ae --set model.code_activation=sigmoid (semantic hashing), {median}"
    else:
        fix = f"train with --set model.code_activation=sigmoid (semantic hashing), {median}"
    raise AekitError(f"binary codes threshold sigmoid codes at 0.5; this {name} model's codes are "
                     f"{act or 'unbounded (no code activation)'}", fix)


def binary_codes(model: Any, x: Any, thresholds: Any = None, batch_size: int = 1024) -> np.ndarray:
    """Semantic hashing: bool (N, D), code > 0.5 for a model with sigmoid codes; with ``thresholds``
    (D,) (e.g. :func:`median_thresholds` of training codes), code > thresholds for any model."""
    if thresholds is None:
        check_sigmoid_codes(model)
    codes = np.asarray(model.encode(x, batch_size=batch_size), dtype=np.float64).reshape(len(x), -1)
    if thresholds is None:
        return codes > 0.5
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if len(t) != codes.shape[1]:
        raise AekitError(f"{len(t)} thresholds for codes of dimension {codes.shape[1]}", "give one threshold per code dimension")
    return codes > t


# ---- precision -----------------------------------------------------------------------------------

def _hits(neighbour_labels: Any, query_labels: Any, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    nl, ql = np.asarray(neighbour_labels), np.asarray(query_labels).reshape(-1)
    if nl.ndim != 2 or len(nl) != len(ql):
        raise AekitError(f"neighbour labels must be (Q, K) for {len(ql)} query labels, got shape {nl.shape}",
                         "give one row of neighbour labels per query")
    k = nl.shape[1] if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= nl.shape[1]:
        raise AekitError(f"k must be an integer in 1..{nl.shape[1]} (the neighbours given), got {k!r}", "e.g. k=10")
    keep = ql >= 0
    if not keep.any():
        raise AekitError("no labelled query: precision@k needs query labels >= 0", "give labelled queries")
    return (nl[keep, :k] == ql[keep, None]).mean(1), ql[keep]


def precision_at_k(neighbour_labels: Any, query_labels: Any, k: int | None = None) -> float:
    """Mean over the labelled queries of the share of their first ``k`` neighbours (all given when
    None) whose label is the query's."""
    return float(_hits(neighbour_labels, query_labels, k)[0].mean())


@dataclass
class Retrieval:
    """What :func:`retrieve` found: neighbours (rows of the database) and, with labels, precision@k."""

    indices: np.ndarray              # (Q, k) int64, nearest first
    distances: np.ndarray            # (Q, k): 1 − cos, Euclidean distance, or differing bits
    metric: str
    k: int
    code_dim: int
    n_database: int
    threshold: str | None = None     # hamming: "sigmoid" (0.5) or "median" (of the database codes)
    precision: float | None = None   # precision@k by label
    chance: float | None = None      # precision@k of neighbours drawn at random from the database
    per_class: dict[int, float] = field(default_factory=dict)
    real_codes: dict[str, float] = field(default_factory=dict)  # hamming: the real codes' precision@k by metric

    def figures(self) -> dict[str, Any]:
        """The figures as JSON-ready values (no neighbour arrays)."""
        out: dict[str, Any] = {"metric": self.metric, "k": self.k, "code_dim": self.code_dim,
                               "n_queries": int(len(self.indices)), "n_database": self.n_database}
        if self.threshold:
            out["threshold"] = self.threshold
        out.update({f"precision_at_{self.k}": self.precision, "chance": self.chance})
        if self.per_class:
            out["per_class"] = {str(c): p for c, p in self.per_class.items()}
        if self.real_codes:
            out["real_codes"] = {f"{m}_precision_at_{self.k}": p for m, p in self.real_codes.items()}
        return out


def _labels(y: Any, n: int, name: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y).reshape(-1)
    if len(y) != n or y.dtype.kind not in "iu":
        raise AekitError(f"{name} must be {n} integer class indices, got {len(y)} of dtype {y.dtype}",
                         "give one class index per example (−1: unlabelled)")
    return y


def run_split(run: str | Path, split: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y) of a run's own split, exactly as in training (``data_dir``: where its data set now lies)."""
    from ..run import run_data
    from ..runconfig import load_config

    cfg = load_config(run)
    if data_dir:
        cfg.data.data_dir = data_dir
    return run_data(cfg).split(split)


def retrieve(run_or_model: Any, queries: Any = None, database: Any = None, k: int = 10, metric: str = "cosine", *,
             query_labels: Any = None, database_labels: Any = None, threshold: str | None = None, exclude: Any = None,
             batch_size: int = 1024, progress: bool = False) -> Retrieval:
    """Nearest neighbours of ``queries`` among ``database`` (both in data units) in ``run_or_model``'s
    code space, and precision@k when both label arrays are given.

    For a run folder, ``queries`` None means its test split and ``database`` None its training
    split, with their labels. ``metric="hamming"`` searches binary codes: ``threshold="sigmoid"``
    (default; sigmoid codes at 0.5) or ``"median"`` (each dimension's median over the database codes);
    with labels it also reports the real codes' precision@k under cosine and Euclidean distance.
    ``exclude``: per query, a database row to leave out (queries taken from the database)."""
    from ..run import load

    if metric not in METRICS:
        raise unknown_choice("metric", str(metric), METRICS)
    if threshold is not None and metric != "hamming":
        raise AekitError(f"a threshold makes binary codes: it applies to metric hamming, not {metric}",
                         "drop the threshold, or use metric hamming")
    if threshold not in (None, "sigmoid", "median"):
        raise unknown_choice("threshold", str(threshold), ("sigmoid", "median"))
    is_run = isinstance(run_or_model, (str, Path))
    model = load(run_or_model) if is_run else run_or_model
    if metric == "hamming" and threshold in (None, "sigmoid"):
        check_sigmoid_codes(model)  # before any encoding
    for arr, split, name in ((queries, "test", "queries"), (database, "train", "database")):
        if arr is None and not is_run:
            raise AekitError(f"no {name} given", f"give {name} as an array, or a run folder to use its {split} split")
    if queries is None:
        queries, y = run_split(run_or_model, "test")
        query_labels = y if query_labels is None else query_labels
    if database is None:
        database, y = run_split(run_or_model, "train")
        database_labels = y if database_labels is None else database_labels
    yq, ydb = _labels(query_labels, len(queries), "query_labels"), _labels(database_labels, len(database), "database_labels")
    zq = np.asarray(model.encode(queries, batch_size=batch_size)).reshape(len(queries), -1)
    zdb = np.asarray(model.encode(database, batch_size=batch_size)).reshape(len(database), -1)
    if metric == "hamming":
        threshold = threshold or "sigmoid"
        t = median_thresholds(zdb) if threshold == "median" else 0.5
        idx, dist = search(zq > t, zdb > t, k, "hamming", exclude=exclude, progress=progress)
    else:
        idx, dist = search(zq, zdb, k, metric, exclude=exclude, progress=progress)
    out = Retrieval(idx, dist, metric, int(k), int(zq.shape[1]), int(len(zdb)), threshold)
    if yq is not None and ydb is not None and (yq >= 0).any():
        hits, labelled = _hits(ydb[idx], yq, None)
        out.precision = float(hits.mean())
        freq = np.bincount(ydb[ydb >= 0], minlength=int(max(yq.max(), ydb.max())) + 1) / len(ydb)
        out.chance = float(freq[labelled].mean())
        out.per_class = {int(c): float(hits[labelled == c].mean()) for c in np.unique(labelled)}
        if metric == "hamming":
            for m in REAL_METRICS:
                ridx, _ = search(zq, zdb, k, m, exclude=exclude, progress=progress)
                out.real_codes[m] = precision_at_k(ydb[ridx], yq)
    return out


def save_neighbour_grid(path: str | Path, queries: np.ndarray, database: np.ndarray, indices: np.ndarray,
                        query_labels: Any = None, database_labels: Any = None) -> Path:
    """One row per query: the query image, then its neighbours in order; with labels, grayscale
    neighbours of another class are drawn in red. Images (N, C, H, W) in [0, 1]."""
    from ..plots.figures import save_image_grid

    q, db = np.asarray(queries, np.float32), np.asarray(database, np.float32)
    rows = np.concatenate([q[:, None], db[indices]], 1)  # (Q, 1 + k, C, H, W)
    if q.shape[1] == 1 and query_labels is not None and database_labels is not None:
        wrong = np.zeros(indices.shape[:1] + (1 + indices.shape[1],), bool)
        wrong[:, 1:] = np.asarray(database_labels)[indices] != np.asarray(query_labels)[:, None]
        rgb = np.repeat(rows, 3, axis=2)
        rgb[:, :, 1:][wrong] *= 0.25  # green and blue dimmed: a red digit
        rows = rgb
    return save_image_grid(np.clip(rows.reshape(-1, *rows.shape[2:]), 0.0, 1.0), path, nrow=rows.shape[1])


__all__ = ["METRICS", "Retrieval", "binary_codes", "check_sigmoid_codes", "hamming_search", "median_thresholds", "pack_bits",
           "precision_at_k", "retrieve", "run_split", "save_neighbour_grid", "search"]
