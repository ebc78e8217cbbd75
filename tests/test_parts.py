"""Each part against its formula, computed independently in NumPy or by brute force."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aekit.parts import (
    Bernoulli,
    Gaussian,
    GaussianLearnedSigma,
    MaskingNoise,
    SaltAndPepperNoise,
    GaussianNoise,
    contractive_closed_form,
    contractive_exact,
    kl_sparsity,
    l1_code,
    stochastic_contractive,
    weight_decay,
)
from aekit.errors import AekitError


def test_bernoulli_nll_matches_formula_and_is_stable():
    torch.manual_seed(0)
    logits = torch.randn(5, 1, 4, 4, dtype=torch.float64) * 3
    x = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    p = 1 / (1 + np.exp(-logits.numpy()))
    ref = -(x.numpy() * np.log(p) + (1 - x.numpy()) * np.log(1 - p)).reshape(5, -1).sum(1)
    got = Bernoulli().nll(logits, x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert Bernoulli().nll_mean(logits, x).item() == pytest.approx(ref.mean(), rel=1e-10)
    # extreme logits: the naive formula overflows, the stable one stays finite and exact
    big = torch.tensor([[800.0, -800.0]], dtype=torch.float64)
    out = Bernoulli().nll(big, torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    assert torch.isfinite(out).all()
    assert out.item() == pytest.approx(1600.0)


def test_gaussian_fixed_sigma_is_exact_log_density():
    torch.manual_seed(1)
    mu, x, sigma = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64), 0.7
    ref = -torch.distributions.Normal(mu, sigma).log_prob(x).sum(1)
    torch.testing.assert_close(Gaussian(sigma).nll(mu, x), ref)
    # σ = 1: half the squared error plus a constant
    sq = ((mu - x) ** 2).sum(1)
    torch.testing.assert_close(Gaussian(1.0).nll(mu, x) - 0.5 * sq, torch.full((4,), 6 * 0.5 * math.log(2 * math.pi), dtype=torch.float64))


def test_gaussian_learned_sigma_log_density_and_gradient():
    lik = GaussianLearnedSigma(3, init_sigma=2.0).double()
    mu, x = torch.zeros(2, 3, dtype=torch.float64), torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    ref = -torch.distributions.Normal(mu, 2.0).log_prob(x).sum(1)
    torch.testing.assert_close(lik.nll(mu, x), ref)
    lik.nll(mu, x).mean().backward()
    assert lik.log_sigma.grad is not None and lik.log_sigma.grad.abs().sum() > 0


def test_masking_rate_is_statistically_right():
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    out = MaskingNoise(0.25)(x)
    frac = (out == 0).float().mean().item()
    # 200k Bernoulli(0.25) draws: sd of the mean is ~0.001; 5 sd
    assert abs(frac - 0.25) < 0.005
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(AekitError):
        MaskingNoise(1.5)


def test_salt_and_pepper_hits_both_extremes_equally():
    torch.manual_seed(0)
    x = torch.full((200, 1000), 0.5)
    out = SaltAndPepperNoise(0.2, low=-1.0, high=2.0)(x)
    hi, lo, same = (out == 2.0).float().mean().item(), (out == -1.0).float().mean().item(), (out == 0.5).float().mean().item()
    assert abs(hi - 0.1) < 0.004 and abs(lo - 0.1) < 0.004 and abs(same - 0.8) < 0.005


def test_gaussian_noise_std():
    torch.manual_seed(0)
    x = torch.zeros(500, 500)
    assert GaussianNoise(0.3)(x).std().item() == pytest.approx(0.3, rel=0.01)


def test_l1_and_kl_sparsity_formulas():
    h = torch.tensor([[0.1, -0.2, 0.3], [0.5, 0.0, -0.1]])
    assert l1_code(h).item() == pytest.approx((0.6 + 0.6) / 2)
    hs = torch.tensor([[0.1, 0.9], [0.3, 0.5]])
    rho = 0.05
    rh = np.array([0.2, 0.7])
    ref = (rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh))).sum()
    assert kl_sparsity(hs, rho).item() == pytest.approx(ref, rel=1e-5)
    assert kl_sparsity(torch.full((4, 3), rho), rho).item() == pytest.approx(0.0, abs=1e-6)


def _brute_jacobian_norm(f, x):
    total = 0.0
    for i in range(x.shape[0]):
        j = torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).squeeze(0), x[i])
        total += (j**2).sum().item()
    return total / x.shape[0]


def test_contractive_closed_form_matches_brute_force_jacobian():
    torch.manual_seed(0)
    layer = torch.nn.Linear(7, 5).double()
    x = torch.rand(6, 7, dtype=torch.float64)
    f = lambda v: torch.sigmoid(layer(v))  # noqa: E731
    closed = contractive_closed_form(f(x), layer.weight).item()
    assert closed == pytest.approx(_brute_jacobian_norm(f, x), rel=1e-9)


def test_contractive_exact_matches_brute_force_for_a_deep_encoder_and_trains_it():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3), torch.nn.Sigmoid()).double()
    x = torch.rand(5, 6, dtype=torch.float64)
    exact = contractive_exact(net, x)
    assert exact.item() == pytest.approx(_brute_jacobian_norm(net, x), rel=1e-9)
    exact.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters() if p.dim() == 2)


def test_stochastic_contractive_and_weight_decay():
    h, hn = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[1.5, 2.0], [0.0, 1.0]])
    assert stochastic_contractive(h, hn).item() == pytest.approx((0.25 + 1.0) / 2)
    m = torch.nn.Linear(3, 2)
    with torch.no_grad():
        m.weight.fill_(2.0)
        m.bias.fill_(100.0)  # biases are not decayed
    assert weight_decay(m).item() == pytest.approx(0.5 * 6 * 4.0)


def test_tied_weights_are_really_shared():
    from aekit.models import build_model

    m = build_model("linear-ae", input_shape=[10], latent_dim=3, tied=True)
    enc, dec = m.encoder.layers[0], m.decoder.layers[0]
    assert dec.weight.data_ptr() == enc.weight.data_ptr()
    names = [n for n, _ in m.named_parameters()]
    assert sum("weight" in n for n in names) == 1  # stored once
    # one step moves both directions of the map
    before = enc.weight.detach().clone()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m.loss(torch.randn(8, 10))["loss"].backward()
    opt.step()
    assert not torch.equal(before, enc.weight)
    torch.testing.assert_close(dec.weight, enc.weight.t())
