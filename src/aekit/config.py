"""Run configuration: three sections (data, model, train), each a dataclass.

Every CLI flag is a key here, every key can be given in YAML or with ``--set section.key=value``,
and an unknown key is an error naming the closest valid one. The model section is the model's
own config class (see :mod:`aekit.models.registry`), so a new model family brings its options
with it and nothing here changes.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import AekitError, closest


@dataclass
class DataConfig:
    name: str = "mnist-sample"      # named data set or a path (.npy/.npz/.csv/image folder/IDX folder)
    data_dir: str | None = None     # where named data sets live; else $AEKIT_DATA_DIR, else the cache
    label_column: str | None = None  # CSV: column holding labels (name or 0-based index)
    scale: str = "none"             # none | minmax | standard (fitted on the training split)
    val_fraction: float = 0.1       # carved from the training split with the run's seed
    test_fraction: float = 0.2      # only for data without its own test split
    image_size: list[int] | None = None  # resize image folders to [H, W]; default: first image's size
    limit: int | None = None        # use only the first N training examples (quick experiments)
    labels: int | None = None       # semi-supervised: keep N labels (balanced per class, seeded), hide the rest


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"         # adam | adamw | sgd
    momentum: float = 0.9           # sgd only
    schedule: str = "none"          # none | cosine | step | plateau
    step_size: int = 10             # step schedule: epochs between lr decays
    gamma: float = 0.5              # step / plateau schedule: decay factor
    clip_grad: float | None = None  # max global grad norm
    early_stopping: int | None = None  # patience in epochs on validation loss
    seed: int = 0
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    in_memory: bool | None = None   # None: auto (fits in memory); False: DataLoader path
    num_workers: int = 0            # DataLoader path only
    compile: bool = False           # torch.compile the model (GPU mostly)
    checkpoint_every: int = 1       # epochs between checkpoints
    quiet: bool = False


SECTIONS = ("data", "model", "train")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the declared type, or raise naming the key."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        if tp is type(None) or (origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args):
            return None
        raise AekitError(f"{key} may not be empty")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except AekitError as e:
                errors.append(e)
        raise errors[0]
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        return [_coerce(v, inner, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise AekitError(f"{key} must be true or false, got {value!r}")
    if tp in (int, float):
        try:
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return tp(float(value)) if tp is int else float(value)
        except (TypeError, ValueError):
            raise AekitError(f"{key} must be a{'n integer' if tp is int else ' number'}, got {value!r}") from None
    if tp is str:
        return str(value)
    return value


def _resolve_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def update_dataclass(obj: Any, values: dict[str, Any], section: str) -> None:
    """Set ``values`` on dataclass ``obj``; unknown keys raise with the nearest valid key."""
    hints = _resolve_types(type(obj))
    names = [f.name for f in fields(obj)]
    for k, v in values.items():
        k2 = k.replace("-", "_")
        if k2 not in names:
            near = closest(k2, names)
            raise AekitError(
                f"unknown key {section}.{k}",
                (f"did you mean {section}.{near}? " if near else "") + f"valid keys in {section}: {', '.join(names)}",
            )
        setattr(obj, k2, _coerce(v, hints[k2], f"{section}.{k2}"))


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None               # the model's own config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    model_name: str = "ae"          # registry name of the preset

    def to_dict(self) -> dict[str, Any]:
        model = {"name": self.model_name, **dataclasses.asdict(self.model)}
        return {"data": dataclasses.asdict(self.data), "model": model, "train": dataclasses.asdict(self.train)}

    def dump(self, path: Path) -> None:
        from .io import atomic_write_text

        atomic_write_text(Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False))


def build_config(layers: list[dict[str, Any]]) -> RunConfig:
    """Merge config layers (YAML file, then flags, then ``--set``), later layers winning.

    Each layer is ``{"data": {...}, "model": {...}, "train": {...}}``; ``model.name`` picks the
    model's config class before the other model keys are applied.
    """
    from .models.registry import get_spec

    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for layer in layers:
        for section, values in (layer or {}).items():
            if section not in SECTIONS:
                near = closest(section, SECTIONS)
                raise AekitError(
                    f"unknown config section {section!r}",
                    (f"did you mean {near!r}? " if near else "") + "sections are data, model, train",
                )
            if values is None:
                continue
            if not isinstance(values, dict):
                raise AekitError(f"config section {section!r} must be a mapping of keys to values")
            merged[section].update(values)
    model_values = dict(merged["model"])
    name = model_values.pop("name", "ae")
    spec = get_spec(name)
    model_cfg = spec.make_config()
    update_dataclass(model_cfg, model_values, "model")
    data = DataConfig()
    update_dataclass(data, merged["data"], "data")
    train = TrainConfig()
    update_dataclass(train, merged["train"], "train")
    cfg = RunConfig(data=data, model=model_cfg, train=train, model_name=spec.name)
    validate_train(cfg.train)
    return cfg


def validate_train(t: TrainConfig) -> None:
    if t.epochs < 0:
        raise AekitError(f"train.epochs must be >= 0, got {t.epochs}")
    if t.batch_size < 1:
        raise AekitError(f"train.batch_size must be >= 1, got {t.batch_size}")
    if not t.lr > 0:
        raise AekitError(f"train.lr must be > 0, got {t.lr}")
    for key, allowed in (("optimizer", ("adam", "adamw", "sgd")), ("schedule", ("none", "cosine", "step", "plateau"))):
        v = getattr(t, key)
        if v not in allowed:
            near = closest(v, allowed)
            raise AekitError(f"train.{key} {v!r} is not supported", (f"did you mean {near!r}? " if near else "") + "choose one of " + ", ".join(allowed))


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise AekitError(f"config file {p} does not exist", "check the path given to --config")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise AekitError(f"config file {p} is not valid YAML: {e}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise AekitError(f"config file {p} must hold a mapping with sections data/model/train")
    return data


def parse_set(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["model.l1=0.1", "train.lr=1e-4"]`` -> nested dict (values parsed as YAML scalars)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise AekitError(f"--set {item!r} is not of the form section.key=value", "e.g. --set model.l1=1e-3")
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = yaml.safe_load(value) if value != "" else None
    return out
