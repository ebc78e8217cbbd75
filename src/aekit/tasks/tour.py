"""``aekit tour``: every family trained on the embedded digits with quick settings, then one
self-contained page to read beside the lecture (a comparison table and the lecture's figures).

    from aekit.tasks.tour import tour
    page = tour("tour", families=["ae", "vae", "aae"], epochs=5)

Each run is an ordinary run folder, ``<out>/runs/<name>/`` (``aekit evaluate``, ``aekit report``
and the rest work on it), with ``tour-run.json`` saying what the tour asked of it and
``tour-measures.json`` the table's figures, keyed by the weights they were measured on. The page
is ``<out>/tour.html``; its numbers are also in ``<out>/tour.json``.

Running the tour again reuses what is there: a finished run with the same settings is not trained
again, an interrupted one resumes from its checkpoint, and a larger ``epochs`` continues the
finished runs to the new total (as ``aekit train --resume`` does). A run folder made with other
settings (another seed, limit or family options, or more epochs than asked) is never overwritten:
the tour refuses before training anything and says which settings differ.
"""
from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AekitError, closest
from ..io import atomic_write_json
from ..progress import bar, line
from .tour_figures import FIGURES, VARIANTS, TourRuns, tour_figures

DATA = "mnist-sample"
DEFAULT_EPOCHS = 5
QUICK_EPOCHS = 2
QUICK_LIMIT = 3000
NLL_K = 20
SPEC_FILE = "tour-run.json"
MEASURES_FILE = "tour-measures.json"
M1_PLACEHOLDER = "<the tour's vae run>"

# quick settings per family, on top of the preset: the stacked AEs pretrain 2 epochs a layer; the
# linear AE costs a fraction of a second an epoch but approaches PCA's subspace slowly, so it takes
# more, smaller steps (its epochs: max(LINEAR_MIN_EPOCHS, LINEAR_EPOCH_FACTOR × epochs)); the
# label-conditioned AAE's codes reach its prior within a few epochs only with faster adversarial
# phases (measured, 5 epochs: discriminator accuracy on test codes 0.87 with the preset's rates, 0.72
# with 1e-3 for both); the IWAE trains on k = 5 importance samples instead of the preset's 50 (an
# epoch costs about 7× less: measured 9 s against 65 s per 50,000 digits on one thread)
TUNED: dict[str, dict[str, Any]] = {
    "linear-ae": {"lr": 3e-3, "batch_size": 32},
    "stacked-ae": {"pretrain_epochs": 2},
    "stacked-denoising-ae": {"pretrain_epochs": 2},
    "aae-conditional": {"disc_lr": 1e-3, "gen_lr": 1e-3},
    "iwae": {"k": 5},
}
LINEAR_MIN_EPOCHS, LINEAR_EPOCH_FACTOR = 20, 4


def tuned_text(families: list[str]) -> str:
    """The quick settings on top of the presets of ``families``, as a sentence for the page."""
    parts = [f"{fam}: " + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in opts.items())
             + (f", max({LINEAR_MIN_EPOCHS}, {LINEAR_EPOCH_FACTOR} × epochs) epochs" if fam == "linear-ae" else "")
             for fam, opts in TUNED.items() if fam in families]
    return ("Settings on top of the presets: " + "; ".join(parts) + ". " if parts else "") + \
        "Everything else is the preset's (aekit models NAME lists them)."
DEPENDS = {"m1m2": "vae"}  # M1+M2 builds on a trained vae (model.m1_run)


@dataclass
class RunSpec:
    """One run of the tour: a family's own run, or one made for a figure (``purpose``)."""

    name: str
    family: str
    preset: str
    options: dict[str, Any]  # config keys besides epochs
    epochs: int
    purpose: str = ""
    action: str = field(default="", compare=False)  # train | resume | reuse, decided by check_folder

    @property
    def variant(self) -> bool:
        return self.name != self.family

    def record(self) -> dict[str, Any]:
        """What ``tour-run.json`` holds (the M1 run path as a placeholder: the folder may move)."""
        opts = {k: (M1_PLACEHOLDER if k == "m1_run" else v) for k, v in self.options.items()}
        return {"preset": self.preset, "data": DATA, "options": opts, "epochs": self.epochs}


def all_families() -> list[str]:
    from ..models import all_specs

    return [s.name for s in all_specs()]


def parse_families(families: str | list[str] | None) -> list[str]:
    """The families asked for (None: every preset), checked, in the registry's order."""
    known = all_families()
    if families is None:
        return known
    names = [f.strip() for f in (families.split(",") if isinstance(families, str) else families) if f and f.strip()]
    if not names:
        raise AekitError("no families given", "e.g. --families ae,vae,aae, or leave --families out for every family")
    for n in names:
        if n not in known:
            near = closest(n, known)
            raise AekitError(f"unknown family {n!r}" + (f" (did you mean {near!r}?)" if near else ""),
                             "choose from: " + ", ".join(known) + " (`aekit models` describes them)")
    return [f for f in known if f in names]


