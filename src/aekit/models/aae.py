"""Adversarial autoencoder (Makhzani et al. 2015): an autoencoder whose codes are pushed towards
a prior p(z) by a discriminator instead of a KL term, so any prior one can *sample* will do.

Training is one stage of phases, each stepped on every batch with its own optimiser:

  reconstruction   encoder + decoder     −log p(x | z)
  discriminator    discriminator(s)      BCE: prior samples → 1, encoder codes (detached) → 0
  generator        encoder               BCE: encoder codes → 1 (the discriminator frozen)
  classification   encoder (aae-semi)    cross-entropy of q(y | x) on a labelled minibatch

Presets, one config class each (only the label-taking ones carry ``n_classes``):

  aae              codes matched to a normal / mixture / swiss-roll prior; 2-D codes by default, so
                   the codes can be drawn over the prior (the lecture's AAE figure)
  aae-conditional  label-conditioned prior: the discriminator also sees the one-hot label (with an
                   extra "unlabelled" slot) and real samples come from that label's component
  aae-supervised   the one-hot label goes to the decoder, so z holds the style only
  aae-semi         encoder emits a softmax y and a style z; one discriminator matches z to the
                   prior, another y to one-hot categorical samples; plus the classification phase

Encoding is deterministic: z itself, the posterior mean for the Gaussian encoder, and the style z
(not y) for aae-semi. A label-taking decoder given no label sees the uniform 1/K label vector.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import check_choice, opt
from ..errors import AekitError
from ..nets import MLP, build_nets
from ..parts import make_corruption
from ..parts.gaussian import reparameterize, split_gaussian
from ..parts.priors import PRIORS, check_dim, make_prior
from .base import Autoencoder, Phase, ReportItem, Stage, Terms
from .options import ACTIVATION_HELP, Corruptible, ModelConfig
from .registry import register

# keeps σ = exp(logvar / 2) in [0.0025, 20]: a collapsing or exploding σ would stall training
LOGVAR_RANGE = (-12.0, 6.0)


@dataclass
class AAEConfig(Corruptible, ModelConfig):
    label_mode: ClassVar[str] = "none"   # none | conditional-prior | supervised | semi-supervised
    RESUMABLE: ClassVar[tuple[str, ...]] = ("disc_lr", "gen_lr", "adv_betas")  # a resume may change them

    code_activation: str = opt("linear", "activation on the code (deterministic encoder): " + ACTIVATION_HELP)
    encoder_type: str = opt("deterministic", "deterministic | gaussian (z = μ + σε in training; μ when encoding)")
    prior: str = opt("normal", "p(z) the codes are matched to: normal | mixture | swiss-roll (swiss-roll: 2-D codes)")
    prior_std: float | None = opt(None, "prior spread; unset: normal 1, mixture 0.5 per component, swiss-roll noise 0.05")
    prior_components: int = opt(10, "mixture components / swiss-roll segments")
    prior_radius: float | None = opt(None, "unset: mixture means on a circle of radius 4; swiss-roll outer radius 3")
    disc_hidden: list[int] = opt([256, 256], "discriminator hidden widths")
    disc_activation: str = opt("leaky-relu", "discriminator hidden activation")
    # Adam makes every phase's step about lr long whatever its gradient, so these rates set the balance
    # of reconstruction and prior matching. Measured on full MNIST, 2-D codes, 3 epochs (test recon
    # nats / discriminator accuracy on test codes, 0.5 = codes match the prior): gen 1e-3 & disc 2e-4:
    # 199 / 0.31 (reconstruction swamped); gen 5e-4 & disc 2e-4: 159 / 0.51; gen = disc = 5e-4: 158 /
    # 0.57; gen = disc = 2e-4 over 10 epochs: the discriminator wins (0.97).
    disc_lr: float | None = opt(2e-4, "discriminator learning rate (unset: train.lr)")
    gen_lr: float | None = opt(5e-4, "encoder learning rate in the generator phase (unset: train.lr)")
    adv_betas: list[float] = opt([0.5, 0.999], "Adam betas of both adversarial phases")

    def unused(self) -> dict[str, str]:
        out = {**ModelConfig.unused(self), **Corruptible.unused(self)}
        if self.prior == "normal":
            out.update(prior_components="the normal prior has one component", prior_radius="the normal prior has no radius")
        return out


@dataclass
class ConditionalAAEConfig(AAEConfig):
    label_mode: ClassVar[str] = "conditional-prior"
    label_use: ClassVar[str] = "partial"
    n_classes: int = opt(0, "filled from the data: the number of classes K, one prior component each (do not set)")

    def unused(self) -> dict[str, str]:
        out = AAEConfig.unused(self)
        out["prior_components"] = "the label-conditioned prior has one component per class"
        return out


@dataclass
class SupervisedAAEConfig(AAEConfig):
    label_mode: ClassVar[str] = "supervised"
    label_use: ClassVar[str] = "required"
    n_classes: int = opt(0, "filled from the data: the number of classes K (do not set)")


@dataclass
class SemiSupervisedAAEConfig(AAEConfig):
    label_mode: ClassVar[str] = "semi-supervised"
    label_use: ClassVar[str] = "partial"
    LABELS_ONLY: ClassVar[tuple[str, ...]] = ("label_batch",)  # used only with --labels N
    n_classes: int = opt(0, "filled from the data: the number of classes K (do not set)")
    label_batch: int = opt(100, "labelled examples per classification step (with --labels N)")


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none").reshape(-1)


def _frozen(module: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """``module(inp)`` with its parameters detached: gradients reach ``inp`` only."""
    return torch.func.functional_call(module, {n: p.detach() for n, p in module.named_parameters()}, (inp,))


class AAE(Autoencoder):
    """Adversarial autoencoder; see the module docstring for the phases and presets."""

    config_cls = AAEConfig
    can_sample = True

    @staticmethod
    def validate_config(cfg: AAEConfig) -> None:
        Autoencoder.validate_config(cfg)
        cfg.validate_corruption()
        check_choice("model.encoder_type", cfg.encoder_type, ("deterministic", "gaussian"))
        check_choice("model.prior", cfg.prior, PRIORS)
        mode = cfg.label_mode
        if mode != "none" and getattr(cfg, "n_classes", 0) < 2:
            raise AekitError(f"model.n_classes is {getattr(cfg, 'n_classes', 0)}; this preset needs 2 or more classes",
                             "train through aekit.train_run / `aekit train`, which take it from the data's labels")
        if mode == "conditional-prior" and cfg.prior == "normal":
            raise AekitError("a label-conditioned prior needs a component per class; the normal prior has none",
                             "use --set model.prior=mixture (or swiss-roll with --latent-dim 2)")
        if (mode == "semi-supervised" or cfg.encoder_type == "gaussian") and cfg.code_activation != "linear":
            raise AekitError(f"model.code_activation {cfg.code_activation!r} would squash the Gaussian / categorical heads",
                             "use --set model.code_activation=linear")
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

    def build(self) -> None:
        cfg, K, zdim = self.cfg, self.n_classes, self.cfg.latent_dim
        mode = cfg.label_mode
        self._n_y = K if mode == "semi-supervised" else 0  # categorical head of the encoder
        self._dec_extra = K if mode in ("supervised", "semi-supervised") else 0  # label / y to the decoder
        enc_out = self._n_y + (2 * zdim if cfg.encoder_type == "gaussian" else zdim)
        self.encoder, self.decoder = build_nets(cfg, self.input_shape, enc_out=enc_out, dec_cond=self._dec_extra)
        self.likelihood = self.make_likelihood()
        self.corrupt = make_corruption(cfg.corruption, cfg.noise_level, *cfg.input_range)
        comps = K if mode == "conditional-prior" else (cfg.prior_components if cfg.prior != "normal" else None)
        self.prior = make_prior(cfg.prior, zdim, std=cfg.prior_std, k=comps, radius=cfg.prior_radius)
        check_dim(self.prior, zdim)
        self.discriminator = self._make_disc(zdim + (K + 1 if mode == "conditional-prior" else 0))
        self.cat_discriminator = self._make_disc(K) if self._n_y else None
        # labelled examples for the classification phase; never saved (given again on resume)
        self.register_buffer("labelled_x", torch.zeros(0, *self.input_shape), persistent=False)
        self.register_buffer("labelled_y", torch.zeros(0, dtype=torch.long), persistent=False)

    def _make_disc(self, d_in: int) -> MLP:
        h = list(self.cfg.disc_hidden)
        return MLP([d_in, *h, 1], [self.cfg.disc_activation] * len(h) + ["linear"], init=self.cfg.init)

    @property
    def can_classify(self) -> bool:
        return self.cfg.label_mode == "semi-supervised"

    @property
    def decodes_labels(self) -> bool:
        return bool(self._dec_extra)

    # ---- codes ------------------------------------------------------------------------------------
    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """The encoder's outputs: (y logits (aae-semi) or None, μ, log σ² (Gaussian encoder) or None)."""
        h = self.encoder(x)
        y_logits, h = (h[:, : self._n_y].float(), h[:, self._n_y:]) if self._n_y else (None, h)
        if self.cfg.encoder_type == "gaussian":
            mu, logvar = split_gaussian(h, *LOGVAR_RANGE)
            return y_logits, mu, logvar
        return y_logits, h.float(), None

    def _code(self, x: torch.Tensor, sample: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        y_logits, mu, logvar = self._heads(x)
        return y_logits, (reparameterize(mu, logvar) if sample and logvar is not None else mu)

    def code(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._code(x, sample=False)[1]

    def _one_hot(self, y: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        """One-hot labels for the decoder; rows with no label (y None or −1) get the uniform 1/K."""
        K = self.n_classes
        out = like.new_full((n, K), 1.0 / K)
        if y is not None:
            known = y >= 0
            out[known] = F.one_hot(y[known].long(), K).to(like.dtype)
        return out

    def _decode(self, z: torch.Tensor, cond: torch.Tensor | None, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, cond=cond if self._dec_extra else None, target=target).reshape(z.shape[0], *self.input_shape)

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None, target: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters; a label-taking decoder sees one-hot ``y`` (uniform where unknown)."""
        if y is not None and not self._dec_extra:
            raise AekitError("only aae-supervised and aae-semi decode a code together with a label",
                             "drop the label, or draw a class of aae-conditional with sample(n, label=...)")
        return self._decode(z, self._one_hot(y, z.shape[0], z) if self._dec_extra else None, target)

    def _cond(self, y: torch.Tensor | None, y_logits: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor | None:
        """What the decoder sees besides z: softmax q(y|x) (aae-semi), the one-hot label (aae-supervised)."""
        if self._n_y:
            return torch.softmax(y_logits, 1)
        return self._one_hot(y, z.shape[0], z) if self._dec_extra else None

    def recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y_logits, z = self._code(x, sample=False)
        return self._decode(z, self._cond(y, y_logits, z))

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        if not self._n_y:
            raise AekitError("only the semi-supervised AAE classifies", "train --model aae-semi (with --labels N for few labels)")
        return self._heads(x)[0]

    def _disc_in(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Discriminator input: z, plus (label-conditioned prior) the one-hot label with slot K = unlabelled."""
        if self.cfg.label_mode != "conditional-prior":
            return z
        K = self.n_classes
        idx = torch.full((z.shape[0],), K, device=z.device, dtype=torch.long) if y is None else torch.where(y >= 0, y.long(), K)
        return torch.cat([z, F.one_hot(idx, K + 1).to(z.dtype)], 1)

    def _prior_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return y if self.cfg.label_mode == "conditional-prior" else None

    # ---- the phases -----------------------------------------------------------------------------
    def _recon_terms(self, x: torch.Tensor, y: torch.Tensor | None, corrupt: bool) -> tuple[Terms, torch.Tensor | None, torch.Tensor]:
        x_in = self.corrupt(x) if corrupt and self.cfg.corruption != "none" else x
        y_logits, z = self._code(x_in, sample=self.training)
        return {"recon": self.likelihood.nll_mean(self._decode(z, self._cond(y, y_logits, z), x), x)}, y_logits, z

    def _reconstruction_loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Terms:
        terms, _, _ = self._recon_terms(x, y, corrupt=self.training)
        terms["loss"] = terms["recon"]
        return terms

    def _disc_terms(self, z: torch.Tensor, y_logits: torch.Tensor | None, y: torch.Tensor | None,
                    generator: torch.Generator | None = None) -> Terms:
        """Discriminator BCE (real prior samples → 1, codes → 0) and its accuracy, per discriminator."""
        real = self.prior.sample(z.shape[0], labels=self._prior_labels(y), generator=generator, device=z.device)
        d_real, d_fake = self.discriminator(self._disc_in(real, y)), self.discriminator(self._disc_in(z, y))
        terms: Terms = {"disc": (_bce(d_real, 1.0) + _bce(d_fake, 0.0)).mean(),
                        "disc_acc": 0.5 * ((d_real > 0).float().mean() + (d_fake < 0).float().mean())}
        if self.cat_discriminator is not None:
            k = torch.randint(0, self.n_classes, (z.shape[0],), device=z.device, generator=generator)
            c_real = self.cat_discriminator(F.one_hot(k, self.n_classes).to(z.dtype))
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
        if self._n_y:
            phases.append(Phase("classification", lambda: list(self.encoder.parameters()), self._classification_loss))
        return [Stage("train", phases)]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """Validation / test terms: ``loss`` is the reconstruction term; the adversarial terms
        (and for aae-semi the classification cross-entropy ``xent`` and error ``error``) are reported beside it."""
        corrupt = self.training if corrupt is None else corrupt
        terms, y_logits, z = self._recon_terms(x, y, corrupt)
        with torch.no_grad():
            # a fixed draw outside training, so validation figures do not jitter from epoch to epoch
            gen = None if self.training else torch.Generator(device=x.device).manual_seed(0)
            z0, yl0 = z.detach(), (y_logits.detach() if y_logits is not None else None)
            terms.update({k: v for k, v in self._disc_terms(z0, yl0, y, gen).items() if not k.endswith("_acc")})
            terms.update(self._gen_terms(z0, yl0, y))
            if self._n_y and y is not None and bool((y >= 0).any()):
                keep = y >= 0
                terms["xent"] = F.cross_entropy(yl0[keep], y[keep].long())
                terms["error"] = (yl0[keep].argmax(1) != y[keep]).float().mean()  # what train.monitor=error watches
        terms["loss"] = terms["recon"]
        return terms

    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """aae-semi keeps the labelled examples (model space) for its classification phase."""
        if self.cfg.label_mode == "supervised":
            raise AekitError("aae-supervised needs the label of every training example, but --labels hides some",
                             "drop --labels, or use aae-semi (semi-supervised) or aae-conditional")
        if not self._n_y:
            return
        y = self.label_tensor(torch.as_tensor(y).reshape(-1), len(y))
        if x.shape[0] != y.shape[0]:
            raise AekitError(f"{x.shape[0]} labelled examples with {y.shape[0]} labels", "give one label per example")
        self.labelled_x = self.check_input(torch.as_tensor(x, dtype=torch.float32)).to(self.input_shift.device)
        self.labelled_y = y.to(self.input_shift.device)

    # ---- generation, figures and metrics ------------------------------------------------------------
    def sample(self, n: int, label: Any = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws decoded from the prior (data space, the decoder's mean). With ``label`` (one
        class, or one per sample): that class (its prior component, or the decoder's label input)."""
        if label is not None and self.cfg.label_mode == "none":
            raise AekitError("this AAE was trained without labels, so it cannot generate a chosen class",
                             "train a preset that takes labels: aae-conditional, aae-supervised, aae-semi")
        labels = self.label_tensor(label, n) if label is not None else None
        dev = self.device
        gen = torch.Generator(device=dev).manual_seed(int(seed)) if seed is not None else None

        def draw() -> torch.Tensor:
            ys = labels.to(dev) if labels is not None else None
            z = self.prior.sample(n, labels=self._prior_labels(ys), generator=gen, device=dev)
            if self._dec_extra and ys is None:
                ys = torch.randint(0, self.n_classes, (n,), generator=gen, device=dev)
            return self.data_mean(z, ys if self._dec_extra else None)

        return self.evaluating(draw).cpu().numpy()

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """Discriminator accuracy on codes vs prior samples (0.5: the codes pass for prior samples),
        mean log p(z) of the codes where the prior has a density, and for aae-semi the accuracy."""
        gen = torch.Generator(device=self.device).manual_seed(0)

        def stats(b: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
            y_logits, z = self._code(b, sample=False)
            t = self._disc_terms(z, y_logits, yb, gen)
            n = b.shape[0]
            cols = [t["disc_acc"].expand(n), t.get("disc_y_acc", t["disc_acc"]).expand(n),
                    self.prior.log_prob(z) if self.cfg.prior != "swiss-roll" else z.new_zeros(n),
                    y_logits.argmax(1).float() if y_logits is not None else z.new_full((n,), -1.0)]
            return torch.stack(cols, 1).double()

        s = self.map_batches(stats, x, y)
        out: dict[str, Any] = {"disc_accuracy": float(s[:, 0].mean())}
        if self.cat_discriminator is not None:
            out["disc_y_accuracy"] = float(s[:, 1].mean())
        if self.cfg.prior != "swiss-roll":
            out["code_log_prior"] = float(s[:, 2].mean())
        if self._n_y and y is not None and (y >= 0).any():
            ok = y >= 0
            acc = float((s[ok, 3].long() == y[ok]).double().mean())
            out.update(accuracy=acc, error_pct=100.0 * (1 - acc))
        if out["disc_accuracy"] > 0.9:
            out["warnings"] = [f"the discriminator tells codes from prior samples {out['disc_accuracy']:.0%} of the time: "
                               "the codes do not match the prior yet (train longer, or raise model.gen_lr)"]
        return out

    def report_sections(self, data: Any) -> list[ReportItem]:
        """Samples (a row per class for the label-taking presets); for 2-D codes the codes over prior
        samples (the lecture's AAE figure) and a decoded lattice over the prior."""
        out: list[ReportItem] = []
        images = getattr(data, "kind", None) == "images"
        if images:
            if self.n_classes and self.n_classes <= 20:
                s = self.sample(10 * self.n_classes, label=np.repeat(np.arange(self.n_classes), 10), seed=0)
                out.append(ReportItem("Samples: a row per class", "images", s, f"classes 0..{self.n_classes - 1}, top to bottom"))
            else:
                out.append(ReportItem("Samples from the prior", "images", self.sample(100, seed=0), self.prior.describe()))
        if self.cfg.latent_dim == 2:
            split = next((s for s in ("test", "val", "train") if getattr(data, f"x_{s}", None) is not None), None)
            if split is not None:
                x, y = getattr(data, f"x_{split}")[:2000], getattr(data, f"y_{split}", None)
                z = np.asarray(self.encode(np.asarray(x)))
                real = self.prior.sample(len(z), generator=torch.Generator().manual_seed(0)).numpy()
                out.append(ReportItem("Codes over prior samples", "scatter", z, f"{len(z):,} codes over {self.prior.describe()}",
                                      labels=None if y is None else np.asarray(y[:2000]), background=real, axes=("z1", "z2")))
            if images and not self._dec_extra:
                imgs = np.asarray(self.decode(self.prior.lattice(15).numpy()))
                out.append(ReportItem("Decoded lattice over the prior", "images", imgs,
                                      "decoded lattice (z1 left to right, z2 bottom to top)", nrow=15))
        return out


register("aae", AAE, AAEConfig,
         "adversarial autoencoder: 2-D codes matched to N(0, I) by a discriminator (--set model.prior=mixture|swiss-roll)",
         latent_dim=2)
register("aae-conditional", AAE, ConditionalAAEConfig,
         "AAE with a label-conditioned prior: each class its own mixture component (semi-supervised with --labels N)",
         latent_dim=2, prior="mixture")
register("aae-supervised", AAE, SupervisedAAEConfig,
         "supervised AAE: one-hot label to the decoder, the code holds the style; sample(n, label=c) draws class c",
         latent_dim=8)
register("aae-semi", AAE, SemiSupervisedAAEConfig,
         "semi-supervised AAE: softmax y and style z, two discriminators, a classifier from --labels N",
         hidden=[256, 256], latent_dim=10)
