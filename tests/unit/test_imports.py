"""The package's import graph (scripts/import_graph.py): no circle, and no import that climbs to a higher
layer without a one-line reason."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph_tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_import_circle_and_every_climb_says_why(graph_tool):
    edges, files = graph_tool.graph(ROOT / "generator" / "ml_gen")
    assert graph_tool.circles(edges) == []
    assert [c for c in graph_tool.climbs(edges, files) if not c[3]] == []
    assert all(graph_tool.layer(name) >= 0 for name in files)  # every module has a layer (else SystemExit)


def test_a_module_in_no_layer_is_named(graph_tool):
    with pytest.raises(SystemExit, match="ml_gen.newthing is in no layer"):
        graph_tool.layer("ml_gen.newthing")


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "ml_gen"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_circle_through_a_type_only_import_is_found(graph_tool, tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "render.py": "from ml_gen import values\n",
            "values.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ml_gen.render import R\n",
        },
    )
    edges, _ = graph_tool.graph(package)
    assert graph_tool.circles(edges) == [["ml_gen.render", "ml_gen.values"]]


def test_a_climb_needs_a_reason_on_its_line(graph_tool, tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "project.py": "",
            "config/__init__.py": "from ml_gen import project\n",
            "values.py": "from ml_gen import project  # climbs: a reason\n",
        },
    )
    edges, files = graph_tool.graph(package)
    assert graph_tool.climbs(edges, files) == [
        ("ml_gen.config", "ml_gen.project", 1, ""),
        ("ml_gen.values", "ml_gen.project", 1, "a reason"),
    ]
    assert graph_tool.main([str(package)]) == 1
