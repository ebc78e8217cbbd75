"""The report's figures of the networks: a conv run's first-layer filters, feature maps and shape
trace (an AE, and a conditional VAE whose encoder reads label maps), and a sequence run's series
overlaid with their reconstructions, error over time and per-class error (no image figures).

Each run trains one epoch on a few hundred examples: a few seconds each, report included.
"""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.plots import networks as N

CONV = {"net": "conv", "channels": [8, 16], "limit": 300, "epochs": 1, "batch_size": 64, "latent_dim": 4, "quiet": True}


@pytest.fixture(scope="module")
def conv_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("conv")
    return {name: aekit.train_run(name, "mnist-sample", out=root / name, **CONV) for name in ("ae", "cvae")}


@pytest.fixture(scope="module")
def ecg_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    if not (shared_data / "timeseries" / "ECG5000_TRAIN.txt").exists():
        pytest.skip(reason="ECG5000_TRAIN.txt is not in the shared data folder")
    return aekit.train_run("ae", "ecg5000", out=tmp_path_factory.mktemp("ecg") / "ae", net="rnn", hidden=[16],
                           limit=200, epochs=1, batch_size=32, latent_dim=4, quiet=True)


def headings(text: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h2>(.*?)</h2>", text, flags=re.S)]


def section(text: str, heading: str) -> str:
    m = re.search(rf"<section id=\"[^\"]+\">\s*<h2>{re.escape(heading)}</h2>(.*?)</section>", text, flags=re.S)
    assert m, f"no section {heading!r}"
    return html.unescape(m.group(1))


def pngs(body: str) -> list[bytes]:
    out = [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', body)]
    assert all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in out)
    return out


@pytest.mark.parametrize("family", ["ae", "cvae"])
def test_conv_report_has_filters_feature_maps_and_the_shape_trace(conv_runs: dict[str, Path], family: str) -> None:
    text = (conv_runs[family] / "report.html").read_text(encoding="utf-8")
    assert "figure unavailable" not in text and 'class="unavailable"' not in text
    found = headings(text)
    for h in ("Reconstructions", "First-layer filters", "Feature maps", "Shape trace"):
        assert h in found, (h, found)
    assert found.count("First-layer filters") == 1  # the MLP filter figure is not attempted as well
    assert "Error over time" not in found and "Per-class error" not in found
    assert len(pngs(section(text, "First-layer filters"))) == 1
    assert "8 first-layer convolution kernels (3×3)" in section(text, "First-layer filters")
    assert len(pngs(section(text, "Feature maps"))) == 1
    trace = section(text, "Shape trace")
    assert "<details open>" in trace and "<pre>" in trace
    assert "net conv" in trace and "Conv2d" in trace and "8×14×14" in trace
    if family == "cvae":  # the encoder reads 10 label maps: the example's label, and no kernel of theirs shown
        assert "10 label maps" in section(text, "First-layer filters")
        assert "label maps hold the example's label" in section(text, "Feature maps")


def test_conv_figures_directly(conv_runs: dict[str, Path]) -> None:
    model = aekit.load(conv_runs["cvae"])
    w = model.encoder.first_layer_weight
    assert tuple(w.shape) == (8, 11, 3, 3)  # 1 pixel channel + 10 label maps
    fig = N.conv_filters(w, 1)
    img = fig.axes[0].images[0].get_array()
    assert img.ndim == 2  # grey kernels of the pixel channel only
    # RGB input: colour kernels; other channel counts: a row per filter, a grey kernel per channel
    rgb = N.conv_filters(np.random.default_rng(0).normal(size=(6, 3, 5, 5)), 3)
    assert rgb.axes[0].images[0].get_array().ndim == 3
    four = N.conv_filters(np.random.default_rng(0).normal(size=(6, 4, 3, 3)), 4)
    assert four.axes[0].images[0].get_array().ndim == 2
    x = np.zeros((1, 1, 28, 28), np.float32)
    fm = N.feature_maps(model, x, np.array([3]))
    assert len(fm.axes) == 2 and fm.axes[1].get_title().startswith("8 feature maps, 14×14")


def test_sequence_report_overlays_series_and_has_no_image_figures(ecg_run: Path) -> None:
    text = (ecg_run / "report.html").read_text(encoding="utf-8")
    assert "figure unavailable" not in text and 'class="unavailable"' not in text
    found = headings(text)
    for h in ("Reconstructions", "Error over time", "Per-class error", "Shape trace"):
        assert h in found, (h, found)
    for h in ("First-layer filters", "Feature maps", "Samples from the prior"):
        assert h not in found, (h, found)
    rec = section(text, "Reconstructions")
    assert "solid" in rec and "own length" in rec and len(pngs(rec)) == 1
    assert len(pngs(section(text, "Error over time"))) == 1 and "padding" in section(text, "Error over time")
    assert len(pngs(section(text, "Per-class error"))) == 1
    trace = section(text, "Shape trace")
    assert "net rnn" in trace and "GRU" in trace
    # no image grid anywhere: every picture is a chart (the metrics' bar charts are named by their keys)
    alts = set(re.findall(r'<img alt="([^"]*)"', section(text, "Reconstructions") + text.split('id="metrics"')[1].split("</section>", 1)[1]))
    assert alts == {"reconstructions", "loss curves", "latent map", "error over time", "per-class error"}, alts


def test_sequence_figures_stop_at_each_series_end() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 12, 2)).astype(np.float32)
    x[1, 7:] = np.nan  # a series of 7 steps
    x[2, 3:] = np.nan  # and one of 3
    x_hat = x + 0.5
    x_hat[np.isnan(x_hat)] = 9.0  # whatever a decoder emits on padding never counts
    assert list(N.sequence_lengths(x)) == [12, 7, 3, 12, 12]
    se, per_ex = N.sequence_errors(x, x_hat)
    assert np.isnan(se[1, 7:]).all() and np.isnan(se[2, 3:]).all()
    np.testing.assert_allclose(per_ex, 0.25, rtol=1e-6)
    fig = N.sequence_reconstructions(x, x_hat, n=3)
    axes = np.array(fig.axes).reshape(3, 2)
    assert len(axes[1, 0].lines[0].get_xdata()) == 7 and len(axes[2, 1].lines[1].get_xdata()) == 3
    assert "7 of 12 steps" in axes[1, 0].get_title()
    fig = N.error_over_time(se)
    mean = fig.axes[0].lines[0]
    np.testing.assert_allclose(mean.get_ydata(), 0.25, rtol=1e-6)
    assert len(fig.axes) == 2  # variable lengths: how many series still run at each step
