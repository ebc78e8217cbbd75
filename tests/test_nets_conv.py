"""The convolutional networks: conv_matrix against the lecture's numbers and torch, shapes for every
image size and option, the trace and its errors, conditioning, gradients, and a short MNIST fit."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aekit.errors import AekitError
from aekit.nets.conv import ConvDecoder, ConvEncoder, build, conv_matrix, conv_plan, format_trace
from aekit.nets.mlp import n_params

X3 = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=torch.float64)
K2 = torch.tensor([[2, 1], [4, 3]], dtype=torch.float64)
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 45, 37)]


def _conv(x, k, stride=1):
    return F.conv2d(x[None, None], k[None, None], stride=stride)[0, 0]


def _conv_t(y, k, stride=1):
    return F.conv_transpose2d(y[None, None], k[None, None], stride=stride)[0, 0]


# --- conv_matrix ----------------------------------------------------------------------------------

def test_conv_matrix_lecture_numbers():
    c = conv_matrix([[2, 1], [4, 3]], (3, 3))
    assert c.shape == (4, 9) and c.dtype == torch.float64
    out = (c @ X3.flatten()).reshape(2, 2)
    assert torch.equal(out, torch.tensor([[35.0, 45], [65, 75]]))
    assert torch.equal(out, _conv(X3, K2))
    y = torch.tensor([[1.0, 2], [3, 4]], dtype=torch.float64)
    back = (c.T @ y.flatten()).reshape(3, 3)
    assert torch.equal(back, torch.tensor([[2.0, 5, 2], [10, 22, 10], [12, 25, 12]]))
    assert torch.equal(back, _conv_t(y, K2))


def test_conv_matrix_stride_2():
    x = torch.arange(1, 17, dtype=torch.float64).reshape(4, 4)
    k = torch.tensor([[1.0, 2], [3, 4]], dtype=torch.float64)
    c = conv_matrix(k, (4, 4), stride=2)
    assert c.shape == (4, 16)
    out = (c @ x.flatten()).reshape(2, 2)
    assert torch.equal(out, torch.tensor([[44.0, 64], [124, 144]]))
    assert torch.equal(out, _conv(x, k, 2))
    y = torch.tensor([[1.0, -1], [2, 0.5]], dtype=torch.float64)
    assert torch.allclose((c.T @ y.flatten()).reshape(4, 4), _conv_t(y, k, 2))


def test_conv_matrix_random_non_square():
    g = torch.Generator().manual_seed(0)
    x, k = torch.randn(5, 7, generator=g, dtype=torch.float64), torch.randn(3, 2, generator=g, dtype=torch.float64)
    c = conv_matrix(k, (5, 7), stride=(2, 1))
    ref = _conv(x, k, (2, 1))
    assert c.shape == (ref.numel(), 35) and ref.shape == (2, 6)
    assert torch.allclose((c @ x.flatten()).reshape(ref.shape), ref)
    y = torch.randn(*ref.shape, generator=g, dtype=torch.float64)
    assert torch.allclose((c.T @ y.flatten()).reshape(5, 7), _conv_t(y, k, (2, 1)))
    assert conv_matrix(k.float(), (5, 7)).dtype == torch.float32


@pytest.mark.parametrize("kernel, shape, stride, words", [
    ([[1, 2, 3]], (3, 2), 1, "does not fit"),
    ([[1, 2]], (3, 3), 0, "stride"),
    ([[1, 2]], (3, 3), (1, 2, 3), "stride"),
    ([1, 2], (3, 3), 1, "2-D"),
])
def test_conv_matrix_errors(kernel, shape, stride, words):
    with pytest.raises(AekitError, match=words):
        conv_matrix(kernel, shape, stride)


# --- shapes ---------------------------------------------------------------------------------------

def test_conv_plan_arithmetic():
    assert conv_plan((1, 28, 28), [32, 64], 3, 2) == [(32, 14, 14), (64, 7, 7)]
    assert conv_plan((1, 28, 28), [32, 64], 3, 2, "max") == [(32, 14, 14), (64, 7, 7)]
    assert conv_plan((1, 45, 37), [8, 8, 8], 3, 2) == [(8, 23, 19), (8, 12, 10), (8, 6, 5)]
    assert conv_plan((3, 10, 10), [4], 5, 1) == [(4, 10, 10)]


def _pair(shape, channels=(4, 8), kernel=3, stride=2, pooling="none", norm="none", upsample="transpose",
          hidden=(), cond=0, latent=6):
    enc = ConvEncoder(shape, latent, list(channels), kernel, stride, pooling, norm, "relu", list(hidden), cond_dim=cond)
    dec = ConvDecoder(shape, latent, list(channels), kernel, stride, pooling, norm, "relu", list(hidden),
                      upsample=upsample, cond_dim=cond)
    return enc, dec


def _check_round_trip(enc, dec, shape):
    x = torch.rand(2, *shape)
    h = x
    for block, planned in zip(enc.blocks, enc.shapes):  # the plan is what the layers do
        h = block(h)
        assert tuple(h.shape[1:]) == planned
    z = enc(x)
    assert z.shape == (2, 6)
    out, trace_shapes = dec.head(z).reshape(2, *enc.shapes[-1]), [r[1] for r in dec.trace if r[0].startswith("block")]
    for block, planned in zip(dec.blocks, trace_shapes):
        out = block(out)
        assert tuple(out.shape[1:]) == planned
    assert dec(z).shape == x.shape
    assert sum(r[2] for r in enc.trace) == n_params(enc) and sum(r[2] for r in dec.trace) == n_params(dec)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_round_trip_every_upsample_and_pooling(shape):
    with torch.no_grad():
        for upsample, pooling, (kernel, stride) in itertools.product(
                ("transpose", "nearest", "bilinear"), ("none", "max", "avg"), ((3, 2), (4, 2), (3, 3), (5, 1))):
            _check_round_trip(*_pair(shape, kernel=kernel, stride=stride, pooling=pooling, upsample=upsample), shape)


@pytest.mark.parametrize("norm", ["none", "batch", "group", "layer"])
def test_round_trip_every_norm(norm):
    with torch.no_grad():
        for shape in SHAPES:
            _check_round_trip(*_pair(shape, channels=(6, 12, 12), norm=norm, hidden=[32]), shape)


def test_group_norm_groups():
    enc, _ = _pair((1, 16, 16), channels=(12, 6, 3), norm="group")
    assert [b[1].num_groups for b in enc.blocks] == [4, 2, 1]


def test_channels_last_matches():
    torch.manual_seed(0)
    enc, dec = _pair((3, 32, 32), norm="batch", upsample="bilinear", pooling="max")
    enc.eval(), dec.eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        ref = dec(enc(x))
        enc, dec = enc.to(memory_format=torch.channels_last), dec.to(memory_format=torch.channels_last)
        out = dec(enc(x.contiguous(memory_format=torch.channels_last)))
    assert torch.allclose(ref, out, atol=1e-5)


# --- trace and errors -----------------------------------------------------------------------------

def test_impossible_config_error_has_trace():
    with pytest.raises(AekitError) as info:
        ConvEncoder((1, 8, 8), 4, [8, 16, 32, 64, 128], 3, 2)
    msg = str(info.value)
    assert "block 4" in msg and "below 1x1" in msg and "allow 3 blocks" in msg
    for row in ("input", "1x8x8", "8x4x4", "16x2x2", "32x1x1", "total"):
        assert row in msg
    assert "block 5" not in msg
    assert "model.channels" in info.value.hint and "stride" in info.value.hint
    with pytest.raises(AekitError, match="block 4"):
        ConvDecoder((1, 8, 8), 4, [8, 16, 32, 64, 128], 3, 2)


@pytest.mark.parametrize("change, words", [
    (dict(channels=[]), "channels is empty"),
    (dict(kernel=0), "kernel"),
    (dict(stride=0), "stride"),
    (dict(channels=[4, 0]), "channels"),
    (dict(norm="batchnorm"), "unknown normalisation"),
    (dict(pooling="mean"), "unknown pooling"),
    (dict(activation="rellu"), "unknown activation"),
    (dict(init="he"), "unknown init scheme"),
])
def test_bad_options(change, words):
    args = dict(channels=[4, 8], kernel=3, stride=2, pooling="none", norm="none", activation="relu", hidden=[])
    args.update(change)
    with pytest.raises(AekitError, match=words):
        ConvEncoder((1, 16, 16), 4, **args)


def test_bad_upsample_and_input_rank():
    with pytest.raises(AekitError, match="unknown upsampling"):
        ConvDecoder((1, 16, 16), 4, [4], upsample="deconv")
    with pytest.raises(AekitError, match=r"\(C, H, W\)"):
        ConvEncoder((16, 16), 4, [4])


def test_format_trace_aligned():
    enc, _ = _pair((1, 28, 28), hidden=[16])
    lines = format_trace(enc.trace).splitlines()
    assert len(lines) == len(enc.trace) + 2
    col = lines[0].index("output")
    assert all(line[col - 2:col] == "  " for line in lines)
    assert lines[-1].split()[-1] == f"{n_params(enc):,}"


# --- conditioning, init, gradients, build ---------------------------------------------------------

def test_cond_channels_change_output():
    torch.manual_seed(0)
    enc, dec = _pair((1, 28, 28), cond=10)
    assert enc.first_layer_weight.shape == (4, 11, 3, 3)
    assert enc.feature_maps(torch.rand(2, 1, 28, 28), torch.eye(10)[:2]).shape == (2, 4, 14, 14)
    x, z = torch.rand(1, 1, 28, 28).expand(2, -1, -1, -1), torch.randn(1, 6).expand(2, -1)
    cond = torch.eye(10)[[3, 7]]
    h, out = enc(x, cond), dec(z, cond, target=x)
    assert not torch.allclose(h[0], h[1]) and not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError):
        enc(x)


def test_init_schemes():
    enc, dec = _pair((1, 16, 16), hidden=[8])  # glorot is the default
    layers = [m for m in [*enc.modules(), *dec.modules()]
              if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))]
    assert len(layers) == 8 and all(torch.all(m.bias == 0) for m in layers)
    torch_enc = ConvEncoder((1, 16, 16), 4, [4], init="torch")
    assert torch.any(torch_enc.blocks[0][0].bias != 0)


@pytest.mark.parametrize("norm", ["none", "batch", "group"])
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    enc, dec = _pair((3, 20, 18), norm=norm, hidden=[16], cond=3, pooling="avg")
    x, cond = torch.rand(4, 3, 20, 18), torch.eye(3)[[0, 1, 2, 0]]
    ((dec(enc(x, cond), cond) - x) ** 2).mean().backward()
    for name, p in [*enc.named_parameters(), *dec.named_parameters()]:
        assert p.grad is not None and torch.any(p.grad != 0), name


def test_build_from_config():
    cfg = SimpleNamespace(channels=[8, 16], kernel=3, stride=2, pooling="none", norm="batch", upsample="nearest",
                          activation="relu", hidden=[], latent_dim=5, init="glorot")
    enc, dec = build(cfg, (1, 28, 28), enc_out=10, enc_cond=2, dec_cond=2)
    x, c = torch.rand(3, 1, 28, 28), torch.rand(3, 2)
    assert enc(x, c).shape == (3, 10)
    assert dec(torch.randn(3, 5), c).shape == (3, 1, 28, 28)
    cfg.code_activation, cfg.hidden = "sigmoid", None
    enc, _ = build(cfg, (1, 28, 28), enc_out=5)
    h = enc(x)
    assert torch.all((h > 0) & (h < 1))


# --- real data ------------------------------------------------------------------------------------

def test_learns_mnist(shared_data):
    from aekit.data import load_raw

    x = torch.from_numpy(np.ascontiguousarray(load_raw("mnist", shared_data).x_train[:2000]))
    assert x.shape == (2000, 1, 28, 28)
    torch.manual_seed(0)
    enc, dec = _pair((1, 28, 28), channels=(32, 64), norm="batch", latent=16)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        xb = x[torch.randint(0, len(x), (64,), generator=g)]
        loss = F.binary_cross_entropy_with_logits(dec(enc(xb)), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    mean_image = x.mean(0, keepdim=True).clamp(1e-4, 1 - 1e-4).expand_as(x)
    baseline = F.binary_cross_entropy(mean_image, x).item()  # ~0.26: what a code-blind decoder reaches
    final = np.mean(losses[-10:])
    assert final < 0.6 * losses[0] and final < 0.8 * baseline, (losses[0], final, baseline)


def test_numpy_integer_sizes():
    enc = ConvEncoder(tuple(np.array([1, 12, 10])), 3, [np.int64(4)], np.int64(3), np.int64(2))
    assert enc(torch.rand(2, 1, 12, 10)).shape == (2, 3)


def test_transpose_needs_no_crop():
    """For every plan, some output_padding in [0, stride) makes a transposed convolution exact."""
    for h, kernel, stride, pooling in itertools.product(range(1, 24), range(1, 6), range(1, 4), ("none", "max")):
        try:
            dec = ConvDecoder((1, h, h + 3), 2, [1, 1], kernel, stride, pooling)
        except AekitError:
            assert h < stride ** 2  # too small for two blocks
            continue
        assert not any("fit" in row[0] for row in dec.trace), (h, kernel, stride, pooling)
