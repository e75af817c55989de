"""Dependencies point one way: no two packages of ``chalicelib/`` import each other.

Every import is read from the source with ``ast``: at module level, inside functions, and under
``if TYPE_CHECKING:`` alike. A type-only import counts: it is a dependency the reader has to
follow, and the day it moves out of the guard the circle closes at import time. A "package" is a
subpackage of ``chalicelib`` (``keys``, ``roles``, ...); a top-level module (``settings``,
``secret_source``, ``errors``, ...) is one of its own, and so is ``app.py``. A cycle of any length
between them fails the test, which names the import lines that make it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    path: str  # the importing file, relative to the root
    line: int
    text: str  # the statement's first line

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}  {self.text}"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """``app`` and every module of ``chalicelib``, by dotted name."""
    found = {"app": root / "app.py"}
    for path in sorted((root / "chalicelib").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: Mapping[str, Path], root: Path = ROOT) -> Iterable[Import]:
    """The project modules ``name`` imports, wherever in the file the import stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from chalicelib.keys import store``: the module store; ``from x.y import Name``: x.y
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:  # ``import chalicelib.keys.store as s`` and the like
                target = target.rpartition(".")[0]
            if target:
                text = lines[node.lineno - 1].strip()
                yield Import(name, target, str(path.relative_to(root)), node.lineno, text)


def package_of(module: str) -> str | None:
    """``chalicelib.keys.store`` → ``keys``; ``chalicelib.settings`` → ``settings``; ``app`` → ``app``."""
    if module == "app":
        return "app"
    parts = module.split(".")
    return parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else None


def package_graph(root: Path = ROOT) -> dict[tuple[str, str], list[Import]]:
    """(package, package) → the imports that make that edge, between distinct packages."""
    known = modules(root)
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for name, path in known.items():
        for found in imports(name, path, known, root):
            source, target = package_of(found.source), package_of(found.target)
            if source and target and source != target:
                edges[source, target].append(found)
    return edges


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def report(root: Path = ROOT) -> str:
    """Each cycle, and the import lines of every edge inside it."""
    edges = package_graph(root)
    parts = []
    for component in cycles(edges):
        lines = [f"packages importing each other: {', '.join(component)}"]
        for (source, target), found in sorted(edges.items()):
            if source in component and target in component:
                lines.append(f"  {source} -> {target}")
                ordered = sorted(found, key=lambda each: (each.path, each.line))
                lines.extend(f"    {where}" for where in dict.fromkeys(each.where for each in ordered))
        parts.append("\n".join(lines))
    return "\n".join(parts)


def test_no_two_packages_of_chalicelib_import_each_other() -> None:
    problems = report()
    assert not problems, "\n" + problems


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A function's import, a type-only one and a relative one all make an edge; a longer circle
    (a → b → c → a) is caught as one, naming its lines."""
    (tmp_path / "chalicelib" / "a").mkdir(parents=True)
    (tmp_path / "chalicelib" / "b").mkdir()
    for init in ("chalicelib/__init__.py", "chalicelib/a/__init__.py", "chalicelib/b/__init__.py"):
        (tmp_path / init).write_text("")
    (tmp_path / "app.py").write_text("from chalicelib.a import one\n")
    (tmp_path / "chalicelib" / "a" / "one.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chalicelib.b.two import Thing\n"
    )
    (tmp_path / "chalicelib" / "a" / "three.py").write_text("from . import one\n")
    (tmp_path / "chalicelib" / "b" / "two.py").write_text("def f():\n    from chalicelib import top\n")
    (tmp_path / "chalicelib" / "top.py").write_text("import chalicelib.a.three\n")
    text = report(tmp_path)
    assert "packages importing each other: a, b, top" in text
    assert "chalicelib/a/one.py:3  from chalicelib.b.two import Thing" in text
    assert "chalicelib/b/two.py:2  from chalicelib import top" in text
    assert "chalicelib/top.py:1  import chalicelib.a.three" in text
    (tmp_path / "chalicelib" / "top.py").write_text("")
    assert report(tmp_path) == ""
    (tmp_path / "chalicelib" / "a" / "three.py").write_text("def f():\n    from app import app\n")
    assert "packages importing each other: a, app" in report(tmp_path)
