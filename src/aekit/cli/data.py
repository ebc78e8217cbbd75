"""``aekit datasets``: the named data sets and whether each is available locally."""
from __future__ import annotations

import argparse

from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("datasets", help="the named data sets and whether each is available locally", formatter_class=HelpFormatter)
    p.add_argument("--data-dir", default=None, help="folder to look in [default: $AEKIT_DATA_DIR, else ~/.cache/aekit]")


def cmd_datasets(a: argparse.Namespace) -> int:
    from ..data import data_dir, dataset_status

    root = data_dir(a.data_dir)
    rows = dataset_status(root)
    w = max(len(n) for n, _, _ in rows)
    print(f"data directory: {root}")
    for name, describe, ok in rows:
        print(f"{name:<{w}}  {'available' if ok else 'download':<9}  {describe}")
    return 0


COMMANDS = {"datasets": cmd_datasets}
