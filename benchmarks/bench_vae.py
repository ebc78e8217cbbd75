"""VAE quality and speed: aekit vs a hand-written PyTorch loop of the same model, in one run.

Model: 784-512-256-16 (ReLU), diagonal-Gaussian encoder, Bernoulli decoder on grey-level MNIST,
Adam 1e-3, batch 128, 10 epochs, full MNIST, no validation split. Same init in both: Glorot-uniform
weights and zero biases (aekit's default; the hand loop applies it with common.glorot_). What
differs: aekit clamps the encoder's log σ² to [−12, 8] (its default; no clamp in the hand loop),
and each draws its own shuffling and noise. Variants run in their own processes, interleaved over
repeats. Reported: median epoch time (epochs after the first) and test −ELBO in nats (analytic KL,
reconstruction averaged over 10 posterior samples, same code for both).

    python benchmarks/bench_vae.py --epochs 10 --repeats 3
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apply_options, bench_parser, child_output, epoch_summary, glorot_, interleaved, mnist, save  # noqa: E402

VARIANTS = ["hand-adam", "hand-adam-fused", "aekit"]
INIT = "same init in both: Glorot-uniform weights, zero biases"
DIFFERENCES = "aekit clamps the encoder's log-variance to [-12, 8] (the hand loop does not); each draws its own shuffling and noise"


def neg_elbo(posterior, decode_logits, x, samples: int = 10, seed: int = 0) -> float:
    """Mean −ELBO (nats) with analytic KL; x flat (N, 784) in [0, 1]."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            xb = x[i: i + 1000]
            mu, logvar = posterior(xb)
            kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
            rec = 0.0
            for _ in range(samples):
                z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)
                rec = rec + F.binary_cross_entropy_with_logits(decode_logits(z).reshape(len(xb), -1), xb, reduction="none").sum(1)
            total += float((rec / samples + kl).sum())
    return total / len(x)


def hand(epochs: int, fused: bool, seed: int, bf16: bool = False) -> tuple[list[float], float]:
    """The hand-written loop; ``bf16``: the networks under torch.autocast(bfloat16), the loss in fp32
    (bench_peers.py's hand-bf16)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    x = torch.from_numpy(x_train).reshape(len(x_train), -1)
    enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 32))
    dec = nn.Sequential(nn.Linear(16, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 784))
    glorot_(enc, dec)  # aekit's init: like for like
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3, fused=fused or None)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), 128):
            xb = x[perm[i: i + 128]]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                mu, logvar = enc(xb).float().chunk(2, dim=1)
                z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
                logits = dec(z).float()
            rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
            kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum()
            loss = (rec + kl) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        times.append(time.perf_counter() - t0)
    xt = torch.from_numpy(x_test).reshape(len(x_test), -1)
    return times, neg_elbo(lambda b: enc(b).chunk(2, dim=1), dec, xt)


def with_aekit(epochs: int, seed: int) -> tuple[list[float], float]:
    import logging

    import torch

    from aekit.config import TrainConfig
    from aekit.models import build_model
    from aekit.train import Trainer

    logging.disable(logging.WARNING)
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    model = build_model("vae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[512, 256], latent_dim=16)
    hist = Trainer(model, TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True), progress=False).fit(x_train)
    model.eval()
    xt = torch.from_numpy(x_test).reshape(len(x_test), -1)
    return [r["epoch_time_s"] for r in hist], neg_elbo(lambda b: model.posterior(b), lambda z: model.decoder_params(z), xt)


def main() -> None:
    a = apply_options(bench_parser(__doc__, VARIANTS).parse_args())
    if a.child:
        times, elbo = with_aekit(a.epochs, a.seed) if a.child == "aekit" else hand(a.epochs, a.child.endswith("fused"), a.seed)
        child_output(a.child, times, test_neg_elbo=elbo)
        return
    runs = interleaved(__file__, a.variants.split(","), a.epochs, a.repeats, a.seed, seed_step=1)
    summary = epoch_summary(runs)
    for v, rs in runs.items():
        el = [res["test_neg_elbo"] for res in rs if "error" not in res]
        if el:
            summary[v].update({"test_neg_elbo_mean": statistics.mean(el), "test_neg_elbo_all": el})
    path = save("vae", {"benchmark": "vae", "epochs": a.epochs, "repeats": a.repeats, "init": INIT,
                        "differences": DIFFERENCES, "summary": summary, "runs": runs})
    print("| variant | median s/epoch | ratio to hand-written (Adam) | test −ELBO (nats, mean of repeats) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for v, s in summary.items():
        if "error" in s:
            print(f"| {v} | failed (see the JSON) |")
            continue
        print(f"| {v} | {s['median_epoch_s']:.3f} | {s.get('ratio_to_hand_adam', float('nan')):.3f} | "
              f"{s['test_neg_elbo_mean']:.2f} | {s['peak_rss_mb']:.0f} |")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
