"""aekit tour (every family on the embedded default, one HTML page beside the lecture)."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    pass


COMMANDS: dict = {}
