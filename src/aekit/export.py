"""ONNX export of a trained model's encoder and decoder (``aekit export``).

    paths = aekit.export_onnx("runs/demo")              # runs/demo/export/encoder.onnx, decoder.onnx
    z = run_onnx(paths["encoder"], x)                     # onnxruntime: NumPy in, NumPy out

The graphs compute what the public API computes:

- encoder: ``x`` float32 (N, *input_shape) in the data's units → ``z`` float32 (N, latent_dim), as
  ``model.encode(x)``: the fitted input scaling is inside the graph, and so is whatever the family
  does before its encoder (the grayscale of a colorize run, M1's posterior mean for M1+M2, the
  classifier's predicted label for a conditional encoder).
- decoder: ``z`` float32 (N, latent_dim), plus ``label`` int64 (N,) (class indices 0..K−1) for the
  families whose decoder takes one (cvae, m1m2, aae-supervised, aae-semi) → ``x_mean`` float32
  (N, *input_shape), the likelihood's mean in the data's units, as ``model.decode(z, label=...)``.
  The label is required: ``decode`` without one averages a cvae's K decodings (run the graph once
  per class and average outside) and gives aae-supervised the uniform label vector.

The batch axis is dynamic. Each file carries metadata_props: the aekit version, the preset, net,
input shape, code size, part, opset, exporter, what each input and output means, and the run's
class names (and vocabulary, for text) when a run folder was exported.

Exporters: ``torchscript`` (the default: tracing; a tenth of a second per graph, every network,
opsets 13-20; torch calls it legacy but ships it) or ``dynamo`` (``torch.export``, torch's own
default, opsets 18-23; needs onnxscript; about 2 s per MLP or conv graph, 15-30 s per recurrent
one of 60-140 steps). Both match PyTorch within 2e-6 on every network and family. Recurrent
encoders read NaN padding by packing the batch after a host read of the lengths, which neither
exporter can follow: while a graph is captured they take the network's own sync-free masked path
(equal to the packed one; ``nets.rnn._no_host_reads``), so padded sequences encode as in PyTorch.

Everything is validated and exported in memory before the first write; each file is written
atomically. :func:`compare` runs the graphs with onnxruntime against the model.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import AekitError, unknown_choice
from .io import atomic_write_bytes

FORMATS = ("onnx",)
PARTS = ("encoder", "decoder", "both")
EXPORTERS = ("torchscript", "dynamo")
DEFAULT_EXPORTER = "torchscript"
DEFAULT_OPSET = 18
OPSETS = {"torchscript": (13, 20), "dynamo": (18, 23)}  # the range each exporter writes (torch 2.13)
CHECK_TOLERANCE = 1e-4  # max |onnx − torch| the command accepts, relative to max(1, max |torch|)
INSTALL_HINT = "pip install 'aekit[onnx]' (onnx, onnxruntime, onnxscript)"


# ---- options and requirements ----------------------------------------------------------------------

def require(*modules: str) -> None:
    """An AekitError naming the install command when one of ``modules`` cannot be imported."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise AekitError(f"ONNX export needs the {name} package, which is not installed", INSTALL_HINT) from None


def check_options(part: str = "both", opset: int = DEFAULT_OPSET, exporter: str = DEFAULT_EXPORTER, fmt: str = "onnx") -> None:
    """An AekitError for a format, part, exporter or opset that cannot work (before anything is done)."""
    if fmt not in FORMATS:
        raise AekitError(f"unknown export format {fmt!r}", "formats: " + ", ".join(FORMATS))
    if part not in PARTS:
        raise unknown_choice("part", str(part), PARTS)
    if exporter not in EXPORTERS:
        raise unknown_choice("exporter", str(exporter), EXPORTERS)
    lo, hi = OPSETS[exporter]
    if isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi:
        other = next(e for e in EXPORTERS if e != exporter)
        raise AekitError(f"the {exporter} exporter writes ONNX opsets {lo} to {hi}, not {opset!r}",
                         f"give an opset in {lo}..{hi} (default {DEFAULT_OPSET}), or the {other} exporter "
                         f"({OPSETS[other][0]}..{OPSETS[other][1]})")
    require("onnx", *(["onnxscript"] if exporter == "dynamo" else []))


