"""The test helpers users rely on: clocks, and acting as a user through the real middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cognito_middleware import CognitoAuthMiddleware, CognitoConfig, PathRule
from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import DEMO_PUBLIC_CLIENT_ID
from cognito_middleware.sessions import MemorySessionStore
from cognito_middleware.testing import (
    FrozenClock,
    ShiftedClock,
    bearer_token,
    issue_tokens,
    signed_in,
)

APP = "http://127.0.0.1:8000"


@pytest.fixture
def local_cognito_clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock


async def me(request: Request) -> Response:
    user = request.user
    if not user.is_authenticated:
        return JSONResponse({"user": None})
    return JSONResponse(
        {
            "username": user.username,
            "groups": list(user.groups),
            "scopes": sorted(user.scopes),
            "claims": dict(user.claims),
            "bearer": user.via_bearer,
        }
    )


@dataclass
class Site:
    cognito: LocalCognito
    config: CognitoConfig
    clock: FrozenClock
    client: httpx.AsyncClient


async def _site(
    cognito: LocalCognito, clock: FrozenClock, **options: object
) -> AsyncIterator[Site]:
    store = options.pop("session_store", None)
    config = CognitoConfig.from_env(
        cognito.env(app_url=APP),
        protected=(
            PathRule(prefix="/admin", groups=("admin",)),
            PathRule(prefix="/api/orders", scopes=("demo-api/read",)),
            PathRule(prefix="/account"),
        ),
        **options,
    )
    app = Starlette(routes=[Route("/{path:path}", me)])
    middleware = CognitoAuthMiddleware(
        app,
        config=config,
        clock=clock,
        session_store=store,  # type: ignore[arg-type]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware), base_url=APP
    ) as client:
        yield Site(cognito, config, clock, client)
    await middleware.aclose()


@pytest.fixture
async def site(local_cognito: LocalCognito, frozen_clock: FrozenClock) -> AsyncIterator[Site]:
    async for made in _site(local_cognito, frozen_clock):
        yield made


JSON = {"Accept": "application/json"}
NAVIGATE = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}


# Clocks -------------------------------------------------------------------------------------


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(1_000.0)
    assert clock() == clock() == 1_000.0
    assert clock.advance(30) == 1_030.0
    clock.set(5_000)
    assert clock() == clock.now == 5_000.0
    clock.now = 7
    assert clock() == 7.0
    assert clock.start == 1_000.0


async def test_frozen_clock_sleep_moves_time_without_waiting() -> None:
    clock = FrozenClock(0.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(clock.sleep(3600), clock.sleep(2))
    assert loop.time() - started < 1
    assert clock() == 3602.0
    assert clock.sleeps == [3600, 2]


def test_shifted_clock_is_real_time_plus_its_offset() -> None:
    clock = ShiftedClock()
    assert abs(clock() - time.time()) < 1
    clock.advance(600)
    assert abs(clock() - time.time() - 600) < 1
    clock.set(time.time() - 3600)
    assert -3601 < clock.offset < -3599


# Acting as a user through the middleware ------------------------------------------------


async def test_a_member_of_the_group_gets_the_page_and_her_claims(site: Site) -> None:
    signed = await signed_in(site.cognito, site.config, "alice", client=site.client)
    response = await site.client.get("/admin/reports", headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert "admin" in body["groups"]
    assert body["claims"]["email"] == "alice@example.com"
    assert body["claims"]["iss"] == site.cognito.issuer
    assert body["claims"]["aud"] == site.config.client_id
    assert body["bearer"] is False
    assert signed.session.refresh_token is not None
    assert signed.cookie_header.startswith("cognito_session")


async def test_a_non_member_is_forbidden(site: Site) -> None:
    await signed_in(site.cognito, site.config, "bob", client=site.client)
    assert (await site.client.get("/account", headers=JSON)).status_code == 200
    assert (await site.client.get("/admin/reports", headers=JSON)).status_code == 403


async def test_an_ad_hoc_user_with_groups_and_attributes(site: Site) -> None:
    signed = await signed_in(
        site.cognito,
        site.config,
        "dora",
        groups=["admin", "auditors"],
        attributes={"email": "dora@example.com", "custom:tenant": "acme"},
    )
    response = await site.client.get("/admin", headers={**JSON, **signed.headers})
    assert response.status_code == 200
    body = response.json()
    assert body["groups"] == ["admin", "auditors"]
    assert body["claims"]["custom:tenant"] == "acme"
    assert body["claims"]["email_verified"] is True


async def test_the_session_refreshes_at_the_local_cognito_when_its_tokens_expire(
    site: Site,
) -> None:
    signed = await signed_in(site.cognito, site.config, "alice", client=site.client)
    site.clock.advance(3600)
    response = await site.client.get("/admin", headers=JSON)
    assert response.status_code == 200
    assert "set-cookie" in response.headers
    assert site.cognito.calls["/oauth2/token"] == 1
    assert site.client.cookies["cognito_session-0"] != signed.cookies["cognito_session-0"]


async def test_expired_tokens_without_a_refresh_token_end_the_session(site: Site) -> None:
    await signed_in(site.cognito, site.config, "alice", client=site.client, refresh=False)
    assert (await site.client.get("/admin", headers=JSON)).status_code == 200
    site.clock.advance(3600)
    response = await site.client.get("/admin", headers=JSON)
    assert response.status_code == 401
    assert "cognito_session-0=" in response.headers["set-cookie"]
    assert (await site.client.get("/", headers=JSON)).json() == {"user": None}


async def test_a_session_past_its_absolute_timeout_is_anonymous(
    local_cognito: LocalCognito, frozen_clock: FrozenClock
) -> None:
    async for site in _site(local_cognito, frozen_clock, absolute_timeout=1800):
        await signed_in(site.cognito, site.config, "alice", client=site.client)
        site.clock.advance(1799)
        assert (await site.client.get("/admin", headers=JSON)).status_code == 200
        site.clock.advance(2)
        response = await site.client.get("/admin", headers=NAVIGATE)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/login?next=")
        assert site.cognito.calls["/oauth2/token"] == 0


async def test_a_server_side_store_must_be_the_apps_own(
    local_cognito: LocalCognito, frozen_clock: FrozenClock
) -> None:
    config = CognitoConfig.from_env(local_cognito.env(app_url=APP), session_store="memory")
    with pytest.raises(ValueError, match="store="):
        await signed_in(local_cognito, config, "alice")
    store = MemorySessionStore(config.session_secrets, clock=frozen_clock)
    async for site in _site(local_cognito, frozen_clock, session_store=store):
        await signed_in(site.cognito, site.config, "bob", store=store, client=site.client)
        assert (await site.client.get("/account", headers=JSON)).json()["username"] == "bob"
        assert store.size == 1


async def test_sign_out_revokes_the_refresh_token_of_a_signed_in_session(site: Site) -> None:
    signed = await signed_in(site.cognito, site.config, "alice", client=site.client)
    assert (await site.client.post("/auth/logout")).status_code == 303
    assert signed.session.refresh_token is not None
    assert site.cognito.is_revoked(signed.session.refresh_token)
    assert (await site.client.get("/", headers=JSON)).json() == {"user": None}


# Bearer tokens ----------------------------------------------------------------------------


async def test_a_bearer_token_passes_on_an_api_route(site: Site) -> None:
    token = bearer_token(site.cognito, "bob", scopes=["demo-api/read"])
    response = await site.client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "bob"
    assert body["scopes"] == ["demo-api/read"]
    assert body["bearer"] is True


async def test_a_bearer_token_without_the_routes_scope_is_forbidden(site: Site) -> None:
    token = bearer_token(site.cognito, "bob", scopes=["openid"])
    response = await site.client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_a_bearer_token_of_another_client_is_refused(site: Site) -> None:
    token = bearer_token(site.cognito, "bob", client_id=DEMO_PUBLIC_CLIENT_ID)
    response = await site.client.get("/account", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_expired_bearer_token_is_refused(site: Site) -> None:
    token = bearer_token(site.cognito, "bob")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await site.client.get("/account", headers=headers)).status_code == 200
    site.clock.advance(3600 + 60)
    assert (await site.client.get("/account", headers=headers)).status_code == 401


async def test_custom_scopes_are_allowed_on_the_client_first(site: Site) -> None:
    tokens = issue_tokens(site.cognito, "bob", scopes=["openid", "billing/read"])
    client = site.cognito.pool.clients[site.cognito.client_id]
    assert "billing/read" in client.allowed_scopes
    token = tokens["access_token"]
    response = await site.client.get("/account", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["scopes"] == ["billing/read", "openid"]


def test_an_unknown_client_is_named() -> None:
    cognito = LocalCognito()
    with pytest.raises(KeyError, match="nope"):
        bearer_token(cognito, "bob", client_id="nope")


async def test_an_ad_hoc_users_groups_survive_a_refresh(site: Site) -> None:
    await signed_in(
        site.cognito,
        site.config,
        "erin",
        groups=["admin"],
        attributes={"custom:tenant": "acme"},
        client=site.client,
    )
    site.clock.advance(3600)
    response = await site.client.get("/admin", headers=JSON)
    assert response.status_code == 200
    assert site.cognito.calls["/oauth2/token"] == 1
    assert response.json()["groups"] == ["admin"]
    assert response.json()["claims"]["custom:tenant"] == "acme"
