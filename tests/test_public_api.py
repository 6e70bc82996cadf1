from __future__ import annotations

import inspect
import subprocess
import sys

import cognito_middleware


def test_all_is_sorted_and_complete() -> None:
    exported = cognito_middleware.__all__
    assert exported == sorted(exported)
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
