"""Epoch time of the conv AE: aekit's Trainer against a hand-written loop of the same network, in one
interleaved run (the issue's aim: aekit within 10% of the hand loop in fp32).

Network: aekit's own ConvEncoder / ConvDecoder (channels 32, 64; kernel 3; stride 2; ReLU; code 32;
transposed-convolution decoder), so the variants differ only in the loop around it. Bernoulli
likelihood (BCE on logits, summed per digit, batch mean), Adam 1e-3, batch 128, MNIST training digits
(the first --limit of them), no validation split. Variants:

  hand                    the plain fp32 loop: the digits in one tensor, a randperm per epoch, loss.item() per step
  hand-cl                 the same with the network and each batch in channels_last memory format
  hand-bf16               the hand loop under torch.autocast(bfloat16) (the loss in fp32 on the float() logits)
  hand-bf16-cl            hand-bf16 in channels_last
  aekit                   Trainer, train.precision=fp32, train.memory_format=auto (contiguous on the CPU)
  aekit-cl                Trainer, fp32, train.memory_format=channels_last
  aekit-bf16              Trainer, train.precision=bf16, memory_format auto
  aekit-bf16-cl           Trainer, bf16, memory_format channels_last
  aekit-bf16-compile      Trainer, bf16, train.compile=true (a cold compile in the first epoch of every repeat)

Reported: the median epoch time over every epoch after the first of every repeat, the ratio to
`hand` (and to `hand-cl`, the faster fp32 hand loop here), and the test BCE (nats per digit) of the
10,000 test digits by one fp32 function.

    python benchmarks/bench_conv_speed.py --epochs 3 --repeats 2 --limit 20000
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import test_bce  # noqa: E402
from common import cold_compile_cache, epoch_summary, mnist, save, speed_runs, sync  # noqa: E402

VARIANTS = ["hand", "hand-cl", "hand-bf16", "hand-bf16-cl", "aekit", "aekit-cl", "aekit-bf16", "aekit-bf16-cl", "aekit-bf16-compile"]
AIM = 1.10  # aekit fp32 within 10% of the hand loop


def build_net():
    from torch import nn

    from aekit.nets.conv import ConvDecoder, ConvEncoder

    kw = dict(channels=[32, 64], kernel=3, stride=2, activation="relu")
    return nn.ModuleDict({"enc": ConvEncoder((1, 28, 28), 32, **kw), "dec": ConvDecoder((1, 28, 28), 32, **kw)})


def hand_loop(variant: str, epochs: int, seed: int, device: str) -> tuple[list[float], float, str]:
    import torch
    import torch.nn.functional as F

    dev = torch.device(device)
    bf16, cl = "bf16" in variant, variant.endswith("-cl")
    fmt = torch.channels_last if cl else torch.contiguous_format
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    x = torch.from_numpy(x_train).to(dev).contiguous(memory_format=fmt)
    net = build_net().to(dev, memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=("fused" in variant) or None)  # "fused": bench_peers.py's names
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), device=dev)
        total = 0.0
        for i in range(0, len(x), 128):
            xb = x[perm[i: i + 128]].contiguous(memory_format=fmt)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net["dec"](net["enc"](xb))
            loss = F.binary_cross_entropy_with_logits(logits.float(), xb, reduction="sum") / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        sync(dev)
        times.append(time.perf_counter() - t0)
    net.eval()
    return times, test_bce(lambda b: net["dec"](net["enc"](b.reshape(-1, 1, 28, 28))), x_test, dev), "bf16" if bf16 else "fp32"


def aekit_loop(variant: str, epochs: int, seed: int, device: str) -> tuple[list[float], float, str]:
    import logging

    if variant.endswith("-compile"):
        cold_compile_cache()
    import numpy as np
    import torch

    from aekit.config import TrainConfig
    from aekit.models import build_model
    from aekit.train import Trainer

    logging.disable(logging.INFO)
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    model = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", net="conv", channels=[32, 64], latent_dim=32)
    cfg = TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True, device=device,
                      precision="bf16" if "bf16" in variant else "fp32", compile=variant.endswith("-compile"),
                      memory_format="channels_last" if variant.endswith("-cl") else "auto")
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # the first optimiser's import, outside the clock (as in bench_speed)
    ends: list[float] = []
    trainer = Trainer(model, cfg, progress=False, callbacks=[lambda row: (sync(device), ends.append(time.perf_counter()))])
    t0 = time.perf_counter()
    trainer.fit(x_train)
    model.eval()
    bce = test_bce(lambda b: model.decoder_params(model.code(b.reshape(-1, 1, 28, 28))), x_test, trainer.device)
    return np.diff([t0, *ends]).tolist(), bce, trainer.precision


def main() -> None:
    got = speed_runs(__doc__, VARIANTS, __file__, aekit_loop, hand_loop)
    if got is None:
        return
    a, runs = got
    summary = epoch_summary(runs)
    hand = summary.get("hand", {}).get("median_epoch_s")
    hand_cl = summary.get("hand-cl", {}).get("median_epoch_s")
    for v, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if ok:  # a subset of the variants (--variants) may leave out the hand loops the ratios are to
            summary[v].update(precision=ok[0]["precision"], test_bce_mean=sum(r["test_bce"] for r in ok) / len(ok),
                              ratio_to_hand=summary[v]["median_epoch_s"] / hand if hand else None,
                              ratio_to_hand_cl=summary[v]["median_epoch_s"] / hand_cl if hand_cl else None)
    ratio = summary.get("aekit", {}).get("ratio_to_hand")
    verdict = {"aim": {"target": f"aekit fp32 epoch time <= {AIM}x the hand loop's", "ratio": ratio,
                       "met": None if ratio is None else ratio <= AIM}}  # None: aekit or hand not run
    path = save("conv_speed" if a.device == "cpu" else f"conv_speed_{a.device}",
                {"benchmark": "conv_speed", "device": a.device, "epochs": a.epochs, "repeats": a.repeats, **verdict,
                 "summary": summary, "runs": runs})
    for v, s in summary.items():
        if "median_epoch_s" in s:
            ratio = "n/a" if s["ratio_to_hand"] is None else f"{s['ratio_to_hand']:.3f}"
            print(f"{v:<13} {s['precision']:<5} median {s['median_epoch_s']:.2f} s/epoch  ratio {ratio}  "
                  f"test BCE {s['test_bce_mean']:.2f}")
    met = verdict["aim"]["met"]
    print(f"aim met: {'not measured' if met is None else met}; written: {path}")


if __name__ == "__main__":
    main()
