"""JWKSCache: caching, refetch on unknown kid, penalty box, single flight, outages."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cognito_middleware._jwks import JWKSCache
from cognito_middleware.exceptions import JWKSUnavailableError, KeyNotFoundError
from cognito_middleware.testing import FrozenClock

URL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test/.well-known/jwks.json"
NOW = 1_500_000_000.0


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_key(bits: int = 2048) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    """An RSA key and its Cognito-style public JWK (``kid``: standard base64 with ``+/=``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    numbers = key.public_key().public_numbers()
    kid = base64.b64encode(hashlib.sha256(der).digest()).decode()
    jwk = {
        "alg": "RS256",
        "e": _b64uint(numbers.e),
        "kid": kid,
        "kty": "RSA",
        "n": _b64uint(numbers.n),
        "use": "sig",
    }
    return key, jwk


KEY_A, JWK_A = make_key()
KEY_B, JWK_B = make_key()
KEY_C, JWK_C = make_key()


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Server:
    """The issuer's JWKS endpoint; ``respond`` decides the next answers."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.document: Any = {"keys": keys}
        self.requests: list[httpx.Request] = []
        self.respond: Handler | None = None
        self.delay = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.respond is not None:
            return await self.respond(request)
        return httpx.Response(200, json=self.document)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def server() -> Server:
    return Server([JWK_A, JWK_B])


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as client:
        yield client


@pytest.fixture
def cache(http: httpx.AsyncClient, clock: FrozenClock) -> JWKSCache:
    return JWKSCache(URL, http, clock=clock, lifetime=3600, min_refetch_interval=10.0)


def answer(status: int = 200, content: bytes = b"") -> Handler:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    return respond


def fail(exc: type[httpx.HTTPError]) -> Handler:
    async def respond(request: httpx.Request) -> httpx.Response:
        raise exc("down", request=request)  # type: ignore[call-arg]

    return respond


async def test_finds_keys_by_cognito_style_kid(cache: JWKSCache, server: Server) -> None:
    assert "+" in JWK_A["kid"] or "/" in JWK_A["kid"] or "=" in JWK_A["kid"]
    key = await cache.get_key(JWK_A["kid"])
    assert key.key_id == JWK_A["kid"]
    assert key.algorithm_name == "RS256"
    assert (await cache.get_key(JWK_B["kid"])).key_id == JWK_B["kid"]
    assert [str(r.url) for r in server.requests] == [URL]


async def test_key_set_is_cached_for_its_lifetime(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    clock.now += 3599
    await cache.get_key(JWK_A["kid"])
    assert len(server.requests) == 1
    clock.now += 1
    await cache.get_key(JWK_A["kid"])
    assert len(server.requests) == 2


async def test_warm_up_fetches_once(cache: JWKSCache, server: Server) -> None:
    await cache.warm_up()
    await cache.warm_up()
    await cache.get_key(JWK_B["kid"])
    assert len(server.requests) == 1


async def test_warm_up_reports_an_outage(cache: JWKSCache, server: Server) -> None:
    server.respond = answer(503)
    with pytest.raises(JWKSUnavailableError):
        await cache.warm_up()


async def test_unknown_kid_refetches_once_then_is_not_found(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    clock.now += 10
    with pytest.raises(KeyNotFoundError) as info:
        await cache.get_key("unknown")
    assert info.value.kid == "unknown"
    assert len(server.requests) == 2


async def test_refetches_are_rate_limited(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    clock.now += 10
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(KeyNotFoundError):
            await cache.get_key(kid)
        clock.now += 3
    assert len(server.requests) == 2  # one refetch for three unknown kids within 10 s
    clock.now += 10
    with pytest.raises(KeyNotFoundError):
        await cache.get_key("made-up-4")
    assert len(server.requests) == 3


async def test_cold_start_counts_against_the_refetch_interval(
    cache: JWKSCache, server: Server
) -> None:
    await cache.get_key(JWK_A["kid"])
    with pytest.raises(KeyNotFoundError):
        await cache.get_key("unknown")
    # The first fetch happened moments ago: an unknown kid does not fetch again yet.
    assert len(server.requests) == 1


async def test_key_rotation_is_picked_up_by_one_refetch(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    server.document = {"keys": [JWK_C, JWK_B]}
    clock.now += 60
    assert (await cache.get_key(JWK_C["kid"])).key_id == JWK_C["kid"]
    assert len(server.requests) == 2
    with pytest.raises(KeyNotFoundError):
        await cache.get_key(JWK_A["kid"])  # withdrawn by the issuer, refetch not due yet


async def test_concurrent_misses_share_one_fetch(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    server.document = {"keys": [JWK_C]}
    server.delay = 0.01
    clock.now += 60
    keys = await asyncio.gather(*(cache.get_key(JWK_C["kid"]) for _ in range(20)))
    assert {k.key_id for k in keys} == {JWK_C["kid"]}
    assert len(server.requests) == 2


async def test_concurrent_cold_lookups_share_one_fetch(cache: JWKSCache, server: Server) -> None:
    server.delay = 0.01
    results = await asyncio.gather(
        *(cache.get_key(kid) for kid in [JWK_A["kid"], JWK_B["kid"]] * 10)
    )
    assert len(results) == 20
    assert len(server.requests) == 1


async def test_concurrent_unknown_kids_share_one_failed_refetch(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    await cache.get_key(JWK_A["kid"])
    clock.now += 60
    server.delay = 0.01
    results = await asyncio.gather(
        *(cache.get_key(f"unknown-{i}") for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, KeyNotFoundError) for r in results)
    assert len(server.requests) == 2


async def test_a_caller_giving_up_does_not_cancel_the_shared_fetch(
    cache: JWKSCache, server: Server
) -> None:
    server.delay = 0.02
    first = asyncio.ensure_future(cache.get_key(JWK_A["kid"]))
    second = asyncio.ensure_future(cache.get_key(JWK_B["kid"]))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).key_id == JWK_B["kid"]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(server.requests) == 1


OUTAGES: dict[str, Handler] = {
    "http-500": answer(500, b"oops"),
    "http-503": answer(503),
    "http-404": answer(404, b"{}"),
    "redirect": answer(302),
    "connect-error": fail(httpx.ConnectError),
    "read-timeout": fail(httpx.ReadTimeout),
    "not-json": answer(200, b"<html>maintenance</html>"),
    "truncated-json": answer(200, b'{"keys": [{"kty": "RSA"'),
    "json-array": answer(200, b"[]"),
    "no-keys-member": answer(200, b"{}"),
    "keys-not-a-list": answer(200, b'{"keys": {}}'),
    "empty-keys": answer(200, b'{"keys": []}'),
    "only-unusable-keys": answer(
        200,
        json.dumps({"keys": [{**JWK_A, "use": "enc"}, {"kty": "oct", "k": "c2VjcmV0"}]}).encode(),
    ),
    "too-large": answer(200, json.dumps({"keys": [JWK_A], "pad": "x" * 300_000}).encode()),
    "http-500-with-a-key-set": answer(500, json.dumps({"keys": [JWK_A, JWK_B]}).encode()),
    "deeply-nested": answer(200, b"[" * 100_000),
}


@pytest.mark.parametrize("outage", list(OUTAGES.values()), ids=list(OUTAGES))
async def test_nothing_cached_and_no_key_set_is_unavailable(
    cache: JWKSCache, server: Server, outage: Handler
) -> None:
    server.respond = outage
    with pytest.raises(JWKSUnavailableError):
        await cache.get_key(JWK_A["kid"])


@pytest.mark.parametrize("outage", list(OUTAGES.values()), ids=list(OUTAGES))
async def test_an_outage_after_the_lifetime_keeps_the_cached_keys(
    cache: JWKSCache, server: Server, clock: FrozenClock, outage: Handler
) -> None:
    await cache.get_key(JWK_A["kid"])
    server.respond = outage
    clock.now += 3600
    assert (await cache.get_key(JWK_A["kid"])).key_id == JWK_A["kid"]
    assert len(server.requests) == 2
    clock.now += 5  # inside the penalty box: no new attempt, cached keys still verify
    assert (await cache.get_key(JWK_B["kid"])).key_id == JWK_B["kid"]
    assert len(server.requests) == 2
    server.respond = None
    server.document = {"keys": [JWK_C]}
    clock.now += 10
    assert (await cache.get_key(JWK_C["kid"])).key_id == JWK_C["kid"]
    assert len(server.requests) == 3


async def test_a_failed_cold_fetch_is_not_retried_at_every_request(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    server.respond = answer(503)
    for _ in range(5):
        with pytest.raises(JWKSUnavailableError):
            await cache.get_key(JWK_A["kid"])
    assert len(server.requests) == 1
    server.respond = None
    clock.now += 10
    assert (await cache.get_key(JWK_A["kid"])).key_id == JWK_A["kid"]
    assert len(server.requests) == 2


async def test_a_hanging_jwks_endpoint_is_bounded_by_the_timeout(
    http: httpx.AsyncClient, server: Server, clock: FrozenClock
) -> None:
    server.delay = 30
    cache = JWKSCache(URL, http, clock=clock, timeout=0.05)
    started = time.monotonic()
    with pytest.raises(JWKSUnavailableError):
        await cache.get_key(JWK_A["kid"])
    assert time.monotonic() - started < 1


def _ec_jwk() -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": "ec",
        "alg": "ES256",
        "use": "sig",
        "x": _b64uint(numbers.x),
        "y": _b64uint(numbers.y),
    }


def _private_jwk() -> dict[str, Any]:
    numbers = KEY_C.private_numbers()
    return {
        **JWK_C,
        "kid": "private",
        "d": _b64uint(numbers.d),
        "p": _b64uint(numbers.p),
        "q": _b64uint(numbers.q),
        "dp": _b64uint(numbers.dmp1),
        "dq": _b64uint(numbers.dmq1),
        "qi": _b64uint(numbers.iqmp),
    }


UNUSABLE: dict[str, dict[str, Any]] = {
    "use-enc": {**JWK_C, "kid": "enc", "use": "enc"},
    "alg-RS512": {**JWK_C, "kid": "rs512", "alg": "RS512"},
    "alg-PS256": {**JWK_C, "kid": "ps256", "alg": "PS256"},
    "alg-none": {**JWK_C, "kid": "none", "alg": "none"},
    "oct-HS256": {"kty": "oct", "kid": "oct", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldA"},
    "ec": _ec_jwk(),
    "private-parts": _private_jwk(),
    "rsa-1024": {**make_key(1024)[1], "kid": "small"},
    "key-ops-encrypt": {**JWK_C, "kid": "ops", "key_ops": ["encrypt"]},
    "bad-modulus": {**JWK_C, "kid": "bad-n", "n": "!!"},
    "missing-exponent": {k: v for k, v in {**JWK_C, "kid": "no-e"}.items() if k != "e"},
}


@pytest.mark.parametrize("jwk", list(UNUSABLE.values()), ids=list(UNUSABLE))
async def test_only_rs256_signing_keys_are_usable(
    cache: JWKSCache, server: Server, jwk: dict[str, Any]
) -> None:
    server.document = {"keys": [JWK_A, jwk, "not an object"]}
    assert (await cache.get_key(JWK_A["kid"])).key_id == JWK_A["kid"]
    with pytest.raises(KeyNotFoundError):
        await cache.get_key(jwk["kid"])


@pytest.mark.parametrize("jwk", list(UNUSABLE.values()), ids=list(UNUSABLE))
async def test_an_unusable_single_key_is_not_used_for_tokens_without_kid(
    cache: JWKSCache, server: Server, jwk: dict[str, Any]
) -> None:
    server.document = {"keys": [jwk]}
    with pytest.raises(JWKSUnavailableError):
        await cache.get_key(None)


async def test_keys_without_use_or_alg_are_usable(cache: JWKSCache, server: Server) -> None:
    bare = {k: v for k, v in JWK_C.items() if k not in ("use", "alg")}
    server.document = {"keys": [bare]}
    assert (await cache.get_key(JWK_C["kid"])).algorithm_name == "RS256"


async def test_no_kid_matches_only_a_single_key_set(
    cache: JWKSCache, server: Server, clock: FrozenClock
) -> None:
    with pytest.raises(KeyNotFoundError):
        await cache.get_key(None)  # two keys: ambiguous
    server.document = {"keys": [JWK_C]}
    clock.now += 10
    assert (await cache.get_key(None)).key_id == JWK_C["kid"]
    server.document = {"keys": [JWK_C, {**JWK_B, "use": "enc"}]}
    clock.now += 3600
    with pytest.raises(KeyNotFoundError):
        await cache.get_key(None)  # one usable key, but not the only key published