def check_out_dir(out_dir: str | Path, part: str = "both") -> dict[str, Path]:
    """The files ``part`` writes in ``out_dir``; an AekitError when the folder cannot hold them."""
    out_dir = Path(out_dir)
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise AekitError(f"cannot write into {out_dir}: {p} is a file, not a folder",
                                 "give a folder with --out (it is created if missing)")
            break
    paths = {name: out_dir / f"{name}.onnx" for name in parts_of(part)}
    for path in paths.values():
        if path.is_dir():
            raise AekitError(f"cannot write {path}: it is a folder", "remove it, or give another --out")
    return paths


def parts_of(part: str) -> list[str]:
    return ["encoder", "decoder"] if part == "both" else [part]


def resolve(run_or_model: Any) -> tuple[Any, Path | None]:
    """(the model, its run folder or None) for a run folder or a built model."""
    if isinstance(run_or_model, (str, Path)):
        from .run import load

        return load(run_or_model), Path(run_or_model)
    if not all(hasattr(run_or_model, k) for k in ("code", "data_mean", "to_model_space", "input_shape")):
        raise AekitError(f"cannot export a {type(run_or_model).__name__}: give a run folder or an aekit model",
                         "e.g. export_onnx('runs/demo') or export_onnx(aekit.load('runs/demo'), out_dir='onnx')")
    return run_or_model, None


def decoder_takes_label(model: Any) -> bool:
    """Whether the decoder reads a class label besides z (cvae, m1m2, aae-supervised, aae-semi)."""
    return bool(model.decodes_labels)


def signature(model: Any, part: str) -> tuple[dict[str, str], dict[str, str]]:
    """({input name: meaning}, {output name: meaning}) of one graph."""
    shape = ", ".join(["N", *map(str, model.input_shape)])
    d = int(model.cfg.latent_dim)
    if part == "encoder":
        return ({"x": f"float32 ({shape}): examples in the data's units (the input scaling is in the graph)"},
                {"z": f"float32 (N, {d}): the codes, as model.encode(x)"})
    inputs = {"z": f"float32 (N, {d}): codes"}
    if decoder_takes_label(model):
        inputs["label"] = f"int64 (N,): class indices 0..{model.n_classes - 1} (required)"
    mean = "probabilities" if model.cfg.likelihood in ("bernoulli", "categorical") else "means"
    return inputs, {"x_mean": f"float32 ({shape}): the decoder's {mean} in the data's units, as model.decode(z, label=...)"}


# ---- the graphs -------------------------------------------------------------------------------------

class _Encoder(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.code(self.model.to_model_space(x)).float()


class _Decoder(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.data_mean(z, label).float()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' chatter (warnings, prints, torch's and onnxscript's log lines) captured."""
    buf, before = io.StringIO(), logging.root.manager.disable
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        warnings.simplefilter("ignore")
        logging.disable(max(before, logging.WARNING))
        try:
            yield
        finally:
            logging.disable(before)


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], inputs: list[str], output: str, opset: int,
            exporter: str, path: Path) -> None:
    if exporter == "dynamo":
        batch = torch.export.Dim("batch")
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=[output], opset_version=opset,
                          dynamo=True, dynamic_shapes=tuple({0: batch} for _ in args), external_data=False, verbose=False)
    else:
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=[output], opset_version=opset,
                          dynamo=False, dynamic_axes={name: {0: "batch"} for name in [*inputs, output]})


def metadata(model: Any, part: str, opset: int, exporter: str, run: Path | None = None) -> dict[str, str]:
    """The metadata_props of one graph (every value a string; lists and mappings as JSON)."""
    from . import __version__

    inputs, outputs = signature(model, part)
    cfg = model.cfg
    meta = {"aekit_version": __version__, "part": part, "model": model.preset or type(model).__name__,
            "net": str(cfg.net), "input_shape": json.dumps(list(model.input_shape)), "latent_dim": str(cfg.latent_dim),
            "likelihood": str(cfg.likelihood), "opset": str(opset), "exporter": exporter,
            "inputs": json.dumps(inputs), "outputs": json.dumps(outputs), "batch_axis": "0 (dynamic)"}
    if model.n_classes:
        meta["n_classes"] = str(model.n_classes)
    if run is not None:
        from .runconfig import load_config

        data = load_config(run).data
        meta["run"] = run.resolve().name
        meta["data"] = str(data.name)
        if data.classes:
            meta["classes"] = json.dumps(list(data.classes), default=str)
        if getattr(data, "vocab", None):
            meta["vocab"] = json.dumps(str(data.vocab))
    return meta


