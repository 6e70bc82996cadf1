"""The cookie store: chunking, sealing and everything an attacker can do with chunks."""

from __future__ import annotations

import base64
import random

import pytest

from cognito_middleware._config import Secret
from cognito_middleware._seal import Sealer
from cognito_middleware.exceptions import ConfigurationError
from cognito_middleware.sessions import (
    CookieSessionStore,
    CookieSettings,
    SessionData,
    SessionTooLargeError,
)
from cognito_middleware.sessions import _cookie as cookie_module
from cognito_middleware.sessions._codec import decode_session, encode_session
from cognito_middleware.sessions._cookie import MAX_CHUNKS
from cognito_middleware.testing import FrozenClock

from .conftest import SECRET
from .helpers import Jar, make_session, parse_set_cookie, token_fragments

NAME = "__Host-cognito_session"


def chunk(i: int) -> str:
    return f"{NAME}-{i}"


@pytest.fixture
def store(clock: FrozenClock) -> CookieSessionStore:
    return CookieSessionStore(SECRET, clock=clock)


async def saved(store: CookieSessionStore, session: SessionData, jar: Jar | None = None) -> Jar:
    jar = jar if jar is not None else Jar()
    return jar.apply(await store.save(session, jar))


async def multi_chunk(
    store: CookieSessionStore, clock: FrozenClock, seed: int = 1
) -> tuple[SessionData, Jar]:
    session = make_session(clock(), groups=50, seed=seed)
    jar = await saved(store, session)
    assert len(jar) >= 2
    return session, jar


@pytest.mark.parametrize(("groups", "chunks"), [(0, 1), (1, 1), (10, 1), (50, 2)])
async def test_chunk_counts_for_real_token_sizes(
    store: CookieSessionStore, clock: FrozenClock, groups: int, chunks: int
) -> None:
    session = make_session(clock(), groups=groups, seed=groups)
    headers = await store.save(session, {})
    assert [parse_set_cookie(h)[0] for h in headers] == [chunk(i) for i in range(chunks)]
    assert await store.load(Jar().apply(headers)) == session


async def test_first_chunk_carries_the_count(store: CookieSessionStore, clock: FrozenClock) -> None:
    _, jar = await multi_chunk(store, clock)
    assert jar[chunk(0)].startswith(f"{len(jar)}.")


async def test_opens_in_a_fresh_store(store: CookieSessionStore, clock: FrozenClock) -> None:
    session, jar = await multi_chunk(store, clock)
    assert await CookieSessionStore(SECRET, clock=clock).load(jar) == session


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("position", [3, -1, 1000])
async def test_a_tampered_chunk_is_anonymous(
    store: CookieSessionStore, clock: FrozenClock, index: int, position: int
) -> None:
    _, jar = await multi_chunk(store, clock)
    value = list(jar[chunk(index)])
    value[position] = "A" if value[position] != "A" else "B"
    jar[chunk(index)] = "".join(value)
    assert await CookieSessionStore(SECRET, clock=clock).load(jar) is None


async def test_a_missing_chunk_is_anonymous(store: CookieSessionStore, clock: FrozenClock) -> None:
    _, jar = await multi_chunk(store, clock)
    del jar[chunk(len(jar) - 1)]
    assert await store.load(jar) is None


