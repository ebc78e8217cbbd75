"""Conditional, semi-supervised VAE: M2 and M1+M2 of Kingma, Rezende, Mohamed & Welling (2014).

M2 is the generative model p(y) p(z) p(x | y, z) with p(y) = 1/K uniform and p(z) = N(0, I),
inferred by q(z | x, y) = N(μ(x, y), diag σ²(x, y)) and the classifier q(y | x) = softmax(MLP(x)).
Per example (nats), with β the KL weight (1: the bound):

    labelled     −L(x, y) = E_q(z|x,y)[−log p(x|y,z)] + β·KL(q(z|x,y) ‖ N(0, I)) + log K
    unlabelled   −U(x)    = Σ_y q(y|x)·(−L(x, y)) − H(q(y|x))     (all K labels in one batched pass)
    classifier   α·(−log q(y|x)) on labelled examples

Supervised training (every label of the batch known) minimises mean(−L + α·CE). Semi-supervised
training (``set_labelled`` was given the labelled examples) minimises, per step, the mean −U of
the batch's unlabelled examples plus mean(−L + α·CE) over ``labelled_batch`` labelled examples
drawn afresh. α: Kingma's code weights −log q(y|x) of each labelled example by 0.1·N/N_l next to
its −L (N training examples, N_l labelled; the paper's "α = 0.1·N" on the labelled mean). With
``alpha=None`` that is the default, N/N_l counted from the training batches (exact at the end of
every epoch; the counts are saved with the weights): 0.1 when every example is labelled.

M1+M2 (``m1_run``): M2 models the codes z₁ of a trained, frozen VAE "M1" (fresh z₁ ~ q_M1(z₁|x)
each step, as Kingma did; ``m1_sample=false`` uses the means) with a Gaussian likelihood. M1 is a
submodule saved in this run's weights and its config is copied into ``m1_config``, so the run
folder is self-contained. The public API takes images: classify(x) = M2's q(y | μ_M1(x)); samples
and reconstructions go through M1's decoder.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AekitError
from ..nets import MLP, build_nets
from ..parts import make_likelihood
from ..parts.gaussian import kl_standard_normal, log_normal_diag, log_standard_normal, reparameterize
from .base import AEConfig, Autoencoder, Phase, Stage, Terms, _as_tensor
from .registry import register

M1_HINT = "train a vae first: aekit train --model vae ... then --set model.m1_run=RUN"


@dataclass
class CVAEConfig(AEConfig):
    """The conditional VAE: the AE options (nets, likelihood) plus the label and M1+M2 options."""

    n_classes: int = 0              # K classes (filled from the data's labels by aekit.train)
    beta: float = 1.0               # weight β of KL(q(z|x,y) ‖ N(0, I)) (1: the bound)
    latent_samples: int = 1         # z samples per example and label; the recon NLL is averaged over them
    logvar_min: float = -12.0       # lower clamp of the encoder's log σ² (as the VAE's)
    logvar_max: float = 8.0         # upper clamp of the encoder's log σ²
    alpha: float | None = None      # weight of −log q(y|x) per labelled example; None: 0.1·N/N_l (Kingma; see the module doc)
    classifier_hidden: list[int] = field(default_factory=lambda: [500])  # hidden widths of the classifier q(y|x)
    labelled_batch: int = 100       # semi-supervised: labelled examples drawn per step (all when fewer)
    m1_run: str | None = None       # M1+M2: run folder of a trained vae whose codes M2 models
    m1_sample: bool = True          # M1+M2: train on fresh z1 ~ q_M1(z1|x) (Kingma); false: posterior means
    m1_config: dict[str, Any] | None = None  # M1+M2: M1's model config, copied from m1_run when built (do not set)
    code_likelihood: str = "gaussian-learned"  # M1+M2: M2's likelihood of M1's codes (gaussian | gaussian-learned)


_AE_ONLY = ("l1", "sparsity_weight", "contractive", "stochastic_contractive", "weight_decay")


class CVAE(Autoencoder):
    """M2 (and, with ``m1_run``, M1+M2); see the module docstring."""

    config_cls = CVAEConfig
    can_sample = True

    def __init__(self, cfg: CVAEConfig):
        nn.Module.__init__(self)  # the base builds unconditional nets; this model builds its own
        self.cfg = cfg
        self.validate_config(cfg)
        self.input_shape = tuple(int(s) for s in cfg.input_shape)
        self.input_dim = math.prod(self.input_shape)
        self.n_classes = K = int(cfg.n_classes)
        self.m1 = self._build_m1(cfg)  # first, so the M2 weights start alike whichever way M1 came
        if self.m1 is not None:
            m2_dim = int(self.m1.cfg.latent_dim)
            self.m2_likelihood = make_likelihood(cfg.code_likelihood, m2_dim, cfg.sigma)
        else:
            m2_dim = self.input_dim
            self.m2_likelihood = make_likelihood(cfg.likelihood, m2_dim, cfg.sigma)
        self.m2_dim = m2_dim
        # q(z|x,y): [x, onehot y] → (μ, log σ²);  p(x|y,z): [z, onehot y] → likelihood params of x
        self.encoder, self.decoder = build_nets(cfg, (m2_dim,), enc_out=2 * cfg.latent_dim, enc_in_extra=K, dec_in_extra=K)
        hid = list(cfg.classifier_hidden)
        self.classifier = MLP([m2_dim, *hid, K], [cfg.activation] * len(hid) + ["linear"], init=cfg.init)
        self.register_buffer("input_shift", torch.zeros(self.input_shape))
        self.register_buffer("input_scale", torch.ones(self.input_shape))
        # examples seen in training [all, labelled]: N/N_l for the default α; saved with the weights
        self.register_buffer("label_counts", torch.zeros(2, dtype=torch.long))
        # the labelled examples of semi-supervised training (set_labelled); not saved
        self.register_buffer("labelled_x", None, persistent=False)
        self.register_buffer("labelled_y", None, persistent=False)
        # identical on every rank (same seed): DistributedDataParallel need not broadcast them each step
        self._ddp_params_and_buffers_to_ignore = ["labelled_x", "labelled_y"]
        self.__dict__["_scaling_checked"] = False

    # ---- configuration ----------------------------------------------------------------------------
    @staticmethod
    def validate_config(cfg: CVAEConfig) -> None:
        if cfg.n_classes < 2:
            raise AekitError(f"model.n_classes must be >= 2, got {cfg.n_classes}",
                             "build the model through aekit.train / aekit.load, which take it from the data's labels")
        if cfg.code_activation != "linear":
            raise AekitError(f"the encoder emits μ and log σ², which need a linear output, not {cfg.code_activation!r}",
                             "use --set model.code_activation=linear")
        for name in _AE_ONLY:
            if getattr(cfg, name):
                raise AekitError(f"model.{name} is a deterministic-AE penalty the conditional VAE does not use",
                                 f"set model.{name}=0; the KL term (model.beta) regularises the code")
        if cfg.corruption != "none" or cfg.tied:
            raise AekitError("the conditional VAE supports neither input corruption nor tied weights",
                             "set model.corruption=none and model.tied=false")
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
        if any(h < 1 for h in cfg.classifier_hidden):
            raise AekitError(f"model.classifier_hidden widths must be >= 1, got {cfg.classifier_hidden}")
        if cfg.code_likelihood not in ("gaussian", "gaussian-learned"):
            raise AekitError(f"model.code_likelihood must be gaussian or gaussian-learned, got {cfg.code_likelihood!r}",
                             "M1's codes are real-valued")
        Autoencoder.validate_config(cfg)

    def _build_m1(self, cfg: CVAEConfig) -> nn.Module | None:
        """M1 from ``m1_config`` (architecture only: the weights come from this model's state dict),
        else loaded from ``m1_run`` with its weights (a new M1+M2 run), else None (plain M2)."""
        from .registry import config_from_dict, get_spec

        if cfg.m1_config is not None:
            values = dict(cfg.m1_config)
            name = values.pop("name", "vae")
            m1 = get_spec(name).cls(config_from_dict(name, values))
        elif cfg.m1_run:
            from ..run import load, load_config

            path = Path(cfg.m1_run)
            name = load_config(path).model_name
            m1 = load(path)
            cfg.m1_config = {"name": name, **asdict(m1.cfg)}  # saved in config.yaml: the run is self-contained
        else:
            return None
        if not hasattr(m1, "posterior"):
            raise AekitError(f"model.m1_run holds a {type(m1).__name__} run, but M1 must be a VAE (it needs q(z|x))", M1_HINT)
        if tuple(m1.input_shape) != self.input_shape:
            raise AekitError(f"M1 was trained on examples of shape {tuple(m1.input_shape)}, this data has {self.input_shape}",
                             "train M1+M2 on the data M1 was trained on")
        cfg.likelihood = m1.cfg.likelihood  # the images' likelihood is M1's
        for p in m1.parameters():
            p.requires_grad_(False)
        return m1.eval()

    def train(self, mode: bool = True) -> CVAE:
        super().train(mode)
        if self.m1 is not None:
            self.m1.eval()  # frozen: M1 always evaluates
        return self

    @property
    def likelihood(self) -> nn.Module:
        """The likelihood of the images: M2's own, or M1's decoder likelihood for M1+M2."""
        return self.m1.likelihood if self.m1 is not None else self.m2_likelihood

    def training_plan(self) -> list[Stage]:
        return [Stage("train", [Phase("main", lambda: [p for p in self.parameters() if p.requires_grad], self.loss)])]

    # ---- M2's maths on its inputs v (B, m2_dim): flattened x, or M1's codes z₁ -----------------
    def _m2_input(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        if self.m1 is None:
            return x.reshape(x.shape[0], -1)
        with torch.no_grad():
            mu, logvar = self.m1.posterior(x)
        return reparameterize(mu, logvar) if sample else mu

    def _onehot(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.n_classes).to(like.dtype)

    def _logits(self, v: torch.Tensor) -> torch.Tensor:
        return self.classifier(v)

    def _posterior(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z | v, y), log σ² clamped."""
        mu, logvar = self.encoder(torch.cat([v, self._onehot(y, v)], 1)).chunk(2, dim=-1)
        return mu, logvar.clamp(self.cfg.logvar_min, self.cfg.logvar_max)

    def _m2_params(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Likelihood parameters of v under p(v | y, z), flat (B, m2_dim)."""
        return self.decoder(torch.cat([z, self._onehot(y, z)], 1))

    def _neg_labelled(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(−L(v, y), recon NLL, KL) per example."""
        mu, logvar = self._posterior(v, y)
        n = self.cfg.latent_samples
        z, yy, target = reparameterize(mu, logvar, n), y, v
        if n > 1:  # (n, B, D) → (n·B, D): sample l of example b is row l·B + b
            z, yy, target = z.reshape(-1, mu.shape[1]), y.repeat(n), v.repeat(n, 1)
        recon = self.m2_likelihood.nll(self._m2_params(z, yy), target).reshape(n, -1).mean(0)
        kl = kl_standard_normal(mu, logvar).sum(-1)
        return recon + self.cfg.beta * kl + math.log(self.n_classes), recon, kl

    def _neg_unlabelled(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(−U(v), E_q(y|v) recon, E_q(y|v) KL, log q(y|v)) per example: every label in one pass."""
        B, K = v.shape[0], self.n_classes
        y = torch.arange(K, device=v.device).repeat_interleave(B)  # rows k·B … k·B+B−1 carry label k
        neg_l, recon, kl = (t.reshape(K, B).t() for t in self._neg_labelled(v.repeat(K, 1), y))
        logq = F.log_softmax(self._logits(v), dim=-1)
        q = logq.exp()
        # Σ_y q(y|v)(−L(v,y)) − H(q) = Σ_y q(y|v)(−L(v,y) + log q(y|v))
        return (q * (neg_l + logq)).sum(1), (q * recon).sum(1), (q * kl).sum(1), logq

    def alpha(self) -> torch.Tensor | float:
        """The classification weight: model.alpha, else 0.1·N/N_l from the examples counted so far."""
        if self.cfg.alpha is not None:
            return self.cfg.alpha
        c = self.label_counts.clamp(min=1).to(torch.float32)
        return 0.1 * c[0] / c[1]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """Terms "unlabelled" (mean −U), "labelled" (mean −L), "classify" (mean −log q(y|x)), "recon",
        "kl" (over every example of the step, label-averaged under q(y|x) for unlabelled ones) and
        "loss" = unlabelled + labelled + α·classify. Labels < 0 (or ``y`` None) mark unlabelled
        examples. In training with a labelled set (``set_labelled``) the batch's own labelled examples
        are left to the labelled minibatch drawn from that set."""
        self._check_m1_scaling()
        train_step = self.training and corrupt is not False
        sample = train_step and self.m1 is not None and self.cfg.m1_sample
        known = y >= 0 if y is not None else torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        if train_step:
            self.label_counts[0] += x.shape[0]
            self.label_counts[1] += known.sum()
        zero = x.new_zeros(())
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
            neg_u, r, k, _ = self._neg_unlabelled(self._m2_input(xu, sample))
            unl = neg_u.mean()
            recons.append(r)
            kls.append(k)
        if xl.shape[0]:
            vl = self._m2_input(xl, sample)
            neg_l, r, k = self._neg_labelled(vl, yl)
            lab = neg_l.mean()
            cls = F.cross_entropy(self._logits(vl), yl)
            recons.append(r)
            kls.append(k)
        terms: Terms = {"labelled": lab, "unlabelled": unl, "classify": cls,
                        "recon": torch.cat(recons).mean() if recons else zero, "kl": torch.cat(kls).mean() if kls else zero}
        terms["loss"] = unl + lab + self.alpha() * cls
        return terms

    def _check_m1_scaling(self) -> None:
        """M1+M2 feeds this run's model-space inputs to M1: both must share the data scaling."""
        if self.m1 is None or self.__dict__["_scaling_checked"]:
            return
        same = torch.equal(self.input_shift, self.m1.input_shift) and torch.equal(self.input_scale, self.m1.input_scale)
        if not same:
            raise AekitError("this run scales the data differently from the M1 run it builds on",
                             "train M1+M2 with the same data.scale as the M1 run")
        self.__dict__["_scaling_checked"] = True

    def set_labelled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Semi-supervised training: keep the labelled examples (model space) to draw from each step.
        Non-persistent buffers: the run re-derives them from its seed, so weights files stay small."""
        y = torch.as_tensor(y).long()
        if len(x) != len(y) or len(y) == 0:
            raise AekitError(f"set_labelled needs one label per example, got {len(x)} examples and {len(y)} labels")
        bad = y[(y < 0) | (y >= self.n_classes)]
        if len(bad):
            raise AekitError(f"label {int(bad[0])} is outside the model's classes 0..{self.n_classes - 1}")
        dev = self.input_shift.device
        self.register_buffer("labelled_x", torch.as_tensor(x, dtype=torch.float32).to(dev), persistent=False)
        self.register_buffer("labelled_y", y.to(dev), persistent=False)

    # ---- deterministic paths (encode, reconstruct): the classifier's label when none is given ----
    def _labels_or_predicted(self, v: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        pred = self._logits(v).argmax(-1)
        return pred if y is None else torch.where(y >= 0, y, pred)

    def _encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior mean of q(z | x, y), y the given label (≥ 0) or else the classifier's ŷ."""
        v = self._m2_input(x)
        return self._posterior(v, self._labels_or_predicted(v, y))[0]

    def _decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters of the images for codes z and labels y, in the input's shape."""
        if y is None:
            raise AekitError("the conditional VAE decodes a code together with a label", "give a label (decode(z, label=...))")
        p = self._m2_params(z, y)
        if self.m1 is None:
            return p.reshape(z.shape[0], *self.input_shape)
        return self.m1._decode(self.m2_likelihood.mean(p))  # M2's mean code z₁, through M1's decoder

    def _recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        v = self._m2_input(x)
        yy = self._labels_or_predicted(v, y)
        return self._decode(self._posterior(v, yy)[0], yy)

    def _data_mean(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.from_model_space(self.likelihood.mean(self._decode(z, y)))

    # ---- the public API: NumPy or tensors in, the same kind out ----------------------------------
    def _label_tensor(self, label: Any, n: int) -> torch.Tensor:
        """``n`` labels from an int (all alike) or a sequence of ``n``; out-of-range labels raise."""
        y = torch.as_tensor(np.asarray(label if not isinstance(label, torch.Tensor) else label.cpu(), dtype=np.int64))
        y = y.expand(n).clone() if y.dim() == 0 else y.reshape(-1)
        if len(y) != n:
            raise AekitError(f"{len(y)} labels given for {n} examples", "give one label, or one per example")
        bad = y[(y < 0) | (y >= self.n_classes)]
        if len(bad):
            raise AekitError(f"label {int(bad[0])} is not one of the trained classes 0..{self.n_classes - 1}",
                             f"give a label in [0, {self.n_classes})")
        return y

    def _given_labels(self, y: Any, n: int) -> torch.Tensor:
        """One label per example (< 0: the classifier's), range-checked; a CPU tensor."""
        yt = torch.as_tensor(np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.int64)).reshape(-1)
        self._label_tensor(yt.clamp(min=0), n)
        return yt

    def _by_index(self, fn: Any, n: int, batch_size: int) -> torch.Tensor:
        """``self._batched`` over example indices (for functions of several per-example arrays)."""
        return self._batched(lambda i: fn(i.cpu()), torch.arange(n), batch_size)

    def encode(self, x: Any, batch_size: int = 1024, *, y: Any = None) -> Any:
        """Posterior means of q(z | x, y): y the given labels (< 0: predicted), else the classifier's."""
        if y is None:
            return super().encode(x, batch_size)
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        yt = self._given_labels(y, t.shape[0])

        def fn(i: torch.Tensor) -> torch.Tensor:
            return self._encode(self.to_model_space(t[i].to(self.device)), yt[i].to(self.device))

        return self._back(self._by_index(fn, t.shape[0], batch_size), t, was_tensor)

    def decode(self, z: Any, batch_size: int = 1024, *, label: Any = None) -> Any:
        """The decoder's mean for codes z with ``label`` (one, or one per code); without a label the
        mean under the uniform p(y): the average of the K labels' means."""
        t, was_tensor = _as_tensor(z)
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if t.shape[-1] != self.cfg.latent_dim:
            raise AekitError(f"the model's codes have {self.cfg.latent_dim} dimensions, got {t.shape[-1]}")
        n = t.shape[0]
        if label is not None:
            yt = self._label_tensor(label, n)
            out = self._by_index(lambda i: self._data_mean(t[i].to(self.device), yt[i].to(self.device)), n, batch_size)
        else:
            def mix(b: torch.Tensor) -> torch.Tensor:
                K = self.n_classes
                ys = torch.arange(K, device=b.device).repeat_interleave(b.shape[0])
                return self._data_mean(b.repeat(K, 1), ys).reshape(K, b.shape[0], *self.input_shape).mean(0)

            out = self._batched(mix, t, max(1, batch_size // self.n_classes))
        return self._back(out, t, was_tensor)

    def sample(self, n: int, label: Any = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws z ~ N(0, I) decoded with ``label`` (an int, or one per sample; None: the
        labels 0, 1, …, K−1 in turn), as the decoder's mean in data space: (n, *input_shape)."""
        if n < 0:
            raise AekitError(f"the number of samples must be >= 0, got {n}")
        y = self._label_tensor(np.arange(n) % self.n_classes if label is None else label, n)
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        z = torch.randn((n, self.cfg.latent_dim), generator=g)
        if n == 0:
            return np.zeros((0, *self.input_shape), dtype=np.float32)
        return self._by_index(lambda i: self._data_mean(z[i].to(self.device), y[i].to(self.device)), n, 1024).cpu().numpy()

    def _probs(self, x: Any, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        p = self._batched(lambda b: F.softmax(self._logits(self._m2_input(self.to_model_space(b))), -1), t, batch_size)
        return p, t, was_tensor

    def predict_proba(self, x: Any, batch_size: int = 1024) -> Any:
        """q(y | x) for each example: (N, K)."""
        p, t, was_tensor = self._probs(x, batch_size)
        return self._back(p, t, was_tensor)

    def classify(self, x: Any, batch_size: int = 1024) -> Any:
        """The most likely label under q(y | x) for each example: (N,) integers."""
        p, t, was_tensor = self._probs(x, batch_size)
        return self._back(p.argmax(-1), t, was_tensor)

    def analogies(self, x: Any, labels: Any = None, batch_size: int = 256) -> Any:
        """Each example's code z (posterior mean given its label, or the predicted one) decoded
        with every label: (N, K, *input_shape). The style stays, the class changes."""
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        n, K = t.shape[0], self.n_classes
        yt = self._given_labels(labels, n) if labels is not None else None

        def fn(i: torch.Tensor) -> torch.Tensor:
            z = self._encode(self.to_model_space(t[i].to(self.device)), yt[i].to(self.device) if yt is not None else None)
            ys = torch.arange(K, device=z.device).repeat(z.shape[0])  # example b, label k: row b·K + k
            return self._data_mean(z.repeat_interleave(K, 0), ys).reshape(z.shape[0], K, *self.input_shape)

        return self._back(self._by_index(fn, n, batch_size), t, was_tensor)

    # ---- evaluation ----------------------------------------------------------------------------
    def log_likelihood(self, x: Any, k: int = 100, batch_size: int = 20, seed: int | None = 0) -> Any:
        """Importance-sampled log p(x) per example (nats) for model-space ``x``, summing over every
        label exactly: log (1/K) Σ_y (1/k) Σᵢ p(x|y,zᵢ)p(zᵢ)/q(zᵢ|x,y), zᵢ ~ q(z|x,y). M2 only."""
        if self.m1 is not None:
            raise AekitError("log p(x) by importance sampling is implemented for M2 only", "use the cvae preset")
        if k < 1:
            raise AekitError(f"the number of importance samples k must be >= 1, got {k}")
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        gen = torch.Generator(device=self.device).manual_seed(int(seed)) if seed is not None else None
        K = self.n_classes

        def one(b: torch.Tensor) -> torch.Tensor:
            v = self._m2_input(b)
            B = v.shape[0]
            y = torch.arange(K, device=v.device).repeat_interleave(B)
            vr = v.repeat(K, 1)
            mu, logvar = self._posterior(vr, y)
            eps = torch.randn((k, *mu.shape), generator=gen, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps  # (k, K·B, D)
            nll = self.m2_likelihood.nll(self._m2_params(z.reshape(-1, mu.shape[1]), y.repeat(k)), vr.repeat(k, 1))
            log_w = -nll.reshape(k, K * B) + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
            log_w = log_w.reshape(k * K, B)
            return torch.logsumexp(log_w, 0) - math.log(k) - math.log(K)

        return self._back(self._batched(one, t, batch_size), t, was_tensor)

    def evaluate_nll(self, x: Any, k: int = 100, batch_size: int = 20, seed: int = 0) -> dict[str, Any]:
        """``test_nll``: the mean −log p(x) by importance sampling (``log_likelihood``, k samples per
        label) on model-space ``x``, in nats per example; ``nll_k`` = k. M2 only; on demand (costly)."""
        ll = self.log_likelihood(x, k=k, batch_size=batch_size, seed=seed)
        return {"test_nll": float(-np.asarray(ll.cpu() if isinstance(ll, torch.Tensor) else ll, dtype=np.float64).mean()),
                "nll_k": int(k)}

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """Test figures: the classifier's accuracy and error, −L with the true labels
        (``test_neg_elbo``; for M1+M2 ``test_m2_neg_elbo``, nats of M1's codes) and −U, the bound
        on −log p(x) without labels (``test_neg_elbo_unlabelled``; M2 only)."""
        def run() -> dict[str, Any]:
            n = x.shape[0]
            preds, neg_l, neg_u = [], 0.0, 0.0
            for i in range(0, n, 512):
                xb = x[i: i + 512].to(self.device)
                v = self._m2_input(xb)
                preds.append(self._logits(v).argmax(-1).cpu())
                neg_u += float(self._neg_unlabelled(v)[0].double().sum())
                if y is not None:
                    yb = y[i: i + 512].to(self.device)
                    ok = yb >= 0
                    if ok.any():
                        neg_l += float(self._neg_labelled(v[ok], yb[ok])[0].double().sum())
            return {"pred": torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long), "neg_l": neg_l, "neg_u": neg_u}

        r = self._evaluating(run)
        n = max(1, x.shape[0])
        out: dict[str, Any] = {}
        if self.m1 is None:
            out["test_neg_elbo_unlabelled"] = r["neg_u"] / n
        if y is not None and (y >= 0).any():
            ok = y.cpu() >= 0
            acc = float((r["pred"][ok] == y.cpu()[ok]).double().mean())
            out["test_accuracy"] = acc
            out["test_error_pct"] = 100.0 * (1.0 - acc)
            out["test_m2_neg_elbo" if self.m1 is not None else "test_neg_elbo"] = r["neg_l"] / int(ok.sum())
        return out

    def report_sections(self, data: Any) -> list[tuple[str, Any]]:
        """Image data: conditional samples (one row per class) and analogies (each row a test
        example, then its code decoded with every label). Figures are drawn when the report asks."""
        if getattr(data, "kind", None) != "images":
            return []
        K = self.n_classes
        out = [(f"Conditional samples (one row per class 0..{K - 1})",
                lambda: _tiled(self.sample(10 * K, label=np.repeat(np.arange(K), 10), seed=0), 10))]
        x = next((a for a in (getattr(data, f"x_{s}", None) for s in ("test", "val", "train")) if a is not None and len(a)), None)
        if x is not None:
            def analogies() -> Any:
                xs = np.asarray(x[:8], dtype=np.float32)
                rows = np.concatenate([xs[:, None], np.asarray(self.analogies(xs))], axis=1)  # (n, 1 + K, *shape)
                return _tiled(rows.reshape(-1, *self.input_shape), K + 1)

            out.append((f"Analogies (each row: a test example, then its style decoded with the labels 0..{K - 1})", analogies))
        return out


def _tiled(images: np.ndarray, nrow: int) -> Any:
    """Images tiled into one picture (one axes: quick to draw however many images)."""
    from matplotlib.figure import Figure

    from ..plots.figures import _use_agg, grid_array

    _use_agg()
    grid = grid_array(images, nrow)
    h, w = grid.shape[:2]
    fig = Figure(figsize=(w / 40, h / 40))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    return fig


class M1M2(CVAE):
    """M1+M2: M2 on the codes of a trained VAE (``m1_run``), which is frozen and saved with it."""

    @staticmethod
    def validate_config(cfg: CVAEConfig) -> None:
        if cfg.m1_run is None and cfg.m1_config is None:
            raise AekitError("the m1m2 model needs a trained VAE (M1) to build on: model.m1_run is not set", M1_HINT)
        CVAE.validate_config(cfg)

    @staticmethod
    def conformance_overrides(tmp_path: Path) -> dict[str, Any]:
        """What a registry-wide test needs to train this preset: a small, briefly trained M1."""
        from .. import train_run

        m1 = train_run("vae", "mnist-sample", out=Path(tmp_path) / "m1", hidden=[64], latent_dim=8, epochs=2,
                       batch_size=32, lr=3e-3, limit=1200, seed=0, quiet=True)
        return {"m1_run": str(m1)}


register("cvae", CVAE, CVAEConfig,
         "conditional / semi-supervised VAE, M2 (Kingma et al. 2014): q(z|x,y), p(x|y,z), classifier q(y|x); "
         "with --labels N the other labels are inferred; 784-500-50",
         hidden=[500], latent_dim=50, classifier_hidden=[500])
register("m1m2", M1M2, CVAEConfig,
         "M1+M2 (Kingma et al. 2014): M2 on the codes of a trained, frozen vae; needs --set model.m1_run=RUN",
         hidden=[500], latent_dim=50, classifier_hidden=[500])
