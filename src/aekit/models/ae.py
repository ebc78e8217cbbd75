"""The deterministic autoencoder family: plain, linear, sparse, denoising, contractive, stochastic
contractive. One model, any mix of the parts:

    minimise  −log p(x | z = h(x̃)) + λ₁‖h‖₁ + β Σⱼ KL(ρ ‖ ρ̂ⱼ) + λ_c‖∂h/∂x‖²_F + λ_s E‖h(x) − h(x + ε)‖² + λ_w ½ΣW²

with x̃ ~ q(x̃ | x) the corruption (x̃ = x when none) and the clean x the target.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import check_choice, opt
from ..errors import AekitError
from ..nets import MLP, build_nets
from ..parts import (
    contractive_closed_form,
    contractive_exact,
    kl_sparsity,
    l1_code,
    make_corruption,
    stochastic_contractive,
    weight_decay,
)
from .base import Autoencoder, ReportItem, Terms
from .options import ACTIVATION_HELP, Corruptible, ModelConfig
from .registry import register

log = logging.getLogger("aekit")


@dataclass
class AEConfig(Corruptible, ModelConfig):
    """Options of the deterministic family; the presets only change defaults."""

    code_activation: str = opt("linear", "activation on the code: " + ACTIVATION_HELP)
    tied: bool = opt(False, "decoder weights = encoder weights transposed (stored once)")
    noise_samples: int = opt(1, "corrupted copies of each example per step (the loss averages over them)")
    l1: float = opt(0.0, "λ of the L1 penalty Σ|h_j| on the code")
    sparsity_weight: float = opt(0.0, "β of the KL sparsity penalty Σ KL(ρ‖ρ̂_j) (needs a sigmoid code)")
    sparsity_target: float = opt(0.05, "ρ: the target mean activation of KL sparsity")
    contractive: float = opt(0.0, "λ of the contractive penalty ‖∂h/∂x‖²_F (closed form for one sigmoid layer)")
    stochastic_contractive: float = opt(0.0, "λ of the stochastic contractive penalty E‖h(x) − h(x + ε)‖²")
    sc_sigma: float = opt(0.1, "σ of the Gaussian ε of the stochastic contractive penalty")
    weight_decay: float = opt(0.0, "λ of ½ΣW² over the weight matrices (logged as its own term)")
    task: str = opt("reconstruct", "reconstruct | colorize (RGB images: the encoder sees the grayscale image, the decoder paints the colour one)")

    def unused(self) -> dict[str, str]:
        out = {**ModelConfig.unused(self), **Corruptible.unused(self)}
        if self.corruption == "none":
            out["noise_samples"] = "model.corruption is none"
        if not self.sparsity_weight:
            out["sparsity_target"] = "model.sparsity_weight is 0"
        if not self.stochastic_contractive:
            out["sc_sigma"] = "model.stochastic_contractive is 0"
        return out


TASKS = ("reconstruct", "colorize")
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


def grayscale_rgb(x: torch.Tensor) -> torch.Tensor:
    """RGB images (B, 3, H, W) as their grayscale (luma) copied to the three channels."""
    w = x.new_tensor(LUMA).reshape(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True).expand_as(x)


def validate_ae_options(cfg: AEConfig) -> None:
    check_choice("model.task", cfg.task, TASKS)
    if cfg.task == "colorize" and (len(cfg.input_shape) != 3 or cfg.input_shape[0] != 3):
        raise AekitError(f"colorization paints RGB images (3, H, W); these examples have shape {tuple(cfg.input_shape)}",
                         "train on colour images, e.g. --data color-mnist or a folder of RGB images")
    cfg.validate_corruption()
    if cfg.noise_samples < 1:
        raise AekitError(f"model.noise_samples must be >= 1, got {cfg.noise_samples}")
    for key in ("l1", "sparsity_weight", "contractive", "stochastic_contractive", "weight_decay"):
        if not getattr(cfg, key) >= 0:
            raise AekitError(f"model.{key} must be >= 0, got {getattr(cfg, key)}")
    if not cfg.sc_sigma > 0:
        raise AekitError(f"model.sc_sigma must be > 0, got {cfg.sc_sigma}")
    if (cfg.contractive or cfg.stochastic_contractive) and cfg.net == "conv" and cfg.norm == "batch":
        raise AekitError("the contractive penalties differentiate each example's code on its own; batch normalisation mixes the batch",
                         "use --set model.norm=group (or layer, or none) with a contractive penalty")
    if cfg.sparsity_weight > 0:
        if cfg.code_activation != "sigmoid":
            raise AekitError("KL sparsity needs code activations in (0, 1)",
                             "use --set model.code_activation=sigmoid, or the L1 penalty (model.l1) for other activations")
        if not 0 < cfg.sparsity_target < 1:
            raise AekitError(f"model.sparsity_target must be in (0, 1), got {cfg.sparsity_target}")


def corrupted(corrupt: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(corrupted input, its clean target): ``samples`` corrupted copies of each example."""
    target = x.repeat_interleave(samples, 0) if samples > 1 else x
    return corrupt(target), target


