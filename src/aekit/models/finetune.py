"""Pretraining → fine-tuning: a trained autoencoder's encoder plus a softmax head, trained end to end
on labelled examples (the lecture's "autoencoders as pretraining for classification").

:class:`EncoderClassifier` follows the Trainer's model protocol (``training_plan``, ``forward(x, y,
phase)``, ``loss(x, y, corrupt)``), so fine-tuning gets everything training has: seeds, progress,
mixed precision, clipping, early stopping. Its inputs are in the autoencoder's model space (the
scaling the autoencoder was trained with applied); ``code`` is the encoder's deterministic code
(the posterior mean of a probabilistic encoder). Only the encoder path and the head receive
gradients; the decoder's weights stay as they were.

    clf = EncoderClassifier(ae, n_classes=10)
    Trainer(clf, TrainConfig(epochs=10, lr=1e-3)).fit(ae_space(x), y)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AekitError
from ..nets.mlp import init_linear
from .base import Phase, Stage


class EncoderClassifier(nn.Module):
    """``softmax(head(ae.code(x)))``; ``freeze_encoder`` trains the head alone (a linear probe)."""

    def __init__(self, ae: nn.Module, n_classes: int, freeze_encoder: bool = False, init: str = "glorot"):
        super().__init__()
        if n_classes < 2:
            raise AekitError(f"a classifier needs at least 2 classes; the labels hold {n_classes}",
                             "give labels of two or more classes")
        self.ae = ae
        self.head = nn.Linear(int(ae.cfg.latent_dim), int(n_classes))
        init_linear(self.head, init)
        self.freeze_encoder = bool(freeze_encoder)
        self.n_classes = int(n_classes)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of model-space ``x``."""
        if self.freeze_encoder:
            with torch.no_grad():
                z = self.ae.code(x)
        else:
            z = self.ae.code(x)
        return self.head(z.float())

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> dict[str, torch.Tensor]:
        if y is None:
            raise AekitError("fine-tuning needs labels", "give the labelled examples' classes")
        logits = self.logits(x).float()
        ce = F.cross_entropy(logits, y)
        return {"loss": ce, "error": (logits.argmax(-1) != y).float().mean()}

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str | None = None) -> dict[str, torch.Tensor]:
        return self.loss(x, y)

    def _trained(self) -> list[nn.Parameter]:
        return [p for p in self.head.parameters()] if self.freeze_encoder else [p for p in self.parameters() if p.requires_grad]

    def training_plan(self) -> list[Stage]:
        return [Stage("finetune", [Phase("main", self._trained, self.loss)])]

    def predict_proba(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N, K) of data-space ``x`` (NumPy or a tensor)."""
        ae = self.ae
        t, _ = ae.as_input(x)
        if not len(t):
            return np.zeros((0, self.n_classes), np.float32)
        return ae.map_batches(lambda b: torch.softmax(self.logits(ae.to_model_space(b)), -1), t, batch_size=batch_size).numpy()


__all__ = ["EncoderClassifier"]
