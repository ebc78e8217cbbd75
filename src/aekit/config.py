"""Options: the data and train sections of a run, and the machinery every config section shares.

Each section is a dataclass whose fields are declared with :func:`opt`, which records a one-line
help next to the default: ``aekit models NAME`` and ``aekit train --help`` are generated from these
declarations, so the documentation cannot drift from the code. The model section is the model's
own config class (:mod:`aekit.models`), so a family brings its options with it and holds only the
options it uses: a key another family uses is an unknown key here, answered with the closest valid
one.

A key that exists but does nothing under the other settings (``train.momentum`` with Adam,
``model.sparsity_target`` without a sparsity weight) is also an error, when it differs from its
default: every section lists those keys in ``unused()``, and :func:`check_unused` names them.
"""
from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import AekitError, closest


def opt(default: Any, help: str) -> Any:
    """A config field: its default and the one line of help that documents it."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def describe(obj_or_cls: Any) -> list[tuple[str, str, Any, str]]:
    """(key, type, default, help) for every field; defaults are the object's values when given one."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        value = field_default(f) if isinstance(obj_or_cls, type) else getattr(obj_or_cls, f.name)
        out.append((f.name, _type_name(hints[f.name]), value, f.metadata.get("help", "")))
    return out


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, tuple):
        return f"list[{_type_name(args[0])}]" if args else "list"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


class Options:
    """Mixin of every config section: which keys the other settings leave without effect."""

    def unused(self) -> dict[str, str]:
        """{key: why it has no effect} under the current values of the other keys."""
        return {}


def check_unused(obj: Options, defaults: Options, section: str, given: set[str] | None = None) -> None:
    """An option (among ``given``, when given) that has no effect and differs from its default is an
    error naming it."""
    bad = {k: why for k, why in obj.unused().items()
           if getattr(obj, k) != getattr(defaults, k) and (given is None or k in given)}
    if bad:
        key, why = next(iter(bad.items()))
        raise AekitError(
            f"{section}.{key}={getattr(obj, key)!r} has no effect: {why}",
            f"drop {section}.{key}" + (f" (and {', '.join(f'{section}.{k}' for k in list(bad)[1:])})" if len(bad) > 1 else ""),
        )


# ---- the data and train sections ---------------------------------------------------------------

DATA_KINDS = ("auto", "vectors", "images", "sequences", "text")


@dataclass
class DataConfig(Options):
    name: str = opt("mnist-sample", "named data set (see `aekit datasets`) or a path: .npy, .npz, .csv, image folder, IDX folder")
    test_data: str | None = opt(None, "a separate test set (a path, same format); validation is then carved from the training data only")
    data_dir: str | None = opt(None, "folder of named data sets as <dir>/<name>/<files>; else $AEKIT_DATA_DIR, else ~/.cache/aekit")
    kind: str = opt("auto", "how to read arrays: auto | vectors | images | sequences (auto: 3-D arrays are 1-channel images); "
                    "text: a text file, one example per line, as one-hot characters (vocabulary: the file's sorted characters)")
    label_column: str | None = opt(None, "CSV/TSV: the column holding labels (name or 0-based index)")
    scale: str = opt("none", "input scaling fitted on the training split: none | minmax | standard")
    val_fraction: float = opt(0.1, "fraction of the training split held out for validation (seeded)")
    test_fraction: float = opt(0.2, "fraction held out for testing, for data without a test split of its own (0: no test split)")
    image_size: list[int] | None = opt(None, "image folders: resize every image to [H, W] (default: keep the size)")
    limit: int | None = opt(None, "use only the first N training examples (quick experiments)")
    labels: int | None = opt(None, "semi-supervised: keep N training labels (balanced per class, seeded), hide the rest")
    keep_classes: list[Any] | None = opt(None, "train and validate on these classes only (labels as in the data, e.g. [1] or "
                                         "[1, 7]); the test split keeps every class: one-class anomaly detection")
    max_len: int | None = opt(None, "text: pad every line to N characters (a longer line is an error); default: the longest line")
    classes: list[Any] | None = opt(None, "filled from the data: the label values, in class order (do not set)")
    vocab: str | None = opt(None, "filled from the data: text, the characters of the one-hot channels, in order (do not set)")

    def unused(self) -> dict[str, str]:
        out = {} if self.test_data is None else {"test_fraction": "data.test_data gives the test split"}
        if self.kind != "text":
            out["max_len"] = "only text (data.kind=text) is padded to a number of characters"
        return out

    def validate(self) -> None:
        self.kind = {"vector": "vectors", "image": "images", "sequence": "sequences"}.get(self.kind, self.kind)
        check_choice("data.kind", self.kind, DATA_KINDS)
        check_choice("data.scale", self.scale, ("none", "minmax", "standard"))
        if not 0 <= self.val_fraction < 1:
            raise AekitError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}", "e.g. 0.1, or 0 for no validation split")
        if not 0 <= self.test_fraction < 1:
            raise AekitError(f"data.test_fraction must be in [0, 1), got {self.test_fraction}", "e.g. 0.2, or 0 for no test split")
        if self.limit is not None and self.limit < 1:
            raise AekitError(f"data.limit must be >= 1, got {self.limit}", "drop it to use every example")
        if self.labels is not None and self.labels < 1:
            raise AekitError(f"data.labels must be >= 1, got {self.labels}", "drop it to keep every label")
        if self.keep_classes is not None and not self.keep_classes:
            raise AekitError("data.keep_classes is empty", "name the classes to train on, e.g. --set data.keep_classes=[1]; or drop it")
        if self.max_len is not None and self.max_len < 1:
            raise AekitError(f"data.max_len must be >= 1, got {self.max_len}", "drop it to pad to the longest line")
        if self.vocab is not None and (not isinstance(self.vocab, str) or len(set(self.vocab)) != len(self.vocab)):
            raise AekitError(f"data.vocab must be a string of distinct characters, got {self.vocab!r}",
                             "drop data.vocab: it is filled from the data")


