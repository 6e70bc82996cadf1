"""The SessionStore conformance suite: every store must pass every test here."""

from __future__ import annotations

import logging

import pytest

from cognito_middleware.sessions import SessionStore
from cognito_middleware.testing import FrozenClock

from .conftest import OLD_SECRET, SECRET, StoreFactory
from .helpers import Jar, make_session, parse_set_cookie, token_fragments

IDLE = 8 * 3600
ABSOLUTE = 7 * 24 * 3600


async def test_is_a_session_store(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


async def test_save_then_load_round_trips(store: SessionStore, clock: FrozenClock) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    assert await store.load(jar) == session


@pytest.mark.parametrize("groups", [0, 10, 50])
async def test_real_token_sizes_round_trip(
    make_store: StoreFactory, clock: FrozenClock, groups: int
) -> None:
    writer, reader = await make_store(), await make_store()
    session = make_session(clock(), groups=groups)
    jar = Jar().apply(await writer.save(session, {}))
    assert await reader.load(jar) == session


async def test_optional_fields_round_trip(store: SessionStore, clock: FrozenClock) -> None:
    session = make_session(
        clock(), refresh_token=None, refresh_expires_at=None, identity_id=None, extra={}
    )
    jar = Jar().apply(await store.save(session, {}))
    assert await store.load(jar) == session


async def test_no_cookie_is_anonymous(store: SessionStore) -> None:
    assert await store.load({}) is None
    assert await store.load({"unrelated": "value"}) is None


@pytest.mark.parametrize(
    "value",
    ["", "garbage", "1.", "1.AAAA", "0.AAAA", "9.AAAA", "-1.x", "1.!!!!", "x" * 5000, "é", "."],
)
async def test_garbage_cookie_is_anonymous(
    store: SessionStore, clock: FrozenClock, value: str
) -> None:
    jar = Jar().apply(await store.save(make_session(clock()), {}))
    garbled = {name: value for name in jar}
    assert await store.load(garbled) is None


async def test_other_secret_cannot_open(make_store: StoreFactory, clock: FrozenClock) -> None:
    ours, theirs = await make_store((SECRET,)), await make_store((OLD_SECRET,))
    jar = Jar().apply(await theirs.save(make_session(clock()), {}))
    assert await ours.load(jar) is None


async def test_secret_rotation(make_store: StoreFactory, clock: FrozenClock) -> None:
    before = await make_store((OLD_SECRET,))
    during = await make_store((SECRET, OLD_SECRET))
    after = await make_store((SECRET,))
    old_session = make_session(clock())
    old_jar = Jar().apply(await before.save(old_session, {}))
    assert await during.load(old_jar) == old_session
    assert await after.load(old_jar) is None

    new_session = make_session(clock())
    new_jar = Jar().apply(await during.save(new_session, {}))
    assert await after.load(new_jar) == new_session, "the first secret must seal"
    assert await before.load(new_jar) is None


async def test_idle_timeout(make_store: StoreFactory, clock: FrozenClock) -> None:
    store = await make_store(idle_timeout=IDLE, absolute_timeout=ABSOLUTE)
    jar = Jar().apply(await store.save(make_session(clock()), {}))
    clock.advance(IDLE)
    assert await store.load(jar) is not None
    clock.advance(1)
    assert await store.load(jar) is None


async def test_activity_extends_the_idle_timeout(
    make_store: StoreFactory, clock: FrozenClock
) -> None:
    store = await make_store(idle_timeout=IDLE, absolute_timeout=ABSOLUTE)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    clock.advance(IDLE - 10)
    touched = session.evolve(last_seen=clock())
    jar.apply(await store.save(touched, jar))
    clock.advance(IDLE - 10)
    assert await store.load(jar) == touched


async def test_absolute_timeout_despite_activity(
    make_store: StoreFactory, clock: FrozenClock
) -> None:
    store = await make_store(idle_timeout=IDLE, absolute_timeout=ABSOLUTE)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    while clock() - session.created_at < ABSOLUTE:
        clock.advance(IDLE / 2)
        loaded = await store.load(jar)
        if clock() - session.created_at <= ABSOLUTE:
            assert loaded is not None
            jar.apply(await store.save(loaded.evolve(last_seen=clock()), jar))
    clock.advance(1)
    assert await store.load(jar) is None


async def test_refresh_token_lifetime_ends_the_session(
    store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock(), refresh_expires_at=clock() + 600)
    jar = Jar().apply(await store.save(session, {}))
    clock.advance(599)
    assert await store.load(jar) == session
    clock.advance(1)
    assert await store.load(jar) is None


async def test_timeouts_come_from_the_stored_data_not_the_cookie(
    store: SessionStore, clock: FrozenClock
) -> None:
    # A session whose data says it was last seen long ago is dead even in a fresh cookie.
    session = make_session(clock()).evolve(last_seen=clock() - IDLE - 1)
    jar = Jar().apply(await store.save(session, {}))
    assert await store.load(jar) is None


async def test_clear_ends_the_session(
    store: SessionStore, clock: FrozenClock, store_kind: str
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    stolen = dict(jar)
    jar.apply(await store.clear(jar))
    assert not jar, "every cookie of the session is expired"
    assert await store.load(jar) is None
    if store_kind != "cookie":
        assert await store.load(stolen) is None, "server-side stores delete the session"


async def test_clear_without_a_session(store: SessionStore) -> None:
    headers = await store.clear({})
    assert headers
    assert all(parse_set_cookie(h)[2]["max-age"] == "0" for h in headers)


async def test_new_session_id_is_a_new_key(
    store: SessionStore, clock: FrozenClock, store_kind: str
) -> None:
    first = make_session(clock())
    jar = Jar().apply(await store.save(first, {}))
    planted = dict(jar)
    second = make_session(clock())
    jar.apply(await store.save(second, jar))
    assert jar != planted, "a new session gets a new cookie value"
    assert await store.load(jar) == second
    if store_kind != "cookie":
        assert await store.load(planted) is None, "the previous session is deleted"


async def test_saving_the_same_session_keeps_its_key(
    store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    clock.advance(60)
    touched = session.evolve(last_seen=clock())
    jar.apply(await store.save(touched, jar))
    assert await store.load(jar) == touched


async def test_sessions_of_two_users_stay_apart(store: SessionStore, clock: FrozenClock) -> None:
    alice, bob = make_session(clock()), make_session(clock())
    alice_jar = Jar().apply(await store.save(alice, {}))
    bob_jar = Jar().apply(await store.save(bob, {}))
    assert await store.load(alice_jar) == alice
    assert await store.load(bob_jar) == bob


@pytest.mark.parametrize("operation", ["save", "clear"])
async def test_cookie_flags_when_secure(
    store: SessionStore, clock: FrozenClock, operation: str
) -> None:
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    headers = await (store.save(session, jar) if operation == "save" else store.clear(jar))
    assert headers
    for header in headers:
        name, _, attrs = parse_set_cookie(header)
        assert name.startswith("__Host-cognito_session")
        assert "httponly" in attrs
        assert "secure" in attrs
        assert attrs["samesite"].lower() == "lax"
        assert attrs["path"] == "/"
        assert "domain" not in attrs


async def test_cookie_flags_for_plain_http_development(
    make_store: StoreFactory, clock: FrozenClock
) -> None:
    store = await make_store(secure=False)
    for header in await store.save(make_session(clock()), {}):
        name, _, attrs = parse_set_cookie(header)
        assert name.startswith("cognito_session")
        assert "secure" not in attrs
        assert "httponly" in attrs
        assert attrs["samesite"].lower() == "lax"
        assert attrs["path"] == "/"


async def test_secure_and_plain_cookies_do_not_mix(
    make_store: StoreFactory, clock: FrozenClock
) -> None:
    secure, plain = await make_store(secure=True), await make_store(secure=False)
    jar = Jar().apply(await secure.save(make_session(clock()), {}))
    renamed = {name.removeprefix("__Host-"): value for name, value in jar.items()}
    assert await plain.load(renamed) is None


@pytest.mark.parametrize("groups", [0, 10, 50])
async def test_every_cookie_stays_under_4096_bytes(
    store: SessionStore, clock: FrozenClock, groups: int
) -> None:
    for header in await store.save(make_session(clock(), groups=groups), {}):
        assert len(header.encode()) < 4096
        name, value, _ = parse_set_cookie(header)
        assert len(f"{name}={value}".encode()) < 4000


async def test_tokens_are_not_readable_in_cookies(store: SessionStore, clock: FrozenClock) -> None:
    session = make_session(clock())
    headers = "\n".join(await store.save(session, {}))
    for fragment in token_fragments(session):
        assert fragment not in headers


async def test_nothing_secret_in_logs_or_reprs(
    store: SessionStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = make_session(clock())
    jar = Jar().apply(await store.save(session, {}))
    await store.load(jar)
    await store.load({name: "tampered" for name in jar})
    await store.clear(jar)
    shown = caplog.text + repr(store) + repr(session) + str(session)
    for fragment in token_fragments(session):
        assert fragment not in shown
    assert SECRET not in shown
    for value in jar.values():
        assert value not in shown


async def test_aclose_is_safe(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.aclose()
