"""The commands that re-run the benchmarks (``aekit benchmark NAME``, ``make bench*``) run the protocols
the committed results were measured with: a command that drifts from its results file would rewrite
that file with other figures than the page describes."""
from __future__ import annotations

import json
import re
import shlex

import pytest

from aekit.bench import TABLES
from conftest import REPO

RESULTS = REPO / "benchmarks" / "results"
HARNESS_OPTIONS = {"--seeds", "--seed", "--device"}  # what `aekit benchmark` adds to a table's full arguments


def flags(args: list[str], drop: set[str] = frozenset()) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """A script command as (its leading words: script and subcommand, {flag: its values})."""
    head: list[str] = []
    opts: dict[str, list[str]] = {}
    flag = None
    for a in args:
        if a.startswith("--"):
            flag = a
            opts.setdefault(flag, [])
        elif flag is None:
            head.append(a)
        else:
            opts[flag].append(a)
    opts = {f: v for f, v in opts.items() if f not in drop | {"--resume", "--results"}}
    return tuple(h for h in head if h != "python" and not h.endswith("python")), opts


def recorded_commands(path) -> list[str]:
    """Every command a results file records: its own and, where processes shared it, each writer's."""
    d = json.loads(path.read_text())
    return [c for c in [d.get("command"), *(w.get("command") for w in d.get("writers", []))] if c]


def values(v: list[str]) -> set[str]:
    return {x for item in v for x in item.split(",")}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_tables_full_protocol_is_what_its_committed_results_ran(name: str) -> None:
    """Each committed results file of a table was written by its full protocol, or by part of it (some
    of its seeds, models or label counts per process): no flag the protocol lacks, no value outside it."""
    t = TABLES[name]
    head, full = flags(["benchmarks/" + t.script, *t.full], HARNESS_OPTIONS)
    for out in t.outputs:
        path = RESULTS / out
        if not path.is_file():
            continue
        parts = []
        for cmd in recorded_commands(path):
            h, got = flags(shlex.split(cmd), HARNESS_OPTIONS)
            parts.append(h == head and got.keys() == full.keys() and all(values(got[f]) <= values(full[f]) for f in got))
        assert any(parts), (f"{out} records {recorded_commands(path)}, none of them part of the {name} table's full protocol "
                            f"{shlex.join(['python', *head, *t.full])}")


def make_commands() -> list[list[str]]:
    """The benchmark commands of the Makefile's bench targets and of benchmarks/run_all.py."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    cmds = [shlex.split(c.strip().split("$(PY)", 1)[1]) for line in text.splitlines()
            for c in line.split("&&") if "$(PY) benchmarks/" in c and "run_all.py" not in c]
    src = (REPO / "benchmarks" / "run_all.py").read_text()
    listed = src.split("COMMANDS = [", 1)[1].split("\n]", 1)[0]
    cmds += [list(json.loads(m)) for m in re.findall(r"(\[[^\[\]]*\])", listed)]
    return cmds


def test_every_make_bench_command_reruns_the_protocol_of_a_committed_results_file() -> None:
    cmds = make_commands()
    assert len(cmds) >= 10, cmds
    recorded = [flags(shlex.split(c)) for p in RESULTS.glob("*.json") for c in recorded_commands(p)]
    for cmd in cmds:
        assert flags(cmd) in recorded, (f"`python {shlex.join(cmd)}` (Makefile or run_all.py) matches no committed results "
                                        "file's command: it would write figures other than those the page quotes")
