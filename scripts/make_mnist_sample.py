"""Build ``src/aekit/data/embedded/mnist_sample.npz``, the MNIST subset shipped with aekit.

Where it comes from: the original MNIST IDX files (``train-images-idx3-ubyte.gz``,
``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``;
Y. LeCun, C. Cortes, C. J. C. Burges, http://yann.lecun.com/exdb/mnist/), by default from
``../shared/data/mnist`` (see its SOURCES.md for checksums and provenance).

What it holds: a seeded, class-stratified subset — 10,000 of the 60,000 training digits and 2,000
of the 10,000 test digits, each class taking its share in proportion to its frequency in the
split (largest-remainder rounding, so the totals are exact). Indices are kept in the original
order. Keys: ``x_train`` (10000, 28, 28) uint8, ``y_train`` (10000,) uint8, ``x_test``
(2000, 28, 28) uint8, ``y_test`` (2000,) uint8; saved with ``np.savez_compressed``.

Usage::

    python scripts/make_mnist_sample.py [--src ../shared/data/mnist] [--seed 0]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aekit.data.idx import read_idx  # noqa: E402

OUT = ROOT / "src" / "aekit" / "data" / "embedded" / "mnist_sample.npz"
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def stratified(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` examples, each class in proportion to its count in ``y``."""
    classes, counts = np.unique(y, return_counts=True)
    share = counts * n / counts.sum()
    take = np.floor(share).astype(int)
    # largest remainder: hand out what rounding down left over
    for i in np.argsort(-(share - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    args = ap.parse_args()

    xtr, ytr, xte, yte = (read_idx(args.src / f) for f in FILES)
    rng = np.random.default_rng(args.seed)
    itr = stratified(ytr, args.n_train, rng)
    ite = stratified(yte, args.n_test, rng)
    arrays = {
        "x_train": xtr[itr].astype(np.uint8), "y_train": ytr[itr].astype(np.uint8),
        "x_test": xte[ite].astype(np.uint8), "y_test": yte[ite].astype(np.uint8),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)
    md5 = hashlib.md5(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, md5 {md5})")
    for k, v in arrays.items():
        print(f"  {k}: {v.shape} {v.dtype}")
    print("  train class counts:", np.bincount(arrays["y_train"]).tolist())
    print("  test class counts: ", np.bincount(arrays["y_test"]).tolist())


if __name__ == "__main__":
    main()
