"""The benchmark harness (``aekit benchmark``): the table registry, option checks, and the quick
variants as smoke tests of the harness and the scripts (they check that a table runs and writes its
JSON with provenance and published figures, not the figures themselves)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aekit.bench import TABLES, find_repo, machine, run_table, table_args
from aekit.errors import AekitError
from conftest import REPO, assert_user_error, cli

QUICK_RESULTS = REPO / "benchmarks" / "results" / "quick"
# the quick variants that take over a minute on 2 busy cores (the Rifai table evaluates six
# pretrainings' Jacobians on the 10,000 test digits): run with -m slow
SLOW_QUICK = {"pretraining-rifai"}


def test_every_table_names_an_existing_script_and_distinct_outputs() -> None:
    for name, t in TABLES.items():
        assert (REPO / "benchmarks" / t.script).is_file(), name
        assert f"{name}.json" not in (*t.outputs, *t.quick_outputs), name  # the table's file would replace its script's
        for key, ref in t.published.items():
            assert {"value", "unit", "status", "source"} <= set(ref), (name, key)


def test_the_list_shows_every_table_and_its_published_figures(capsys) -> None:
    rc, out, err = cli(capsys, "benchmark", "--list")
    assert rc == 0 and all(name in out for name in TABLES) and "86.76 nats" in out
    rc, out, err = cli(capsys, "benchmark", "--list", "--json")
    assert rc == 0 and json.loads(out)["vae-nll"]["published"]["iwae50_nll"]["value"] == 84.78


def test_options_a_table_does_not_take_are_errors(capsys) -> None:
    assert table_args(TABLES["semi-supervised"], quick=True, seeds=[0, 1])[-2:] == ["--seeds", "0,1"]
    assert table_args(TABLES["ecg-anomaly"], seeds=[0, 1])[-3:] == ["--seeds", "0", "1"]
    assert table_args(TABLES["training-speed"], device="cuda")[-2:] == ["--device", "cuda"]
    assert table_args(TABLES["vae-nll"], device="cpu")[-2:] == ["--device", "cpu"]
    with pytest.raises(AekitError, match="takes no seeds"):
        table_args(TABLES["retrieval-mnist"], seeds=[0])
    with pytest.raises(AekitError, match="one seed at a time"):
        table_args(TABLES["one-class"], seeds=[0, 1])
    with pytest.raises(AekitError, match="no --device"):
        table_args(TABLES["one-class"], device="cuda")
    rc, out, err = cli(capsys, "benchmark", "one-class", "--device", "cuda")
    assert_user_error(rc, err, "no --device")
    rc, out, err = cli(capsys, "benchmark", "vae-nl")
    assert_user_error(rc, err, "vae-nll")
    rc, out, err = cli(capsys, "benchmark", "one-class", "--seeds", "a,b")
    assert_user_error(rc, err, "comma-separated integers")
    rc, out, err = cli(capsys, "benchmark")
    assert_user_error(rc, err, "no table given")
    rc, out, err = cli(capsys, "benchmark", "--list", "--quick")
    assert_user_error(rc, err, "--list takes no table")


def test_outside_a_checkout_it_says_where_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AEKIT_REPO", raising=False)
    with pytest.raises(AekitError, match="no aekit checkout"):
        find_repo(tmp_path)
    assert find_repo(REPO / "src" / "aekit") == REPO


def test_machine_names_the_cpu_its_flags_and_torch() -> None:
    m = machine()
    assert m["cpu"] and m["cores"] >= 1 and m["torch"].startswith("2.") and isinstance(m["cpu_flags"], list)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_QUICK else n for n in TABLES])
def test_quick_variant_runs_and_records_everything(name: str) -> None:
    path = run_table(name, quick=True, repo=REPO, echo=False)
    assert path == QUICK_RESULTS / f"{name}.json"
    res = json.loads(path.read_text())
    assert res["table"] == name and res["quick"] is True and res["wall_s"] > 0
    assert res["command"].startswith("python benchmarks/" + TABLES[name].script)
    assert res["commit"] and res["machine"]["cpu"] and res["published"] == TABLES[name].published
    outputs = res["outputs"]
    assert set(outputs) == set(TABLES[name].quick_outputs or TABLES[name].outputs)
    for out in outputs.values():  # the script's own results: its figures with their provenance
        assert out["commit"] and out["command"] and out["machine"]


def test_resume_continues_the_tables_runs_instead_of_training_them_again(capsys) -> None:
    with pytest.raises(AekitError, match="no --resume"):
        table_args(TABLES["one-class"], resume=True)
    rc, out, err = cli(capsys, "benchmark", "retrieval-mnist", "--quick", "--resume")
    assert_user_error(rc, err, "no --resume")
    assert table_args(TABLES["vae-nll"], quick=True, resume=True)[-1] == "--resume"
    history = QUICK_RESULTS / "runs" / "nll-mnist-vae-1ep" / "history.csv"
    run_table("vae-nll", quick=True, repo=REPO, echo=False)
    first = history.read_text()
    path = run_table("vae-nll", quick=True, repo=REPO, echo=False, resume=True)
    res = json.loads(path.read_text())
    assert "--resume" in res["command"] and res["aekit_command"].endswith("--resume")
    # restored from the checkpoint: the epoch (and its measured time) is the first invocation's, not a new one
    assert history.read_text() == first
    assert set(res["outputs"]["nll_1ep.json"]["results"]) == {"mnist/vae", "mnist/iwae5", "binarized-mnist/vae", "binarized-mnist/iwae5"}
    # the evaluation kept beside each run's copy says where it came from
    kept = json.loads((QUICK_RESULTS / "nll" / "nll-mnist-vae-1ep" / "evaluation.json").read_text())
    assert kept["commit"] == res["outputs"]["nll_1ep.json"]["commit"] and kept["command"].startswith("python benchmarks/")


def test_processes_sharing_the_semi_supervised_table_fill_one_file(tmp_path: Path, shared_data: Path) -> None:
    """One process per seed under --resume (as on a GPU, several at once): each keeps the others' rows,
    and a seed trained again replaces its row instead of adding one."""
    import os
    import subprocess
    import sys

    def semi(seed: int) -> dict:
        cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "semi", "--recipe", "pyro", "--models", "cvae",
               "--labels", "100", "--seeds", str(seed), "--epochs", "1", "--limit", "256", "--results", str(tmp_path),
               "--device", "cpu", "--resume"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        res = json.loads((tmp_path / "semi_supervised_pyro_1ep.json").read_text())
        assert all(r["commit"] == res["commit"] for r in res["summary"]["cvae"]["100"]["runs"])  # each row says its commit
        return res["summary"]["cvae"]["100"]

    semi(1)
    both = semi(0)
    assert [r["seed"] for r in both["runs"]] == [0, 1] and both["seeds"] == 2 and both["sd_error_pct"] is not None
    again = semi(0)  # finished: resumed and evaluated again, the same row
    assert [r["seed"] for r in again["runs"]] == [0, 1] and again["runs"] == both["runs"]
    res = json.loads((tmp_path / "semi_supervised_pyro_1ep.json").read_text())
    assert [w["cells"] for w in res["writers"]] == [["cvae/100/s1"], ["cvae/100/s0"], ["cvae/100/s0"]]


def test_a_note_on_how_a_shared_file_was_recorded_stays_with_the_writer_it_describes(tmp_path: Path) -> None:
    """A results file's hand-written ``provenance`` note (e.g. "trained at X, evaluated again at the
    commit above") is about its top-level commit and command, which are its last writer's: when another
    process writes the file, the note moves into that writer's entry instead of being dropped."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import common
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    path = tmp_path / "t.json"
    first = {"commit": "a" * 40, "command": "python semi.py --seeds 0", "cells": ["cvae/100/s0"], "started": "t0", "pid": 1}
    path.write_text(json.dumps({**first, "provenance": "trained at commit b, evaluated at the commit above", "writers": [first]}))
    listed = common.writers(path, ["m1m2/100/s0"])
    assert listed[0] == {**first, "provenance": "trained at commit b, evaluated at the commit above"}
    assert "provenance" not in listed[1] and listed[1]["cells"] == ["m1m2/100/s0"]
    # a file from before the list: its top-level fields are its one writer, the note with them
    path.write_text(json.dumps({"commit": "c" * 40, "command": "an earlier run", "provenance": "see the log"}))
    assert [(w["command"], w.get("provenance")) for w in common.writers(path, ["x"])] == [("an earlier run", "see the log"),
                                                                                          (common.command(), None)]


