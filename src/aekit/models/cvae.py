"""Conditional, semi-supervised VAE: M2 of Kingma, Rezende, Mohamed & Welling (2014).

M2 is the generative model p(y) p(z) p(x | y, z) with p(y) = 1/K uniform and p(z) = N(0, I),
inferred by q(z | x, y) = N(μ(x, y), diag σ²(x, y)) and the classifier q(y | x) = softmax(MLP(x)).
Per example (nats), with β the KL weight (1: the bound):

    labelled     −L(x, y) = E_q(z|x,y)[−log p(x|y,z)] + β·KL(q(z|x,y) ‖ N(0, I)) + log K
    unlabelled   −U(x)    = Σ_y q(y|x)·(−L(x, y)) − H(q(y|x))     (all K labels in one batched pass)
    classifier   α·(−log q(y|x)) on labelled examples

Supervised training (every label of the batch known) minimises mean(−L + α·CE). Semi-supervised
training (``set_labelled`` was given the labelled examples) takes, per step, the batch's unlabelled
examples and ``labelled_batch`` labelled examples drawn afresh, and minimises (``balance``)

    paper    (N_u/N)·mean(−U) + (N_l/N)·mean(−L + α·CE)      Kingma et al.'s J^α divided by N
    batch    mean(−U) + w·mean(−L + α·CE)                     w = ``labelled_weight``; at w = 1 (the default)
                                                              the labelled set N_u/N_l times heavier

J^α = Σ_labelled (−L) + Σ_unlabelled (−U) + α_paper·E_labelled[CE] sums over the data set, each
example counted once per epoch; ``paper`` is its unbiased per-step estimate. α is the weight of
−log q(y|x) per labelled example next to its −L: the paper's α_paper = 0.1·N spread over the N_l
labelled examples is 0.1·N/N_l, the default when ``alpha`` is unset (N training examples, N_l
labelled; both counted from the training batches and saved with the weights): 0.1 when every example
is labelled. Pyro's SS-VAE example (its "aux loss multiplier" 46 on each labelled example's −log q(y|x),
each example visited once per epoch) is ``balance=paper, alpha=46``.

M2 works on inputs v: x itself here, read by the run's network (the label conditions a conv net as
constant label maps on its input channels and as a label embedding added to the decoder's first
features; a recurrent net reads it at every step); M1+M2 (models/m1m2.py) overrides ``m2_input``
with the codes of a frozen VAE. With a conv or rnn network the classifier q(y|x) is a copy of the
encoder's network with K outputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import opt
from ..errors import AekitError
from ..nets import MLP, build_nets
from ..parts.gaussian import kl_standard_normal, reparameterize, split_gaussian
from ..parts.importance import importance_log_px
from .base import Autoencoder, ReportItem, Terms
from .options import ModelConfig
from .registry import register


BALANCES = ("paper", "batch")


def _tile(v: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` copies of the batch ``v`` stacked along the batch axis (copy i is rows i·B … i·B+B−1)."""
    return v.repeat(n, *[1] * (v.dim() - 1))


@dataclass
class CVAEConfig(ModelConfig):
    """The conditional VAE: the shared options plus the label and bound options."""

    label_use: ClassVar[str] = "partial"
    LABELS_ONLY: ClassVar[tuple[str, ...]] = ("labelled_batch", "balance", "labelled_weight")  # used only with --labels N

    n_classes: int = opt(0, "filled from the data: the number of classes K (do not set)")
    beta: float = opt(1.0, "weight β of KL(q(z|x,y) ‖ N(0, I)) (1: the bound)")
    latent_samples: int = opt(1, "z samples per example and label; the reconstruction term averages over them")
    logvar_min: float = opt(-12.0, "lower clamp of the encoder's log σ²")
    logvar_max: float = opt(8.0, "upper clamp of the encoder's log σ²")
    alpha: float | None = opt(None, "weight of −log q(y|x) per labelled example; unset: Kingma's 0.1·N/N_l")
    classifier_hidden: list[int] = opt([500], "hidden widths of the classifier q(y|x)")
    labelled_batch: int = opt(100, "semi-supervised (--labels N): labelled examples drawn per step (all when fewer)")
    balance: str = opt("paper", "semi-supervised (--labels N): paper — Kingma et al.'s J^α, the labelled terms weighted "
                                "N_l/N and the unlabelled N_u/N per step | batch — the labelled minibatch's mean weighted like "
                                "the unlabelled batch's (the labelled set N_u/N_l times heavier)")
    labelled_weight: float = opt(1.0, "semi-supervised (--labels N), balance=batch: the weight w of the labelled minibatch's "
                                      "mean against the unlabelled batch's, mean(−U) + w·mean(−L + α·CE) (1: balance=batch's "
                                      "equal weights; balance=paper's is N_l/N_u)")

    def unused(self) -> dict[str, str]:
        out = ModelConfig.unused(self)
        if self.net in ("conv", "rnn"):
            out["classifier_hidden"] = f"the classifier of a {self.net} model is a copy of the encoder's network"
        if self.balance == "paper":
            out["labelled_weight"] = "model.balance is paper: Kingma et al.'s J^α weighs the labelled terms N_l/N (set model.balance=batch)"
        return out


