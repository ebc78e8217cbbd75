"""The one Autoencoder that composes parts, and the training plan every model declares.

    encode x (corrupted first, when training a denoising model) into z, decode z, and minimise
    −log p(x | z) + Σ λᵢ Ωᵢ

A model tells the trainer how it is optimised with ``training_plan()``: a list of stages run one
after another (greedy pretraining, then fine-tuning), each with one or more phases stepped in turn
on every batch (adversarial models later use several), each phase with its own parameters and loss.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import AekitError, unknown_choice
from ..nets import build_nets
from ..parts import (
    CORRUPTIONS,
    LIKELIHOODS,
    contractive_closed_form,
    contractive_exact,
    kl_sparsity,
    l1_code,
    make_corruption,
    make_likelihood,
    stochastic_contractive,
    weight_decay,
)

Terms = dict[str, torch.Tensor]


@dataclass
class Phase:
    """One optimiser and one loss, stepped once per batch."""

    name: str
    parameters: Callable[[], list[nn.Parameter]]
    loss: Callable[[torch.Tensor, torch.Tensor | None], Terms]
    lr: float | None = None                    # None: the run's train.lr
    betas: tuple[float, float] | None = None   # Adam betas; None: PyTorch's (0.9, 0.999)


@dataclass
class Stage:
    """Phases trained together for ``epochs`` epochs (None: the run's ``train.epochs``)."""

    name: str
    phases: list[Phase]
    epochs: int | None = None


@dataclass
class AEConfig:
    """Options of the deterministic autoencoder family; presets only change defaults."""

    input_shape: list[int] = field(default_factory=list)  # filled from the data
    input_range: list[float] = field(default_factory=lambda: [0.0, 1.0])  # filled from the data
    net: str = "mlp"                # network family (mlp; conv and recurrent later)
    hidden: list[int] = field(default_factory=lambda: [512, 256])  # encoder widths before the code
    latent_dim: int = 32            # code size (may exceed the input for overcomplete codes)
    activation: str = "relu"        # hidden activation
    code_activation: str = "linear"  # activation on the code
    likelihood: str = "auto"        # bernoulli | gaussian | gaussian-learned | auto (bernoulli on [0,1] data)
    sigma: float = 1.0              # Gaussian σ (fixed, or the initial value when learned)
    tied: bool = False              # decoder weights = encoder weights transposed
    init: str = "glorot"            # glorot (Glorot-uniform, zero bias) | torch (PyTorch default)
    corruption: str = "none"        # none | gaussian | masking | salt-pepper
    noise_level: float = 0.0        # σ for gaussian, corrupted fraction otherwise
    noise_samples: int = 1          # corruption samples L per example
    l1: float = 0.0                 # λ for L1 on the code
    sparsity_target: float = 0.05   # ρ for KL sparsity
    sparsity_weight: float = 0.0    # β for KL sparsity (needs a code in (0, 1): sigmoid)
    contractive: float = 0.0        # λ for ‖∂h/∂x‖²_F
    stochastic_contractive: float = 0.0  # λ for E‖h(x) − h(x̃)‖²
    sc_sigma: float = 0.1           # σ of the Gaussian x̃ for the stochastic contractive term
    weight_decay: float = 0.0       # λ for ½ Σ W² (logged as its own term)


def _as_tensor(x: Any) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x, True
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return torch.from_numpy(a.astype(np.float32) / 255.0), False
    if not np.issubdtype(a.dtype, np.number):
        raise AekitError(f"expected numeric input, got dtype {a.dtype}")
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)), False


