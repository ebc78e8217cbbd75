"""The peers' virtual environments: benchmarks/.venvs/pythae and benchmarks/.venvs/keras (bench_peers.py),
benchmarks/.venvs/pyro (bench_pyro_ssvae.py),
made with ``python -m venv`` and pip, torch pinned to the very build aekit's environment has; each
records what it installed (pip freeze) for the results.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, ROOT  # noqa: E402

VENVS = HERE / ".venvs"
REQUIREMENTS = {"pythae": ["pythae"], "keras": ["keras"], "pyro": ["pyro-ppl"]}
# pythae's own requirements but torch (its METADATA), for the --no-deps fallback when its pins clash with the torch pin
PYTHAE_DEPS = ["cloudpickle>=2.1.0", "imageio", "numpy>=1.19", "pydantic>=2.0", "scikit-learn", "scipy>=1.7.1", "tqdm",
               "typing-extensions"]
KEY_PACKAGES = {"pythae": ("torch", "pythae", "numpy", "pydantic", "scipy", "scikit-learn", "cloudpickle", "tqdm", "imageio"),
                "keras": ("torch", "keras", "numpy", "ml-dtypes", "optree", "h5py", "absl-py", "rich", "namex", "packaging"),
                "pyro": ("torch", "pyro-ppl", "pyro-api", "opt-einsum", "numpy", "tqdm")}
IMPORT_CHECK = {"pythae": "import pythae, torch; from pythae.trainers import BaseTrainer; print(torch.__version__)",
                "keras": "import keras, torch; assert keras.backend.backend() == 'torch'; print(torch.__version__)",
                "pyro": "import pyro, torch; from pyro.infer import TraceEnum_ELBO; print(torch.__version__)"}
SETUP = {"pythae": "bench_peers.py", "keras": "bench_peers.py", "pyro": "bench_pyro_ssvae.py"}  # whose --setup-only makes it


def torch_pin() -> str:
    """The torch version of aekit's environment (e.g. 2.13.0+cpu): the peers' venvs get exactly this build."""
    return importlib.metadata.version("torch")


def venv_python(lib: str) -> Path:
    return VENVS / lib / "bin" / "python"


def _marker(lib: str) -> Path:
    return VENVS / lib / "aekit-setup.json"


def venv_state(lib: str) -> dict | None:
    """What setup_venv recorded for ``lib``, or None when its venv is missing, unfinished or pinned to another torch."""
    try:
        state = json.loads(_marker(lib).read_text())
    except (OSError, ValueError):
        return None
    if not venv_python(lib).exists() or state.get("torch_requested") not in (torch_pin(), torch_pin().split("+")[0]):
        return None
    return state


def _rel(p: str | Path) -> str:
    try:
        return str(Path(p).relative_to(ROOT))
    except ValueError:
        return str(p)


def setup_venv(lib: str) -> dict:
    """Create benchmarks/.venvs/<lib> anew: python -m venv, torch pinned first, then the library with the same
    pin as a constraint (pythae: --no-deps plus its other requirements if that clashes). Returns the record
    (commands, fallbacks, pip freeze) it also writes to the venv's aekit-setup.json."""
    d = VENVS / lib
    if d.exists():
        shutil.rmtree(d)
    VENVS.mkdir(parents=True, exist_ok=True)
    log_path = VENVS / f"{lib}-setup.log"
    steps: list[str] = []
    notes: list[str] = []
    print(f"setting up {_rel(d)} (one-time; pip log in {_rel(log_path)}) ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
            steps.append(shlex.join(_rel(c) if c.startswith(str(ROOT)) else c for c in cmd))
            log.write(f"$ {steps[-1]}\n")
            log.flush()
            return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=check, text=True, **kw)

        run([sys.executable, "-m", "venv", str(d)])
        py = str(venv_python(lib))
        pip = [py, "-m", "pip", "install", "--no-input"]
        pins = [torch_pin()] + ([torch_pin().split("+")[0]] if "+" in torch_pin() else [])
        for i, pin in enumerate(pins):
            if run([*pip, f"torch=={pin}"], check=i == len(pins) - 1).returncode == 0:
                break
            notes.append(f"torch=={pin} could not be installed; pinned torch=={pins[i + 1]} instead")
        constraints = d / "constraints.txt"
        constraints.write_text(f"torch=={pin}\n")
        if run([*pip, "-c", str(constraints), *REQUIREMENTS[lib]], check=lib != "pythae").returncode != 0:
            notes.append(f"pip could not install pythae with torch=={pin} (see {_rel(log_path)}): installed it with "
                         f"--no-deps, then its other requirements: {' '.join(PYTHAE_DEPS)}")
            run([*pip, "--no-deps", "pythae"])
            run([*pip, "-c", str(constraints), *PYTHAE_DEPS])
        env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(d / "keras_home")}
        got = subprocess.run([py, "-c", IMPORT_CHECK[lib]], capture_output=True, text=True, env=env, check=True).stdout.split()[-1]
        if got.split("+")[0] != pin.split("+")[0]:
            raise RuntimeError(f"{_rel(d)} has torch {got}, not the pinned {pin}")
        freeze = subprocess.run([py, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout.split()
    versions = {}
    for line in freeze:
        name, _, version = line.partition("==")
        if name.lower().replace("_", "-") in KEY_PACKAGES[lib]:
            versions[name] = version
    python = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True).stdout.strip()
    state = {"lib": lib, "venv": _rel(d), "created": time.strftime("%Y-%m-%d %H:%M"), "python": python,
             "torch_requested": pin, "torch": got, "commands": steps, "notes": notes, "versions": versions,
             "pip_freeze": freeze, "setup_s": round(time.perf_counter() - t0, 1)}
    _marker(lib).write_text(json.dumps(state, indent=1))
    print(f"{_rel(d)}: torch {got}, {', '.join(f'{k} {v}' for k, v in versions.items() if k != 'torch')} "
          f"({state['setup_s']:.0f} s)", file=sys.stderr, flush=True)
    return state


def ensure_venvs(libs: list[str], create: bool) -> tuple[dict, dict]:
    """({lib: setup record} of the venvs ready, {lib: why skipped}); missing venvs are made when ``create``."""
    ready, skipped = {}, {}
    for lib in libs:
        state = venv_state(lib)
        if state is None and not create:
            skipped[lib] = f"venv missing: run python benchmarks/{SETUP[lib]} --setup-only"
            continue
        if state is None:
            try:
                state = setup_venv(lib)
            except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
                tail = (VENVS / f"{lib}-setup.log").read_text()[-1500:] if (VENVS / f"{lib}-setup.log").exists() else ""
                skipped[lib] = f"venv setup failed: {e}\n{tail}"
                print(f"{lib}: venv setup failed: {e}", file=sys.stderr, flush=True)
                continue
        ready[lib] = state
    return ready, skipped


