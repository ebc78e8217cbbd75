"""The tour's page and its numbers: the comparison table's rows and notes, the sections on the
runs and the families, ``tour.html`` (drawn by :mod:`aekit.plots.tour`) and ``tour.json``."""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from ..io import atomic_write_json
from ..plots.tour import PageFigure, TableColumn, table_html, write_tour_page

PAGE = "tour.html"
NUMBERS = "tour.json"

ACTION_WORDS = {"train": "trained", "resume": "resumed", "reuse": "reused (finished, same settings)"}


def columns(nll_k: int) -> list[TableColumn]:
    return [
        TableColumn("name", "run", "the run folder under runs/ (links to its own report)"),
        TableColumn("latent_dim", "|z|", "code size"),
        TableColumn("epochs_text", "epochs", "epochs per stage (the stacked AEs: 2 pretraining epochs per layer, then fine-tuning)"),
        TableColumn("test_mse", "test MSE", "reconstruction error: squared error per pixel on the 2,000 test digits, grey levels in [0, 1]", 4),
        TableColumn("test_knn_accuracy", "5-NN acc.", "accuracy of a 5-nearest-neighbour classifier of the test codes, fitted on "
                                                      "the training codes", 3),
        TableColumn("test_nll", f"NLL (k={nll_k})", "importance-sampled −log p(x) in nats per test digit, where the model has a "
                                                    "likelihood bound", 1),
        TableColumn("test_accuracy", "classifier acc.", "test accuracy of the model's own classifier q(y|x), where it has one", 3),
        TableColumn("n_params", "parameters", "trainable and fixed parameters, discriminators and classifiers included"),
        TableColumn("train_time_s", "train time (s)", "seconds in training epochs (evaluation and the report not counted)", 1),
    ]


def table_notes(specs: list[Any], measures: dict[str, dict[str, Any]], nll_k: int) -> list[str]:
    names = {s.name for s in specs}
    notes = [
        "test MSE: squared error per pixel between the 2,000 test digits and their reconstructions (the decoder's mean; "
        "label-taking decoders get the true label), as in each run's metrics.json.",
        "5-NN acc.: how well the codes separate the digits (a 5-nearest-neighbour classifier "
        "of the test codes fitted on the training codes; chance is 10%).",
        f"NLL: importance-sampled −log p(x) with k = {nll_k} samples, nats per test digit (a Bernoulli likelihood of grey "
        "levels: not comparable with binarized-MNIST figures). Defined for the models with a likelihood bound (vae, beta-vae, "
        "cvae); the deterministic AEs and the AAEs define no density.",
    ]
    undefined = [f"{n}: {m['nll_undefined']}" for n, m in measures.items() if m.get("nll_undefined")]
    if undefined:
        notes.append("No NLL — " + "; ".join(undefined))
    labelled = [n for n in ("cvae", "m1m2", "aae-conditional", "aae-supervised", "aae-semi") if n in names]
    if labelled:
        notes.append(f"{', '.join(labelled)} trained with every training label (supervised); the lecture's semi-supervised "
                     "setting (--labels 100) is slower to train: `aekit train --model cvae --labels 100`.")
    if any(s.variant for s in specs):
        notes.append("Grey rows: runs made for the figures (e.g. 2-D codes), not families of their own.")
    notes.append(f"Check any number: aekit evaluate runs/NAME --metrics knn (add --nll --k {nll_k} for vae, beta-vae, cvae) "
                 "prints the same test figures for a run folder.")
    return notes


