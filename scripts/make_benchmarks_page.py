"""Render BENCHMARKS.md from benchmarks/page/BENCHMARKS.template.md and the results JSON files.

    python scripts/make_benchmarks_page.py            # (re)write BENCHMARKS.md (atomically)
    python scripts/make_benchmarks_page.py --check    # exit 1 and print a diff when it is stale

Every figure on the page is a placeholder in the template that reads a results file in
benchmarks/results/ (written by benchmarks/common.py ``save``: commit, command, machine, date, then
the figures) or, for the papers' figures, benchmarks/page/published.yaml (each group with its source).
tests/test_benchmarks_page.py checks that BENCHMARKS.md is what this script makes of them.

Placeholders (one line each; ``{{`` always opens one)::

    {{REF | FMT}}             one value. REF is [SOURCE:]PATH; SOURCE is NAME.json (benchmarks/results/)
                              or ``published`` (published.yaml); without it, the last ``use``'s source.
    {{= EXPR | FMT}}          arithmetic on ${REF} terms: + - * / (element-wise on lists), comparisons,
                              and/or/not, numbers, 'strings' and the functions of renderers.FUNCTIONS
                              (min, max, mean, median, sum, abs, len, all, any, where, repeat_medians, ...).
    {{use SOURCE}}            the default source of the REFs that follow (renders nothing).
    {{check EXPR}}            renders nothing, fails when EXPR is false: guards the claim a sentence makes.
    {{provenance SOURCE...}}  "Measured: `command` at commit ..., date, on machine (file)" per results file.
    {{provenance SOURCE cells=PREFIX}}  the same for each process (in the file's ``writers``) that wrote a
                              cell starting with PREFIX (``m1m2/``): one section's rows of a shared file;
                              ``cells=*``: every process that names its cells (the whole file, by process).
    {{machine SOURCE}}        the machine of one results file, in words.
    {{table NAME ARGS...}}    a whole table by the renderer renderers.TABLES[NAME] (networks, reconstruction, ...).
    {{# comment}}             renders nothing.

A line holding only placeholders that render nothing (use, check, comments) is dropped.

PATH is dot-separated: ``summary.aekit-bf16.median_epoch_s``. A step in brackets picks from a list:
``[0]`` an index, ``[*]`` every element (the rest of the path maps over them; also over a dict's
values), ``[net=mlp,digit=0]`` the one element whose fields equal those values, ``[*net=mlp]`` every
such element.

FMT is a Python format spec (``.2f``, ``+.1%``, ``,``), rounded half-up on the number as printed
(310.5 -> 311) with a typographic minus; a list is formatted element by element and joined with
", ", a ``{mean, sd}`` dict as "mean ± sd". Named formats: ``short`` (a commit: 7 characters, and
"-dirty"), ``word`` / ``Word`` (0-12 in words), ``sci`` (1e-4). Without FMT a value prints as str().
(Formatting and expressions live in benchmarks/page/expressions.py, table renderers and expression
functions in benchmarks/page/renderers.py.)

Adding a section (e.g. the explorer load test, benchmarks/results/explore_load.json):
  1. write its prose and a table in the template, with ``{{provenance explore_load.json}}`` under the
     heading, ``{{use explore_load.json}}`` and cells like ``{{runs.vae-mlp.sequential.p50_ms | .1f}}``
     (or a renderer in benchmarks/page/renderers.py, registered in TABLES, for a table built from a list);
  2. run this script and read the diff; the test then holds the page to the file.
A results file the page does not show must be listed in NOT_SHOWN below, with the reason (the record
``aekit benchmark NAME`` writes beside its script's files counts as shown when they all are).
"""
from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE_DIR = ROOT / "benchmarks" / "page"
TEMPLATE = PAGE_DIR / "BENCHMARKS.template.md"
PUBLISHED = PAGE_DIR / "published.yaml"
OUTPUT = ROOT / "BENCHMARKS.md"

# results files in benchmarks/results/ that the page leaves out on purpose: {file name: reason}
NOT_SHOWN: dict[str, str] = {
}