def plan(families: list[str], epochs: int, limit: int | None, seed: int, out: Path) -> tuple[list[RunSpec], list[str]]:
    """The runs of a tour of ``families`` (plus the families they build on) and notes on what was added."""
    notes = []
    fams = list(families)
    for f, dep in DEPENDS.items():
        if f in fams and dep not in fams:
            fams.append(dep)
            notes.append(f"{dep} was added to the tour: {f} builds on a trained {dep} (its M1).")
    fams = [f for f in all_families() if f in fams]
    specs = []
    for f in fams:
        opts: dict[str, Any] = {"seed": seed, "limit": limit, **TUNED.get(f, {})}
        if f in DEPENDS:
            opts["m1_run"] = str(out / "runs" / DEPENDS[f])
        n = max(LINEAR_MIN_EPOCHS, LINEAR_EPOCH_FACTOR * epochs) if f == "linear-ae" else epochs
        specs.append(RunSpec(f, f, f, opts, n))
        for name, extra, purpose in VARIANTS.get(f, []):
            specs.append(RunSpec(name, f, f, {**opts, **extra}, n, purpose))
    return specs, notes


def _epochs_done(run: Path) -> int | None:
    try:
        return int(json.loads((run / "metrics.json").read_text())["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_folder(spec: RunSpec, run: Path) -> str:
    """What to do with ``run`` for ``spec``: train, resume or reuse; an AekitError for a folder
    holding a run the tour did not make, or one made with other settings."""
    ckpt = run / "checkpoints" / "last.safetensors"
    finished = (run / "model.safetensors").exists() and (run / "metrics.json").exists()
    rec_path = run / SPEC_FILE
    if not rec_path.exists():
        if ckpt.exists() or finished:
            raise AekitError(f"{run} holds a run the tour did not make", f"move or delete {run}, or give the tour another --out")
        return "train"
    try:
        saved = json.loads(rec_path.read_text())
    except (OSError, ValueError):
        raise AekitError(f"{rec_path} is unreadable", f"delete {run} to train it again") from None
    want = spec.record()
    diff = [f"{k}: {saved.get(k)!r} there, {want[k]!r} now" for k in ("preset", "data") if saved.get(k) != want[k]]
    so, wo = saved.get("options", {}), want["options"]
    diff += [f"{k}: {so.get(k)!r} there, {wo.get(k)!r} now" for k in sorted(set(so) | set(wo)) if so.get(k) != wo.get(k)]
    if diff:
        raise AekitError(f"{run} was trained by a tour with other settings ({'; '.join(diff)})",
                         f"run the tour with the settings it was made with, give another --out, or delete {run} to train it again")
    if not ckpt.exists():
        return "train"  # the last attempt stopped before its first epoch ended
    done = _epochs_done(run) if finished else None
    if done == spec.epochs:
        return "reuse"
    if done is not None and done > spec.epochs:
        raise AekitError(f"{run} was trained for {done} epochs, more than the {spec.epochs} asked now",
                         f"run the tour with the epochs it was made with, give another --out, or delete {run} to train it again")
    return "resume"


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _epochs_text(history: list[dict[str, str]]) -> str:
    """Epochs per stage: "5", or "2+2+2+5" for the stacked AEs' pretraining stages then fine-tuning."""
    counts: list[int] = []
    last = None
    for r in history:
        if r.get("stage") != last:
            counts.append(0)
            last = r.get("stage")
        counts[-1] += 1
    return "+".join(map(str, counts))


def measure(run: Path, nll_k: int, progress: bool) -> dict[str, Any]:
    """The table's figures of a finished run: test figures from metrics.json (as `aekit train` wrote
    them), 5-NN accuracy of the test codes and, where the model has a likelihood bound, the
    importance-sampled test NLL (`aekit evaluate RUN --metrics knn --nll --k K` gives the same),
    train time and parameters. Cached in the run folder, keyed by the weights and k."""
    from ..evaluate import code_metrics, nll_figures
    from ..run import load, run_data, scale
    from ..runconfig import load_config

    key = {"weights_sha256": hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest(), "nll_k": nll_k, "version": 1}
    cache = run / MEASURES_FILE
    if cache.exists():
        try:
            old = json.loads(cache.read_text())
            if old.get("key") == key:
                return old["measures"]
        except (OSError, ValueError):
            pass
    metrics = json.loads((run / "metrics.json").read_text())
    out: dict[str, Any] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    history = _history(run)
    out["train_time_s"] = float(sum(float(r["epoch_time_s"]) for r in history))
    out["epochs_text"] = _epochs_text(history)
    cfg = load_config(run)
    model = load(run)
    data = run_data(cfg)
    out["latent_dim"] = int(model.cfg.latent_dim)
    xm, xtr = scale(data, data.x_test), scale(data, data.x_train)
    out.update(code_metrics(model, ["knn"], xm, data.y_test, xtr, data.y_train, split="test"))
    if hasattr(model, "log_likelihood"):
        try:
            out.update({k if k == "nll_k" else f"test_{k}": v for k, v in nll_figures(model, xm, k=nll_k, progress=progress).items()})
        except AekitError as e:
            out["nll_undefined"] = e.message
    atomic_write_json(cache, {"key": key, "measures": out})
    return out


def tour(out_dir: str | Path = "tour", families: str | list[str] | None = None, epochs: int | None = None,
         limit: int | None = None, seed: int = 0, quick: bool = False, nll_k: int = NLL_K, progress: bool = True) -> Path:
    """Train every family (or ``families``) on the embedded digits and write ``<out_dir>/tour.html``;
    returns its path. ``epochs``: per family (default 5, ``quick``: 2; the linear AE takes
    max(20, 4 × epochs)); ``limit``: the first N training digits (default all 10,000; ``quick``:
    3,000); ``nll_k``: importance samples of the NLL column. ``progress``: a bar over the whole tour
    (and each run's own), or plain lines where no one is watching; False: silent."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    fams = parse_families(families)
    if quick and epochs is not None and limit is not None:
        raise AekitError("quick sets the epochs and the limit, and both were given: it would change nothing",
                         "drop --quick (or one of --epochs, --limit)")
    epochs = (QUICK_EPOCHS if quick else DEFAULT_EPOCHS) if epochs is None else int(epochs)
    limit = (QUICK_LIMIT if quick else None) if limit is None else int(limit)
    if epochs < 1:
        raise AekitError(f"epochs must be >= 1, got {epochs}", "e.g. --epochs 5")
    if limit is not None and limit < 100:
        raise AekitError(f"limit must be at least 100 training digits, got {limit}", "e.g. --limit 3000, or leave it out for all 10,000")
    if nll_k < 1:
        raise AekitError(f"nll_k must be >= 1, got {nll_k}", "e.g. 20")
    specs, notes = plan(fams, epochs, limit, seed, out)
    for s in specs:  # every folder is checked before anything is trained
        s.action = check_folder(s, out / "runs" / s.name)
    total = 2 * len(specs) + len(FIGURES) + 1
    steps = bar(total, "tour", "step", progress)
    done = [0]

    def step(text: str) -> None:
        done[0] += 1
        if progress:
            steps.set_description(f"tour: {text}")
            line(f"tour [{done[0]}/{total}] {text}")

    from .. import train_run

    dirs: dict[str, Path] = {}
    try:
        for s in specs:
            run = out / "runs" / s.name
            step({"train": f"training {s.name} ({s.epochs} epochs)", "resume": f"resuming {s.name} to {s.epochs} epochs",
                  "reuse": f"reusing {s.name} (finished, same settings)"}[s.action])
            if s.action == "train":
                atomic_write_json(run / SPEC_FILE, s.record())
                train_run(s.preset, DATA, out=run, progress=progress, epochs=s.epochs, **s.options)
            elif s.action == "resume":
                train_run(out=run, resume=True, progress=progress, epochs=s.epochs)
            steps.update(1)
            dirs[s.name] = run
        measures = {}
        for s in specs:
            step(f"measuring {s.name} (5-NN of codes, NLL where defined)")
            measures[s.name] = measure(dirs[s.name], nll_k, progress)
            steps.update(1)
        family_runs = [s.name for s in specs if not s.variant]
        runs = TourRuns(dirs, measures, family_runs)
        figures = tour_figures(runs)
        for f in figures:
            if f.make is not None:
                f.make = _counted(f.make, lambda h=f.heading: step(f"drawing {h}"), steps)
            else:
                step(f"{f.heading}: not drawn")
                steps.update(1)
        from .tour_page import write_page

        page = write_page(out, specs, measures, figures, [*notes, tuned_text([s.family for s in specs])], settings={
            "epochs": epochs, "limit": limit, "seed": seed, "quick": quick, "nll_k": nll_k}, started=t0)
        step("page written")
        steps.update(1)
    finally:
        steps.close()
    return page


def _counted(make: Any, before: Any, steps: Any) -> Any:
    def run() -> Any:
        before()
        try:
            return make()
        finally:
            steps.update(1)
    return run


__all__ = ["tour", "plan", "parse_families", "check_folder", "measure", "RunSpec", "DEFAULT_EPOCHS", "QUICK_EPOCHS",
           "QUICK_LIMIT", "NLL_K", "DATA"]
