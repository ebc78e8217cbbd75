"""The full report.html of real (tiny) runs of each family, and `aekit report RUN` after the fact:
after a finished run, after an interrupted one (only checkpoints/last.safetensors), and its errors.

Each run trains 2 epochs on 600 examples of the embedded MNIST sample with one hidden layer of 32
units and 2-D codes: a few seconds each, report included.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import aekit
from conftest import interrupt_on_call
from aekit.cli import main
from aekit.models.base import Autoencoder
from aekit.plots import figures as F
from aekit.runreport import read_history
from aekit.train import TrainingInterrupted

SMALL = {"limit": 600, "epochs": 2, "batch_size": 64, "hidden": [32], "latent_dim": 2, "quiet": True}
STEPS_PER_EPOCH = 9  # limit 600, 10 % validation: 540 training rows in batches of 64
FAMILIES = {
    "ae": {},
    "vae": {"kl_schedule": "linear", "kl_anneal_steps": 12},  # β rises over the run: a schedule to show
    "cvae": {},
    "aae": {},
}
# the sections of each family's report (h2 headings; a trailing "…" matches a prefix)
COMMON = ["Metrics", "Reconstructions", "Loss curves", "Latent map", "First-layer filters", "Configuration"]
EXPECTED = {
    "ae": COMMON,
    "vae": [*COMMON, "Schedules", "Samples from the prior", "Latent manifold"],
    "cvae": [*COMMON, "Conditional samples…", "Analogies…"],
    "aae": [*COMMON, "Accuracies", "Samples from the prior", "Codes over prior samples", "Decoded lattice over the prior"],
}
NOT_EXPECTED = {
    "ae": ["Schedules", "Accuracies"],  # a constant learning rate is said in the loss curves' caption
    "vae": ["Accuracies"],
    "cvae": ["Schedules", "Accuracies"],
    "aae": ["Schedules"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {name: aekit.train_run(name, "mnist-sample", out=root / name, **SMALL, **opts) for name, opts in FAMILIES.items()}


def headings(text: str, level: int = 2) -> list[str]:
    return [html_text(h) for h in re.findall(rf"<h{level}>(.*?)</h{level}>", text, flags=re.S)]


def html_text(fragment: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def has_heading(found: list[str], want: str) -> bool:
    return any(h.startswith(want[:-1]) for h in found) if want.endswith("…") else want in found


def section(text: str, heading: str) -> str:
    m = re.search(rf"<section id=\"[^\"]+\">\s*<h2>{re.escape(heading)}</h2>(.*?)</section>", text, flags=re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def assert_self_contained(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<html") == 1
    assert "<script" not in text.lower() and "<link" not in text.lower() and "@import" not in text
    for src in re.findall(r'\ssrc="([^"]*)"', text):
        assert src.startswith("data:image/png;base64,"), src[:60]
    for href in re.findall(r'\shref="([^"]*)"', text):
        assert href.startswith("#"), href
    assert "url(" not in text.split("</style>")[0]


def assert_every_figure_drawn(text: str) -> int:
    """Every <figure> holds an inline PNG (no 'figure unavailable' notes); returns how many."""
    assert "figure unavailable" not in text and 'class="unavailable"' not in text
    figures = re.findall(r"<figure>(.*?)</figure>", text, flags=re.S)
    pngs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert len(figures) == len(pngs) > 0
    for b in pngs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    return len(pngs)


def metric_cells(text: str) -> dict[str, str]:
    """The rows of the metrics table: name → cell text."""
    body = section(text, "Metrics")
    table = re.search(r"<table>(.*?)</table>", body, flags=re.S)
    assert table, "no metrics table"
    return {html_text(k): html_text(v) for k, v in re.findall(r"<tr><th>(.*?)</th><td[^>]*>(.*?)</td></tr>", table.group(1))}


# ---- the report of each family ---------------------------------------------------------------

@pytest.mark.parametrize("family", list(FAMILIES))
def test_full_report_of_each_family(runs: dict[str, Path], family: str) -> None:
    run = runs[family]
    text = (run / "report.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    n = assert_every_figure_drawn(text)
    assert n >= len(EXPECTED[family]) - 2  # every section but the metrics and configuration has a figure
    found = headings(text)
    for h in EXPECTED[family]:
        assert has_heading(found, h), (h, found)
    for h in NOT_EXPECTED[family]:
        assert h not in found, (h, found)
    # the metrics: scalars in the table, no raw lists or dicts, units in their own table
    cells = metric_cells(text)
    assert "test_recon" in cells and "n_params" in cells
    assert not [k for k, v in cells.items() if v.startswith(("[", "{", "(")) or k.startswith(("units", "warnings"))], cells
    metrics = json.loads((run / "metrics.json").read_text())
    assert "units" in metrics and "<h3>Units</h3>" in section(text, "Metrics")
    for k, v in metrics.items():
        if isinstance(v, list) and v and k != "warnings":
            assert f'<img alt="{k}"' in section(text, "Metrics"), k  # a bar chart under the table
    # the loss curves show loss terms, the schedules the schedule values
    history = read_history(run / "history.csv")
    losses = [a.get_title() for a in F.loss_curves(history).axes if a.has_data()]
    assert not [t for t in losses if "beta" in t or "_acc" in t or t == "lr"], losses


def test_vae_report_has_the_kl_per_dimension_chart_and_schedules(runs: dict[str, Path]) -> None:
    text = (runs["vae"] / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((runs["vae"] / "metrics.json").read_text())
    assert len(metrics["test_kl_per_dim"]) == 2
    body = section(text, "Metrics")
    assert "<h3>test_kl_per_dim</h3>" in body and '<img alt="test_kl_per_dim"' in body
    assert "latent dimension" in body  # the caption says what the bars are
    assert "test_kl_per_dim" not in metric_cells(text)
    sched = section(text, "Schedules")
    assert "beta" in sched and "<img" in sched
    fig = F.schedule_curves(read_history(runs["vae"] / "history.csv"))
    beta = next(a for a in fig.axes if "beta" in a.get_title())
    y = beta.lines[0].get_ydata()
    assert y[-1] > y[0] > 0  # the linear warm-up


def test_cvae_and_aae_reports_have_their_own_figures(runs: dict[str, Path]) -> None:
    cvae = headings((runs["cvae"] / "report.html").read_text(encoding="utf-8"))
    assert any(h.startswith("Conditional samples") for h in cvae) and any(h.startswith("Analogies") for h in cvae)
    text = (runs["aae"] / "report.html").read_text(encoding="utf-8")
    acc = section(text, "Accuracies")
    assert "<img" in acc and "linear 0..1" in acc
    for h in ("Codes over prior samples", "Decoded lattice over the prior"):
        assert "<img" in section(text, h), h


# ---- aekit report RUN --------------------------------------------------------------------------

def report_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_report_again_after_a_finished_run(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "vae"
    shutil.copytree(runs["vae"], run)
    before = (run / "report.html").read_text(encoding="utf-8")
    (run / "report.html").unlink()
    rc, out, err = report_cli(capsys, run)
    assert rc == 0, err
    assert f"report of model.safetensors written to {run / 'report.html'}" in out
    after = (run / "report.html").read_text(encoding="utf-8")
    assert headings(after) == headings(before) and headings(after, 3) == headings(before, 3)
    assert metric_cells(after) == metric_cells(before)  # metrics.json as the run wrote it
    assert_self_contained(after)
    assert_every_figure_drawn(after)
    assert 'class="notice"' not in after
    # --out elsewhere leaves the run's report alone
    rc, out, err = report_cli(capsys, run, "--out", tmp_path / "elsewhere.html")
    assert rc == 0 and (tmp_path / "elsewhere.html").is_file(), err


def test_report_of_a_finished_run_without_metrics_computes_them(runs: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "ae"
    shutil.copytree(runs["ae"], run)
    (run / "metrics.json").unlink()
    rc, out, err = report_cli(capsys, run)
    assert rc == 0, err
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "test_recon" in metric_cells(text)
    assert "metrics.json was missing" in text


def test_report_of_an_interrupted_run_uses_the_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "stopped"
    with monkeypatch.context() as m:
        interrupt_on_call(m, STEPS_PER_EPOCH + 4)  # epoch 2, after 3 of its batches
        with pytest.raises(TrainingInterrupted):
            aekit.train_run("vae", "mnist-sample", out=run, **SMALL)
    assert (run / "checkpoints" / "last.safetensors").is_file()
    assert not (run / "model.safetensors").exists() and not (run / "metrics.json").exists()
    assert not (run / "report.html").exists()

    rc, out, err = report_cli(capsys, run)
    assert rc == 0, err
    assert "Traceback" not in err
    assert f"report of checkpoints/last.safetensors written to {run / 'report.html'}" in out
    text = (run / "report.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    assert_every_figure_drawn(text)
    notice = re.search(r'<p class="notice">(.*?)</p>', text, flags=re.S)
    assert notice and "Built from the last checkpoint" in notice.group(1) and "has not finished" in notice.group(1)
    assert "(last checkpoint)" in headings(text, 1)[0]
    # the checkpoint's history (the one finished epoch) and test figures computed afresh
    assert "<img" in section(text, "Loss curves") and "1 epoch" in section(text, "Loss curves")
    cells = metric_cells(text)
    assert float(cells["test_recon"]) > 0 and "test_kl" in cells
    assert cells["checkpoint"] == "last: stage 1, 1 epoch done, step 3"
    assert '<img alt="test_kl_per_dim"' in section(text, "Metrics")
    for h in EXPECTED["vae"]:
        assert has_heading(headings(text), h), h


def test_report_best_checkpoint_without_one_is_a_clear_error(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    before = (runs["ae"] / "report.html").read_bytes()
    rc, out, err = report_cli(capsys, runs["ae"], "--checkpoint", "best")
    assert rc == 2
    assert "Traceback" not in err
    assert "error:" in err and "no best checkpoint" in err and "early stopping" in err
    assert "fix:" in err and "--resume" not in err
    assert (runs["ae"] / "report.html").read_bytes() == before  # nothing written


@pytest.mark.parametrize("what", ["empty folder", "missing folder", "a file"])
def test_report_of_a_folder_that_is_not_a_run_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str) -> None:
    target = {"empty folder": tmp_path / "empty", "missing folder": tmp_path / "missing", "a file": tmp_path / "x.txt"}[what]
    if what == "empty folder":
        target.mkdir()
    elif what == "a file":
        target.write_text("not a run")
    rc, out, err = report_cli(capsys, target)
    assert rc == 2
    assert "error:" in err and "not a run folder" in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "empty" / "report.html").exists()


def test_report_of_a_run_without_weights_or_checkpoint_is_an_error(runs: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "bare"
    run.mkdir()
    shutil.copy(runs["ae"] / "config.yaml", run / "config.yaml")  # training stopped before the first checkpoint
    rc, out, err = report_cli(capsys, run)
    assert rc == 2 and "error:" in err and "neither model.safetensors nor a checkpoint" in err and "Traceback" not in err
    rc, out, err = report_cli(capsys, run, "--checkpoint", "last")
    assert rc == 2 and "no last checkpoint" in err and "--resume" not in err
    assert not (run / "report.html").exists()
