"""``aekit describe``: a model's networks layer by layer (output shapes, parameter counts), for a
trained run or for a config before training."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import AekitError


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    p = sub.add_parser("describe", help="the networks of a run or a config: shapes and parameters layer by layer",
                       description="Print the encoder's and decoder's layers with each output shape and parameter count. "
                                   "Give a run folder, or a config (--config YAML and/or --model/--data/--set) to see a "
                                   "model before training it (the data is read to learn its shape).")
    p.add_argument("run", nargs="?", default=None, help="a run folder")
    p.add_argument("--config", default=None, help="YAML file with data/model/train sections")
    p.add_argument("--model", default=None, help="model preset (with --config, or alone)")
    p.add_argument("--data", default=None, help="data set or path")
    p.add_argument("--net", default=None, help="network: mlp | conv | rnn | auto")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any config key (repeatable)")


def cmd_describe(a: argparse.Namespace) -> int:
    from ..nets.trace import describe_model

    print(describe_model(_model(a)))
    return 0


def _model(a: argparse.Namespace) -> Any:
    from ..config import load_yaml, parse_set

    if a.run is not None:
        if a.config or a.model or a.data or a.net or a.set:
            raise AekitError("describe takes a run folder or a config, not both", "drop the run folder, or the config options")
        from ..run import load

        return load(a.run)
    if not (a.config or a.model or a.data):
        raise AekitError("describe needs a run folder or a config", "e.g. aekit describe runs/ae-mnist, or aekit describe --model vae --data mnist --net conv")
    from ..run import build_for_data, run_data
    from ..runconfig import build_config

    flags: dict[str, dict[str, Any]] = {"model": {}, "data": {}}
    if a.model:
        flags["model"]["name"] = a.model
    if a.net:
        flags["model"]["net"] = a.net
    if a.data:
        flags["data"]["name"] = a.data
    cfg = build_config([load_yaml(a.config) if a.config else None, flags, parse_set(a.set)])
    return build_for_data(cfg, run_data(cfg))


COMMANDS = {"describe": cmd_describe}
__all__ = ["COMMANDS", "add"]
