"""The demo app: its pages and APIs in process, and ``python -m example_app`` as a process."""

from __future__ import annotations

import asyncio
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from starlette.types import ASGIApp, Message

from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.seed import DEMO_PASSWORD
from cognito_middleware.testing import sign_in
from example_app import create_app, demo_config
from example_app.__main__ import demo_users_of

APP_URL = "http://127.0.0.1:8000"
HTML = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def cognito() -> Iterator[LocalCognito]:
    cognito = LocalCognito(demo_seed(app_url=APP_URL))
    with cognito.serve(host="127.0.0.1", port=0):
        yield cognito


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run the app's startup and shutdown (which closes the middleware's HTTP client)."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


@pytest.fixture
async def client(cognito: LocalCognito) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        demo_config(cognito.env(app_url=APP_URL)),
        demo_users=demo_users_of(demo_seed(app_url=APP_URL)),
    )
    transport = httpx.ASGITransport(app=app)
    async with lifespan(app), httpx.AsyncClient(transport=transport, base_url=APP_URL) as client:
        yield client


async def test_home_offers_sign_in_and_lists_the_demo_users(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers=HTML)
    assert response.status_code == 200
    page = response.text
    assert 'id="sign-in"' in page
    assert "/auth/login?next=%2Fprofile&amp;provider=AzureAD" in page
    for name in ("alice", "bob", "carol@contoso.example", DEMO_PASSWORD):
        assert name in page


async def test_api_me_is_401_json_for_anonymous_callers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me", headers=JSON)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "login_required"


@pytest.mark.parametrize("path", ["/profile", "/admin"])
async def test_protected_pages_send_browsers_to_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/auth/login?next=%2F{path[1:]}"


async def test_starlette_route_guarded_by_decorator(client: httpx.AsyncClient) -> None:
    response = await client.get("/starlette/whoami", headers=JSON)
    assert response.status_code == 401


async def test_guest_gets_credentials_without_their_secret_parts(
    client: httpx.AsyncClient, cognito: LocalCognito
) -> None:
    response = await client.get("/api/aws/identity", headers=JSON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"identity_id", "access_key_id", "expiration", "role", "authenticated"}
    assert body["authenticated"] is False
    # The identity pool chose the role; the emulator says which one it handed out.
    assert body["role"] is None
    issued = {c.access_key_id: c for c in cognito.credentials_issued}[body["access_key_id"]]
    assert issued.role_arn.endswith(":role/demo-guest")
    assert issued.identity_id == body["identity_id"]
    assert body["expiration"].endswith("Z")
    page = await client.get("/guest", headers=HTML)
    assert page.status_code == 200
    assert body["identity_id"] in page.text
    assert "unauthenticated role" in page.text
    for word in ("SecretKey", "secret_access_key", "SessionToken", "session_token"):
        assert word not in page.text and word not in response.text


async def _sign_in(client: httpx.AsyncClient, cognito: LocalCognito, username: str) -> None:
    login = await client.get("/auth/login?next=/profile", headers=HTML)
    assert login.status_code == 302
    async with httpx.AsyncClient(base_url=cognito.base_url) as browser:
        done = await sign_in(browser, login.headers["location"], username, DEMO_PASSWORD)
    callback = done.headers["location"]
    assert callback.startswith(f"{APP_URL}/auth/callback?")
    landed = await client.get(callback, headers=HTML)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/profile"


async def test_signed_in_user_without_the_admin_group(
    client: httpx.AsyncClient, cognito: LocalCognito
) -> None:
    await _sign_in(client, cognito, "bob")
    me = (await client.get("/api/me", headers=JSON)).json()
    assert (me["username"], me["groups"], me["identity_provider"]) == ("bob", ["users"], None)
    profile = await client.get("/profile", headers=HTML)
    assert profile.status_code == 200
    assert '<code id="username">bob</code>' in profile.text
    assert (await client.get("/admin", headers=HTML)).status_code == 403
    whoami = await client.get("/starlette/whoami", headers=JSON)
    assert whoami.json() == {"username": "bob", "groups": ["users"]}
    creds = (await client.get("/api/aws/identity", headers=JSON)).json()
    assert creds["authenticated"] is True
    assert creds["role"].endswith(":role/demo-users")
    issued = {c.access_key_id: c for c in cognito.credentials_issued}[creds["access_key_id"]]
    assert (issued.role_arn, issued.authenticated) == (creds["role"], True)


