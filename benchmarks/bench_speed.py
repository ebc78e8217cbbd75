"""Epoch time, test loss and peak memory: aekit's Trainer in fp32, bf16 and bf16 + torch.compile vs
hand-written PyTorch loops of the same model, in one run.

Model: MLP 784-512-256-32 (ReLU), Bernoulli likelihood (BCE on logits), Adam 1e-3, batch 128,
Glorot-uniform weights and zero biases in every variant, full MNIST (60,000 digits), no validation
split. Variants:

  hand-adam           the plain fp32 loop a careful user writes: the digits in one tensor, a randperm
                      per epoch, Adam(), loss.item() every step
  hand-adam-fused     the same with Adam(fused=True)
  hand-bf16           the fused loop with torch.autocast(bfloat16) around the forward pass; the loss
                      in fp32 on the float() logits
  aekit               Trainer, train.precision=fp32
  aekit-bf16          train.precision=bf16
  aekit-bf16-compile  train.precision=bf16, train.compile=true

Each variant runs in its own process (so peak memory is its own), the variants interleaved over
repeats because this VM's timings wander ±15-20% from run to run. Reported: the median epoch time
over every epoch after the first of every repeat, the first epoch apart (torch.compile's cost is
there: every compiling child starts from an empty compile cache of its own), the ratio to hand-adam, the test BCE (nats per digit) of the 10,000 test digits after
training, computed for every variant by the same fp32 function, its relative difference to aekit
fp32, and peak memory: max RSS, and on CUDA torch.cuda.max_memory_allocated. On CUDA every epoch
ends with torch.cuda.synchronize() before the clock is read; aekit's epochs are timed from one
epoch's end to the next (the first from the call of fit).

    python benchmarks/bench_speed.py --epochs 10 --repeats 3 [--device cuda]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cold_compile_cache, epoch_summary, glorot_, mnist, save, speed_runs, sync  # noqa: E402

VARIANTS = ["hand-adam", "hand-adam-fused", "hand-bf16", "aekit", "aekit-bf16", "aekit-bf16-compile"]
AIM = {"ratio_to_hand_adam": 0.65, "test_bce_rel": 0.005}


def build_net():
    from torch import nn

    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 32))
    dec = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 784))
    net = nn.Sequential(enc, dec)
    glorot_(net)
    return net


def test_bce(logits_of, x_test, device) -> float:
    """Mean BCE (nats per digit) of the test digits, in fp32: the one function every variant is scored by."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(x_test).reshape(len(x_test), -1).to(device)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            xb = x[i: i + 1000]
            total += float(F.binary_cross_entropy_with_logits(logits_of(xb).float().reshape(len(xb), -1), xb, reduction="sum"))
    return total / len(x)


def hand_loop(variant: str, epochs: int, seed: int, device: str) -> tuple[list[float], float, str]:
    import torch
    import torch.nn.functional as F

    dev = torch.device(device)
    bf16 = variant == "hand-bf16"
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    x = torch.from_numpy(x_train).reshape(len(x_train), -1).to(dev)
    net = build_net().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=(variant != "hand-adam") or None)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), device=dev)
        total = 0.0
        for i in range(0, len(x), 128):
            xb = x[perm[i: i + 128]]
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net(xb)
            loss = F.binary_cross_entropy_with_logits(logits.float(), xb, reduction="sum") / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        sync(dev)
        times.append(time.perf_counter() - t0)
    return times, test_bce(net, x_test, dev), "bf16" if bf16 else "fp32"


def aekit_loop(variant: str, epochs: int, seed: int, device: str) -> tuple[list[float], float, str]:
    import logging

    if variant.endswith("-compile"):  # a cold compile in every repeat, whatever ran before: its cost is in the first epoch
        cold_compile_cache()
    import numpy as np
    import torch

    from aekit.config import TrainConfig
    from aekit.models import build_model
    from aekit.train import Trainer

    logging.disable(logging.INFO)
    x_train, _, x_test, _ = mnist()
    torch.manual_seed(seed)
    model = build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[512, 256], latent_dim=32)
    cfg = TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True, device=device,
                      precision="fp32" if variant == "aekit" else "bf16", compile=variant.endswith("-compile"))
    # a process's first optimiser imports torch._dynamo (seconds): the hand loops make theirs before their
    # clock starts, so this one is made here, before aekit's clock starts
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    ends: list[float] = []
    trainer = Trainer(model, cfg, progress=False, callbacks=[lambda row: (sync(device), ends.append(time.perf_counter()))])
    t0 = time.perf_counter()
    trainer.fit(x_train)
    model.eval()
    bce = test_bce(lambda b: model.decoder_params(model.code(b)), x_test, trainer.device)
    return np.diff([t0, *ends]).tolist(), bce, trainer.precision  # the precision it trained in (bf16 may fall back)


