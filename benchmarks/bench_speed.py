"""Epoch time and peak memory: aekit's Trainer vs hand-written PyTorch loops of the same model.

Model: MLP 784-512-256-32 (ReLU), Bernoulli likelihood (BCE on logits), Adam 1e-3, batch 128,
Glorot-uniform init, full MNIST (60,000 digits), no validation split. Each variant runs in its own
process (so peak RSS is its own), variants interleaved over repeats because this VM's timings
wander ±15-20% from run to run. Reported: median epoch time over every epoch after the first of
every repeat, and the largest peak RSS.

    python benchmarks/bench_speed.py --epochs 10 --repeats 3
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_args, epoch_summary, interleaved, machine, mnist, save  # noqa: E402

VARIANTS = ["hand-adam", "hand-adam-fused", "aekit"]


def build_net():
    import torch
    from torch import nn

    def lin(i, o):
        layer = nn.Linear(i, o)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    enc = nn.Sequential(nn.Flatten(), lin(784, 512), nn.ReLU(), lin(512, 256), nn.ReLU(), lin(256, 32))
    dec = nn.Sequential(lin(32, 256), nn.ReLU(), lin(256, 512), nn.ReLU(), lin(512, 784))
    return nn.Sequential(enc, dec)


def hand_loop(epochs: int, fused: bool, seed: int) -> list[float]:
    """What a careful user writes: data in one tensor, randperm per epoch, .item() per step."""
    import torch
    import torch.nn.functional as F

    x_train, _, _, _ = mnist()
    torch.manual_seed(seed)
    x = torch.from_numpy(x_train).reshape(len(x_train), -1)
    net = build_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused or None)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), 128):
            xb = x[perm[i: i + 128]]
            logits = net(xb)
            loss = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        times.append(time.perf_counter() - t0)
    return times


def aekit_loop(epochs: int, seed: int) -> list[float]:
    import logging

    import torch

    from aekit.config import TrainConfig
    from aekit.models import build_model
    from aekit.train import Trainer

    logging.disable(logging.INFO)
    x_train, _, _, _ = mnist()
    torch.manual_seed(seed)
    model = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[512, 256], latent_dim=32)
    trainer = Trainer(model, TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True), progress=False)
    hist = trainer.fit(x_train)
    return [r["epoch_time_s"] for r in hist]


def child(variant: str, epochs: int, seed: int) -> None:
    if variant == "aekit":
        times = aekit_loop(epochs, seed)
    else:
        times = hand_loop(epochs, variant.endswith("fused"), seed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"variant": variant, "epoch_times_s": times, "peak_rss_mb": peak_mb}))


def main() -> None:
    a = bench_args(__doc__, VARIANTS)
    if a.child:
        child(a.child, a.epochs, a.seed)
        return
    runs = interleaved(__file__, a.variants.split(","), a.epochs, a.repeats, a.seed)
    summary = epoch_summary(runs)
    payload = {"benchmark": "speed", "machine": machine(), "epochs": a.epochs, "repeats": a.repeats,
               "date": time.strftime("%Y-%m-%d"), "summary": summary, "runs": runs}
    path = save("speed", payload)
    print("| variant | median s/epoch | ratio to hand-written (Adam) | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for v, s in summary.items():
        print(f"| {v} | {s['median_epoch_s']:.3f} | {s.get('ratio_to_hand_adam', float('nan')):.3f} | {s['peak_rss_mb']:.0f} |")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
