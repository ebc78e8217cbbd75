"""The configuration of a run: data, model and train sections layered from their sources, checked,
saved, and — for ``--resume`` — checked against the run it continues.

Layers, later winning: a YAML file (``--config``), the flags, ``--set section.key=value``; from
Python, the options of ``aekit.train_run``. On resume, the run's saved config.yaml is the base and
the layers go on top; a resume may change only what :func:`resume_changes` allows.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import SECTIONS, DataConfig, TrainConfig, check_unused, update_dataclass
from .errors import AekitError, closest
from .io import atomic_write_text

# keys of the train section a resume may not change: they define the run's data split or its optimiser state
RESUME_FIXED_TRAIN = ("seed", "optimizer", "monitor")  # monitor: the checkpoint's best value is of that term
# keys of the data section a resume may change: where the files live, not what they are
RESUME_FREE_DATA = ("data_dir",)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None               # the model's own config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    model_name: str = "ae"          # registry name of the preset
    notes: dict[str, str] = field(default_factory=dict)  # what was resolved from the data, and why (saved, not read back)
    given: dict[str, set[str]] = field(default_factory=dict, repr=False)  # keys the user set (not saved)

    def to_dict(self) -> dict[str, Any]:
        out = {"data": dataclasses.asdict(self.data), "model": {"name": self.model_name, **dataclasses.asdict(self.model)},
               "train": dataclasses.asdict(self.train)}
        if self.notes:
            out["notes"] = dict(self.notes)
        return out

    def dump(self, path: Path) -> None:
        atomic_write_text(Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))


def merge_layers(layers: list[dict[str, Any] | None]) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """The layers merged section by section (later wins), and the keys each section was given."""
    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for layer in layers:
        for section, values in (layer or {}).items():
            if section == "notes":  # a saved run's notes, e.g. from `--config runs/x/config.yaml`
                continue
            if section not in SECTIONS:
                near = closest(str(section), SECTIONS)
                raise AekitError(f"unknown config section {section!r}",
                                 (f"did you mean {near!r}? " if near else "") + "sections are data, model, train")
            if values is None:
                continue
            if not isinstance(values, dict):
                raise AekitError(f"config section {section!r} must be a mapping of keys to values")
            merged[section].update({str(k).replace("-", "_"): v for k, v in values.items()})
    return merged, {s: set(v) for s, v in merged.items()}


def build_config(layers: list[dict[str, Any] | None], base: dict[str, Any] | None = None) -> RunConfig:
    """A checked RunConfig from ``layers`` over ``base`` (a saved config.yaml, for resume).

    Only the layers count as given by the user: an option they give that has no effect under the
    other settings is an error (:func:`aekit.config.check_unused`)."""
    from .models import get_spec

    merged, given = merge_layers([*(([base]) if base else []), *layers])
    if base:
        given = merge_layers(layers)[1]
    model_values = dict(merged["model"])
    name = str(model_values.pop("name", "ae"))
    given["model"].discard("name")
    spec = get_spec(name)
    model_cfg = spec.make_config(**model_values)
    data = DataConfig()
    update_dataclass(data, merged["data"], "data")
    train = TrainConfig()
    update_dataclass(train, merged["train"], "train")
    data.validate()
    train.validate()
    cfg = RunConfig(data=data, model=model_cfg, train=train, model_name=spec.name, given=given)
    check_options(cfg)
    return cfg


def check_options(cfg: RunConfig) -> None:
    """Options given that the run would not use are errors naming them."""
    from .models import MODELS, get_spec

    g = cfg.given
    defaults = get_spec(cfg.model_name).make_config()
    check_unused(cfg.model, defaults, "model", g.get("model", set()))
    check_unused(cfg.data, DataConfig(), "data", g.get("data", set()))
    check_unused(cfg.train, TrainConfig(), "train", g.get("train", set()))
    use = type(cfg.model).label_use
    if cfg.data.labels is not None and use != "partial":
        takers = sorted(n for n, s in MODELS.items() if s.config_cls.label_use == "partial")
        what = "needs every training label" if use == "required" else "takes no labels"
        raise AekitError(f"data.labels={cfg.data.labels} (--labels): the model {cfg.model_name} {what}",
                         f"drop --labels, or train a semi-supervised model: {', '.join(takers)}")
    if cfg.data.labels is None:
        keys = [f"model.{k}" for k in getattr(type(cfg.model), "LABELS_ONLY", ())
                if k in g.get("model", set()) and getattr(cfg.model, k) != getattr(defaults, k)]
        if keys:
            raise AekitError(f"{' and '.join(keys)} {'has' if len(keys) == 1 else 'have'} no effect: "
                             f"{'it sets' if len(keys) == 1 else 'they set'} the labelled batches of a semi-supervised run (--labels N)",
                             f"drop {' and '.join(keys)}, or give --labels N")
    if cfg.train.early_stopping and not cfg.data.val_fraction:
        raise AekitError(f"train.early_stopping watches the validation {cfg.train.monitor}, but data.val_fraction is 0 (no validation split)",
                         "set data.val_fraction (e.g. 0.1), or drop train.early_stopping")


def load_config(run_dir: str | Path) -> RunConfig:
    """The config of a run folder (checked as when it was written; its notes kept)."""
    raw = read_saved(run_dir)
    cfg = build_config([], base=raw)
    cfg.notes = dict(raw.get("notes") or {})
    return cfg


def read_saved(run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """A run folder's saved config.yaml (the base of a resume, and of load_config)."""
    from .models.loading import read_run_config

    return read_run_config(run_dir, resume)