class Autoencoder(nn.Module):
    """Deterministic autoencoder over any network family, with any mix of the penalties."""

    config_cls = AEConfig

    def __init__(self, cfg: AEConfig):
        super().__init__()
        self.cfg = cfg
        self.validate_config(cfg)
        self.input_shape = tuple(int(s) for s in cfg.input_shape)
        self.input_dim = math.prod(self.input_shape)
        self.encoder, self.decoder = build_nets(cfg, self.input_shape)
        self.likelihood = make_likelihood(cfg.likelihood, self.input_dim, cfg.sigma)
        lo, hi = cfg.input_range
        self.corrupt = make_corruption(cfg.corruption, cfg.noise_level, lo, hi)
        # the scaling fitted on the training data; saved with the weights, applied by the public API
        self.register_buffer("input_shift", torch.zeros(self.input_shape))
        self.register_buffer("input_scale", torch.ones(self.input_shape))

    # ---- configuration checks -----------------------------------------------------------------
    @staticmethod
    def validate_config(cfg: AEConfig) -> None:
        if not cfg.input_shape:
            raise AekitError("model.input_shape is not set", "build models through aekit.train or aekit.load, which take it from the data")
        if cfg.likelihood not in LIKELIHOODS:
            raise unknown_choice("likelihood", cfg.likelihood, (*LIKELIHOODS, "auto"))
        if cfg.corruption not in CORRUPTIONS:
            raise unknown_choice("corruption", cfg.corruption, CORRUPTIONS)
        if cfg.latent_dim < 1:
            raise AekitError(f"model.latent_dim must be >= 1, got {cfg.latent_dim}")
        if any(h < 1 for h in cfg.hidden):
            raise AekitError(f"model.hidden widths must be >= 1, got {cfg.hidden}")
        if cfg.noise_samples < 1:
            raise AekitError(f"model.noise_samples must be >= 1, got {cfg.noise_samples}")
        if cfg.sparsity_weight > 0:
            if cfg.code_activation != "sigmoid":
                raise AekitError(
                    "KL sparsity needs code activations in (0, 1)",
                    "use --set model.code_activation=sigmoid, or the L1 penalty (model.l1) for other activations",
                )
            if not 0 < cfg.sparsity_target < 1:
                raise AekitError(f"model.sparsity_target must be in (0, 1), got {cfg.sparsity_target}")

    # ---- the core maths on model-space tensors -------------------------------------------------
    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """Likelihood parameters (logits / means) in the input's shape."""
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    def _recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters of the deterministic reconstruction of model-space ``x``."""
        return self._decode(self._encode(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str | None = None) -> Terms:
        """The loss terms of ``phase`` on a batch (what DistributedDataParallel wraps)."""
        if phase is None:
            return self.loss(x, y)
        return self._phase_losses()[phase](x, y)

    def _phase_losses(self) -> dict[str, Callable[[torch.Tensor, torch.Tensor | None], Terms]]:
        cache = self.__dict__.get("_phase_cache")
        if cache is None:
            cache = {p.name: p.loss for s in self.training_plan() for p in s.phases}
            self.__dict__["_phase_cache"] = cache
        return cache

    def training_plan(self) -> list[Stage]:
        return [Stage("train", [Phase("main", lambda: list(self.parameters()), self.loss)])]

    @property
    def _single_sigmoid_layer(self) -> bool:
        enc = self.encoder
        return len(getattr(enc, "layers", [])) == 1 and getattr(enc, "acts", [None])[0] == "sigmoid"

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """−log p(x|z) + penalties, each term per example then batch mean; ``loss`` is the total.

        Corruption is applied when ``corrupt`` (default: in training mode); the target is the clean x.
        """
        cfg = self.cfg
        corrupt = self.training if corrupt is None else corrupt
        target = x
        if corrupt and cfg.corruption != "none":
            if cfg.noise_samples > 1:
                target = x.repeat_interleave(cfg.noise_samples, 0)
            x_in = self.corrupt(target)
        else:
            x_in = x
        h = self._encode(x_in)
        params = self._decode(h)
        terms: Terms = {"recon": self.likelihood.nll_mean(params, target)}
        total = terms["recon"]
        if cfg.l1:
            terms["l1"] = l1_code(h)
            total = total + cfg.l1 * terms["l1"]
        if cfg.sparsity_weight:
            terms["sparsity"] = kl_sparsity(h, cfg.sparsity_target)
            total = total + cfg.sparsity_weight * terms["sparsity"]
        if cfg.contractive:
            h_clean = h if x_in is x else self._encode(x)
            if self._single_sigmoid_layer:
                terms["contractive"] = contractive_closed_form(h_clean, self.encoder.layers[0].weight)
            else:
                terms["contractive"] = contractive_exact(self._encode, x)
            total = total + cfg.contractive * terms["contractive"]
        if cfg.stochastic_contractive:
            h_clean = h if x_in is x else self._encode(x)
            h_noisy = self._encode(x + cfg.sc_sigma * torch.randn_like(x))
            terms["stochastic_contractive"] = stochastic_contractive(h_clean, h_noisy)
            total = total + cfg.stochastic_contractive * terms["stochastic_contractive"]
        if cfg.weight_decay:
            terms["weight_decay"] = weight_decay(self)
            total = total + cfg.weight_decay * terms["weight_decay"]
        terms["loss"] = total
        return terms

    # ---- the public API: NumPy or tensors in, the same kind out ----------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_input(self, t: torch.Tensor) -> torch.Tensor:
        if t.dim() == len(self.input_shape):  # a single example
            t = t.unsqueeze(0)
        if tuple(t.shape[1:]) != self.input_shape:
            if math.prod(t.shape[1:]) == self.input_dim:
                t = t.reshape(t.shape[0], *self.input_shape)
            else:
                raise AekitError(
                    f"the model expects examples of shape {self.input_shape} ({self.input_dim} values), got {tuple(t.shape[1:])}",
                    "give data of the width the model was trained on (see its config.yaml: model.input_shape)",
                )
        return t

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_shift) / self.input_scale

    def from_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.input_scale + self.input_shift

    def _evaluating(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` in eval mode under inference_mode, restoring the training flag afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return fn()
        finally:
            self.train(was_training)

    def _batched(self, fn: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, batch_size: int) -> torch.Tensor:
        outs = self._evaluating(lambda: [fn(t[i: i + batch_size].to(self.device)) for i in range(0, t.shape[0], batch_size)])
        return torch.cat(outs) if outs else t.new_zeros((0,))

    @staticmethod
    def _back(out: torch.Tensor, like: torch.Tensor, was_tensor: bool) -> Any:
        if was_tensor:
            return out.to(like.device)
        return out.cpu().numpy()

    def encode(self, x: Any, batch_size: int = 1024) -> Any:
        """Codes z for inputs ``x`` (deterministic). NumPy in → NumPy out; tensor in → tensor out."""
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        z = self._batched(lambda b: self._encode(self.to_model_space(b)), t, batch_size)
        return self._back(z, t, was_tensor)

    def decode(self, z: Any, batch_size: int = 1024) -> Any:
        """The decoder's mean for codes ``z`` (probabilities for a Bernoulli), in the input's shape."""
        t, was_tensor = _as_tensor(z)
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if t.shape[-1] != self.cfg.latent_dim:
            raise AekitError(f"the model's codes have {self.cfg.latent_dim} dimensions, got {t.shape[-1]}")
        out = self._batched(lambda b: self.from_model_space(self.likelihood.mean(self._decode(b))), t, batch_size)
        return self._back(out, t, was_tensor)

    def reconstruct(self, x: Any, batch_size: int = 1024) -> Any:
        """decode(encode(x)) as the decoder's mean, in the same shape as ``x``."""
        t, was_tensor = _as_tensor(x)
        shape = tuple(t.shape)
        t = self._check_input(t)

        def rec(b: torch.Tensor) -> torch.Tensor:
            return self.from_model_space(self.likelihood.mean(self._recon_params(self.to_model_space(b))))

        out = self._batched(rec, t, batch_size).reshape(shape)
        return self._back(out, t, was_tensor)

    # ---- hooks that richer families override (generation, labels, extra figures) -----------------
    can_sample = False  # True for models with a prior p(z) to sample from

    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> np.ndarray:
        """Draw ``n`` examples from the model's prior (data space, the decoder's mean)."""
        from .registry import MODELS

        able = sorted(name for name, spec in MODELS.items() if getattr(spec.cls, "can_sample", False))
        raise AekitError(
            f"{type(self).__name__} has no prior to sample from",
            f"train a model that can sample ({', '.join(able)}), or use the GMM sampler fitted to the codes: --sampler gmm",
        )

    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Semi-supervised models receive the labelled training examples here before training."""

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """Family-specific test figures (model-space inputs), merged into metrics.json."""
        return {}

    def report_sections(self, data: Any) -> list[tuple[str, Any]]:
        """Family-specific report figures: (heading, Figure or zero-argument callable making one)."""
        return []
