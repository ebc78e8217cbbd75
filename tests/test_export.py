"""ONNX export (``aekit export``, ``aekit.export_onnx``): the graphs run with onnxruntime and match
the model's own encode/decode within 1e-5 for MLP, conv and recurrent nets, a VAE and label-decoding
models, at several batch sizes; the metadata; the command end to end; refusals that leave the run
folder as it was.

Tiny runs trained for one epoch on real data (the embedded MNIST sample, ECG5000 heartbeats), plus
untrained models for the network variants (normalisations, upsampling, pooling, LSTM, autoregressive
decoders): the export is about the graph, not the weights' quality. Measured |onnx − torch| is below
1e-6 for all of them; 1e-5 leaves room for other CPUs' kernels.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit import export as E
from aekit.errors import AekitError
from aekit.models import get_spec

from conftest import assert_user_error, cli

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

ATOL = 1e-5
TINY = dict(latent_dim=4, epochs=1, limit=500, progress=False, quiet=True)


def _train(tmp_path_factory: pytest.TempPathFactory, name: str, data: str, **kw) -> Path:
    return aekit.train_run(name, data, out=tmp_path_factory.mktemp("export") / name, **{**TINY, **kw})


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, "ae", "mnist-sample", hidden=[32])


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, "ae", "mnist-sample", net="conv", channels=[4, 8], norm="batch")


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, "vae", "mnist-sample", hidden=[32])


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, "cvae", "mnist-sample", hidden=[32])


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, "ae", "ecg5000", net="rnn", hidden=[8], limit=200)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from aekit.data import load_raw

    raw = load_raw("mnist-sample")
    return raw.x_test[:64].astype(np.float32), raw.y_test[:64]


def _build(name: str, shape: tuple[int, ...], likelihood: str = "bernoulli", **kw):
    """An untrained model with a non-trivial input scaling (the graph must carry it)."""
    torch.manual_seed(0)
    model = get_spec(name).build(input_shape=list(shape), likelihood=likelihood, **kw)
    model.input_shift.uniform_(-0.2, 0.2)
    model.input_scale.uniform_(0.5, 2.0)
    return model.eval()


def _padded(x: np.ndarray) -> np.ndarray:
    """Sequences NaN-padded at the end to assorted lengths (the first kept whole)."""
    x = np.array(x, dtype=np.float32)
    T = x.shape[1]
    for i in range(1, len(x)):
        x[i, max(1, T - (i * 37) % T):] = np.nan
    return x


def assert_matches(model, paths: dict[str, Path], x: np.ndarray, labels: np.ndarray | None = None,
                   sizes: tuple[int, ...] = (1, 7, 64)) -> dict[str, float]:
    """Both graphs against encode/decode at several batch sizes (the batch axis is dynamic)."""
    worst = {}
    for part, path in paths.items():
        sess = E.session(path)
        diffs = []
        for n in sizes:
            xb = x[:n]
            z = np.asarray(model.encode(xb))
            if part == "encoder":
                got, ref = E.run_onnx(sess, xb), z
            else:
                lab = None if labels is None else labels[:n]
                got, ref = E.run_onnx(sess, z, lab), np.asarray(model.decode(z, label=lab))
            assert got.shape == ref.shape == (len(xb), *((model.cfg.latent_dim,) if part == "encoder" else model.input_shape))
            assert got.dtype == np.float32
            diffs.append(E.max_abs_diff(got, ref))
        worst[part] = max(diffs)
        assert worst[part] < ATOL, (part, diffs)
    return worst


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


# ---- the graphs match PyTorch ----------------------------------------------------------------------

def test_mlp_ae_both_parts_into_the_run_folder(mlp_run, digits):
    x, _ = digits
    paths = aekit.export_onnx(mlp_run)
    assert paths == {"encoder": mlp_run / "export" / "encoder.onnx", "decoder": mlp_run / "export" / "decoder.onnx"}
    assert_matches(aekit.load(mlp_run), paths, x)


def test_metadata_describes_the_graph(mlp_run, tmp_path):
    import onnx

    paths = E.export_onnx(mlp_run, tmp_path, opset=17)
    enc, dec = (onnx.load(str(paths[p])) for p in ("encoder", "decoder"))
    meta = {p.key: p.value for p in enc.metadata_props}
    assert meta["aekit_version"] == aekit.__version__ and meta["part"] == "encoder" and meta["model"] == "ae"
    assert json.loads(meta["input_shape"]) == [1, 28, 28] and meta["latent_dim"] == "4" and meta["net"] == "mlp"
    assert meta["opset"] == "17" and enc.opset_import[0].version == 17 and meta["exporter"] == E.DEFAULT_EXPORTER
    assert json.loads(meta["classes"]) == list(range(10)) and meta["data"] == "mnist-sample"
    assert list(json.loads(meta["inputs"])) == ["x"] and "data's units" in json.loads(meta["inputs"])["x"]
    assert [i.name for i in enc.graph.input] == ["x"] and [o.name for o in enc.graph.output] == ["z"]
    assert enc.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch axis
    onnx.checker.check_model(enc, full_check=True)
    onnx.checker.check_model(dec, full_check=True)
    dmeta = {p.key: p.value for p in dec.metadata_props}
    assert dmeta["part"] == "decoder" and list(json.loads(dmeta["outputs"])) == ["x_mean"]
    assert [i.name for i in dec.graph.input] == ["z"]


def test_conv_ae(conv_run, digits):
    x, _ = digits
    paths = E.export_onnx(conv_run, part="both")
    assert_matches(aekit.load(conv_run), paths, x)


@pytest.mark.parametrize("kw", [
    dict(norm="batch", upsample="bilinear", pooling="max"),
    dict(norm="group", upsample="nearest", pooling="avg", kernel=4),  # even kernel: the decoder crops
    dict(norm="layer", upsample="transpose", stride=3, hidden=[16]),
], ids=["batch-bilinear-max", "group-nearest-avg-k4", "layer-transpose-s3"])
def test_conv_variants(kw, tmp_path):
    model = _build("ae", (3, 20, 18), likelihood="gaussian", net="conv", channels=[4, 8], latent_dim=5, **kw)
    x = np.random.default_rng(0).random((64, 3, 20, 18), dtype=np.float32)
    assert_matches(model, E.export_onnx(model, tmp_path), x)


def test_vae_exports_the_posterior_mean(vae_run, digits):
    x, _ = digits
    model = aekit.load(vae_run)
    assert_matches(model, E.export_onnx(vae_run), x)


def test_label_decoder_takes_a_label_input(cvae_run, digits, tmp_path):
    import onnx

    x, y = digits
    model = aekit.load(cvae_run)
    paths = E.export_onnx(cvae_run, tmp_path)
    assert [i.name for i in onnx.load(str(paths["decoder"])).graph.input] == ["z", "label"]
    assert_matches(model, paths, x, labels=y.astype(np.int64))
    z = np.asarray(model.encode(x[:5]))
    for k in (0, 9):  # one class for every code
        assert E.max_abs_diff(E.run_onnx(paths["decoder"], z, np.full(5, k)), model.decode(z, label=k)) < ATOL
    with pytest.raises(AekitError, match="label"):
        E.run_onnx(paths["decoder"], z)
    meta = {p.key: p.value for p in onnx.load(str(paths["decoder"])).metadata_props}
    assert meta["n_classes"] == "10" and "label" in json.loads(meta["inputs"])


def test_m1m2_carries_m1_in_both_graphs(vae_run, digits, tmp_path):
    x, y = digits
    run = aekit.train_run("m1m2", "mnist-sample", out=tmp_path / "m1m2", m1_run=str(vae_run), hidden=[32], **TINY)
    paths = E.export_onnx(run, tmp_path / "onnx")
    assert_matches(aekit.load(run), paths, x, labels=y.astype(np.int64))


@pytest.mark.parametrize("name", ["aae-supervised", "aae-semi"])
def test_aae_label_decoders(name, tmp_path):
    model = _build(name, (1, 8, 8), hidden=[16], latent_dim=3, n_classes=3, disc_hidden=[8])
    assert E.decoder_takes_label(model)
    x = np.random.default_rng(1).random((64, 1, 8, 8), dtype=np.float32)
    assert_matches(model, E.export_onnx(model, tmp_path), x, labels=np.arange(64) % 3)


def test_aae_conditional_decoder_takes_no_label():
    assert not E.decoder_takes_label(_build("aae-conditional", (1, 8, 8), hidden=[16], latent_dim=2, n_classes=3))


def test_rnn_gru_on_real_sequences_with_nan_padding(rnn_run):
    x, _ = E.check_examples(rnn_run, 64)[:2]
    model = aekit.load(rnn_run)
    paths = E.export_onnx(rnn_run)
    assert_matches(model, paths, x)
    padded = _padded(x)  # variable lengths: the packed path in PyTorch, the masked one in the graph
    assert np.isnan(padded).any()
    assert_matches(model, {"encoder": paths["encoder"]}, padded)


@pytest.mark.parametrize("kw", [
    dict(cell="lstm", bidirectional=True, hidden=[8, 6]),
    dict(cell="gru", teacher_forcing=0.5, reverse_target=True, hidden=[8]),  # autoregressive decoder, unrolled
])
def test_rnn_variants(kw, tmp_path):
    model = _build("vae", (15, 2), likelihood="gaussian", net="rnn", latent_dim=3, **kw)
    x = _padded(np.random.default_rng(2).standard_normal((64, 15, 2)).astype(np.float32))
    assert_matches(model, E.export_onnx(model, tmp_path), x)


def test_dynamo_exporter(mlp_run, digits, tmp_path):
    pytest.importorskip("onnxscript")
    x, _ = digits
    paths = E.export_onnx(mlp_run, tmp_path, exporter="dynamo")
    assert_matches(aekit.load(mlp_run), paths, x)


def test_api_errors(mlp_run, tmp_path):
    model = aekit.load(mlp_run)
    with pytest.raises(AekitError, match="out_dir"):
        E.export_onnx(model)
    with pytest.raises(AekitError, match="unknown part 'coder'"):
        E.export_onnx(mlp_run, tmp_path, part="coder")
    with pytest.raises(AekitError, match="opsets 13 to 20"):
        E.export_onnx(mlp_run, tmp_path, opset=21)
    with pytest.raises(AekitError, match="opsets 18 to 23"):
        E.export_onnx(mlp_run, tmp_path, opset=17, exporter="dynamo")
    with pytest.raises(AekitError, match="unknown exporter"):
        E.export_onnx(mlp_run, tmp_path, exporter="jit")
    with pytest.raises(AekitError, match="run folder or an aekit model"):
        E.export_onnx(torch.nn.Linear(2, 2), tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_exporter_failure_is_a_clear_error_and_writes_nothing(mlp_run, tmp_path, monkeypatch):
    def fail(*a, **k):
        raise RuntimeError("Exporting the operator 'aten::frobnicate' to ONNX opset version 18 is not supported.\nmore")

    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(AekitError) as e:
        E.export_onnx(mlp_run, tmp_path / "out")
    assert "aten::frobnicate" in e.value.message and "torchscript" in e.value.message and "--exporter dynamo" in e.value.hint
    assert not (tmp_path / "out").exists()


# ---- the command --------------------------------------------------------------------------------------

def test_cli_end_to_end(mlp_run, capsys):
    rc, out, err = cli(capsys, "export", mlp_run)
    assert rc == 0, err
    assert err == ""
    assert str(mlp_run / "export" / "encoder.onnx") in out and str(mlp_run / "export" / "decoder.onnx") in out
    assert "opset 18" in out and "max |onnx - torch|" in out and "mnist-sample (test)" in out
    assert "x float32 (N, 1, 28, 28) -> z float32 (N, 4)" in out


def test_cli_json_part_out_opset(cvae_run, tmp_path, capsys):
    rc, out, err = cli(capsys, "export", cvae_run, "--part", "decoder", "--out", tmp_path / "dec", "--opset", "17",
                       "--examples", "8", "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["opset"] == 17 and info["format"] == "onnx" and list(info["files"]) == ["decoder"]
    assert list(info["inputs"]["decoder"]) == ["z", "label"] and info["max_abs_diff"]["decoder"] < ATOL
    assert info["checked_on"] == "8 examples of mnist-sample (test)"
    assert [p.name for p in (tmp_path / "dec").iterdir()] == ["decoder.onnx"]


def test_cli_no_check(rnn_run, tmp_path, capsys):
    rc, out, err = cli(capsys, "export", rnn_run, "--out", tmp_path, "--part", "encoder", "--no-check")
    assert rc == 0, err
    assert "not checked" in out and (tmp_path / "encoder.onnx").exists() and not (tmp_path / "decoder.onnx").exists()


@pytest.mark.parametrize("argv,needles", [
    (["--part", "middle"], ["unknown part 'middle'", "both, decoder, encoder"]),
    (["--format", "tflite"], ["unknown export format 'tflite'", "onnx"]),
    (["--opset", "9"], ["opsets 13 to 20"]),
    (["--exporter", "jit"], ["unknown exporter"]),
    (["--no-check", "--examples", "4"], ["--examples", "--no-check"]),
    (["--examples", "0"], ["--examples must be >= 1"]),
])
def test_cli_bad_options_leave_the_run_as_it_was(mlp_run, capsys, argv, needles):
    before = snapshot(mlp_run)
    rc, _, err = cli(capsys, "export", mlp_run, *argv)
    assert_user_error(rc, err, *needles)
    assert snapshot(mlp_run) == before


def test_cli_missing_run_and_out_file(mlp_run, tmp_path, capsys):
    rc, _, err = cli(capsys, "export", tmp_path / "nowhere")
    assert_user_error(rc, err, "not a run folder")
    assert not (tmp_path / "nowhere").exists()
    file = tmp_path / "taken"
    file.write_text("x")
    before = snapshot(mlp_run)
    for out in (file, file / "sub"):
        rc, _, err = cli(capsys, "export", mlp_run, "--out", out)
        assert_user_error(rc, err, "is a file")
    assert snapshot(mlp_run) == before and file.read_text() == "x"


def test_cli_a_failed_check_writes_nothing(mlp_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(E, "CHECK_TOLERANCE", -1.0)
    rc, _, err = cli(capsys, "export", mlp_run, "--out", tmp_path / "x")
    assert_user_error(rc, err, "differs from PyTorch", "nothing was written")
    assert not (tmp_path / "x").exists()


def test_check_tolerance_grows_with_the_values():
    assert E.within_tolerance(5e-5, 0.3) and not E.within_tolerance(2e-4, 0.3)
    assert E.within_tolerance(1e-3, 20.0) and not E.within_tolerance(3e-3, 20.0)
    assert E.max_abs_diff(np.array([1.0, np.nan]), np.array([1.0, np.nan])) == 0.0
    assert E.max_abs_diff(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == np.inf


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime"])
def test_missing_packages_name_the_extra(mlp_run, tmp_path, capsys, monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # import raises ImportError
    rc, _, err = cli(capsys, "export", mlp_run, "--out", tmp_path / "x")
    assert_user_error(rc, err, f"needs the {missing} package", "pip install 'aekit[onnx]'")
    assert not (tmp_path / "x").exists()