async def test_a_truncated_chunk_is_anonymous(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    _, jar = await multi_chunk(store, clock)
    last = chunk(len(jar) - 1)
    jar[last] = jar[last][:-4]
    assert await store.load(jar) is None


async def test_a_wrong_count_is_anonymous(store: CookieSessionStore, clock: FrozenClock) -> None:
    _, jar = await multi_chunk(store, clock)
    count, _, body = jar[chunk(0)].partition(".")
    one = dict(jar)
    one[chunk(0)] = f"1.{body}"
    assert await store.load(one) is None
    more = dict(jar)
    more[chunk(0)] = f"{int(count) + 1}.{body}"
    more[chunk(int(count))] = "AAAA"
    assert await store.load(more) is None


async def test_the_count_is_authenticated_not_just_the_bytes(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    # Move the second chunk's bytes into the first: same concatenation, other count.
    _, jar = await multi_chunk(store, clock)
    assert len(jar) == 2
    _, _, body = jar[chunk(0)].partition(".")
    merged = {chunk(0): f"1.{body}{jar[chunk(1)]}"}
    assert await CookieSessionStore(SECRET, clock=clock).load(merged) is None


async def test_reordered_chunks_are_anonymous(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    _, jar = await multi_chunk(store, clock)
    count, _, body0 = jar[chunk(0)].partition(".")
    body1 = jar[chunk(1)]
    swapped = {chunk(0): f"{count}.{body1}", chunk(1): body0}
    assert await store.load(swapped) is None


async def test_chunks_swapped_between_users_are_anonymous(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    alice, alice_jar = await multi_chunk(store, clock, seed=1)
    bob, bob_jar = await multi_chunk(store, clock, seed=2)
    mixed = {chunk(0): alice_jar[chunk(0)], chunk(1): bob_jar[chunk(1)]}
    assert await store.load(mixed) is None
    mixed = {chunk(0): bob_jar[chunk(0)], chunk(1): alice_jar[chunk(1)]}
    assert await store.load(mixed) is None
    assert await store.load(alice_jar) == alice
    assert await store.load(bob_jar) == bob


async def test_a_stale_chunk_from_an_older_session_is_anonymous(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    session, jar = await multi_chunk(store, clock)
    old_second = jar[chunk(1)]
    clock.advance(60)
    await saved(store, session.evolve(last_seen=clock()), jar)
    jar[chunk(1)] = old_second
    assert await store.load(jar) is None


async def test_a_leftover_chunk_beyond_the_count_is_ignored_and_expired(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    _, jar = await multi_chunk(store, clock)
    small = make_session(clock(), groups=0)
    headers = await store.save(small, jar)
    expired = {
        parse_set_cookie(h)[0] for h in headers if parse_set_cookie(h)[2].get("max-age") == "0"
    }
    assert expired == {chunk(i) for i in range(1, len(jar))}
    # A browser that kept the stale chunk anyway still gets the new session.
    jar[chunk(0)] = Jar().apply(headers)[chunk(0)]
    assert len(jar) >= 2
    assert await store.load(jar) == small


async def test_clear_expires_every_chunk(store: CookieSessionStore, clock: FrozenClock) -> None:
    _, jar = await multi_chunk(store, clock)
    jar[chunk(4)] = "leftover"
    jar["unrelated"] = "kept"
    headers = await store.clear(jar)
    names = {parse_set_cookie(h)[0] for h in headers}
    assert names == {n for n in jar if n != "unrelated"}
    assert all(parse_set_cookie(h)[2]["max-age"] == "0" for h in headers)
    assert Jar(jar).apply(headers) == {"unrelated": "kept"}


async def test_cookie_name_is_bound_to_the_seal(clock: FrozenClock) -> None:
    one = CookieSessionStore(SECRET, cookie=CookieSettings(name="one"), clock=clock)
    two = CookieSessionStore(SECRET, cookie=CookieSettings(name="two"), clock=clock)
    jar = Jar().apply(await one.save(make_session(clock()), {}))
    renamed = {k.replace("__Host-one", "__Host-two"): v for k, v in jar.items()}
    assert await two.load(renamed) is None


async def test_values_sealed_for_another_purpose_do_not_open(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock(), groups=0)
    other = Sealer((Secret(SECRET),), "login-transaction")
    text = other.seal(encode_session(session), f"{NAME}\x001".encode())
    assert await store.load({chunk(0): f"1.{text}"}) is None


async def test_content_is_encrypted_not_just_signed(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock(), groups=10)
    jar = await saved(store, session)
    joined = jar[chunk(0)].partition(".")[2] + "".join(jar[chunk(i)] for i in range(1, len(jar)))
    raw = base64.urlsafe_b64decode(joined + "=" * (-len(joined) % 4))
    for needle in (b"cognito:groups", b"AzureAD", b"jane.doe", b"eu-west-1"):
        assert needle not in raw
    for fragment in token_fragments(session):
        assert fragment not in joined


async def test_random_mutations_never_raise_nor_yield_another_session(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    _, alice_jar = await multi_chunk(store, clock, seed=1)
    _, bob_jar = await multi_chunk(store, clock, seed=2)
    rng = random.Random(7)
    alphabet = "ABCxyz019-_.=;é\x00"
    for _ in range(300):
        jar = dict(rng.choice([alice_jar, bob_jar]))
        name = rng.choice(sorted({*jar, *bob_jar}))
        value = list(jar.get(name, ""))
        action = rng.randrange(4)
        if action == 0 and value:
            value[rng.randrange(len(value))] = rng.choice(alphabet)
        elif action == 1:
            value = value[: rng.randrange(len(value) + 1)]
        elif action == 2:
            value.insert(rng.randrange(len(value) + 1), rng.choice(alphabet))
        else:
            value = list(rng.choice([alice_jar, bob_jar]).get(name, ""))
        jar[name] = "".join(value)
        loaded = await CookieSessionStore(SECRET, clock=clock).load(jar)
        if loaded is not None:
            assert jar in (dict(alice_jar), dict(bob_jar)), "only intact cookies open"


async def test_too_large_a_session_is_refused_at_save(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    rng = random.Random(3)
    huge = make_session(clock()).evolve(extra={"blob": rng.randbytes(16_000).hex()})
    with pytest.raises(SessionTooLargeError) as info:
        await store.save(huge, {})
    assert "COGNITO_SESSION_STORE" in str(info.value)
    assert MAX_CHUNKS == 5


async def test_count_above_the_maximum_is_anonymous(store: CookieSessionStore) -> None:
    jar = {chunk(i): "AAAA" for i in range(MAX_CHUNKS + 1)}
    jar[chunk(0)] = f"{MAX_CHUNKS + 1}.AAAA"
    assert await store.load(jar) is None


# The decoded-session memo -----------------------------------------------------------------


async def test_unchanged_cookie_is_decoded_once(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = CookieSessionStore(SECRET, clock=clock)
    reader = CookieSessionStore(SECRET, clock=clock)
    calls = []
    real = decode_session

    def counting(data: bytes) -> SessionData:
        calls.append(1)
        return real(data)

    monkeypatch.setattr(cookie_module, "decode_session", counting)
    session = make_session(clock())
    jar = await saved(writer, session)
    for _ in range(5):
        assert await reader.load(jar) == session
    assert len(calls) == 1


async def test_saved_value_is_memoised(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CookieSessionStore(SECRET, clock=clock)
    jar = await saved(store, make_session(clock()))

    def fail(data: bytes) -> SessionData:
        raise AssertionError("a value this store just sealed is not decoded again")

    monkeypatch.setattr(cookie_module, "decode_session", fail)
    assert await store.load(jar) is not None


async def test_memo_still_checks_timeouts(store: CookieSessionStore, clock: FrozenClock) -> None:
    jar = await saved(store, make_session(clock()))
    assert await store.load(jar) is not None
    clock.advance(8 * 3600 + 1)
    assert await store.load(jar) is None


async def test_memo_is_bounded(clock: FrozenClock) -> None:
    store = CookieSessionStore(SECRET, clock=clock, cache_size=3)
    jars = [await saved(store, make_session(clock(), groups=0)) for _ in range(10)]
    assert len(store._opened) == 3
    for jar in jars:
        assert await store.load(jar) is not None
    assert len(store._opened) == 3


@pytest.mark.parametrize("seed", range(8))
async def test_only_the_exact_issued_text_opens(
    store: CookieSessionStore, clock: FrozenClock, seed: int
) -> None:
    # Every possible last character: only the issued one opens, whatever the length mod 4.
    session = make_session(clock(), groups=seed, seed=seed)
    jar = await saved(store, session)
    last = chunk(len(jar) - 1)
    opened = []
    for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        variant = dict(jar)
        variant[last] = jar[last][:-1] + char
        if await CookieSessionStore(SECRET, clock=clock).load(variant) is not None:
            opened.append(char)
    assert opened == [jar[last][-1]]


async def test_memo_does_not_open_tampered_values(
    store: CookieSessionStore, clock: FrozenClock
) -> None:
    session, jar = await multi_chunk(store, clock)
    assert await store.load(jar) == session
    tampered = dict(jar)
    tampered[chunk(1)] = jar[chunk(1)][:-1] + ("A" if jar[chunk(1)][-1] != "A" else "B")
    assert await store.load(tampered) is None


# Settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        CookieSettings(name="bad name"),
        CookieSettings(name="a;b"),
        CookieSettings(name="__Host-x"),
        CookieSettings(name=""),
        CookieSettings(samesite="sometimes"),
        CookieSettings(samesite="none", secure=False),
        CookieSettings(max_age=0),
    ],
)
def test_bad_cookie_settings_are_refused(settings: CookieSettings) -> None:
    with pytest.raises(ConfigurationError):
        CookieSessionStore(SECRET, cookie=settings)


@pytest.mark.parametrize("secrets", ["short", [], [SECRET, "short"]])
def test_weak_or_missing_secrets_are_refused(secrets: str | list[str]) -> None:
    with pytest.raises(ConfigurationError):
        CookieSessionStore(secrets)


def test_bad_timeouts_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        CookieSessionStore(SECRET, idle_timeout=0)
    with pytest.raises(ConfigurationError):
        CookieSessionStore(SECRET, absolute_timeout=-1)


async def test_max_age_when_configured(clock: FrozenClock) -> None:
    store = CookieSessionStore(SECRET, cookie=CookieSettings(max_age=3600), clock=clock)
    for header in await store.save(make_session(clock()), {}):
        assert parse_set_cookie(header)[2]["max-age"] == "3600"


async def test_session_cookie_by_default(store: CookieSessionStore, clock: FrozenClock) -> None:
    for header in await store.save(make_session(clock()), {}):
        attrs = parse_set_cookie(header)[2]
        assert "max-age" not in attrs
        assert "expires" not in attrs


@pytest.mark.parametrize("error", [-2000, 2000])
async def test_a_wrong_size_prediction_is_corrected(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    monkeypatch.setattr(cookie_module, "_NONCE_AND_TAG", 28 + error)
    store = CookieSessionStore(SECRET, clock=clock)
    for groups in (0, 50):
        session = make_session(clock(), groups=groups)
        jar = await saved(store, session)
        assert jar[chunk(0)].startswith(f"{len(jar)}.")
        assert await CookieSessionStore(SECRET, clock=clock).load(jar) == session
