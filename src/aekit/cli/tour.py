"""aekit tour (every family on the embedded default, one HTML page beside the lecture)."""
from __future__ import annotations

import argparse
import textwrap

from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    from ..tasks.tour import DEFAULT_EPOCHS, NLL_K, QUICK_EPOCHS, QUICK_LIMIT

    p = sub.add_parser(
        "tour", help="train every family on the embedded digits (quick settings) and write one page beside the lecture",
        formatter_class=HelpFormatter,
        description=textwrap.fill("Train every model family on the embedded digits (mnist-sample) with quick settings, then write "
                    "OUT/tour.html: a comparison table (test MSE, 5-NN accuracy of the codes, NLL where defined, "
                    "parameters, train time) and the lecture's figures, each with a caption. Every run is a run folder "
                    "under OUT/runs/ (aekit evaluate works on it); running the tour again reuses the finished runs, "
                    "resumes interrupted ones and continues them to a larger --epochs.", 100))
    p.add_argument("--out", default="tour", help="folder of the page (tour.html, tour.json) and the runs [default: tour]")
    p.add_argument("--families", default=None, metavar="NAMES",
                   help="comma-separated presets, e.g. ae,vae,aae (`aekit models` lists them) [default: every family]")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs per family; the linear AE takes max(20, 4 × epochs) [default: {DEFAULT_EPOCHS}, "
                        f"--quick: {QUICK_EPOCHS}]")
    p.add_argument("--limit", type=int, default=None,
                   help=f"train on the first N of the 10,000 training digits [default: all, --quick: {QUICK_LIMIT}]")
    p.add_argument("--quick", action="store_true",
                   help=f"a rougher, faster tour: {QUICK_EPOCHS} epochs on {QUICK_LIMIT:,} digits (--epochs and --limit win)")
    p.add_argument("--nll-k", type=int, default=NLL_K, help=f"importance samples of the NLL column [default: {NLL_K}]")
    p.add_argument("--seed", type=int, default=0, help="seed of every run [default: 0]")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def cmd_tour(a: argparse.Namespace) -> int:
    import sys

    from ..tasks.tour import tour
    from ..train import TrainingInterrupted

    try:
        page = tour(a.out, families=a.families, epochs=a.epochs, limit=a.limit, seed=a.seed, quick=a.quick, nll_k=a.nll_k,
                    progress=not a.quiet)
    except TrainingInterrupted as e:
        where = f"checkpoint written to {e.checkpoint}" if e.checkpoint else "the last epoch's checkpoint is kept"
        print(f"\ninterrupted: {where}; run the same aekit tour command again to go on (finished runs are reused)",
              file=sys.stderr)
        return 130
    print(f"tour page: {page}")
    print(f"  open it in a browser; its numbers are in {page.parent / 'tour.json'}, the runs in {page.parent / 'runs'}")
    return 0


COMMANDS = {"tour": cmd_tour}
