"""BENCHMARKS.md is what scripts/make_benchmarks_page.py makes of the results JSON files (issue 10):
the committed page equals the rendering, every results file is shown (or listed as not shown, with a
reason), the papers' figures have sources, and the renderer's syntax, formats and errors behave."""
from __future__ import annotations

import difflib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_benchmarks_page", REPO / "scripts" / "make_benchmarks_page.py")
page = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page)


# ---- the committed page -------------------------------------------------------------------------------

def test_committed_page_is_what_the_script_makes_of_the_results():
    text, _ = page.render_page()
    committed = page.OUTPUT.read_text(encoding="utf-8")
    if text != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(keepends=True), text.splitlines(keepends=True),
                                            "BENCHMARKS.md (committed)", "BENCHMARKS.md (rendered)"))
        pytest.fail("BENCHMARKS.md is not what the template makes of benchmarks/results/*.json: run "
                    f"python scripts/make_benchmarks_page.py\n{diff[:6000]}")


def test_every_results_file_is_on_the_page_or_listed_as_not_shown():
    _, used = page.render_page()
    present = {p.name for p in page.RESULTS.glob("*.json")}
    named = set(re.findall(r"[\w.+-]+\.json", page.TEMPLATE.read_text(encoding="utf-8")))
    assert named <= present, f"the template names results files that do not exist: {sorted(named - present)}"
    assert used <= present
    unaccounted = present - used - set(page.NOT_SHOWN)
    assert not unaccounted, f"results files neither on the page nor in NOT_SHOWN (with a reason): {sorted(unaccounted)}"
    assert not set(page.NOT_SHOWN) & used, "a file listed in NOT_SHOWN is on the page"
    assert set(page.NOT_SHOWN) <= present, "NOT_SHOWN lists a file that is not in benchmarks/results/"
    assert all(str(reason).strip() for reason in page.NOT_SHOWN.values())


def test_published_figures_name_their_source_and_agree_with_the_results_files():
    pub = yaml.safe_load(page.PUBLISHED.read_text(encoding="utf-8"))
    for group, entry in pub.items():
        assert str(entry.get("source", "")).strip(), f"published.yaml: group {group!r} names no source"

    def results(name):
        return json.loads((page.RESULTS / name).read_text(encoding="utf-8"))

    recorded = results("oneclass_mnist.json")["published_roc_auc_percent"]
    for name in ("deep_svdd", "dcae"):
        assert pub["oneclass"][name]["per_digit"] == recorded[name]["per_digit"]
        assert round(sum(recorded[name]["per_digit"]) / 10, 2) == recorded[name]["mean"]
    for name in ("ocsvm", "kde"):
        assert pub["oneclass"][name]["mean"] == recorded[name]["mean"]
    for file, group in (("pretraining_rifai.json", "rifai2011"), ("pretraining_vincent.json", "vincent2010")):
        for row, r in results(file)["rows"].items():
            if "published_error_percent" in r:
                assert pub[group][row] == r["published_error_percent"], (file, row)


# ---- the renderer, on a small synthetic template ------------------------------------------------------

