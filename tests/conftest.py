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


@pytest.fixture
def shared_data() -> Path:
    """The folder of real data sets (``$AEKIT_DATA_DIR`` or ``<repo>/../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(reason=f"shared data folder {SHARED_DATA} not found (set AEKIT_DATA_DIR)")
    return SHARED_DATA
