"""The model protocol: what every family implements, and the public API built on it.

Every model is one sentence with parts swapped:

    encode x (corrupted first, when training a denoising model) into z, decode z, and minimise
    −log p(x | z) + Σ λᵢ Ωᵢ

Adding a family is this file's reading plus one module:

1. a config dataclass subclassing :class:`ModelConfig` (options.py) that declares only the options
   the family uses, each with ``opt(default, help)``; options that have no effect under the other
   settings are listed by its ``unused()`` (an error when given);
2. a subclass of :class:`Autoencoder` implementing the required hooks (``build``, ``code``,
   ``decoder_params``, ``loss``) and whichever optional hooks apply;
3. ``register(name, cls, config_cls, describe, **preset_defaults)`` for each preset.

The conformance suite (tests/test_conformance.py) then trains, saves and reloads every preset.

Conventions: hooks take and return *model-space* tensors (the data after the fitted input scaling,
shaped like ``input_shape`` with a batch dimension); loss terms are per example (summed over data or
code dimensions) then averaged over the batch; labels are class indices 0..K−1, −1 = unlabelled.
The public methods (``encode``, ``decode``, ``reconstruct``, ...) take data in its own units,
NumPy or tensors, and return the same kind.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..arrays import tensor_to_float32, to_float32
from ..config import check_choice
from ..errors import AekitError
from ..nets import check_net
from ..parts import LIKELIHOODS, make_likelihood
from .options import ModelConfig
from .output_bias import CHOICES as OUTPUT_BIAS
from ..progress import iterate

Terms = dict[str, torch.Tensor]


# ---- what a model declares besides its maths ------------------------------------------------------

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
class ReportItem:
    """A figure a family adds to the run report, as data (the plots layer draws it).

    kind "images": ``data`` is (N, C, H, W) in [0, 1], tiled ``nrow`` to a row.
    kind "bars":   ``data`` is a 1-D array of values, ``labels`` their names.
    kind "scatter": ``data`` is (N, 2) points coloured by ``labels``; ``background`` (M, 2) drawn
    beneath in grey (e.g. samples of the prior).
    """

    heading: str
    kind: str
    data: Any
    caption: str = ""
    nrow: int = 10
    labels: Any = None
    background: Any = None
    axes: tuple[str, str] = ("", "")


def _numpy_in(x: Any, images: bool) -> tuple[torch.Tensor, bool]:
    """(float32 tensor, whether ``x`` was a tensor), under the input rule of :mod:`aekit.arrays`."""
    if isinstance(x, torch.Tensor):
        return tensor_to_float32(x, images=images), True
    a, _ = to_float32(np.asarray(x), "input", images=images)
    return torch.from_numpy(np.ascontiguousarray(a)), False


# ---- the base of every family ---------------------------------------------------------------------

class Autoencoder(nn.Module):
    """Base class of every family; see the module docstring. Subclasses set ``config_cls``."""

    config_cls: ClassVar[type] = ModelConfig
    can_sample: ClassVar[bool] = False     # has a prior p(z): ``sample`` works
    preset: str = ""                        # the registry name it was built as (set by the registry)

    def __init__(self, cfg: Any):
        super().__init__()
        self.cfg = cfg
        self.validate_config(cfg)
        self.input_shape = tuple(int(s) for s in cfg.input_shape)
        self.input_dim = math.prod(self.input_shape)
        self.build()
        # the scaling fitted on the training data; saved with the weights, applied by the public API
        self.register_buffer("input_shift", torch.zeros(self.input_shape))
        self.register_buffer("input_scale", torch.ones(self.input_shape))

    # ---- required hooks ---------------------------------------------------------------------------
    def build(self) -> None:
        """Create the family's modules (networks, likelihood, priors, discriminators); called once."""
        raise NotImplementedError

    def code(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic code of model-space ``x``: z itself, or the posterior mean. (B, latent_dim)."""
        raise NotImplementedError

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None, target: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters (logits, means) of x given codes z (and labels), in the input's shape.
        ``target``: the x being reconstructed, passed by training losses (a recurrent decoder with
        teacher forcing feeds on it); every other caller leaves it out."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """The objective's terms on a batch, ``loss`` their weighted total. ``corrupt`` (default: in
        training mode) applies the training-only randomness (corruption, binarization, annealing);
        validation and test figures call it with ``corrupt=False``."""
        raise NotImplementedError

    # ---- optional hooks (defaults for an unconditional, deterministic model) ----------------------
    @staticmethod
    def validate_config(cfg: Any) -> None:
        """Raise AekitError for a config that cannot work; subclasses call the base's too."""
        if not cfg.input_shape:
            raise AekitError("model.input_shape is not set", "build models through aekit.train_run or aekit.load, which take it from the data")
        check_net(cfg)
        cls = type(cfg)
        if cfg.net not in cls.networks:
            why = f" ({cls.network_note})" if cls.network_note else ""
            raise AekitError(f"this model works with the {' and '.join(cls.networks)} network, not model.net={cfg.net}{why}",
                             f"use --net {cls.networks[0]}")
        if getattr(cfg, "tied", False) and cfg.net != "mlp":
            raise AekitError("tied weights (model.tied) are implemented for the MLP network only",
                             "drop model.tied (--set model.tied=false), or use --net mlp")
        if cfg.likelihood == "auto":
            raise AekitError("model.likelihood 'auto' is resolved from the data by aekit.train_run",
                             "give bernoulli, gaussian or gaussian-learned when building a model directly")
        check_choice("model.likelihood", cfg.likelihood, LIKELIHOODS)
        check_choice("model.output_bias", cfg.output_bias, OUTPUT_BIAS)
        if cfg.likelihood == "categorical" and len(cfg.input_shape) != 2:
            raise AekitError(f"the categorical likelihood reads one-hot sequences (T, K); these examples have shape {tuple(cfg.input_shape)}",
                             "use bernoulli or gaussian")
        if not cfg.sigma > 0:
            raise AekitError(f"model.sigma must be > 0, got {cfg.sigma}", "e.g. --set model.sigma=1.0")
        if cfg.latent_dim < 1:
            raise AekitError(f"model.latent_dim must be >= 1, got {cfg.latent_dim}")
        if any(h < 1 for h in cfg.hidden):
            raise AekitError(f"model.hidden widths must be >= 1, got {cfg.hidden}")

    def make_likelihood(self, dim: int | None = None) -> nn.Module:
        """The data's likelihood; for sequences it reads NaN as end padding (masked)."""
        return make_likelihood(self.cfg.likelihood, dim or self.input_dim, self.cfg.sigma, masked=len(self.input_shape) == 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str | None = None) -> Terms:
        """The loss terms of ``phase`` on a batch: what the trainer (and DistributedDataParallel) calls."""
        if phase is None:
            return self.loss(x, y)
        cache = self.__dict__.get("_phase_cache")
        if cache is None:
            cache = {p.name: p.loss for s in self.training_plan() for p in s.phases}
            self.__dict__["_phase_cache"] = cache
        return cache[phase](x, y)

    def training_plan(self) -> list[Stage]:
        """Stages of phases the trainer runs; default: one stage, one phase, every parameter."""
        return [Stage("train", [Phase("main", lambda: [p for p in self.parameters() if p.requires_grad], self.loss)])]

    def recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters of the deterministic reconstruction of model-space ``x`` (the decoder
        sees ``x`` as its target: a recurrent decoder takes each sequence's length from it)."""
        return self.decoder_params(self.code(x, y), y, target=x)

    def score(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Per-example score in nats, (B,): higher = less likely. Default: the reconstruction's
        negative log-likelihood −log p(x | z = code(x)); likelihood models give their −log p(x) bound."""
        return self.likelihood.nll(self.recon_params(x, y), x)

    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Semi-supervised families receive the labelled training examples here (``--labels N``)."""

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """Family figures on model-space ``x`` (keys without a split prefix; ``warnings`` a list)."""
        return {}

    def report_sections(self, data: Any) -> list[ReportItem]:
        """Family figures for the run report, as :class:`ReportItem` data."""
        return []

    def sample(self, n: int, label: Any = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws from the model's prior, decoded to the data space: (n, *input_shape)."""
        from .registry import MODELS

        able = sorted(name for name, spec in MODELS.items() if getattr(spec.cls, "can_sample", False))
        raise AekitError(f"{type(self).__name__} has no prior to sample from",
                         f"train a model that can sample ({', '.join(able)}), or use the GMM sampler fitted to the codes: --sampler gmm")

    @property
    def can_classify(self) -> bool:
        return False

    @property
    def decodes_labels(self) -> bool:
        """The decoder takes a label beside the code (``decode(z, label=...)``): the style z is kept
        while the label changes."""
        return False

    @property
    def partial_labels(self) -> bool:
        """Trains with --labels N: the hidden labels are −1 and ``set_labelled`` gets the known ones."""
        return self.cfg.label_use == "partial"

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of q(y | x) for model-space ``x`` (families with ``can_classify``)."""
        raise AekitError(f"{type(self).__name__} does not predict classes",
                         "train a model that does: cvae, m1m2 or aae-semi")

    # ---- labels -------------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return int(getattr(self.cfg, "n_classes", 0))

    def label_tensor(self, label: Any, n: int, allow_unlabelled: bool = False) -> torch.Tensor:
        """``n`` class indices (CPU long) from one label or one per example; range-checked."""
        if not self.n_classes:
            raise AekitError(f"{type(self).__name__} was trained without labels", "drop the label")
        y = torch.as_tensor(np.asarray(label.cpu() if isinstance(label, torch.Tensor) else label)).long()
        y = y.expand(n).clone() if y.dim() == 0 else y.reshape(-1)
        if len(y) != n:
            raise AekitError(f"{len(y)} labels given for {n} examples", "give one label, or one per example")
        bad = y[((y < -1) if allow_unlabelled else (y < 0)) | (y >= self.n_classes)]
        if len(bad):
            raise AekitError(f"label {int(bad[0])} is not one of the model's classes 0..{self.n_classes - 1}",
                             f"give a label from 0 to {self.n_classes - 1}" + (" (-1: unknown)" if allow_unlabelled else ""))
        return y

    # ---- model space ----------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.input_shift.device

    def check_input(self, t: torch.Tensor) -> torch.Tensor:
        """A batch shaped (N, *input_shape): adds the batch dimension to a single example, the channel
        dimension to (N, H, W) one-channel images, and unflattens (N, D) vectors of the right width."""
        shape = self.input_shape
        if tuple(t.shape) == shape or (len(shape) == 3 and shape[0] == 1 and tuple(t.shape) == shape[1:]):
            t = t.reshape(1, *shape)  # one example
        elif len(shape) == 3 and shape[0] == 1 and t.dim() == 3 and tuple(t.shape[1:]) == shape[1:]:
            t = t.unsqueeze(1)  # (N, H, W) one-channel images
        if t.dim() < 2 or tuple(t.shape[1:]) != shape:
            if t.dim() >= 2 and math.prod(t.shape[1:]) == self.input_dim:
                t = t.reshape(t.shape[0], *shape)
            else:
                raise AekitError(
                    f"the model expects examples of shape {shape} ({self.input_dim} values), got {tuple(t.shape[1:]) if t.dim() else ()}",
                    "give data of the shape the model was trained on (see its config.yaml: model.input_shape)",
                )
        return t

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_shift) / self.input_scale

    def from_model_space(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.input_scale + self.input_shift

    def as_input(self, x: Any) -> tuple[torch.Tensor, bool]:
        """(a CPU float32 batch of data-space examples, whether ``x`` was a tensor)."""
        t, was_tensor = _numpy_in(x, images=len(self.input_shape) == 3)
        return self.check_input(t), was_tensor

    def evaluating(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` in eval mode under inference_mode, restoring the training flag afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return fn()
        finally:
            self.train(was_training)

    def batches(self, n: int, batch_size: int, desc: str = "", progress: bool = False):
        """Slices over n examples, with a progress bar when ``progress``."""
        starts = range(0, n, batch_size)
        return (slice(i, i + batch_size) for i in iterate(starts, len(starts), desc, "batch", progress))

    def map_batches(self, fn: Callable[..., torch.Tensor], *arrays: torch.Tensor | None, batch_size: int = 1024,
                    desc: str = "", progress: bool = False) -> torch.Tensor:
        """``fn`` over aligned batches of ``arrays`` (None passes through), moved to the model's
        device, in eval mode; the results concatenated on the CPU."""
        n = arrays[0].shape[0]

        def run() -> list[torch.Tensor]:
            return [fn(*(a[s].to(self.device) if a is not None else None for a in arrays)).cpu()
                    for s in self.batches(n, batch_size, desc, progress)]

        outs = self.evaluating(run)
        return torch.cat(outs) if outs else torch.zeros(0)

    @staticmethod
    def _back(out: torch.Tensor, like: torch.Tensor, was_tensor: bool) -> Any:
        return out.to(like.device) if was_tensor else out.numpy()

    # ---- the public API: data units, NumPy or tensors in, the same kind out ---------------------------
    def encode(self, x: Any, batch_size: int = 1024, *, y: Any = None) -> Any:
        """Codes z of ``x`` (deterministic: the posterior mean for probabilistic encoders). A
        conditional encoder uses the labels ``y`` when given (−1: its own prediction)."""
        t, was_tensor = self.as_input(x)
        yt = self.label_tensor(y, t.shape[0], allow_unlabelled=True) if y is not None else None
        z = self.map_batches(lambda b, yb: self.code(self.to_model_space(b), yb), t, yt, batch_size=batch_size)
        return self._back(z, t, was_tensor)

    def decode(self, z: Any, batch_size: int = 1024, *, label: Any = None) -> Any:
        """The decoder's mean for codes ``z`` (probabilities for a Bernoulli), in data units and the
        input's shape. Models with a label input decode with ``label`` (one, or one per code)."""
        t = z if isinstance(z, torch.Tensor) else torch.from_numpy(np.asarray(z, dtype=np.float32))
        was_tensor = isinstance(z, torch.Tensor)
        t = t.float().unsqueeze(0) if t.dim() == 1 else t.float()
        if t.dim() != 2 or t.shape[-1] != self.cfg.latent_dim:
            raise AekitError(f"the model's codes have {self.cfg.latent_dim} dimensions, got shape {tuple(t.shape)}",
                             f"give codes of shape (N, {self.cfg.latent_dim})")
        yt = self.label_tensor(label, t.shape[0]) if label is not None else None
        out = self.map_batches(lambda b, yb: self.data_mean(b, yb), t, yt, batch_size=batch_size)
        return self._back(out, t, was_tensor)

    def data_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean in data units for model-side codes and labels."""
        return self.from_model_space(self.likelihood.mean(self.decoder_params(z, y)))

    def reconstruct(self, x: Any, batch_size: int = 1024, *, y: Any = None) -> Any:
        """decode(encode(x)) as the decoder's mean, in the shape of ``x``."""
        shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
        t, was_tensor = self.as_input(x)
        yt = self.label_tensor(y, t.shape[0], allow_unlabelled=True) if y is not None else None

        def rec(b: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
            return self.from_model_space(self.likelihood.mean(self.recon_params(self.to_model_space(b), yb)))

        out = self.map_batches(rec, t, yt, batch_size=batch_size).reshape(shape)
        return self._back(out, t, was_tensor)

    def predict_proba(self, x: Any, batch_size: int = 1024) -> Any:
        """q(y | x) for each example: (N, K)."""
        if not self.can_classify:  # the family's own message (class_logits raises it)
            self.class_logits(torch.zeros(0, *self.input_shape))
        t, was_tensor = self.as_input(x)
        p = self.map_batches(lambda b: torch.softmax(self.class_logits(self.to_model_space(b)).float(), -1), t, batch_size=batch_size)
        return self._back(p, t, was_tensor)

    def classify(self, x: Any, batch_size: int = 1024) -> Any:
        """The most likely class of each example: (N,) integers."""
        p = self.predict_proba(x, batch_size)
        return p.argmax(-1)

    def _seeded_codes(self, n: int, seed: int | None) -> torch.Tensor:
        if n < 0:
            raise AekitError(f"the number of samples must be >= 0, got {n}")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        return torch.randn((int(n), self.cfg.latent_dim), generator=g)
