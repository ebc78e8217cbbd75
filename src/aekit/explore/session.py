"""The explorer's state: one trained model, loaded once, and what the page asks of it.

    s = ExploreSession.from_run("runs/vae", n_map=2000)
    s.info()                        # shapes, classes, the slider dimensions and their ranges
    png = s.decode_png([0.1, ...])  # a code → the decoded image (PNG bytes)
    s.encode(image=data_url)        # a drawing → its code, map point, reconstruction, neighbours

The map holds (at most ``n_map``) examples of the run's test split (or the data given): their codes,
2-D points (the codes themselves when 2-D, else their PCA, so new codes land on the same map), and
three colourings: label, anomaly score (``tasks.outliers.anomaly_scores``, auto) and reconstruction
error (MSE). The sliders are the (at most 16) code dimensions with the largest KL to the prior
(models with ``kl_per_dim``) or the largest variance over the map's codes; the rest stay at the
codes' mean.

Every model call holds one lock: requests arrive on a thread pool, and one model's forward passes
are not interleaved (results never mix; a decode takes ~1 ms, so the lock costs little).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AekitError
from . import render

MAX_SLIDERS = 16
MAX_STEPS = 32          # interpolation steps in one request
MAX_K = 50              # neighbours in one request
MAX_BODY = 2 << 20      # bytes of a request body (a drawing's PNG is ~10–40 KB)
MAX_VALUES = 1 << 18    # numbers in one request's z or x
SLIDER_SDS = 3.0   # a slider spans the code's mean ± 3 sd over the map's examples
Z_LIMIT = 100.0    # a code value beyond max(this, 10 × the largest |code| seen) is refused as absurd

__all__ = ["ExploreSession", "MAX_SLIDERS"]


class ExploreSession:
    """A model and the examples of its map; see the module docstring."""

    def __init__(self, model: Any, x: np.ndarray, y: np.ndarray | None = None, *, classes: Sequence[Any] | None = None,
                 vocab: str | None = None, name: str = "", n_map: int = 2000, seed: int = 0):
        from ..tasks.maps import subsample

        if len(x) < 2:
            raise AekitError(f"the explorer's map needs at least 2 examples, got {len(x)}", "give more data")
        self.model = model.eval()
        self.lock = threading.Lock()
        self.name = name
        self.vocab = vocab
        self.input_shape = tuple(int(s) for s in model.input_shape)
        self.kind = render.kind_of(self.input_shape, vocab)
        self.latent_dim = int(model.cfg.latent_dim)
        rows = subsample(len(x), int(n_map), seed)
        self.x = np.asarray(x)[rows].astype(np.float32)
        self.rows = rows
        self.y = None if y is None else np.asarray(y).reshape(-1)[rows].astype(np.int64)
        self.n_classes = int(model.n_classes)
        self.classes = [str(c) for c in classes] if classes else ([str(i) for i in range(self.n_classes)] if self.n_classes else None)
        finite = self.x[np.isfinite(self.x)]
        self.lo, self.hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if self.hi <= self.lo:
            self.hi = self.lo + 1.0
        self._prepare(seed)

    @classmethod
    def from_run(cls, run: str | Path, x: np.ndarray | None = None, y: np.ndarray | None = None, **kw: Any) -> "ExploreSession":
        """The session of a run folder; ``x``/``y`` None: the run's own test split and labels."""
        from ..run import load
        from ..runconfig import load_config
        from ..tasks.retrieval import run_split

        if not (Path(run) / "config.yaml").is_file():
            raise AekitError(f"{run} is not a run folder (no config.yaml)", "give a folder written by `aekit train`")
        cfg = load_config(run)
        model = load(run)
        if x is None:
            x, y = run_split(run, "test")
        return cls(model, x, y, classes=cfg.data.classes, vocab=cfg.data.vocab, name=kw.pop("name", None) or Path(run).name, **kw)

    # ---- set-up ----------------------------------------------------------------------------------
    def _prepare(self, seed: int) -> None:
        import torch

        from ..tasks.anomaly import mse_scores, reconstruction_errors
        from ..tasks.outliers import anomaly_scores

        m = self.model
        # a conditional encoder codes each example under its own label (the one the page decodes with)
        y = self.y if self.y is not None and self.n_classes else None
        self.codes = np.asarray(m.encode(self.x, y=y), dtype=np.float64).reshape(len(self.x), -1)
        self.mean = self.codes.mean(0)
        self.sd = np.maximum(self.codes.std(0), 1e-3)
        if hasattr(m, "kl_per_dim"):
            t, _ = m.as_input(self.x)
            with torch.no_grad():
                rank = np.asarray(m.kl_per_dim(m.to_model_space(t)), dtype=np.float64)
            self.rank_kind = "KL (nats)"
        else:
            rank, self.rank_kind = self.codes.var(0), "variance"
        self.rank = rank
        self.sliders = [int(d) for d in np.argsort(-rank, kind="stable")[:MAX_SLIDERS]]
        self.z_limit = max(Z_LIMIT, 10 * float(np.abs(self.codes).max()))
        if self.latent_dim == 2:
            self.pca = None
            self.points, self.axes = self.codes.copy(), ["z1", "z2"]
        elif self.latent_dim == 1:
            self.pca = None
            self.points, self.axes = np.stack([self.codes[:, 0], np.zeros(len(self.codes))], 1), ["z1", ""]
        else:
            from sklearn.decomposition import PCA

            self.pca = PCA(n_components=2, random_state=seed).fit(self.codes)
            r = self.pca.explained_variance_ratio_
            self.points = self.pca.transform(self.codes)
            self.axes = [f"PC1 ({r[0] * 100:.0f}% var)", f"PC2 ({r[1] * 100:.0f}% var)"]
        err, mask = reconstruction_errors(m, self.x, return_mask=True)
        self.errors = mse_scores(err, mask)
        self.scores, self.score_kind = anomaly_scores(m, self.x, "auto", progress=False)

    # ---- checks of request values ------------------------------------------------------------------
    def check_z(self, z: Sequence[float]) -> np.ndarray:
        a = np.asarray(z, dtype=np.float64).reshape(-1)
        if len(a) != self.latent_dim:
            raise AekitError(f"z has {len(a)} values; this model's codes have {self.latent_dim}",
                             f"send {self.latent_dim} numbers (see /api/info: latent_dim)")
        if not np.isfinite(a).all():
            raise AekitError("z holds a value that is not a finite number", "send finite numbers")
        if np.abs(a).max() > self.z_limit:
            raise AekitError(f"z holds {float(a[np.abs(a).argmax()]):.4g}, far outside the codes' range (|z| ≤ {self.z_limit:.4g} accepted)",
                             "send codes near the sliders' ranges (see /api/info)")
        return a.astype(np.float32)

    def check_label(self, label: int | None, required: bool = False) -> int | None:
        if label is None:
            if required:
                raise AekitError("this model needs a label", f"send a label from 0 to {self.n_classes - 1}")
            return None
        if not self.n_classes:
            raise AekitError("this model was trained without labels", "drop the label")
        if not 0 <= int(label) < self.n_classes:
            raise AekitError(f"label {label} is not one of the model's classes 0..{self.n_classes - 1}",
                             f"send a label from 0 to {self.n_classes - 1} (names in /api/info: classes)")
        return int(label)

    def check_index(self, i: int) -> int:
        if not 0 <= int(i) < len(self.x):
            raise AekitError(f"example {i} is not on the map (0..{len(self.x) - 1})", "send an index from /api/map")
        return int(i)

    def _decode_label(self, label: int | None) -> int | None:
        """A label for the decoder: only models whose decoder takes one (others: an error naming why)."""
        label = self.check_label(label)
        if label is not None and not self.model.decodes_labels:
            raise AekitError(f"{self.name or 'this model'}'s decoder does not take a label", "drop the label")
        return label

    # ---- what the page shows -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        m = self.model
        return {
            "name": self.name, "model": getattr(m, "preset", "") or type(m).__name__, "kind": self.kind,
            "input_shape": list(self.input_shape), "latent_dim": self.latent_dim, "value_range": [self.lo, self.hi],
            "classes": self.classes, "decodes_labels": bool(m.decodes_labels), "can_sample": bool(m.can_sample),
            "mean": self.mean.round(6).tolist(), "sd": self.sd.round(6).tolist(),
            "sliders": [{"dim": d, "min": float(self.mean[d] - SLIDER_SDS * self.sd[d]), "max": float(self.mean[d] + SLIDER_SDS * self.sd[d]),
                         "mean": float(self.mean[d]), "rank": float(self.rank[d])} for d in self.sliders],
            "slider_rank": self.rank_kind, "map_size": len(self.x), "map_axes": self.axes, "score_kind": self.score_kind,
            "drawable": self.kind == "image" and self.input_shape[0] == 1,
            "limits": {"z_abs": self.z_limit, "steps": MAX_STEPS, "k": MAX_K},
        }

    def map(self) -> dict[str, Any]:
        """The map's points and colourings (a non-finite score or error, e.g. an overflowing NLL, is null)."""
        def values(a: np.ndarray, digits: int) -> list[float | None]:
            return [round(float(v), digits) if np.isfinite(v) else None for v in a]

        return {"points": np.round(self.points, 5).tolist(),
                "labels": None if self.y is None else self.y.tolist(), "classes": self.classes,
                "score": values(self.scores, 5), "score_kind": self.score_kind, "error": values(self.errors, 7), "axes": self.axes}

    def point_of(self, z: np.ndarray) -> list[float]:
        """Where a code lands on the map."""
        z = np.asarray(z, dtype=np.float64).reshape(1, -1)
        if self.pca is not None:
            return [round(float(v), 5) for v in self.pca.transform(z)[0]]
        return [round(float(z[0, 0]), 5), round(float(z[0, 1]), 5) if self.latent_dim > 1 else 0.0]

    def _run(self, fn: Any) -> Any:
        with self.lock:
            return fn()

    def decoded(self, z: np.ndarray, label: int | None) -> np.ndarray:
        """Decoded examples (N, *input_shape) for codes (N, D), in data units."""
        lab = None if label is None else np.full(len(z), label)
        return np.asarray(self._run(lambda: self.model.decode(np.asarray(z, np.float32), label=lab)))

    def present(self, example: np.ndarray) -> dict[str, Any]:
        """One example as the page shows it: a PNG data URL, series values, or a text line."""
        if self.kind == "image":
            return {"png": render.data_url(render.png_bytes(example, self.lo, self.hi))}
        if self.kind == "text":
            return {"text": render.text_line(example, self.vocab)}
        return {"values": render.series_values(example)}

    def decode_png(self, z: Sequence[float], label: int | None = None) -> bytes:
        if self.kind != "image":
            raise AekitError(f"this model's examples are {self.kind}s, not images", 'ask for "format": "json"')
        out = self.decoded(self.check_z(z)[None], self._decode_label(label))[0]
        return render.png_bytes(out, self.lo, self.hi)

    def decode_json(self, z: Sequence[float], label: int | None = None) -> dict[str, Any]:
        out = self.decoded(self.check_z(z)[None], self._decode_label(label))[0]
        return self.present(out)

    def example(self, i: int) -> dict[str, Any]:
        i = self.check_index(i)
        label = None if self.y is None else int(self.y[i])
        return {"index": i, "label": label, "z": np.round(self.codes[i], 6).tolist(), "point": np.round(self.points[i], 5).tolist(),
                **self.present(self.x[i])}

    def example_png(self, i: int) -> bytes:
        if self.kind != "image":
            raise AekitError(f"this model's examples are {self.kind}s, not images", "ask /api/example/{i} for JSON")
        return render.png_bytes(self.x[self.check_index(i)], self.lo, self.hi)

    def neighbours(self, z: np.ndarray, k: int = 8, exclude: int | None = None) -> list[dict[str, Any]]:
        """The ``k`` map examples nearest to code ``z`` (Euclidean distance in code space)."""
        from ..tasks.retrieval import search

        k = int(k)
        if not 1 <= k <= min(MAX_K, len(self.x) - (exclude is not None)):
            raise AekitError(f"k must be from 1 to {min(MAX_K, len(self.x) - 1)}, got {k}", "e.g. k=8")
        idx, dist = search(np.asarray(z, np.float64).reshape(1, -1), self.codes, k, "euclidean",
                           exclude=None if exclude is None else np.array([exclude]))
        return [{"index": int(i), "distance": round(float(d), 5), "label": None if self.y is None else int(self.y[i])}
                for i, d in zip(idx[0], dist[0])]

    def neighbours_of(self, index: int | None = None, z: Sequence[float] | None = None, k: int = 8) -> dict[str, Any]:
        if (index is None) == (z is None):
            raise AekitError("send either index (an example on the map) or z (a code)", 'e.g. {"index": 12, "k": 8}')
        if index is not None:
            i = self.check_index(index)
            return {"index": i, "neighbours": self.neighbours(self.codes[i], k, exclude=i)}
        zz = self.check_z(z)
        return {"point": self.point_of(zz), "neighbours": self.neighbours(zz, k)}

    def encode(self, x: Any = None, image: str | None = None, label: int | None = None, center: bool = True, k: int = 8) -> dict[str, Any]:
        """An example (values ``x``, or an encoded ``image``) → its code, map point, reconstruction, neighbours."""
        if (x is None) == (image is None):
            raise AekitError("send either x (the example's values) or image (a base64 PNG)", 'e.g. {"image": "data:image/png;base64,…"}')
        if image is not None:
            ex = render.image_input(render.decode_image_data(image), self.input_shape, self.lo, self.hi, center)
        else:
            ex = render.as_example(x, self.input_shape)
            span = self.hi - self.lo
            if np.isfinite(ex).any() and (np.nanmin(ex) < self.lo - span or np.nanmax(ex) > self.hi + span):
                raise AekitError(f"x holds values outside [{self.lo - span:.4g}, {self.hi + span:.4g}], far from the data's range "
                                 f"[{self.lo:.4g}, {self.hi:.4g}]", "send values in the data's units (see /api/info: value_range)")
        label = self.check_label(label)
        lab = None if label is None else np.array([label])
        m = self.model

        def run() -> tuple[np.ndarray, np.ndarray, int | None]:
            used = label if label is not None else (int(m.classify(ex[None])[0]) if m.can_classify else None)
            return np.asarray(m.encode(ex[None], y=lab)), np.asarray(m.reconstruct(ex[None], y=lab)), used

        z, rec, used = self._run(run)
        return {"z": np.round(z[0].astype(np.float64), 6).tolist(), "point": self.point_of(z[0]), "input": self.present(ex),
                "reconstruction": self.present(rec[0]), "neighbours": self.neighbours(z[0], k),
                "label": used}  # the label given, or the model's own prediction (models with q(y|x)), else null

    def interpolate(self, i: int, j: int, steps: int = 8, method: str = "linear", label: int | None = None) -> dict[str, Any]:
        from ..tasks.generate import slerp

        i, j = self.check_index(i), self.check_index(j)
        if not 2 <= int(steps) <= MAX_STEPS:
            raise AekitError(f"steps must be from 2 to {MAX_STEPS}, got {steps}", "e.g. steps=8")
        if method not in ("linear", "spherical"):
            raise AekitError(f"unknown interpolation method {method!r}", "use linear or spherical")
        label = self._decode_label(label)
        t = np.linspace(0.0, 1.0, int(steps))
        a, b = self.codes[i], self.codes[j]
        path = (1 - t)[:, None] * a + t[:, None] * b if method == "linear" else slerp(a, b, t)
        out = self.decoded(path.astype(np.float32), label)
        return {"from": i, "to": j, "method": method, "points": [self.point_of(p) for p in path],
                "steps": [self.present(o) for o in out]}
