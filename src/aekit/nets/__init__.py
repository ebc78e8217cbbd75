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

NETS: dict[str, Callable[[Any, tuple[int, ...]], tuple[nn.Module, nn.Module]]] = {}


def register_net(name: str):
    def deco(fn):
        NETS[name] = fn
        return fn

    return deco


@register_net("mlp")
def _mlp(cfg: Any, input_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    import math

    d = math.prod(input_shape)
    enc_dims = [d, *cfg.hidden, cfg.latent_dim]
    enc_acts = [cfg.activation] * len(cfg.hidden) + [cfg.code_activation]
    encoder = MLP(enc_dims, enc_acts, init=cfg.init)
    dec_acts = [cfg.activation] * len(cfg.hidden) + ["linear"]  # decoder emits likelihood params
    decoder = MLP(enc_dims[::-1], dec_acts, init=cfg.init, tied_to=encoder if cfg.tied else None)
    return encoder, decoder


def build_nets(cfg: Any, input_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    if cfg.net not in NETS:
        raise unknown_choice("network", cfg.net, NETS)
    return NETS[cfg.net](cfg, input_shape)


__all__ = ["MLP", "TiedLinear", "ACTIVATIONS", "init_linear", "build_nets", "register_net", "NETS"]