def onnx_bytes(run_or_model: Any, part: str = "both", opset: int = DEFAULT_OPSET, exporter: str = DEFAULT_EXPORTER,
               run: str | Path | None = None) -> dict[str, bytes]:
    """{part: serialized ONNX model} for ``part`` ("encoder", "decoder" or "both"), in memory.
    ``run``: the run folder of a model given loaded, for the metadata (its data set and classes)."""
    check_options(part, opset, exporter)
    model, own_run = resolve(run_or_model)
    run = own_run if run is None else Path(run)
    import onnx

    if model.device.type != "cpu":
        model = copy.deepcopy(model).cpu()
    was_training = model.training
    model.eval()
    d = int(model.cfg.latent_dim)
    out: dict[str, bytes] = {}
    try:
        for name in parts_of(part):
            inputs, outputs = signature(model, name)
            if name == "encoder":
                module, args = _Encoder(model), (model.from_model_space(torch.zeros(2, *model.input_shape)),)
            else:
                module, args = _Decoder(model), (torch.zeros(2, d),)
                args += (torch.arange(2) % model.n_classes,) if "label" in inputs else ()
            with tempfile.TemporaryDirectory(prefix="aekit-onnx-") as tmp, _quiet(), torch.no_grad():
                path = Path(tmp) / f"{name}.onnx"
                try:
                    _export(module.eval(), args, list(inputs), next(iter(outputs)), opset, exporter, path)
                    proto = onnx.load(str(path))
                except Exception as e:  # the exporters raise many types; the message names the operator
                    raise _export_error(model, name, opset, exporter, e) from None
            for key, value in metadata(model, name, opset, exporter, run).items():
                proto.metadata_props.add(key=key, value=value)
            proto.doc_string = f"aekit {model.preset or type(model).__name__} {name}: " + \
                ", ".join(inputs) + " -> " + ", ".join(outputs) + " (see metadata_props)"
            out[name] = proto.SerializeToString()
    finally:
        model.train(was_training)
    return out


def _export_error(model: Any, part: str, opset: int, exporter: str, e: Exception) -> AekitError:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    why = lines[0] if lines else type(e).__name__
    other = next(x for x in EXPORTERS if x != exporter)
    return AekitError(f"the {exporter} exporter cannot export the {part} of this {model.preset or type(model).__name__} "
                      f"(net {model.cfg.net}) at opset {opset}: {type(e).__name__}: {why[:300]}",
                      f"try the {other} exporter (--exporter {other}, opsets {OPSETS[other][0]}..{OPSETS[other][1]}) or "
                      "another opset; model.encode / model.decode work in PyTorch meanwhile")


def write_files(blobs: dict[str, bytes], out_dir: str | Path) -> dict[str, Path]:
    """Write each graph as ``out_dir/<part>.onnx`` (atomically); {part: path}."""
    paths = check_out_dir(out_dir, "both" if len(blobs) > 1 else next(iter(blobs)))
    for name, blob in blobs.items():
        atomic_write_bytes(paths[name], blob)
    return paths


def export_onnx(run_or_model: Any, out_dir: str | Path | None = None, part: str = "both", opset: int = DEFAULT_OPSET,
                exporter: str = DEFAULT_EXPORTER) -> dict[str, Path]:
    """Write a run's (or a model's) encoder and/or decoder as ONNX files; {part: path}.

    ``out_dir`` defaults to ``RUN/export/`` for a run folder (a model needs one). Every option is
    checked and the graphs are exported in memory before anything is written."""
    check_options(part, opset, exporter)
    if out_dir is None:
        if not isinstance(run_or_model, (str, Path)):
            raise AekitError("a model has no run folder to export into", "give out_dir=")
        out_dir = Path(run_or_model) / "export"
    check_out_dir(out_dir, part)
    return write_files(onnx_bytes(run_or_model, part, opset, exporter), out_dir)


# ---- running and checking the graphs ------------------------------------------------------------------

