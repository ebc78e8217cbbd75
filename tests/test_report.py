"""The HTML run report and the figures behind it (headless, self-contained, never failing a run)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from aekit.config import DataConfig
from aekit.data import EMBEDDED, Prepared, Scaler, prepare
from aekit.models import build_model
from aekit.plots import figures as F
from aekit.plots import save_image_grid, write_report

IMG = "data:image/png;base64,"
HEADINGS = ("Metrics", "Reconstructions", "Loss curves", "Latent map")

HISTORY = [
    {"stage": "pretrain-1", "epoch": 1, "loss": 210.0, "recon": 205.0, "lr": 1e-3, "epoch_time_s": 1.0, "samples_per_s": 900.0},
    {"stage": "finetune", "epoch": 1, "loss": 150.5, "recon": 148.0, "val_loss": 155.0, "val_recon": 152.0, "lr": 1e-3,
     "epoch_time_s": 1.1, "samples_per_s": 950.0},
    {"stage": "finetune", "epoch": 2, "loss": 120.25, "recon": 118.0, "val_loss": 125.0, "val_recon": 122.0, "lr": 5e-4,
     "epoch_time_s": 1.0, "samples_per_s": 990.0},
]
METRICS = {"test_recon": 118.123456, "test_mse": 0.0123, "n_params": 51234, "val_loss": None, "device": "cpu"}


def _mnist_from_idx() -> Prepared:
    from aekit.data.idx import read_idx

    root = Path("/work/shared/data/mnist")
    images, labels = root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        pytest.skip(reason="neither the embedded MNIST sample nor the shared MNIST files are available")
    x = (read_idx(images)[:1000].astype(np.float32) / 255.0)[:, None]
    y = read_idx(labels)[:1000].astype(np.int64) if labels.exists() else None
    return Prepared(x[:500], None if y is None else y[:500], None, None, x[500:], None if y is None else y[500:],
                    "images", "mnist", Scaler("none"), {})


@pytest.fixture(scope="module")
def mnist() -> Prepared:
    if (EMBEDDED / "mnist_sample.npz").exists():
        return prepare(DataConfig(name="mnist-sample", limit=500), seed=0)
    return _mnist_from_idx()


def _image_model(latent_dim: int = 2):
    return build_model("ae", input_shape=[1, 28, 28], likelihood="bernoulli", hidden=[32], latent_dim=latent_dim)


def _write(tmp_path: Path, model, data, name: str = "report.html", **kw) -> str:
    kw.setdefault("history", HISTORY)
    kw.setdefault("metrics", METRICS)
    path = write_report(tmp_path / name, title=kw.pop("title", "test run"), model=model, data=data, **kw)
    assert path == tmp_path / name and path.is_file()
    return path.read_text(encoding="utf-8")


def _words(text: str) -> str:
    """The text without its inline images (base64 can spell anything)."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]*", "", text)


def _heading(text: str, heading: str) -> bool:
    return re.search(rf"<h2>\s*{re.escape(heading)}\s*</h2>", text) is not None


def test_image_report_is_one_self_contained_document(tmp_path, mnist):
    config = {"data": {"name": "mnist-sample"}, "model": {"name": "ae", "latent_dim": 2, "hidden": [32]}, "train": {"epochs": 3}}
    text = _write(tmp_path, _image_model(), mnist, title="run <1> & co", config=config,
                  extra_sections=[("Notes", "<p>extra body</p>")])
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<html") == 1 and text.count("</html>") == 1 and text.rstrip().endswith("</html>")
    assert text.count(IMG) >= 4
    assert 'src="http' not in text and "<link" not in text and "<script" not in text
    for h in (*HEADINGS, "First-layer filters", "Configuration", "Notes"):
        assert _heading(text, h), h
    assert "<p>extra body</p>" in text
    assert "run &lt;1&gt; &amp; co" in text and "run <1>" not in text  # escaped title
    assert "figure unavailable" not in text
    # the config as YAML, the model and data in the header, the metrics formatted
    assert "latent_dim: 2" in text and "<pre>" in text
    assert "ae (AE)" in text and "mnist" in text
    assert "118.12" in text and "51,234" in text
    assert "PCA" not in _words(text)  # 2-D codes are shown as they are
    # only the final file is left behind (atomic write)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_wide_codes_map_says_pca(tmp_path, mnist):
    text = _write(tmp_path, _image_model(latent_dim=8), mnist, history=HISTORY[:1])
    assert "PCA" in _words(text) and "8-dimensional" in text
    codes = np.random.default_rng(0).normal(size=(300, 8))
    fig = F.latent_map(codes, np.arange(300) % 3, "codes")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC1 (") and ax.get_xlabel().endswith("% var)")
    assert ax.get_ylabel().startswith("PC2 (")
    assert "PCA" in ax.get_title()


