"""The package's shape: no import cycle (type-only imports count too) and no class too large to read."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from scimconform.errors import ScimconformError

PACKAGE = Path(__file__).parents[1] / "scimconform"
MAX_CLASS_LINES = 250


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each scimconform module → the scimconform modules it imports, wherever the import stands."""
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != name}
        graph[name] = found - {"scimconform"}  # the package root holds only the version
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        trail.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    assert find_cycle(import_graph()) is None, " → ".join(find_cycle(import_graph()) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_exchange_module_imports_nothing_from_the_package() -> None:
    assert import_graph()["scimconform.exchange"] == set()


def test_no_class_is_longer_than_a_reader_can_hold() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.end_lineno and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert long == []


def test_every_exception_the_harness_defines_is_in_one_tree() -> None:
    """scimconform.errors documents the tree; the reference server, the exchange module (which imports
    nothing) and Locust's user class keep theirs to themselves."""
    outside = {"scimconform.exchange", "scimconform.load.locustfile"}
    loose = []
    for path in PACKAGE.rglob("*.py"):
        module = _module(path)
        if module.startswith("scimconform.server") or module in outside:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Failure", "Skipped", "Failed")):
                imported = importlib.import_module(module)
                if not issubclass(getattr(imported, node.name), ScimconformError):
                    loose.append(f"{module}.{node.name}")
    assert loose == []
