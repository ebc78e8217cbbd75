"""Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014) and the β-VAE.

    q(z|x) = N(μ(x), diag σ²(x)),   p(z) = N(0, I),   p(x|z) the model's likelihood part

trained by minimising −ELBO = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ p(z)), the KL in closed form and
the expectation by the reparameterisation trick (z = μ + σ ⊙ ε). β = 1 is the ELBO; β > 1 is the
β-VAE (Higgins et al. 2017). Optional extras: KL annealing (linear / sigmoid warm-up, Fu et al.'s
cyclical schedule), free bits (Kingma et al. 2016), dynamic binarization of [0, 1] data.

Evaluation: ``log_likelihood`` is the importance-sampled bound of Burda et al. 2016 (IWAE),
log (1/k) Σᵢ p(x|zᵢ)p(zᵢ)/q(zᵢ|x), zᵢ ~ q(z|x), which tightens towards log p(x) as k grows.
"""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import AekitError, unknown_choice
from ..nets import build_nets
from ..parts.gaussian import kl_standard_normal, log_normal_diag, log_standard_normal, reparameterize
from ..parts.penalties import weight_decay
from ..parts.schedules import SCHEDULES, kl_weight
from .base import AEConfig, Autoencoder, Terms, _as_tensor
from .registry import register

log = logging.getLogger("aekit.vae")

# importance sampling evaluates k decoder passes per example: chunks of the k samples keep the
# floats alive at once (decoder activations and targets of chunk × batch pairs) under this bound
_IS_CHUNK_FLOATS = 20_000_000
# evaluation binarization (dynamic_binarization): example i of a call uses row i mod this of one
# fixed seed-0 uniform table, so batches aligned to it (the trainer's and run.py's 1024) agree
_EVAL_BIN_ROWS = 1024
COLLAPSE_NATS = 0.1  # total KL below this on the test set: the posterior carries ~no information


@dataclass
class VAEConfig(AEConfig):
    """The VAE family: the AE options (nets, likelihood) plus the variational ones."""

    beta: float = 1.0               # weight β of the KL term (1: the ELBO; >1: β-VAE)
    kl_schedule: str = "constant"   # constant | linear | sigmoid | cyclical: factor on β over training steps
    kl_anneal_steps: int = 5000     # warm-up length in optimisation steps (total length for cyclical)
    kl_cycles: int = 4              # cyclical schedule: number of cycles (Fu et al. 2019)
    kl_ratio: float = 0.5           # cyclical schedule: fraction of each cycle rising 0 → 1, then 1
    free_bits: float = 0.0          # λ nats per latent dim: train on Σ_d max(KL_d, λ) (Kingma et al. 2016); 0 = off
    latent_samples: int = 1         # L samples of z per example in training (recon NLL averaged over them)
    # log σ² is clamped to [logvar_min, logvar_max]: below e^-12 (σ ≈ 0.0025) log q and the
    # 1/σ² in the IS weights explode; above e^8 (σ ≈ 55) exp(logvar) and z overflow early in training
    logvar_min: float = -12.0       # lower clamp of the encoder's log-variance
    logvar_max: float = 8.0         # upper clamp of the encoder's log-variance
    dynamic_binarization: bool = False  # training: x ← fresh Bernoulli(x) draw each time; evaluation: fixed seed-0 draw


