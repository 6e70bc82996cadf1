"""The memory store: bounded, least recently used sessions dropped first."""

from __future__ import annotations

import pytest

from cognito_middleware.sessions import MemorySessionStore
from cognito_middleware.testing import FrozenClock

from .conftest import SECRET
from .helpers import Jar, make_session


async def test_bounded_with_lru_eviction(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock, max_entries=3)
    sessions = [make_session(clock(), groups=0) for _ in range(4)]
    jars = [Jar().apply(await store.save(s, {})) for s in sessions[:3]]
    assert await store.load(jars[0]) == sessions[0]  # now the most recently used
    jars.append(Jar().apply(await store.save(sessions[3], {})))
    assert store.size == 3
    assert await store.load(jars[1]) is None, "the least recently used entry was dropped"
    for i in (0, 2, 3):
        assert await store.load(jars[i]) == sessions[i]


async def test_expired_entries_are_dropped_on_load(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock, idle_timeout=60)
    jar = Jar().apply(await store.save(make_session(clock()), {}))
    clock.advance(61)
    assert await store.load(jar) is None
    assert store.size == 0


async def test_a_callers_dict_cannot_change_the_stored_session(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    extra = {"provider": "AzureAD"}
    session = make_session(clock(), extra=extra)
    jar = Jar().apply(await store.save(session, {}))
    extra["provider"] = "changed"
    loaded = await store.load(jar)
    assert loaded is not None
    assert loaded.extra == {"provider": "AzureAD"}


async def test_cookie_carries_only_a_signed_id(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    assert list(jar) == ["__Host-cognito_session"]
    value = jar["__Host-cognito_session"]
    session_id, _, signature = value.partition(".")
    assert session_id == session.session_id
    assert len(value) < 100
    forged = {"__Host-cognito_session": f"{session_id}.{'A' * len(signature)}"}
    assert await store.load(forged) is None
    unsigned = {"__Host-cognito_session": session_id}
    assert await store.load(unsigned) is None


@pytest.mark.parametrize("session_id", ["short", "a" * 21, "has.dot" * 5, "x" * 129, "é" * 30])
async def test_weak_session_ids_are_refused(clock: FrozenClock, session_id: str) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    with pytest.raises(ValueError, match="128 bits"):
        await store.save(make_session(clock(), session_id=session_id), {})


async def test_leftover_cookie_store_chunks_are_expired(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    jar = Jar({"__Host-cognito_session-0": "1.x", "__Host-cognito_session-1": "y"})
    jar.apply(await store.save(make_session(clock()), jar))
    assert list(jar) == ["__Host-cognito_session"]


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemorySessionStore(SECRET, max_entries=0)


async def test_an_entry_under_another_id_is_not_returned(clock: FrozenClock) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    victim, attacker = make_session(clock()), make_session(clock())
    attacker_jar = Jar().apply(await store.save(attacker, {}))
    store._entries.put(attacker.session_id, victim)
    assert await store.load(attacker_jar) is None


async def test_a_known_signature_is_not_verified_again(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemorySessionStore(SECRET, clock=clock)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    calls = []
    real = store._signer.unsign

    def counting(value: str | bytes) -> bytes:
        calls.append(1)
        return real(value)

    monkeypatch.setattr(store._signer, "unsign", counting)
    for _ in range(3):
        assert await store.load(jar) == session
    assert len(calls) == 1
    await store.clear(jar)
    assert await store.load(jar) is None, "a remembered signature does not outlive the entry"


def test_an_empty_store_is_truthy() -> None:
    # ``session_store or default`` must not replace an empty store.
    assert MemorySessionStore(SECRET)
