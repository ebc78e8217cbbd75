"""aekit anomalies (anomaly scores of a run on data, thresholds, ROC-AUC / AP)."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    pass


COMMANDS: dict = {}
