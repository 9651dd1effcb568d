"""The import graph of the ml_gen package: its circles, and the imports that climb from a lower layer to a
higher one (each must carry a `# climbs: <reason>` comment on its line).

    python scripts/import_graph.py [PACKAGE_DIR]      (default: generator/ml_gen; exit 1 on a circle or an
                                                      unexplained climb)
    python scripts/import_graph.py --dot [PACKAGE_DIR] the graph in Graphviz dot, layers as ranks
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS: list[tuple[str, ...]] = [
    (
        "ml_gen",
        "ml_gen.errors",
        "ml_gen.patterns",
        "ml_gen.pyyaml",
        "ml_gen.yamlio",
        "ml_gen.yamlsplice",
        "ml_gen.serving_metrics",
        "ml_gen.promql",
        "ml_gen.gojson",
    ),
    ("ml_gen.k8s",),
    ("ml_gen.config",),
    ("ml_gen.chart", "ml_gen.alerts", "ml_gen.dashboard", "ml_gen.kinds"),
    ("ml_gen.targets", "ml_gen.values"),
    ("ml_gen.render",),
    ("ml_gen.check", "ml_gen.drift", "ml_gen.output", "ml_gen.delivery"),
    ("ml_gen.edit", "ml_gen.starter", "ml_gen.origin"),
    ("ml_gen.project",),
    ("ml_gen.cli", "ml_gen.launch", "ml_gen.stdout", "ml_gen.__main__"),
]
"""Lowest first. A module belongs to the layer of the longest prefix that names it. Imports go down or
sideways; one that goes up is a climb."""
SKIP = ("ml_gen.scaffold",)  # the files `ml-gen init` writes: the user's code, not the package's


def layer(module: str) -> int:
    """The index in LAYERS of the longest prefix naming `module`."""
    best, found = -1, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            below = module.startswith(name + ".") and name != "ml_gen"  # the root package names itself only
            if (module == name or below) and len(name) > best:
                best, found = len(name), index
    if found < 0:
        raise SystemExit(f"import_graph: {module} is in no layer: add it to LAYERS")
    return found


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if not name.startswith(SKIP):
            found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, type-only) for every import of a package module in one file."""
    tree = ast.parse(path.read_text("utf-8"))
    type_only_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for inner in node.body:
                type_only_lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    found = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if target in known and target != name:
                found.append((target, node.lineno, node.lineno in type_only_lines))
    return sorted(set(found))


def graph(package: Path) -> tuple[dict[str, list[tuple[str, int, bool]]], dict[str, Path]]:
    found = modules(package)
    return {name: imports(name, path, set(found)) for name, path in found.items()}, found


def circles(edges: dict[str, list[tuple[str, int, bool]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over every import, type-only ones
    (under TYPE_CHECKING) included: a type-only circle is a circle of the design."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target, _, _ in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def climbs(edges: dict[str, list[tuple[str, int, bool]]], files: dict[str, Path]) -> list[tuple[str, str, int, str]]:
    """(importer, imported, line, reason) for every import that goes to a higher layer; reason is the
    text after `# climbs:` on that line, or "" when there is none."""
    found = []
    for name, targets in sorted(edges.items()):
        lines = files[name].read_text("utf-8").splitlines()
        for target, line, _ in targets:
            if layer(target) > layer(name):
                reason = lines[line - 1].partition("# climbs:")[2].strip()
                found.append((name, target, line, reason))
    return found


def dot(edges: dict[str, list[tuple[str, int, bool]]]) -> str:
    out = ["digraph ml_gen {", "  rankdir=BT; node [shape=box, fontsize=10];"]
    for index in range(len(LAYERS)):
        members = " ".join(f'"{m}";' for m in sorted(edges) if layer(m) == index)
        out.append(f"  {{ rank=same; {members} }}")
    for name, targets in sorted(edges.items()):
        for target, _, type_only in targets:
            style = " [style=dashed]" if type_only else ""
            out.append(f'  "{name}" -> "{target}"{style};')
    out.append("}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    as_dot = "--dot" in argv
    rest = [a for a in argv if a != "--dot"]
    package = Path(rest[0]) if rest else ROOT / "generator" / "ml_gen"
    edges, files = graph(package)
    if as_dot:
        print(dot(edges))
        return 0
    found_circles = circles(edges)
    found_climbs = climbs(edges, files)
    print(f"{len(files)} modules, {sum(len(t) for t in edges.values())} imports of the package's own modules")
    print(f"circles: {len(found_circles)}")
    for component in found_circles:
        print("  " + " <-> ".join(component))
    print(f"imports that climb: {len(found_climbs)}")
    for name, target, line, reason in found_climbs:
        print(f"  {name}:{line} -> {target}: {reason or 'NO REASON GIVEN'}")
    return 1 if found_circles or any(not reason for *_, reason in found_climbs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
