"""Every benchmark in turn (``make bench``): acceptance figures, then speed."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for script in ("acceptance.py", "bench_speed.py"):
    subprocess.run([sys.executable, str(HERE / script)], check=True)
