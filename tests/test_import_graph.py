"""No import circle among vistakit's modules: the graph of every import (at the top of a module or deferred inside a
function; ``if TYPE_CHECKING:`` imports left out, they never run) has no cycle. A deferred import is still a
dependency: the issue's circle (attributes → grounding → vision → config → attributes) ran through one.

Importing one's own ancestor package (``from .. import tasks`` in ``tasks/base.py``) is not an edge: the package
is initialised before any of its modules runs, so it never starts a circular import; registries use it to load
their plugins."""

from __future__ import annotations

import ast
from pathlib import Path

import vistakit

ROOT = Path(vistakit.__file__).resolve().parent


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module → the vistakit modules it imports (anywhere in its code)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files]
                targets = subs + ([target] if len(subs) < len(node.names) else [])
            else:
                continue
            for t in targets:
                if t in files and t != mod and not mod.startswith(t + "."):  # an ancestor package is no edge
                    graph[mod].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in order, the first repeated at the end), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_sees_deferred_imports_and_finds_cycles():
    graph = import_graph()
    assert "vistakit.model.config" in graph["vistakit.model.vision"]
    assert "vistakit.tasks" in graph["vistakit.model.grounding"]
    assert "vistakit.data.domain" in graph["vistakit.train.loop"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_vistakit_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle or [])
