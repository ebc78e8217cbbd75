"""``aekit train`` and ``aekit models``: flags generated from the config classes, so the help states
the real defaults of the preset asked for (``aekit train --model vae --help``)."""
from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from ..config import DataConfig, TrainConfig, describe
from ..errors import AekitError

# flag → (section, key, type); the help text and default come from the config dataclasses
TRAIN_FLAGS: dict[str, tuple[str, str, Any]] = {
    "--model": ("model", "name", str),
    "--data": ("data", "name", str),
    "--test-data": ("data", "test_data", str),
    "--data-dir": ("data", "data_dir", str),
    "--label-column": ("data", "label_column", str),
    "--scale": ("data", "scale", str),
    "--labels": ("data", "labels", int),
    "--net": ("model", "net", str),
    "--latent-dim": ("model", "latent_dim", int),
    "--hidden": ("model", "hidden", str),
    "--channels": ("model", "channels", str),
    "--kernel": ("model", "kernel", int),
    "--stride": ("model", "stride", int),
    "--cell": ("model", "cell", str),
    "--task": ("model", "task", str),
    "--likelihood": ("model", "likelihood", str),
    "--epochs": ("train", "epochs", int),
    "--batch-size": ("train", "batch_size", int),
    "--lr": ("train", "lr", float),
    "--seed": ("train", "seed", int),
    "--device": ("train", "device", str),
    "--precision": ("train", "precision", str),
    "--log": ("train", "log", str),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wide option column; the defaults are written into each help line by ``add``."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def _preset(model: str | None) -> tuple[str, Any]:
    from ..models import get_spec

    spec = get_spec(model or "ae")
    return spec.name, spec.make_config()


def _field_help(section: str, key: str, model_cfg: Any) -> tuple[str, Any]:
    obj = {"data": DataConfig(), "train": TrainConfig(), "model": model_cfg}[section]
    if key == "name":
        return ("model preset (see `aekit models`)", None) if section == "model" else ("", None)
    for name, _, default, text in describe(obj):
        if name == key:
            return text, default
    from ..models import all_specs

    owners = [sp.name for sp in all_specs() if key in sp.config_cls.__dataclass_fields__]
    return f"(models {', '.join(owners)} only)", None


def _show_default(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v)) if v else "none"
    return "none" if v is None else str(v)


def model_keys_text(name: str, cfg: Any) -> str:
    """The model section's keys of a preset: key, type, default, one line each."""
    rows = [(k, t, _show_default(d), h) for k, t, d, h in describe(cfg)]
    w = max(len(k) for k, *_ in rows)
    wd = max(len(d) for _, _, d, _ in rows)
    return "\n".join(f"  model.{k:<{w}}  {d:<{wd}}  {h}" for k, _, d, h in rows)


def add(sub: argparse._SubParsersAction, model: str | None) -> None:
    name, model_cfg = _preset(model)
    p = sub.add_parser(
        "train", help="train a model and write a run folder", formatter_class=HelpFormatter,
        description="Train a model. Every flag is also a config key: in --config YAML (sections data/model/train) or "
                    "--set section.key=value; later sources win: YAML < flags < --set. Defaults shown are the "
                    f"{name} preset's (`aekit train --model NAME --help` shows another's).",
        epilog=f"model keys of the {name} preset (--set model.KEY=VALUE; `aekit models {name}`):\n" + model_keys_text(name, model_cfg))
    for flag, (section, key, tp) in TRAIN_FLAGS.items():
        text, default = _field_help(section, key, model_cfg)
        if flag == "--model":
            default = name
        elif flag == "--data":
            text, default = DataConfig.__dataclass_fields__["name"].metadata["help"], DataConfig().name
        p.add_argument(flag, type=tp, default=None, help=f"{text} [default: {_show_default(default)}]")
    p.add_argument("--out", default=None, help="run folder [default: runs/<model>-<data>, numbered if taken]")
    p.add_argument("--config", default=None, help="YAML file with data/model/train sections [default: none]")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint: its config, with the flags given on top (--epochs: the new total)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set model.l1=1e-3 --set train.schedule=cosine (repeatable)")
    p = sub.add_parser("models", help="the model presets, or one preset's keys with their defaults", formatter_class=HelpFormatter,
                       description="Without NAME: every preset, one line each. With NAME: that preset's model keys, "
                                   "their defaults and one line of help each (generated from the config classes).")
    p.add_argument("name", nargs="?", default=None, help="a preset: list its model keys with defaults and one line each")


def _free_out(model: str, data: str) -> Path:
    base = Path("runs") / f"{model}-{Path(data).stem if ('/' in data or '.' in data) else data}"
    out, i = base, 2
    while out.exists():
        out, i = Path(f"{base}-{i}"), i + 1
    return out


def cmd_train(a: argparse.Namespace) -> int:
    from ..config import load_yaml, parse_set
    from ..run import train
    from ..runconfig import build_config, read_saved, resume_config

    out = Path(a.out) if a.out else None
    layers: list[dict[str, Any]] = []
    if a.config:
        layers.append(load_yaml(a.config))
    flags: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for flag, (section, key, _) in TRAIN_FLAGS.items():
        v = getattr(a, flag[2:].replace("-", "_"))
        if v is not None:
            flags[section][key] = v
    if a.quiet:
        flags["train"]["quiet"] = True
    layers += [flags, parse_set(a.set)]
    if a.resume:
        if out is None:
            raise AekitError("--resume needs --out RUN_FOLDER", "give the run folder to continue")
        cfg = resume_config(read_saved(out, resume=True), layers)
    else:
        cfg = build_config(layers)
    if out is None:
        out = _free_out(cfg.model_name, cfg.data.name)
    path = train(cfg, out, resume=a.resume, progress=not cfg.train.quiet)
    metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").exists() else {}
    if not cfg.train.quiet:
        print(f"run folder: {path}")
        for k, v in metrics.items():
            if k.startswith("test_") and isinstance(v, (int, float)):
                print(f"  {k}: {v:.5g}")
        if (path / "report.html").exists():
            print(f"  report: {path / 'report.html'}")
    return 0


def cmd_models(a: argparse.Namespace) -> int:
    from ..models import all_specs, get_spec

    if a.name:
        spec = get_spec(a.name)
        cfg = spec.make_config()
        print(f"{spec.name}: {spec.describe}")
        use = type(cfg).label_use
        if use != "none":
            print("labels: " + ("every training example's (--label-column for a CSV)" if use == "required"
                                else "all, or a few with --labels N (the others are inferred)"))
        print(f"\nmodel keys (--set model.KEY=VALUE; the defaults are the {spec.name} preset's):")
        print(model_keys_text(spec.name, cfg))
        print("\ndata and train keys: `aekit train --help`")
        return 0
    specs = all_specs()
    w = max(len(s.name) for s in specs)
    for s in specs:
        print(f"{s.name:<{w}}  " + textwrap.shorten(s.describe, 200))
    return 0


COMMANDS = {"train": cmd_train, "models": cmd_models}
__all__ = ["COMMANDS", "add", "TRAIN_FLAGS"]