class CVAE(Autoencoder):
    """M2; see the module docstring."""

    config_cls = CVAEConfig
    can_sample = True
    can_classify = True  # type: ignore[assignment]
    decodes_labels = True  # type: ignore[assignment]  # p(x | y, z)

    @staticmethod
    def validate_config(cfg: CVAEConfig) -> None:
        Autoencoder.validate_config(cfg)
        if cfg.n_classes < 2:
            raise AekitError(f"model.n_classes must be >= 2, got {cfg.n_classes}",
                             "build the model through aekit.train_run / aekit.load, which take it from the data's labels")
        if not cfg.beta >= 0:
            raise AekitError(f"model.beta must be >= 0, got {cfg.beta}")
        if cfg.latent_samples < 1:
            raise AekitError(f"model.latent_samples must be >= 1, got {cfg.latent_samples}")
        if not cfg.logvar_min < cfg.logvar_max:
            raise AekitError(f"model.logvar_min ({cfg.logvar_min}) must be below model.logvar_max ({cfg.logvar_max})")
        if cfg.alpha is not None and not cfg.alpha >= 0:
            raise AekitError(f"model.alpha must be >= 0, got {cfg.alpha}", "drop it for Kingma's default 0.1·N/N_l")
        if cfg.labelled_batch < 1:
            raise AekitError(f"model.labelled_batch must be >= 1, got {cfg.labelled_batch}")
        if cfg.balance not in BALANCES:
            raise AekitError(f"model.balance must be one of {', '.join(BALANCES)}, got {cfg.balance!r}")
        if not (cfg.labelled_weight > 0 and math.isfinite(cfg.labelled_weight)):
            raise AekitError(f"model.labelled_weight must be a positive number, got {cfg.labelled_weight}",
                             "e.g. 1 (the default: the labelled minibatch's mean weighed like the unlabelled batch's)")
        if any(h < 1 for h in cfg.classifier_hidden):
            raise AekitError(f"model.classifier_hidden widths must be >= 1, got {cfg.classifier_hidden}")

    def build(self) -> None:
        cfg, K = self.cfg, self.n_classes
        self.m2_shape = self.build_m2_space()
        # q(z|v,y): (v, onehot y) → [μ | log σ²];  p(v|y,z): (z, onehot y) → likelihood params of v
        self.encoder, self.decoder = build_nets(cfg, self.m2_shape, enc_out=2 * cfg.latent_dim, enc_cond=K, dec_cond=K)
        if cfg.net == "mlp":
            hid = list(cfg.classifier_hidden)
            self.classifier = MLP([self.m2_width, *hid, K], [cfg.activation] * len(hid) + ["linear"], init=cfg.init)
        else:  # the encoder's network with K outputs and a linear head
            self.classifier = build_nets(cfg, self.m2_shape, enc_out=K)[0]
        # examples seen in training [all, labelled]: N/N_l for the default α; saved with the weights
        self.register_buffer("label_counts", torch.zeros(2, dtype=torch.long))
        # the labelled examples of semi-supervised training (set_labelled); not saved
        self.register_buffer("labelled_x", None, persistent=False)
        self.register_buffer("labelled_y", None, persistent=False)
        # identical on every rank (same seed): DistributedDataParallel need not broadcast them
        self._ddp_params_and_buffers_to_ignore = ["labelled_x", "labelled_y"]

    def build_m2_space(self) -> tuple[int, ...]:
        """Build what M2's inputs v need and return the shape of one (here: v = x)."""
        self.m2_likelihood = self.make_likelihood()
        return self.input_shape

    @property
    def likelihood(self) -> nn.Module:
        """The likelihood of the data x (M1+M2: M1's)."""
        return self.m2_likelihood

    # ---- M2's maths on its inputs v (B, m2_dim) -----------------------------------------------
    def m2_input(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """M2's input for model-space ``x``; ``sample`` asks for a random one in training (M1+M2)."""
        return x

    def _logits(self, v: torch.Tensor) -> torch.Tensor:
        """Logits of the classifier q(y | v), float32."""
        return self.classifier(v).float()

    def _onehot(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.n_classes).to(like.dtype)

    def _posterior(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z | v, y), float32, log σ² clamped."""
        return split_gaussian(self.encoder(v, cond=self._onehot(y, v)), self.cfg.logvar_min, self.cfg.logvar_max)

    def _m2_params(self, z: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters of v under p(v | y, z), (B, *m2_shape); ``target``: the v being
        reconstructed (training losses pass it, for decoders with teacher forcing)."""
        return self.decoder(z, cond=self._onehot(y, z), target=target).reshape(z.shape[0], *self.m2_shape)

    def _neg_labelled(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(−L(v, y), recon NLL, KL) per example."""
        mu, logvar = self._posterior(v, y)
        n = self.cfg.latent_samples
        z, yy, target = reparameterize(mu, logvar, n), y, v
        if n > 1:  # (n, B, D) → (n·B, D): sample l of example b is row l·B + b
            z, yy, target = z.reshape(-1, mu.shape[1]), y.repeat(n), _tile(v, n)
        recon = self.m2_likelihood.nll(self._m2_params(z, yy, target), target).reshape(n, -1).mean(0)
        kl = kl_standard_normal(mu, logvar).sum(-1)
        return recon + self.cfg.beta * kl + math.log(self.n_classes), recon, kl

    def _neg_unlabelled(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(−U(v), E_q(y|v) recon, E_q(y|v) KL, log q(y|v)) per example: every label in one pass."""
        B, K = v.shape[0], self.n_classes
        y = torch.arange(K, device=v.device).repeat_interleave(B)  # rows k·B … k·B+B−1 carry label k
        neg_l, recon, kl = (t.reshape(K, B).t() for t in self._neg_labelled(_tile(v, K), y))
        logq = F.log_softmax(self._logits(v), dim=-1)
        q = logq.exp()
        # Σ_y q(y|v)(−L(v,y)) − H(q) = Σ_y q(y|v)(−L(v,y) + log q(y|v))
        return (q * (neg_l + logq)).sum(1), (q * recon).sum(1), (q * kl).sum(1), logq

    def alpha(self) -> torch.Tensor | float:
        """The classification weight: model.alpha, else 0.1·N/N_l from the examples counted so far."""
        if self.cfg.alpha is not None:
            return self.cfg.alpha
        return 0.1 / self.labelled_fraction()

    def labelled_fraction(self) -> torch.Tensor:
        """N_l/N, the labelled share of the training examples counted so far (at least one labelled)."""
        c = self.label_counts.clamp(min=1).to(torch.float32)
        return (c[1] / c[0]).clamp(max=1.0)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """Terms "unlabelled" (mean −U), "labelled" (mean −L), "classify" (mean −log q(y|x)), "error" (the
        classifier's error on the labelled examples, when there are any), "recon",
        "kl" (over every example of the step, label-averaged under q(y|x) for unlabelled ones) and
        "loss" = unlabelled + labelled + α·classify, or in semi-supervised training under
        balance=paper (N_u/N)·unlabelled + (N_l/N)·(labelled + α·classify), under balance=batch
        unlabelled + w·(labelled + α·classify) with w = labelled_weight. Labels < 0 (or ``y`` None) mark unlabelled
        examples. In training with a labelled set (``set_labelled``) the batch's own labelled examples
        are left to the labelled minibatch drawn from that set."""
        train_step = self.training and corrupt is not False
        known = y >= 0 if y is not None else torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        if train_step:
            self.label_counts[0] += x.shape[0]
            self.label_counts[1] += known.sum()
        zero = x.new_zeros((), dtype=torch.float32)
        recons, kls = [], []
        unl = lab = cls = zero
        if train_step and self.labelled_x is not None:
            xu = x[~known]
            n_l = self.labelled_x.shape[0]
            idx = torch.randperm(n_l, device=x.device)[: self.cfg.labelled_batch] if n_l > self.cfg.labelled_batch else None
            xl = self.labelled_x if idx is None else self.labelled_x[idx]
            yl = self.labelled_y if idx is None else self.labelled_y[idx]
        else:
            xu, xl, yl = x[~known], x[known], (y[known] if y is not None else None)
        if xu.shape[0]:
            neg_u, r, k, _ = self._neg_unlabelled(self.m2_input(xu, train_step))
            unl = neg_u.mean()
            recons.append(r)
            kls.append(k)
        if xl.shape[0]:
            vl = self.m2_input(xl, train_step)
            neg_l, r, k = self._neg_labelled(vl, yl)
            lab = neg_l.mean()
            logits = self._logits(vl)
            cls = F.cross_entropy(logits, yl)
            recons.append(r)
            kls.append(k)
        terms: Terms = {"labelled": lab, "unlabelled": unl, "classify": cls,
                        "recon": torch.cat(recons).mean() if recons else zero, "kl": torch.cat(kls).mean() if kls else zero}
        if xl.shape[0]:  # the classifier's error on the labelled examples (val_error: what train.monitor=error watches)
            terms["error"] = (logits.detach().argmax(-1) != yl).float().mean()
        if train_step and self.labelled_x is not None and self.cfg.balance == "paper":
            frac = self.labelled_fraction()
            terms["loss"] = (1 - frac) * unl + frac * (lab + self.alpha() * cls)
        elif train_step and self.labelled_x is not None:
            terms["loss"] = unl + self.cfg.labelled_weight * (lab + self.alpha() * cls)
        else:
            terms["loss"] = unl + lab + self.alpha() * cls
        return terms

    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Semi-supervised training: keep the labelled examples (model space) to draw from each step.
        Non-persistent buffers: the run re-derives them from its seed, so weights files stay small."""
        y = torch.as_tensor(y).long().reshape(-1)
        if len(x) != len(y) or len(y) == 0:
            raise AekitError(f"set_labelled needs one label per example, got {len(x)} examples and {len(y)} labels")
        y = self.label_tensor(y, len(y))
        dev = self.input_shift.device
        self.register_buffer("labelled_x", torch.as_tensor(x, dtype=torch.float32).to(dev), persistent=False)
        self.register_buffer("labelled_y", y.to(dev), persistent=False)

    # ---- the protocol's deterministic paths: the classifier's label where none is given ----------
    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._logits(self.m2_input(x))

    def _labels_or_predicted(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        pred = self._logits(v).argmax(-1)
        return pred if y is None else torch.where(y >= 0, y, pred)

    def code(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior mean of q(z | x, y), y the given label (≥ 0) or else the classifier's ŷ."""
        v = self.m2_input(x)
        return self._posterior(v, self._labels_or_predicted(v, y))[0]

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters of x for codes z and labels y, in the input's shape."""
        if y is None:
            raise AekitError("the conditional VAE decodes a code together with a label", "give a label (decode(z, label=...))")
        return self._m2_params(z, y).reshape(z.shape[0], *self.input_shape)

    def recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        v = self.m2_input(x)
        yy = self._labels_or_predicted(v, y)
        return self.decoder_params(self._posterior(v, yy)[0], yy)

    def data_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean in data units; without labels, the mean under the uniform p(y)."""
        if y is not None:
            return super().data_mean(z, y)
        K, B = self.n_classes, z.shape[0]
        ys = torch.arange(K, device=z.device).repeat_interleave(B)
        return super().data_mean(z.repeat(K, 1), ys).reshape(K, B, *self.input_shape).mean(0)

    def score(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """−U(x): the bound on −log p(x) without labels, per example (nats of M2's inputs), with z
        drawn from a stream seeded 0 (reproducible; the global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(0)
            return self._neg_unlabelled(self.m2_input(x))[0]

    # ---- generation ------------------------------------------------------------------------------
    def sample(self, n: int, label: Any = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws z ~ N(0, I) decoded with ``label`` (an int, or one per sample; None: the
        labels 0, 1, …, K−1 in turn), as the decoder's mean in data space: (n, *input_shape)."""
        z = self._seeded_codes(n, seed)
        y = self.label_tensor(np.arange(n) % self.n_classes if label is None else label, n)
        if n == 0:
            return np.zeros((0, *self.input_shape), dtype=np.float32)
        return self.map_batches(self.data_mean, z, y).numpy()

    def analogies(self, x: Any, labels: Any = None, batch_size: int = 256) -> Any:
        """Each example's code z (posterior mean given its label, or the predicted one) decoded with
        every label: (N, K, *input_shape). The style stays, the class changes."""
        t, was_tensor = self.as_input(x)
        n, K = t.shape[0], self.n_classes
        yt = self.label_tensor(labels, n, allow_unlabelled=True) if labels is not None else None

        def fn(b: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
            z = self.code(self.to_model_space(b), yb)
            ys = torch.arange(K, device=z.device).repeat(z.shape[0])  # example i, label k: row i·K + k
            return self.data_mean(z.repeat_interleave(K, 0), ys).reshape(z.shape[0], K, *self.input_shape)

        return self._back(self.map_batches(fn, t, yt, batch_size=batch_size), t, was_tensor)

    # ---- evaluation ----------------------------------------------------------------------------
    def log_likelihood(self, x: Any, k: int = 1000, batch_size: int = 20, seed: int | None = 0, progress: bool = True) -> Any:
        """Importance-sampled log p(x) per example (nats) for model-space ``x``, every label summed
        exactly: log (1/K) Σ_y (1/k) Σᵢ p(x|y,zᵢ)p(zᵢ)/q(zᵢ|x,y), zᵢ ~ q(z|x,y)."""
        if k < 1:
            raise AekitError(f"the number of importance samples k must be >= 1, got {k}")
        t, was_tensor = (x.float(), True) if isinstance(x, torch.Tensor) else (torch.from_numpy(np.asarray(x, np.float32)), False)
        t = self.check_input(t)
        gen = torch.Generator(device=self.device).manual_seed(int(seed)) if seed is not None else None
        K = self.n_classes
        per_sample = 3 * self.m2_width + sum(self.cfg.hidden) + 4 * self.cfg.latent_dim

        def one(b: torch.Tensor) -> torch.Tensor:
            v = self.m2_input(b)
            B = v.shape[0]
            y = torch.arange(K, device=v.device).repeat_interleave(B)  # (K·B,): label-major
            mu, logvar = self._posterior(_tile(v, K), y)

            def log_lik(z: torch.Tensor) -> torch.Tensor:  # z (S, K, B, D)
                S = z.shape[0]
                params = self._m2_params(z.reshape(S * K * B, -1), y.repeat(S))
                return -self.m2_likelihood.nll(params, _tile(v, S * K)).reshape(S, K, B)

            return importance_log_px(mu.reshape(K, B, -1), logvar.reshape(K, B, -1), log_lik, k, gen, per_sample)

        out = self.map_batches(one, t, batch_size=batch_size, desc=f"log p(x), k={k}", progress=progress)
        return self._back(out, t, was_tensor)

    @property
    def m2_width(self) -> int:
        return math.prod(self.m2_shape)

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """The classifier's accuracy and error, −L with the true labels (``neg_elbo``, nats of M2's
        inputs) and −U, the bound on −log p(x) without labels (``neg_elbo_unlabelled``)."""
        def stats(b: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
            v = self.m2_input(b)
            cols = [self._logits(v).argmax(-1).float(), self._neg_unlabelled(v)[0]]
            if yb is not None:
                neg_l = torch.zeros(b.shape[0], device=b.device)
                ok = yb >= 0
                if ok.any():
                    neg_l[ok] = self._neg_labelled(v[ok], yb[ok])[0]
                cols.append(neg_l)
            return torch.stack(cols, 1).double()

        s = self.map_batches(stats, x, y, batch_size=512)
        out: dict[str, Any] = {"neg_elbo_unlabelled": float(s[:, 1].mean())} if len(s) else {}
        if y is not None and (y >= 0).any():
            ok = y.cpu() >= 0
            acc = float((s[ok, 0].long() == y.cpu()[ok]).double().mean())
            out.update(accuracy=acc, error_pct=100.0 * (1.0 - acc), neg_elbo=float(s[ok, 2].mean()))
        return out

    def report_sections(self, data: Any) -> list[ReportItem]:
        """Image data: conditional samples (a row per class) and analogies (each row a test example,
        then its style decoded with every label)."""
        if getattr(data, "kind", None) != "images":
            return []
        K = self.n_classes
        out = [ReportItem(f"Conditional samples (a row per class 0..{K - 1})", "images",
                          self.sample(10 * K, label=np.repeat(np.arange(K), 10), seed=0), nrow=10)]
        x = next((a for a in (getattr(data, f"x_{s}", None) for s in ("test", "val", "train")) if a is not None and len(a)), None)
        if x is not None:
            xs = np.asarray(x[:8], dtype=np.float32)
            rows = np.concatenate([xs[:, None], np.asarray(self.analogies(xs))], axis=1)  # (n, 1 + K, *shape)
            out.append(ReportItem(f"Analogies (each row: a test example, then its style decoded with the labels 0..{K - 1})",
                                  "images", rows.reshape(-1, *self.input_shape), nrow=K + 1))
        return out


register("cvae", CVAE, CVAEConfig,
         "conditional / semi-supervised VAE, M2 (Kingma et al. 2014): q(z|x,y), p(x|y,z), classifier q(y|x); "
         "with --labels N the other labels are inferred; 784-500-50",
         hidden=[500], latent_dim=50, classifier_hidden=[500])
