"""aekit retrieve (nearest neighbours in code space, precision@k; semantic hashing with Hamming search)."""
from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    pass


COMMANDS: dict = {}
