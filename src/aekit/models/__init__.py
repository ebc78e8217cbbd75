"""Models: the protocol every family implements (base.py), the families, and the preset registry."""
from .base import Autoencoder, Phase, ReportItem, Stage
from .options import ModelConfig
from .loading import build_from_dict, load_model
from .registry import MODELS, ModelSpec, all_specs, config_from_dict, get_spec, register

__all__ = ["Autoencoder", "ModelConfig", "Phase", "ReportItem", "Stage", "MODELS", "ModelSpec", "all_specs",
           "config_from_dict", "get_spec", "register", "build_model", "build_from_dict", "load_model"]


def build_model(name: str, cfg=None, **overrides):
    """An untrained model of a preset: ``build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli")``."""
    return get_spec(name).build(cfg, **overrides)
