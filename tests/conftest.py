"""Shared test set-up: one torch thread, and the shared data folder as AEKIT_DATA_DIR."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AEKIT_DATA_DIR") or REPO.parent / "shared" / "data")
os.environ.setdefault("AEKIT_DATA_DIR", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data sets (``$AEKIT_DATA_DIR`` or ``<repo>/../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(reason=f"shared data folder {SHARED_DATA} not found (set AEKIT_DATA_DIR)")
    return SHARED_DATA


def small_m1(tmp_path: Path) -> Path:
    """A small VAE briefly trained on the embedded digits: the M1 an M1+M2 run builds on."""
    import aekit

    return aekit.train_run("vae", "mnist-sample", out=Path(tmp_path) / "m1", hidden=[64], latent_dim=8, epochs=2,
                           batch_size=32, lr=3e-3, limit=1200, seed=0, quiet=True)


def interrupt_on_call(monkeypatch: pytest.MonkeyPatch, n: int) -> dict[str, int]:
    """Make the n-th training forward pass raise KeyboardInterrupt before it does anything.

    The trainer calls ``model(x, y, phase=...)`` once per batch and phase; validation and test
    figures call ``model.loss`` directly, so only training batches are counted.
    """
    from aekit.models.base import Autoencoder

    calls = {"n": 0}
    original = Autoencoder.forward

    def forward(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Autoencoder, "forward", forward)
    return calls


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run the aekit command in-process: (exit code, stdout, stderr); argparse exits become codes."""
    from aekit.cli import main

    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors and --help
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_user_error(rc: int, err: str, *needles: str) -> None:
    """Exit code 2, ``error: ...`` then a ``fix:`` line on stderr, never a traceback."""
    assert rc == 2, err
    assert err.startswith("error:"), err
    assert "fix:" in err, err
    assert "Traceback" not in err, err
    for n in needles:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"
