"""``aekit tour``: a small tour (a few families, one epoch on 1,000 digits) read back from its page
and its numbers; reuse, resume and refusal of run folders; the command end to end and its errors.
The whole default tour is marked slow."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.tasks.tour import check_folder, parse_families, plan, tour
from aekit.tasks.tour_figures import FIGURES, TourRuns, linear_pca_numbers
from conftest import assert_user_error, cli

SMALL = ["linear-ae", "denoising-ae", "vae", "aae"]
HEADINGS = ["Reconstructions", "Latent maps: AE vs VAE vs AAE", "The VAE's 2-D manifold", "Code size: |z| = 2 / 5 / 20",
            "Denoising: before and after", "Sparse codes: activations", "First-layer filters",
            "CVAE analogies: style fixed, label changed", "AAE codes under a 10-Gaussian mixture and a swiss roll",
            "Linear AE vs PCA: same subspace, different basis"]
# drawn from the runs of SMALL; the others need families SMALL leaves out
DRAWN = {"Reconstructions", "The VAE's 2-D manifold", "Denoising: before and after", "First-layer filters",
         "Linear AE vs PCA: same subspace, different basis"}




@pytest.fixture
def no_run_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run's own report.html costs seconds of matplotlib; the tour page does not need it."""
    import aekit.run

    monkeypatch.setattr(aekit.run, "_report", lambda *a, **k: None)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small tour shared by the read-only tests: four families, one epoch on 1,000 digits."""
    import aekit.run

    out = tmp_path_factory.mktemp("tour") / "tour"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(aekit.run, "_report", lambda *a, **k: None)
        page = tour(out, families=SMALL, epochs=1, limit=1000, progress=False)
    assert page == out / "tour.html"
    return out


def sections(page: str) -> dict[str, str]:
    return {html_heading(h): body for h, body in re.findall(r'<section id="[^"]+">\n<h2>(.*?)</h2>\n(.*?)</section>', page, re.S)}


def html_heading(h: str) -> str:
    return h.replace("&#x27;", "'").replace("&amp;", "&")


def test_the_table_has_a_row_per_family_with_finite_numbers(small):
    numbers = json.loads((small / "tour.json").read_text())
    assert numbers["families"] == SMALL
    runs = numbers["runs"]
    assert set(runs) == {*SMALL, "vae-z2"}  # vae-z2: the VAE's 2-D run for the manifold figure
    for name, r in runs.items():
        m = r["measures"]
        for key in ("test_mse", "test_knn_accuracy", "n_params", "train_time_s"):
            assert math.isfinite(m[key]), (name, key, m[key])
        assert 0 <= m["test_knn_accuracy"] <= 1 and m["n_params"] > 0 and m["train_time_s"] > 0
    assert math.isfinite(runs["vae"]["measures"]["test_nll"]) and runs["vae"]["measures"]["nll_k"] == 20
    assert "test_nll" not in runs["aae"]["measures"]  # no density: no NLL
    assert runs["linear-ae"]["epochs"] == 20 and runs["vae"]["epochs"] == 1  # the linear AE's quick setting
    page = (small / "tour.html").read_text()
    table = sections(page)["Comparison"]
    rows = re.findall(r"<tr(?: class=\"variant\")?><td>(?:<a [^>]*>)?([^<]+)", table)
    assert rows == ["linear-ae", "denoising-ae", "vae", "vae-z2", "aae"]
    # the row's number is the run's own metric
    vae_row = re.search(r"<tr><td>vae</td>(.*?)</tr>", table).group(1)
    assert f"{runs['vae']['measures']['test_mse']:,.4f}" in vae_row
    assert f"{runs['vae']['measures']['test_nll']:,.1f}" in vae_row


def test_every_figure_section_is_there_with_a_caption(small):
    page = (small / "tour.html").read_text()
    secs = sections(page)
    assert [h for h in secs if h in HEADINGS] == HEADINGS
    assert len(FIGURES) == len(HEADINGS)
    for h in HEADINGS:
        body = secs[h]
        if h in DRAWN:
            assert re.search(r'<figure><img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"><figcaption>Lecture: .+ '
                             r'Figure: .+</figcaption></figure>', body), (h, body[:300])
        else:
            assert "<img" not in body, h
            assert re.search(r'<p class="caption">Lecture: .+</p>', body), h
            assert re.search(r"Not drawn: needs (the|one of the) runs? ", body) and "--families left out" in body, body
    numbers = json.loads((small / "tour.json").read_text())["figures"]
    assert {h for h, f in numbers.items() if f["drawn"]} == DRAWN
    # the families left out are named on the page, none silently
    for fam in ("ae", "sparse-ae", "cvae", "m1m2", "aae-semi"):
        assert re.search(rf"<tr><td>{re.escape(fam)}</td><td>left out by --families</td>", secs["Families"]), fam


def test_images_are_embedded_and_nothing_is_fetched(small):
    page = (small / "tour.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == len(DRAWN) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert not re.search(r'href="(?!#|runs/)', page)  # only anchors and the runs' own reports


def test_the_linear_ae_spans_pca_s_subspace(small):
    fig = json.loads((small / "tour.json").read_text())["figures"]["Linear AE vs PCA: same subspace, different basis"]
    angles = np.array(fig["numbers"]["angles_deg"])
    assert len(angles) == 16
    assert np.median(angles) < 5 and angles.mean() < 12, angles
    assert fig["numbers"]["random_mean_angle_deg"] > 70  # a random 16-D subspace is far away
    # the page's figures are the run's: recomputed from the folder, the same
    runs = TourRuns({"linear-ae": small / "runs" / "linear-ae"},
                    {"linear-ae": json.loads((small / "tour.json").read_text())["runs"]["linear-ae"]["measures"]}, ["linear-ae"])
    again = linear_pca_numbers(runs)
    np.testing.assert_allclose(again["angles_deg"], angles, atol=1e-6)
    # a different basis: no decoder column is one PCA direction
    assert np.abs(again["cosines"]).max() < 0.99


def test_aekit_evaluate_gives_the_table_s_numbers(small, capsys):
    m = json.loads((small / "tour.json").read_text())["runs"]["vae"]["measures"]
    rc, out, err = cli(capsys, "evaluate", small / "runs" / "vae", "--metrics", "knn", "--nll", "--k", "20", "--json")
    assert rc == 0, err
    ev = json.loads(out)
    for key in ("test_mse", "test_knn_accuracy", "test_nll"):
        assert ev[key] == pytest.approx(m[key], rel=1e-6), key


def test_a_second_tour_reuses_the_finished_runs(small):
    before = {p: p.stat().st_mtime_ns for p in small.glob("runs/*/model.safetensors")}
    tour(small, families=SMALL, epochs=1, limit=1000, progress=False)
    numbers = json.loads((small / "tour.json").read_text())
    assert {r["action"] for r in numbers["runs"].values()} == {"reuse"}
    assert {p: p.stat().st_mtime_ns for p in small.glob("runs/*/model.safetensors")} == before


def test_the_command_end_to_end_then_resume_and_refusals(tmp_path, capsys, no_run_reports):
    out = tmp_path / "t"
    rc, stdout, err = cli(capsys, "tour", "--out", out, "--families", "linear-ae", "--epochs", "1", "--limit", "500", "--quiet")
    assert rc == 0, err
    assert f"tour page: {out / 'tour.html'}" in stdout
    assert (out / "tour.html").exists() and (out / "runs" / "linear-ae" / "tour-run.json").exists()
    # more epochs: the finished run continues to the new total (linear-ae: 4 × 6 = 24)
    tour(out, families="linear-ae", epochs=6, limit=500, progress=False)
    numbers = json.loads((out / "tour.json").read_text())
    assert numbers["runs"]["linear-ae"]["action"] == "resume"
    hist = (out / "runs" / "linear-ae" / "history.csv").read_text().strip().splitlines()
    assert len(hist) - 1 == 24
    # other settings, or fewer epochs than done: refused before anything is trained, naming what differs
    rc, _, err = cli(capsys, "tour", "--out", out, "--families", "linear-ae", "--epochs", "6", "--limit", "500", "--seed", "1")
    assert_user_error(rc, err, "other settings", "seed", "delete")
    rc, _, err = cli(capsys, "tour", "--out", out, "--families", "linear-ae", "--epochs", "1", "--limit", "500")
    assert_user_error(rc, err, "24 epochs", "more than")
    assert len((out / "runs" / "linear-ae" / "history.csv").read_text().strip().splitlines()) - 1 == 24


def test_an_interrupted_tour_goes_on_where_it_stopped(tmp_path, capsys, monkeypatch, no_run_reports):
    from conftest import interrupt_on_call

    from aekit.models.base import Autoencoder

    forward = Autoencoder.forward
    out = tmp_path / "t"
    calls = interrupt_on_call(monkeypatch, 40)  # Ctrl-C in the linear AE's third epoch
    rc, _, err = cli(capsys, "tour", "--out", out, "--families", "linear-ae", "--epochs", "1", "--limit", "500", "--quiet")
    assert rc == 130 and "run the same aekit tour command again" in err, err
    assert calls["n"] == 40 and not (out / "tour.html").exists()
    assert (out / "runs" / "linear-ae" / "checkpoints" / "last.safetensors").exists()
    monkeypatch.setattr(Autoencoder, "forward", forward)
    tour(out, families="linear-ae", epochs=1, limit=500, progress=False)
    numbers = json.loads((out / "tour.json").read_text())
    assert numbers["runs"]["linear-ae"]["action"] == "resume"
    assert len((out / "runs" / "linear-ae" / "history.csv").read_text().strip().splitlines()) - 1 == 20


def test_bad_input_is_an_error_with_a_fix(tmp_path, capsys):
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--families", "ae,vea")
    assert_user_error(rc, err, "unknown family 'vea'", "did you mean 'vae'")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--families", ",")
    assert_user_error(rc, err, "no families")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--epochs", "0")
    assert_user_error(rc, err, "epochs must be >= 1")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--limit", "10")
    assert_user_error(rc, err, "limit")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--nll-k", "0")
    assert_user_error(rc, err, "nll_k")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "x", "--quick", "--epochs", "3", "--limit", "2000")
    assert_user_error(rc, err, "quick", "drop --quick")
    assert not (tmp_path / "x").exists()  # nothing written
    # a folder holding a run the tour did not make is left alone
    foreign = tmp_path / "y" / "runs" / "linear-ae" / "checkpoints"
    foreign.mkdir(parents=True)
    (foreign / "last.safetensors").write_bytes(b"not the tour's")
    rc, _, err = cli(capsys, "tour", "--out", tmp_path / "y", "--families", "linear-ae")
    assert_user_error(rc, err, "did not make")
    assert (foreign / "last.safetensors").read_bytes() == b"not the tour's"


def test_families_and_plan():
    assert parse_families("vae, ae") == ["ae", "vae"]  # the registry's order
    with pytest.raises(AekitError, match="unknown family"):
        parse_families(["ae", "nope"])
    specs, notes = plan(parse_families("m1m2"), 3, None, 0, Path("t"))
    assert [s.name for s in specs] == ["vae", "vae-z2", "m1m2"] and "vae was added" in notes[0]
    m1m2 = specs[-1]
    assert m1m2.options["m1_run"] == str(Path("t") / "runs" / "vae")
    assert m1m2.record()["options"]["m1_run"] == "<the tour's vae run>"  # the folder may move
    assert check_folder(m1m2, Path("t-does-not-exist")) == "train"


@pytest.mark.slow
def test_the_default_tour(tmp_path):
    """The whole default tour: every family, every figure drawn, the linear AE on PCA's subspace."""
    from aekit.models import all_specs

    page = tour(tmp_path / "tour", progress=False)
    numbers = json.loads((page.parent / "tour.json").read_text())
    assert numbers["families"] == [s.name for s in all_specs()] and numbers["left_out"] == []
    assert all(f["drawn"] for f in numbers["figures"].values()), {h: f["not_drawn"] for h, f in numbers["figures"].items()}
    angles = np.array(numbers["figures"]["Linear AE vs PCA: same subspace, different basis"]["numbers"]["angles_deg"])
    assert angles.max() < 10, angles
    for name, r in numbers["runs"].items():
        assert math.isfinite(r["measures"]["test_mse"]) and math.isfinite(r["measures"]["test_knn_accuracy"]), name
    assert numbers["runs"]["ae"]["measures"]["test_knn_accuracy"] > 0.9
    assert numbers["wall_time_s"] < 900
