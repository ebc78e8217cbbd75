"""Models: the one composable Autoencoder and the named presets over it."""
from .base import AEConfig, Autoencoder, Phase, Stage
from .registry import MODELS, ModelSpec, all_specs, config_from_dict, get_spec, register
from .stacked import StackedAE, StackedAEConfig

__all__ = ["AEConfig", "Autoencoder", "Phase", "Stage", "StackedAE", "StackedAEConfig", "MODELS", "ModelSpec",
           "all_specs", "config_from_dict", "get_spec", "register", "build_model"]


def build_model(name: str, cfg=None, **overrides):
    """Build a registered model: ``build_model("ae", input_shape=[1, 28, 28], latent_dim=8)``."""
    spec = get_spec(name)
    if cfg is None:
        cfg = spec.make_config(**overrides)
    return spec.cls(cfg)
