"""One registry of model presets: name → (model class, config class, default overrides).

Adding a model family is one module with ``register(...)`` calls (imported by ``_families``
below); the CLI, ``aekit models``, ``aekit.load`` and the conformance tests pick it up from here.
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
        """The preset's config: the config class's defaults, the preset's, then ``overrides``. A key
        of another family is an error naming the presets that have it."""
        from ..config import update_dataclass

        own = set(self.config_cls.__dataclass_fields__)
        for key in overrides:
            if str(key).replace("-", "_") not in own:
                raise foreign_key(self, str(key).replace("-", "_"))
        cfg = self.config_cls()
        update_dataclass(cfg, {**self.defaults, **overrides}, "model")
        from ..nets import auto_net, default_hidden

        if cfg.net == "auto" and cfg.input_shape:  # a direct build: the shape says which network
            cfg.net = auto_net(cfg.input_shape, self.config_cls.networks)[0]
        if cfg.net in ("conv", "rnn") and "hidden" not in overrides:
            cfg.hidden = default_hidden(cfg.net)  # a preset's widths are its MLP's: other networks have their own
        return cfg

    def build(self, cfg: Any = None, **overrides: Any) -> Any:
        """A model of this preset (untrained) from ``cfg``, or from the preset's config with ``overrides``."""
        model = self.cls(cfg if cfg is not None else self.make_config(**overrides))
        model.preset = self.name
        return model


MODELS: dict[str, ModelSpec] = {}


def foreign_key(spec: ModelSpec, key: str) -> Exception:
    """The error for a model key the preset does not have: the presets that have it, or the nearest key."""
    from ..errors import AekitError, closest

    _families()
    users = [n for n, s in MODELS.items() if key in s.config_cls.__dataclass_fields__]
    own = list(spec.config_cls.__dataclass_fields__)
    near = closest(key, own)
    if users:
        return AekitError(f"model.{key} is not an option of {spec.name}: it belongs to {', '.join(users)}",
                          f"drop model.{key}, or train one of those models" + (f" (did you mean model.{near}?)" if near else "")
                          + f"; `aekit models {spec.name}` lists the options of {spec.name}")
    return AekitError(f"unknown key model.{key}", (f"did you mean model.{near}? " if near else "")
                      + f"`aekit models {spec.name}` lists the options of {spec.name}")


def register(name: str, cls: type, config_cls: type, describe: str, **defaults: Any) -> None:
    if name in MODELS:
        raise ValueError(f"model {name!r} registered twice")
    fields = set(config_cls.__dataclass_fields__)
    bad = sorted(set(defaults) - fields)
    if bad:
        raise ValueError(f"preset {name!r}: {config_cls.__name__} has no field {', '.join(bad)}")
    MODELS[name] = ModelSpec(name, cls, config_cls, describe, defaults)


def _families() -> None:
    """Import every family module (each registers its presets), in the order `aekit models` lists them."""
    from . import ae  # noqa: F401,I001
    from . import stacked  # noqa: F401
    from . import vae  # noqa: F401
    from . import cvae  # noqa: F401
    from . import m1m2  # noqa: F401
    from . import aae  # noqa: F401


def get_spec(name: str) -> ModelSpec:
    _families()
    if name not in MODELS:
        raise unknown_choice("model", name, MODELS)
    return MODELS[name]


def all_specs() -> list[ModelSpec]:
    _families()
    return list(MODELS.values())


def config_from_dict(name: str, values: dict[str, Any]) -> Any:
    """Rebuild a model config saved in a run's config.yaml (unknown keys are an error)."""
    from ..config import update_dataclass

    spec = get_spec(name)
    cfg = spec.config_cls()
    update_dataclass(cfg, {k: v for k, v in values.items() if k != "name"}, "model")
    return cfg