def _load(name: str, file: str):
    """A sibling module of the template (benchmarks/page/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, PAGE_DIR / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


renderers = _load("benchmarks_page_renderers", "renderers.py")
expressions = _load("benchmarks_page_expressions", "expressions.py")
PageError, fmt, truth = expressions.PageError, expressions.fmt, expressions.truth

PLACEHOLDER = re.compile(r"\{\{((?:[^{}\n]|\$\{[^{}\n]*\})*)\}\}")
_SOURCE = re.compile(r"^\s*([\w.+-]+\.json|published)\s*:(.*)$", re.S)
_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")
_EMPTY = "\0"  # what use/check/comments render to, before their lines are dropped


class Sources:
    """The results files and published.yaml, loaded once each; remembers which results files were read."""

    def __init__(self, results: Path = RESULTS, published: Path = PUBLISHED):
        self.results, self.published, self.used, self._docs = Path(results), Path(published), set(), {}

    def load(self, name: str):
        if name not in self._docs:
            path = self.published if name == "published" else self.results / name
            if not path.is_file():
                raise PageError(f"{self._show(path)}: no such file")
            text = path.read_text(encoding="utf-8")
            try:
                self._docs[name] = yaml.safe_load(text) if name == "published" else json.loads(text)
            except (ValueError, yaml.YAMLError) as e:
                raise PageError(f"{self._show(path)}: cannot be parsed: {e}") from e
        if name != "published":
            self.used.add(name)
        return self._docs[name]

    @staticmethod
    def _show(path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def split_ref(ref: str, default: str | None) -> tuple[str, str]:
    """``[SOURCE:]PATH`` -> (source, path); the default source when none is named."""
    m = _SOURCE.match(ref)
    if m:
        return m.group(1), m.group(2).strip()
    if default is None:
        raise PageError(f"{ref.strip()!r} names no source (NAME.json: or published:) and no {{{{use ...}}}} came before")
    return default, ref.strip()


def split_path(path: str) -> list[str]:
    """``a.b[0].c[*net=mlp]`` -> ["a", "b", "[0]", "c", "[*net=mlp]"]."""
    steps, pos = [], 0
    for m in _STEP.finditer(path):
        if path[pos:m.start()] not in ("", ".") or not m.group(0).strip():
            break
        steps.append(m.group(0).strip() if m.group(2) is not None else m.group(0))
        pos = m.end()
    if pos != len(path) or not steps:
        raise PageError(f"malformed path {path!r}")
    return steps


def walk(value, steps: list[str], source: str, done: str = ""):
    """The value at ``steps`` inside ``value``; a clear error naming the file and key when absent."""
    for i, step in enumerate(steps):
        here = done or "the top level"
        if not step.startswith("["):
            if not isinstance(value, dict) or step not in value:
                keys = ", ".join(map(str, value)) if isinstance(value, dict) else type(value).__name__
                raise PageError(f"{source}: no key {step!r} at {here} (there: {keys[:300]})")
            value, done = value[step], f"{done}.{step}" if done else step
            continue
        inner, rest = step[1:-1].strip(), steps[i + 1:]
        if inner.lstrip("-").isdigit():
            if not isinstance(value, list) or not -len(value) <= int(inner) < len(value):
                raise PageError(f"{source}: no element {step} at {here}")
            value, done = value[int(inner)], done + step
            continue
        if not isinstance(value, (list, dict)):
            raise PageError(f"{source}: {here} is not a list, cannot take {step}")
        items = [(f"{done}.{k}", v) for k, v in value.items()] if isinstance(value, dict) else \
            [(f"{done}[{j}]", v) for j, v in enumerate(value)]
        tests = [t.split("=", 1) for t in inner.lstrip("*").split(",") if t.strip()]
        if any(len(t) != 2 for t in tests):
            raise PageError(f"{source}: malformed selection {step} at {here}")
        picked = [(at, v) for at, v in items
                  if all(isinstance(v, dict) and str(v.get(k.strip())) == w.strip() for k, w in tests)]
        if inner.startswith("*"):
            return [walk(v, rest, source, at) for at, v in picked]
        if len(picked) != 1:
            raise PageError(f"{source}: {len(picked)} elements match {step} at {here} (need exactly one)")
        done, value = picked[0]
    return value


# ---- rendering --------------------------------------------------------------------------------------

class Renderer:
    """Renders one template; ``sources.used`` then names the results files it read."""

    def __init__(self, sources: Sources):
        self.sources, self.default = sources, None

    def resolve(self, ref: str):
        source, path = split_ref(ref, self.default)
        return walk(self.sources.load(source), split_path(path), source)

    def evaluate(self, expr: str):
        return expressions.evaluate(expr, self.resolve, renderers.FUNCTIONS)

    def placeholder(self, body: str) -> str:
        body = body.strip()
        word, _, rest = body.partition(" ")
        if body.startswith("#"):
            return _EMPTY
        if word == "use":
            if not re.fullmatch(r"[\w.+-]+\.json|published", rest.strip()):
                raise PageError(f"use needs a results file NAME.json or published, not {rest.strip()!r}")
            self.default = rest.strip()
            self.sources.load(self.default)
            return _EMPTY
        if word == "check":
            value = self.evaluate(rest)
            if not (isinstance(value, bool) or isinstance(value, list) and value):
                raise PageError(f"check needs a comparison (true or false), not {value!r}")
            if not truth(value):
                raise PageError(f"the claim {rest.strip()!r} no longer holds: reword the sentence it guards")
            return _EMPTY
        if word in ("provenance", "machine"):
            names = [n for n in rest.split() if not n.startswith("cells=")]
            docs = [(name, self.sources.load(name)) for name in names]
            prefixes = [n.removeprefix("cells=") for n in rest.split() if n.startswith("cells=")]
            if prefixes:  # the processes that wrote those cells of a shared file, one sentence each
                if word != "provenance" or len(docs) != 1 or len(prefixes) != 1:
                    raise PageError("cells=PREFIX goes with provenance and one results file")
                try:
                    docs = [(names[0], w) for w in renderers.writers_of(docs[0][1], prefixes[0])]
                except ValueError as e:
                    raise PageError(f"{names[0]}: {e}") from None
                return renderers.provenance(docs, cells=prefixes[0])
            if not docs or (word == "machine" and len(docs) != 1):
                raise PageError(f"{word} needs {'one results file' if word == 'machine' else 'results files'}")
            return renderers.provenance(docs) if word == "provenance" else renderers.machine(docs[0][1])
        if word == "table":
            name, *args = rest.split()
            if name not in renderers.TABLES:
                raise PageError(f"no table renderer {name!r} (known: {', '.join(renderers.TABLES)})")
            return renderers.TABLES[name](self.sources.load, fmt, *args)
        is_expr = body.startswith("=")
        expr, sep, spec = body[is_expr:].rpartition("|")
        if not sep:
            expr, spec = body[is_expr:], ""
        return fmt(self.evaluate(expr) if is_expr else self.resolve(expr), spec)

    def render(self, template: str, name: str = "template") -> str:
        out = []
        for number_, line in enumerate(template.splitlines(keepends=True), 1):
            def sub(m: re.Match) -> str:
                try:
                    return self.placeholder(m.group(1))
                except PageError as e:
                    raise PageError(f"{name}:{number_}: {{{{{m.group(1).strip()}}}}}: {e}") from None
            text = PLACEHOLDER.sub(sub, line)
            if _EMPTY in text and not text.replace(_EMPTY, "").strip():
                continue
            out.append(text.replace(_EMPTY, ""))
        return "".join(out)


def render_page(template: Path = TEMPLATE, results: Path = RESULTS, published: Path = PUBLISHED) -> tuple[str, set[str]]:
    """The page the template makes of the results files, and the results files it read (with the
    records ``aekit benchmark`` writes, NAME.json, of the tables whose every results file it read)."""
    sources = Sources(results, published)
    text = Renderer(sources).render(Path(template).read_text(encoding="utf-8"), Sources._show(Path(template)))
    used = set(sources.used)
    for path in Path(results).glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and "table" in record and record.get("outputs") and set(record["outputs"]) <= used:
            used.add(path.name)
    return text, used


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 with a diff if the page is stale")
    ap.add_argument("--template", type=Path, default=TEMPLATE)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--published", type=Path, default=PUBLISHED)
    ap.add_argument("--output", type=Path, default=OUTPUT)
    a = ap.parse_args(argv)
    try:
        text, _ = render_page(a.template, a.results, a.published)
    except PageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    old = a.output.read_text(encoding="utf-8") if a.output.is_file() else ""
    if a.check:
        if old == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                                   f"{a.output.name} (committed)", f"{a.output.name} (rendered)"))
        print(f"\n{a.output} is stale: run python scripts/make_benchmarks_page.py", file=sys.stderr)
        return 1
    if old != text:
        write_atomic(a.output, text)
    print(f"{a.output}: {'written' if old != text else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
