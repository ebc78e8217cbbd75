"""The layering of docs/ARCHITECTURE.md, checked: no module imports from a layer above its own."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aekit"

# inside out, as docs/ARCHITECTURE.md lists them; a module may import its own layer and those below
LAYERS = [
    {"errors"},
    {"io", "progress", "arrays", "metrics"},
    {"config"},
    {"nets", "parts"},
    {"models", "data"},
    {"train"},
    {"runconfig", "resolve", "evaluate"},
    {"run", "tasks", "plots", "fitting", "export"},
    {"runreport", "sklearn", "explore", "bench"},
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
TOP = {"__init__"}  # the package's own __init__ is the public front door: it may import anything


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    """The aekit units (first path component) a module imports, relative or absolute."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(SRC).parent.parts
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(here[: len(here) - (node.level - 1)]) if node.level > 1 else list(here)
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from .. import x": the package root itself
                    parts = ["__init__"]
                out.append(parts[0])
            elif node.module and node.module.startswith("aekit."):
                out.append(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out += [a.name.split(".")[1] for a in node.names if a.name.startswith("aekit.")]
    return out


def test_no_module_imports_from_a_layer_above_its_own():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        if unit in TOP:
            continue
        assert unit in RANK, f"{path.relative_to(SRC)}: unit {unit!r} is in no layer of docs/ARCHITECTURE.md"
        for dep in _imports(path):
            if dep in TOP or dep == unit:
                continue
            assert dep in RANK, f"{path.relative_to(SRC)} imports unknown unit {dep!r}"
            if RANK[dep] > RANK[unit]:
                bad.append(f"{path.relative_to(SRC)} ({unit}) imports {dep}")
    assert not bad, "imports that reach up:\n" + "\n".join(bad)


def test_models_use_no_private_helpers_of_other_modules():
    """Families build on the protocol and the parts, not on other modules' private names."""
    bad = []
    for path in sorted((SRC / "models").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                bad += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad
