"""Stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning.

Stage k trains encoder layer k and its mirror decoder layer as a shallow autoencoder on the (fixed)
codes of the layers below — corrupted first for the stacked *denoising* AE (Vincent et al. 2010).
Layer 1 reconstructs the data with the model's likelihood; deeper layers reconstruct hidden
activations with squared error. The code penalties apply layer by layer, as greedy pretraining
implies: a stacked sparse AE is sparse in each layer, a stacked contractive AE contracts each layer,
weight decay covers the layer pair being trained. The deep model is the unrolled stack (Hinton &
Salakhutdinov 2006), then fine-tuned as a whole with the AE's loss (penalties on the final code).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import opt
from ..errors import AekitError
from .ae import AE, AEConfig, add_penalties, corrupted
from .base import Phase, Stage, Terms
from .registry import register


@dataclass
class StackedAEConfig(AEConfig):
    networks: ClassVar[tuple[str, ...]] = ("mlp",)
    network_note: ClassVar[str] = ("greedy pretraining trains one linear layer and its mirror at a time; "
                                   "for a conv autoencoder train --model ae --net conv end to end")
    pretrain_epochs: int = opt(5, "epochs of greedy pretraining per layer (0: none)")
    finetune_corruption: bool = opt(False, "keep corrupting the inputs during fine-tuning")

    def unused(self) -> dict[str, str]:
        out = AEConfig.unused(self)
        if self.corruption == "none":
            out["finetune_corruption"] = "model.corruption is none"
        return out


class StackedAE(AE):
    config_cls = StackedAEConfig

    @staticmethod
    def validate_config(cfg: StackedAEConfig) -> None:
        AE.validate_config(cfg)
        if cfg.task != "reconstruct":
            raise AekitError("stacked pretraining reconstructs each layer's own input; it has no colorize task",
                             "train --model ae --task colorize")
        if cfg.pretrain_epochs < 0:
            raise AekitError(f"model.pretrain_epochs must be >= 0, got {cfg.pretrain_epochs}")
        if cfg.sparsity_weight and cfg.pretrain_epochs and cfg.activation != "sigmoid":
            raise AekitError("a stacked sparse AE is sparse in every layer: KL sparsity needs sigmoid hidden layers too",
                             "use --set model.activation=sigmoid (the code is sigmoid already), or the L1 penalty")

    @property
    def n_layers(self) -> int:
        return len(self.encoder.layers)

    def _layer(self, k: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda v: self.encoder(v, k, k + 1)

    def _pretrain_loss(self, k: int):
        """Loss of the shallow AE for encoder layer k (0-based), with the penalties on its code."""
        n, cfg = self.n_layers, self.cfg

        def loss(x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
            with torch.no_grad():
                below = self.encoder(x, 0, k) if k > 0 else x.reshape(x.shape[0], -1)
            if self.training and cfg.corruption != "none":
                inp, target = corrupted(self.corrupt, below, cfg.noise_samples)
            else:
                inp, target = below, below
            h = self._layer(k)(inp)
            # the decoder layer mirroring encoder layer k is decoder layer n-1-k
            out = self.decoder(h, n - 1 - k, n - k)
            if k == 0:
                recon = self.likelihood.nll_mean(out.reshape(target.shape[0], *self.input_shape),
                                                 target.reshape(target.shape[0], *self.input_shape))
            else:
                recon = (out.float() - target).pow(2).sum(1).mean()
            terms: Terms = {"recon": recon}
            needs_clean = inp is not below and (cfg.contractive or cfg.stochastic_contractive)
            enc_layer = self.encoder.layers[k]
            sigmoid = enc_layer.weight if self.encoder.acts[k] == "sigmoid" else None
            terms["loss"] = add_penalties(cfg, terms, recon, h, below, self._layer(k)(below) if needs_clean else None,
                                          self._layer(k), sigmoid, [enc_layer, self.decoder.layers[n - 1 - k]])
            return terms

        return loss

    def _layer_params(self, k: int):
        n = self.n_layers

        def params() -> list[nn.Parameter]:
            ps = list(self.encoder.layers[k].parameters()) + list(self.decoder.layers[n - 1 - k].parameters())
            if k == 0:
                ps += list(self.likelihood.parameters())
            return ps

        return params

    def _finetune_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        return self.loss(x, y, corrupt=self.training and self.cfg.finetune_corruption)

    def training_plan(self) -> list[Stage]:
        stages = [
            Stage(f"pretrain-{k + 1}", [Phase(f"pretrain-{k + 1}", self._layer_params(k), self._pretrain_loss(k))],
                  epochs=self.cfg.pretrain_epochs)
            for k in range(self.n_layers)
        ] if self.cfg.pretrain_epochs > 0 else []
        stages.append(Stage("finetune", [Phase("main", lambda: list(self.parameters()), self._finetune_loss)]))
        return stages


register("stacked-ae", StackedAE, StackedAEConfig,
         "stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning")
register("stacked-denoising-ae", StackedAE, StackedAEConfig,
         "stacked denoising AE: each layer pretrained as a denoising AE (25% masking), then fine-tuned",
         corruption="masking", noise_level=0.25)
