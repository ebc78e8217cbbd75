"""The report of a run folder after the fact (``aekit report RUN``): from a finished run's files, or
from a checkpoint of a run that was interrupted or is still training."""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from .errors import AekitError
from .evaluate import evaluate_model
from .run import load, run_data, scaled_arrays
from .runconfig import load_config

log = logging.getLogger("aekit")

CHECKPOINTS = ("last", "best")


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


def _checkpoint_path(run_dir: Path, checkpoint: str) -> Path:
    """The file of checkpoint ``checkpoint`` of ``run_dir``, or an error saying why there is none."""
    if checkpoint not in CHECKPOINTS:
        raise AekitError(f"unknown checkpoint {checkpoint!r}", f"give one of: {', '.join(CHECKPOINTS)}")
    path = run_dir / "checkpoints" / f"{checkpoint}.safetensors"
    if path.exists():
        return path
    if checkpoint == "best":
        raise AekitError(f"{run_dir} has no best checkpoint ({path} does not exist): it is written only by runs "
                         "trained with early stopping",
                         "drop --checkpoint best to report model.safetensors (or the last checkpoint of an unfinished "
                         "run), or train with --set train.early_stopping=N")
    raise AekitError(f"{run_dir} has no last checkpoint ({path} does not exist): its training stopped before the "
                     "first checkpoint was written",
                     "drop --checkpoint to report model.safetensors, or train the run again")


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def write_run_report(run_dir: str | Path, checkpoint: str | None = None, out: str | Path | None = None) -> tuple[Path, str]:
    """Build report.html of a run: from model.safetensors, metrics.json and history.csv when the run
    finished, else (or with ``checkpoint``, "last" or "best") from that checkpoint's weights and
    history, with test figures computed afresh. Returns (path, what it was built from).

    Raises :class:`AekitError` for a folder that is not a run, and for a checkpoint it does not have."""
    from .io import load_state

    run_dir = Path(run_dir)
    cfg = load_config(run_dir)  # "not a run folder" when there is no config.yaml
    finished = (run_dir / "model.safetensors").exists()
    if checkpoint is None and not finished:
        checkpoint = "last"
        if not (run_dir / "checkpoints" / "last.safetensors").exists():
            raise AekitError(f"{run_dir} has neither model.safetensors nor a checkpoint: its training stopped before the "
                             "first checkpoint was written", "train the run again")
    ckpt_path = _checkpoint_path(run_dir, checkpoint) if checkpoint is not None else None
    model = load(run_dir, checkpoint=checkpoint)
    data = run_data(cfg)

    def fresh_metrics() -> dict[str, Any]:
        test = scaled_arrays(model, data)["test"]
        return evaluate_model(model, test, data.y_test) if test is not None else {}

    notice = None
    if ckpt_path is None:
        history = read_history(run_dir / "history.csv") if (run_dir / "history.csv").exists() else []
        if (run_dir / "metrics.json").exists():
            metrics = json.loads((run_dir / "metrics.json").read_text())
        else:
            log.warning("%s has no metrics.json: the test figures are computed afresh", run_dir)
            metrics = fresh_metrics()
            notice = "metrics.json was missing: the test figures were computed afresh from model.safetensors."
        source = "model.safetensors"
    else:
        p = load_state(ckpt_path)["position"]
        history = list(p["history"])
        metrics = fresh_metrics()
        where = f"stage {p['stage'] + 1}, {_epochs(p['epoch'])} done" + (f", step {p['step']}" if p["step"] else "")
        metrics["checkpoint"] = f"{checkpoint}: {where}"
        source = f"checkpoints/{checkpoint}.safetensors"
        state = "the run finished; these are the weights of its best validation epoch" if finished and checkpoint == "best" \
            else "the run finished" if finished else "the run has not finished (interrupted, or still training)"
        notice = (f"Built from the {checkpoint} checkpoint ({source}; {where}): {state}. The loss curves are the "
                  f"checkpoint's history ({_epochs(len(history))}) and the test figures were computed afresh from its weights.")
    path = Path(out) if out else run_dir / "report.html"
    from .plots.report import write_report

    write_report(path, title=f"aekit run: {cfg.model_name} on {cfg.data.name}" + ("" if checkpoint is None else f" ({checkpoint} checkpoint)"),
                 model=model, data=data, history=history, metrics=metrics, config=cfg.to_dict(), notice=notice)
    return path, source