async def test_admin_page_and_sign_out(client: httpx.AsyncClient, cognito: LocalCognito) -> None:
    await _sign_in(client, cognito, "alice")
    admin = await client.get("/admin", headers=HTML)
    assert admin.status_code == 200
    assert 'id="admin-panel"' in admin.text
    out = await client.post("/auth/logout", headers=HTML)
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{cognito.base_url}/logout?")
    assert (await client.get("/api/me", headers=JSON)).status_code == 401


async def test_api_me_accepts_a_bearer_access_token(
    client: httpx.AsyncClient, cognito: LocalCognito
) -> None:
    token = cognito.mint_tokens("alice")["access_token"]
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["via_bearer"]) == ("alice", True)
    assert "admin" in body["groups"]


# python -m example_app --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


@contextmanager
def _demo_process(port: int, args: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run ``python -m example_app``; yield its output once ``/`` answers, then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    output: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, output), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            while not output.empty():
                seen.append(output.get())
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "".join(seen)
                assert time.monotonic() < deadline, "".join(seen)
                time.sleep(0.1)
        while not output.empty():
            seen.append(output.get())
        yield "".join(seen)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


def _without_cognito_variables() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("COGNITO_")}


def test_python_m_example_app_starts_the_local_cognito_and_the_app() -> None:
    port, cognito_port = _free_port(), _free_port()
    args = ["--cognito-port", str(cognito_port)]
    with _demo_process(port, args, _without_cognito_variables()) as output:
        home = httpx.get(f"http://127.0.0.1:{port}/")
        login = httpx.get(f"http://127.0.0.1:{port}/auth/login")
    assert f"Local Cognito:  http://127.0.0.1:{cognito_port}" in output
    assert f"Demo app:       http://127.0.0.1:{port}" in output
    for text in ("alice", "bob", "carol@contoso.example", DEMO_PASSWORD):
        assert text in output
        assert text in home.text
    assert login.headers["location"].startswith(
        f"http://127.0.0.1:{cognito_port}/oauth2/authorize?"
    )


def test_python_m_example_app_with_cognito_variables_starts_nothing_else() -> None:
    # Any Cognito will do: here a local one plays the part of the real service.
    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    cognito = LocalCognito(demo_seed(app_url=app_url))
    with cognito.serve(port=0) as cognito_url:
        env = {**_without_cognito_variables(), **cognito.env(app_url=app_url)}
        with _demo_process(port, [], env) as output:
            home = httpx.get(f"{app_url}/")
            login = httpx.get(f"{app_url}/auth/login")
    assert "Local Cognito" not in output
    assert f"Demo app:       {app_url}" in output
    assert home.status_code == 200
    assert DEMO_PASSWORD not in home.text and 'id="demo-users"' not in home.text
    assert login.headers["location"].startswith(f"{cognito_url}/oauth2/authorize?")


def test_python_m_example_app_reports_a_busy_port_and_a_missing_variable() -> None:
    command = [sys.executable, "-m", "example_app"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for args, env, expected in (
            (["--port", port], _without_cognito_variables(), "use --port"),
            (
                ["--port", str(_free_port()), "--cognito-port", port],
                _without_cognito_variables(),
                "use --cognito-port",
            ),
            (
                ["--port", str(_free_port())],
                {**_without_cognito_variables(), "COGNITO_CLIENT_ID": "abc"},
                "COGNITO_USER_POOL_ID: is not set",
            ),
        ):
            result = subprocess.run(
                [*command, *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            assert result.returncode == 2, result.stderr
            assert expected in result.stderr
            assert "Traceback" not in result.stderr