def test_vector_report_has_coordinate_map_and_no_filters(tmp_path):
    data = prepare(DataConfig(name="swiss-roll"), 0)
    model = build_model("ae", input_shape=[3], likelihood="gaussian", hidden=[16], latent_dim=2)
    text = _write(tmp_path, model, data)
    for h in HEADINGS:
        assert _heading(text, h), h
    assert "First-layer filters" not in text
    assert "true manifold coordinate" in text
    assert "First-layer" not in _words(text)
    assert text.count(IMG) >= 4  # reconstructions, losses, map by label (none), map by coordinate
    assert "figure unavailable" not in text


def test_a_failing_figure_leaves_a_note(tmp_path, mnist, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(F, "latent_map", boom)
    with caplog.at_level(logging.WARNING, logger="aekit.plots.report"):
        text = _write(tmp_path, _image_model(), mnist)
    assert "figure unavailable: RuntimeError: boom" in text
    assert any("boom" in r.getMessage() for r in caplog.records)
    assert _heading(text, "Latent map") and _heading(text, "First-layer filters")
    assert text.count(IMG) >= 3  # the other figures are still there


def test_empty_history_and_metrics_do_not_fail(tmp_path, mnist):
    text = _write(tmp_path, _image_model(), mnist, history=[], metrics={})
    assert "no training history" in text and "no metrics recorded" in text
    assert "figure unavailable" not in text


def test_save_image_grid_writes_a_png(tmp_path):
    from PIL import Image

    imgs = np.random.default_rng(0).uniform(-0.5, 1.5, size=(7, 1, 28, 28)).astype(np.float32)
    path = save_image_grid(imgs, tmp_path / "sub" / "grid.png", nrow=4, scale=1, pad=2)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        assert im.size == (4 * 30 + 2, 2 * 30 + 2)  # 4 per row, 2 rows, 2-px padding
    # RGB images and the default scale
    rgb = np.random.default_rng(1).uniform(0, 1, size=(3, 3, 8, 8))
    with Image.open(save_image_grid(rgb, tmp_path / "rgb.png", nrow=3)) as im:
        assert im.mode == "RGB" and im.size == (3 * (8 * 7 + 2) + 2, 8 * 7 + 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.png", "sub"]


def test_figures_shapes():
    fig = F.loss_curves(HISTORY)
    axes = [a for a in fig.axes if a.get_visible() and a.has_data()]
    assert sorted(a.get_title() for a in axes) == ["loss", "recon"]
    assert all(a.get_yscale() == "log" for a in axes)
    assert len(axes[0].lines) == 2 + 1  # train, validation, one stage boundary
    fig = F.filters(np.random.default_rng(0).normal(size=(10, 3 * 5 * 6)), (3, 5, 6), n=64)
    assert sum(a.has_data() for a in fig.axes) == 10 and len(fig.axes) == 12  # rows of 4
    fig = F.latent_map(np.linspace(0, 1, 50)[:, None], None, "1-D")
    assert "jitter" in fig.axes[0].get_ylabel()
    fig = F.reconstructions(np.zeros((5, 40)), np.ones((5, 40)), n=10)
    assert sum(a.has_data() for a in fig.axes) == 4
    assert isinstance(F.fig_to_base64_png(fig), str)


# ---- what the history figures plot -------------------------------------------------------------

# a VAE with a KL warm-up (β is a term of its loss, but a schedule's value) and a cosine learning rate
VAE_HISTORY = [
    {"stage": "train", "epoch": e, "beta": b, "kl": kl, "loss": r + b * kl, "recon": r, "val_recon": r + 5, "val_kl": kl,
     "val_beta": 1.0, "val_loss": r + 5 + kl, "lr": lr, "epoch_time_s": 1.0, "samples_per_s": 900.0}
    for e, (b, kl, r, lr) in enumerate([(0.1, 30.0, 200.0, 1e-3), (0.5, 20.0, 150.0, 5e-4), (1.0, 15.0, 130.0, 1e-4)], 1)
]
# an AAE: three phases, the discriminator's accuracy among its terms, a constant learning rate
AAE_HISTORY = [
    {"stage": "train", "epoch": e, "discriminator/disc": d, "discriminator/disc_acc": acc, "discriminator/loss": d,
     "generator/gen": g, "generator/loss": g, "reconstruction/loss": r, "reconstruction/recon": r, "loss": r,
     "val_recon": r + 3, "val_disc": d, "val_gen": g, "val_loss": r + 3, "lr": 1e-3, "epoch_time_s": 1.0, "samples_per_s": 9.0}
    for e, (d, acc, g, r) in enumerate([(1.3, 0.7, 0.7, 300.0), (1.1, 0.8, 0.9, 250.0)], 1)
]


def _titles(fig) -> list[str]:
    return [a.get_title() for a in fig.axes if a.get_visible() and a.has_data()]


def test_loss_curves_plot_loss_terms_only():
    # β (a schedule's value the VAE logs as a term) and the learning rate are not losses
    titles = _titles(F.loss_curves(VAE_HISTORY))
    assert sorted(titles) == ["kl", "loss", "recon"], titles
    # accuracies are not losses either; a phase's loss that is its only term is drawn once, named in the title
    titles = _titles(F.loss_curves(AAE_HISTORY))
    assert not [t for t in titles if "_acc" in t], titles
    assert titles == ["loss\n(= reconstruction/loss, reconstruction/recon)", "discriminator/disc\n(= discriminator/loss)",
                      "generator/gen\n(= generator/loss)"]
    fig = F.loss_curves(AAE_HISTORY)
    assert all(len(a.lines) == 2 for a in fig.axes if a.has_data())  # the validation figure beside each (val_disc ...)


def test_schedules_and_accuracies_have_figures_of_their_own():
    cols = F.history_columns(VAE_HISTORY)
    assert cols.schedules == ["beta", "lr"] and cols.accuracies == [] and "val_beta" not in cols.losses
    fig = F.schedule_curves(VAE_HISTORY)
    axes = [a for a in fig.axes if a.has_data()]
    assert [a.get_title() for a in axes] == ["β, the KL weight (beta)", "learning rate (lr)"]
    assert list(axes[0].lines[0].get_ydata()) == [0.1, 0.5, 1.0] and axes[0].get_ylim()[0] == 0
    assert axes[1].get_yscale() == "linear"  # the rate spans a factor of 10: linear (log beyond a factor of 20)
    fig = F.schedule_curves([dict(r, lr=r["lr"] / 10 if i == 2 else r["lr"]) for i, r in enumerate(VAE_HISTORY)])
    assert [a for a in fig.axes if a.has_data()][1].get_yscale() == "log"
    fig = F.accuracy_curves(AAE_HISTORY)
    (ax,) = [a for a in fig.axes if a.has_data()]
    assert ax.get_title() == "discriminator/disc_acc" and ax.get_yscale() == "linear"
    assert ax.get_ylim() == pytest.approx((-0.02, 1.02))
    with pytest.raises(ValueError, match="accuracies"):
        F.accuracy_curves(VAE_HISTORY)
    # something to show: a schedule value, or a learning rate that changes; not a constant rate alone
    assert F.has_schedules(VAE_HISTORY) and not F.has_schedules(AAE_HISTORY) and not F.has_schedules(HISTORY[:1])
    assert F.has_schedules(HISTORY)  # 1e-3 then 5e-4


def test_stage_boundaries_are_marked_in_every_history_figure():
    hist = [dict(r, stage="warm-up" if i == 0 else "main", disc_acc=0.5 + 0.1 * i) for i, r in enumerate(VAE_HISTORY)]
    for fig in (F.loss_curves(hist), F.schedule_curves(hist), F.accuracy_curves(hist)):
        for ax in (a for a in fig.axes if a.has_data()):
            dotted = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
            assert len(dotted) == 1 and dotted[0].get_xdata()[0] == 1.5
            assert {t.get_text() for t in ax.texts} == {"warm-up", "main"}


def test_report_sections_for_schedules_and_accuracies(tmp_path, mnist):
    text = _write(tmp_path, _image_model(), mnist, name="vae.html", history=VAE_HISTORY)
    assert _heading(text, "Schedules") and not _heading(text, "Accuracies")
    assert text.index("<h2>Loss curves</h2>") < text.index("<h2>Schedules</h2>")
    text = _write(tmp_path, _image_model(), mnist, name="aae.html", history=AAE_HISTORY)
    assert _heading(text, "Accuracies") and not _heading(text, "Schedules")
    assert "Learning rate 0.001 throughout" in text
    assert "figure unavailable" not in text


def test_list_metrics_are_bar_charts_warnings_a_box_units_a_table(tmp_path, mnist):
    metrics = {"test_recon": 118.1, "test_kl_per_dim": [0.12, 3.4, 0.0, 2.5], "test_per_class": [1.0, 2.0, 3.0],
               "warnings": ["latent dimension 3 is inactive <KL 0>"], "n_params": 51234,
               "units": {"loss terms": "per example; nats", "mse": "per value"}}
    text = _write(tmp_path, _image_model(), mnist, metrics=metrics)
    body = re.search(r'<section id="metrics">(.*?)</section>', text, flags=re.S).group(1)
    table = re.search(r"<table>(.*?)</table>", body, flags=re.S).group(1)
    assert "[" not in table and "0.12" not in table  # no raw list in the table
    assert "test_recon" in table and "51,234" in table
    assert "warnings" not in table and "units" not in table
    # each list: a bar chart under the table, the per-dimension one said to be so
    for key in ("test_kl_per_dim", "test_per_class"):
        assert f"<h3>{key}</h3>" in body and f'<img alt="{key}" src="{IMG}' in body
    assert "One bar per latent dimension (z1, z2, z3, z4), on the test split." in body
    assert "One bar per entry (index 0, 1, 2), on the test split." in body
    # the warnings first, in a box, escaped
    assert body.index('class="warning"') < body.index("<table>")
    assert "latent dimension 3 is inactive &lt;KL 0&gt;" in body
    # the units as a table of their own
    assert "<h3>Units</h3>" in body and "<td>mse</td><td>per value</td>" in body
    assert "figure unavailable" not in text
    # no warnings: no box
    text = _write(tmp_path, _image_model(), mnist, name="quiet.html", metrics={"test_recon": 1.0, "warnings": []})
    assert 'class="warning"' not in text and "warnings" not in _words(text).split("<main>")[1].split("Configuration")[0]


def test_a_list_metric_that_cannot_be_drawn_leaves_a_note(tmp_path, mnist, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("no bars")

    monkeypatch.setattr(F, "bar_chart", boom)
    with caplog.at_level(logging.WARNING, logger="aekit.plots.report"):
        text = _write(tmp_path, _image_model(), mnist, metrics={"test_recon": 1.0, "test_kl_per_dim": [1.0, 2.0]})
    assert "figure unavailable: RuntimeError: no bars" in text
    assert any("no bars" in r.getMessage() for r in caplog.records)
    assert _heading(text, "Loss curves") and "test_recon" in text