def rows(specs: list[Any], measures: dict[str, dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    out_rows = []
    for s in specs:
        r = {"name": s.name, "variant": s.variant, **measures[s.name]}
        report = out / "runs" / s.name / "report.html"
        if report.exists():
            r["link"] = f"runs/{s.name}/report.html"
        out_rows.append(r)
    return out_rows


def _runs_section(specs: list[Any], out: Path) -> str:
    items = []
    for s in specs:
        what = s.purpose or f"the {s.family} family"
        items.append(f"<tr><td>runs/{html.escape(s.name)}</td><td>{html.escape(s.preset)}</td><td>{html.escape(what)}</td>"
                     f"<td>{html.escape(ACTION_WORDS[s.action])}</td></tr>")
    return ("<table>\n<tr><th>folder</th><th>preset</th><th>for</th><th>this time</th></tr>\n" + "\n".join(items) + "\n</table>\n"
            f'<p class="caption">Every run is an ordinary run folder under {html.escape(str(out / "runs"))}: '
            "aekit evaluate, report, sample, encode and the rest work on it; running the tour again reuses the finished runs.</p>\n")


def _families_section(ran: set[str]) -> str:
    from ..models import all_specs

    items = []
    for spec in all_specs():
        state = "in this tour" if spec.name in ran else "left out by --families"
        items.append(f"<tr><td>{html.escape(spec.name)}</td><td>{html.escape(state)}</td><td>{html.escape(spec.describe)}</td></tr>")
    return "<table>\n<tr><th>family</th><th>here</th><th>what it is</th></tr>\n" + "\n".join(items) + "\n</table>\n"


def write_page(out: Path, specs: list[Any], measures: dict[str, dict[str, Any]], figures: list[PageFigure], notes: list[str],
               settings: dict[str, Any], started: float) -> Path:
    """Write ``<out>/tour.html`` and ``<out>/tour.json``; returns the page's path."""
    from ..models import all_specs

    nll_k = int(settings["nll_k"])
    ran = {s.family for s in specs}
    left_out = [sp.name for sp in all_specs() if sp.name not in ran]
    counts = {a: sum(1 for s in specs if s.action == a) for a in ACTION_WORDS}
    train_total = sum(float(m.get("train_time_s", 0.0)) for m in measures.values())
    epochs, limit = settings["epochs"], settings["limit"]
    linear = next((s.epochs for s in specs if s.name == "linear-ae"), None)

    def meta() -> list[str]:
        n_runs = {a: f"{n} run{'s' if n != 1 else ''}" for a, n in counts.items()}
        what = "Every autoencoder family of aekit" if not left_out else f"{len(ran)} of aekit's {len(ran) + len(left_out)} autoencoder families"
        lines = [
            f"{what} trained on the embedded digits (mnist-sample: 28×28 grey levels, "
            f"{'all 10,000' if limit is None else f'the first {limit:,} of 10,000'} training digits of which 10% validate, "
            f"2,000 test digits) with quick settings: {epochs} epoch{'s' if epochs != 1 else ''} each"
            + (f" (linear-ae {linear})" if linear is not None and linear != epochs else "") + f", seed {settings['seed']}"
            + (" (--quick)" if settings["quick"] else "") + ". Read it beside the lecture; the numbers are rough, not benchmarks.",
            f"This time: {n_runs['train']} trained, {n_runs['resume']} resumed, {n_runs['reuse']} reused; "
            f"{time.perf_counter() - started:.0f} s in all, {train_total:.0f} s of it (summed over every run, reused ones "
            "included) in training epochs.",
            *notes,
        ]
        if left_out:
            lines.append(f"Left out by --families: {', '.join(left_out)} (their figures say what they need).")
        return lines

    page = write_tour_page(
        out / PAGE, title="aekit tour: the autoencoder family on handwritten digits", meta=meta,
        table=table_html(columns(nll_k), rows(specs, measures, out), table_notes(specs, measures, nll_k)), figures=figures,
        extra_sections=[("Runs", _runs_section(specs, out)), ("Families", _families_section(ran))])
    atomic_write_json(out / NUMBERS, {
        "page": PAGE, "settings": settings, "families": sorted(ran, key=[sp.name for sp in all_specs()].index),
        "left_out": left_out, "notes": notes, "wall_time_s": time.perf_counter() - started,
        "runs": {s.name: {"family": s.family, "preset": s.preset, "purpose": s.purpose, "action": s.action,
                          "epochs": s.epochs, "folder": f"runs/{s.name}", "measures": measures[s.name]} for s in specs},
        "figures": {f.heading: {"drawn": f.drawn, "caption": f"{f.claim} {f.shows}".strip() if f.drawn else f.claim,
                                "not_drawn": f.missing or f.error or None, "numbers": f.numbers} for f in figures},
    })
    return page


__all__ = ["write_page", "columns", "rows", "table_notes", "PAGE", "NUMBERS"]
