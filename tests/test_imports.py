"""Layers that only look down: every import of every module of ``src/`` read with ``ast`` (the
imports inside functions too), without importing anything.

- ``resim`` (simulation, dataset) imports neither ``train`` nor ``resim_workflow``;
- ``train`` (training, evaluation) does not import ``resim_workflow``, the glue above both;
- no module reaches itself through the modules it imports (no import cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Which top-level packages each package may import (besides itself): the layers, top down.
MAY_IMPORT = {"resim_workflow": {"resim", "train"}, "train": {"resim"}, "resim": set()}



def modules(src: Path = SRC) -> dict[str, tuple[Path, str]]:
    """Dotted name -> (file, the package its relative imports start from)."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        found[".".join(parts)] = (path, package)
    return found


def imports(path: Path, package: str, known: dict) -> set[str]:
    """The project's modules that ``path`` imports anywhere in it (the deepest module each
    import names: ``from resim.hard import processes`` is ``resim.hard.processes``)."""

    def module_of(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                      for alias in node.names]
    return {m for m in map(module_of, names) if m}


def graph(src: Path = SRC) -> dict[str, set[str]]:
    known = modules(src)
    return {name: imports(path, package, known) - {name}
            for name, (path, package) in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_each_layer_imports_only_the_layers_below():
    wrong = [f"{module} imports {target}" for module, targets in graph().items()
             for target in sorted(targets)
             if (top := target.split(".")[0]) != module.split(".")[0]
             and top not in MAY_IMPORT[module.split(".")[0]]]
    assert not wrong, wrong


def test_no_import_cycle():
    found = [sorted(c) for c in cycles(graph())]
    assert not found, found


def test_the_walk_sees_what_it_must(tmp_path):
    """The checks can fail: an upward import inside a function and a cycle through a relative
    import are both seen."""
    pkg = tmp_path / "resim"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from train.study import x\n")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom ..c import y\n")
    (pkg / "c.py").write_text("import resim.sub.b\n")
    edges = graph(tmp_path)
    assert edges["resim.a"] == set()  # train is not in tmp_path: no module of this tree
    assert "train.study" in imports(pkg / "a.py", "resim", {"train.study": None})
    assert edges["resim.sub.b"] == {"resim.a", "resim.c"}
    assert cycles(edges) == [{"resim.sub.b", "resim.c"}]


def test_training_runs_without_the_simulation_libraries():
    """A GPU node that only trains needs no fastjet: the training entry points import, and the
    config they read validates, without it (found on a GPU machine, where validating the
    config imported the export formats and with them fastjet)."""
    code = ("import sys; sys.modules['fastjet'] = None\n"  # None: any import of it fails
            "import train.cli, train.pretrain.run, train.finetune.run, train.evaluate.cli, "
            "train.open_jets\n"
            "from resim.config import load_config; load_config('config.yaml')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=SRC.parent)
    assert result.returncode == 0, result.stderr[-2000:]
