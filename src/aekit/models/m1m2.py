"""M1+M2 (Kingma et al. 2014): the conditional VAE M2 (models/cvae.py) on the codes z₁ of a trained,
frozen VAE "M1".

M2 models a fresh z₁ ~ q_M1(z₁|x) each training step, as Kingma did (``m1_sample=false`` uses the
means), with a Gaussian likelihood. M1 is a submodule saved in this run's weights and its config is
copied into ``m1_config``, so the run folder is self-contained: it loads after the M1 run is gone.
The public API takes images: classify(x) = M2's q(y | μ_M1(x)); samples and reconstructions go
through M1's decoder.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import check_choice, opt
from ..errors import AekitError
from ..parts import make_likelihood
from ..parts.gaussian import reparameterize
from .cvae import CVAE, CVAEConfig
from .base import Terms
from .loading import build_from_dict, load_model
from .registry import register

M1_HINT = "train a vae first: aekit train --model vae ... then --set model.m1_run=RUN"


@dataclass
class M1M2Config(CVAEConfig):
    networks: ClassVar[tuple[str, ...]] = ("mlp",)
    network_note: ClassVar[str] = "M2 reads M1's codes, which are vectors; M1's own network is set on the M1 run"

    m1_run: str | None = opt(None, "run folder of a trained vae whose codes M2 models (needed to start a run)")
    m1_sample: bool = opt(True, "train on fresh z1 ~ q_M1(z1|x) (Kingma); false: the posterior means")
    m1_config: dict[str, Any] | None = opt(None, "filled when the run starts: M1's model config, copied from m1_run (do not set)")
    code_likelihood: str = opt("gaussian-learned", "M2's likelihood of M1's codes: gaussian | gaussian-learned")

    def unused(self) -> dict[str, str]:
        # the images' likelihood is M1's: this model's own likelihood options do nothing
        return {**CVAEConfig.unused(self), "likelihood": "the data's likelihood is M1's (set on the M1 run)"}


class M1M2(CVAE):
    """M2 on the codes of a frozen VAE; see the module docstring."""

    config_cls = M1M2Config

    @staticmethod
    def validate_config(cfg: M1M2Config) -> None:
        if cfg.m1_run is None and cfg.m1_config is None:
            raise AekitError("the m1m2 model needs a trained VAE (M1) to build on: model.m1_run is not set", M1_HINT)
        check_choice("model.code_likelihood", cfg.code_likelihood, ("gaussian", "gaussian-learned"))
        CVAE.validate_config(cfg)

    def build_m2_space(self) -> tuple[int, ...]:
        """M1 first (so M2's weights start alike whichever way M1 came): from ``m1_config``
        (architecture only: the weights come from this model's state dict), else loaded from
        ``m1_run`` with its weights (a new run)."""
        cfg = self.cfg
        if cfg.m1_config is not None:
            m1 = build_from_dict(cfg.m1_config)
        else:
            m1 = load_model(cfg.m1_run)
            cfg.m1_config = {"name": m1.preset, **asdict(m1.cfg)}  # saved in config.yaml: the run is self-contained
        if not hasattr(m1, "posterior") or m1.n_classes:
            raise AekitError(f"model.m1_run holds a {type(m1).__name__} run, but M1 must be a VAE (it needs q(z|x))", M1_HINT)
        if tuple(m1.input_shape) != self.input_shape:
            raise AekitError(f"M1 was trained on examples of shape {tuple(m1.input_shape)}, this data has {self.input_shape}",
                             "train M1+M2 on the data M1 was trained on")
        cfg.likelihood = m1.cfg.likelihood  # the images' likelihood is M1's
        for p in m1.parameters():
            p.requires_grad_(False)
        self.m1 = m1.eval()
        d = int(m1.cfg.latent_dim)
        self.m2_likelihood = make_likelihood(cfg.code_likelihood, d, cfg.sigma)
        self.__dict__["_scaling_checked"] = False
        return (d,)

    def train(self, mode: bool = True) -> M1M2:
        super().train(mode)
        self.m1.eval()  # frozen: M1 always evaluates
        return self

    @property
    def likelihood(self) -> nn.Module:
        return self.m1.likelihood

    def m2_input(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        with torch.no_grad():
            mu, logvar = self.m1.posterior(x)
        return reparameterize(mu, logvar) if sample and self.cfg.m1_sample else mu

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """M2's mean code z₁ for (z, y), through M1's decoder."""
        if y is None:
            raise AekitError("the conditional VAE decodes a code together with a label", "give a label (decode(z, label=...))")
        return self.m1.decoder_params(self.m2_likelihood.mean(self._m2_params(z, y)))

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, corrupt: bool | None = None) -> Terms:
        self._check_m1_scaling()
        return super().loss(x, y, corrupt)

    def _check_m1_scaling(self) -> None:
        """This run feeds its model-space inputs to M1: both must share the data scaling."""
        if self.__dict__["_scaling_checked"]:
            return
        same = torch.equal(self.input_shift, self.m1.input_shift) and torch.equal(self.input_scale, self.m1.input_scale)
        if not same:
            raise AekitError("this run scales the data differently from the M1 run it builds on",
                             "train M1+M2 with the same data.scale as the M1 run")
        self.__dict__["_scaling_checked"] = True

    def log_likelihood(self, *a: Any, **k: Any) -> Any:
        raise AekitError("log p(x) by importance sampling is implemented for M2 only (M1+M2 models M1's codes)",
                         "use the cvae preset, or the M1 run's own NLL: aekit evaluate M1_RUN --nll")

    def score(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """M1's −ELBO of the images (M2 models codes, not pixels)."""
        return self.m1.score(x)

    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        """The classifier's accuracy and error, and −L with the true labels in nats of M1's codes
        (``m2_neg_elbo``)."""
        out = super().extra_metrics(x, y)
        out.pop("neg_elbo_unlabelled", None)
        if "neg_elbo" in out:
            out["m2_neg_elbo"] = out.pop("neg_elbo")
        return out


register("m1m2", M1M2, M1M2Config,
         "M1+M2 (Kingma et al. 2014): M2 on the codes of a trained, frozen vae; needs --set model.m1_run=RUN",
         hidden=[500], latent_dim=50, classifier_hidden=[500])