def test_semi_supervised_table_selects_the_epoch_on_validation_error(tmp_path: Path, shared_data: Path) -> None:
    """--select val-error: each row says its selected epoch and validation error, and the last epoch's
    test error beside the selected one's, in a results file of its own."""
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "semi", "--recipe", "pyro-batch", "--models", "cvae",
           "--labels", "100", "--seeds", "0", "--epochs", "3", "--limit", "512", "--results", str(tmp_path), "--device", "cpu",
           "--select", "val-error"]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    res = json.loads((tmp_path / "semi_supervised_pyro-batch_3ep_val.json").read_text())
    assert not (tmp_path / "semi_supervised_pyro-batch_3ep.json").exists() and res["selection"].startswith("the epoch of least")
    cell = res["summary"]["cvae"]["100"]
    (row,) = cell["runs"]
    history = (tmp_path / "runs" / "semi-pyro-batch-cvae-100-s0-3ep-val" / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    val_errors = [float(line.split(",")[header.index("val_error")]) for line in history[1:]]
    assert row["selected_epoch"] == 1 + val_errors.index(min(val_errors)) and cell["selected_epochs"] == [row["selected_epoch"]]
    assert row["val_error_pct"] == pytest.approx(100 * min(val_errors))
    assert 0 < row["last_epoch_test_error_pct"] < 100 and cell["mean_last_epoch_error_pct"] == row["last_epoch_test_error_pct"]
    assert row["config"]["monitor"] == "error" and row["config"]["early_stopping"] == 3
    assert row["val_error_pct_by_epoch"] == pytest.approx([100 * e for e in val_errors], abs=1e-3)
    assert res["figure"] == "semi_supervised_pyro-batch_3ep_val.png" and (tmp_path / res["figure"]).stat().st_size > 0


def test_the_makhzani_recipe_widens_the_semi_supervised_aae_and_refuses_the_other_models(tmp_path: Path, shared_data: Path) -> None:
    """--recipe makhzani: aae-semi with two 1000-unit layers in every network (the rest of its preset
    kept); a model the recipe does not apply to is refused before anything is written."""
    import os
    import subprocess
    import sys

    def semi(models: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "semi", "--recipe", "makhzani", "--models", models,
               "--labels", "100", "--seeds", "0", "--epochs", "1", "--limit", "256", "--results", str(tmp_path), "--device", "cpu"]
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    refused = semi("cvae,aae-semi")
    assert refused.returncode != 0 and "--recipe makhzani does not apply to cvae" in refused.stderr
    assert "--models aae-semi" in refused.stderr and not any(tmp_path.iterdir())
    assert semi("aae-semi").returncode == 0
    res = json.loads((tmp_path / "semi_supervised_makhzani_1ep.json").read_text())
    (row,) = res["summary"]["aae-semi"]["100"]["runs"]
    assert row["config"]["hidden"] == [1000, 1000] and row["config"]["disc_hidden"] == [1000, 1000]
    import aekit

    saved = aekit.load_config(tmp_path / "runs" / "semi-makhzani-aae-semi-100-s0-1ep").to_dict()["model"]
    assert saved["hidden"] == [1000, 1000] and saved["disc_hidden"] == [1000, 1000]
    assert saved["latent_dim"] == 10 and 0 < row["test_error_pct"] < 100  # the preset's code kept


def test_a_longer_m1_gets_its_own_runs_and_table_and_a_mismatched_m1_is_refused(tmp_path: Path, shared_data: Path) -> None:
    """--m1-epochs N: M1+M2 on an M1 of N epochs, in run folders and a results file named for it (never
    the default M1's); an M1 folder trained for another length is refused, not reused as if it were
    the asked one; the M1 options without m1m2 are refused."""
    import os
    import shutil
    import subprocess
    import sys

    def semi(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "semi", "--recipe", "pyro", "--labels", "100",
               "--seeds", "0", "--epochs", "1", "--limit", "256", "--results", str(tmp_path), "--device", "cpu", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    done = semi("--models", "m1m2", "--m1-epochs", "1")
    assert done.returncode == 0, done.stderr
    res = json.loads((tmp_path / "semi_supervised_pyro_1ep_m1-1ep.json").read_text())
    assert res["m1_epochs"] == 1 and 0 < res["summary"]["m1m2"]["100"]["runs"][0]["test_error_pct"] < 100
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["semi-m1-vae-1ep", "semi-pyro-m1m2-100-s0-1ep-m1-1ep"]
    import aekit

    assert aekit.load_config(runs / "semi-pyro-m1m2-100-s0-1ep-m1-1ep").to_dict()["model"]["m1_run"] == str(runs / "semi-m1-vae-1ep")
    # --retrain-m1 trains it again from scratch, under --resume too (not the finished run evaluated again)
    history = (runs / "semi-m1-vae-1ep" / "history.csv").read_text()
    assert semi("--models", "m1m2", "--m1-epochs", "1", "--retrain-m1", "--resume").returncode == 0
    assert (runs / "semi-m1-vae-1ep" / "history.csv").read_text() != history
    # an M1 folder of the default name holding another length (as an earlier version wrote it): refused
    shutil.copytree(runs / "semi-m1-vae-1ep", runs / "semi-m1-vae")
    refused = semi("--models", "m1m2")
    assert refused.returncode != 0 and "was trained 1 epochs, not --m1-epochs 30" in refused.stderr and "--retrain-m1" in refused.stderr
    assert "rename it semi-m1-vae-1ep and pass --m1-epochs 1" in refused.stderr
    assert not (tmp_path / "semi_supervised_pyro_1ep.json").exists()
    for args, says in ((("--models", "cvae", "--m1-epochs", "5"), "--m1-epochs applies to M1+M2's M1 only, but --models cvae has no m1m2"),
                       (("--models", "cvae", "--retrain-m1"), "--retrain-m1 applies to M1+M2's M1 only"),
                       (("--models", "m1m2", "--m1-epochs", "0"), "--m1-epochs 0: M1 needs at least one epoch")):
        bad = semi(*args)
        assert bad.returncode != 0 and says in bad.stderr and "fix:" in bad.stderr, args
    assert not (tmp_path / "semi_supervised_pyro_1ep.json").exists()


def test_the_denoising_sweep_at_the_papers_sizes_never_replaces_the_default_table(tmp_path: Path, shared_data: Path) -> None:
    """bench_denoising.py --net vincent (one layer of sigmoid units, tied weights) and --code: their own
    results file and run folders, beside the default sweep's, never over them; a bad code is refused."""
    import os
    import subprocess
    import sys

    def sweep(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(REPO / "benchmarks" / "bench_denoising.py"), "--epochs", "1", "--corruptions", "masking:0.25",
               "--no-pixels", "--limit", "256", "--results", str(tmp_path), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    bad = sweep("--code", "0")
    assert bad.returncode == 2 and "--code: a positive number" in bad.stderr and not list(tmp_path.iterdir())
    assert sweep().returncode == 0
    assert sweep("--net", "vincent", "--code", "16").returncode == 0
    assert sweep("--code", "8").returncode == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "denoising_sweep_1ep.json", "denoising_sweep_code8_1ep.json", "denoising_sweep_vincent16_1ep.json"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "denoise-code8-masking-0.25", "denoise-masking-0.25", "denoise-vincent16-masking-0.25"]
    import aekit

    layer = aekit.load_config(tmp_path / "runs" / "denoise-vincent16-masking-0.25").to_dict()["model"]
    assert (layer["hidden"], layer["latent_dim"], layer["code_activation"], layer["tied"]) == ([], 16, "sigmoid", True)
    default = aekit.load_config(tmp_path / "runs" / "denoise-masking-0.25").to_dict()["model"]
    assert (default["hidden"], default["latent_dim"], default["tied"]) == ([512, 256], 32, False)
    res = json.loads((tmp_path / "denoising_sweep_vincent16_1ep.json").read_text())
    assert res["protocol"]["model_options"]["tied"] is True and "784-16-784" in res["protocol"]["model"]
    (row,) = res["rows"]
    assert row["run"] == "runs/denoise-vincent16-masking-0.25" and 0 < row["probe_error_pct"] < 100


def test_processes_sharing_the_reconstruction_table_fill_one_file(tmp_path: Path, shared_data: Path) -> None:
    """Table 2 split across processes under --resume (one per model, as on a GPU): each keeps the
    others' rows and pending cells; rows come in the table's order and say their commit and device."""
    import os
    import subprocess
    import sys

    def recon(*args: str) -> dict:
        cmd = [sys.executable, str(REPO / "benchmarks" / "bench_reconstruction.py"), "--epochs", "1", "--data", "mnist",
               "--limit", "512", "--results", str(tmp_path), "--device", "cpu", "--resume", *args]
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        return json.loads((tmp_path / "reconstruction_1ep.json").read_text())

    recon("--models", "ae", "--nets", "mlp", "--codes", "2")
    res = recon("--models", "pca", "--codes", "2,8")
    assert [(r["model"], r["code"]) for r in res["rows"]] == [("pca", 2), ("pca", 8), ("ae", 2)] and res["pending"] == []
    assert all(r["commit"] == res["commit"] for r in res["rows"]) and res["rows"][-1]["device"] == "cpu"
    assert "| mnist | ae | mlp | " in res["markdown"]
    # each process is listed with what it measured (the top-level provenance is only the last one's)
    assert [w["cells"] for w in res["writers"]] == [["mnist/ae/mlp/2"], ["mnist/pca/-/2", "mnist/pca/-/8"]]
    assert "--models ae" in res["writers"][0]["command"] and res["writers"][1]["command"] == res["command"]
    assert all(w["machine"]["cores"] >= 1 and w["commit"] == res["commit"] for w in res["writers"])
    # a file from before the list: its top-level provenance is the first writer, cells unknown
    old = {k: v for k, v in res.items() if k != "writers"}
    (tmp_path / "reconstruction_1ep.json").write_text(json.dumps({**old, "command": "an earlier run"}))
    again = recon("--models", "pca", "--codes", "2")
    assert [(w["command"], w["cells"]) for w in again["writers"]][0] == ("an earlier run", None) and len(again["writers"]) == 2

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_reconstruction import merged
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    # a process stopped before its cell ended left it pending: another process's rows keep it so
    stopped = tmp_path / "stopped.json"
    stopped.write_text(json.dumps({"rows": res["rows"], "pending": ["mnist/vae/conv/32"]}))
    rows, pending = merged(stopped, [{**res["rows"][0], "test_mse": 0.5}], ["mnist/pca/-/2"])
    assert pending == ["mnist/vae/conv/32"] and [r["test_mse"] for r in rows][0] == 0.5 and len(rows) == 3


def test_the_peers_table_can_write_one_model_to_a_file_of_its_own(tmp_path: Path, shared_data: Path) -> None:
    """bench_peers.py --name: more repeats of one model go beside the whole table, not over it; a name
    that is not a plain file name is refused before anything trains."""
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_peers.py"), "--epochs", "1", "--repeats", "1", "--models", "ae",
           "--variants", "aekit", "--limit", "256", "--results", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    bad = subprocess.run([*cmd, "--name", "../peers"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "--name takes a file name" in bad.stderr and not list(tmp_path.iterdir())
    subprocess.run([*cmd, "--name", "peers_speed_ae"], check=True, capture_output=True, env=env)
    assert [p.name for p in tmp_path.iterdir()] == ["peers_speed_ae.json"]
    res = json.loads((tmp_path / "peers_speed_ae.json").read_text())
    assert res["models"] == ["ae"] and "--name peers_speed_ae" in res["command"] and res["results"]["ae"]["runs"]["aekit"]


def test_the_conv_speed_table_runs_without_the_hand_loop_it_compares_to(tmp_path: Path, shared_data: Path) -> None:
    """bench_conv_speed.py --variants without `hand`: every variant still gets its precision and test
    BCE, the ratios are left empty and the aim is not measured (it failed with a KeyError after training)."""
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_conv_speed.py"), "--epochs", "1", "--repeats", "1",
           "--variants", "aekit", "--limit", "256", "--results", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "ratio n/a" in out.stdout and "aim met: not measured" in out.stdout
    res = json.loads((tmp_path / "conv_speed.json").read_text())
    s = res["summary"]["aekit"]
    assert s["precision"] == "fp32" and s["test_bce_mean"] > 0 and s["ratio_to_hand"] is None
    assert res["aim"]["met"] is None


def test_a_labelled_weight_gets_its_own_runs_and_table_and_is_refused_where_it_weighs_nothing(tmp_path: Path, shared_data: Path) -> None:
    """--labelled-weight W,...: M2's labelled minibatch weighted W against the unlabelled batch
    (model.labelled_weight), one table and run folder per weight, named for it (1: the recipe's own);
    refused before anything is written under a recipe of Kingma et al.'s J^α, with a model other than
    M2 (the AAE would be trained and tabled under every weight alike), or for a weight that is not a
    positive number."""
    import os
    import subprocess
    import sys

    import aekit

    def semi(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(REPO / "benchmarks" / "probabilistic.py"), "semi", "--labels", "100", "--seeds", "0",
               "--epochs", "1", "--limit", "256", "--results", str(tmp_path), "--device", "cpu", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    for args, says in ((("--recipe", "pyro", "--models", "cvae", "--labelled-weight", "0.1"),
                        "which --recipe pyro does not do (its labelled weight is Kingma et al.'s N_l/N); fix: --recipe pyro-batch"),
                       (("--recipe", "pyro-batch", "--models", "aae-semi", "--labelled-weight", "0.1"),
                        "applies to M2 (cvae, m1m2), not to aae-semi; fix: --models cvae or m1m2"),
                       (("--recipe", "pyro-batch", "--models", "cvae,aae-semi", "--labelled-weight", "0.1"),
                        "not to aae-semi; fix: --models cvae, and run aae-semi without --labelled-weight"),
                       (("--recipe", "pyro-batch", "--models", "cvae", "--labelled-weight", "0.1,0"), "a weight must be a positive number, got 0"),
                       (("--recipe", "pyro-batch", "--models", "cvae", "--labelled-weight", "heavy"), "comma-separated numbers expected")):
        refused = semi(*args)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
        assert not any(tmp_path.iterdir())
    done = semi("--recipe", "pyro-batch", "--models", "cvae", "--labelled-weight", "0.25,1")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["semi-pyro-batch-cvae-100-s0-1ep", "semi-pyro-batch-cvae-100-s0-1ep-lw-0.25"]
    for name, w in (("semi_supervised_pyro-batch_1ep_lw-0.25.json", 0.25), ("semi_supervised_pyro-batch_1ep.json", None)):
        res = json.loads((tmp_path / name).read_text())
        (row,) = res["summary"]["cvae"]["100"]["runs"]
        assert res["labelled_weight"] == w and row["config"].get("labelled_weight") == w and 0 < row["test_error_pct"] < 100
    saved = aekit.load_config(tmp_path / "runs" / "semi-pyro-batch-cvae-100-s0-1ep-lw-0.25").to_dict()["model"]
    assert saved["balance"] == "batch" and saved["labelled_weight"] == 0.25
    assert aekit.load_config(tmp_path / "runs" / "semi-pyro-batch-cvae-100-s0-1ep").to_dict()["model"]["labelled_weight"] == 1.0


def test_the_one_class_table_from_a_zero_output_bias_gets_its_own_runs_and_file(tmp_path: Path, shared_data: Path) -> None:
    """bench_oneclass.py --output-bias zero: the runs start from the networks' zero bias (their configs
    say so), beside the default table's runs and file, not over them."""
    import os
    import subprocess
    import sys

    import aekit

    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_oneclass.py"), "--digits", "1", "--nets", "mlp",
           "--mlp-epochs", "1", "--limit", "256", "--results", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in ([], ["--output-bias", "zero"]):
        out = subprocess.run([*cmd, *extra], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["oneclass_mnist_part.json",
                                                                "oneclass_mnist_part_output-bias-zero.json"]
    for name, bias in (("oneclass_mnist_part", "data"), ("oneclass_mnist_part_output-bias-zero", "zero")):
        res = json.loads((tmp_path / f"{name}.json").read_text())
        assert res["output_bias"] == bias and res["seed"] == 0 and [r["digit"] for r in res["rows"]] == [1]
    runs = tmp_path / "runs"
    assert aekit.load_config(runs / "oneclass-mlp-1").model.output_bias == "data"
    assert aekit.load_config(runs / "oneclass-mlp-1-output-bias-zero").model.output_bias == "zero"


def test_the_pretraining_table_trains_every_seed_and_gives_each_rows_mean_and_sd(tmp_path: Path, shared_data: Path) -> None:
    """bench_pretraining.py --seeds 0,1: every row trained once per seed (seed 1's runs in their own
    folders), each seed's figures kept, their mean and sample sd per row, the order within each seed,
    and the process's wall time; repeated or unparsable seeds are refused before anything trains."""
    import os
    import statistics
    import subprocess
    import sys

    import aekit

    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_pretraining.py"), "--table", "vincent", "--pretrain-epochs", "1",
           "--finetune-epochs", "1", "--limit", "256", "--results", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for bad in ("0,0", "0,x", ","):
        out = subprocess.run([*cmd, "--seeds", bad], capture_output=True, text=True, env=env)
        assert out.returncode == 2 and "--seeds: " in out.stderr and not (tmp_path / "runs").exists(), out.stderr
    out = subprocess.run([*cmd, "--seeds", "0,1"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    res = json.loads((tmp_path / "pretraining_vincent.json").read_text())
    assert res["seeds"] == [0, 1] and res["pending"] == [] and res["protocol"]["seeds"] == [0, 1] and res["wall_s"] > 0
    assert list(res["rows"]) == ["none (same net, no pretraining)", "SAE-3", "SDAE-3"]
    for label, row in res["rows"].items():
        errors = [p["test_error_percent"] for p in row["per_seed"]]
        assert row["seeds"] == [p["seed"] for p in row["per_seed"]] == [0, 1]
        assert row["test_error_percent"] == statistics.fmean(errors) and row["test_error_sd"] == statistics.stdev(errors)
    runs = {p["run"] for row in res["rows"].values() for p in row["per_seed"]}
    assert runs == {f"runs/pretraining-vincent-{n}{s}" for n in ("SAE-3", "SDAE-3") for s in ("", "-s1")}
    assert aekit.load_config(tmp_path / "runs" / "pretraining-vincent-SDAE-3-s1").train.seed == 1
    assert {s: sorted(order) for s, order in res["ranks"].items()} == {s: sorted(res["rows"]) for s in ("0", "1")}
    assert res["rows"]["SDAE-3"]["published_error_percent"] == 1.28 and "published_error_percent" not in res["rows"]["none (same net, no pretraining)"]


def test_the_pretraining_table_resumes_and_reads_back_finished_fine_tunings(tmp_path: Path, shared_data: Path) -> None:
    """bench_pretraining.py --resume: the pretrainings continue from their checkpoints and a finished
    fine-tuning of the same weights and options is read back, not trained again; other options train again."""
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_pretraining.py"), "--table", "vincent", "--pretrain-epochs", "1",
           "--limit", "256", "--results", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def bench(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
        out = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out, json.loads((tmp_path / "pretraining_vincent.json").read_text())

    _, first = bench("--finetune-epochs", "1")
    kept = {name: tmp_path / "runs" / f"pretraining-vincent-{name}" / "bench-finetune.json" for name in ("SAE-3", "SDAE-3")}
    stamps = {name: p.stat().st_mtime_ns for name, p in kept.items()}
    again, second = bench("--finetune-epochs", "1", "--resume")
    assert again.stderr.count("fine-tuning read back") == 2 and again.stderr.count("resuming from") == 2
    assert {name: p.stat().st_mtime_ns for name, p in kept.items()} == stamps
    assert second["rows"] == first["rows"] and set(first["rows"]) == {"SAE-3", "SDAE-3", "none (same net, no pretraining)"}
    longer, _ = bench("--finetune-epochs", "2", "--resume")
    assert "fine-tuning read back" not in longer.stderr
    assert all(json.loads(p.read_text())["options"]["epochs"] == 2 for p in kept.values())