# ---- resume ------------------------------------------------------------------------------------

def resume_free_model_keys(model_cfg: Any) -> tuple[str, ...]:
    """Model keys a resume may change: the family's optimisation settings (``RESUMABLE``)."""
    return tuple(getattr(type(model_cfg), "RESUMABLE", ()))


def resume_changes(saved: dict[str, Any], cfg: RunConfig) -> tuple[list[str], list[str]]:
    """(allowed, refused) differences between a saved run's config and ``cfg``, as "section.key (old → new)"."""
    new = cfg.to_dict()
    free_model = set(resume_free_model_keys(cfg.model))
    allowed, refused = [], []
    for section in SECTIONS:
        old_s, new_s = saved.get(section) or {}, new[section]
        for key in sorted(set(old_s) | set(new_s)):
            # a train key the saved run predates had its default then
            a = old_s.get(key, getattr(TrainConfig(), key) if section == "train" and hasattr(TrainConfig(), key) else "<unset>")
            b = new_s.get(key, "<unset>")
            if _same(a, b):
                continue
            text = f"{section}.{key} ({_show(a)} → {_show(b)})"
            free = (section == "train" and key not in RESUME_FIXED_TRAIN) or (section == "data" and key in RESUME_FREE_DATA) \
                or (section == "model" and key in free_model)
            (allowed if free else refused).append(text)
    return allowed, refused


def resume_config(saved: dict[str, Any], layers: list[dict[str, Any] | None]) -> RunConfig:
    """The config of a resumed run: the saved config with ``layers`` on top (see check_resume)."""
    old = str((saved.get("model") or {}).get("name", "ae"))
    for layer in layers:
        new = ((layer or {}).get("model") or {}).get("name")
        if new is not None and new != old:
            raise AekitError(f"--resume would change what the run is: model.name ({old!r} → {new!r})",
                             f"drop --model to continue the {old} run, or train a new run into another --out")
    cfg = build_config(layers, base=saved)
    cfg.notes = dict(saved.get("notes") or {})
    return cfg


def check_resume(saved: dict[str, Any], cfg: RunConfig) -> list[str]:
    """Raise when ``cfg`` changes what a resume may not change; else the allowed changes."""
    allowed, refused = resume_changes(saved, cfg)
    if refused:
        free = ", ".join(f"model.{k}" for k in resume_free_model_keys(cfg.model))
        raise AekitError(
            "--resume would change what the run is: " + "; ".join(refused),
            "drop those settings to continue the run (a resume may change the train section except "
            f"{', '.join('train.' + k for k in RESUME_FIXED_TRAIN)}" + (f", and {free}" if free else "")
            + "), or train a new run into another --out")
    return allowed


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _show(v: Any) -> str:
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["RunConfig", "build_config", "load_config", "read_saved", "resume_config", "check_resume", "resume_changes"]
