"""aekit map (2-D map of a run's codes, PCA or t-SNE, coloured by label) and aekit compare-manifold (AE, VAE, PCA, Isomap, LLE, t-SNE side by side)."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    pass


COMMANDS: dict = {}
