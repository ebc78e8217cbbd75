"""Every benchmark of ``make bench``, in turn, from the repository root (about 1.5 hours on 2 CPU cores):

    python benchmarks/acceptance.py
    python benchmarks/bench_speed.py --epochs 10 --repeats 3
    python benchmarks/bench_vae.py --epochs 10 --repeats 3
    python benchmarks/probabilistic.py latents --epochs 10
    python benchmarks/bench_conv_speed.py --epochs 3 --repeats 6 --limit 20000

The long ones are ``make bench-long`` (VAE NLL, semi-supervised), ``make bench-networks`` and
``make bench-uses`` (one-class MNIST, retrieval, the pretraining tables). Arguments given to this script
are appended to every command (smoke runs: ``--limit 256 --results /tmp/smoke``).
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [
    ["benchmarks/acceptance.py"],
    ["benchmarks/bench_speed.py", "--epochs", "10", "--repeats", "3"],
    ["benchmarks/bench_vae.py", "--epochs", "10", "--repeats", "3"],
    ["benchmarks/probabilistic.py", "latents", "--epochs", "10"],
    ["benchmarks/bench_conv_speed.py", "--epochs", "3", "--repeats", "6", "--limit", "20000"],
]
for args in COMMANDS:
    args = [*args, *sys.argv[1:]]
    print("$ python " + " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)
