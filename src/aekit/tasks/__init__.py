"""What users do with a trained model: generate, interpolate, walk the latent space."""
from .generate import GMMSampler, interpolate, slerp

__all__ = ["GMMSampler", "interpolate", "slerp"]
