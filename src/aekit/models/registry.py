"""One registry of model presets: name → (model class, config class, default overrides).

Adding a model family is one module with ``@register(...)`` calls; the CLI, ``aekit models``,
``aekit.load`` and the conformance tests pick it up from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import unknown_choice


@dataclass
class ModelSpec:
    name: str
    cls: type
    config_cls: type
    describe: str
    defaults: dict[str, Any] = field(default_factory=dict)

    def make_config(self, **overrides: Any) -> Any:
        cfg = self.config_cls()
        for k, v in {**self.defaults, **overrides}.items():
            if not hasattr(cfg, k):
                raise TypeError(f"{self.config_cls.__name__} has no field {k!r}")
            setattr(cfg, k, v)
        return cfg


MODELS: dict[str, ModelSpec] = {}


def register(name: str, cls: type, config_cls: type, describe: str, **defaults: Any) -> None:
    if name in MODELS:
        raise ValueError(f"model {name!r} registered twice")
    MODELS[name] = ModelSpec(name, cls, config_cls, describe, defaults)


def get_spec(name: str) -> ModelSpec:
    from . import presets  # noqa: F401  (registers the built-in presets)

    if name not in MODELS:
        raise unknown_choice("model", name, MODELS)
    return MODELS[name]


def all_specs() -> list[ModelSpec]:
    from . import presets  # noqa: F401

    return list(MODELS.values())


def config_from_dict(name: str, values: dict[str, Any]) -> Any:
    """Rebuild a model config saved in a run's config.yaml (unknown keys are an error)."""
    from ..config import update_dataclass

    spec = get_spec(name)
    cfg = spec.config_cls()
    update_dataclass(cfg, {k: v for k, v in values.items() if k != "name"}, "model")
    return cfg
