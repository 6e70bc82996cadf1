"""The background server, and the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import httpx

from cognito_middleware.local import LocalCognito, demo_seed


def test_serve_on_a_free_port_and_shut_down_cleanly() -> None:
    cognito = LocalCognito(demo_seed())
    threads = threading.active_count()
    with cognito.serve() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        assert base_url == cognito.base_url == f"http://127.0.0.1:{port}"
        assert cognito.issuer == f"{base_url}/eu-west-1_LocalDemo"
        response = httpx.get(f"{cognito.issuer}/.well-known/jwks.json")
        assert response.status_code == 200
    assert threading.active_count() == threads
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_cli_starts_fast_and_prints_the_env_lines() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "cognito_middleware.local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        lines = _read_env(process, port, start)
    _check(lines, port)


def _read_env(process: subprocess.Popen[str], port: int, start: float) -> dict[str, str]:
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        while "COGNITO_SESSION_SECRET" not in lines:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            if not line.startswith("#"):
                name, _, value = line.strip().partition("=")
                lines[name] = value
        response = httpx.get(
            f"http://127.0.0.1:{port}/eu-west-1_LocalDemo/.well-known/openid-configuration"
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 200
        assert elapsed < 2.0, f"started in {elapsed:.2f}s"
    finally:
        process.terminate()
        process.wait(timeout=10)
    return lines


def _check(lines: dict[str, str], port: int) -> None:
    assert lines["COGNITO_USER_POOL_ID"] == "eu-west-1_LocalDemo"
    assert lines["COGNITO_DOMAIN"] == f"http://127.0.0.1:{port}"
    assert lines["COGNITO_ISSUER"] == f"http://127.0.0.1:{port}/eu-west-1_LocalDemo"
    assert lines["COGNITO_IDENTITY_ENDPOINT"] == f"http://127.0.0.1:{port}/"
    assert lines["COGNITO_REDIRECT_URI"] == "http://127.0.0.1:8000/auth/callback"
    assert lines["COGNITO_ALLOWED_PROVIDERS"] == "AzureAD,Okta"
    assert len(lines["COGNITO_SESSION_SECRET"]) >= 32
    assert set(lines) == {
        "COGNITO_USER_POOL_ID",
        "COGNITO_CLIENT_ID",
        "COGNITO_CLIENT_SECRET",
        "COGNITO_DOMAIN",
        "COGNITO_ISSUER",
        "COGNITO_REDIRECT_URI",
        "COGNITO_LOGOUT_URI",
        "COGNITO_IDENTITY_POOL_ID",
        "COGNITO_IDENTITY_ENDPOINT",
        "COGNITO_ALLOWED_PROVIDERS",
        "COGNITO_SESSION_SECRET",
    }


def test_cli_refuses_a_bad_seed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cognito_middleware.local", "--seed", "/nonexistent.toml"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot load seed" in result.stderr
