"""Fault injection, call counting, the clock, and in-process use."""

from __future__ import annotations

import time

import httpx

from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.seed import DEMO_POOL_ID

from .helpers import jwt_parts

DISCOVERY = f"/{DEMO_POOL_ID}/.well-known/openid-configuration"


async def test_latency(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    local_cognito.faults.latency("/oauth2/token", 0.3, times=1)
    start = time.perf_counter()
    await client.post("/oauth2/token", data={})
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    await client.post("/oauth2/token", data={})
    assert time.perf_counter() - start < 0.3


async def test_server_errors_and_throttling_on_oauth_paths(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.faults.error("/oauth2/token", status=503, times=1)
    failed = await client.post("/oauth2/token", data={})
    assert (failed.status_code, failed.json()) == (503, {"error": "server_error"})
    local_cognito.faults.throttle("*", times=1)
    throttled = await client.get(DISCOVERY)
    assert throttled.status_code == 429
    assert (await client.get(DISCOVERY)).status_code == 200


async def test_clear_removes_every_fault(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    faults = local_cognito.faults
    faults.error("*", times=None)
    faults.jwks_unavailable()
    faults.clock_offset(100)
    faults.token_error("invalid_client", times=None)
    faults.clear()
    assert (await client.get(DISCOVERY)).status_code == 200
    assert abs(local_cognito.now() - time.time()) < 1


async def test_clock_offset_shifts_token_times(local_cognito: LocalCognito) -> None:
    local_cognito.faults.clock_offset(-600)
    claims = jwt_parts(local_cognito.mint_tokens("bob")["access_token"])[1]
    assert abs(claims["iat"] - (time.time() - 600)) < 2


async def test_calls_are_counted_per_path(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await client.get(DISCOVERY)
    await client.get("/oauth2/userInfo")
    assert local_cognito.calls[DISCOVERY] == 3
    assert local_cognito.calls["/oauth2/userInfo"] == 1
    local_cognito.calls.clear()
    assert local_cognito.calls[DISCOVERY] == 0


async def test_in_process_through_asgi_transport() -> None:
    cognito = LocalCognito(demo_seed())
    transport = httpx.ASGITransport(app=cognito.app)
    async with httpx.AsyncClient(transport=transport, base_url=cognito.base_url) as client:
        response = await client.get(DISCOVERY)
    assert response.json()["issuer"] == "http://127.0.0.1:9229/eu-west-1_LocalDemo"
    assert cognito.domain == cognito.base_url == "http://127.0.0.1:9229"
