"""The package's modules import each other without cycles, and the wheel holds what it should."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import zipfile

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "cognito_middleware"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: pathlib.Path) -> set[str]:
    """The package modules ``path`` imports when it runs (not under ``TYPE_CHECKING``, and not
    inside functions, which import lazily on purpose)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("cognito_middleware"):
                continue
            if node.module is None:
                # "from . import srp" imports the module srp, not the package.
                found.update(f"{target}.{alias.name}" for alias in node.names)
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cognito_middleware"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _runtime_imports(path):
            # "from .sessions import x" names the package, "from .sessions.base import x" a module.
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    # A package's __init__ re-exports its modules; an edge into it from one of its own
    # modules would be the cycle, an edge out of it is not.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_request_path_calls_down_never_up() -> None:
    graph = _graph()
    middleware = {m for m in graph if m.rpartition(".")[2].lstrip("_") == "middleware"}
    assert middleware, "the middleware module was not found"
    for name, targets in graph.items():
        if name in middleware or name == "cognito_middleware":
            continue
        # Only the package's public surface may import the middleware: nothing below it does.
        assert not targets & middleware, f"{name} imports the middleware"


def test_the_wheel_ships_the_license_and_no_demo(tmp_path: pathlib.Path) -> None:
    root = PACKAGE.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "hatchling" in result.stderr:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-q",
                "-w",
                str(tmp_path),
                str(root),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("cognito_middleware-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("example_app/")]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "cognito_middleware/py.typed" in names
