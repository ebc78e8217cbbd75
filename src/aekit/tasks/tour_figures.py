"""The lecture's figures for the tour page, computed from the tour's trained runs.

Each figure is a :class:`aekit.plots.tour.PageFigure`: what the lecture claims (a fixed sentence)
and a ``make()`` that loads the runs it needs, computes what it shows on the test digits and draws
it (:mod:`aekit.plots.tour`, :mod:`aekit.plots.figures`). A figure whose runs are not in the tour
(``--families`` left their family out) says which runs it needs instead.

The runs made only for figures (:data:`VARIANTS`) belong to a family: they are trained when their
family is in the tour.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..plots import figures as F
from ..plots import tour as T
from ..plots.tour import PageFigure

N_SHOW = 10  # test digits in each strip of images

# runs made for the figures: family → [(run name, options on top of the family's, what it is for)]
VARIANTS: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "ae": [("ae-z2", {"latent_dim": 2}, "|z| = 2 reconstructions; the AE's 2-D latent map"),
           ("ae-z5", {"latent_dim": 5}, "|z| = 5 reconstructions"),
           ("ae-z20", {"latent_dim": 20}, "|z| = 20 reconstructions")],
    "vae": [("vae-z2", {"latent_dim": 2}, "the VAE's 2-D manifold grid and latent map")],
    "aae-conditional": [("aae-conditional-swiss-roll", {"prior": "swiss-roll"}, "AAE codes under the swiss-roll prior")],
}
VARIANT_FAMILY = {name: fam for fam, vs in VARIANTS.items() for name, _, _ in vs}


class TourRuns:
    """The tour's finished runs: folders, loaded models and data (each loaded once), measures."""

    def __init__(self, dirs: dict[str, Path], measures: dict[str, dict[str, Any]], families: list[str]):
        self.dirs = dirs
        self.measures = measures
        self.families = families  # the family runs, in registry order
        self._models: dict[str, Any] = {}
        self._data: dict[str, Any] = {}

    def model(self, name: str) -> Any:
        from ..run import load

        if name not in self._models:
            self._models[name] = load(self.dirs[name])
        return self._models[name]

    def data(self, name: str) -> Any:
        """The run's own data, split as in training (runs with the same data settings share it)."""
        import dataclasses
        import json

        from ..run import run_data
        from ..runconfig import load_config

        cfg = load_config(self.dirs[name])
        key = json.dumps([dataclasses.asdict(cfg.data), cfg.train.seed, type(cfg.model).label_use == "partial"],
                         sort_keys=True, default=str)
        if key not in self._data:
            self._data[key] = run_data(cfg)
        return self._data[key]

    def test(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        d = self.data(name)
        return np.asarray(d.x_test), np.asarray(d.y_test)


def _figure(runs: TourRuns, heading: str, claim: str, needs: list[str], make: Callable[[], tuple[Any, str, dict]],
            optional: bool = False) -> PageFigure:
    """``make`` when the runs in ``needs`` are in the tour (with ``optional``: any one of them)."""
    missing = [n for n in needs if n not in runs.dirs]
    if missing and (not optional or len(missing) == len(needs)):
        fams = sorted({VARIANT_FAMILY.get(n, n) for n in missing})
        what = (f"one of the runs {', '.join(missing)}" if optional else f"the run{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return PageFigure(heading, claim, missing=f"needs {what} (famil{'ies' if len(fams) > 1 else 'y'} {', '.join(fams)}), "
                                                   "which this tour's --families left out")
    return PageFigure(heading, claim, make)


def _labels_for(model: Any, y: np.ndarray) -> np.ndarray | None:
    return y if getattr(model, "n_classes", 0) else None


def _mse(runs: TourRuns, name: str) -> float:
    return float(runs.measures[name]["test_mse"])


def reconstructions(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: an autoencoder reproduces its input through a narrow code, and the families trade some of that "
             "fidelity for properties of the code.")

    def make() -> tuple[Any, str, dict]:
        x, y = runs.test(runs.families[0])
        xs = x[:N_SHOW]
        rows = [("input", xs)]
        for name in runs.families:
            m = runs.model(name)
            lab = _labels_for(m, y[:N_SHOW])
            rec = m.reconstruct(xs, y=lab) if lab is not None else m.reconstruct(xs)
            rows.append((f"{name} (|z| {m.cfg.latent_dim})\nMSE {_mse(runs, name):.4f}", np.asarray(rec)))
        shows = (f"Figure: the first {N_SHOW} test digits (top) and each family's reconstruction (the decoder's mean; label-taking "
                 "decoders get the true label); beside each name its code size and its test MSE per pixel over the "
                 f"{len(x):,} test digits.")
        return F.image_rows(rows, N_SHOW), shows, {name: _mse(runs, name) for name in runs.families}

    return _figure(runs, "Reconstructions", claim, runs.families[:1], make)


def latent_maps(runs: TourRuns) -> PageFigure:
    names = ["ae-z2", "vae-z2", "aae"]
    claim = ("Lecture: a plain AE's codes follow no prescribed distribution (gaps, arbitrary scale and shape); the VAE's KL "
             "term pulls them towards N(0, I); the AAE's discriminator matches them to its prior.")

    def make() -> tuple[Any, str, dict]:
        x, y = runs.test(names[0])
        panels = [(np.asarray(runs.model(n).encode(x)), n) for n in names]
        knn = {n: runs.measures[n].get("test_knn_accuracy") for n in names}
        spread = {n: float(np.std(z, axis=0).mean()) for z, n in panels}
        shows = (f"Figure: the 2-D codes of the {len(x):,} test digits under three 784-512-256-2 networks, coloured by digit; "
                 "standard deviation of the codes " + ", ".join(f"{n} {spread[n]:.2g}" for n in names)
                 + "; 5-NN accuracy of the codes " + ", ".join(f"{n} {knn[n]:.1%}" for n in names if knn[n] is not None) + ".")
        return F.latent_maps(panels, y, label_name="digit"), shows, {"code_std": spread, "knn_accuracy": knn}

    return _figure(runs, "Latent maps: AE vs VAE vs AAE", claim, names, make)


def vae_manifold(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: a VAE's decoder turns every point of the prior into a plausible digit, so walking across z morphs "
             "one digit into another.")

    def make() -> tuple[Any, str, dict]:
        m = runs.model("vae-z2")
        imgs = np.asarray(m.manifold(20))
        nelbo = runs.measures["vae-z2"].get("test_neg_elbo")
        shows = ("Figure: the 2-D VAE's decoder means on a 20 × 20 lattice of the prior's quantiles (z1 rising to the right, "
                 "z2 upwards)" + (f"; its test −ELBO is {nelbo:.1f} nats per digit." if nelbo is not None else "."))
        return F.tiled(imgs, 20), shows, {"test_neg_elbo": nelbo}

    return _figure(runs, "The VAE's 2-D manifold", claim, ["vae-z2"], make)


def code_sizes(runs: TourRuns) -> PageFigure:
    names = ["ae-z2", "ae-z5", "ae-z20"]
    claim = ("Lecture: the code is a bottleneck: a 2-number code keeps a digit's class and rough shape, a larger one its "
             "strokes.")

    def make() -> tuple[Any, str, dict]:
        x, _ = runs.test(names[0])
        xs = x[:N_SHOW]
        rows = [("input", xs)] + [(f"|z| = {runs.model(n).cfg.latent_dim}", np.asarray(runs.model(n).reconstruct(xs))) for n in names]
        mse = {n: _mse(runs, n) for n in names}
        shows = ("Figure: test digits and their reconstructions by the same AE with codes of 2, 5 and 20 numbers; test MSE per "
                 "pixel " + " / ".join(f"{mse[n]:.4f}" for n in names) + ".")
        return F.image_rows(rows, N_SHOW), shows, {"test_mse": mse}

    return _figure(runs, "Code size: |z| = 2 / 5 / 20", claim, names, make)


def denoising(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: a denoising AE, trained to restore corrupted inputs, maps a corrupted digit back towards the data, "
             "where a plain AE reproduces much of the corruption.")

    def make() -> tuple[Any, str, dict]:
        from .denoise import denoise

        dae = runs.model("denoising-ae")
        kind, level = dae.cfg.corruption, float(dae.cfg.noise_level)
        spec = f"{kind}:{level:g}"
        x, _ = runs.test("denoising-ae")
        d = denoise(dae, x, [spec])[0]  # seeded: the same noise for every model, as aekit evaluate --corrupt
        rows = [("clean", x[:N_SHOW]), (f"{kind} {level:g}", d.noisy[:N_SHOW]), ("denoising-ae", d.restored[:N_SHOW])]
        psnr = {"denoising-ae": {"psnr_corrupted_db": d.psnr_corrupted_db, "psnr_restored_db": d.psnr_restored_db}}
        if "ae" in runs.dirs:
            a = denoise(runs.model("ae"), x, [spec])[0]
            rows.append(("ae (plain)", a.restored[:N_SHOW]))
            psnr["ae"] = {"psnr_corrupted_db": a.psnr_corrupted_db, "psnr_restored_db": a.psnr_restored_db}
        corrupted = psnr["denoising-ae"]["psnr_corrupted_db"]
        shows = (f"Figure: clean test digits, the same with {kind} corruption at level {level:g} (the DAE's training corruption), "
                 "then restored; PSNR over the test digits: corrupted " + f"{corrupted:.1f} dB, "
                 + ", ".join(f"{n} {p['psnr_restored_db']:.1f} dB" for n, p in psnr.items())
                 + f" (aekit evaluate RUN --corrupt {kind}:{level:g}).")
        return F.image_rows(rows, N_SHOW), shows, {"corruption": f"{kind}:{level:g}", "psnr_db": psnr}

    return _figure(runs, "Denoising: before and after", claim, ["denoising-ae"], make)


def sparse_codes(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: the KL sparsity penalty holds each unit's mean activation near ρ, so any one digit switches on only "
             "a few units.")

    def stats(name: str) -> tuple[np.ndarray, dict[str, float]]:
        x, _ = runs.test(name)
        h = np.asarray(runs.model(name).encode(x), dtype=np.float64)
        return h, {"units": int(h.shape[1]), "share_below_0.1": float((h < 0.1).mean()), "median_unit_mean": float(np.median(h.mean(0)))}

    def make() -> tuple[Any, str, dict]:
        target = float(runs.model("sparse-ae").cfg.sparsity_target)
        series, numbers = [], {}
        for name in ("sparse-ae", "contractive-ae"):
            if name in runs.dirs:
                h, numbers[name] = stats(name)
                series.append((name, h))
        s = numbers["sparse-ae"]
        shows = (f"Figure: the code activations of sparse-ae's {s['units']} sigmoid units on the test digits: {s['share_below_0.1']:.0%} "
                 f"are below 0.1 and the median unit's mean is {s['median_unit_mean']:.3f} (target ρ = {target:g})")
        if "contractive-ae" in numbers:
            c = numbers["contractive-ae"]
            shows += (f"; contractive-ae's {c['units']} sigmoid units, without a sparsity penalty: {c['share_below_0.1']:.0%} "
                      f"below 0.1, median mean {c['median_unit_mean']:.3f}")
        return T.activation_histograms(series, target), shows + ".", {**numbers, "target": target}

    return _figure(runs, "Sparse codes: activations", claim, ["sparse-ae"], make)


def first_layer_filters(runs: TourRuns) -> PageFigure:
    names = ["ae", "sparse-ae", "denoising-ae", "contractive-ae"]
    claim = ("Lecture: a first-layer unit's input weights are the pattern it detects; sparse and denoising AEs tend to learn "
             "local stroke detectors.")

    def make() -> tuple[Any, str, dict]:
        panels, units = [], {}
        for n in names:
            if n not in runs.dirs:
                continue
            m = runs.model(n)
            w = m.encoder.layers[0].weight.detach().cpu().numpy()
            shape = tuple(m.input_shape)
            panels.append((f"{n} ({w.shape[0]} units)", w[:, : math.prod(shape)], shape))
            units[n] = int(w.shape[0])
        shows = ("Figure: the input weights of the first 64 first-layer units of " + ", ".join(units)
                 + ", each scaled to its own range (white: positive, black: negative).")
        return T.filter_panels(panels, 64), shows, {"units": units}

    return _figure(runs, "First-layer filters", claim, names, make, optional=True)


def cvae_analogies(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: when the decoder is given the class, the code z is free to hold the style (slant, thickness), so "
             "keeping z and changing the label writes the same style in every class.")

    def make() -> tuple[Any, str, dict]:
        m = runs.model("cvae")
        x, y = runs.test("cvae")
        xs, ys = x[:8], y[:8]
        K = m.n_classes
        rows = np.concatenate([xs[:, None], np.asarray(m.analogies(xs, labels=ys))], axis=1)
        acc = runs.measures["cvae"].get("test_accuracy")
        shows = (f"Figure: each row is a test digit, then its code z (inferred given its true label) decoded with the labels 0 … "
                 f"{K - 1}" + (f"; the model's classifier q(y|x) is right on {acc:.1%} of the test digits." if acc is not None else "."))
        return F.tiled(rows.reshape(-1, *m.input_shape), K + 1), shows, {"test_accuracy": acc}

    return _figure(runs, "CVAE analogies: style fixed, label changed", claim, ["cvae"], make)


def aae_priors(runs: TourRuns) -> PageFigure:
    names = ["aae-conditional", "aae-conditional-swiss-roll"]
    claim = ("Lecture: an AAE can impose any prior it can sample from — a mixture of 10 Gaussians, a swiss roll — and with "
             "the label given to the discriminator each digit takes its own part of the prior.")

    def make() -> tuple[Any, str, dict]:
        panels, acc = [], {}
        for n in names:
            if n not in runs.dirs:
                continue
            m = runs.model(n)
            x, y = runs.test(n)
            prior = m.prior.sample(len(x), generator=torch.Generator().manual_seed(0)).numpy()
            panels.append((np.asarray(m.encode(x)), y, prior, f"{n}\n{m.prior.describe()}"))
            acc[n] = runs.measures[n].get("test_disc_accuracy")
        shows = (f"Figure: 2-D codes of the {len(x):,} test digits (colour: digit) over as many prior samples (grey); the "
                 "discriminator tells test codes from prior samples " + ", ".join(f"{n} {a:.0%}" for n, a in acc.items() if a is not None)
                 + " of the time (50%: indistinguishable).")
        return T.codes_over_priors(panels), shows, {"test_disc_accuracy": acc}

    return _figure(runs, "AAE codes under a 10-Gaussian mixture and a swiss roll", claim, names, make, optional=True)


def linear_ae_vs_pca(runs: TourRuns) -> PageFigure:
    claim = ("Lecture: a linear AE trained with squared error spans the same subspace as PCA's top principal directions, "
             "but in another basis: its weights are any basis of that subspace.")

    def make() -> tuple[Any, str, dict]:
        numbers = linear_pca_numbers(runs)
        a = np.asarray(numbers["angles_deg"])
        shows = (f"Figure: the principal angles between the span of the linear AE's {len(a)} decoder columns and PCA's top {len(a)} "
                 f"directions are {a.max():.1f}° at most (mean {a.mean():.1f}°; a random {len(a)}-D subspace: mean "
                 f"{numbers['random_mean_angle_deg']:.0f}°), while each decoder column mixes several PCA directions (|cosines|); "
                 f"test MSE per pixel: linear AE {numbers['ae_test_mse']:.4f}, PCA {numbers['pca_test_mse']:.4f}.")
        fig = T.linear_vs_pca(a, np.asarray(numbers.pop("cosines")), numbers.pop("pca_dirs"), numbers.pop("ae_cols"),
                              numbers["image_shape"])
        return fig, shows, numbers

    return _figure(runs, "Linear AE vs PCA: same subspace, different basis", claim, ["linear-ae"], make)


def linear_pca_numbers(runs: TourRuns, name: str = "linear-ae") -> dict[str, Any]:
    """Angles between the linear AE's decoder span and PCA's top-k directions of the training split
    (model space), |cosines| between the bases, a random subspace's angles and both test MSEs."""
    from ..metrics import pca_fit, pca_reconstruct, principal_angles_deg
    from ..run import scale

    m = runs.model(name)
    data = runs.data(name)
    k = int(m.cfg.latent_dim)
    mu, comps = pca_fit(scale(data, data.x_train), k)
    z = torch.cat([torch.zeros(1, k), torch.eye(k)])  # the decoder's image of 0 and of each unit code
    out = m.evaluating(lambda: m.likelihood.mean(m.decoder_params(z)).reshape(k + 1, -1).double())
    cols = (out[1:] - out[0]).numpy()  # (k, D): the decoder's basis (exact for a linear decoder)
    angles = principal_angles_deg(cols.T, comps.T)
    unit = cols / np.linalg.norm(cols, axis=1, keepdims=True)
    rand = np.random.default_rng(0).standard_normal((comps.shape[1], k))
    x, _ = runs.test(name)
    xm = scale(data, x)
    pca_mse = float(np.mean((pca_reconstruct(xm, mu, comps) - xm) ** 2)) if data.scaler.kind == "none" else float("nan")
    return {"k": k, "angles_deg": [float(v) for v in angles], "random_mean_angle_deg": float(principal_angles_deg(rand, comps.T).mean()),
            "cosines": unit @ comps.T, "pca_dirs": comps, "ae_cols": cols, "image_shape": list(m.input_shape),
            "ae_test_mse": _mse(runs, name), "pca_test_mse": pca_mse}


FIGURES = [reconstructions, latent_maps, vae_manifold, code_sizes, denoising, sparse_codes, first_layer_filters,
           cvae_analogies, aae_priors, linear_ae_vs_pca]


def tour_figures(runs: TourRuns) -> list[PageFigure]:
    """Every figure of the page, in the lecture's order (drawn later, when the page is written)."""
    return [f(runs) for f in FIGURES]


__all__ = ["VARIANTS", "VARIANT_FAMILY", "TourRuns", "tour_figures", "linear_pca_numbers"]
