"""Pyro's semi-supervised VAE (M2), written with pyro-ppl by the protocol of Pyro's example
examples/vae/ss_vae_M2.py: the reference that bench_pyro_ssvae.py runs beside aekit's M2 (Table 6).
It imports nothing of aekit and runs in benchmarks/.venvs/pyro.

The protocol, as the example has it:
  data     the last 10,000 of the 60,000 training digits are the validation split, the labelled digits
           are drawn from the rest balanced over the classes (numpy, seeded), grey levels in [0, 1]
  model    p(z) = N(0, I), z of 50; p(y) uniform over 10; p(x | y, z) Bernoulli from an MLP 60-500-784
  guide    q(y | x) from an MLP 784-500-10; q(z | x, y) Normal from an MLP 794-500-[50 loc, 50 log-scale]
  nets     softplus hidden layers whose weights and biases start N(0, 0.001²); output layers torch's default
  loss     TraceEnum_ELBO, y summed out exactly (parallel enumeration), plus the auxiliary loss: 46 times
           −log q(y | x) of each labelled digit, stepped as a second SVI with the same Adam
  steps    one epoch = every unlabelled batch plus every labelled batch, a labelled batch at every step i
           with i mod ⌊50,000 / labels⌋ = 1 (until they run out); Adam lr 4.2e-4, β₁ 0.95, batch 200
  report   validation and test accuracy of argmax q(y | x) after every epoch

The networks output logits where the example's end in a softmax or a sigmoid (the same distributions).

    python pyro_ssvae_child.py --data DIR --labels 100 --seed 0 --epochs 50   # prints one JSON line
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO, config_enumerate
from pyro.optim import Adam
from torch import nn

K = 10


def mlp(sizes: list[int]) -> nn.Sequential:
    """Softplus MLP; hidden layers N(0, 0.001²) weights and biases (the example's custom_mlp), the output layer linear."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        lin = nn.Linear(n_in, n_out)
        nn.init.normal_(lin.weight, 0.0, 1e-3)
        nn.init.normal_(lin.bias, 0.0, 1e-3)
        layers += [lin, nn.Softplus()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


def cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Concatenate on the last axis after broadcasting the others (y enumerated as (K, 1, K) meets (B, D))."""
    shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    return torch.cat([a.expand(*shape, a.shape[-1]), b.expand(*shape, b.shape[-1])], -1)


class SSVAE(nn.Module):
    def __init__(self, z_dim: int = 50, hidden: int = 500, aux: float = 46.0):
        super().__init__()
        self.z_dim, self.aux = z_dim, aux
        self.enc_y = mlp([784, hidden, K])
        self.enc_z = mlp([784 + K, hidden, 2 * z_dim])
        self.dec = mlp([z_dim + K, hidden, 784])

    def model(self, xs: torch.Tensor, ys: torch.Tensor | None = None) -> None:
        pyro.module("ss_vae", self)
        B = xs.shape[0]
        with pyro.plate("data", B):
            zs = pyro.sample("z", dist.Normal(xs.new_zeros(B, self.z_dim), xs.new_ones(B, self.z_dim)).to_event(1))
            ys = pyro.sample("y", dist.OneHotCategorical(logits=xs.new_zeros(B, K)), obs=ys)
            pyro.sample("x", dist.Bernoulli(logits=self.dec(cat(zs, ys)), validate_args=False).to_event(1), obs=xs)

    def guide(self, xs: torch.Tensor, ys: torch.Tensor | None = None) -> None:
        with pyro.plate("data", xs.shape[0]):
            if ys is None:
                ys = pyro.sample("y", dist.OneHotCategorical(logits=self.enc_y(xs)))
            loc, log_scale = self.enc_z(cat(xs, ys)).split(self.z_dim, -1)
            pyro.sample("z", dist.Normal(loc, log_scale.exp()).to_event(1))

    def model_classify(self, xs: torch.Tensor, ys: torch.Tensor | None = None) -> None:
        """The auxiliary loss: aux · (−log q(y | x)) of labelled digits (nothing for unlabelled ones)."""
        pyro.module("ss_vae", self)
        with pyro.plate("data", xs.shape[0]):
            if ys is not None:
                with pyro.poutine.scale(scale=self.aux):
                    pyro.sample("y_aux", dist.OneHotCategorical(logits=self.enc_y(xs)), obs=ys)

    def guide_classify(self, xs: torch.Tensor, ys: torch.Tensor | None = None) -> None:
        pass


def split(x: np.ndarray, y: np.ndarray, labels: int, val: int) -> dict[str, np.ndarray]:
    """The example's split: the last ``val`` digits validate; ``labels`` balanced over the classes (numpy's
    seeded shuffle within each class) are labelled, the rest unlabelled."""
    xv, yv, x, y = x[-val:], y[-val:], x[:-val], y[:-val]
    sup: list[int] = []
    uns: list[int] = []
    for c in range(K):
        ids = np.flatnonzero(y == c)
        np.random.shuffle(ids)
        sup += ids[: labels // K].tolist()
        uns += ids[labels // K:].tolist()
    return {"x_sup": x[sup], "y_sup": y[sup], "x_unsup": x[uns], "x_val": xv, "y_val": yv}


def batches(x: torch.Tensor, y: torch.Tensor | None, size: int):
    idx = torch.randperm(len(x))
    for i in range(0, len(x), size):
        b = idx[i:i + size]
        yield x[b], (None if y is None else y[b])


def accuracy(model: SSVAE, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = torch.cat([model.enc_y(b).argmax(-1) for b in x.split(1000)])
    return float((pred == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="folder of x_train/y_train/x_test/y_test .npy (grey levels in [0, 1])")
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--batch-size", type=int, default=200)
    a = ap.parse_args()
    # the labelled steps observe y: nothing left to enumerate there, which TraceEnum_ELBO warns of at every one
    warnings.filterwarnings("ignore", message="TraceEnum_ELBO found no sample sites configured for enumeration")
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.labels % K or a.labels < K:
        sys.exit(f"--labels must be a positive multiple of {K} (balanced over the classes), got {a.labels}")
    load = lambda name: np.load(a.data / f"{name}.npy")  # noqa: E731
    x_train, y_train = load("x_train").reshape(-1, 784).astype(np.float32), load("y_train").astype(np.int64)
    x_test, y_test = load("x_test").reshape(-1, 784).astype(np.float32), load("y_test").astype(np.int64)
    val = min(10_000, len(x_train) // 6)  # 10,000 of 60,000 (a smoke run's few digits: a sixth)
    pyro.set_rng_seed(a.seed)  # seeds random, numpy and torch, as the example does before it splits the data
    s = split(x_train, y_train, a.labels, val)
    t = {k: torch.from_numpy(v) for k, v in s.items()}
    onehot = lambda y: torch.nn.functional.one_hot(y, K).float()  # noqa: E731
    xs_sup, ys_sup, xs_uns = t["x_sup"], onehot(t["y_sup"]), t["x_unsup"]
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)

    pyro.clear_param_store()
    model = SSVAE()
    optim = Adam({"lr": 4.2e-4, "betas": (0.95, 0.999)})
    losses = [SVI(model.model, config_enumerate(model.guide, "parallel"), optim, loss=TraceEnum_ELBO(max_plate_nesting=1)),
              SVI(model.model_classify, model.guide_classify, optim, loss=Trace_ELBO())]
    n_train = len(xs_sup) + len(xs_uns)
    period = max(1, n_train // a.labels)  # the example: int(50,000 / labels)
    bs = a.batch_size
    sup_batches, uns_batches = -(-len(xs_sup) // bs), -(-len(xs_uns) // bs)
    epochs: list[dict] = []
    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        te = time.perf_counter()
        sup_it, uns_it = batches(xs_sup, ys_sup, bs), batches(xs_uns, None, bs)
        done_sup, sums = 0, {"sup": 0.0, "unsup": 0.0}
        for i in range(sup_batches + uns_batches):
            is_sup = i % period == 1 and done_sup < sup_batches
            xb, yb = next(sup_it) if is_sup else next(uns_it)
            done_sup += is_sup
            for svi in losses:
                sums["sup" if is_sup else "unsup"] += svi.step(xb, yb) if is_sup else svi.step(xb)
        row = {"epoch": epoch, "val_accuracy": accuracy(model, t["x_val"], t["y_val"]), "test_accuracy": accuracy(model, xt, yt),
               "loss_sup": sums["sup"] / len(xs_sup), "loss_unsup": sums["unsup"] / len(xs_uns),
               "epoch_s": time.perf_counter() - te}
        epochs.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    best = max(epochs, key=lambda r: r["val_accuracy"])  # the example's report: test accuracy at the best validation epoch
    print(json.dumps({"labels": a.labels, "seed": a.seed, "n_labelled": len(xs_sup), "n_unlabelled": len(xs_uns), "n_val": val,
                      "period": period, "test_error_pct": 100 * (1 - epochs[-1]["test_accuracy"]),
                      "best_val_epoch": best["epoch"], "best_val_test_error_pct": 100 * (1 - best["test_accuracy"]),
                      "train_seconds": time.perf_counter() - t0, "torch_threads": torch.get_num_threads(),
                      "pyro": pyro.__version__, "torch": torch.__version__, "epochs": epochs}))


if __name__ == "__main__":
    main()
