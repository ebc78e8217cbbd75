"""What users do with a trained model, one call each: generate, interpolate, map, compare manifold
learners, denoise, retrieve, detect anomalies, fine-tune, classify, and the tour of every family
(each also an ``aekit`` command).

The task modules import their heavy parts (scikit-learn, plotting) when called."""
from .classify import classify
from .denoise import denoise
from .finetune import finetune
from .generate import GMMSampler, interpolate, slerp
from .manifold import compare_manifold
from .maps import latent_map
from .outliers import detect_anomalies
from .retrieval import retrieve
from .tour import tour

__all__ = ["GMMSampler", "classify", "compare_manifold", "denoise", "detect_anomalies", "finetune", "interpolate",
           "latent_map", "retrieve", "slerp", "tour"]
