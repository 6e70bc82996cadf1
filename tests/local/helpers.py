"""Helpers shared by the local Cognito tests."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from cognito_middleware.local.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

APP = "http://127.0.0.1:8000"
CALLBACK = f"{APP}/auth/callback"
BASIC = httpx.BasicAuth(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "st-123",
        "nonce": "n-456",
    }
    params.update(overrides)
    return "/oauth2/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return b64json(header), b64json(payload)


async def exchange(
    client: httpx.AsyncClient, code: str, verifier: str | None = None, **extra: str
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    return await client.post("/oauth2/token", data=data, auth=BASIC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class CLI:
    """``python -m cognito_middleware.local`` as a subprocess, read until it serves.

    ``env`` holds the ``COGNITO_*`` lines it printed, ``comments`` the ``#`` lines, and
    ``startup`` the seconds from launch until its discovery document answered.
    """

    def __init__(
        self, *args: str, port: int | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.port = port or free_port()
        command = [
            sys.executable,
            "-m",
            "cognito_middleware.local",
            "--port",
            str(self.port),
            *args,
        ]
        start = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.env: dict[str, str] = {}
        self.comments: list[str] = []
        try:
            assert self.process.stdout is not None
            while "COGNITO_SESSION_SECRET" not in self.env:
                line = self.process.stdout.readline()
                if not line:
                    raise AssertionError(self.stop()[1])
                if line.startswith("#"):
                    self.comments.append(line.rstrip("\n"))
                else:
                    name, _, value = line.strip().partition("=")
                    self.env[name] = value
            self.base_url = self.env["COGNITO_DOMAIN"]
            response = httpx.get(
                f"{self.base_url}/{self.env['COGNITO_USER_POOL_ID']}"
                "/.well-known/openid-configuration",
                verify=verify,
            )
            self.startup = time.perf_counter() - start
            assert response.status_code == 200
        except BaseException:
            self.stop()
            raise

    def stop(self) -> tuple[int, str]:
        """Stop it as a service manager would (SIGTERM); its exit code and standard error."""
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=15)
        return self.process.returncode, err

    def __enter__(self) -> CLI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
