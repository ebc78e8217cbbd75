"""The network options every model config carries (``model.net`` and each network's own keys).

One network per run: ``mlp`` (the default: every preset reproduces an MLP from its paper, and an MLP
reads any fixed-size data), ``conv`` for images, ``rnn`` for sequences, or ``auto`` (resolved from the
data: images → conv, sequences → rnn, vectors → mlp; mlp for the families that support only it).
A key of another network is an error naming the network it belongs to (``unused``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Options, opt

NET_CHOICES = ("mlp", "conv", "rnn")
NET_HELP = "network: mlp | conv | rnn | auto (images → conv, sequences → rnn, vectors → mlp)"

# each network's own keys, and the default of ``hidden`` under it
CONV_KEYS = ("channels", "kernel", "stride", "pooling", "norm", "upsample")
RNN_KEYS = ("cell", "bidirectional", "teacher_forcing", "reverse_target")
DEFAULT_HIDDEN = {"mlp": [512, 256], "conv": [], "rnn": [128]}


@dataclass
class NetOptions(Options):
    net: str = opt("mlp", NET_HELP)
    hidden: list[int] = opt([512, 256], "hidden widths. mlp: the encoder's layers before the code; conv: fully connected layers "
                                        "between the flattened feature maps and the code (default under conv: none); rnn: the recurrent "
                                        "layers' sizes, one per layer (default under rnn: [128]). The decoder mirrors them")
    channels: list[int] = opt([32, 64], "conv: output channels of each convolution block (the decoder mirrors them)")
    kernel: int = opt(3, "conv: kernel size of every convolution")
    stride: int = opt(2, "conv: each block's downsampling factor (the convolution's stride, or the pooling's with model.pooling)")
    pooling: str = opt("none", "conv: none (strided convolutions) | max | avg (stride-1 convolutions, then pooling)")
    norm: str = opt("none", "conv: normalisation after each convolution: none | batch | group | layer")
    upsample: str = opt("transpose", "conv decoder: transpose (transposed convolutions) | nearest | bilinear (upsample, then convolve)")
    cell: str = opt("gru", "rnn: gru | lstm")
    bidirectional: bool = opt(False, "rnn: the encoder reads the sequence both ways")
    teacher_forcing: float = opt(0.0, "rnn: in training, the probability that a decoder step is fed the true previous value "
                                      "(0: the decoder unrolls from the code alone, with no feedback)")
    reverse_target: bool = opt(False, "rnn: the decoder emits the sequence last step first (Srivastava et al. 2015)")

    def unused(self) -> dict[str, str]:
        net = self.net
        out: dict[str, str] = {}
        if net in NET_CHOICES:  # 'auto' is checked again once resolved
            for key in CONV_KEYS:
                if net != "conv":
                    out[key] = f"it is an option of the conv network, and model.net is {net}"
            for key in RNN_KEYS:
                if net != "rnn":
                    out[key] = f"it is an option of the rnn network, and model.net is {net}"
        return out


def default_hidden(net: str) -> list[int]:
    return list(DEFAULT_HIDDEN.get(net, DEFAULT_HIDDEN["mlp"]))
