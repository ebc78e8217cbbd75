"""The rnn network: shapes, NaN padding, reversal, teacher forcing, conditioning, gradients, real data."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.nets import rnn as rnn_mod
from aekit.nets.rnn import RNNDecoder, RNNEncoder, build, lengths, reverse_index, sequence_mask

NAN = float("nan")


def cfg(**kw):
    base = dict(hidden=[16], cell="gru", bidirectional=False, teacher_forcing=0.0, reverse_target=False,
                latent_dim=4, init="glorot", likelihood="gaussian")
    base.update(kw)
    return SimpleNamespace(**base)


def padded_batch(T=12, C=3, lens=(12, 7, 3, 12), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lens), T, C, generator=g)
    for b, n in enumerate(lens):
        x[b, n:] = NAN
    return x


def test_mask_and_lengths():
    x = padded_batch(lens=(12, 7, 1))
    x[0, 5, 1] = NAN  # a partly non-finite step ends the example
    assert lengths(x).tolist() == [5, 7, 1]
    m = sequence_mask(x)
    assert m.dtype == torch.bool and m.shape == (3, 12) and m.sum(1).tolist() == [5, 7, 1]
    assert reverse_index(torch.tensor([3, 5]), 5).tolist() == [[2, 1, 0, 3, 4], [4, 3, 2, 1, 0]]


@pytest.mark.parametrize("T,C", [(140, 1), (50, 3)])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes(T, C, cell, bidirectional):
    torch.manual_seed(0)
    enc, dec = build(cfg(hidden=[16, 8], cell=cell, bidirectional=bidirectional), (T, C), enc_out=6)
    assert [m.hidden_size for m in enc.layers] == [16, 8] and [m.hidden_size for m in dec.layers] == [8, 16]
    assert enc.layers[1].input_size == (32 if bidirectional else 16)
    x = torch.randn(2, T, C)
    z = enc(x)
    assert z.shape == (2, 6)
    assert torch.equal(enc(x.reshape(2, -1)), z)  # flat input is read as (T, C)
    assert dec(torch.randn(2, 4)).shape == (2, T, C)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_autoregressive_decoder_shapes(cell):
    torch.manual_seed(0)
    dec = RNNDecoder((9, 2), 4, [8, 5], cell, cond_dim=3, teacher_forcing=0.5)
    z, c, x = torch.randn(2, 4), torch.randn(2, 3), torch.randn(2, 9, 2)
    assert dec.layers[0].input_size == 2 + 4 + 3
    assert dec(z, c, target=x).shape == (2, 9, 2)
    assert dec.eval()(z, c).shape == (2, 9, 2)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_gives_the_code_of_the_unpadded_example(cell, bidirectional):
    torch.manual_seed(0)
    enc = RNNEncoder((12, 3), 5, [6, 4], cell, bidirectional, cond_dim=2)
    x, cond = padded_batch(), torch.randn(4, 2)
    codes = enc(x, cond)  # packed path
    assert torch.isfinite(codes).all()
    for b, n in enumerate(lengths(x).tolist()):
        alone = enc(x[b:b + 1, :n], cond[b:b + 1])  # unpadded fast path
        assert torch.allclose(codes[b], alone[0], atol=1e-6)
    # the padding's content never matters
    x2 = x.clone()
    x2[1, 7:] = NAN
    x2[2, 3:] = float("inf")
    assert torch.allclose(enc(x2, cond), codes, atol=1e-6)


def test_empty_sequence_is_an_error():
    enc = RNNEncoder((5, 1), 2, [4])
    with pytest.raises(AekitError, match="no steps"):
        enc(padded_batch(T=5, C=1, lens=(5, 0)))


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # LSTM on CPU: vmap's slow fallback
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_vmap_jacrev_through_the_encoder(cell, bidirectional):
    """The exact contractive penalty's torch.func path works, padded batches included (the
    encoder's sync-free masked path), and matches per-example autograd on the packed path."""
    from aekit.parts.penalties import contractive_exact
    from torch.func import jacrev, vmap

    torch.manual_seed(0)
    enc = RNNEncoder((12, 3), 5, [6, 4], cell, bidirectional)
    x = padded_batch()

    def one(xi):
        return enc(xi.unsqueeze(0)).squeeze(0)

    jac = vmap(jacrev(one))(x)
    ref = torch.stack([torch.autograd.functional.jacobian(one, xi) for xi in x])
    assert jac.shape == (4, 5, 12, 3) and torch.isfinite(jac).all()
    assert torch.allclose(jac, ref, atol=1e-6)
    assert jac[2, :, 3:].abs().max() == 0  # padding has no influence
    penalty = contractive_exact(enc, x)
    penalty.backward()
    assert all(p.grad is not None for n, p in enc.named_parameters() if n != "head.bias")


