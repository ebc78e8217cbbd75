"""The report of a run folder after the fact (``aekit report RUN``): from a finished run's files, or
from a checkpoint of a run that was interrupted or is still training."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .data import prepare
from .errors import AekitError
from .evaluate import evaluate_model
from .run import load, scaled_arrays
from .runconfig import load_config


def read_history(path: Path) -> list[dict[str, Any]]:
    """history.csv back as rows (numbers as floats, the stage as text)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        row: dict[str, Any] = {}
        for k, v in r.items():
            if k == "stage" or v == "":
                row[k] = v if k == "stage" else None
                continue
            try:
                row[k] = int(v) if k == "epoch" else float(v)
            except ValueError:
                row[k] = v
        out.append(row)
    return out


def write_run_report(run_dir: str | Path, checkpoint: str | None = None, out: str | Path | None = None) -> tuple[Path, str]:
    """Build report.html of a run: from model.safetensors, metrics.json and history.csv when the run
    finished, else (or with ``checkpoint``) from that checkpoint's weights and history, with test
    figures computed afresh. Returns (path, what it was built from)."""
    from .io import load_state

    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    finished = (run_dir / "model.safetensors").exists()
    if checkpoint is None and not finished:
        checkpoint = "last"
        if not (run_dir / "checkpoints" / "last.safetensors").exists():
            raise AekitError(f"{run_dir} has neither model.safetensors nor a checkpoint", "train the run first")
    model = load(run_dir, checkpoint=checkpoint)
    data = prepare(cfg.data, cfg.train.seed)
    if checkpoint is None:
        history = read_history(run_dir / "history.csv") if (run_dir / "history.csv").exists() else []
        metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else {}
        source = "model.safetensors"
    else:
        state = load_state(run_dir / "checkpoints" / f"{checkpoint}.safetensors")
        history = list(state["position"]["history"])
        test = scaled_arrays(model, data)["test"]
        metrics = evaluate_model(model, test, data.y_test) if test is not None else {}
        p = state["position"]
        metrics["checkpoint"] = f"{checkpoint}: stage {p['stage'] + 1}, {p['epoch']} epochs done" + (f", step {p['step']}" if p["step"] else "")
        source = f"checkpoints/{checkpoint}.safetensors"
    path = Path(out) if out else run_dir / "report.html"
    from .plots.report import write_report

    write_report(path, title=f"aekit run: {cfg.model_name} on {cfg.data.name}" + ("" if checkpoint is None else f" ({checkpoint} checkpoint)"),
                 model=model, data=data, history=history, metrics=metrics, config=cfg.to_dict())
    return path, source