PRECISIONS = ("fp32", "bf16", "fp16", "auto")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("none", "cosine", "step", "plateau", "burda")
LOGGERS = ("tensorboard",)


@dataclass
class TrainConfig(Options):
    epochs: int = opt(20, "training epochs (the fine-tuning epochs of stacked models); on --resume, the new total")
    batch_size: int = opt(128, "examples per batch (per process under torchrun)")
    lr: float = opt(1e-3, "learning rate (phases with a rate of their own, e.g. model.disc_lr, keep theirs)")
    optimizer: str = opt("adam", "adam | adamw | sgd")
    momentum: float = opt(0.9, "sgd: momentum")
    adam_beta1: float = opt(0.9, "adam and adamw: β1, the decay of the gradient's running mean (PyTorch's 0.9; Pyro's SS-VAE "
                                 "recipe: 0.95); phases with betas of their own keep them (an AAE's adversarial phases: model.adv_betas)")
    adam_eps: float = opt(1e-8, "adam and adamw: ε added to the root of the second moment (PyTorch's 1e-8; Burda et al. 2016: 1e-4)")
    schedule: str = opt("none", "learning-rate schedule over the epochs: none | cosine | step | plateau | burda (Burda et al. "
                                "2016: stage i = 0..7 at lr·10^(−i/7) for 3^i epochs, 3,280 in all; see train.schedule_scale)")
    schedule_scale: float | None = opt(None, "burda schedule: run epochs per epoch of the paper, stage i lasting scale·3^i epochs "
                                             "(1: the paper's 3,280 epochs). Default: train.epochs / 3280, the eight stages "
                                             "compressed in proportion to fill the run; an epoch takes the rate of the stage it "
                                             "starts in (a stage shorter than an epoch may be passed over); after the last "
                                             "stage the rate stays at lr/10")
    step_size: int = opt(10, "step schedule: epochs between decays")
    gamma: float = opt(0.5, "step and plateau schedules: decay factor")
    patience: int = opt(2, "plateau schedule: epochs without improvement of the validation loss before a decay")
    clip_grad: float | None = opt(None, "clip the global gradient norm of each phase to this value")
    early_stopping: int | None = opt(None, "stop after this many epochs without improvement of the validation loss (train.monitor), "
                                           "then restore the best epoch's weights; a patience of train.epochs never stops "
                                           "and only selects the best epoch")
    monitor: str = opt("loss", "the validation term (lower is better) that early stopping, its best checkpoint and the plateau "
                               "schedule watch: loss, or another term of the history's val_ columns, e.g. error (the "
                               "classification error of the semi-supervised models on the labelled validation split)")
    seed: int = opt(0, "random seed: splits, initial weights, shuffling and noise (same seed, same run on CPU)")
    device: str = opt("auto", "auto | cpu | cuda | cuda:N")
    precision: str = opt("fp32", "fp32 | bf16 | fp16 | auto: autocast of the forward pass and loss; weights stay fp32")
    memory_format: str = opt("auto", "auto | channels_last | contiguous: the layout of image batches and conv weights; "
                             "auto: channels_last for conv nets on a CUDA GPU, contiguous on the CPU (measured: no gain there)")
    in_memory: bool | None = opt(None, "keep the training data on the device (default: when it fits); false: a DataLoader")
    num_workers: int = opt(0, "DataLoader workers (with in_memory=false)")
    compile: bool = opt(False, "torch.compile the model's training step")
    checkpoint_every: int = opt(1, "epochs between checkpoints")
    log: list[str] = opt([], "extra training logs beside history.csv: tensorboard")
    quiet: bool = opt(False, "no progress bar or per-epoch lines")

    def unused(self) -> dict[str, str]:
        out = {}
        if self.optimizer != "sgd":
            out["momentum"] = "only the sgd optimizer has momentum"
        else:
            out["adam_eps"] = "only the adam and adamw optimizers have an ε (train.optimizer is sgd)"
            out["adam_beta1"] = "only the adam and adamw optimizers have a β1 (train.optimizer is sgd)"
        if self.schedule != "burda":
            out["schedule_scale"] = "only the burda schedule uses it"
        if self.schedule != "step":
            out["step_size"] = "only the step schedule uses it"
        if self.schedule not in ("step", "plateau"):
            out["gamma"] = "only the step and plateau schedules use it"
        if self.schedule != "plateau":
            out["patience"] = "only the plateau schedule uses it"
        if not self.early_stopping and self.schedule != "plateau":
            out["monitor"] = "only early stopping (train.early_stopping) and the plateau schedule watch a validation term"
        if self.in_memory is not False:
            out["num_workers"] = "workers feed the DataLoader path only (train.in_memory=false)"
        return out

    def validate(self) -> None:
        if self.epochs < 0:
            raise AekitError(f"train.epochs must be >= 0, got {self.epochs}")
        for key in ("batch_size", "checkpoint_every", "step_size", "patience"):
            if getattr(self, key) < 1:
                raise AekitError(f"train.{key} must be >= 1, got {getattr(self, key)}", f"e.g. --set train.{key}=1")
        if not self.lr > 0:
            raise AekitError(f"train.lr must be > 0, got {self.lr}")
        if not 0 <= self.adam_beta1 < 1:
            raise AekitError(f"train.adam_beta1 must be in [0, 1), got {self.adam_beta1}", "e.g. --set train.adam_beta1=0.9 (PyTorch's default)")
        if not self.adam_eps > 0:
            raise AekitError(f"train.adam_eps must be > 0, got {self.adam_eps}", "e.g. --set train.adam_eps=1e-8 (PyTorch's default)")
        if self.schedule_scale is not None and not self.schedule_scale > 0:
            raise AekitError(f"train.schedule_scale must be > 0, got {self.schedule_scale}",
                             "e.g. 1 for the paper's 3,280 epochs, or drop it to fit the schedule to train.epochs")
        if not self.gamma > 0:
            raise AekitError(f"train.gamma must be > 0, got {self.gamma}", "e.g. --set train.gamma=0.5")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise AekitError(f"train.clip_grad must be > 0, got {self.clip_grad}", "drop it for no clipping")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise AekitError(f"train.early_stopping must be >= 1 epochs, got {self.early_stopping}", "drop it for no early stopping")
        if not re.fullmatch(r"[A-Za-z_][\w/]*", self.monitor):
            raise AekitError(f"train.monitor must name a loss term, got {self.monitor!r}", "e.g. --set train.monitor=error")
        if self.monitor.startswith("val_"):
            raise AekitError(f"train.monitor names the term without its val_ prefix, got {self.monitor!r}",
                             f"--set train.monitor={self.monitor[4:]}")
        if self.num_workers < 0:
            raise AekitError(f"train.num_workers must be >= 0, got {self.num_workers}")
        for key, allowed in (("optimizer", OPTIMIZERS), ("schedule", LR_SCHEDULES), ("precision", PRECISIONS),
                             ("memory_format", MEMORY_FORMATS)):
            check_choice(f"train.{key}", getattr(self, key), allowed)
        for name in self.log:
            check_choice("train.log", name, LOGGERS)