RESULT = {
    "benchmark": "toy", "commit": "abc1234def5678-dirty", "commit_at_start": "0123456789ab",
    "command": "python benchmarks/toy.py --epochs 2", "date": "2026-01-02",
    "machine": {"cpu": "Toy CPU", "cores": 2, "cpu_bf16": True, "torch_threads": 1, "torch": "2.0", "python": "3.11"},
    "a": {"b": 3.14159, "n": 60000, "rel": -0.0017331, "half": 310.5, "lr": 0.0001, "count": 6},
    "s": {"mean": 0.98, "sd": 0.0225},
    "rows": [{"net": "mlp", "digit": 0, "v": 0.5}, {"net": "conv", "digit": 0, "v": 0.25},
             {"net": "mlp", "digit": 1, "v": 0.75}],
    "runs": {"x": [{"epoch_times_s": [9.0, 1.0, 3.0]}, {"epoch_times_s": [9.0, 2.0, 4.0]}]},
    "ae": [{"data": "mnist", "code": 8, "net": "mlp", "test_mse": 0.019126, "n_params": 1071384},
           {"data": "mnist", "code": 8, "net": "conv", "test_mse": 0.021462, "n_params": 90889}],
    "cells": [{"corruption": "pixels", "kind": "pixels", "level": 0.0, "seeds": [0, 1], "probe_error_pct": {"mean": 7.9, "sd": 0.1},
               "psnr_corrupted_db": None, "psnr_restored_db": None},
              {"corruption": "masking:0", "kind": "masking", "level": 0.0, "seeds": [0, 1], "probe_error_pct": {"mean": 9.05, "sd": 0.2},
               "psnr_corrupted_db": None, "psnr_restored_db": {"mean": 23.46, "sd": 0.04}},
              {"corruption": "gaussian:0.5", "kind": "gaussian", "level": 0.5, "seeds": [0, 1],
               "probe_error_pct": {"mean": 7.5, "sd": 0.25}, "psnr_corrupted_db": {"mean": 6.02, "sd": 0.0},
               "psnr_restored_db": {"mean": 18.98, "sd": 0.1}}],
}


