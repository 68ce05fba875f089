"""The core's shape holds: no import cycle between its modules (every import counted, at module level or inside a
function, and a package's __init__ that runs when a submodule is imported), no private name imported from another
module, and no module past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "parallax"


def _modules() -> dict[str, Path]:
    found = {}
    for path in CORE.rglob("*.py"):
        name = ".".join(path.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y: relative to the package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                node.module = f"{base}.{node.module}" if node.module else base
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "parallax":
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    edges[name].add(target if target in modules else node.module)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append(f"{name} imports {target}")
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names if a.name in modules)
    for name, targets in edges.items():  # importing a.b.c runs a/__init__ and a/b/__init__ first
        for target in list(targets):
            parts = target.split(".")
            edges[name].update(p for i in range(2, len(parts)) if (p := ".".join(parts[:i])) in modules
                               and not name.startswith(p + "."))
        edges[name] -= {name}
        edges[name] &= set(modules)
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_and_no_private_name_across_modules():
    edges, private = _imports(_modules())
    assert _cycles(edges) == []
    assert private == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_core_is_past_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
