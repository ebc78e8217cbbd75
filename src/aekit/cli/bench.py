"""aekit benchmark (one table of BENCHMARKS.md: run it, write benchmarks/results/NAME.json)."""
from __future__ import annotations

import argparse
import json

from ..errors import AekitError
from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("benchmark", help="run one benchmark table (from an aekit checkout) into benchmarks/results/NAME.json",
                       formatter_class=HelpFormatter)
    p.add_argument("name", nargs="?", default=None, help="the table (see --list)")
    p.add_argument("--list", action="store_true", help="the tables, one line each, with the published figures they are held against")
    p.add_argument("--quick", action="store_true", help="the smoke variant (a minute or less on 2 CPU cores; checks the harness, "
                                                        "not the figures): written under benchmarks/results/quick/")
    p.add_argument("--seeds", default=None, metavar="LIST", help="comma-separated seeds (tables that take them) [default: the table's]")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"], help="where to run (tables that take it) [default: the table's]")
    p.add_argument("--resume", action="store_true", help="continue the table's runs from their checkpoints (tables that keep "
                                                         "their runs; a long CPU table across sessions) instead of training them again")
    p.add_argument("--json", action="store_true", help="with --list: the tables as JSON")


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise AekitError(f"--seeds takes comma-separated integers, got {text!r}", "e.g. --seeds 0,1,2") from None
    if not seeds:
        raise AekitError("--seeds is empty", "e.g. --seeds 0,1,2")
    return seeds


def cmd_benchmark(a: argparse.Namespace) -> int:
    from ..bench import TABLES, run_table, table_args

    if a.list:
        if a.name or a.quick or a.seeds or a.device or a.resume:
            raise AekitError("--list takes no table or options", "aekit benchmark --list")
        if a.json:
            print(json.dumps({n: {"title": t.title, "script": t.script, "full": " ".join(t.full), "quick": " ".join(t.quick),
                                  "published": t.published} for n, t in TABLES.items()}, indent=1))
            return 0
        for n, t in TABLES.items():
            pub = "; ".join(f"{k} {v['value']}{v['unit'] if v['unit'] == '%' else ' ' + v['unit']}" for k, v in t.published.items())
            print(f"{n:<20} {t.title}" + (f"\n{'':<20} published: {pub}" if pub else ""))
        return 0
    if a.json:
        raise AekitError("--json goes with --list", "drop --json")
    if not a.name:
        raise AekitError("no table given", "aekit benchmark NAME (aekit benchmark --list shows them)")
    if a.name in TABLES:
        table_args(TABLES[a.name], a.quick, _seeds(a.seeds), a.device, a.resume)  # refuse options before anything runs
    path = run_table(a.name, a.quick, _seeds(a.seeds), a.device, resume=a.resume)
    print(f"written: {path}")
    return 0


COMMANDS = {"benchmark": cmd_benchmark}
