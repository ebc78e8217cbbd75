"""The layer-by-layer shape trace of a model's networks, with parameter counts (``aekit describe``).

The trace runs one dummy example through the encoder and the decoder with forward hooks on every
leaf module, so it is true to the code of any network (MLP, conv, recurrent) and of any family.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _shape(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return "×".join(str(s) for s in out.shape[1:]) or "scalar"
    if isinstance(out, (tuple, list)) and out:
        return _shape(out[0])  # recurrent layers return (output, state)
    if hasattr(out, "data") and isinstance(out.data, torch.Tensor):  # a PackedSequence
        return "packed ×" + str(out.data.shape[-1])
    return "?"


def trace_module(module: nn.Module, *inputs: Any, **kwargs: Any) -> list[tuple[str, str, int]]:
    """(layer, output shape without the batch axis, parameters) for each leaf module ``module``
    runs on ``inputs``, in the order they ran."""
    rows: list[tuple[str, str, int]] = []
    names = {m: n for n, m in module.named_modules()}
    hooks = []

    def hook(m: nn.Module, _inp: Any, out: Any) -> None:
        params = sum(p.numel() for p in m.parameters(recurse=False))
        rows.append((f"{names.get(m, '?')}: {type(m).__name__}", _shape(out), params))

    for m in module.modules():
        if not list(m.children()):
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(*inputs, **kwargs)
    finally:
        for h in hooks:
            h.remove()
    return rows


def format_rows(title: str, first: str, rows: list[tuple[str, str, int]]) -> str:
    """An aligned table: a heading, the input's shape, then one line per layer."""
    w = max([len(r[0]) for r in rows] + [5])
    ws = max([len(r[1]) for r in rows] + [len(first), 5])
    lines = [title, f"  {'input':<{w}}  {first:<{ws}}"]
    lines += [f"  {name:<{w}}  {shape:<{ws}}  {params:>10,d}" if params else f"  {name:<{w}}  {shape:<{ws}}"
              for name, shape, params in rows]
    return "\n".join(lines)


def describe_model(model: Any) -> str:
    """The encoder's and decoder's shape traces and the parameter counts of a built model."""
    cfg = model.cfg
    x = torch.zeros(2, *model.input_shape, device=model.device)
    x_in = model.m2_input(x) if hasattr(model, "m2_input") else x  # M2 reads its own inputs
    z = torch.zeros(2, cfg.latent_dim, device=model.device)

    def cond(net: nn.Module) -> dict[str, torch.Tensor]:
        k = getattr(net, "cond_dim", 0)
        return {"cond": torch.zeros(2, k, device=model.device)} if k else {}

    was = model.training
    model.eval()
    try:
        enc = format_rows("encoder", "×".join(map(str, x_in.shape[1:])), trace_module(model.encoder, x_in, **cond(model.encoder)))
        dec = format_rows("decoder", str(cfg.latent_dim), trace_module(model.decoder, z, **cond(model.decoder)))
    finally:
        model.train(was)
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    total = sum(p.numel() for p in model.parameters())
    head = f"{model.preset or type(model).__name__}: net {cfg.net}, input {'×'.join(map(str, model.input_shape))}, code {cfg.latent_dim}"
    tail = "parameters: " + ", ".join(f"{k} {v:,d}" for k, v in counts.items() if v) + f"; total {total:,d}"
    return "\n\n".join([head, enc, dec, tail])