def add_penalties(cfg: AEConfig, terms: Terms, total: torch.Tensor, h: torch.Tensor, clean_in: torch.Tensor,
                  h_clean: torch.Tensor | None, encode: Callable[[torch.Tensor], torch.Tensor],
                  sigmoid_weight: torch.Tensor | None, decayed: Iterable[nn.Module]) -> torch.Tensor:
    """Add the code penalties of ``cfg`` to ``terms`` (each its own term) and return the new total.

    ``h``: codes of the (possibly corrupted) input; ``clean_in``/``h_clean``: the clean input and its
    codes (None: ``h`` is clean); ``encode``: the map the contractive penalties differentiate;
    ``sigmoid_weight``: its weight when it is one sigmoid layer (the closed form applies);
    ``decayed``: the modules whose weight matrices the weight decay covers."""
    h = h.float()

    def clean() -> torch.Tensor:
        return h if h_clean is None else h_clean.float()

    if cfg.l1:
        terms["l1"] = l1_code(h)
        total = total + cfg.l1 * terms["l1"]
    if cfg.sparsity_weight:
        terms["sparsity"] = kl_sparsity(h, cfg.sparsity_target)
        total = total + cfg.sparsity_weight * terms["sparsity"]
    if cfg.contractive:
        if sigmoid_weight is not None:
            terms["contractive"] = contractive_closed_form(clean(), sigmoid_weight.float())
        else:
            terms["contractive"] = contractive_exact(lambda v: encode(v).float(), clean_in)
        total = total + cfg.contractive * terms["contractive"]
    if cfg.stochastic_contractive:
        h_noisy = encode(clean_in + cfg.sc_sigma * torch.randn_like(clean_in)).float()
        terms["stochastic_contractive"] = stochastic_contractive(clean(), h_noisy)
        total = total + cfg.stochastic_contractive * terms["stochastic_contractive"]
    if cfg.weight_decay:
        terms["weight_decay"] = sum(weight_decay(m) for m in decayed)
        total = total + cfg.weight_decay * terms["weight_decay"]
    return total