def summarise(runs: dict[str, list[dict]]) -> tuple[dict, dict]:
    """The per-variant summary, and the verdict: fastest variant, whether compile helped, the aim."""
    summary = epoch_summary(runs)
    for v, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if ok:
            summary[v].update({"precision": ok[0]["precision"], "test_bce_mean": statistics.mean(r["test_bce"] for r in ok),
                               "test_bce_all": [r["test_bce"] for r in ok]})
    ref = summary.get("aekit", {}).get("test_bce_mean")
    for s in summary.values():
        if ref and "test_bce_mean" in s:
            s["test_bce_rel_to_aekit_fp32"] = s["test_bce_mean"] / ref - 1
    timed = {v: s["median_epoch_s"] for v, s in summary.items() if "median_epoch_s" in s}
    verdict: dict = {"fastest": min(timed, key=timed.get) if timed else None}
    plain, compiled = summary.get("aekit-bf16", {}), summary.get("aekit-bf16-compile", {})
    if "median_epoch_s" in plain and "median_epoch_s" in compiled:
        verdict.update({"compile_helped": compiled["median_epoch_s"] < plain["median_epoch_s"],
                        "compile_speedup_after_first_epoch": plain["median_epoch_s"] / compiled["median_epoch_s"],
                        "compile_first_epoch_extra_s": compiled["median_first_epoch_s"] - plain["median_first_epoch_s"]})
    fast = min((v for v in ("aekit-bf16", "aekit-bf16-compile") if v in timed), key=timed.get, default=None)
    if fast and "ratio_to_hand_adam" in summary[fast] and "test_bce_rel_to_aekit_fp32" in summary[fast]:
        s = summary[fast]
        verdict["aim"] = {"target": f"aekit bf16 <= {AIM['ratio_to_hand_adam']}x hand-adam's epoch time, "
                                    f"test BCE within {AIM['test_bce_rel']:.1%} of aekit fp32",
                          "variant": fast, "ratio_to_hand_adam": s["ratio_to_hand_adam"],
                          "test_bce_rel_to_aekit_fp32": s["test_bce_rel_to_aekit_fp32"],
                          "met": s["ratio_to_hand_adam"] <= AIM["ratio_to_hand_adam"]
                          and abs(s["test_bce_rel_to_aekit_fp32"]) <= AIM["test_bce_rel"]}
    return summary, verdict


def table(summary: dict) -> str:
    cuda = any("peak_cuda_mb" in s for s in summary.values())
    head = "| variant | precision | first epoch s | median s/epoch | ratio to hand-adam | test BCE (nats) | vs aekit fp32 | peak RSS MB |"
    rows = [head + (" peak CUDA MB |" if cuda else ""), "|---|---|" + "---:|" * (6 + cuda)]
    for v, s in summary.items():
        if "error" in s:
            rows.append(f"| {v} | failed: {s['error'].strip().splitlines()[-1][:80]} |")
            continue
        rel = s.get("test_bce_rel_to_aekit_fp32")
        rows.append(f"| {v} | {s['precision']} | {s['median_first_epoch_s']:.3f} | {s['median_epoch_s']:.3f} | "
                    f"{s.get('ratio_to_hand_adam', float('nan')):.3f} | {s['test_bce_mean']:.2f} | "
                    f"{'n/a' if rel is None else f'{rel:+.2%}'} | {s['peak_rss_mb']:.0f} |"
                    + (f" {s.get('peak_cuda_mb', float('nan')):.0f} |" if cuda else ""))
    return "\n".join(rows)


def main() -> None:
    got = speed_runs(__doc__, VARIANTS, __file__, aekit_loop, hand_loop)
    if got is None:
        return
    a, runs = got
    summary, verdict = summarise(runs)
    path = save("speed" if a.device == "cpu" else f"speed_{a.device}",
                {"benchmark": "speed", "device": a.device, "epochs": a.epochs, "repeats": a.repeats,
                 "init": "Glorot-uniform weights, zero biases in every variant", **verdict, "summary": summary, "runs": runs})
    print(table(summary))
    print(f"fastest: {verdict['fastest']}; compile helped: {verdict.get('compile_helped', 'not measured')}; "
          f"aim met: {verdict.get('aim', {}).get('met', 'not measured')}")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
