"""The Redis store against a real redis-server: TTLs, sealing at rest, lazy import."""

from __future__ import annotations

import secrets
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from cognito_middleware.exceptions import CognitoUnavailableError
from cognito_middleware.sessions import RedisSessionStore, SessionStoreUnavailableError
from cognito_middleware.testing import FrozenClock

from .conftest import SECRET
from .helpers import Jar, make_session, token_fragments

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{secrets.token_hex(8)}:"


@pytest.fixture
def store(client: aioredis.Redis, clock: FrozenClock, prefix: str) -> RedisSessionStore:
    return RedisSessionStore(client, SECRET, clock=clock, key_prefix=prefix, idle_timeout=3600)


async def test_entry_has_the_session_lifetime_as_ttl(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    session = make_session(clock())
    await store.save(session, {})
    ttl = await client.pttl(prefix + session.session_id)
    assert 3_599_000 < ttl <= 3_600_000
    short = make_session(clock(), refresh_expires_at=clock() + 60)
    await store.save(short, {})
    assert 59_000 < await client.pttl(prefix + short.session_id) <= 60_000


async def test_a_dead_session_is_not_written(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    await store.save(session.evolve(refresh_expires_at=clock() - 1), jar)
    assert await client.exists(prefix + session.session_id) == 0


async def test_tokens_are_not_readable_at_rest(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    session = make_session(clock(), groups=10)
    await store.save(session, {})
    raw = await client.get(prefix + session.session_id)
    assert raw is not None
    for fragment in token_fragments(session):
        assert fragment.encode() not in raw
    for needle in (b"cognito:groups", b"AzureAD", b"eu-west-1"):
        assert needle not in raw


async def test_an_entry_moved_to_another_key_does_not_open(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    victim, attacker = make_session(clock()), make_session(clock())
    await store.save(victim, {})
    attacker_jar = Jar().apply(await store.save(attacker, {}))
    stolen = await client.get(prefix + victim.session_id)
    assert stolen is not None
    await client.set(prefix + attacker.session_id, stolen)
    assert await store.load(attacker_jar) is None


async def test_a_corrupt_entry_is_anonymous(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    for junk in (b"", b"junk", b"\xff\xfe", b"A" * 100):
        await client.set(prefix + session.session_id, junk)
        assert await store.load(jar) is None


async def test_clear_deletes_the_entry(
    store: RedisSessionStore, client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    await store.clear(jar)
    assert await client.exists(prefix + session.session_id) == 0


async def test_from_url_owns_and_closes_its_client(redis_url: str, clock: FrozenClock) -> None:
    store = RedisSessionStore.from_url(redis_url, SECRET, clock=clock)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    assert await store.load(jar) == session
    await store.clear(jar)
    await store.aclose()


async def test_an_injected_client_is_left_open(
    client: aioredis.Redis, clock: FrozenClock, prefix: str
) -> None:
    store = RedisSessionStore(client, SECRET, clock=clock, key_prefix=prefix)
    await store.aclose()
    assert await client.ping()


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"cognito-middleware\[redis\]"):
        RedisSessionStore.from_url("redis://localhost:6379/0", SECRET)


async def test_an_unreachable_redis_is_a_clear_error(
    store: RedisSessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = RedisSessionStore.from_url(f"redis://127.0.0.1:{port}/0", SECRET, clock=clock)
    try:
        for attempt in (dead.load(jar), dead.save(session, {}), dead.clear(jar)):
            with pytest.raises(SessionStoreUnavailableError) as info:
                await attempt
            assert isinstance(info.value, CognitoUnavailableError)
            assert SECRET not in str(info.value)
    finally:
        await dead.aclose()
