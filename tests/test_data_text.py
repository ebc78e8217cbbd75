"""Character-level text: the generated sentences, the vocabulary, one-hot encoding with NaN end
padding and decoding back, and the named set ``sentences``."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aekit.config import DataConfig
from aekit.data import load_raw, prepare
from aekit.data.base import series_lengths
from aekit.data.text import MAX_LEN, MIN_LEN, VOCAB, build_vocab, decode_onehot, encode_lines, sentences
from aekit.errors import AekitError


def raises(match: str):
    return pytest.raises(AekitError, match=match)


def test_sentences_are_seeded_distinct_and_short():
    a = sentences(2000, seed=0)
    assert a == sentences(2000, seed=0) and a != sentences(2000, seed=1)
    assert len(a) == len(set(a)) == 2000
    assert all(MIN_LEN <= len(s) <= MAX_LEN for s in a)
    assert set("".join(a)) <= set(VOCAB) and set(VOCAB) <= set(" abcdefghijklmnopqrstuvwxyz")
    assert all(s == s.strip() and "  " not in s for s in a)
    assert sentences(10, seed=0) == a[:10]  # more lines of the same seed start with the same ones
    words = {w for s in a for w in s.split()}
    assert {"the", "fox", "jumps", "over"} <= words and len(words) > 100


def test_build_vocab():
    assert build_vocab(["ab", "ca "]) == [" ", "a", "b", "c"]
    with raises("takes a list of lines, got one string"):
        build_vocab("abc")


def test_encode_decode_round_trip():
    lines = ["hello world", "abc", "a quick brown fox jumps over the lazy dog"]
    vocab = build_vocab(lines)
    x = encode_lines(lines, vocab)
    assert x.shape == (3, len(lines[2]), len(vocab)) and x.dtype == np.float32
    assert series_lengths(x).tolist() == [len(s) for s in lines]
    assert np.isnan(x[1, 3:]).all() and np.nansum(x[1], axis=1)[:3].tolist() == [1, 1, 1]
    assert decode_onehot(x, vocab) == lines
    y = encode_lines(lines, vocab, max_len=50)
    assert y.shape[1] == 50 and decode_onehot(y, vocab) == lines
    assert decode_onehot(x[0], vocab) == [lines[0]]  # one (T, V) sequence
    # scores (a model's output) decode by argmax, to the full length when there is no padding
    logits = np.where(np.isnan(x), 0.0, x * 5.0 + np.random.default_rng(0).normal(0, 0.1, size=x.shape)).astype(np.float32)
    assert [s[: len(t)] for s, t in zip(decode_onehot(logits, vocab), lines)] == lines
    torch = pytest.importorskip("torch")
    assert decode_onehot(torch.from_numpy(x), vocab) == lines


def test_round_trip_of_generated_lines():
    lines = sentences(500, seed=3)
    x = encode_lines(lines, VOCAB, MAX_LEN)
    assert x.shape == (500, MAX_LEN, len(VOCAB))
    assert decode_onehot(x, VOCAB) == lines


def test_encode_errors():
    vocab = build_vocab(["abc"])
    with raises("line 1: character 'z' is not in the vocabulary"):
        encode_lines(["ab", "az"], vocab)
    with raises("line 1 has 4 characters, more than max_len=3") as e:
        encode_lines(["abc", "abca"], vocab, max_len=3)
    assert "truncate=True" in e.value.hint
    assert decode_onehot(encode_lines(["abca"], vocab, 3, truncate=True), vocab) == ["abc"]
    with raises("line 0 is empty"):
        encode_lines(["", "a"], vocab)
    with raises("no lines to encode"):
        encode_lines([], vocab)
    with raises("distinct single characters"):
        encode_lines(["a"], ["a", "a"])
    with raises(r"needs \(N, T, 3\) scores"):
        decode_onehot(np.zeros((2, 4, 5)), vocab)


def test_named_sentences_set():
    raw = load_raw("sentences")
    assert raw.kind == "sequences" and raw.source == "sentences"
    assert raw.x_train.shape == (6000, MAX_LEN, len(VOCAB)) and raw.x_test is None
    assert decode_onehot(raw.x_train[:100], VOCAB) == sentences(100, seed=0)
    assert set(np.unique(raw.y_train)) == set(range(8))  # the template of each line
    p = prepare(dataclasses.replace(DataConfig(), name="sentences", val_fraction=0.1), seed=0)
    assert p.input_shape == (MAX_LEN, len(VOCAB)) and len(p.x_test) == 1200
    assert np.isnan(p.x_train).any()  # NaN end padding passes the checks