def session(model_file: str | Path | bytes) -> Any:
    """An onnxruntime CPU session of an exported file (a path, or the serialized bytes)."""
    require("onnxruntime")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    src = model_file if isinstance(model_file, bytes) else str(model_file)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def run_onnx(model_file: str | Path | bytes | Any, inp: Any, label: Any = None) -> np.ndarray:
    """Run an exported encoder (``inp`` = x) or decoder (``inp`` = z, and ``label`` when it takes one)."""
    sess = model_file if hasattr(model_file, "run") else session(model_file)
    names = [i.name for i in sess.get_inputs()]
    feeds = {names[0]: np.ascontiguousarray(np.asarray(inp, dtype=np.float32))}
    if "label" in names:
        if label is None:
            raise AekitError("this decoder takes a label for each code", "give label= (class indices 0..K-1, int64)")
        feeds["label"] = np.broadcast_to(np.asarray(label, dtype=np.int64).reshape(-1), (len(feeds[names[0]]),)).copy()
    elif label is not None:
        raise AekitError("this graph takes no label", "drop label=")
    return sess.run(None, feeds)[0]


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| (NaN at the same places agree; NaN against a number is inf)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    both = np.isnan(a) & np.isnan(b)
    d = np.where(both, 0.0, np.abs(a - b))
    return float(np.nan_to_num(d, nan=np.inf).max()) if d.size else 0.0


def compare(model: Any, files: dict[str, str | Path | bytes], x: Any, y: Any = None) -> dict[str, tuple[float, float]]:
    """{part: (max |onnx − torch|, max |torch|)} of each exported graph on examples ``x`` (data
    units), run as one batch and as single examples (the batch axis is dynamic): the encoder against
    ``model.encode(x)``, the decoder against ``model.decode(model.encode(x), label=y)`` (``y``: the
    labels, −1 or None replaced by the classes in turn)."""
    x = np.asarray(x, dtype=np.float32)
    z = np.asarray(model.encode(x), dtype=np.float32)
    labels = None
    if decoder_takes_label(model):
        labels = np.arange(len(x)) % model.n_classes
        if y is not None:
            y = np.asarray(y).reshape(-1)
            labels = np.where(y >= 0, y, labels)
        labels = labels.astype(np.int64)
    out: dict[str, tuple[float, float]] = {}
    for part, file in files.items():
        sess = session(file)
        inp, ref = (x, z) if part == "encoder" else (z, np.asarray(model.decode(z, label=labels)))
        lab = None if part == "encoder" else labels
        diffs = [max_abs_diff(run_onnx(sess, inp, lab), ref)]
        diffs += [max_abs_diff(run_onnx(sess, inp[i:i + 1], None if lab is None else lab[i:i + 1]), ref[i:i + 1])
                  for i in range(min(2, len(inp)))]
        out[part] = (max(diffs), float(np.nanmax(np.abs(ref))) if ref.size and not np.isnan(ref).all() else 0.0)
    return out


def within_tolerance(diff: float, scale: float) -> bool:
    """Whether a graph passes the command's check: max |onnx − torch| ≤ CHECK_TOLERANCE · max(1, max |torch|)
    (float32 rounding grows with the values: codes of magnitude 20 differ by ~5e-6)."""
    return diff <= CHECK_TOLERANCE * max(1.0, scale)


def check_examples(run: str | Path, n: int = 32, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(x, y, description): the first ``n`` examples of the run's test split (else validation, else
    training), exactly as in training."""
    from .run import run_data
    from .runconfig import load_config

    cfg = load_config(run)
    if data_dir:
        cfg.data.data_dir = data_dir
    try:
        data = run_data(cfg)
    except AekitError as e:
        raise AekitError(f"the check reads the run's data, which failed: {e.message}",
                         "give --data-dir where its data set now lies, or skip the check with --no-check") from None
    for split in ("test", "val", "train"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x is not None and len(x):
            return x[:n], (None if y is None else y[:n]), f"{cfg.data.name} ({split})"
    raise AekitError("the run's data has no examples to check on", "skip the check with --no-check")


__all__ = ["export_onnx", "onnx_bytes", "write_files", "run_onnx", "session", "compare", "within_tolerance",
           "max_abs_diff", "check_examples", "check_options", "check_out_dir", "decoder_takes_label", "signature",
           "metadata", "FORMATS", "PARTS", "EXPORTERS", "DEFAULT_EXPORTER", "DEFAULT_OPSET", "OPSETS"]
