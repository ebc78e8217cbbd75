"""The ``aekit`` command. Every train flag is also a config key (YAML or ``--set``).

One module per group of commands: train.py (train, models), use.py (evaluate, encode, reconstruct,
sample, interpolate, compare-latents), tasks.py (finetune, classify, denoise), maps.py (map,
compare-manifold), retrieve.py (retrieve), anomalies.py (anomalies), tour.py (tour), explore.py (explore),
export.py (export), bench.py (benchmark), describe.py
(describe), report.py (report), data.py (datasets). Each registers its
sub-commands with ``add(sub)`` and a name → function map, ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import AekitError
from . import anomalies as anomaly_cmds
from . import bench as bench_cmds
from . import data as data_cmds
from . import describe as describe_cmds
from . import explore as explore_cmds
from . import export as export_cmds
from . import maps as map_cmds
from . import report as report_cmds
from . import retrieve as retrieve_cmds
from . import tasks as task_cmds
from . import tour as tour_cmds
from . import train as train_cmds
from . import use as use_cmds

GROUPS = (train_cmds, use_cmds, task_cmds, map_cmds, retrieve_cmds, anomaly_cmds, tour_cmds, explore_cmds, export_cmds,
          describe_cmds, report_cmds, data_cmds, bench_cmds)


def build_parser(model: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``model`` makes `train --help` show that preset's defaults."""
    parser = argparse.ArgumentParser(prog="aekit", description="Autoencoders: train, evaluate, encode, reconstruct, generate.")
    parser.add_argument("--version", action="version", version=f"aekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.add(sub, model)
    return parser


def _model_in(argv: list[str]) -> str | None:
    """The value of ``--model`` in a train command line (for per-model help), if any."""
    for i, a in enumerate(argv):
        if a == "--model" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--model="):
            return a.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    model = _model_in(argv) if argv[:1] == ["train"] else None
    try:
        parser = build_parser(model)
    except AekitError:  # an unknown --model: parse with the defaults, then train reports it
        parser = build_parser(None)
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return 2
    quiet = getattr(a, "quiet", False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    from ..train import TrainingInterrupted

    commands = {name: fn for group in GROUPS for name, fn in group.COMMANDS.items()}
    try:
        return commands[a.command](a)
    except AekitError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  fix: {e.hint}", file=sys.stderr)
        return 2
    except TrainingInterrupted as e:
        where = f"checkpoint written to {e.checkpoint}" if e.checkpoint else "the last epoch's checkpoint is kept"
        print(f"\ninterrupted: {where}; continue with --resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser"]
