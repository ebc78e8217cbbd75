"""Convolutional encoder and decoder for images (C, H, W) of any size and channel count.

``conv_matrix`` writes a single-channel convolution as the matrix it is (the lecture's view:
a convolution is a sparse linear map C, its transpose is the "transposed convolution").

The networks: each encoder block is a convolution (strided, or stride 1 followed by max/avg
pooling), a normalisation and the activation; the flattened maps then pass through fully connected
layers to the code. The decoder mirrors it, and each of its blocks restores exactly the spatial size
of the matching encoder stage, so every image size decodes to itself. Both networks keep
``self.trace``, rows (layer, output shape, parameters) that :func:`format_trace` renders; a
configuration that cannot work raises :class:`AekitError` with the trace up to the failing layer.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AekitError, unknown_choice
from .mlp import ACTIVATIONS, MLP, init_linear

POOLINGS = ("none", "max", "avg")
NORMS = ("none", "batch", "group", "layer")
UPSAMPLES = ("transpose", "nearest", "bilinear")
OFFSET = "output_offset"  # the ConvDecoder buffer that starts its output at the training mean

Shape = tuple[int, ...]
TraceRow = tuple[str, "Shape | str", int]

TOO_SMALL_HINT = ("use fewer blocks (model.channels), a smaller model.stride, or larger images "
                  "(--set data.image_size=[H,W] for an image folder)")


def _positive_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _pair(value: Any, name: str) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, (tuple, list, torch.Size)) else (value, value)
    if len(pair) != 2 or not all(_positive_int(v) for v in pair):
        raise AekitError(f"{name} must be a positive integer or a pair of them, not {value!r}")
    return int(pair[0]), int(pair[1])


def conv_matrix(kernel: Any, input_shape: Sequence[int], stride: int | Sequence[int] = 1) -> torch.Tensor:
    """The matrix C of a single-channel "valid" 2-D convolution (no padding; cross-correlation,
    like ``torch.nn.functional.conv2d``): ``conv(x) = C @ vec(x)`` and the transposed convolution
    ``conv_transpose(y) = C.T @ vec(y)``, with row-major ``vec``.

    ``kernel``: 2-D array-like (kh, kw); ``input_shape``: (H, W); ``stride``: int or (sh, sw).
    Returns (out_h·out_w, H·W) in the kernel's floating dtype (float64 for integer kernels).
    """
    k = torch.as_tensor(kernel)
    if not k.is_floating_point():
        k = k.to(torch.float64)
    if k.dim() != 2 or k.numel() == 0:
        raise AekitError(f"the kernel must be a non-empty 2-D array, not shape {tuple(k.shape)}")
    h, w = _pair(tuple(input_shape), "input_shape")
    sh, sw = _pair(stride, "stride")
    kh, kw = k.shape
    if kh > h or kw > w:
        raise AekitError(f"a {kh}x{kw} kernel does not fit a {h}x{w} input (a valid convolution has no padding)",
                         "use a smaller kernel or a larger input")
    out_h, out_w = (h - kh) // sh + 1, (w - kw) // sw + 1
    rows = torch.arange(out_h * out_w)
    top = (rows // out_w) * sh * w + (rows % out_w) * sw  # the input index under each window's corner
    c = torch.zeros(out_h * out_w, h * w, dtype=k.dtype)
    for a in range(kh):
        for b in range(kw):
            c[rows, top + a * w + b] = k[a, b]
    return c


# --- planning: the shapes, the trace, and the errors ----------------------------------------------

def _groups(c: int) -> int:
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


def _norm_layer(norm: str, c: int) -> nn.Module | None:
    if norm == "batch":
        return nn.BatchNorm2d(c)
    if norm in ("group", "layer"):
        return nn.GroupNorm(_groups(c) if norm == "group" else 1, c)
    return None


def _block_params(c_in: int, c_out: int, kernel: int, norm: str) -> int:
    """Parameters of a (transposed) convolution with bias, plus the norm's affine pair."""
    return c_out * (c_in * kernel * kernel + 1) + (2 * c_out if norm != "none" else 0)


