"""The house's shape: no import circle (at module level and inside functions alike), packages that import only
lower layers, few top-level entries, and functions and modules short enough to read.

A circle makes import order matter (a name missing while its module is half-imported) and ties the two
modules' layers together; dependencies point one way, from the entry points and tools down to common/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tinyx_modules() -> dict[str, Path]:
    """Every module of the tinyx package by dotted name (a package by its __init__.py)."""
    modules = {}
    for path in sorted((ROOT / "tinyx").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The tinyx modules `name` imports anywhere in its source (a name from a module counts as that module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(known(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from .space import x`, `from . import space`
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            # `from tinyx.sweep import space` imports the module tinyx.sweep.space; `... import run_study` tinyx.sweep.
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else known(base)
                         for alias in node.names)
    return found - {None, name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path `a -> b -> ... -> a`, or None (depth-first search, colouring nodes)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    modules = tinyx_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_tinyx_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_check_sees_circles_through_function_level_and_package_imports():
    graph = import_graph()
    assert "tinyx.sweep.runner" in graph["tinyx.sweep"]  # `from tinyx.sweep.runner import run_study`
    assert "tinyx.training" in graph["tinyx.sweep.objective"]  # imported inside a method
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


# ---- the shape of the house: layers of packages, and sizes a reader can hold in mind

# The order of the layers is README's code map (tests/unit/test_code_map.py checks every import points down it).
ENTRY_POINTS = ["train.py", "sweep.py"]
MAX_FLOORS, MAX_TOP_LEVEL_ENTRIES, MAX_FUNCTION_LINES, MAX_MODULE_LINES = 9, 15, 50, 250
# Modules kept over MAX_MODULE_LINES (at most four, none over 400), each with why splitting it would cost a reader.
LONG_MODULES: dict[str, str] = {
}


def package_graph() -> dict[str, set[str]]:
    """Which top-level packages of tinyx import which, plus the entry points train.py and sweep.py."""
    modules = tinyx_modules()

    def package(name: str) -> str | None:
        parts = name.split(".")
        return parts[1] if len(parts) > 1 else None

    graph: dict[str, set[str]] = {}
    for name, deps in import_graph().items():
        if (own := package(name)) is not None:
            graph.setdefault(own, set()).update(p for d in deps if (p := package(d)) not in (None, own))
    for script in ENTRY_POINTS:
        deps = imported_modules(script, ROOT / script, modules)
        graph[script] = {p for d in deps if (p := package(d))}
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each node's floor: 1 for what imports nothing of tinyx, else one above the highest floor it imports."""
    memo: dict[str, int] = {}

    def floor(node: str) -> int:
        if node not in memo:
            memo[node] = 1 + max((floor(d) for d in graph.get(node, ())), default=0)
        return memo[node]

    return {node: floor(node) for node in graph}


def test_packages_stand_on_few_floors_without_a_circle():
    graph = package_graph()
    assert find_cycle(graph) is None
    assert max(floors(graph).values()) <= MAX_FLOORS, floors(graph)


def test_the_top_level_reads_as_the_architecture():
    entries = [p.name for p in (ROOT / "tinyx").iterdir() if p.name != "__pycache__"]
    assert len(entries) <= MAX_TOP_LEVEL_ENTRIES, sorted(entries)


def test_no_function_is_longer_than_a_reader_holds_in_mind():
    too_long = []
    for path in sorted((ROOT / "tinyx").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_long, too_long


def test_modules_stay_short_and_the_exceptions_are_few_and_named():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / "tinyx").rglob("*.py")}
    assert len(LONG_MODULES) <= 4 and all(sizes.get(m, 0) <= 400 for m in LONG_MODULES)
    assert all(m in sizes and sizes[m] > MAX_MODULE_LINES for m in LONG_MODULES), "a kept exception got short"
    long = {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES and m not in LONG_MODULES}
    assert not long, long


@pytest.mark.slow
def test_the_wheel_carries_the_configs(tmp_path):
    """An installed tinyx composes configs: the wheel holds conf/ inside the package."""
    import subprocess
    import zipfile

    out = subprocess.run(["uv", "build", "--wheel", "--out-dir", str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("tinyx-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"tinyx/conf/train.yaml", "tinyx/conf/debug/micro.yaml", "tinyx/conf/hydra/default.yaml",
            "tinyx/training/loop.py", "tinyx/sweep/runner.py"} <= names
    assert not any(n.startswith("tinyx/conf/local/default") for n in names)  # this machine's settings stay here
