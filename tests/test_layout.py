"""The package's layout holds: no import circle, and no stage imports the CLI or an engine.

Read from the real import graph: every ``import`` and ``from ... import`` of every module
under cleaner/ (those inside functions too: an import deferred to call time still ties two
modules together), resolved to the cleaner modules it names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "cleaner"
STAGES = ("cleaner.sources", "cleaner.clean", "cleaner.dedup", "cleaner.outputs")
FORBIDDEN = ("cleaner.cli", "cleaner.engines", "cleaner.pipeline")


def module_names(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``module -> cleaner modules it imports``."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import sub`` imports the module pkg.sub; ``from mod import name`` mod
                subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules]
                targets = subs if subs and len(subs) == len(node.names) else [mod, *subs]
            for t in targets:
                while t and t not in modules:  # ``import cleaner.x.y`` names a module or its package
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith("cleaner"):
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read() -> None:
    """The walker sees real edges (a graph it cannot read would pass every check)."""
    graph = import_graph()
    assert "cleaner.dedup.minhash" in graph["cleaner.dedup.features"]
    assert "cleaner.clean.furniture" in graph["cleaner.clean.stages"]
    assert "cleaner.pipeline" in graph["cleaner.cli.commands"]


def test_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_no_stage_imports_cli_or_engine() -> None:
    graph = import_graph()
    bad = sorted((m, t) for m, ts in graph.items() if m.startswith(STAGES) for t in ts if t.startswith(FORBIDDEN))
    assert bad == []


def test_engines_import_no_stage() -> None:
    """Engines schedule what they are handed: no cleaning, dedup or output module of their own
    (the Ray engine once banded LSH keys itself)."""
    graph = import_graph()
    engines = [m for m in graph if m.startswith("cleaner.engines")]
    assert len(engines) >= 2
    assert sorted((m, t) for m in engines for t in graph[m] if t.startswith(STAGES)) == []


def test_a_circle_is_found(tmp_path: Path) -> None:
    """The checks fail on a circle and on a stage importing an engine: a package built to have both."""
    pkg = tmp_path / "cleaner"
    (pkg / "dedup").mkdir(parents=True)
    (pkg / "engines").mkdir()
    for init in (pkg, pkg / "dedup", pkg / "engines"):
        (init / "__init__.py").write_text("")
    (pkg / "dedup" / "a.py").write_text("from . import b\n")
    (pkg / "dedup" / "b.py").write_text("def f():\n    from .a import g\n    from ..engines.local import x\n")
    (pkg / "engines" / "local.py").write_text("")
    graph = import_graph(pkg)
    assert cycles(graph) == [["cleaner.dedup.a", "cleaner.dedup.b"]]
    assert "cleaner.engines.local" in graph["cleaner.dedup.b"]
