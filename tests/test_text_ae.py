"""The character-level text autoencoder: per-character accuracy in the metrics, text files as data
(data.kind=text) with the vocabulary saved in the run, `aekit encode` / `aekit reconstruct` on .txt
files, and the report's table of lines and their reconstructions."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.config import DataConfig
from aekit.data import prepare
from aekit.data.base import series_lengths
from aekit.data.text import MAX_LEN, VOCAB, encode_lines, sentences
from aekit.errors import AekitError
from aekit.evaluate import char_accuracy
from aekit.run import run_data
from aekit.runconfig import build_config, load_config

# a small GRU AE on `sentences`: ~25 s on one CPU thread, test accuracy ~0.36 (majority character ~0.18)
SMALL = dict(net="rnn", hidden=[64], latent_dim=16, bidirectional=True, epochs=8, batch_size=32, lr=1e-2, clip_grad=1.0,
             limit=1500)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text") / "run"
    logging.disable(logging.WARNING)
    try:
        aekit.train_run("ae", "sentences", out=out, progress=False, **SMALL)
    finally:
        logging.disable(logging.NOTSET)
    return out


def _majority_rate(x: np.ndarray) -> float:
    valid = ~np.isnan(x).all(-1)
    counts = np.bincount(np.nan_to_num(x, nan=-1).argmax(-1)[valid], minlength=x.shape[-1])
    return float(counts.max() / counts.sum())


def test_char_accuracy_far_above_the_majority_character(run):
    metrics = json.loads((run / "metrics.json").read_text())
    cfg = load_config(run)
    assert cfg.data.vocab == "".join(VOCAB)  # saved with the run, like the class names
    x_test = run_data(cfg).x_test
    majority = _majority_rate(x_test)
    acc = metrics["test_char_accuracy"]
    assert 0.1 < majority < 0.25  # the space
    assert acc > majority + 0.1 and acc > 1.5 * majority, (acc, majority)
    assert "char_accuracy" in metrics["units"]
    # the figure is the argmax of the reconstruction against the input, on the valid steps
    model = aekit.load(run)
    assert char_accuracy(x_test, model.reconstruct(x_test)) == pytest.approx(acc, abs=1e-6)
    assert np.isfinite(metrics["test_mse"])  # padding left out


def test_char_accuracy_leaves_the_padding_out():
    x = encode_lines(["ab", "b"], ["a", "b"], 3)
    rec = np.zeros((2, 3, 2), np.float32)
    rec[:, :, 1] = 1  # "bbb" everywhere: right at 2 of the 3 valid steps
    assert char_accuracy(x, rec) == pytest.approx(2 / 3)


def test_cli_encode_and_reconstruct_text_files(run, tmp_path, capsys):
    lines = sentences(20, seed=7)
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(lines) + "\n")
    model = aekit.load(run)
    x = encode_lines(lines, VOCAB, MAX_LEN)

    assert main(["encode", str(run), "--data", str(src), "--out", str(tmp_path / "codes.npy")]) == 0
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (20, 16)
    np.testing.assert_allclose(codes, model.encode(x), atol=1e-5)

    assert main(["reconstruct", str(run), "--data", str(src), "--out", str(tmp_path / "rec.txt")]) == 0
    rec = (tmp_path / "rec.txt").read_text().split("\n")
    assert rec[-1] == "" and len(rec) == 21
    rec = rec[:-1]
    assert [len(r) for r in rec] == [len(s) for s in lines]  # the input's lengths
    assert set("".join(rec)) <= set(VOCAB)
    right = sum(a == b for s, r in zip(lines, rec) for a, b in zip(s, r)) / sum(map(len, lines))
    assert right == pytest.approx(char_accuracy(x, model.reconstruct(x)), abs=1e-6)

    capsys.readouterr()
    assert main(["reconstruct", str(run), "--data", str(src)]) == 0  # no --out: printed
    assert capsys.readouterr().out.splitlines() == rec


def test_characters_outside_the_run_vocabulary_are_named(run, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("the fox\nHello, world\n")
    capsys.readouterr()
    assert main(["encode", str(run), "--data", str(bad), "--out", str(tmp_path / "c.npy")]) != 0
    err = capsys.readouterr().err
    assert "2 characters not in the vocabulary: 'H' (line 2), ',' (line 2)" in err
    assert not (tmp_path / "c.npy").exists()
    long = tmp_path / "long.txt"
    long.write_text("a" * (MAX_LEN + 1) + "\n")
    assert main(["encode", str(run), "--data", str(long), "--out", str(tmp_path / "c.npy")]) != 0
    assert f"more than the {MAX_LEN} steps" in capsys.readouterr().err


def test_report_shows_lines_and_reconstructions(run):
    html = (run / "report.html").read_text()
    assert "Text reconstructions" in html and 'class="text-lines"' in html
    assert "test_char_accuracy" in html
    table = html[html.index('class="text-lines"'):]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 1 + 8  # the header and 8 test lines
    assert 'class="text">' in table


# --- text files as data (no training) -------------------------------------------------------------

def test_a_text_file_is_read_with_data_kind_text(tmp_path):
    lines = ["hello world", "abc", "Zebra, and more!"] * 10
    p = tmp_path / "train.txt"
    p.write_text("\r\n".join(lines) + "\r\n")  # CRLF line ends
    data = prepare(DataConfig(name=str(p), kind="text", val_fraction=0), seed=0)
    assert data.vocab == sorted(set("".join(lines)))
    assert data.kind == "sequences" and data.x_train.shape[1:] == (16, len(data.vocab))
    n = series_lengths(np.concatenate([data.x_train, data.x_test]))
    assert sorted(set(n.tolist())) == [3, 11, 16]
    padded = prepare(DataConfig(name=str(p), kind="text", max_len=40, val_fraction=0), seed=0)
    assert padded.x_train.shape[1] == 40
    with pytest.raises(AekitError, match="line 3 has 16 characters, more than the 12"):
        prepare(DataConfig(name=str(p), kind="text", max_len=12), seed=0)
    # a separate test file is read with the training vocabulary and length
    t = tmp_path / "test.txt"
    t.write_text("abc\nhello\n")
    data = prepare(DataConfig(name=str(p), kind="text", test_data=str(t)), seed=0)
    assert data.x_test.shape == (2, 16, len(data.vocab))
    t.write_text("abc\nhello?\n")
    with pytest.raises(AekitError, match=r"1 character not in the vocabulary: '\?' \(line 2\)"):
        prepare(DataConfig(name=str(p), kind="text", test_data=str(t)), seed=0)


def test_text_file_errors(tmp_path):
    p = tmp_path / "gap.txt"
    p.write_text("one\n\ntwo\n")
    with pytest.raises(AekitError, match="line 2 is empty"):
        prepare(DataConfig(name=str(p), kind="text"), seed=0)
    with pytest.raises(AekitError, match="data.max_len=.* has no effect"):
        build_config([{"data": {"name": str(p), "max_len": 10}}])
    with pytest.raises(AekitError, match="mnist-sample is not text"):
        prepare(DataConfig(name="mnist-sample", kind="text"), seed=0)


def test_a_run_on_a_text_file_saves_its_vocabulary(tmp_path, capsys):
    lines = [s.capitalize() for s in sentences(200, seed=1)]
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    aekit.train_run("ae", str(p), out=out, progress=False, kind="text", net="rnn", hidden=[8], latent_dim=4, epochs=1)
    cfg = load_config(out)
    assert cfg.data.vocab == "".join(sorted(set("".join(lines)))) and "A" in cfg.data.vocab
    assert cfg.model.likelihood == "categorical" and list(cfg.model.input_shape) == [max(map(len, lines)), len(cfg.data.vocab)]
    new = tmp_path / "new.txt"
    new.write_text("Anna sings\n")
    assert main(["reconstruct", str(out), "--data", str(new), "--out", str(tmp_path / "r.txt")]) == 0
    assert len((tmp_path / "r.txt").read_text()) == len("Anna sings\n")