def test_reverse_target_aligns_with_the_input():
    """A reversing decoder emits what the same weights emit forwards, last step first; the
    output is flipped back within each example's length (full T when it cannot know them)."""
    torch.manual_seed(0)
    fwd = RNNDecoder((6, 2), 3, [5])
    rev = RNNDecoder((6, 2), 3, [5], reverse_target=True)
    rev.load_state_dict(fwd.state_dict())
    z = torch.randn(3, 3)
    emitted = fwd(z)
    assert torch.allclose(rev(z), emitted.flip(1))
    target = padded_batch(T=6, C=2, lens=(6, 4, 1))
    expect = emitted.clone()
    expect[1, :4] = emitted[1, :4].flip(0)
    expect[0] = emitted[0].flip(0)
    assert torch.allclose(rev(z, target=target), expect)
    assert torch.allclose(rev(z, lengths=torch.tensor([6, 4, 1])), expect)


def test_reverse_target_feeds_the_reversed_truth():
    torch.manual_seed(0)
    fwd = RNNDecoder((6, 2), 3, [5], teacher_forcing=1.0)
    rev = RNNDecoder((6, 2), 3, [5], teacher_forcing=1.0, reverse_target=True)
    rev.load_state_dict(fwd.state_dict())
    z, x = torch.randn(2, 3), torch.randn(2, 6, 2)
    assert torch.allclose(rev(z, target=x), fwd(z, target=x.flip(1)).flip(1))


def test_teacher_forcing_reads_the_target_only_in_training(monkeypatch):
    torch.manual_seed(0)
    dec = RNNDecoder((8, 2), 3, [6], teacher_forcing=0.5)
    z, x = torch.randn(2, 3), torch.randn(2, 8, 2)
    dec.eval()
    free = dec(z)
    assert torch.equal(dec(z, target=x), free) and torch.equal(dec(z, target=-x), free)
    dec.train()
    assert not torch.allclose(dec(z, target=x), free)
    # every step forced (rand → 0): the step loop equals the fused teacher-forced call
    full = RNNDecoder((8, 2), 3, [6], teacher_forcing=1.0)
    full.load_state_dict(dec.state_dict())
    fused = full(z, target=x)
    monkeypatch.setattr(rnn_mod.torch, "rand", lambda *s, **kw: torch.zeros(*s, device=kw.get("device")))
    assert torch.allclose(dec(z, target=x), fused, atol=1e-6)
    assert torch.allclose(fused[:, 0], free[:, 0])  # step 0 reads zeros either way
    # NaN in the target count as 0
    xn = x.clone()
    xn[:, 5:] = NAN
    x0 = x.clone()
    x0[:, 5:] = 0
    assert torch.allclose(full(z, target=xn), full(z, target=x0))


def test_feedback_maps_outputs_to_values():
    torch.manual_seed(0)
    a = RNNDecoder((5, 3), 2, [4], teacher_forcing=0.3).eval()
    b = RNNDecoder((5, 3), 2, [4], teacher_forcing=0.3, feedback="softmax").eval()
    b.load_state_dict(a.state_dict())
    z = torch.randn(2, 2)
    ya, yb = a(z), b(z)
    assert torch.allclose(ya[:, 0], yb[:, 0]) and not torch.allclose(ya[:, 1:], yb[:, 1:])
    assert build(cfg(likelihood="bernoulli"), (5, 3), 4)[1].feedback == "sigmoid"
    assert build(cfg(likelihood="categorical"), (5, 3), 4)[1].feedback == "softmax"
    assert build(cfg(), (5, 3), 4)[1].feedback == "identity"


