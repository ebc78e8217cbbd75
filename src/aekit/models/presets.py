"""The named presets of the deterministic family: parts and defaults, nothing else."""
from __future__ import annotations

from .base import AEConfig, Autoencoder
from .registry import register
from .stacked import StackedAE, StackedAEConfig

register("ae", Autoencoder, AEConfig,
         "autoencoder: MLP of any depth, under- or overcomplete (default 784-512-256-32)")
register("linear-ae", Autoencoder, AEConfig,
         "linear autoencoder (no activations, squared error): learns PCA's subspace; tied weights optional",
         hidden=[], latent_dim=16, activation="linear", code_activation="linear", likelihood="gaussian")
register("sparse-ae", Autoencoder, AEConfig,
         "sparse autoencoder: sigmoid code with KL sparsity (rho=0.05, beta=3) and weight decay (UFLDL)",
         hidden=[], latent_dim=196, activation="sigmoid", code_activation="sigmoid",
         sparsity_target=0.05, sparsity_weight=3.0, weight_decay=1e-4)
register("denoising-ae", Autoencoder, AEConfig,
         "denoising autoencoder: reconstructs clean inputs from 25%-masked ones",
         corruption="masking", noise_level=0.25)
register("contractive-ae", Autoencoder, AEConfig,
         "contractive autoencoder: one sigmoid layer, penalty lambda*||dh/dx||_F^2 (closed form)",
         hidden=[], latent_dim=256, activation="sigmoid", code_activation="sigmoid", contractive=0.1)
register("stochastic-contractive-ae", Autoencoder, AEConfig,
         "stochastic contractive AE: tied sigmoid layer, penalty lambda*E||h(x)-h(x+eps)||^2",
         hidden=[], latent_dim=256, activation="sigmoid", code_activation="sigmoid", tied=True,
         stochastic_contractive=1.0, sc_sigma=0.1)
register("stacked-ae", StackedAE, StackedAEConfig,
         "stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning")
register("stacked-denoising-ae", StackedAE, StackedAEConfig,
         "stacked denoising AE: each layer pretrained as a denoising AE (25% masking), then fine-tuned",
         corruption="masking", noise_level=0.25)

# the probabilistic families register their own presets
from . import aae, cvae, vae  # noqa: E402,F401
