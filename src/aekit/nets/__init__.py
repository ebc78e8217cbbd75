"""Networks: pure ``nn.Module``s mapping inputs to features and back (no losses here).

``build_nets(cfg, input_shape)`` returns (encoder, decoder) for ``cfg.net``; later families
(conv, recurrent) register here without touching models or the trainer.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..errors import unknown_choice
from .mlp import ACTIVATIONS, MLP, TiedLinear, init_linear

NETS: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {}


def register_net(name: str):
    def deco(fn):
        NETS[name] = fn
        return fn

    return deco


@register_net("mlp")
def _mlp(cfg: Any, input_shape: tuple[int, ...], enc_out: int, enc_in_extra: int = 0, dec_in_extra: int = 0,
         dec_out: int | None = None) -> tuple[nn.Module, nn.Module]:
    import math

    d = math.prod(input_shape)
    enc_dims = [d + enc_in_extra, *cfg.hidden, enc_out]
    # families with Gaussian or categorical heads have no code_activation: their heads are linear
    enc_acts = [cfg.activation] * len(cfg.hidden) + [getattr(cfg, "code_activation", "linear")]
    encoder = MLP(enc_dims, enc_acts, init=cfg.init)
    dec_dims = [cfg.latent_dim + dec_in_extra, *cfg.hidden[::-1], dec_out or d]
    dec_acts = [cfg.activation] * len(cfg.hidden) + ["linear"]  # decoder emits likelihood params
    tied = getattr(cfg, "tied", False)
    if tied and (enc_in_extra or dec_in_extra or enc_out != cfg.latent_dim or (dec_out and dec_out != d)):
        from ..errors import AekitError

        raise AekitError("tied weights need mirror-image encoder and decoder", "drop --set model.tied=true for this model")
    decoder = MLP(dec_dims, dec_acts, init=cfg.init, tied_to=encoder if tied else None)
    return encoder, decoder


def build_nets(cfg: Any, input_shape: tuple[int, ...], enc_out: int | None = None, enc_in_extra: int = 0,
               dec_in_extra: int = 0, dec_out: int | None = None) -> tuple[nn.Module, nn.Module]:
    """Encoder ``x (+ enc_in_extra conditioning values) → enc_out`` (default: the code size) and
    decoder ``z (+ dec_in_extra) → dec_out`` (default: the flattened input size).

    Conditioning values are concatenated to the flattened input by the caller."""
    if cfg.net not in NETS:
        raise unknown_choice("network", cfg.net, NETS)
    return NETS[cfg.net](cfg, input_shape, enc_out or cfg.latent_dim, enc_in_extra, dec_in_extra, dec_out)


__all__ = ["MLP", "TiedLinear", "ACTIVATIONS", "init_linear", "build_nets", "register_net", "NETS"]
