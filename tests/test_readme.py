"""The README's promises: two Quickstart commands, every setting documented, runnable examples."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from cognito_middleware import CognitoConfig
from cognito_middleware.local import LocalCognito, demo_seed

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
APP_URL = "http://127.0.0.1:8000"


def section(name: str) -> str:
    match = re.search(rf"<!-- section:{name} -->\n(.*?)<!-- /section:{name} -->", README, re.S)
    assert match, f"README has no section {name!r}"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_quickstart_has_exactly_the_two_commands() -> None:
    (block,) = code_blocks(section("quickstart"), "sh")
    commands = [line for line in block.splitlines() if line.strip()]
    assert commands == [
        "pip install -e '.[dev]' && python -m example_app",
        "pip install -e '.[dev]' && pytest",
    ]


def test_configuration_documents_every_variable_and_setting() -> None:
    text = section("configuration")
    source = (ROOT / "cognito_middleware" / "_config.py").read_text(encoding="utf-8")
    variables = set(re.findall(r'"(COGNITO_[A-Z_]+)"', source))
    assert variables, "no COGNITO_* variable found in config.py"
    for variable in sorted(variables):
        assert f"`{variable}`" in text, f"{variable} is not documented"
    for field in dataclasses.fields(CognitoConfig):
        if field.init and f"COGNITO_{field.name.upper()}" not in variables:
            assert f"`{field.name}`" in text, f"setting {field.name} is not documented"


@pytest.fixture(scope="module")
def cognito_env() -> Iterator[dict[str, str]]:
    cognito = LocalCognito(demo_seed(app_url=APP_URL))
    with cognito.serve(port=0):
        yield cognito.env(app_url=APP_URL)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        # The Starlette example: open home, decorator-guarded profile, guest credentials.
        (0, {"/": 200, "/profile": 401, "/audit": 401, "/guest": 200}),
        # The FastAPI example: dependencies and a group rule.
        (1, {"/": 200, "/api/me": 401, "/admin": 401}),
    ],
)
async def test_usage_examples_run(
    cognito_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    index: int,
    expected: dict[str, int],
) -> None:
    for name, value in cognito_env.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {}
    exec(code_blocks(section("usage"), "python")[index], namespace)  # noqa: S102
    app = namespace["app"]
    async with (
        LifespanManager(app) as manager,  # type: ignore[arg-type]
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=APP_URL
        ) as client,
    ):
        for path, status in expected.items():
            response = await client.get(path, headers={"Accept": "application/json"})
            assert response.status_code == status, (path, response.text)


_MYAPP = """
from fastapi import FastAPI
from cognito_middleware import CognitoAuthMiddleware, CognitoConfig
from cognito_middleware.fastapi import CurrentUser, install_exception_handler


def create_app(config: CognitoConfig, **options) -> FastAPI:
    app = FastAPI()
    app.add_middleware(CognitoAuthMiddleware, config=config, **options)
    install_exception_handler(app)

    @app.get("/api/me")
    async def me(user: CurrentUser):
        return {"username": user.username}

    @app.get("/admin/stats")
    async def stats(user: CurrentUser):
        return {"groups": list(user.groups)}

    return app
"""


def test_testing_recipe_runs_as_written(tmp_path: Path) -> None:
    conftest, test_module = code_blocks(section("testing"), "python")
    (tmp_path / "tests").mkdir()
    (tmp_path / "myapp.py").write_text(_MYAPP)
    (tmp_path / "tests" / "conftest.py").write_text(conftest)
    (tmp_path / "tests" / "test_me.py").write_text(test_module)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\nfilterwarnings = ["error"]\n'
    )
    # This checkout's package, whichever one is installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tmp_path), str(ROOT)))}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
