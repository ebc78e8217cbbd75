"""aekit export (a run's encoder and decoder as ONNX files)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import AekitError
from .train import HelpFormatter


def add(sub: argparse._SubParsersAction, model: str | None = None) -> None:
    from ..export import DEFAULT_EXPORTER, DEFAULT_OPSET, EXPORTERS, FORMATS, OPSETS, PARTS

    p = sub.add_parser("export", help="write a run's encoder and/or decoder as ONNX files", formatter_class=HelpFormatter,
                       description="Write a run's encoder (x in data units -> z) and/or decoder (z [, label] -> the data-space\n"
                                   "mean) as ONNX files with a dynamic batch axis; before writing, run them with onnxruntime\n"
                                   "against PyTorch on examples of the run's own data.")
    p.add_argument("run", help="run folder written by `aekit train`")
    p.add_argument("--format", default="onnx", metavar="NAME", help=f"{' | '.join(FORMATS)} [default: onnx]")
    p.add_argument("--part", default="both", metavar="PART",
                   help=f"{' | '.join(PARTS)}; decoders of cvae, m1m2, aae-supervised and aae-semi take an int64 label "
                        "input besides z [default: both]")
    p.add_argument("--out", default=None, metavar="DIR", help="folder for encoder.onnx / decoder.onnx [default: RUN/export]")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, metavar="N",
                   help="ONNX opset: " + ", ".join(f"{e} {lo}..{hi}" for e, (lo, hi) in OPSETS.items())
                        + f" [default: {DEFAULT_OPSET}]")
    p.add_argument("--exporter", default=DEFAULT_EXPORTER, metavar="NAME",
                   help=f"{' | '.join(EXPORTERS)} (torch.export; needs onnxscript; slower) [default: {DEFAULT_EXPORTER}]")
    p.add_argument("--no-check", action="store_true",
                   help="skip running the files with onnxruntime against PyTorch before writing them")
    p.add_argument("--examples", type=int, default=None, metavar="N",
                   help="examples of the run's data (test split, else validation, else training) the check runs [default: 32]")
    p.add_argument("--data-dir", default=None,
                   help="folder holding the run's named data set, for the check [default: the run's, else $AEKIT_DATA_DIR]")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")


def cmd_export(a: argparse.Namespace) -> int:
    from .. import export as E
    from ..run import load

    E.check_options(a.part, a.opset, a.exporter, a.format)
    if a.no_check and (a.examples is not None or a.data_dir):
        raise AekitError(f"{'--examples' if a.examples is not None else '--data-dir'} sets the check, which --no-check skips",
                         "drop one of them")
    n = 32 if a.examples is None else a.examples
    if n < 1:
        raise AekitError(f"--examples must be >= 1, got {n}", "e.g. --examples 32")
    if not a.no_check:
        E.require("onnxruntime")
    out_dir = Path(a.out) if a.out else Path(a.run) / "export"
    E.check_out_dir(out_dir, a.part)
    model = load(a.run)  # a folder that is no run fails here
    x = y = what = None
    if not a.no_check:  # the data is read before anything is written
        x, y, what = E.check_examples(a.run, n, a.data_dir)
    blobs = E.onnx_bytes(model, a.part, a.opset, a.exporter, run=a.run)
    diffs = None
    if x is not None:
        checked = E.compare(model, blobs, x, y)
        diffs = {part: d for part, (d, _) in checked.items()}
        bad = [part for part, (d, scale) in checked.items() if not E.within_tolerance(d, scale)]
        if bad:
            d, scale = checked[bad[0]]
            raise AekitError(f"the exported {bad[0]} differs from PyTorch by up to {d:.3g} on {what} (more than "
                             f"{E.CHECK_TOLERANCE:g} x max(1, {scale:.3g})); nothing was written",
                             f"try the other exporter or another --opset (now {a.exporter}, {a.opset}), "
                             "or --no-check to write anyway")
    paths = E.write_files(blobs, out_dir)
    signatures = {part: E.signature(model, part) for part in paths}
    info: dict[str, Any] = {"run": str(a.run), "format": "onnx", "opset": a.opset, "exporter": a.exporter,
                            "model": model.preset, "net": model.cfg.net, "files": {k: str(v) for k, v in paths.items()},
                            "inputs": {k: s[0] for k, s in signatures.items()},
                            "outputs": {k: s[1] for k, s in signatures.items()},
                            "max_abs_diff": diffs, "checked_on": None if x is None else f"{len(x)} examples of {what}"}
    if a.json:
        print(json.dumps(info, indent=2))
        return 0
    shape = "x".join(map(str, model.input_shape))
    print(f"{model.preset} (net {model.cfg.net}, input {shape}, code {model.cfg.latent_dim}) as ONNX opset {a.opset} "
          f"({a.exporter} exporter), batch axis dynamic:")
    for part, path in paths.items():
        ins, outs = (_names(s) for s in signatures[part])
        print(f"  {part}: {path}")
        print(f"    {ins} -> {outs}" + (f"; max |onnx - torch| {diffs[part]:.2g}" if diffs else ""))
    if "label" in signatures.get("decoder", ({}, {}))[0]:
        print(f"  the decoder's label input: int64 class indices 0..{model.n_classes - 1}, one per code")
    if diffs:
        print(f"checked with onnxruntime on {len(x)} examples of {what} (one batch, and single examples)")
    else:
        print("not checked (--no-check)")
    return 0


def _names(signature: dict[str, str]) -> str:
    """Each input's or output's name and type, e.g. ``x float32 (N, 1, 28, 28)``."""
    return ", ".join(f"{name} {meaning.split(':')[0]}" for name, meaning in signature.items())


COMMANDS = {"export": cmd_export}
