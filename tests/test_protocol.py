"""The model protocol (models/base.py), checked over the whole registry on untrained models: the
required hooks exist, the optional ones keep their contracts (shapes, determinism, labels)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.models import Autoencoder, all_specs, build_model

SPECS = [s for s in all_specs() if s.name != "m1m2"]  # m1m2 needs a trained VAE (the conformance suite covers it)


def _build(spec):
    torch.manual_seed(0)
    opts = {"input_shape": [1, 8, 8], "likelihood": "bernoulli", "latent_dim": 2, "hidden": [16]}
    if "n_classes" in spec.config_cls.__dataclass_fields__:
        opts["n_classes"] = 3
    if spec.name.startswith(("sparse", "contractive", "stochastic")):
        opts.pop("hidden")
    if spec.name == "linear-ae":
        opts["likelihood"] = "gaussian"
    if "prior" in spec.config_cls.__dataclass_fields__ and spec.defaults.get("prior") == "mixture":
        opts["latent_dim"] = 2
    return build_model(spec.name, **opts).eval()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_family_keeps_the_protocol(spec):
    m = _build(spec)
    for hook in ("build", "code", "decoder_params", "loss"):
        assert getattr(type(m), hook) is not getattr(Autoencoder, hook), f"{spec.name} lacks the required hook {hook}"
    assert m.preset == spec.name
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        z = m.code(x)
        assert z.shape == (5, 2) and z.dtype == torch.float32
        assert torch.equal(z, m.code(x))  # deterministic
        assert m.recon_params(x).shape == x.shape
        s = m.score(x)
        assert s.shape == (5,) and torch.isfinite(s).all() and torch.equal(s, m.score(x))
        terms = m.loss(x, None, corrupt=False)
    assert "loss" in terms and terms["loss"].dim() == 0 and torch.isfinite(terms["loss"])
    assert m.partial_labels == (type(m.cfg).label_use == "partial")
    assert bool(m.n_classes) == ("n_classes" in spec.config_cls.__dataclass_fields__)
    if m.can_classify:
        p = m.predict_proba(x.numpy())
        assert p.shape == (5, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
        assert m.classify(x.numpy()).shape == (5,)
    else:
        with pytest.raises(AekitError, match="classif|predict classes"):
            m.predict_proba(x.numpy())
    if m.can_sample:
        assert m.sample(3, seed=0).shape == (3, 1, 8, 8)
    else:
        with pytest.raises(AekitError, match="--sampler gmm"):
            m.sample(3)
    items = m.report_sections(None)
    assert isinstance(items, list)


def test_score_is_the_reconstruction_nll_or_the_bound():
    """AE: −log p(x | code(x)); VAE: the −ELBO (KL included, so above the reconstruction term)."""
    x = torch.rand(6, 1, 8, 8)
    ae = _build(next(s for s in SPECS if s.name == "ae"))
    with torch.no_grad():
        torch.testing.assert_close(ae.score(x), ae.likelihood.nll(ae.decoder_params(ae.code(x)), x))
        vae = _build(next(s for s in SPECS if s.name == "vae"))
        mu, logvar = vae.posterior(x)
        kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1)
        g = torch.Generator().manual_seed(0)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
        torch.testing.assert_close(vae.score(x), vae.likelihood.nll(vae.decoder_params(z), x) + kl)