class AE(Autoencoder):
    """Deterministic autoencoder with any mix of the penalties; see the module docstring."""

    config_cls = AEConfig

    @staticmethod
    def validate_config(cfg: AEConfig) -> None:
        Autoencoder.validate_config(cfg)
        validate_ae_options(cfg)

    def build(self) -> None:
        cfg = self.cfg
        self.encoder, self.decoder = build_nets(cfg, self.input_shape)
        self.likelihood = self.make_likelihood()
        lo, hi = cfg.input_range
        self.corrupt = make_corruption(cfg.corruption, cfg.noise_level, lo, hi)
        if cfg.contractive and self._single_sigmoid_layer is None:
            log.warning("contractive penalty: no closed form for this encoder, so each step computes the exact Jacobian "
                        "∂h/∂x by batched autograd: about latent_dim (%d) backward passes per batch", cfg.latent_dim)

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees of model-space ``x``: x, or its grayscale (task colorize)."""
        return grayscale_rgb(x) if self.cfg.task == "colorize" else x

    def code(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(self.encoder_input(x))

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, target=target).reshape(z.shape[0], *self.input_shape)

    def colorize(self, gray: Any, batch_size: int = 1024) -> Any:
        """Colour images (N, 3, H, W) painted from grayscale ones (N, 1, H, W) or (N, H, W), in data
        units (a model trained with task colorize)."""
        if self.cfg.task != "colorize":
            raise AekitError("this model was not trained to colorize", "train with --task colorize on RGB images")
        t = gray if isinstance(gray, torch.Tensor) else torch.as_tensor(np.asarray(gray, dtype=np.float32))
        t = t.unsqueeze(1) if t.dim() == 3 else t
        if t.dim() != 4 or t.shape[1] != 1:
            raise AekitError(f"colorize takes grayscale images (N, 1, H, W) or (N, H, W), got shape {tuple(t.shape)}")
        out = self.reconstruct(t.expand(-1, 3, -1, -1), batch_size)
        return out if isinstance(gray, torch.Tensor) else np.asarray(out)

    def report_sections(self, data: Any) -> list[ReportItem]:
        """Colorization runs: grayscale inputs, the predicted colours and the true ones."""
        x = next((a for a in (getattr(data, f"x_{s}", None) for s in ("test", "val", "train")) if a is not None and len(a)), None)
        if self.cfg.task != "colorize" or x is None:
            return []
        xs = torch.as_tensor(np.asarray(x[:10], dtype=np.float32))
        rows = np.concatenate([grayscale_rgb(xs).numpy(), np.asarray(self.reconstruct(xs.numpy())), xs.numpy()])
        return [ReportItem("Colorization (rows: grayscale input, predicted colours, true colours)", "images",
                           np.clip(rows, 0.0, 1.0), nrow=len(xs))]

    @property
    def _single_sigmoid_layer(self) -> nn.Linear | None:
        enc = self.encoder
        if isinstance(enc, MLP) and len(enc.layers) == 1 and enc.acts[0] == "sigmoid":
            return enc.layers[0]
        return None

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """−log p(x|z) + penalties, each term per example then batch mean; ``loss`` is the total.
        Corruption applies when ``corrupt`` (default: in training mode); the target is the clean x."""
        cfg = self.cfg
        corrupt = self.training if corrupt is None else corrupt
        target = x
        x = self.encoder_input(x)
        if corrupt and cfg.corruption != "none":
            x_in, _ = corrupted(self.corrupt, x, cfg.noise_samples)
            target = target.repeat_interleave(cfg.noise_samples, 0) if cfg.noise_samples > 1 else target
        else:
            x_in = x
        h = self.encoder(x_in)
        terms: Terms = {"recon": self.likelihood.nll_mean(self.decoder_params(h, target=target), target)}
        needs_clean = x_in is not x and (cfg.contractive or cfg.stochastic_contractive)
        layer = self._single_sigmoid_layer
        total = add_penalties(cfg, terms, terms["recon"], h, x, self.encoder(x) if needs_clean else None, self.encoder,
                              layer.weight if layer is not None else None, [self])
        terms["loss"] = total
        return terms


register("ae", AE, AEConfig,
         "autoencoder: MLP of any depth, under- or overcomplete (default 784-512-256-32)")
register("linear-ae", AE, AEConfig,
         "linear autoencoder (no activations, squared error): learns PCA's subspace; tied weights optional",
         net="mlp", hidden=[], latent_dim=16, activation="linear", code_activation="linear", likelihood="gaussian")
register("sparse-ae", AE, AEConfig,
         "sparse autoencoder: sigmoid code with KL sparsity (rho=0.05, beta=3) and weight decay (UFLDL)",
         net="mlp", hidden=[], latent_dim=196, activation="sigmoid", code_activation="sigmoid",
         sparsity_target=0.05, sparsity_weight=3.0, weight_decay=1e-4)
register("denoising-ae", AE, AEConfig,
         "denoising autoencoder: reconstructs clean inputs from 25%-masked ones",
         corruption="masking", noise_level=0.25)
register("contractive-ae", AE, AEConfig,
         "contractive autoencoder: one sigmoid layer, penalty lambda*||dh/dx||_F^2 (closed form)",
         net="mlp", hidden=[], latent_dim=256, activation="sigmoid", code_activation="sigmoid", contractive=0.1)
register("stochastic-contractive-ae", AE, AEConfig,
         "stochastic contractive AE: tied sigmoid layer, penalty lambda*E||h(x)-h(x+eps)||^2",
         net="mlp", hidden=[], latent_dim=256, activation="sigmoid", code_activation="sigmoid", tied=True,
         stochastic_contractive=1.0, sc_sigma=0.1)
