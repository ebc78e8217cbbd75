"""``aekit report RUN``: build report.html from a run folder, or from its last checkpoint (a run that
was interrupted with Ctrl-C, or is still training)."""
from __future__ import annotations

import argparse

from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("report", help="build report.html of a run (finished, interrupted or still training)",
                       formatter_class=HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("--checkpoint", default=None, choices=["last", "best"],
                   help="report the weights of this checkpoint (best: the best validation epoch, written only with early "
                        "stopping) [default: model.safetensors, else the last checkpoint]")
    p.add_argument("--out", default=None, help="output file [default: RUN/report.html]")


def cmd_report(a: argparse.Namespace) -> int:
    from ..runreport import write_run_report

    path, source = write_run_report(a.run, checkpoint=a.checkpoint, out=a.out)
    print(f"report of {source} written to {path}")
    return 0


COMMANDS = {"report": cmd_report}