@pytest.fixture
def toy(tmp_path: Path):
    """render(template) -> the page, from tmp results/r.json and a tmp published.yaml."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "r.json").write_text(json.dumps(RESULT))
    published = tmp_path / "published.yaml"
    published.write_text(yaml.safe_dump({"paper": {"source": "Someone 2020, Table 1", "fig": 1.5,
                                                   "pair": {"mean": 11.97, "sd": 1.71}}}))

    def render(template: str) -> str:
        path = tmp_path / "t.md"
        path.write_text(template)
        return page.render_page(path, results, published)[0]

    render.paths = (results, published, tmp_path)
    return render


@pytest.mark.parametrize("placeholder, expected", [
    ("{{r.json:a.b | .2f}}", "3.14"),
    ("{{r.json:a.n | ,}}", "60,000"),
    ("{{r.json:a.rel | +.2%}}", "−0.17%"),      # typographic minus
    ("{{r.json:a.half | .0f}}", "311"),          # half-up, as a reader rounds (format() gives 310)
    ("{{r.json:s | .3f}}", "0.980 ± 0.023"),     # a {mean, sd} pair; 0.0225 rounds up
    ("{{r.json:a.lr | sci}}", "1e-4"),
    ("{{r.json:a.count | Word}}", "Six"),
    ("{{r.json:commit | short}}", "abc1234-dirty"),
    ("{{r.json:rows[net=conv,digit=0].v | .2f}}", "0.25"),
    ("{{r.json:rows[*net=mlp].v | .2f}}", "0.50, 0.75"),
    ("{{r.json:rows[1].net}}", "conv"),
    ("{{published:paper.pair | .2f}}", "11.97 ± 1.71"),
    ("{{= ${r.json:a.b} * 2 | .1f}}", "6.3"),
    ("{{= 1 - ${published:paper.fig} / 3 | .0%}}", "50%"),
    ("{{= repeat_medians(${r.json:runs.x}) | .1f}}", "2.0, 3.0"),
    ("{{= min(after_first(${r.json:runs.x})) | .1f}}–{{= max(after_first(${r.json:runs.x})) | .1f}}", "1.0–4.0"),
    ("{{= sum(${r.json:rows[*net=mlp].v} > 0.6)}} of {{= len(${r.json:rows})}}", "1 of 3"),
    ("{{= where(${r.json:rows[*].v} < 0.6, ${r.json:rows[*].net})}}", "mlp, conv"),
])
def test_formats_paths_and_expressions(toy, placeholder, expected):
    assert toy(f"x {placeholder} y\n") == f"x {expected} y\n"


def test_use_check_and_comment_lines_render_nothing(toy):
    template = "{{# a note}}\n{{use r.json}}\nA {{a.b | .1f}} B\n{{check ${a.b} > 3 and ${rows[*].v} < 1}}\nC\n"
    assert toy(template) == "A 3.1 B\nC\n"


def test_a_claim_that_no_longer_holds_fails(toy):
    with pytest.raises(page.PageError, match="no longer holds"):
        toy("{{use r.json}}\n{{check ${rows[*].v} > 0.3}}\n")  # one element is 0.25
    with pytest.raises(page.PageError, match="no longer holds"):
        toy("{{check ${r.json:a.b} > 3 and ${r.json:rows[*].v} > 0.3}}\n")


def test_provenance_machine_and_table_renderers(toy):
    text = toy("{{provenance r.json}}\n\n{{machine r.json}}\n\n{{table networks r.json}}\n")
    assert text.startswith("Measured: `python benchmarks/toy.py --epochs 2` at commit `abc1234` with uncommitted "
                           "changes (started at `0123456`), 2026-01-02, on 2 cores (reported as \"Toy CPU\", with "
                           "native bf16), no GPU, 1 torch thread, torch 2.0, Python 3.11 (`r.json`).\n")
    assert "| data | MLP test MSE (params) | conv test MSE (params) |" in text
    assert "| mnist | 0.01913 (1,071,384) | 0.02146 (90,889) |" in text
    text = toy("{{table denoising r.json}}\n")  # the lowest mean error of a model in bold, not the pixels'
    assert "| raw pixels (784), no model | 2 | 7.90 ± 0.10 | — | — |" in text
    assert "| none (plain AE) | 2 | 9.05 ± 0.20 | — | 23.46 ± 0.04 (clean input) |" in text
    assert "| Gaussian σ = 0.5 | 2 | **7.50 ± 0.25** | 6.02 | 18.98 ± 0.10 |" in text


def test_pretraining_table_gives_mean_sd_each_seed_and_the_layer_figures(toy):
    results = toy.paths[0]
    none = {"seeds": [0, 1], "test_error_percent": 1.9, "test_error_sd": 0.1, "n_finetune": 54000,
            "per_seed": [{"seed": 0, "test_error_percent": 1.83}, {"seed": 1, "test_error_percent": 1.97}]}
    cae = {"seeds": [0, 1], "published_error_percent": 1.14, "test_error_percent": 1.7, "test_error_sd": 0.05,
           "jacobian_frobenius": 10.04, "jacobian_frobenius_sd": 0.2, "saturated_fraction": 0.371, "saturated_fraction_sd": 0.004,
           "per_seed": [{"seed": 0, "test_error_percent": 1.665}, {"seed": 1, "test_error_percent": 1.735}]}
    (results / "p.json").write_text(json.dumps({"rows": {"none (same net, no pretraining)": none, "CAE": cae}}))
    assert toy("{{table pretraining p.json}}").splitlines() == [
        "| pretraining | test error % (mean ± sd) | seed 0, 1 | published % | mean ‖∂h/∂x‖_F (test) | saturated units |",
        "|---|---:|---:|---:|---:|---:|",
        "| none (same net, no pretraining) | 1.90 ± 0.10 | 1.83 / 1.97 | — | — | — |",
        "| CAE | **1.70 ± 0.05** | 1.67 / 1.74 | 1.14 | 10.04 ± 0.20 | 0.371 ± 0.004 |"]
    one = {"seeds": [0], "test_error_percent": 1.62, "test_error_sd": None, "published_error_percent": 1.28,
           "per_seed": [{"seed": 0, "test_error_percent": 1.62}]}
    (results / "p.json").write_text(json.dumps({"rows": {"SDAE-3": one}}))  # one seed: no spread, no seed column
    assert toy("{{table pretraining p.json}}").splitlines()[::2] == ["| pretraining | test error % (mean) | published % |",
                                                                   "| SDAE-3 | **1.62** | 1.28 |"]


def test_provenance_of_a_file_several_processes_wrote_says_its_command_is_the_last_ones():
    doc = {"command": "python benchmarks/toy.py --seeds 1", "commit": "abc1234", "date": "2026-01-02",
           "machine": {"cores": 2}, "writers": [{"command": "python benchmarks/toy.py --seeds 0"}, {"command": "python benchmarks/toy.py --seeds 1"}]}
    text = page.renderers.provenance([("t.json", doc)])
    assert "`python benchmarks/toy.py --seeds 1`" in text and "the last of 2 processes that wrote it" in text
    assert "processes" not in page.renderers.provenance([("t.json", {**doc, "writers": doc["writers"][:1]})])


def test_provenance_gives_the_wall_time_a_results_file_records():
    doc = {"command": "python benchmarks/toy.py", "commit": "abc1234", "date": "2026-01-02", "machine": {"cores": 2}}
    assert "wall time" not in page.renderers.provenance([("t.json", doc)])  # files from before wall_s was recorded
    assert "; 2 h 05 min of wall time (`t.json`)." in page.renderers.provenance([("t.json", {**doc, "wall_s": 7490.0})])
    resumed = page.renderers.provenance([("t.json", {**doc, "wall_s": 42.4, "command": "python benchmarks/toy.py --resume"})])
    assert "; 42 s of wall time in its last session (a resumed run's earlier sessions not counted)" in resumed
    assert [page.renderers.duration(s) for s in (89.6, 90, 3569, 3570)] == ["90 s", "2 min", "59 min", "1 h 00 min"]


def test_provenance_of_some_cells_of_a_shared_file_names_the_processes_that_wrote_them(toy):
    """Two sections read one file that two kinds of process filled (M2, then M1+M2): each says its own command."""
    results, _, _ = toy.paths
    m2 = {"command": "python semi.py --models cvae", "commit": "aaaaaaa1", "date": "2026-01-01",
          "machine": {"cores": 2}, "cells": ["cvae/100/s0", "cvae/100/s1"]}
    m1m2 = {**m2, "command": "python semi.py --models m1m2", "commit": "bbbbbbb2", "date": "2026-01-02",
            "machine": {"cores": 16, "gpu": "H100"}, "cells": ["m1m2/100/s0"]}
    (results / "s.json").write_text(json.dumps({**m1m2, "cells": None, "writers": [m2, m1m2]}))
    assert toy("{{provenance s.json cells=cvae/}}") == (
        "Measured: `python semi.py --models cvae` at commit `aaaaaaa`, 2026-01-01, on 2 cores (reported as \"unknown CPU\"), "
        "no GPU (the `cvae/` cells of `s.json`).")
    text = toy("{{provenance s.json cells=m1m2/}}")
    assert "--models m1m2` at commit `bbbbbbb`, 2026-01-02, on 16 cores" in text and "GPU H100" in text and "cvae" not in text
    two = {**m1m2, "command": "python semi.py --models m1m2 --seeds 1", "cells": ["m1m2/100/s1"], "provenance": "a note"}
    (results / "s.json").write_text(json.dumps({"writers": [m2, m1m2, two]}))
    assert toy("{{provenance s.json cells=m1m2/}}").splitlines() == [
        "Measured (the `m1m2/` cells of `s.json`, one process each):", "",
        "- `python semi.py --models m1m2` at commit `bbbbbbb`, 2026-01-02, on 16 cores (reported as \"unknown CPU\"), GPU H100.",
        "- `python semi.py --models m1m2 --seeds 1` at commit `bbbbbbb`, 2026-01-02, on 16 cores (reported as \"unknown CPU\"), "
        "GPU H100; see its entry in `writers` for how the commit and command were recorded."]
    every = toy("{{provenance s.json cells=*}}").splitlines()  # the whole file, one process each
    assert every[0] == "Measured (every cell of `s.json`, one process each):" and len(every) == 5
    assert "--models cvae`" in every[2] and "--models m1m2`" in every[3] and "--models m1m2 --seeds 1`" in every[4]
    with pytest.raises(page.PageError, match=r"s.json: no writer measured a cell starting with 'aae/' \(cells: cvae/100/s0"):
        toy("{{provenance s.json cells=aae/}}")
    with pytest.raises(page.PageError, match="cells=PREFIX goes with provenance and one results file"):
        toy("{{machine s.json cells=cvae/}}")


def test_reconstruction_table_groups_by_data_set_bolds_the_lowest_and_shows_pending_cells():
    doc = {"rows": [{"data": "mnist", "model": "pca", "net": "-", "code": 2, "test_mse": 0.0557},
                    {"data": "fashion-mnist", "model": "pca", "net": "-", "code": 2, "test_mse": 0.0461},
                    {"data": "mnist", "model": "ae", "net": "mlp", "code": 2, "test_mse": 0.0374},
                    {"data": "fashion-mnist", "model": "ae", "net": "mlp", "code": 2, "test_mse": 0.0267}],
           "pending": ["mnist/ae/mlp/8", "mnist/ae/conv/2", "mnist/ae/conv/8"]}
    text = page.renderers.TABLES["reconstruction"](lambda name: doc, page.fmt, "x.json")
    assert text.splitlines() == [
        "| data | model | net | code 2 | code 8 |", "|---|---|---|---:|---:|",
        "| mnist | pca | — | 55.70 | pending |", "| mnist | ae | mlp | **37.40** | pending |",
        "| mnist | ae | conv | pending | pending |",
        "| fashion-mnist | pca | — | 46.10 | pending |", "| fashion-mnist | ae | mlp | **26.70** | pending |"]


@pytest.mark.parametrize("template, words", [
    ("{{r.json:a.nope}}", ["t.md:2", "r.json", "no key 'nope' at a", "there: b, n"]),
    ("{{r.json:rows[net=gru].v}}", ["r.json", "0 elements match [net=gru]"]),
    ("{{missing.json:a.b}}", ["t.md:2", "missing.json: no such file"]),
    ("{{published:paper.nope}}", ["published", "no key 'nope' at paper"]),
    ("{{a.b}}", ["names no source"]),
    ("{{= evil(${r.json:a.b})}}", ["unknown function 'evil'"]),
    ("{{= ${r.json:a.b}.__class__}}", ["not allowed"]),
    ("{{table nope r.json}}", ["no table renderer 'nope'"]),
    ("{{r.json:a | .2f}}", ["r.json:a", "group of values"]),
])
def test_a_placeholder_that_cannot_be_read_names_the_file_and_key(toy, template, words):
    with pytest.raises(page.PageError) as e:
        toy(f"line one\n{template}\n")
    for w in words:
        assert w in str(e.value)


def test_check_mode_prints_a_diff_and_the_default_mode_writes(toy, capsys):
    results, published, tmp = toy.paths
    (tmp / "t.md").write_text("Figure: {{r.json:a.b | .2f}}\n")
    out = tmp / "PAGE.md"
    out.write_text("Figure: 3.15\n")
    args = ["--template", str(tmp / "t.md"), "--results", str(results), "--published", str(published),
            "--output", str(out)]
    assert page.main([*args, "--check"]) == 1
    assert "-Figure: 3.15\n+Figure: 3.14" in capsys.readouterr().out
    assert out.read_text() == "Figure: 3.15\n"
    assert page.main(args) == 0
    assert out.read_text() == "Figure: 3.14\n"
    assert page.main([*args, "--check"]) == 0
    (tmp / "t.md").write_text("{{r.json:nope}}\n")
    assert page.main(args) == 2
    assert "no key 'nope'" in capsys.readouterr().err
    assert out.read_text() == "Figure: 3.14\n"
