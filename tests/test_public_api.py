from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import subprocess
import sys

import cognito_middleware


def _isort_style(name: str) -> tuple[int, str]:
    # The order ruff keeps __all__ in: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_complete() -> None:
    exported = cognito_middleware.__all__
    assert exported == sorted(exported, key=_isort_style)
    public = {
        name
        for name, value in vars(cognito_middleware).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(exported)


def test_public_api_has_docstrings() -> None:
    for name in cognito_middleware.__all__:
        assert getattr(cognito_middleware, name).__doc__, name


def test_importing_the_core_pulls_no_optional_dependency() -> None:
    probe = (
        "import sys, cognito_middleware; "
        "print(sorted(m for m in ('fastapi', 'redis', 'boto3', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


PUBLIC_NAMESPACES = (
    "cognito_middleware.exceptions",
    "cognito_middleware",
    "cognito_middleware.sessions",
    "cognito_middleware.fastapi",
    "cognito_middleware.testing",
    "cognito_middleware.local",
)


def test_implementation_modules_are_private() -> None:
    package = pathlib.Path(cognito_middleware.__file__).parent
    public = {name.rpartition(".")[2] for name in PUBLIC_NAMESPACES}
    for path in package.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("_") or name in public or name == "py":
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            raise AssertionError(f"cognito_middleware.{name} is public but not a namespace")
    for sub in ("sessions", "testing", "local"):
        for path in (package / sub).glob("*.py"):
            if sub == "local":
                continue  # the emulator's modules are its own (its CLI is a module)
            assert path.stem.startswith("_"), f"cognito_middleware.{sub}.{path.stem}"


def test_every_public_namespace_has_a_complete_sorted_all() -> None:
    for name in PUBLIC_NAMESPACES:
        module = importlib.import_module(name)
        exported = module.__all__
        assert exported == sorted(exported, key=_isort_style), name
        for attr in exported:
            assert getattr(module, attr, None) is not None, f"{name}.{attr}"


def test_a_name_has_one_public_import_path() -> None:
    seen: dict[int, str] = {}
    for name in PUBLIC_NAMESPACES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            where = f"{name}.{attr}"
            # The exceptions are the one allowed re-export: the tree lives in .exceptions and
            # its names are also at the top, as users expect of an error hierarchy.
            if getattr(value, "__module__", "") == "cognito_middleware.exceptions" and (
                name != "cognito_middleware.exceptions"
            ):
                continue
            assert id(value) not in seen, f"{where} is also {seen[id(value)]}"
            seen[id(value)] = where


def test_the_readme_imports_only_from_public_namespaces() -> None:
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    pattern = r"^\s*from (cognito_middleware[\w.]*) import (?:\(([^)]*)\)|([^\n(]+))"
    for match in re.finditer(pattern, readme, re.M):
        namespace = match.group(1)
        assert namespace in PUBLIC_NAMESPACES or namespace.startswith("cognito_middleware.local"), (
            f"README imports from {namespace}"
        )
        module = importlib.import_module(namespace)
        names = re.sub(r"#[^\n]*", "", match.group(2) or match.group(3)).replace("\n", " ")
        for name in (n.strip() for n in names.split(",")):
            if name:
                name = name.split(" as ")[0].strip()
                assert hasattr(module, name), f"README: {namespace}.{name}"
