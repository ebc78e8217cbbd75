"""The options every family has: :class:`ModelConfig` (the networks, the data the model was built
for, the likelihood), which each family's config subclasses, and :class:`Corruptible` for the families
that train on corrupted inputs. Checked by ``Autoencoder.validate_config`` (base.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import Options, check_choice, opt
from ..errors import AekitError
from ..nets import NET_CHOICES, NetOptions

ACTIVATION_HELP = "relu | tanh | sigmoid | elu | gelu | leaky-relu | softplus | linear"


@dataclass
class ModelConfig(NetOptions):
    """The options of every family: the networks (:mod:`aekit.nets.options`), the data it was built
    for, the likelihood."""

    # how the family uses labels: none | required (every training label) | partial (--labels N
    # keeps N, the others are hidden as −1); label-taking configs also declare ``n_classes``
    label_use: ClassVar[str] = "none"
    # the networks the family works with; ``net: auto`` falls back to mlp when the data's own
    # network is not among them
    networks: ClassVar[tuple[str, ...]] = NET_CHOICES
    network_note: ClassVar[str] = ""  # why the others are not supported

    input_shape: list[int] = opt([], "filled from the data: the shape of one example (do not set)")
    input_range: list[float] = opt([0.0, 1.0], "filled from the data: min and max of the scaled training data (do not set)")
    latent_dim: int = opt(32, "code size (may exceed the input for overcomplete codes)")
    activation: str = opt("relu", "hidden activation: " + ACTIVATION_HELP)
    likelihood: str = opt("auto", "p(x|z): bernoulli | gaussian | gaussian-learned | categorical (one-hot sequences, e.g. characters) | "
                                  "auto (bernoulli for binary data and [0, 1] images, categorical for one-hot sequences)")
    sigma: float = opt(1.0, "Gaussian likelihoods: σ (fixed, or the initial value when learned)")
    init: str = opt("glorot", "weight init: glorot (Glorot-uniform, zero bias) | torch (PyTorch's default)")
    output_bias: str = opt("data", "the decoder's initial output bias: data (the likelihood's parameter at the training mean: "
                                   "per value, so that every decoder, MLP or conv, starts at the mean example) | zero "
                                   "(the init's own)")

    def unused(self) -> dict[str, str]:
        out = NetOptions.unused(self)
        if self.net == "rnn":
            out["activation"] = "recurrent cells have their own nonlinearities (tanh, sigmoid gates)"
        if self.likelihood in ("bernoulli", "categorical"):
            out["sigma"] = "only Gaussian likelihoods have a σ"
        if self.likelihood == "categorical" or self.net == "rnn":
            out["output_bias"] = "only Bernoulli and Gaussian decoders of MLP and conv networks start from the data's mean"
        return out


@dataclass
class Corruptible(Options):
    """The corruption options, for the families that train on corrupted inputs."""

    corruption: str = opt("none", "input corruption in training: none | gaussian | masking | salt-pepper")
    noise_level: float = opt(0.0, "σ for gaussian corruption, the corrupted fraction otherwise")

    def unused(self) -> dict[str, str]:
        return {"noise_level": "model.corruption is none"} if self.corruption == "none" else {}

    def validate_corruption(self) -> None:
        from ..parts import CORRUPTIONS, make_corruption

        check_choice("model.corruption", self.corruption, CORRUPTIONS)
        if self.corruption != "none":
            if not self.noise_level > 0:
                raise AekitError(f"model.corruption={self.corruption} with model.noise_level={self.noise_level} corrupts nothing",
                                 "e.g. --set model.noise_level=0.25, or model.corruption=none")
            make_corruption(self.corruption, self.noise_level)  # range checks of the level