def check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        near = closest(str(value), allowed)
        raise AekitError(f"{key} {value!r} is not supported",
                         (f"did you mean {near!r}? " if near else "") + "choose one of " + ", ".join(allowed))


SECTIONS = ("data", "model", "train")


# ---- values from YAML and the command line -----------------------------------------------------

def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the declared type, or raise naming the key."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        if tp is type(None) or (origin in (typing.Union, types.UnionType) and type(None) in args):
            return None
        raise AekitError(f"{key} may not be empty")
    if origin in (typing.Union, types.UnionType):
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
            value = [v.strip() for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
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
            if isinstance(value, bool):
                raise ValueError
            f = float(value)
            if tp is int and not f.is_integer():
                raise ValueError
            return int(f) if tp is int else f
        except (TypeError, ValueError):
            raise AekitError(f"{key} must be a{'n integer' if tp is int else ' number'}, got {value!r}") from None
    if tp is str:
        return str(value)
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise AekitError(f"{key} must be a mapping, got {value!r}")
        return value
    return value


def update_dataclass(obj: Any, values: dict[str, Any], section: str) -> None:
    """Set ``values`` on dataclass ``obj``; unknown keys raise with the nearest valid key."""
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in fields(obj)]
    for k, v in values.items():
        k2 = str(k).replace("-", "_")
        if k2 not in names:
            near = closest(k2, names)
            raise AekitError(
                f"unknown key {section}.{k}",
                (f"did you mean {section}.{near}? " if near else "") + f"valid keys in {section}: {', '.join(names)}",
            )
        setattr(obj, k2, _coerce(v, hints[k2], f"{section}.{k2}"))


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
        try:
            parsed = yaml.safe_load(value) if value != "" else None
        except yaml.YAMLError:
            parsed = value
        out.setdefault(section, {})[name] = parsed
    return out