class VAE(Autoencoder):
    """Gaussian-posterior VAE over the MLP family; see the module docstring."""

    config_cls = VAEConfig
    can_sample = True

    def __init__(self, cfg: VAEConfig):
        super().__init__(cfg)
        # the encoder emits μ and log σ² (2·latent_dim values); the base built a latent_dim one
        self.encoder, self.decoder = build_nets(cfg, self.input_shape, enc_out=2 * cfg.latent_dim)
        # optimisation steps taken (training-mode loss calls): saved with the weights and in
        # checkpoints, so a resumed run continues the KL schedule exactly where it stopped
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))
        self.__dict__["_steps_host"] = None  # host copy of train_steps (no device sync per step)
        self.register_load_state_dict_post_hook(_forget_host_steps)

    # ---- configuration checks -----------------------------------------------------------------
    @staticmethod
    def validate_config(cfg: VAEConfig) -> None:
        if cfg.code_activation != "linear":
            raise AekitError(f"the VAE encoder emits μ and log σ², which need a linear output, not {cfg.code_activation!r}",
                             "use --set model.code_activation=linear")
        for name in ("l1", "sparsity_weight", "contractive", "stochastic_contractive"):
            if getattr(cfg, name):
                raise AekitError(f"model.{name} is a deterministic-AE penalty the VAE does not use",
                                 f"set model.{name}=0; the KL term (model.beta) regularises the code")
        if cfg.corruption != "none" and cfg.noise_samples != 1:
            raise AekitError("the VAE corrupts each example once (model.noise_samples=1)",
                             "use model.latent_samples for several samples per example")
        if cfg.kl_schedule not in SCHEDULES:
            raise unknown_choice("KL schedule (model.kl_schedule)", cfg.kl_schedule, SCHEDULES)
        if not cfg.beta >= 0:
            raise AekitError(f"model.beta must be >= 0, got {cfg.beta}", "e.g. --set model.beta=1 (the ELBO)")
        if not cfg.free_bits >= 0:
            raise AekitError(f"model.free_bits must be >= 0 nats per dimension, got {cfg.free_bits}",
                             "e.g. --set model.free_bits=0.5, or 0 for none")
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
        if cfg.dynamic_binarization and (lo < 0.0 or hi > 1.0):
            raise AekitError(f"dynamic binarization draws Bernoulli(x), which needs x in [0, 1]; the data range is [{lo:.4g}, {hi:.4g}]",
                             "use --scale minmax, or drop model.dynamic_binarization")
        Autoencoder.validate_config(cfg)

    # ---- conditioning hooks (a conditional VAE concatenates its label here) ---------------------
    def _encoder_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x

    def _decoder_input(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return z

    # ---- the core maths on model-space tensors -------------------------------------------------
    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z|x) for model-space ``x``, each (B, latent_dim); log σ² clamped."""
        h = self.encoder(self._encoder_input(x, y))
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(self.cfg.logvar_min, self.cfg.logvar_max)

    def _decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self._decoder_input(z, y)).reshape(z.shape[0], *self.input_shape)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]  # the posterior mean: encode() stays deterministic

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._decoder_params(z)

    def _recon_params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._decoder_params(self.posterior(x, y)[0], y)

    def binarize(self, x: torch.Tensor, random: bool) -> torch.Tensor:
        """Binary digits from grey ones (model space, in [0, 1]): x̃ ~ Bernoulli(x).

        ``random``: a fresh draw from the global RNG (training; the trainer seeds it). Otherwise
        a reproducible draw: example i of the call compares with row i mod 1024 of one uniform
        table from ``torch.Generator`` seeded 0 (on the CPU, so every device gets the same
        digits). The same call always sees the same digits, and calls in batches of 1024 (the
        trainer's validation, run.py's test figures) binarize the test set identically to
        ``evaluate_nll`` and ``extra_metrics``, which binarize the whole set in one call."""
        x = x.clamp(0.0, 1.0)
        if random:
            return torch.bernoulli(x)
        table = self.__dict__.get("_bin_table")
        if table is None or table.shape[1:] != x.shape[1:]:
            g = torch.Generator().manual_seed(0)
            table = torch.rand((_EVAL_BIN_ROWS, *x.shape[1:]), generator=g)
            self.__dict__["_bin_table"] = table
        u = table[torch.arange(x.shape[0]) % _EVAL_BIN_ROWS].to(device=x.device, dtype=x.dtype)
        return (u < x).to(x.dtype)

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
        if self.cfg.kl_schedule == "constant":  # no host read at all: nothing to sync or to guard on
            self.train_steps.add_(1)
            self.__dict__["_steps_host"] = None
            return self.cfg.beta
        step = self.steps
        self.train_steps.add_(1)
        self.__dict__["_steps_host"] = step + 1
        return self.cfg.beta * self.kl_factor(step)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        """−ELBO = recon + β·KL per example, batch mean; terms "recon", "kl", "beta", "loss".

        A training step (training mode, ``corrupt`` not False) draws fresh binary digits (dynamic
        binarization), uses the annealed β and free bits, and advances the step counter. Otherwise
        (validation, test) the objective is the target one: β = model.beta, no free bits, fixed
        binarization, so validation losses are comparable across epochs during warm-up."""
        cfg = self.cfg
        train_step = self.training and corrupt is not False
        if cfg.dynamic_binarization:
            x = self.binarize(x, random=train_step)
        x_in = self.corrupt(x) if (self.training if corrupt is None else corrupt) and cfg.corruption != "none" else x
        mu, logvar = self.posterior(x_in, y)
        L = cfg.latent_samples
        z = reparameterize(mu, logvar, L)
        target, y_rep = x, y
        if L > 1:  # (L, B, D) → (L·B, D); sample l of example b is row l·B + b
            z = z.reshape(-1, mu.shape[1])
            target = x.repeat(L, *[1] * (x.dim() - 1))
            y_rep = y.repeat(L) if y is not None else None
        recon = self.likelihood.nll_mean(self._decoder_params(z, y_rep), target)  # mean over L and batch
        kl_d = kl_standard_normal(mu, logvar).mean(0)  # (D,) batch-mean KL per dimension
        kl = kl_d.sum()
        kl_objective = kl
        if train_step:
            beta = self._advance()
            if cfg.free_bits > 0:  # no gradient pushes KL_d below λ: dims stay in use
                kl_objective = kl_d.clamp(min=cfg.free_bits).sum()
        else:
            beta = cfg.beta
        total = recon + beta * kl_objective
        terms: Terms = {"recon": recon, "kl": kl, "beta": torch.full((), beta, device=kl.device, dtype=kl.dtype)}
        if cfg.weight_decay:
            terms["weight_decay"] = weight_decay(self)
            total = total + cfg.weight_decay * terms["weight_decay"]
        terms["loss"] = total
        return terms

    # ---- the public API ------------------------------------------------------------------------
    def encode(self, x: Any, batch_size: int = 1024, sample: bool = False) -> Any:
        """Posterior means μ(x) (deterministic), or with ``sample`` draws z ~ q(z|x) (global RNG).
        NumPy in → NumPy out; tensor in → tensor out."""
        if not sample:
            return super().encode(x, batch_size)
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)

        def draw(b: torch.Tensor) -> torch.Tensor:
            return reparameterize(*self.posterior(self.to_model_space(b)))

        return self._back(self._batched(draw, t, batch_size), t, was_tensor)

    def _data_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.from_model_space(self.likelihood.mean(self._decode(z)))

    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> np.ndarray:
        """``n`` draws z ~ N(0, I) decoded to the decoder's mean in data space: (n, *input_shape).
        ``seed`` fixes the draws (a CPU generator, so the same seed gives the same codes anywhere)."""
        if label is not None:
            raise AekitError("the VAE is unconditional: it cannot generate a chosen label",
                             "train the conditional VAE (model cvae) to sample given classes, or drop label")
        if n < 0:
            raise AekitError(f"the number of samples must be >= 0, got {n}")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        z = torch.randn((int(n), self.cfg.latent_dim), generator=g)
        if n == 0:
            return np.zeros((0, *self.input_shape), dtype=np.float32)
        return self._batched(self._data_mean, z, 1024).cpu().numpy()

    def manifold(self, n: int = 20) -> np.ndarray:
        """Decoder means over an n × n lattice of a 2-D latent space, (n·n, *input_shape) in data
        space. Lattice points are the prior's quantiles Φ⁻¹(linspace(0.05, 0.95, n)), so equal
        prior mass lies between neighbours; row-major, z₂ falling down the rows and z₁ rising
        along them (as a plot's axes)."""
        if self.cfg.latent_dim != 2:
            raise AekitError(f"the manifold grid needs a 2-D latent space, this model has {self.cfg.latent_dim}",
                             "train with --latent-dim 2 to draw it")
        from scipy.stats import norm

        q = torch.from_numpy(norm.ppf(np.linspace(0.05, 0.95, n))).float()
        z1, z2 = torch.meshgrid(q, q.flip(0), indexing="xy")
        z = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
        return self._batched(self._data_mean, z, 1024).cpu().numpy()

    # ---- evaluation: likelihood bounds and code statistics (model-space inputs) ----------------
    def _is_chunk(self, batch: int, k: int) -> int:
        per_pair = 3 * self.input_dim + sum(self.cfg.hidden) + 4 * self.cfg.latent_dim
        return max(1, min(k, _IS_CHUNK_FLOATS // max(1, batch * per_pair)))

    def _log_px(self, x: torch.Tensor, y: torch.Tensor | None, k: int, gen: torch.Generator | None) -> torch.Tensor:
        """log (1/k) Σᵢ p(x|zᵢ)p(zᵢ)/q(zᵢ|x) per example of one batch, over chunks of the k samples
        (ε = torch.randn((chunk, B, D), generator=gen) per chunk, in order), combined by a
        running logsumexp."""
        mu, logvar = self.posterior(x, y)
        B, D = mu.shape
        std = torch.exp(0.5 * logvar)
        chunk = self._is_chunk(B, k)
        lse = None
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, B, D), generator=gen, device=mu.device, dtype=mu.dtype)
            z = mu + std * eps
            target = x.unsqueeze(0).expand(m, *x.shape).reshape(m * B, *x.shape[1:])
            params = self._decoder_params(z.reshape(m * B, D), y.repeat(m) if y is not None else None)
            log_w = -self.likelihood.nll(params, target).reshape(m, B) + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
            c = torch.logsumexp(log_w, dim=0)
            lse = c if lse is None else torch.logaddexp(lse, c)
        assert lse is not None
        return lse - math.log(k)

    def _prepare_eval(self, x: Any, binarize: bool | None) -> tuple[torch.Tensor, bool]:
        t, was_tensor = _as_tensor(x)
        t = self._check_input(t)
        if (self.cfg.dynamic_binarization if binarize is None else binarize):
            t = self.binarize(t, random=False)
        return t, was_tensor

    def _eval_batches(self, t: torch.Tensor, batch_size: int, desc: str):
        starts = range(0, t.shape[0], batch_size)
        if sys.stderr.isatty() and len(starts) > 1:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="batch", leave=False, dynamic_ncols=True, file=sys.stderr)
        for i in starts:
            yield t[i: i + batch_size].to(self.device)

    def log_likelihood(self, x: Any, k: int = 1000, batch_size: int = 100, seed: int | None = 0,
                       binarize: bool | None = None) -> Any:
        """Importance-sampled log p(x) per example (nats; Burda et al. 2016), x in model space.

        k = 1 is a single-sample ELBO estimate; the bound rises towards log p(x) with k. ``seed``
        fixes the draws (a generator on the model's device; None: the global RNG); with one batch
        and k = 1 the draw is ε = torch.randn((1, B, D), generator=Generator(seed)). ``binarize``
        (default: when model.dynamic_binarization) applies the fixed evaluation binarization.
        NumPy in → NumPy out (shape (N,)); tensor in → tensor out."""
        if k < 1:
            raise AekitError(f"the number of importance samples k must be >= 1, got {k}")
        t, was_tensor = self._prepare_eval(x, binarize)
        gen = torch.Generator(device=self.device).manual_seed(int(seed)) if seed is not None else None

        def run() -> torch.Tensor:
            outs = [self._log_px(b, None, k, gen) for b in self._eval_batches(t, batch_size, f"log p(x), k={k}")]
            return torch.cat(outs) if outs else torch.zeros(0)

        return self._back(self._evaluating(run), t, was_tensor)

    def _posterior_pass(self, t: torch.Tensor, batch_size: int, recon: bool, seed: int = 0) -> dict[str, Any]:
        """One pass over model-space ``t``: μ per example, summed KL per dim, and (``recon``) the
        summed one-sample reconstruction NLL (seeded z)."""
        gen = torch.Generator(device=self.device).manual_seed(seed)

        def run() -> dict[str, Any]:
            mus, kl_sum, nll_sum = [torch.zeros(0, self.cfg.latent_dim, dtype=torch.float64)], torch.zeros(self.cfg.latent_dim, dtype=torch.float64), 0.0
            for b in self._eval_batches(t, batch_size, "posterior"):
                mu, logvar = self.posterior(b)
                mus.append(mu.double().cpu())
                kl_sum = kl_sum + kl_standard_normal(mu, logvar).double().sum(0).cpu()
                if recon:
                    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
                    nll_sum += float(self.likelihood.nll(self._decode(z), b).double().sum())
            return {"mu": torch.cat(mus), "kl_sum": kl_sum, "nll_sum": nll_sum}

        return self._evaluating(run)

    def kl_per_dim(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Mean KL(q(z_d|x) ‖ N(0, 1)) per latent dimension over model-space ``x`` (nats), (D,)."""
        t, _ = self._prepare_eval(x, None)
        return (self._posterior_pass(t, batch_size, recon=False)["kl_sum"] / max(1, t.shape[0])).numpy()

    def active_units(self, x: Any, threshold: float = 1e-2, batch_size: int = 1024) -> int:
        """Latent dims with Cov_x(E_q[z_d]) > ``threshold`` over model-space ``x`` (Burda et al. 2016)."""
        t, _ = self._prepare_eval(x, None)
        mu = self._posterior_pass(t, batch_size, recon=False)["mu"]
        return int((mu.var(0, unbiased=False) > threshold).sum()) if len(mu) else 0

    def evaluate_nll(self, x: Any, k: int = 1000, batch_size: int = 100, seed: int = 0) -> dict[str, Any]:
        """Test log-likelihood figures on model-space ``x`` (binarized as in evaluation when
        model.dynamic_binarization, so both figures see the same binary data): ``test_nll`` the
        mean −log p(x) by importance sampling with k samples, ``test_neg_elbo`` the mean −ELBO
        (one-sample reconstruction, closed-form KL), ``nll_k`` = k. Both in nats per example."""
        t, _ = self._prepare_eval(x, None)
        n = max(1, t.shape[0])
        ll = self.log_likelihood(t, k=k, batch_size=batch_size, seed=seed, binarize=False)
        p = self._posterior_pass(t, 1024, recon=True, seed=seed)
        return {"test_nll": float(-ll.double().sum() / n), "test_neg_elbo": (p["nll_sum"] + float(p["kl_sum"].sum())) / n,
                "nll_k": int(k)}

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """−ELBO (k = 1, closed-form KL), KL total and per dimension, active units, and a
        posterior-collapse warning. Importance-sampled NLL is on demand: ``evaluate_nll``."""
        t, _ = self._prepare_eval(x, None)
        n = max(1, t.shape[0])
        p = self._posterior_pass(t, 1024, recon=True)
        kl_d = p["kl_sum"] / n
        kl = float(kl_d.sum())
        mu = p["mu"]
        out: dict[str, Any] = {
            "test_neg_elbo": p["nll_sum"] / n + kl,
            "test_kl": kl,
            "kl_per_dim": [float(v) for v in kl_d],
            "active_units": int((mu.var(0, unbiased=False) > 1e-2).sum()) if len(mu) else 0,
        }
        warnings = []
        if kl < COLLAPSE_NATS:
            warnings.append(
                f"posterior collapse: the test KL is {kl:.3g} nats in total (< {COLLAPSE_NATS}), so the codes carry almost "
                "no information about x. Try a KL warm-up (--set model.kl_schedule=linear with model.kl_anneal_steps), "
                "free bits (--set model.free_bits=0.5), or a smaller beta (model.beta)")
        out["warnings"] = warnings
        return out

    # ---- report figures ---------------------------------------------------------------------------
    def report_sections(self, data: Any) -> list[tuple[str, Any]]:
        """Samples from the prior and (2-D codes) the manifold grid for image data; the KL per
        latent dimension, sorted, on the test split (else validation, else training)."""
        from ..plots import figures as F

        out: list[tuple[str, Any]] = []
        if getattr(data, "kind", None) == "images":
            out.append(("Samples from the prior", _tiled(F.grid_array(self.sample(64, seed=0), nrow=8),
                                                         "64 draws z ~ N(0, I), decoder means (seed 0)")))
            if self.cfg.latent_dim == 2:
                out.append(("Latent manifold", _tiled(F.grid_array(self.manifold(20), nrow=20),
                                                      "decoder means on a 20 x 20 lattice of prior quantiles "
                                                      "(z1 rising to the right, z2 rising upwards)")))
        x = next((a for a in (getattr(data, f"x_{s}", None) for s in ("test", "val", "train")) if a is not None and len(a)), None)
        if x is not None:
            xm = self.to_model_space(_as_tensor(np.asarray(x[:2000]))[0].to(self.input_shift.device))
            out.append(("KL per latent dimension", _kl_bar_chart(self.kl_per_dim(xm))))
        return out


def _forget_host_steps(module: VAE, incompatible: Any) -> None:
    """After load_state_dict the step counter is re-read from the loaded buffer."""
    module.__dict__["_steps_host"] = None


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    from ..plots.figures import _use_agg

    _use_agg()
    return Figure(figsize=figsize, layout="constrained")


def _tiled(grid: np.ndarray, title: str) -> Any:
    """One image of many tiles (figures.grid_array): one axes, however many tiles (fast)."""
    h, w = grid.shape[:2]
    fig = _figure((min(9.0, 0.012 * w + 0.5), min(9.0, 0.012 * h + 0.5) + 0.3))
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


def _kl_bar_chart(kl: np.ndarray) -> Any:
    order = np.argsort(-kl)
    d = len(kl)
    fig = _figure((max(4.0, 0.28 * d + 1.5), 3.2))
    ax = fig.subplots()
    ax.bar(np.arange(d), kl[order], color="#4c72b0")
    ax.axhline(COLLAPSE_NATS / max(1, d), color="0.5", ls=":", lw=1.0)
    ax.set_xticks(np.arange(d), [str(i) for i in order], fontsize=7 if d > 20 else 8)
    ax.set_xlabel("latent dimension (sorted by KL)", fontsize=9)
    ax.set_ylabel("KL(q(z_d|x) || N(0,1)), nats", fontsize=9)
    ax.set_title(f"KL per dimension: total {kl.sum():.3g} nats", fontsize=10)
    return fig


register("vae", VAE, VAEConfig,
         "variational autoencoder (Kingma & Welling 2014): Gaussian q(z|x), N(0, I) prior, Bernoulli decoder "
         "on [0,1] data; 784-512-256-16",
         hidden=[512, 256], latent_dim=16)
register("beta-vae", VAE, VAEConfig,
         "beta-VAE (Higgins et al. 2017): KL weighted by beta=4 with 10 latent dims, the paper's reference "
         "defaults, for more disentangled codes",
         hidden=[512, 256], latent_dim=10, beta=4.0)
