"""The console's ES modules import each other without a cycle: a panel (keys.js, roles.js,
events.js, dialogs.js) and the session talk over bus.js, so each can be read and changed alone.

The imports are read from the sources as the browser would meet them: static ``import … from
"./x.js"`` (over several lines too), bare ``import "./x.js"``, ``export … from "./x.js"`` and
dynamic ``import("./x.js")``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "chalicelib" / "console"

_STATIC = re.compile(r'^[ \t]*(?:import|export)\b[^;"\']*?(?:\bfrom\s*)?["\']\./([\w-]+\.js)["\']', re.MULTILINE)
_DYNAMIC = re.compile(r'\bimport\(\s*["\']\./([\w-]+\.js)["\']\s*\)')


def imports_of(source: str) -> set[str]:
    return set(_STATIC.findall(source)) | set(_DYNAMIC.findall(source))


def import_graph(folder: Path = CONSOLE) -> dict[str, set[str]]:
    return {path.name: imports_of(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.js"))}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle of each group of modules that reach each other (Tarjan's strongly connected
    components), as a path that ends where it starts: ["a.js", "b.js", "a.js"]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(graph, group) for group in groups]


def _cycle_through(graph: Mapping[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    # The shortest way back to start within the group (breadth first).
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & group):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {sorted(group)}")  # a strongly connected group has one


def test_the_console_modules_import_each_other_without_a_cycle() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles between console modules: " + "; ".join(" → ".join(c) for c in found)


def test_every_module_the_console_imports_exists() -> None:
    graph = import_graph()
    assert "app.js" in graph and "bus.js" in graph
    missing = sorted(
        f"{module} imports {target}" for module, targets in graph.items() for target in targets - set(graph)
    )
    assert missing == []


def test_no_panel_imports_the_session_or_another_panel() -> None:
    graph = import_graph()
    panels = {"session.js", "keys.js", "roles.js", "events.js", "dialogs.js"}
    # dialogs.js shows a key's own events with events.js' helpers: the one edge between panels.
    allowed = {("dialogs.js", "events.js")}
    crossing = sorted((m, t) for m in panels for t in graph[m] & panels if (m, t) not in allowed)
    assert crossing == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('import { a } from "./a.js";', {"a.js"}),
        ('import {\n  a,\n  b,\n} from "./multi.js";', {"multi.js"}),
        ('import "./bare.js";', {"bare.js"}),
        ('export { a } from "./again.js";', {"again.js"}),
        ('const m = await import("./later.js");', {"later.js"}),
        ('// import { a } from "./commented.js";\nconst s = "./not.js";', set()),
        ('import { a } from "https://elsewhere.example/x.js";', set()),
    ],
)
def test_imports_are_read_in_every_form(source: str, found: set[str]) -> None:
    assert imports_of(source) == found


def test_a_cycle_is_found_and_named() -> None:
    graph = {
        "app.js": {"session.js"},
        "session.js": {"keys.js", "shared.js"},
        "keys.js": {"dialogs.js"},
        "dialogs.js": {"session.js"},
        "shared.js": set(),
        "self.js": {"self.js"},
    }
    assert cycles(graph) == [["dialogs.js", "session.js", "keys.js", "dialogs.js"], ["self.js", "self.js"]]
