"""The store fixture the conformance suite runs against: cookie, memory and a real Redis."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cognito_middleware.sessions import (
    CookieSessionStore,
    CookieSettings,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
)
from cognito_middleware.testing import FrozenClock

from .helpers import NOW

SECRET = "s" * 16 + "-first-session-secret-of-32-bytes"
OLD_SECRET = "o" * 16 + "-older-session-secret-of-32-bytes"

StoreFactory = Callable[..., Awaitable[SessionStore]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on port {port}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port, in a temporary directory, for this test run.

    Skips when redis-server is not installed; the ``redis`` marker makes that skip a failure
    when the ``CI`` environment variable is set (see tests/conftest.py).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_ping(port, time.monotonic() + 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


STORE_KINDS = [
    pytest.param("cookie", id="cookie"),
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every conformance test runs once per store."""
    return str(request.param)


@pytest.fixture
async def make_store(
    request: pytest.FixtureRequest, store_kind: str, clock: FrozenClock
) -> AsyncIterator[StoreFactory]:
    """Builds stores of one kind that share one backend, as processes of one app would."""
    kind = store_kind
    built: list[SessionStore] = []
    shared_entries: Any = None
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    prefix = f"test-{secrets.token_hex(8)}:"

    async def build(
        secrets_: tuple[str, ...] = (SECRET,), *, secure: bool = True, **options: Any
    ) -> SessionStore:
        nonlocal shared_entries
        settings = CookieSettings(secure=secure)
        common: dict[str, Any] = {"cookie": settings, "clock": clock, **options}
        store: SessionStore
        if kind == "cookie":
            store = CookieSessionStore(secrets_, **common)
        elif kind == "memory":
            memory = MemorySessionStore(secrets_, **common)
            # Processes sharing one memory store do not exist; share the map to test rotation.
            if shared_entries is None:
                shared_entries = memory._entries
            memory._entries = shared_entries
            store = memory
        else:
            assert redis_url is not None
            store = RedisSessionStore.from_url(redis_url, secrets_, key_prefix=prefix, **common)
        built.append(store)
        return store

    yield build
    for store in built:
        await store.aclose()


@pytest.fixture
async def store(make_store: StoreFactory) -> SessionStore:
    return await make_store()
