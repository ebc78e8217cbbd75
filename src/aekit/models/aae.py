"""Adversarial autoencoder (Makhzani et al. 2015): an autoencoder whose codes are pushed towards
a prior p(z) by a discriminator instead of a KL term, so any prior one can *sample* will do.

Training is one stage of phases, each stepped on every batch with its own optimiser:

  reconstruction   encoder + decoder     −log p(x | z)
  discriminator    discriminator(s)      BCE: prior samples → 1, encoder codes (detached) → 0
  generator        encoder               BCE: encoder codes → 1 (the discriminator frozen)
  classification   encoder (aae-semi)    cross-entropy of q(y | x) on a labelled minibatch

Variants (each its own preset, because the ones that need labels carry ``n_classes``):

  aae              codes matched to a normal / mixture / swiss-roll prior; 2-D codes by default, so
                   the codes can be drawn over the prior (the lecture's AAE figure): raise
                   --latent-dim for sharper reconstructions
  aae-conditional  label-conditioned prior: the discriminator also sees the one-hot label (with an
                   extra "unlabelled" slot) and real samples come from that label's component
  aae-supervised   the one-hot label goes to the decoder, so z holds the style only
  aae-semi         encoder emits a softmax y and a style z; one discriminator matches z to the
                   prior, another y to one-hot categorical samples; plus the classification phase

Encoding is deterministic: z itself, the posterior mean for the Gaussian encoder, and the style z
(not y) for aae-semi. A label-conditioned decoder given no label (``reconstruct(x)``, ``decode(z)``
of aae-supervised) sees the uniform 1/K label vector; metrics pass the test labels instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AekitError, unknown_choice
from ..nets import MLP, build_nets
from ..parts.gaussian import reparameterize
from ..parts.priors import PRIORS, check_dim, make_prior
from .base import AEConfig, Autoencoder, Phase, Stage, Terms, _as_tensor
from .registry import register

# keeps σ = exp(logvar / 2) in [0.0025, 20]: a collapsing or exploding σ would stall training
LOGVAR_RANGE = (-12.0, 6.0)
# the option that needs labels → the preset that has them
LABEL_PRESETS = {"conditional_prior": "aae-conditional", "supervised": "aae-supervised", "semi_supervised": "aae-semi"}


@dataclass
class AAEConfig(AEConfig):
    encoder_type: str = "deterministic"  # deterministic | gaussian (z = μ + σε in training; μ when encoding)
    prior: str = "normal"               # normal | mixture | swiss-roll (swiss-roll needs latent_dim 2)
    prior_std: float | None = None      # None: the prior's default (normal 1; mixture 0.5 per component; swiss-roll noise 0.05)
    prior_components: int = 10          # mixture components / swiss-roll segments (label-conditioned: one per class)
    prior_radius: float | None = None   # None: default (mixture: circle of means, 4; swiss-roll: outer radius, 3)
    disc_hidden: list[int] = field(default_factory=lambda: [256, 256])  # discriminator hidden widths
    disc_activation: str = "leaky-relu"  # discriminator hidden activation
    # Adam makes every phase's step about lr long whatever its gradient, so these rates set the balance
    # of reconstruction and prior matching. Measured on full MNIST, 2-D codes, 3 epochs (test recon
    # nats / discriminator accuracy on test codes, 0.5 = codes match the prior): gen 1e-3 & disc 2e-4:
    # 199 / 0.31 (reconstruction swamped); gen 5e-4 & disc 2e-4: 159 / 0.51; gen = disc = 5e-4: 158 /
    # 0.57; gen = disc = 2e-4 over 10 epochs: the discriminator wins (0.97). None: train.lr
    disc_lr: float | None = 2e-4        # discriminator learning rate
    gen_lr: float | None = 5e-4         # encoder learning rate in the generator phase
    adv_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # Adam betas of both adversarial phases
    conditional_prior: bool = False     # label-conditioned prior (preset aae-conditional)
    supervised: bool = False            # one-hot label fed to the decoder (preset aae-supervised)
    semi_supervised: bool = False       # categorical y + style z, two discriminators (preset aae-semi)


@dataclass
class ConditionalAAEConfig(AAEConfig):
    n_classes: int = 0                  # number of classes, filled from the data's labels
    label_batch: int = 100              # aae-semi: labelled examples per classification step


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none").reshape(-1)


def _frozen(module: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """``module(inp)`` with its parameters detached: gradients reach ``inp`` only."""
    return torch.func.functional_call(module, {n: p.detach() for n, p in module.named_parameters()}, (inp,))


class AAE(Autoencoder):
    """Adversarial autoencoder; see the module docstring for the phases and variants."""

    config_cls = AAEConfig
    can_sample = True

    def __init__(self, cfg: AAEConfig):
        super().__init__(cfg)  # validates, builds the plain nets, likelihood, corruption, scaling buffers
        K, zdim = self.n_classes, cfg.latent_dim
        self._n_y = K if cfg.semi_supervised else 0          # categorical head of the encoder
        self._dec_extra = K if (cfg.supervised or cfg.semi_supervised) else 0  # label / y to the decoder
        enc_out = self._n_y + (2 * zdim if cfg.encoder_type == "gaussian" else zdim)
        if enc_out != zdim or self._dec_extra:
            self.encoder, self.decoder = build_nets(cfg, self.input_shape, enc_out=enc_out, dec_in_extra=self._dec_extra)
        comps = K if cfg.conditional_prior else cfg.prior_components
        self.prior = make_prior(cfg.prior, zdim, std=cfg.prior_std, k=comps, radius=cfg.prior_radius)
        check_dim(self.prior, zdim)
        self.discriminator = self._make_disc(zdim + (K + 1 if cfg.conditional_prior else 0))
        self.cat_discriminator = self._make_disc(K) if cfg.semi_supervised else None
        # labelled examples for the classification phase; never saved (run.py gives them again on resume)
        self.register_buffer("labelled_x", torch.zeros(0, *self.input_shape), persistent=False)
        self.register_buffer("labelled_y", torch.zeros(0, dtype=torch.long), persistent=False)

    def _make_disc(self, d_in: int) -> MLP:
        h = list(self.cfg.disc_hidden)
        return MLP([d_in, *h, 1], [self.cfg.disc_activation] * len(h) + ["linear"], init=self.cfg.init)

    # ---- configuration ----------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return int(getattr(self.cfg, "n_classes", 0))

    @property
    def uses_labels(self) -> bool:
        c = self.cfg
        return bool(c.conditional_prior or c.supervised or c.semi_supervised)

    @staticmethod
    def validate_config(cfg: AAEConfig) -> None:
        Autoencoder.validate_config(cfg)
        if cfg.encoder_type not in ("deterministic", "gaussian"):
            raise unknown_choice("encoder_type", cfg.encoder_type, ("deterministic", "gaussian"))
        if cfg.prior not in PRIORS:
            raise unknown_choice("prior", cfg.prior, PRIORS)
        on = [k for k in LABEL_PRESETS if getattr(cfg, k)]
        if on and not hasattr(cfg, "n_classes"):
            raise AekitError(f"model.{on[0]} needs labels, which the plain aae preset does not take",
                             f"use the preset {LABEL_PRESETS[on[0]]} (--model {LABEL_PRESETS[on[0]]})")
        if len(on) > 1:
            raise AekitError(f"model.{on[0]} and model.{on[1]} cannot be combined", "turn on one of them")
        if on and getattr(cfg, "n_classes", 0) < 2:
            raise AekitError(f"model.n_classes is {getattr(cfg, 'n_classes', 0)}; {on[0]} needs 2 or more classes",
                             "train through aekit.train_run / `aekit train`, which take it from the data's labels")
        if cfg.conditional_prior and cfg.prior == "normal":
            raise AekitError("a label-conditioned prior needs a component per class; the normal prior has none",
                             "use --set model.prior=mixture (or swiss-roll with --latent-dim 2)")
        if (cfg.encoder_type == "gaussian" or cfg.semi_supervised) and cfg.code_activation != "linear":
            raise AekitError(f"model.code_activation {cfg.code_activation!r} would squash the Gaussian / categorical heads",
                             "use --set model.code_activation=linear")
        if cfg.noise_samples != 1:
            raise AekitError("the AAE takes one corruption sample per example", "drop model.noise_samples")
        if any(h < 1 for h in cfg.disc_hidden):
            raise AekitError(f"model.disc_hidden widths must be >= 1, got {cfg.disc_hidden}")
        if len(cfg.adv_betas) != 2 or not all(0 <= b < 1 for b in cfg.adv_betas):
            raise AekitError(f"model.adv_betas must be two numbers in [0, 1), got {cfg.adv_betas}", "e.g. [0.5, 0.999]")
        for key in ("disc_lr", "gen_lr"):
            v = getattr(cfg, key)
            if v is not None and not v > 0:
                raise AekitError(f"model.{key} must be > 0, got {v}", "drop it to use train.lr")
        if getattr(cfg, "label_batch", 1) < 1:
            raise AekitError(f"model.label_batch must be >= 1, got {cfg.label_batch}")

    # ---- codes --------------------------------------------------------------------------------------
    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """The encoder's outputs: (y logits (aae-semi) or None, μ, log σ² (Gaussian encoder) or None)."""
        h = self.encoder(x)
        y_logits, h = (h[:, : self._n_y], h[:, self._n_y:]) if self._n_y else (None, h)
        if self.cfg.encoder_type == "gaussian":
            mu, logvar = h.chunk(2, dim=1)
            return y_logits, mu, logvar.clamp(*LOGVAR_RANGE)
        return y_logits, h, None

    def _code(self, x: torch.Tensor, sample: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        y_logits, mu, logvar = self._heads(x)
        return y_logits, (reparameterize(mu, logvar) if sample and logvar is not None else mu)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic code: z (the posterior mean for the Gaussian encoder; the style z for aae-semi)."""
        return self._code(x, sample=False)[1]

    def _one_hot(self, y: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        """One-hot labels for the decoder; rows with no label (y None or −1) get the uniform 1/K."""
        K = self.n_classes
        out = like.new_full((n, K), 1.0 / K)
        if y is not None:
            known = y >= 0
            out[known] = F.one_hot(y[known].long(), K).to(like.dtype)
        return out

    def _cond(self, y: torch.Tensor | None, y_logits: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor | None:
        """What the decoder sees besides z: softmax q(y|x) (aae-semi), the one-hot label (aae-supervised)."""
        if self.cfg.semi_supervised:
            return torch.softmax(y_logits, 1)
        if self.cfg.supervised:
            return self._one_hot(y, z.shape[0], z)
        return None

    def _decode(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters. A conditioned decoder given no ``cond`` (the public ``decode(z)``)
        gets the uniform 1/K label vector: the style z decoded with no class chosen."""
        if self._dec_extra:
            z = torch.cat([z, cond if cond is not None else z.new_full((z.shape[0], self._dec_extra), 1.0 / self._dec_extra)], 1)
        return self.decoder(z).reshape(z.shape[0], *self.input_shape)

    def _recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y_logits, z = self._code(x, sample=False)
        return self._decode(z, self._cond(y, y_logits, z))

    def _disc_in(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Discriminator input: z, plus (label-conditioned prior) the one-hot label with slot K = unlabelled."""
        if not self.cfg.conditional_prior:
            return z
        K = self.n_classes
        idx = torch.full((z.shape[0],), K, device=z.device, dtype=torch.long) if y is None else torch.where(y >= 0, y.long(), K)
        return torch.cat([z, F.one_hot(idx, K + 1).to(z.dtype)], 1)

    def _prior_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return y if self.cfg.conditional_prior else None

    def _cat_sample(self, n: int, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.randint(0, self.n_classes, (n,), device=like.device, generator=generator)
        return F.one_hot(k, self.n_classes).to(like.dtype)

    # ---- the phases ------------------------------------------------------------------------------------
    def _recon_terms(self, x: torch.Tensor, y: torch.Tensor | None, corrupt: bool) -> tuple[Terms, torch.Tensor | None, torch.Tensor]:
        x_in = self.corrupt(x) if corrupt and self.cfg.corruption != "none" else x
        y_logits, z = self._code(x_in, sample=self.training)
        params = self._decode(z, self._cond(y, y_logits, z))
        return {"recon": self.likelihood.nll(params, x).mean()}, y_logits, z

    def _reconstruction_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        terms, _, _ = self._recon_terms(x, y, corrupt=self.training)
        terms["loss"] = terms["recon"]
        return terms

    def _disc_terms(self, z: torch.Tensor, y_logits: torch.Tensor | None, y: torch.Tensor | None,
                    generator: torch.Generator | None = None) -> Terms:
        """Discriminator BCE (real prior samples → 1, codes → 0) and its accuracy, per discriminator."""
        real = self.prior.sample(z.shape[0], labels=self._prior_labels(y), generator=generator, device=z.device)
        d_real = self.discriminator(self._disc_in(real, y))
        d_fake = self.discriminator(self._disc_in(z, y))
        terms: Terms = {"disc": (_bce(d_real, 1.0) + _bce(d_fake, 0.0)).mean(),
                        "disc_acc": 0.5 * ((d_real > 0).float().mean() + (d_fake < 0).float().mean())}
        if self.cat_discriminator is not None:
            c_real = self.cat_discriminator(self._cat_sample(z.shape[0], z, generator))
            c_fake = self.cat_discriminator(torch.softmax(y_logits, 1))
            terms["disc_y"] = (_bce(c_real, 1.0) + _bce(c_fake, 0.0)).mean()
            terms["disc_y_acc"] = 0.5 * ((c_real > 0).float().mean() + (c_fake < 0).float().mean())
        return terms

    def _discriminator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        with torch.no_grad():  # the codes are fixed targets here
            y_logits, z = self._code(x, sample=self.training)
        terms = self._disc_terms(z, y_logits, y)
        terms["loss"] = terms["disc"] + terms.get("disc_y", 0.0)
        return terms

    def _gen_terms(self, z: torch.Tensor, y_logits: torch.Tensor | None, y: torch.Tensor | None) -> Terms:
        terms: Terms = {"gen": _bce(_frozen(self.discriminator, self._disc_in(z, y)), 1.0).mean()}
        if self.cat_discriminator is not None:
            terms["gen_y"] = _bce(_frozen(self.cat_discriminator, torch.softmax(y_logits, 1)), 1.0).mean()
        return terms

    def _generator_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        y_logits, z = self._code(x, sample=self.training)
        terms = self._gen_terms(z, y_logits, y)
        terms["loss"] = terms["gen"] + terms.get("gen_y", 0.0)
        return terms

    def _classification_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        """Cross-entropy of q(y|x) on a minibatch of the labelled set (``set_labelled``), or, without
        one, on the batch's own labelled examples (y >= 0)."""
        n = self.labelled_x.shape[0]
        if n:
            idx = torch.randint(0, n, (min(self.cfg.label_batch, n),), device=self.labelled_x.device)
            xl, yl = self.labelled_x[idx], self.labelled_y[idx]
        elif y is not None:
            keep = y >= 0
            xl, yl = x[keep], y[keep]
        else:
            xl, yl = x[:0], x.new_zeros(0, dtype=torch.long)
        logits = self._heads(xl)[0]
        if xl.shape[0] == 0:  # nothing labelled: a zero loss that still has a graph to step through
            return {"xent": logits.sum() * 0.0, "loss": logits.sum() * 0.0}
        xent = F.cross_entropy(logits, yl.long())
        return {"xent": xent, "class_acc": (logits.argmax(1) == yl).float().mean(), "loss": xent}

    def training_plan(self) -> list[Stage]:
        cfg = self.cfg
        betas = (float(cfg.adv_betas[0]), float(cfg.adv_betas[1]))

        def ae_params() -> list[nn.Parameter]:
            return [*self.encoder.parameters(), *self.decoder.parameters(), *self.likelihood.parameters()]

        def disc_params() -> list[nn.Parameter]:
            ps = list(self.discriminator.parameters())
            return ps + (list(self.cat_discriminator.parameters()) if self.cat_discriminator is not None else [])

        phases = [
            Phase("reconstruction", ae_params, self._reconstruction_loss),
            Phase("discriminator", disc_params, self._discriminator_loss, lr=cfg.disc_lr, betas=betas),
            Phase("generator", lambda: list(self.encoder.parameters()), self._generator_loss, lr=cfg.gen_lr, betas=betas),
        ]
        if cfg.semi_supervised:
            phases.append(Phase("classification", lambda: list(self.encoder.parameters()), self._classification_loss))
        return [Stage("train", phases)]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """Validation / test terms: ``loss`` is the reconstruction term; the adversarial terms
        (and the classification cross-entropy for aae-semi) are reported beside it."""
        corrupt = self.training if corrupt is None else corrupt
        terms, y_logits, z = self._recon_terms(x, y, corrupt)
        with torch.no_grad():
            # a fixed draw outside training, so validation figures do not jitter from epoch to epoch
            gen = None if self.training else torch.Generator(device=x.device).manual_seed(0)
            z0, yl0 = z.detach(), (y_logits.detach() if y_logits is not None else None)
            info = {k: v for k, v in self._disc_terms(z0, yl0, y, gen).items() if not k.endswith("_acc")}  # accuracy: extra_metrics
            info.update(self._gen_terms(z0, yl0, y))
            if self._n_y and y is not None and bool((y >= 0).any()):
                keep = y >= 0
                info["xent"] = F.cross_entropy(yl0[keep], y[keep].long())
        terms.update(info)
        terms["loss"] = terms["recon"]
        return terms

    # ---- labels ----------------------------------------------------------------------------------
    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """aae-semi keeps the labelled examples (model space) for its classification phase."""
        if self.cfg.supervised:
            raise AekitError("aae-supervised needs the label of every training example, but --labels hides some",
                             "drop --labels, or use aae-semi (semi-supervised) or aae-conditional")
        if not self.cfg.semi_supervised:
            return
        y = torch.as_tensor(y).long().reshape(-1)
        if x.shape[0] != y.shape[0]:
            raise AekitError(f"{x.shape[0]} labelled examples with {y.shape[0]} labels", "give one label per example")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.n_classes):
            raise AekitError(f"labels must be in 0..{self.n_classes - 1}, got {int(y.min())}..{int(y.max())}")
        self.labelled_x = self._check_input(torch.as_tensor(x, dtype=torch.float32)).to(self.input_shift.device)
        self.labelled_y = y.to(self.input_shift.device)

    def classify(self, x: Any, batch_size: int = 1024) -> Any:
        """aae-semi: the most probable class under q(y|x) for inputs ``x`` (data space)."""
        if not self.cfg.semi_supervised:
            raise AekitError(f"only the semi-supervised AAE classifies; this one has {'supervised' if self.uses_labels else 'no'} labels",
                             "train --model aae-semi (with --labels N for few labels)")
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        out = self._batched(lambda b: self._heads(self.to_model_space(b))[0].argmax(1), t, batch_size)
        return self._back(out, t, was_tensor)

    def _check_label(self, label: int | None) -> None:
        if label is None:
            return
        if not self.uses_labels:
            raise AekitError("this AAE was trained without labels, so it cannot generate a chosen class",
                             "train a preset that takes labels: " + ", ".join(LABEL_PRESETS.values()))
        if not 0 <= int(label) < self.n_classes:
            raise AekitError(f"label {label} is not one of the model's classes 0..{self.n_classes - 1}",
                             f"give a label from 0 to {self.n_classes - 1}")

    # ---- generation --------------------------------------------------------------------------------
    def decode(self, z: Any, batch_size: int = 1024, *, label: Any = None) -> Any:
        """The decoder's mean for codes ``z``. aae-supervised / aae-semi decode each style with
        ``label`` (one int, or one per code); without one, with the uniform 1/K label vector."""
        if label is None:
            return super().decode(z, batch_size)
        if not self._dec_extra:
            raise AekitError("only aae-supervised and aae-semi decode a code together with a label",
                             "drop label=, or draw a class of aae-conditional with sample(n, label=...)")
        t, was_tensor = _as_tensor(z)
        t = t.unsqueeze(0) if t.dim() == 1 else t
        d = self.cfg.latent_dim
        if t.shape[-1] != d:
            raise AekitError(f"the model's codes have {d} dimensions, got {t.shape[-1]}")
        labels = np.asarray(label.cpu() if isinstance(label, torch.Tensor) else label, dtype=np.int64).reshape(-1)
        if labels.size not in (1, len(t)):
            raise AekitError(f"{labels.size} labels for {len(t)} codes", "give one label, or one per code")
        for c in np.unique(labels):
            self._check_label(int(c))
        onehot = F.one_hot(torch.from_numpy(np.broadcast_to(labels, (len(t),)).copy()), self.n_classes).to(t.dtype)
        both = torch.cat([t.reshape(len(t), d).cpu(), onehot], 1)
        out = self._batched(lambda b: self.from_model_space(self.likelihood.mean(self._decode(b[:, :d], b[:, d:]))), both, batch_size)
        return self._back(out, t, was_tensor)

    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws decoded from the prior (data space, the decoder's mean). With ``label``:
        that class (its prior component, or the decoder's label input) in varying styles."""
        self._check_label(label)
        dev = self.device
        gen = torch.Generator(device=dev).manual_seed(int(seed)) if seed is not None else None
        was = self.training
        self.eval()
        try:
            with torch.inference_mode():
                labels = torch.full((n,), int(label), dtype=torch.long, device=dev) if label is not None else None
                z = self.prior.sample(n, labels=self._prior_labels(labels), generator=gen, device=dev)
                cond = None
                if self._dec_extra:
                    cls = labels if labels is not None else torch.randint(0, self.n_classes, (n,), generator=gen, device=dev)
                    cond = F.one_hot(cls, self.n_classes).to(z.dtype)
                out = self.from_model_space(self.likelihood.mean(self._decode(z, cond)))
        finally:
            self.train(was)
        return out.cpu().numpy()

    # ---- figures and metrics -------------------------------------------------------------------------
    @torch.no_grad()
    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """Discriminator accuracy on test codes vs prior samples (0.5: the codes pass for prior
        samples), mean log p(z) of the codes under the prior where it has a density, and for
        aae-semi the test classification accuracy / error."""
        was = self.training
        self.eval()
        dev = self.device
        gen = torch.Generator(device=dev).manual_seed(0)
        acc: dict[str, float] = {}
        logp, right, n_lab = 0.0, 0, 0
        try:
            for i in range(0, x.shape[0], 1024):
                xb = x[i: i + 1024].to(dev)
                yb = y[i: i + 1024].to(dev) if y is not None else None
                y_logits, z = self._code(xb, sample=False)
                t = self._disc_terms(z, y_logits, yb, gen)
                for k in ("disc_acc", "disc_y_acc"):
                    if k in t:
                        acc[k] = acc.get(k, 0.0) + float(t[k]) * len(xb)
                if self.cfg.prior != "swiss-roll":
                    logp += float(self.prior.log_prob(z).sum())
                if y_logits is not None and yb is not None:
                    keep = yb >= 0
                    right += int((y_logits[keep].argmax(1) == yb[keep]).sum())
                    n_lab += int(keep.sum())
        finally:
            self.train(was)
        n = max(x.shape[0], 1)
        out: dict[str, Any] = {"test_disc_accuracy": acc.get("disc_acc", 0.0) / n}
        if "disc_y_acc" in acc:
            out["test_disc_y_accuracy"] = acc["disc_y_acc"] / n
        if self.cfg.prior != "swiss-roll":
            out["test_code_log_prior"] = logp / n
        if n_lab:
            out["test_accuracy"] = right / n_lab
            out["test_error_pct"] = 100.0 * (1 - right / n_lab)
        if out["test_disc_accuracy"] > 0.9:
            out["warnings"] = [f"the discriminator tells test codes from prior samples {out['test_disc_accuracy']:.0%} of the time: "
                               "the codes do not match the prior yet (train longer, or raise model.gen_lr)"]
        return out

    def report_sections(self, data: Any) -> list[tuple[str, Any]]:
        """Samples from the prior (a row per class for the label-taking presets); for 2-D codes the
        test codes over prior samples (the lecture's AAE latent figure) and a decoded lattice."""
        out: list[tuple[str, Any]] = []
        images = getattr(data, "kind", None) == "images"
        shape = (-1, *self.input_shape)
        if images:
            if self.uses_labels and self.n_classes <= 20:
                s = np.concatenate([self.sample(10, label=c, seed=c) for c in range(self.n_classes)])
                out.append(("Samples: a row per class", _tiles(s.reshape(shape), 10, f"classes 0..{self.n_classes - 1}, top to bottom")))
            else:
                out.append(("Samples from the prior", _tiles(self.sample(100, seed=0).reshape(shape), 10, self.prior.describe())))
        if self.cfg.latent_dim == 2:
            out.append(("Codes over prior samples", self._codes_figure(data)))
            if images and not self._dec_extra:
                out.append(("Decoded lattice over the prior", self._lattice_figure()))
        return out

    def _codes_figure(self, data: Any) -> Any:
        from ..plots.figures import _new_figure

        split = next(s for s in ("test", "val", "train") if getattr(data, f"x_{s}", None) is not None)
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}", None)
        x, y = x[:2000], (None if y is None else np.asarray(y[:2000]))
        z = np.asarray(self.encode(np.asarray(x)))
        real = self.prior.sample(len(z), generator=torch.Generator().manual_seed(0)).numpy()
        fig = _new_figure((6.6, 5.2))
        ax = fig.subplots()
        ax.scatter(real[:, 0], real[:, 1], s=4, c="0.75", lw=0, label="prior samples")
        if y is None:
            ax.scatter(z[:, 0], z[:, 1], s=5, lw=0, alpha=0.7, color="#4c72b0", label="codes")
        else:
            sc = ax.scatter(z[:, 0], z[:, 1], s=5, lw=0, alpha=0.8, c=y, cmap="tab10", vmin=-0.5, vmax=max(9.5, y.max() + 0.5))
            fig.colorbar(sc, ax=ax, label="label")
        ax.set(xlabel="z1", ylabel="z2", title=f"{len(z):,} codes over {self.prior.describe()}")
        ax.legend(loc="upper right", fontsize=8, frameon=False, markerscale=3)
        return fig

    def _lattice_figure(self, n: int = 15) -> Any:
        if self.cfg.prior == "normal":  # equal-probability steps, as the VAE manifold figure
            q = torch.linspace(0.05, 0.95, n)
            axis0 = axis1 = (math.sqrt(2) * torch.erfinv(2 * q - 1) * self.prior.std).tolist()
        else:  # the central 98% of the prior's mass in each coordinate
            s = self.prior.sample(5000, generator=torch.Generator().manual_seed(0)).numpy()
            axis0, axis1 = (np.linspace(*np.percentile(s[:, i], [1, 99]), n).tolist() for i in (0, 1))
        zs = np.array([[a, b] for b in axis1[::-1] for a in axis0], dtype=np.float32)  # z2 grows upwards
        imgs = np.asarray(self.decode(zs)).reshape(-1, *self.input_shape)
        return _tiles(imgs, n, "decoded lattice (z1 left to right, z2 bottom to top)")


def _tiles(images: np.ndarray, nrow: int, title: str) -> Any:
    """Images tiled into one picture: one Axes, not one per image, so it draws in a blink."""
    from ..plots.figures import _new_figure, grid_array

    grid = grid_array(images, nrow)
    h, w = grid.shape[:2]
    fig = _new_figure((min(10.0, w / 40 + 0.4), min(10.0, w / 40 + 0.4) * h / w + 0.4))
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


register("aae", AAE, AAEConfig,
         "adversarial autoencoder: 2-D codes matched to N(0, I) by a discriminator (--set model.prior=mixture|swiss-roll)",
         latent_dim=2)
register("aae-conditional", AAE, ConditionalAAEConfig,
         "AAE with a label-conditioned prior: each class its own mixture component (semi-supervised with --labels N)",
         latent_dim=2, prior="mixture", conditional_prior=True)
register("aae-supervised", AAE, ConditionalAAEConfig,
         "supervised AAE: one-hot label to the decoder, the code holds the style; sample(n, label=c) draws class c",
         latent_dim=8, supervised=True)
register("aae-semi", AAE, ConditionalAAEConfig,
         "semi-supervised AAE: softmax y and style z, two discriminators, a classifier from --labels N",
         hidden=[256, 256], latent_dim=10, semi_supervised=True)
