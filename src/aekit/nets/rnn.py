"""Recurrent sequence autoencoder networks: sequence (B, T, C) → code vector → sequence.

Padding: variable-length sequences come padded at the END with NaN (every channel NaN at a
padded step). An example's length is the number of its leading steps whose channels are all
finite (:func:`lengths`); the encoder replaces non-finite values by 0 before the network, and
packs the batch (``pack_padded_sequence``) when some example is shorter than T so that padding
never enters the recurrent state, in either direction.

Host syncs: the encoder copies the batch's lengths to the host once per batch (to choose the
packed or the unpacked path, and because packing needs them there); nothing else syncs. Under
``torch.func`` transforms (``vmap(jacrev(encoder))``, the exact contractive penalty) that copy is
impossible, so the encoder takes a sync-free masked path instead, with the same result.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..errors import AekitError, unknown_choice
from .mlp import ACTIVATIONS, init_linear

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
FEEDBACK = {"identity": lambda y: y, "sigmoid": torch.sigmoid, "softmax": lambda y: torch.softmax(y, dim=-1)}


def sequence_mask(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C) → bool (B, T): True at the steps before an example's first non-finite step."""
    return (~torch.isfinite(x).all(-1)).long().cumsum(1) == 0  # a cumulative sum: ONNX has no cumprod


def lengths(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C) → int64 (B,): the number of leading steps whose channels are all finite."""
    return sequence_mask(x).sum(1)


def init_rnn(rnn: nn.RNNBase, scheme: str) -> None:
    """``glorot``: Glorot-uniform input weights (the whole gate-stacked matrix, as Keras does),
    an orthogonal block per gate for the recurrent weights, zero biases, and for an LSTM a forget
    gate bias of 1 (Jozefowicz et al. 2015). ``torch``: PyTorch's default (uniform ±1/√H)."""
    if scheme == "torch":
        rnn.reset_parameters()
        return
    if scheme != "glorot":
        raise unknown_choice("init scheme", scheme, ("glorot", "torch"))
    h = rnn.hidden_size
    for name, p in rnn.named_parameters():
        with torch.no_grad():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                for block in p.split(h, 0):
                    nn.init.orthogonal_(block)
            elif name.startswith("bias"):
                nn.init.zeros_(p)
                if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                    p[h:2 * h] = 1.0  # gate order i, f, g, o; b_ih + b_hh gives the forget bias 1


def _check(cell: str, hidden: list[int]) -> None:
    if cell not in CELLS:
        raise unknown_choice("recurrent cell (model.cell)", cell, CELLS)
    if not hidden or any(int(h) < 1 for h in hidden):
        raise AekitError(f"the rnn network needs one positive width per recurrent layer; model.hidden is {list(hidden)}",
                         "give the layers' sizes, e.g. --set model.hidden=[128]")


def _as_sequences(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Accept (B, T, C) or its flattening (B, T·C)."""
    return x.reshape(x.shape[0], *shape) if x.dim() == 2 else x


def _gather_steps(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, t] = x[b, idx[b, t]] for x (B, T, F) and idx (B, T)."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def reverse_index(lens: torch.Tensor, T: int) -> torch.Tensor:
    """(B, T) index that reverses each example within its own length and leaves padding in place:
    idx[b, t] = L_b − 1 − t for t < L_b, else t. It is its own inverse."""
    t = torch.arange(T, device=lens.device).unsqueeze(0)
    lens = lens.to(torch.long).unsqueeze(1)
    return torch.where(t < lens, lens - 1 - t, t)


def _final_hidden(h: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """A single-layer module's h_n (D, B, H) (LSTM: its h) → (B, D·H), forward direction first."""
    h = h[0] if isinstance(h, tuple) else h
    return h.transpose(0, 1).reshape(h.shape[1], -1)


def _no_host_reads(x: torch.Tensor) -> bool:
    """Whether reading a value of x on the host is impossible or would freeze it into a graph: x is
    wrapped by a torch.func transform (vmap, grad, jacrev), or a graph is being captured (ONNX
    export, tracing, torch.export)."""
    check = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)
    if check is not None and check(x):
        return True
    exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or (exporting is not None and exporting()))


