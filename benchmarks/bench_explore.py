"""Load test of the latent-space explorer's decode endpoint on 127.0.0.1 (``aekit explore``).

    python benchmarks/bench_explore.py                 # VAE (MLP) and conv AE on MNIST, 8 clients × 200
    python benchmarks/bench_explore.py --clients 4 --requests 50

For each run: the server is `aekit explore RUN --port 0` in its own process (torch at its default
threads); this process first sends 200 sequential decodes (one slider dragged: the update latency a
user sees), then --clients threads each send --requests decodes at once (keep-alive connections,
random codes within the sliders' ranges, seeded). Every response is checked: status 200 and a PNG
of the model's image size. Latencies are wall-clock per request from this process (p50, p95, p99,
max), throughput is requests per second over the concurrent phase. The runs: a VAE with aekit's
default MLP (784-512-256-16) and a conv AE (code 16), 1 epoch on the 60,000 MNIST training digits
(the latency does not depend on how well they are trained). Run it alone: other jobs on the cores
change every figure.
"""
from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apply_options, parser, save, train_run  # noqa: E402

RUNS = {"vae-mlp": ("vae", {"latent_dim": 16}), "ae-conv": ("ae", {"net": "conv", "latent_dim": 16})}


def start_server(run: Path, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "aekit.cli", "explore", str(run), "--port", "0", "-n", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        m = re.search(r"at (http://\S+)", line)
        if m:
            return proc, m.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("the explorer did not start")


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"n": len(a), "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()), "mean_ms": float(a.mean())}


def codes_for(info: dict, n: int, seed: int) -> np.ndarray:
    """Codes a user's sliders make: the mean, slider dims uniform within their ranges."""
    rng = np.random.default_rng(seed)
    z = np.tile(np.asarray(info["mean"], np.float64), (n, 1))
    for s in info["sliders"]:
        z[:, s["dim"]] = rng.uniform(s["min"], s["max"], n)
    return z


def check(r, shape: tuple[int, ...]) -> str | None:
    from PIL import Image

    if r.status_code != 200 or r.headers.get("content-type") != "image/png":
        return f"status {r.status_code}"
    size = Image.open(io.BytesIO(r.content)).size
    return None if size == (shape[-1], shape[-2]) else f"image {size}"


def drive(url: str, clients: int, requests: int, seed: int) -> dict:
    import httpx

    info = httpx.get(url + "api/info").json()
    shape = tuple(info["input_shape"])
    with httpx.Client(base_url=url) as c:  # warm-up, then one slider dragged
        for z in codes_for(info, 20, seed + 99):
            c.post("/api/decode", json={"z": z.tolist()})
        seq, errors = [], []
        for z in codes_for(info, 200, seed):
            t0 = time.perf_counter()
            r = c.post("/api/decode", json={"z": z.tolist()})
            seq.append((time.perf_counter() - t0) * 1e3)
            if (e := check(r, shape)) is not None:
                errors.append(e)
    lat: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        zs = codes_for(info, requests, seed + 1 + i)
        with httpx.Client(base_url=url, timeout=60) as c:
            barrier.wait()
            for z in zs:
                t0 = time.perf_counter()
                r = c.post("/api/decode", json={"z": z.tolist()})
                lat[i].append((time.perf_counter() - t0) * 1e3)
                if (e := check(r, shape)) is not None:
                    errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    flat = [v for li in lat for v in li]
    return {"model": info["model"], "latent_dim": info["latent_dim"], "input_shape": list(shape),
            "sequential": percentiles(seq), "concurrent": {**percentiles(flat), "clients": clients, "requests_per_client": requests,
                                                           "requests_per_s": len(flat) / wall, "wall_s": wall},
            "errors": len(errors), "error_examples": errors[:5]}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200, help="decode requests per client")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = apply_options(ap.parse_args())
    rows = {}
    for name, (model, opts) in RUNS.items():
        run, secs = train_run(f"explore-{name}", model, epochs=a.epochs, progress=False, quiet=True, **opts)
        proc, url = start_server(run)
        try:
            res = drive(url, a.clients, a.requests, a.seed)
        finally:
            proc.terminate()
            proc.wait(10)
        res["train_s"] = secs
        rows[name] = res
        s, c = res["sequential"], res["concurrent"]
        print(f"{name}: sequential p50 {s['p50_ms']:.2f} ms p95 {s['p95_ms']:.2f} ms; {a.clients} clients p50 {c['p50_ms']:.2f} ms "
              f"p95 {c['p95_ms']:.2f} ms, {c['requests_per_s']:.0f} req/s; errors {res['errors']}", flush=True)
    path = save("explore_load", {"protocol": {"clients": a.clients, "requests_per_client": a.requests, "sequential_requests": 200,
                                              "epochs": a.epochs, "seed": a.seed}, "runs": rows})
    print(f"written {path}")


if __name__ == "__main__":
    main()