def _shape_str(shape: Shape | str) -> str:
    return shape if isinstance(shape, str) else "x".join(map(str, shape))


def format_trace(rows: Sequence[TraceRow]) -> str:
    """The trace rows (layer, output shape, parameters) as an aligned table with a total."""
    table = [("layer", "output", "params")] + [(d, _shape_str(s), f"{p:,}") for d, s, p in rows]
    table.append(("total", "", f"{sum(p for _, _, p in rows):,}"))
    wd, ws, wp = (max(len(r[i]) for r in table) for i in range(3))
    return "\n".join(f"  {d:<{wd}}  {s:<{ws}}  {p:>{wp}}".rstrip() for d, s, p in table)


def _fail(message: str, rows: Sequence[TraceRow], hint: str | None = TOO_SMALL_HINT) -> AekitError:
    return AekitError(f"{message}\n{format_trace(rows)}", hint)


def _check_choice(kind: str, value: str, choices: Sequence[str] | dict) -> None:
    if value not in choices:
        raise unknown_choice(kind, value, choices)


def _plan(input_shape: Sequence[int], channels: Sequence[int], kernel: int, stride: int, pooling: str,
          norm: str = "none", activation: str = "linear", cond_dim: int = 0) -> tuple[list[Shape], list[TraceRow]]:
    """The encoder blocks' output shapes and their trace rows; raises with the trace on failure."""
    if len(input_shape) != 3 or not all(_positive_int(v) for v in input_shape):
        raise AekitError(f"the conv network reads images (C, H, W); got shape {tuple(input_shape)}",
                         "use --net mlp for vectors or --net rnn for sequences")
    _check_choice("pooling (model.pooling)", pooling, POOLINGS)
    _check_choice("normalisation (model.norm)", norm, NORMS)
    _check_choice("activation", activation, ACTIVATIONS)
    c, h, w = map(int, input_shape)
    rows: list[TraceRow] = [("input", (c, h, w), 0)]
    if cond_dim:
        c += cond_dim
        rows.append((f"+ {cond_dim} label maps", (c, h, w), 0))
    if not channels:
        raise _fail("model.channels is empty: the conv network needs at least one block", rows,
                    "give one output channel count per block, e.g. --set model.channels=[32,64]")
    for name, value in (("kernel", kernel), ("stride", stride), *((f"channels[{i}]", v) for i, v in enumerate(channels))):
        if not _positive_int(value):
            raise _fail(f"model.{name} must be a positive integer, not {value!r}", rows, None)
    pad, shapes = kernel // 2, []
    for i, c_out in enumerate(channels, 1):
        desc = f"block {i}: conv {kernel}x{kernel} " + (f"/{stride} pad {pad}" if pooling == "none" else
                                                         f"pad {pad}, {pooling}pool /{stride}")
        desc += (f", {norm}norm" if norm != "none" else "") + (f", {activation}" if activation != "linear" else "")
        params = _block_params(c, c_out, kernel, norm)
        if stride > 1 and min(h, w) < stride:
            rows.append((desc, f"{c_out}x{h}/{stride}x{w}/{stride} < 1x1", params))
            raise _fail(f"the conv encoder's block {i} gets a {h}x{w} feature map, smaller than its stride {stride}: "
                        f"it would shrink below 1x1 ({input_shape[1]}x{input_shape[2]} images allow {i - 1} "
                        f"block{'s' if i != 2 else ''} at stride {stride})", rows)
        if pooling == "none":
            h, w = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        else:  # a stride-1 convolution (one pixel larger for even kernels), then ceil-mode pooling
            h, w = -(-(h + 2 * pad - kernel + 1) // stride), -(-(w + 2 * pad - kernel + 1) // stride)
        c = c_out
        shapes.append((c, h, w))
        rows.append((desc, (c, h, w), params))
    return shapes, rows


def conv_plan(input_shape: Sequence[int], channels: Sequence[int], kernel: int, stride: int,
              pooling: str = "none") -> list[Shape]:
    """The (C, H, W) shape after each encoder block (pure arithmetic; see :class:`ConvEncoder`).

    Raises :class:`AekitError`, with the trace up to the failing block, when a block would shrink
    its feature map below 1×1 (an input side smaller than a stride > 1), for an empty ``channels``,
    a kernel, stride or channel count below 1, or an unknown pooling.
    """
    return _plan(input_shape, channels, kernel, stride, pooling)[0]


def _linear_rows(dims: Sequence[int], acts: Sequence[str]) -> list[TraceRow]:
    return [(f"linear -> {dims[i + 1]}" + (f", {a}" if a != "linear" else ""), (dims[i + 1],),
             (dims[i] + 1) * dims[i + 1]) for i, a in enumerate(acts)]


# --- the networks ---------------------------------------------------------------------------------

class _Activation(nn.Module):
    """One of ``ACTIVATIONS`` (not "linear") as a module."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.fn = name, ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


class _Fit(nn.Module):
    """Crops (or zero-pads) the bottom/right edges to exactly (h, w); the sizes are static."""

    def __init__(self, size: tuple[int, int], natural: tuple[int, int]):
        super().__init__()
        self.pad = (0, size[1] - natural[1], 0, size[0] - natural[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


def _finish(layers: list[nn.Module], norm: str, activation: str, c: int) -> nn.Sequential:
    norm_layer = _norm_layer(norm, c)
    layers += [norm_layer] if norm_layer is not None else []
    layers += [_Activation(activation)] if activation != "linear" else []
    return nn.Sequential(*layers)


def _init(module: nn.Module, scheme: str) -> None:
    """``init_linear``'s scheme on every convolution and linear layer (norms keep ones and zeros)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init_linear(m, scheme)


class ConvEncoder(nn.Module):
    """Images (B, C, H, W) (+ cond (B, cond_dim)) → (B, out_dim).

    Each block: ``Conv2d(kernel, stride, padding=kernel//2)`` with ``pooling="none"``, or a stride-1
    ``Conv2d`` then ``MaxPool2d``/``AvgPool2d(stride, stride, ceil_mode=True)`` with ``"max"``/``"avg"``;
    then ``norm`` (none | batch | group: GroupNorm with the largest of 8, 4, 2, 1 groups dividing the
    channels | layer: GroupNorm(1, c)) and ``activation``. Then flatten, Linear layers through ``hidden``
    (``activation`` after each) and a Linear to ``out_dim`` with ``code_activation``.
    ``cond`` is read as ``cond_dim`` constant extra input channels (label maps).
    """

    def __init__(self, input_shape: Sequence[int], out_dim: int, channels: Sequence[int], kernel: int = 3,
                 stride: int = 2, pooling: str = "none", norm: str = "none", activation: str = "relu",
                 hidden: Sequence[int] = (), code_activation: str = "linear", cond_dim: int = 0, init: str = "glorot"):
        super().__init__()
        _check_choice("activation", code_activation, ACTIVATIONS)
        shapes, rows = _plan(input_shape, channels, kernel, stride, pooling, norm, activation, cond_dim)
        self.input_shape, self.cond_dim, self.shapes = tuple(map(int, input_shape)), cond_dim, shapes
        c_in, pad = self.input_shape[0] + cond_dim, kernel // 2
        blocks = []
        for c_out in channels:
            if pooling == "none":
                layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=pad)]
            else:
                pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
                layers = [nn.Conv2d(c_in, c_out, kernel, padding=pad), pool(stride, stride, ceil_mode=True)]
            blocks.append(_finish(layers, norm, activation, c_out))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        dims = [math.prod(shapes[-1]), *hidden, out_dim]
        acts = [activation] * len(hidden) + [code_activation]
        self.head = MLP(dims, acts, init=init)
        self.trace: list[TraceRow] = rows + [("flatten", (dims[0],), 0)] + _linear_rows(dims, acts)
        _init(self.blocks, init)

    @property
    def first_layer_weight(self) -> torch.Tensor:
        """The first convolution's weight (channels[0], C (+cond_dim), kernel, kernel)."""
        return self.blocks[0][0].weight

    def _input(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)  # a no-op on images; flat inputs are accepted too
        if (cond is None) != (self.cond_dim == 0):
            raise ValueError(f"this encoder takes cond_dim={self.cond_dim} condition inputs; "
                             f"got {'none' if cond is None else tuple(cond.shape)}")
        if cond is None:
            return x
        maps = cond.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return torch.cat([x, maps], 1)

    def feature_maps(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The first block's output (B, channels[0], H1, W1), e.g. for a report figure."""
        return self.blocks[0](self._input(x, cond))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self._input(x, cond)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


class ConvDecoder(nn.Module):
    """Codes (B, in_dim) (+ cond (B, cond_dim)) → likelihood parameters (B, C, H, W), mirroring
    :class:`ConvEncoder` with the same ``channels``, ``kernel``, ``stride``, ``pooling`` and ``hidden``.

    ``cond`` is concatenated to z before the first Linear layer; Linear layers through the reversed
    ``hidden`` reach the last encoder stage's C·H·W (``activation`` after each), and one block per
    encoder block, in reverse, restores exactly the previous stage's size:

    - ``upsample="transpose"``: ``ConvTranspose2d(kernel, stride, padding=kernel//2)`` with the
      ``output_padding`` (0 ≤ op < stride) that makes the size exact. For the shapes
      :func:`conv_plan` gives this always exists (for odd and even kernels, strided convolution or
      pooling); were it to fall outside that range, the block would use ``output_padding=0`` and
      crop (or zero-pad) its bottom/right edge to the size instead.
    - ``"nearest"`` / ``"bilinear"``: ``nn.Upsample(size=the exact size)`` then a stride-1
      ``Conv2d(padding=kernel//2)``; an even kernel makes that one pixel larger, which is cropped
      from the bottom/right edge (odd kernels need no crop).

    Every block but the last is followed by ``norm`` and ``activation``; the last emits the input's
    channel count with no activation (logits or means), to which the buffer ``output_offset`` (C, H, W)
    is added: zero as built, the likelihood's parameter at the training mean per pixel once
    :func:`aekit.models.output_bias.init_output_bias` sets it (a transposed convolution has one bias
    per channel, so without it the decoder starts from a flat image). It is saved with the weights and
    not trained; files saved before it existed load with a zero offset, their behaviour.
    """

    def __init__(self, output_shape: Sequence[int], in_dim: int, channels: Sequence[int], kernel: int = 3,
                 stride: int = 2, pooling: str = "none", norm: str = "none", activation: str = "relu",
                 hidden: Sequence[int] = (), upsample: str = "transpose", cond_dim: int = 0, init: str = "glorot"):
        super().__init__()
        _check_choice("upsampling (model.upsample)", upsample, UPSAMPLES)
        shapes = _plan(output_shape, channels, kernel, stride, pooling, norm, activation)[0]
        self.output_shape, self.cond_dim = tuple(map(int, output_shape)), cond_dim
        last = shapes[-1]
        dims = [in_dim + cond_dim, *list(hidden)[::-1], math.prod(last)]
        acts = [activation] * (len(dims) - 1)
        self.head = MLP(dims, acts, init=init)
        self.trace: list[TraceRow] = [("input", (in_dim,), 0)]
        if cond_dim:
            self.trace.append((f"+ {cond_dim} condition inputs", (dims[0],), 0))
        self.trace += _linear_rows(dims, acts) + [("reshape", last, 0)]
        targets = [self.output_shape, *shapes[:-1]][::-1]  # each block's output, last block first
        blocks, c_in, (h_in, w_in), pad = [], last[0], last[1:], kernel // 2
        for i, (c_out, h, w) in enumerate(targets):
            final = i == len(targets) - 1
            if upsample == "transpose":
                natural = [(n - 1) * stride - 2 * pad + kernel for n in (h_in, w_in)]
                op = [t - n if 0 <= t - n < stride else 0 for t, n in zip((h, w), natural)]
                layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=pad,
                                                              output_padding=tuple(op))]
                natural = [n + o for n, o in zip(natural, op)]
                desc = f"convT {kernel}x{kernel} /{stride} pad {pad} out_pad {op[0]},{op[1]}"
            else:
                up = nn.Upsample(size=(h, w), mode=upsample, align_corners=False if upsample == "bilinear" else None)
                layers = [up, nn.Conv2d(c_in, c_out, kernel, padding=pad)]
                natural = [h + 2 * pad - kernel + 1, w + 2 * pad - kernel + 1]
                desc = f"{upsample} up to {h}x{w}, conv {kernel}x{kernel} pad {pad}"
            if tuple(natural) != (h, w):
                layers.append(_Fit((h, w), (natural[0], natural[1])))
                desc += f", fit {natural[0]}x{natural[1]}->{h}x{w}"
            block_norm, block_act = ("none", "linear") if final else (norm, activation)
            blocks.append(_finish(layers, block_norm, block_act, c_out))
            desc += (f", {block_norm}norm" if block_norm != "none" else "") + \
                    (f", {block_act}" if block_act != "linear" else "")
            self.trace.append((f"block {i + 1}: {desc}", (c_out, h, w), _block_params(c_in, c_out, kernel, block_norm)))
            c_in, h_in, w_in = c_out, h, w
        self.blocks = nn.ModuleList(blocks)
        self._last = last
        _init(self.blocks, init)
        self.register_buffer(OFFSET, torch.zeros(self.output_shape))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        state_dict.setdefault(prefix + OFFSET, torch.zeros_like(self.output_offset))  # saved before the offset existed
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None, target: torch.Tensor | None = None) -> torch.Tensor:
        """``target`` is accepted and ignored (the recurrent decoder reads it for teacher forcing)."""
        if (cond is None) != (self.cond_dim == 0):
            raise ValueError(f"this decoder takes cond_dim={self.cond_dim} condition inputs; "
                             f"got {'none' if cond is None else tuple(cond.shape)}")
        if cond is not None:
            z = torch.cat([z, cond.to(z.dtype)], 1)
        h = self.head(z).reshape(z.shape[0], *self._last)
        for block in self.blocks:
            h = block(h)
        return h + self.output_offset


def build(cfg: Any, input_shape: Sequence[int], enc_out: int, enc_cond: int = 0,
          dec_cond: int = 0) -> tuple[ConvEncoder, ConvDecoder]:
    """The ``conv`` network builder: encoder ``x (+ enc_cond label maps) → enc_out`` and decoder
    ``z (cfg.latent_dim) (+ dec_cond) → (B, *input_shape)`` likelihood parameters."""
    common = dict(channels=list(cfg.channels), kernel=cfg.kernel, stride=cfg.stride, pooling=cfg.pooling,
                  norm=cfg.norm, activation=cfg.activation, hidden=list(cfg.hidden or []), init=cfg.init)
    encoder = ConvEncoder(input_shape, enc_out, code_activation=getattr(cfg, "code_activation", "linear"),
                          cond_dim=enc_cond, **common)
    decoder = ConvDecoder(input_shape, cfg.latent_dim, upsample=cfg.upsample, cond_dim=dec_cond, **common)
    return encoder, decoder


__all__ = ["conv_matrix", "conv_plan", "format_trace", "ConvEncoder", "ConvDecoder", "build",
           "POOLINGS", "NORMS", "UPSAMPLES"]
