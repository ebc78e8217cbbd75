"""Stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning.

Stage k trains encoder layer k and its mirror decoder layer as a shallow autoencoder on the
(fixed) codes of the layers below — corrupted first for the stacked *denoising* AE (Vincent et
al. 2010). Layer 1 reconstructs the data with the model's likelihood; deeper layers reconstruct
hidden activations with squared error. The deep model is the unrolled stack (Hinton &
Salakhutdinov 2006), then fine-tuned as a whole.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import AekitError
from .base import AEConfig, Autoencoder, Phase, Stage, Terms


@dataclass
class StackedAEConfig(AEConfig):
    pretrain_epochs: int = 5        # epochs of greedy pretraining per layer
    finetune_corruption: bool = False  # keep corrupting inputs during fine-tuning


class StackedAE(Autoencoder):
    config_cls = StackedAEConfig

    def __init__(self, cfg: StackedAEConfig):
        super().__init__(cfg)
        if cfg.net != "mlp":
            raise AekitError("stacked pretraining is implemented for the MLP network", "use --net mlp")
        if cfg.pretrain_epochs < 0:
            raise AekitError(f"model.pretrain_epochs must be >= 0, got {cfg.pretrain_epochs}")

    @property
    def n_layers(self) -> int:
        return len(self.encoder.layers)

    def _pretrain_loss(self, k: int):
        """Loss of the shallow AE for encoder layer k (0-based)."""
        n = self.n_layers

        def loss(x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
            with torch.no_grad():
                below = self.encoder(x, 0, k) if k > 0 else x.reshape(x.shape[0], -1)
            inp = self.corrupt(below) if (self.training and self.cfg.corruption != "none") else below
            h = self.encoder(inp, k, k + 1)
            # the decoder layer mirroring encoder layer k is decoder layer n-1-k
            out = self.decoder(h, n - 1 - k, n - k)
            if k == 0:
                recon = self.likelihood.nll(out.reshape(x.shape), x).mean()
            else:
                recon = (out - below).pow(2).sum(1).mean()
            return {"recon": recon, "loss": recon}

        return loss

    def _layer_params(self, k: int):
        n = self.n_layers

        def params() -> list[torch.nn.Parameter]:
            ps = list(self.encoder.layers[k].parameters()) + list(self.decoder.layers[n - 1 - k].parameters())
            if k == 0:
                ps += list(self.likelihood.parameters())
            return ps

        return params

    def _finetune_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        corrupt = self.training and self.cfg.finetune_corruption
        return self.loss(x, y, corrupt=corrupt)

    def training_plan(self) -> list[Stage]:
        stages = [
            Stage(f"pretrain-{k + 1}", [Phase(f"pretrain-{k + 1}", self._layer_params(k), self._pretrain_loss(k))], epochs=self.cfg.pretrain_epochs)
            for k in range(self.n_layers)
        ] if self.cfg.pretrain_epochs > 0 else []
        stages.append(Stage("finetune", [Phase("main", lambda: list(self.parameters()), self._finetune_loss)]))
        return stages
