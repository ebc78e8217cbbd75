"""Multi-layer perceptron of any depth; flattens its input; optional tied (transposed) weights."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from ..errors import unknown_choice

ACTIVATIONS = {
    "linear": None,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": F.elu,
    "gelu": F.gelu,
    "leaky-relu": F.leaky_relu,
    "softplus": F.softplus,
}


def init_linear(layer: nn.Linear, scheme: str) -> None:
    """``glorot``: Glorot-uniform weights, zero biases (Keras' default; measured better on MNIST,
    see BENCHMARKS.md). ``torch``: PyTorch's default (Kaiming-uniform with a=√5)."""
    if scheme == "glorot":
        nn.init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    elif scheme == "torch":
        layer.reset_parameters()
    else:
        raise unknown_choice("init scheme", scheme, ("glorot", "torch"))


class TiedLinear(nn.Module):
    """The transpose of ``source`` (W_d = W_eᵀ), with a bias of its own.

    The weight is not registered here (it belongs to the encoder), so state dicts hold it once
    and a gradient step moves encoder and decoder together.
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        object.__setattr__(self, "_source", source)
        self.bias = nn.Parameter(torch.zeros(source.in_features))
        self.in_features, self.out_features = source.out_features, source.in_features

    @property
    def weight(self) -> torch.Tensor:
        return self._source.weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self._source.weight.t(), self.bias)


class MLP(nn.Module):
    """Linear layers ``dims[0] → … → dims[-1]``, ``acts[i]`` after layer i.

    ``forward(x, start, stop)`` runs a sub-range of layers, which is what greedy layer-wise
    pretraining needs. Inputs of any shape are flattened to (B, dims[0]).
    """

    def __init__(self, dims: list[int], acts: list[str], init: str = "glorot", tied_to: "MLP | None" = None):
        super().__init__()
        if len(acts) != len(dims) - 1:
            raise ValueError("one activation per layer")
        for a in acts:
            if a not in ACTIVATIONS:
                raise unknown_choice("activation", a, ACTIVATIONS)
        self.dims, self.acts = list(dims), list(acts)
        if tied_to is not None:
            src = list(tied_to.layers)[::-1]
            self.layers = nn.ModuleList(TiedLinear(s) for s in src)
        else:
            self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
            for layer in self.layers:
                init_linear(layer, init)
        self._fns = [ACTIVATIONS[a] for a in acts]

    @property
    def first_layer_weight(self) -> torch.Tensor:
        return self.layers[0].weight

    def forward(self, x: torch.Tensor, start: int = 0, stop: int | None = None, *, cond: torch.Tensor | None = None,
                target: torch.Tensor | None = None) -> torch.Tensor:
        """Layers ``start`` to ``stop`` on the flattened ``x``, with ``cond`` concatenated to it (the
        network contract of :mod:`aekit.nets`; ``target`` is for recurrent decoders and unused here)."""
        x = x.reshape(x.shape[0], -1)
        if cond is not None:
            x = torch.cat([x, cond.to(x.dtype)], 1)
        stop = len(self.layers) if stop is None else stop
        for i in range(start, stop):
            x = self.layers[i](x)
            if self._fns[i] is not None:
                x = self._fns[i](x)
        return x

    def extra_repr(self) -> str:
        return "dims=" + "-".join(map(str, self.dims)) + ", acts=" + ",".join(self.acts)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