@pytest.mark.parametrize("teacher_forcing", [0.0, 0.5])
def test_cond_changes_outputs(teacher_forcing):
    torch.manual_seed(0)
    enc, dec = build(cfg(teacher_forcing=teacher_forcing), (7, 2), enc_out=4, enc_cond=3, dec_cond=3)
    x, c = padded_batch(T=7, C=2, lens=(7, 5)), torch.randn(2, 3)
    assert not torch.allclose(enc(x, c), enc(x, c + 1))
    z = torch.randn(2, 4)
    dec.eval()
    assert not torch.allclose(dec(z, c), dec(z, c + 1))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradients_reach_every_parameter(cell):
    torch.manual_seed(0)
    enc, dec = build(cfg(hidden=[6, 4], cell=cell, bidirectional=True, teacher_forcing=0.5, reverse_target=True),
                     (8, 2), enc_out=4, enc_cond=2, dec_cond=2)
    x, c = padded_batch(T=8, C=2, lens=(8, 5, 2)), torch.randn(3, 2)
    out = dec(enc(x, c), c, target=x)
    mask = sequence_mask(x)
    loss = ((out - torch.nan_to_num(x)) ** 2)[mask].mean()
    loss.backward()
    for name, p in [*enc.named_parameters(), *dec.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_glorot_init():
    enc = RNNEncoder((5, 2), 3, [4], "lstm")
    lstm = enc.layers[0]
    for block in lstm.weight_hh_l0.detach().split(4, 0):
        assert torch.allclose(block @ block.T, torch.eye(4), atol=1e-5)
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    assert bias[4:8].eq(1).all() and bias[:4].eq(0).all() and bias[8:].eq(0).all()
    assert enc.head.bias.eq(0).all()


def test_build_errors():
    with pytest.raises(AekitError, match="hidden") as err:
        build(cfg(hidden=[]), (5, 2), 4)
    assert "model.hidden" in err.value.hint
    with pytest.raises(AekitError, match="hidden"):
        build(cfg(hidden=None), (5, 2), 4)
    with pytest.raises(AekitError, match="cell") as err:
        build(cfg(cell="lsmt"), (5, 2), 4)
    assert "gru" in err.value.hint and "lstm" in err.value.hint
    with pytest.raises(AekitError, match="teacher_forcing"):
        build(cfg(teacher_forcing=1.5), (5, 2), 4)
    with pytest.raises(AekitError, match="sequences"):
        build(cfg(), (1, 5, 2), 4)
    enc, _ = build(SimpleNamespace(**vars(cfg()), code_activation="sigmoid"), (5, 2), 4)
    z = enc(torch.randn(3, 5, 2))
    assert (z > 0).all() and (z < 1).all()


def test_learns_real_ecg_series(shared_data):
    """GRU [32], code 8, 150 Adam steps on ECG5000: the reconstruction error falls well below
    the data's variance, and below the mean-series baseline (the code is used)."""
    path = shared_data / "timeseries" / "ECG5000_TRAIN.txt"
    if not path.is_file():
        pytest.skip(reason=f"{path} not found")
    x = torch.from_numpy(np.loadtxt(path, dtype=np.float32)[:, 1:]).unsqueeze(-1)  # (500, 140, 1)
    x = (x - x.mean((0, 1))) / x.std((0, 1))
    baseline = (x - x.mean(0)).pow(2).mean().item()
    torch.manual_seed(0)
    enc, dec = build(cfg(hidden=[32], latent_dim=8), (140, 1), enc_out=8)
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    first = None
    for _ in range(150):
        xb = x[torch.randint(0, len(x), (64,))]
        loss = (dec(enc(xb)) - xb).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        first = loss.item() if first is None else first
    with torch.no_grad():
        mse = (dec(enc(x)) - x).pow(2).mean().item()
    assert first > 0.8
    assert mse < 0.5 * first and mse < baseline, (first, mse, baseline)
