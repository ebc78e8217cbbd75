"""The lecture's uses of a trained autoencoder as commands: ``aekit finetune`` (pretraining →
fine-tuning with few labels, against the same network from scratch)."""
from __future__ import annotations

import argparse
import json

from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("finetune", help="the run's encoder + a softmax head, fine-tuned on N labels; against the same "
                                        "network from scratch", formatter_class=HelpFormatter)
    p.add_argument("run", help="run folder written by `aekit train` (on labelled data)")
    p.add_argument("--labels", default="100", help="labelled training examples, balanced over the classes (seeded), "
                                                   "or 'all' [default: 100]")
    p.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs [default: 30]")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate [default: 0.001]")
    p.add_argument("--batch-size", type=int, default=64, help="batch size [default: 64]")
    p.add_argument("--seed", type=int, default=0, help="seed of the label choice and the training [default: 0]")
    p.add_argument("--freeze", action="store_true", help="train the head alone (a linear probe of the codes)")
    p.add_argument("--no-scratch", action="store_true", help="skip the from-scratch baseline")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def cmd_finetune(a: argparse.Namespace) -> int:
    from ..errors import AekitError
    from ..tasks.finetune import finetune

    if a.labels == "all":
        labels = None
    else:
        try:
            labels = int(a.labels)
        except ValueError:
            raise AekitError(f"--labels {a.labels!r} is not a number", "give a count, e.g. --labels 100, or --labels all") from None
    if a.epochs < 1:
        raise AekitError(f"--epochs must be >= 1, got {a.epochs}")
    out = finetune(a.run, labels, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, seed=a.seed, freeze=a.freeze,
                   scratch=not a.no_scratch, progress=not a.json)
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['labels']} labels, {out['epochs']} epochs{' (encoder frozen)' if a.freeze else ''}: test accuracy "
              f"pretrained {out['pretrained_test_accuracy']:.4f}"
              + (f", from scratch {out['scratch_test_accuracy']:.4f}" if "scratch_test_accuracy" in out else ""))
    return 0


COMMANDS = {"finetune": cmd_finetune}