class RNNEncoder(nn.Module):
    """Stacked recurrent layers (one ``nn.GRU``/``nn.LSTM`` per entry of ``hidden``, so widths may
    differ), then Linear(final hidden state of the top layer, both directions) → ``out_dim`` and
    ``code_activation``. ``cond`` (B, cond_dim) is appended to every step's input.

    ``forward(x, cond=None)``: x (B, T, C) (or flat (B, T·C)), NaN-padded at the end → (B, out_dim).
    """

    def __init__(self, input_shape: tuple[int, int], out_dim: int, hidden: list[int], cell: str = "gru",
                 bidirectional: bool = False, code_activation: str = "linear", cond_dim: int = 0, init: str = "glorot"):
        super().__init__()
        _check(cell, hidden)
        if code_activation not in ACTIVATIONS:
            raise unknown_choice("activation", code_activation, ACTIVATIONS)
        self.input_shape = (int(input_shape[0]), int(input_shape[1]))
        self.cond_dim, self.bidirectional, self.cell = cond_dim, bool(bidirectional), cell
        d = 2 if bidirectional else 1
        sizes = [self.input_shape[1] + cond_dim, *(d * int(h) for h in hidden)]
        self.layers = nn.ModuleList(CELLS[cell](sizes[i], int(h), batch_first=True, bidirectional=self.bidirectional)
                                    for i, h in enumerate(hidden))
        self.head = nn.Linear(sizes[-1], out_dim)
        for rnn in self.layers:
            init_rnn(rnn, init)
        init_linear(self.head, init)
        self._act = ACTIVATIONS[code_activation]

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = _as_sequences(x, self.input_shape)
        lens = lengths(x)
        inp = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
        if cond is not None:
            inp = torch.cat([inp, cond.to(inp.dtype).unsqueeze(1).expand(-1, inp.shape[1], -1)], -1)
        if _no_host_reads(inp):
            h = self._masked(inp, lens)
        else:
            lens_cpu = lens.cpu()  # the one host sync per batch
            if bool((lens_cpu < inp.shape[1]).any()):
                h = self._packed(inp, lens_cpu)
            else:
                h = self._dense(inp)
        code = self.head(h)
        return code if self._act is None else self._act(code)

    def _dense(self, inp: torch.Tensor) -> torch.Tensor:
        """No example is padded: plain (cuDNN-fusable) calls."""
        for rnn in self.layers:
            inp, h = rnn(inp)
        return _final_hidden(h)

    def _packed(self, inp: torch.Tensor, lens_cpu: torch.Tensor) -> torch.Tensor:
        if int(lens_cpu.min()) < 1:
            raise AekitError("a sequence in this batch has no steps (its first step already has a NaN)",
                             "drop empty sequences from the data; NaN marks padding at the end of a sequence")
        seq = pack_padded_sequence(inp, lens_cpu, batch_first=True, enforce_sorted=False)
        for rnn in self.layers:
            seq, h = rnn(seq)
        return _final_hidden(h)  # h_n comes back in the batch's own order

    def _masked(self, inp: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Sync-free path for torch.func transforms, equal to the packed path.

        Forward direction: run over all T steps; outputs before step L never see the padding, and
        the final state is the output at step L−1. Backward direction: run the layer again on each
        example rolled right so that its steps end at T−1 (padding first, seen last by the backward
        pass), and roll its outputs back. The initial state is derived from the input so that GRU
        works under vmap(jacrev(...)). cuDNN is off here: its RNN kernels have no double backward,
        which the contractive penalty's gradient needs.
        """
        B, T, _ = inp.shape
        lens = lens.clamp(min=1)
        t = torch.arange(T, device=inp.device).unsqueeze(0)
        to_end, back = (t + lens.unsqueeze(1)) % T, (t - lens.unsqueeze(1)) % T
        last = (lens - 1).view(B, 1)
        for rnn in self.layers:
            H, d = rnn.hidden_size, 2 if self.bidirectional else 1
            h0 = torch.zeros_like(inp[:, 0, :1]).expand(B, H).unsqueeze(0).expand(d, B, H).contiguous()
            h0 = (h0, h0) if isinstance(rnn, nn.LSTM) else h0
            with torch.backends.cudnn.flags(enabled=False):
                out, _ = rnn(inp, h0)
                if self.bidirectional:
                    out_end, _ = rnn(_gather_steps(inp, to_end), h0)
                    out = torch.cat([out[..., :H], _gather_steps(out_end[..., H:], back)], -1)
            inp = out
        fwd = _gather_steps(inp[..., :H], last).squeeze(1)  # H: the top layer's width
        return torch.cat([fwd, inp[:, 0, H:]], -1) if self.bidirectional else fwd


class RNNDecoder(nn.Module):
    """Code (+ cond) → the sequence's likelihood parameters (B, T, C) (a per-step Linear, no
    activation, on the top recurrent layer). Every layer's initial state is tanh(Linear(z ⊕ cond))
    (an LSTM's cell state too).

    - ``teacher_forcing == 0``: non-autoregressive; every step reads z ⊕ cond (one fused call).
    - ``teacher_forcing > 0``: autoregressive; step t reads [previous value ⊕ z ⊕ cond] with zeros
      before the first step. In training mode with a ``target``, each example's step reads the true
      previous value with probability ``teacher_forcing``, else ``feedback`` of its own previous
      output (identity for Gaussian means, sigmoid for Bernoulli logits, softmax over channels for
      categorical logits; the gradient flows through it). In eval mode or without a target it
      always reads its own feedback. NaN in the target count as 0.
    - ``reverse_target``: the decoder emits the sequence last step first (Srivastava et al. 2015);
      the output is flipped back, so out[:, t] always aligns with x[:, t]. A padded example is
      flipped within its own length, taken from ``lengths`` when given, else from ``target``;
      with neither, the decoder cannot know them and flips over the full T.

    ``forward(z, cond=None, target=None, lengths=None)`` → (B, T, C).
    """

    def __init__(self, output_shape: tuple[int, int], in_dim: int, hidden: list[int], cell: str = "gru",
                 cond_dim: int = 0, teacher_forcing: float = 0.0, reverse_target: bool = False,
                 feedback: str = "identity", init: str = "glorot"):
        super().__init__()
        _check(cell, hidden)
        if not 0.0 <= float(teacher_forcing) <= 1.0:
            raise AekitError(f"model.teacher_forcing is a probability; got {teacher_forcing}", "give a value in [0, 1]")
        if feedback not in FEEDBACK:
            raise unknown_choice("decoder feedback", feedback, FEEDBACK)
        self.output_shape = (int(output_shape[0]), int(output_shape[1]))
        self.cond_dim, self.cell = cond_dim, cell
        self.teacher_forcing, self.reverse_target, self.feedback = float(teacher_forcing), bool(reverse_target), feedback
        self.autoregressive = self.teacher_forcing > 0
        ctx, C = in_dim + cond_dim, self.output_shape[1]
        sizes = [ctx + (C if self.autoregressive else 0), *(int(h) for h in hidden)]
        self.layers = nn.ModuleList(CELLS[cell](sizes[i], sizes[i + 1], batch_first=True) for i in range(len(hidden)))
        k = 2 if cell == "lstm" else 1
        self.init_state = nn.ModuleList(nn.Linear(ctx, k * int(h)) for h in hidden)
        self.out = nn.Linear(sizes[-1], C)
        for rnn in self.layers:
            init_rnn(rnn, init)
        for lin in [*self.init_state, self.out]:
            init_linear(lin, init)
        self._feedback = FEEDBACK[feedback]

    def _states(self, ctx: torch.Tensor) -> list[Any]:
        states = []
        for lin in self.init_state:
            s = torch.tanh(lin(ctx)).unsqueeze(0)  # (1, B, k·H)
            states.append(tuple(c.contiguous() for c in s.chunk(2, -1)) if self.cell == "lstm" else s)
        return states

    def _run(self, inp: torch.Tensor, states: list[Any]) -> torch.Tensor:
        for i, rnn in enumerate(self.layers):
            inp, states[i] = rnn(inp, states[i])
        return self.out(inp)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None, target: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        T, C = self.output_shape
        ctx = z if cond is None else torch.cat([z, cond.to(z.dtype)], -1)
        B = ctx.shape[0]
        states = self._states(ctx)
        if target is not None:
            target = _as_sequences(target, self.output_shape)
        flip = None
        if self.reverse_target:
            if lengths is None:
                lengths = sequence_mask(target).sum(1) if target is not None else torch.full((B,), T, device=z.device)
            flip = reverse_index(torch.as_tensor(lengths, device=z.device), T)
        forcing = self.autoregressive and self.training and target is not None
        if forcing:
            target = torch.where(torch.isfinite(target), target, torch.zeros_like(target)).to(ctx.dtype)
            if flip is not None:
                target = _gather_steps(target, flip)
        steps = ctx.unsqueeze(1).expand(B, T, ctx.shape[-1])
        if not self.autoregressive:
            out = self._run(steps, states)
        elif forcing and self.teacher_forcing >= 1.0:  # every step reads the truth: one fused call
            prev = torch.cat([torch.zeros_like(target[:, :1]), target[:, :-1]], 1)
            out = self._run(torch.cat([prev, steps], -1), states)
        else:
            force = torch.rand(B, T, 1, device=ctx.device) < self.teacher_forcing if forcing else None
            prev, outs = ctx.new_zeros(B, C), []
            for t in range(T):
                y = self._run(torch.cat([prev, ctx], -1).unsqueeze(1), states).squeeze(1)
                outs.append(y)
                prev = self._feedback(y)
                if force is not None:
                    prev = torch.where(force[:, t], target[:, t], prev)
            out = torch.stack(outs, 1)
        return out if flip is None else _gather_steps(out, flip)


def build(cfg: Any, input_shape: tuple[int, ...], enc_out: int, enc_cond: int = 0,
          dec_cond: int = 0) -> tuple[RNNEncoder, RNNDecoder]:
    """The ``rnn`` network: an :class:`RNNEncoder` with ``cfg.hidden`` and an :class:`RNNDecoder`
    with the widths reversed, reading ``cfg.latent_dim`` (+ ``dec_cond``)."""
    if len(input_shape) != 2:
        raise AekitError(f"the rnn network reads sequences (T, C); these examples have shape {tuple(input_shape)}",
                         "use --net mlp or conv, or load the data as sequences (--set data.kind=sequences)")
    hidden = list(cfg.hidden or [])
    _check(cfg.cell, hidden)
    feedback = {"bernoulli": "sigmoid", "categorical": "softmax"}.get(getattr(cfg, "likelihood", ""), "identity")
    encoder = RNNEncoder(input_shape, enc_out, hidden, cfg.cell, cfg.bidirectional,
                         getattr(cfg, "code_activation", "linear"), enc_cond, cfg.init)
    decoder = RNNDecoder(input_shape, cfg.latent_dim, hidden[::-1], cfg.cell, dec_cond, cfg.teacher_forcing,
                         cfg.reverse_target, feedback, cfg.init)
    return encoder, decoder


__all__ = ["RNNEncoder", "RNNDecoder", "build", "sequence_mask", "lengths", "reverse_index", "init_rnn", "CELLS"]
