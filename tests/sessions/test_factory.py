"""``build_session_store`` and the public names of the sessions package."""

from __future__ import annotations

import sys

import pytest

import cognito_middleware.sessions as sessions
from cognito_middleware._config import CognitoConfig
from cognito_middleware.sessions import (
    CookieSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    build_session_store,
)
from cognito_middleware.testing import FrozenClock

from .conftest import OLD_SECRET, SECRET
from .helpers import NOW, Jar, make_session, parse_set_cookie


def config(**changes: object) -> CognitoConfig:
    values: dict[str, object] = {
        "user_pool_id": "eu-west-1_AbCdEf123",
        "client_id": "4hqt9ikctmesulmh0hbqbs00ta",
        "domain": "https://myapp.auth.eu-west-1.amazoncognito.com",
        "redirect_uri": "https://app.example.com/auth/callback",
        "session_secret": f"{SECRET},{OLD_SECRET}",
    }
    values.update(changes)
    return CognitoConfig(**values)  # type: ignore[arg-type]


async def test_cookie_store_by_default() -> None:
    store = build_session_store(config())
    assert isinstance(store, CookieSessionStore)
    assert isinstance(store, SessionStore)


async def test_memory_store() -> None:
    assert isinstance(build_session_store(config(session_store="memory")), MemorySessionStore)


async def test_redis_store_from_url_without_connecting() -> None:
    store = build_session_store(config(session_store="redis://127.0.0.1:1/0"))
    assert isinstance(store, RedisSessionStore)
    await store.aclose()


def test_redis_store_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"\[redis\]"):
        build_session_store(config(session_store="redis://127.0.0.1:6379/0"))


@pytest.mark.parametrize("kind", ["cookie", "memory"])
async def test_settings_come_from_the_config(kind: str) -> None:
    clock = FrozenClock(NOW)
    store = build_session_store(
        config(session_store=kind, cookie_name="app_session", idle_timeout=60), clock=clock
    )
    headers = await store.save(make_session(clock()), {})
    assert parse_set_cookie(headers[0])[0].startswith("__Host-app_session")
    jar = Jar().apply(headers)
    assert await store.load(jar) is not None
    clock.advance(61)
    assert await store.load(jar) is None, "idle_timeout and the clock are passed on"


async def test_the_first_secret_seals_and_all_open() -> None:
    clock = FrozenClock(NOW)
    rotated = build_session_store(config(), clock=clock)
    old_only = build_session_store(config(session_secret=OLD_SECRET), clock=clock)
    new_only = build_session_store(config(session_secret=SECRET), clock=clock)
    old_jar = Jar().apply(await old_only.save(make_session(clock()), {}))
    assert await rotated.load(old_jar) is not None
    new_jar = Jar().apply(await rotated.save(make_session(clock()), {}))
    assert await new_only.load(new_jar) is not None
    assert await old_only.load(new_jar) is None


async def test_plain_http_loopback_development_cookies() -> None:
    store = build_session_store(config(redirect_uri="http://localhost:8000/auth/callback"))
    name, _, attrs = parse_set_cookie((await store.save(make_session(), {}))[0])
    assert name == "cognito_session-0"
    assert "secure" not in attrs


def test_public_names() -> None:
    assert sessions.__all__ == sorted(sessions.__all__)
    for name in sessions.__all__:
        assert getattr(sessions, name).__doc__
    assert {
        "CookieSessionStore",
        "CookieSettings",
        "MemorySessionStore",
        "RedisSessionStore",
        "SessionData",
        "SessionStore",
        "build_session_store",
    } <= set(sessions.__all__)


def test_redis_is_not_imported_with_the_package() -> None:
    import subprocess

    code = "import sys, cognito_middleware.sessions; sys.exit(1 if 'redis' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
