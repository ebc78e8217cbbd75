"""Networks: pure ``nn.Module``s mapping inputs to features and back (no losses here).

``build_nets(cfg, input_shape, enc_out, enc_cond, dec_cond)`` returns (encoder, decoder) for
``cfg.net``; each network registers its builder with :func:`register_net`. The contract every
network keeps, so that every model family works with every network:

- ``encoder(x, cond=None)``: x (B, *input_shape) → (B, enc_out), flat whatever the network;
  ``cond`` (B, enc_cond) conditions it (an MLP concatenates it to the flattened input, a conv net
  reads it as constant extra input channels, a recurrent net as extra inputs at every step).
- ``decoder(z, cond=None)``: z (B, latent_dim) (+ cond (B, dec_cond)) → likelihood parameters
  (B, *input_shape) (an MLP returns them flat; the families reshape).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..errors import AekitError, unknown_choice
from . import conv, rnn
from .mlp import ACTIVATIONS, MLP, TiedLinear, init_linear, n_params
from .options import CONV_KEYS, NET_CHOICES, RNN_KEYS, NetOptions, default_hidden

NETS: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {}


def register_net(name: str):
    def deco(fn):
        NETS[name] = fn
        return fn

    return deco


@register_net("mlp")
def _mlp(cfg: Any, input_shape: tuple[int, ...], enc_out: int, enc_cond: int = 0, dec_cond: int = 0) -> tuple[nn.Module, nn.Module]:
    import math

    d = math.prod(input_shape)
    hidden = list(cfg.hidden)
    enc_dims = [d + enc_cond, *hidden, enc_out]
    # families with Gaussian or categorical heads have no code_activation: their heads are linear
    enc_acts = [cfg.activation] * len(hidden) + [getattr(cfg, "code_activation", "linear")]
    encoder = MLP(enc_dims, enc_acts, init=cfg.init)
    dec_dims = [cfg.latent_dim + dec_cond, *hidden[::-1], d]
    dec_acts = [cfg.activation] * len(hidden) + ["linear"]  # decoder emits likelihood params
    tied = getattr(cfg, "tied", False)
    if tied and (enc_cond or dec_cond or enc_out != cfg.latent_dim):
        raise AekitError("tied weights need mirror-image encoder and decoder", "drop --set model.tied=true for this model")
    decoder = MLP(dec_dims, dec_acts, init=cfg.init, tied_to=encoder if tied else None)
    return encoder, decoder


NETS["conv"] = conv.build
NETS["rnn"] = rnn.build


def check_net(cfg: Any) -> None:
    """The network choice and its data: an error naming the fix when they cannot work together."""
    net = cfg.net
    if net == "auto":
        raise AekitError("model.net 'auto' is resolved from the data by aekit.train_run",
                         "give mlp, conv or rnn when building a model directly")
    if net not in NETS:
        raise unknown_choice("network (model.net)", net, NETS)
    rank = len(cfg.input_shape)
    if net == "conv" and rank != 3:
        raise AekitError(f"the conv network reads images (C, H, W); these examples have shape {tuple(cfg.input_shape)}",
                         "use --net mlp for vectors, --net rnn for sequences, or load the data as images (data.kind=images)")
    if net == "rnn" and rank != 2:
        raise AekitError(f"the rnn network reads sequences (T, C); these examples have shape {tuple(cfg.input_shape)}",
                         "use --net mlp or conv, or load the data as sequences (--set data.kind=sequences)")


def auto_net(input_shape: tuple[int, ...] | list[int], networks: tuple[str, ...] = NET_CHOICES) -> tuple[str, str]:
    """(network, reason) for ``net: auto``: images (C, H, W) → conv, sequences (T, C) → rnn,
    vectors → mlp; mlp when the family (``networks``) does not support the data's own network."""
    kind, net = {3: ("images", "conv"), 2: ("sequences", "rnn")}.get(len(input_shape), ("vectors", "mlp"))
    if net not in networks:
        return "mlp", f"{kind}; this model works with the {' and '.join(networks)} network"
    return net, f"{kind} → {net}"


def build_nets(cfg: Any, input_shape: tuple[int, ...], enc_out: int | None = None, enc_cond: int = 0,
               dec_cond: int = 0) -> tuple[nn.Module, nn.Module]:
    """Encoder ``x (+ cond) → enc_out`` (default: the code size) and decoder ``z (+ cond) → x``'s
    likelihood parameters; see the module docstring."""
    if cfg.net not in NETS:
        raise unknown_choice("network (model.net)", cfg.net, NETS)
    encoder, decoder = NETS[cfg.net](cfg, tuple(input_shape), enc_out or cfg.latent_dim, enc_cond, dec_cond)
    encoder.cond_dim, decoder.cond_dim = enc_cond, dec_cond  # what `cond` each expects (aekit describe)
    return encoder, decoder


__all__ = ["MLP", "TiedLinear", "ACTIVATIONS", "init_linear", "n_params", "build_nets", "register_net", "NETS",
           "NetOptions", "NET_CHOICES", "CONV_KEYS", "RNN_KEYS", "default_hidden", "auto_net", "check_net"]
