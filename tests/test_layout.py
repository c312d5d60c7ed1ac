"""The house's shape, checked: stage packages in layers (a module imports only from its own layer or lower), no
import cycle between modules, no module over 500 lines and no function of ``pipeline/`` over 80."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.conftest import ROOT

LAYERS: list[tuple[str, ...]] = [
    ("pipeline.schemas", "pipeline._pandera", "pipeline.errors", "pipeline.safety", "pipeline.xlsx"),
    ("pipeline.ingest",),
    ("pipeline.text",),
    ("pipeline.review",),
    ("pipeline.themes",),
    ("pipeline.measures", "pipeline.tally"),
    ("pipeline.perspectives",),
    ("pipeline.charts",),
    ("pipeline.run.settings", "pipeline.run.result"),
    ("pipeline.run.outputs",),
    ("pipeline.report",),
    ("pipeline.run",),
    ("flows",),
]
"""Bottom to top.  A module belongs to the unit with the longest matching prefix: the run's result types and
settings sit below the report (which reads them), the output catalogue between the charts it draws with and the
report that names its files, the rest of the run (analysis, writers, manifest, history) above the report."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module(p): p for folder in ("pipeline", "flows") for p in sorted((ROOT / folder).rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (at the top or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pipeline.run import outputs`` imports the module pipeline.run.outputs, not the package's names
            submodules = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            names = submodules if len(submodules) == len(node.names) else [node.module, *submodules]
        found |= {n for n in names if n in known}
    return found


def _unit(module: str) -> int:
    best = max((prefix for layer in LAYERS for prefix in layer
                if module == prefix or module.startswith(prefix + ".")), key=len, default=None)
    assert best is not None, f"{module} is in no layer of tests/test_layout.py"
    return next(n for n, layer in enumerate(LAYERS) if best in layer)


def _graph() -> nx.DiGraph:
    sources = _sources()
    graph = nx.DiGraph()
    for module, path in sources.items():
        graph.add_node(module)
        for target in _imports(path, set(sources)):
            if target != module and not module.startswith(target + "."):  # a package's own __init__
                graph.add_edge(module, target)
    return graph


def test_every_module_imports_only_its_own_layer_or_lower() -> None:
    upward = [f"{a} (layer {_unit(a)}) imports {b} (layer {_unit(b)})" for a, b in _graph().edges
              if _unit(b) > _unit(a)]
    assert upward == []


def test_no_import_cycle() -> None:
    assert list(nx.simple_cycles(_graph())) == []


def test_the_library_never_imports_prefect_nor_the_flows() -> None:
    for module, path in _sources().items():
        if module.startswith("pipeline"):
            text = path.read_text(encoding="utf-8")
            assert "import prefect" not in text and "from prefect" not in text, module
            assert not any(t.startswith("flows") for t in _imports(path, set(_sources()))), module


def test_modules_and_functions_stay_short() -> None:
    long_modules, long_functions = [], []
    for module, path in _sources().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            long_modules.append(module)
        if module.startswith("pipeline"):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                        node.end_lineno - node.lineno + 1 > 80:
                    long_functions.append(f"{module}.{node.name}")
    assert long_modules == [] and long_functions == []


def test_the_analysis_reads_as_its_steps() -> None:
    from pipeline.run import analysis

    tree = ast.parse(Path(analysis.__file__).read_text(encoding="utf-8"))
    [body] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_analyse"]
    assert body.end_lineno - body.lineno + 1 <= 60
