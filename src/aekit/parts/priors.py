"""Priors p(z) that an adversarial autoencoder matches its codes to (Makhzani et al. 2015).

Each prior draws ``sample(n, labels=None, generator=None) -> (n, dim)`` and, where it has a closed
form, gives ``log_prob(z) -> (n,)``. Priors with ``n_components > 0`` can be *label-conditioned*:
``labels[i] = c`` draws example i from component c (a mixture component, a segment of the swiss
roll), and ``labels[i] = -1`` (an unlabelled example) from the whole prior. The AAE needs only
samples, so a prior without a density (the swiss roll) is as usable as one with.

Priors hold no learned state: they are plain objects, rebuilt from the model config on load.
"""
from __future__ import annotations

import math

import torch

from ..errors import AekitError, unknown_choice
from .gaussian import LOG_2PI

PRIORS = ("normal", "mixture", "swiss-roll")


def _device(labels: torch.Tensor | None, generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if generator is not None:  # a generator only draws on its own device
        return generator.device
    if labels is not None:
        return labels.device
    return torch.device("cpu")


class Prior:
    """Base class: a distribution over R^dim to sample codes from."""

    name = "prior"
    n_components = 0  # label-conditioned components (0: the prior takes no labels)

    def __init__(self, dim: int):
        if dim < 1:
            raise AekitError(f"a prior needs dim >= 1, got {dim}")
        self.dim = int(dim)

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise AekitError(f"the {self.name} prior has no closed-form density",
                         "use a normal or mixture prior where log p(z) is needed")

    def describe(self) -> str:
        return self.name

    def lattice(self, n: int) -> torch.Tensor:
        """An n × n grid of 2-D codes over the prior, (n·n, 2), row-major: z₁ rising along each row,
        z₂ falling down the rows (as a scatter plot's axes). It spans the central 98% of the prior's
        mass in each coordinate (5,000 seeded draws); the normal prior places it by its quantiles."""
        if self.dim != 2:
            raise AekitError(f"a lattice over the prior needs 2-D codes, this prior has {self.dim}",
                             "train with --latent-dim 2 to draw the manifold grid")
        s = self.sample(5000, generator=torch.Generator().manual_seed(0))
        axes = [torch.linspace(float(torch.quantile(s[:, i], 0.01)), float(torch.quantile(s[:, i], 0.99)), n) for i in (0, 1)]
        return _grid(axes[0], axes[1])

    def _check_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        if labels is None:
            return None
        labels = torch.as_tensor(labels).reshape(-1).long()
        if labels.numel() != n:
            raise AekitError(f"{labels.numel()} labels for {n} samples", "give one label per sample")
        if self.n_components == 0:
            raise AekitError(f"the {self.name} prior takes no labels",
                             "use a label-conditioned prior: --set model.prior=mixture or swiss-roll")
        if labels.numel() and int(labels.max()) >= self.n_components:
            raise AekitError(f"label {int(labels.max())} is out of range for a prior with {self.n_components} components",
                             f"labels must be -1 (unlabelled) or 0..{self.n_components - 1}")
        return labels

    def _components(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None,
                    dev: torch.device) -> torch.Tensor:
        """The component of each sample: its label, or a uniform draw where the label is -1."""
        k = torch.randint(0, self.n_components, (n,), generator=generator, device=dev)
        if labels is not None:
            labels = labels.to(dev)
            k = torch.where(labels >= 0, labels, k)
        return k

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


class Normal(Prior):
    """Isotropic N(0, std² I) (std 5 is the paper's likelihood experiment; 1 the usual choice)."""

    name = "normal"

    def __init__(self, dim: int, std: float = 1.0):
        super().__init__(dim)
        if not std > 0:
            raise AekitError(f"the normal prior needs std > 0, got {std}")
        self.std = float(std)

    def sample(self, n, labels=None, generator=None, device=None):
        dev = _device(labels, generator, device)
        self._check_labels(n, labels)
        return torch.randn(n, self.dim, generator=generator, device=dev) * self.std

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (LOG_2PI + 2 * math.log(self.std) + (z / self.std) ** 2).sum(-1)

    def lattice(self, n: int) -> torch.Tensor:
        """Points at the quantiles Φ⁻¹(linspace(0.05, 0.95, n))·std, so equal prior mass lies between
        neighbours (Kingma & Welling 2014, figure 4)."""
        if self.dim != 2:
            return super().lattice(n)
        q = math.sqrt(2) * torch.erfinv(2 * torch.linspace(0.05, 0.95, n, dtype=torch.float64) - 1) * self.std
        return _grid(q.float(), q.float())

    def describe(self) -> str:
        return f"N(0, {self.std:g}² I) in {self.dim}-D"


class MixtureOfGaussians(Prior):
    """k equally weighted Gaussians N(μ_c, std² I), the means equally spaced on a circle of
    ``radius`` in the first two dimensions (zero in the others) — the paper's Fig. 4 prior."""

    name = "mixture"

    def __init__(self, dim: int, k: int = 10, radius: float = 4.0, std: float = 0.5):
        super().__init__(dim)
        if dim < 2:
            raise AekitError(f"the mixture prior places its means on a circle and needs 2 or more dimensions, got {dim}",
                             "use --latent-dim 2 or more")
        if k < 1:
            raise AekitError(f"the mixture prior needs k >= 1 components, got {k}")
        if not std > 0 or not radius >= 0:
            raise AekitError(f"the mixture prior needs std > 0 and radius >= 0, got std={std}, radius={radius}")
        self.n_components, self.radius, self.std = int(k), float(radius), float(std)
        angle = 2 * math.pi * torch.arange(k, dtype=torch.float32) / k
        self.means = torch.zeros(k, dim)
        self.means[:, 0], self.means[:, 1] = radius * torch.cos(angle), radius * torch.sin(angle)
        self._on: dict[torch.device, torch.Tensor] = {}  # the means per device: no copy per batch on a GPU

    def _means(self, dev: torch.device) -> torch.Tensor:
        if dev not in self._on:
            self._on[dev] = self.means.to(dev)
        return self._on[dev]

    def sample(self, n, labels=None, generator=None, device=None):
        dev = _device(labels, generator, device)
        labels = self._check_labels(n, labels)
        comp = self._components(n, labels, generator, dev)
        noise = torch.randn(n, self.dim, generator=generator, device=dev) * self.std
        return self._means(dev)[comp] + noise

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        d2 = ((z.unsqueeze(-2) - self._means(z.device).to(z.dtype)) / self.std).pow(2).sum(-1)  # (..., k)
        per = -0.5 * (self.dim * (LOG_2PI + 2 * math.log(self.std)) + d2)
        return torch.logsumexp(per, -1) - math.log(self.n_components)

    def describe(self) -> str:
        return f"mixture of {self.n_components} Gaussians (std {self.std:g}) on a circle of radius {self.radius:g}, {self.dim}-D"


class SwissRoll(Prior):
    """Points on a 2-D swiss roll: u ~ U(0, 1), r = radius·√u, angle = turns·2π·√u (so the points
    are uniform per unit area swept), plus N(0, std²) noise. Label c takes the c-th of k equal
    segments of u, so each class owns a stretch of the roll (the paper's Fig. 4, right)."""

    name = "swiss-roll"

    def __init__(self, dim: int = 2, k: int = 10, radius: float = 3.0, std: float = 0.05, turns: float = 2.0):
        if dim != 2:
            raise AekitError(f"the swiss-roll prior is 2-D, but the code has {dim} dimensions", "use --latent-dim 2")
        super().__init__(dim)
        if k < 1 or not radius > 0 or std < 0 or not turns > 0:
            raise AekitError(f"bad swiss-roll settings: k={k}, radius={radius}, std={std}, turns={turns}",
                             "k >= 1, radius > 0, std >= 0, turns > 0")
        self.n_components, self.radius, self.std, self.turns = int(k), float(radius), float(std), float(turns)

    def sample(self, n, labels=None, generator=None, device=None):
        dev = _device(labels, generator, device)
        labels = self._check_labels(n, labels)
        seg = self._components(n, labels, generator, dev).float()
        u = (seg + torch.rand(n, generator=generator, device=dev)) / self.n_components  # uniform overall
        s = u.sqrt()
        r, a = self.radius * s, 2 * math.pi * self.turns * s
        z = torch.stack([r * torch.cos(a), r * torch.sin(a)], 1)
        if self.std:
            z = z + self.std * torch.randn(n, 2, generator=generator, device=dev)
        return z

    def describe(self) -> str:
        return f"2-D swiss roll (radius {self.radius:g}, {self.turns:g} turns, {self.n_components} segments, noise std {self.std:g})"


def _grid(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-major (len(b)·len(a), 2): a along each row, b descending down the rows."""
    z1, z2 = torch.meshgrid(a, b.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def make_prior(name: str, dim: int, *, std: float | None = None, k: int | None = None,
               radius: float | None = None) -> Prior:
    """The prior ``name`` (normal | mixture | swiss-roll) over ``dim`` dimensions.

    Options left as None take the prior's own default; an option the prior has no use for (a
    radius or components for the normal prior) is an error.
    """
    opts = {key: v for key, v in (("std", std), ("k", k), ("radius", radius)) if v is not None}
    if name == "normal":
        extra = sorted(set(opts) - {"std"})
        if extra:
            raise AekitError(f"the normal prior has no {' or '.join(extra)}", "set those only for the mixture or swiss-roll prior")
        return Normal(dim, **opts)
    if name == "mixture":
        return MixtureOfGaussians(dim, **opts)
    if name == "swiss-roll":
        return SwissRoll(dim, **opts)
    raise unknown_choice("prior", name, PRIORS)


def check_dim(prior: Prior, latent_dim: int) -> None:
    """A prior must live in the code's space."""
    if prior.dim != latent_dim:
        raise AekitError(f"the prior is {prior.dim}-dimensional but the latent code has {latent_dim} dimensions",
                         f"build the prior with dim={latent_dim}, or set --latent-dim {prior.dim}")


__all__ = ["Prior", "Normal", "MixtureOfGaussians", "SwissRoll", "make_prior", "check_dim", "PRIORS"]
