"""Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014) and the β-VAE.

    q(z|x) = N(μ(x), diag σ²(x)),   p(z) = N(0, I),   p(x|z) the model's likelihood part

trained by minimising −ELBO = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ p(z)), the KL in closed form and
the expectation by the reparameterisation trick (z = μ + σ ⊙ ε). β = 1 is the ELBO; β > 1 is the
β-VAE (Higgins et al. 2017). Optional extras: KL annealing (linear / sigmoid warm-up, Fu et al.'s
cyclical schedule), free bits (Kingma et al. 2016), dynamic binarization of [0, 1] data for a
Bernoulli likelihood, input corruption (a denoising VAE).

``model.objective=iwae`` trains the same model on the importance-weighted bound with k samples
instead (the IWAE of Burda et al. 2016; the DReG gradient of Tucker et al. 2019): models/iwae.py.

``log_likelihood`` is the importance-sampled bound of Burda et al. 2016 (parts/importance.py),
which tightens towards log p(x) as k grows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import check_choice, opt
from ..errors import AekitError
from ..nets import build_nets
from ..parts import make_corruption
from ..parts.gaussian import kl_standard_normal, reparameterize, split_gaussian
from ..parts.importance import importance_log_px
from ..parts.penalties import weight_decay
from ..parts.priors import Normal
from ..parts.schedules import SCHEDULES, kl_weight
from .base import Autoencoder, ReportItem, Terms
from .options import Corruptible, ModelConfig
from .iwae import check_objective, decoder_log_lik, floats_per_sample, iwae_terms, objective_unused
from .registry import register

log = logging.getLogger("aekit.vae")

# evaluation binarization (dynamic_binarization): example i of a call uses row i mod this of one
# fixed seed-0 uniform table, so batches aligned to it (the trainer's and the evaluation's 1024)
# agree with a call on the whole set
_EVAL_BIN_ROWS = 1024
COLLAPSE_NATS = 0.1  # total KL below this on the test set: the posterior carries ~no information


@dataclass
class VAEConfig(Corruptible, ModelConfig):
    """The VAE family: the shared options plus the variational ones."""

    objective: str = opt("elbo", "training objective: elbo (−ELBO, the KL in closed form) | iwae (the importance-weighted bound "
                               "with model.k samples, Burda et al. 2016; β, KL schedules, free bits and latent_samples do not apply)")
    k: int = opt(5, "iwae objective: importance samples per example in training (1: the ELBO with a Monte-Carlo KL; "
                    "the cost of a step grows with k: the decoder runs on k·batch codes)")
    gradient: str = opt("standard", "iwae objective: the encoder's gradient: standard | dreg (doubly reparameterised, Tucker et al. "
                                    "2019: same expectation, lower variance; the decoder's gradient is the standard one)")
    beta: float = opt(1.0, "weight β of the KL term (1: the ELBO; >1: β-VAE)")
    kl_schedule: str = opt("constant", "factor on β over the training steps: constant | linear | sigmoid | cyclical")
    kl_anneal_steps: int = opt(5000, "KL schedule: warm-up length in optimisation steps (the total length for cyclical)")
    kl_cycles: int = opt(4, "cyclical KL schedule: number of cycles (Fu et al. 2019)")
    kl_ratio: float = opt(0.5, "cyclical KL schedule: fraction of each cycle rising 0 → 1")
    free_bits: float = opt(0.0, "λ nats per latent dim: train on Σ_d max(KL_d, λ) (Kingma et al. 2016); 0: off")
    latent_samples: int = opt(1, "z samples per example in training (the reconstruction term averages over them)")
    # below e^-12 (σ ≈ 0.0025) log q and the 1/σ² of the importance weights explode; above e^8
    # (σ ≈ 55) exp(logvar) and z overflow early in training
    logvar_min: float = opt(-12.0, "lower clamp of the encoder's log σ²")
    logvar_max: float = opt(8.0, "upper clamp of the encoder's log σ²")
    dynamic_binarization: bool = opt(False, "Bernoulli likelihood: x ← a fresh Bernoulli(x) draw each time (training); a fixed "
                                            "seed-0 draw (evaluation)")
    weight_decay: float = opt(0.0, "λ of ½ΣW² over the weight matrices (logged as its own term)")

    def unused(self) -> dict[str, str]:
        out = {**ModelConfig.unused(self), **Corruptible.unused(self), **objective_unused(self)}
        if self.likelihood not in ("auto", "bernoulli"):
            out["dynamic_binarization"] = f"it draws binary inputs for a Bernoulli likelihood, and model.likelihood is {self.likelihood}"
        if self.kl_schedule == "constant":
            out["kl_anneal_steps"] = "model.kl_schedule is constant"
        if self.kl_schedule != "cyclical":
            out.update(kl_cycles="only the cyclical KL schedule has cycles", kl_ratio="only the cyclical KL schedule uses it")
        return out


class VAE(Autoencoder):
    """Gaussian-posterior VAE; see the module docstring."""

    config_cls = VAEConfig
    can_sample = True

    @staticmethod
    def validate_config(cfg: VAEConfig) -> None:
        Autoencoder.validate_config(cfg)
        cfg.validate_corruption()
        check_choice("model.kl_schedule", cfg.kl_schedule, SCHEDULES)
        check_objective(cfg)
        for key in ("beta", "free_bits", "weight_decay"):
            if not getattr(cfg, key) >= 0:
                raise AekitError(f"model.{key} must be >= 0, got {getattr(cfg, key)}")
        if cfg.latent_samples < 1:
            raise AekitError(f"model.latent_samples must be >= 1, got {cfg.latent_samples}")
        if cfg.kl_anneal_steps < 0:
            raise AekitError(f"model.kl_anneal_steps must be >= 0, got {cfg.kl_anneal_steps}")
        if cfg.kl_cycles < 1:
            raise AekitError(f"model.kl_cycles must be >= 1, got {cfg.kl_cycles}")
        if not 0 < cfg.kl_ratio <= 1:
            raise AekitError(f"model.kl_ratio must be in (0, 1], got {cfg.kl_ratio}")
        if not cfg.logvar_min < cfg.logvar_max:
            raise AekitError(f"model.logvar_min ({cfg.logvar_min}) must be below model.logvar_max ({cfg.logvar_max})",
                             "e.g. the defaults -12 and 8")
        lo, hi = cfg.input_range
        if cfg.dynamic_binarization and cfg.likelihood == "bernoulli" and (lo < 0.0 or hi > 1.0):
            raise AekitError(f"dynamic binarization draws Bernoulli(x), which needs x in [0, 1]; the data range is [{lo:.4g}, {hi:.4g}]",
                             "use --scale minmax, or drop model.dynamic_binarization")

    def build(self) -> None:
        cfg = self.cfg
        self.encoder, self.decoder = build_nets(cfg, self.input_shape, enc_out=2 * cfg.latent_dim)  # emits [μ | log σ²]
        self.likelihood = self.make_likelihood()
        self.corrupt = make_corruption(cfg.corruption, cfg.noise_level, *cfg.input_range)
        # dynamic binarization feeds a Bernoulli likelihood only (a preset's default elsewhere does nothing)
        self.binarizes = cfg.dynamic_binarization and cfg.likelihood == "bernoulli"
        # optimisation steps taken (training-mode loss calls): saved with the weights and in
        # checkpoints, so a resumed run continues the KL schedule exactly where it stopped
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))
        self.__dict__["_steps_host"] = None  # host copy of train_steps (no device sync per step)
        self.register_load_state_dict_post_hook(_forget_host_steps)

    # ---- the maths on model-space tensors ------------------------------------------------------
    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z|x) for model-space ``x``, each (B, latent_dim), float32; log σ² clamped."""
        return split_gaussian(self.encoder(x), self.cfg.logvar_min, self.cfg.logvar_max)

    def code(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior(x)[0]  # the posterior mean: encode() stays deterministic

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, target=target).reshape(z.shape[0], *self.input_shape)

    def binarize(self, x: torch.Tensor, random: bool) -> torch.Tensor:
        """Binary digits from grey ones (model space, in [0, 1]): x̃ ~ Bernoulli(x).

        ``random``: a fresh draw from the global RNG (training; the trainer seeds it). Otherwise a
        reproducible draw: example i of the call compares with row i mod 1024 of one uniform table
        from ``torch.Generator`` seeded 0 (on the CPU, so every device gets the same digits)."""
        x = x.clamp(0.0, 1.0)
        if random:
            return torch.bernoulli(x)
        table = self.__dict__.get("_bin_table")
        if table is None or table.shape[1:] != x.shape[1:]:
            table = torch.rand((_EVAL_BIN_ROWS, *x.shape[1:]), generator=torch.Generator().manual_seed(0))
            self.__dict__["_bin_table"] = table
        u = table[torch.arange(x.shape[0]) % _EVAL_BIN_ROWS].to(device=x.device, dtype=x.dtype)
        return (u < x).to(x.dtype)

    def eval_input(self, x: torch.Tensor) -> torch.Tensor:
        """What evaluation sees of model-space ``x``: the fixed binarization when training used
        dynamic binarization, else ``x``."""
        return self.binarize(x, random=False) if self.binarizes else x

    @property
    def steps(self) -> int:
        """Training steps taken so far (the KL schedule's clock)."""
        if self.__dict__["_steps_host"] is None:
            self.__dict__["_steps_host"] = int(self.train_steps)
        return self.__dict__["_steps_host"]

    def kl_factor(self, step: int | None = None) -> float:
        """The KL schedule's factor on β at ``step`` (default: the current training step)."""
        c = self.cfg
        return kl_weight(c.kl_schedule, self.steps if step is None else step, c.kl_anneal_steps, c.kl_cycles, c.kl_ratio)

    def _advance(self) -> float:
        """β's effective weight for this training step, then count the step."""
        if self.cfg.kl_schedule == "constant":  # no host read at all: nothing to sync on
            self.train_steps.add_(1)
            self.__dict__["_steps_host"] = None
            return self.cfg.beta
        step = self.steps
        self.train_steps.add_(1)
        self.__dict__["_steps_host"] = step + 1
        return self.cfg.beta * self.kl_factor(step)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """−ELBO = recon + β·KL per example, batch mean; terms "recon", "kl", "beta", "loss". Under
        model.objective=iwae: −L_k, terms "recon", "kl" (figures), "iwae" and "loss" (models/iwae.py).

        A training step (training mode, ``corrupt`` not False) draws fresh binary digits, corrupts,
        uses the annealed β and free bits, and advances the step counter. Otherwise the objective is
        the target one (β = model.beta, no free bits, fixed binarization, no corruption), so
        validation losses are comparable across epochs during a warm-up."""
        cfg = self.cfg
        train_step = self.training and corrupt is not False
        x = self.binarize(x, random=True) if train_step and self.binarizes else self.eval_input(x)
        x_in = self.corrupt(x) if train_step and cfg.corruption != "none" else x
        if cfg.objective == "iwae":
            terms = iwae_terms(self, x, x_in, cfg.k, cfg.gradient)
            if train_step:
                self._advance()  # the step clock runs under every objective
            return self._with_weight_decay(terms)
        mu, logvar = self.posterior(x_in)
        L = cfg.latent_samples
        z = reparameterize(mu, logvar, L)
        target = x
        if L > 1:  # (L, B, D) → (L·B, D); sample l of example b is row l·B + b
            z = z.reshape(-1, mu.shape[1])
            target = x.repeat(L, *[1] * (x.dim() - 1))
        recon = self.likelihood.nll_mean(self.decoder_params(z, target=target), target)  # mean over L and batch
        kl_d = kl_standard_normal(mu, logvar).mean(0)  # (D,) batch-mean KL per dimension
        kl = kl_d.sum()
        kl_objective = kl
        if train_step:
            beta = self._advance()
            if cfg.free_bits > 0:  # no gradient pushes KL_d below λ: dims stay in use
                kl_objective = kl_d.clamp(min=cfg.free_bits).sum()
        else:
            beta = cfg.beta
        terms: Terms = {"recon": recon, "kl": kl, "beta": torch.full((), beta, device=kl.device),
                        "loss": recon + beta * kl_objective}
        return self._with_weight_decay(terms)

    def _with_weight_decay(self, terms: Terms) -> Terms:
        """``terms`` with model.weight_decay's term added to the loss (and logged), when set."""
        if self.cfg.weight_decay:
            terms["weight_decay"] = weight_decay(self)
            terms["loss"] = terms.pop("loss") + self.cfg.weight_decay * terms["weight_decay"]
        return terms

    def neg_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(−ELBO, KL per dimension) per example of model-space ``x`` as evaluation sees it: one
        z ~ q(z|x) drawn with ``generator`` for the reconstruction term, the KL in closed form."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        kl_d = kl_standard_normal(mu, logvar)
        return self.likelihood.nll(self.decoder_params(z), x) + kl_d.sum(-1), kl_d

    def score(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """−ELBO per example in nats (one z per example from a generator seeded 0: reproducible)."""
        x = self.eval_input(x)
        return self.neg_elbo(x, torch.Generator(device=x.device).manual_seed(0))[0]

    def log_likelihood(self, x: Any, k: int = 1000, batch_size: int = 100, seed: int | None = 0,
                       binarize: bool | None = None, progress: bool = True) -> Any:
        """Importance-sampled log p(x) per example (nats; Burda et al. 2016) for model-space ``x``.

        k = 1 is a single-sample ELBO estimate; the bound rises towards log p(x) with k. ``seed`` fixes
        the draws (a generator on the model's device; None: the global RNG); with one batch and k = 1
        the draw is ε = torch.randn((1, 1, B, D), generator=Generator(seed)). ``binarize`` (default:
        when the model binarizes: model.dynamic_binarization with a Bernoulli likelihood) applies the
        fixed evaluation binarization. (N,), NumPy or tensor as given."""
        if k < 1:
            raise AekitError(f"the number of importance samples k must be >= 1, got {k}")
        t, was_tensor = (x.float(), True) if isinstance(x, torch.Tensor) else (torch.from_numpy(np.asarray(x, np.float32)), False)
        t = self.check_input(t)
        if self.binarizes if binarize is None else binarize:
            t = self.binarize(t, random=False)
        gen = torch.Generator(device=self.device).manual_seed(int(seed)) if seed is not None else None

        def one(b: torch.Tensor) -> torch.Tensor:
            mu, logvar = self.posterior(b)
            return importance_log_px(mu[None], logvar[None], decoder_log_lik(self, b), k, gen, floats_per_sample(self))

        out = self.map_batches(one, t, batch_size=batch_size, desc=f"log p(x), k={k}", progress=progress)
        return self._back(out, t, was_tensor)

    def kl_per_dim(self, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
        """Mean KL(q(z_d|x) ‖ N(0, 1)) per latent dimension over model-space ``x`` (nats), (D,)."""
        kl = self.map_batches(lambda b: kl_standard_normal(*self.posterior(self.eval_input(b))), x, batch_size=batch_size)
        return kl.double().mean(0).numpy() if len(kl) else np.zeros(self.cfg.latent_dim)

    def active_units(self, x: torch.Tensor, threshold: float = 1e-2, batch_size: int = 1024) -> int:
        """Latent dims with Cov_x(E_q[z_d]) > ``threshold`` over model-space ``x`` (Burda et al. 2016)."""
        mu = self.map_batches(lambda b: self.posterior(self.eval_input(b))[0], x, batch_size=batch_size)
        return int((mu.double().var(0, unbiased=False) > threshold).sum()) if len(mu) > 1 else 0

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """−ELBO (one seeded sample, closed-form KL), KL total and per dimension, active units, and a
        posterior-collapse warning. Importance-sampled NLL is on demand (``log_likelihood``)."""
        gen = torch.Generator(device=self.device).manual_seed(0)

        def stats(b: torch.Tensor) -> torch.Tensor:
            b = self.eval_input(b)
            nelbo, kl_d = self.neg_elbo(b, gen)
            return torch.cat([nelbo[:, None], kl_d, self.posterior(b)[0]], 1)

        s = self.map_batches(stats, x).double()
        D = self.cfg.latent_dim
        kl_d = s[:, 1: 1 + D].mean(0) if len(s) else torch.zeros(D, dtype=torch.float64)
        kl = float(kl_d.sum())
        out: dict[str, Any] = {"neg_elbo": float(s[:, 0].mean()) if len(s) else float("nan"), "kl": kl,
                               "kl_per_dim": [float(v) for v in kl_d],
                               "active_units": int((s[:, 1 + D:].var(0, unbiased=False) > 1e-2).sum()) if len(s) > 1 else 0}
        if kl < COLLAPSE_NATS:
            fix = ("more importance samples (model.k), or the ELBO with a KL warm-up (--set model.objective=elbo "
                   "--set model.kl_schedule=linear)" if self.cfg.objective == "iwae" else
                   "a KL warm-up (--set model.kl_schedule=linear with model.kl_anneal_steps), free bits "
                   "(--set model.free_bits=0.5), or a smaller beta (model.beta)")
            out["warnings"] = [f"posterior collapse: the KL is {kl:.3g} nats in total (< {COLLAPSE_NATS}), so the codes carry "
                               f"almost no information about x. Try {fix}"]
        return out

    # ---- generation ------------------------------------------------------------------------------
    def encode(self, x: Any, batch_size: int = 1024, *, y: Any = None, sample: bool = False) -> Any:
        """Posterior means μ(x) (deterministic), or with ``sample`` draws z ~ q(z|x) (global RNG)."""
        if not sample:
            return super().encode(x, batch_size, y=y)
        t, was_tensor = self.as_input(x)
        return self._back(self.map_batches(lambda b: reparameterize(*self.posterior(self.to_model_space(b))), t,
                                           batch_size=batch_size), t, was_tensor)

    def sample(self, n: int, label: Any = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws z ~ N(0, I) decoded to the decoder's mean in data space: (n, *input_shape).
        ``seed`` fixes the draws (a CPU generator, so the same seed gives the same codes anywhere)."""
        if label is not None:
            raise AekitError("the VAE is unconditional: it cannot generate a chosen label",
                             "train the conditional VAE (model cvae) to sample given classes, or drop label")
        z = self._seeded_codes(n, seed)
        if n == 0:
            return np.zeros((0, *self.input_shape), dtype=np.float32)
        return self.map_batches(self.data_mean, z).numpy()

    def manifold(self, n: int = 20) -> np.ndarray:
        """Decoder means over an n × n lattice of a 2-D latent space, (n·n, *input_shape) in data
        space, placed at the prior's quantiles (equal prior mass between neighbours); row-major,
        z₂ falling down the rows and z₁ rising along them (as a plot's axes)."""
        if self.cfg.latent_dim != 2:
            raise AekitError(f"the manifold grid needs a 2-D latent space, this model has {self.cfg.latent_dim}",
                             "train with --latent-dim 2 to draw it")
        return self.map_batches(self.data_mean, Normal(2).lattice(n)).numpy()

    def report_sections(self, data: Any) -> list[ReportItem]:
        """Image data: samples from the prior and, for 2-D codes, the manifold grid."""
        if getattr(data, "kind", None) != "images":
            return []
        out = [ReportItem("Samples from the prior", "images", self.sample(64, seed=0), "64 draws z ~ N(0, I), decoder means (seed 0)", nrow=8)]
        if self.cfg.latent_dim == 2:
            out.append(ReportItem("Latent manifold", "images", self.manifold(20),
                                  "decoder means on a 20 × 20 lattice of prior quantiles (z1 rising to the right, z2 upwards)", nrow=20))
        return out


def _forget_host_steps(module: VAE, incompatible: Any) -> None:
    """After load_state_dict the step counter is re-read from the loaded buffer."""
    module.__dict__["_steps_host"] = None


register("vae", VAE, VAEConfig,
         "variational autoencoder (Kingma & Welling 2014): Gaussian q(z|x), N(0, I) prior, Bernoulli decoder "
         "on [0,1] data; 784-512-256-16",
         latent_dim=16)
register("beta-vae", VAE, VAEConfig,
         "beta-VAE (Higgins et al. 2017): KL weighted by beta=4 with 10 latent dims, the paper's reference "
         "defaults, for more disentangled codes",
         latent_dim=10, beta=4.0)
register("iwae", VAE, VAEConfig,
         "importance-weighted autoencoder (Burda et al. 2016): the VAE on the k=50-sample bound; 784-200-200-50 tanh, "
         "Bernoulli, dynamic binarization; paper: --set train.adam_eps=1e-4 --set train.schedule=burda",
         objective="iwae", k=50, hidden=[200, 200], latent_dim=50, activation="tanh", dynamic_binarization=True)
