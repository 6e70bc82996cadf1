"""The per-request state as handlers see it: guests, sessions and Bearer requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cognito_middleware import (
    CognitoAuthMiddleware,
    CognitoConfig,
    PathRule,
    get_state,
    login_required,
)
from cognito_middleware._state import state_of, user_of
from cognito_middleware.local import LocalCognito

APP = "http://127.0.0.1:8000"


async def describe(request: Request) -> Response:
    state = get_state(request)
    return JSONResponse(
        {
            "same_state": get_state(request) is state,
            "user_matches": state.user is request.user and user_of(request.scope) is state.user,
            "authenticated": state.user.is_authenticated,
            "cookies": dict(state.cookies),
            "path": state.path,
            "has_session": state.session is not None,
            "refreshed": await state.refresh_tokens(),
        }
    )


@login_required
async def guarded(request: Request) -> Response:
    return JSONResponse({"username": request.user.username})


def _app() -> Starlette:
    return Starlette(
        routes=[Route("/", describe), Route("/api/state", describe), Route("/api/guarded", guarded)]
    )


@pytest.fixture
async def middleware(local_cognito: LocalCognito) -> AsyncIterator[CognitoAuthMiddleware]:
    env = local_cognito.env(app_url=APP)
    # No identity pool: a guest's response can carry no cookie, so its state is left to build.
    env.pop("COGNITO_IDENTITY_POOL_ID")
    config = CognitoConfig.from_env(env, protected=(PathRule(prefix="/api"),))
    middleware = CognitoAuthMiddleware(_app(), config=config)
    yield middleware
    await middleware.aclose()


def _client(middleware: CognitoAuthMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url=APP)


async def test_guest_state_is_built_once_with_every_cookie_header(
    middleware: CognitoAuthMiddleware,
) -> None:
    async with _client(middleware) as client:
        # Two Cookie headers, as an HTTP/2 client may send them: both are read.
        response = await client.get("/", headers=[("Cookie", "theme=dark"), ("Cookie", "lang=fr")])
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.json() == {
        "same_state": True,
        "user_matches": True,
        "authenticated": False,
        "cookies": {"theme": "dark", "lang": "fr"},
        "path": "/",
        "has_session": False,
        "refreshed": False,
    }


async def test_guest_state_with_an_identity_pool_has_every_cookie_header(
    local_cognito: LocalCognito,
) -> None:
    # With an identity pool a guest's response may carry a cookie: the state is still built
    # on first use, from the Cookie headers the middleware read.
    config = CognitoConfig.from_env(
        local_cognito.env(app_url=APP), protected=(PathRule(prefix="/api"),)
    )
    middleware = CognitoAuthMiddleware(_app(), config=config)
    async with _client(middleware) as client:
        response = await client.get("/", headers=[("Cookie", "theme=dark"), ("Cookie", "lang=fr")])
        bare = await client.get("/")
    await middleware.aclose()
    assert response.status_code == 200 and "set-cookie" not in response.headers
    assert response.json() == {
        "same_state": True,
        "user_matches": True,
        "authenticated": False,
        "cookies": {"theme": "dark", "lang": "fr"},
        "path": "/",
        "has_session": False,
        "refreshed": False,
    }
    assert bare.json()["cookies"] == {}


async def test_bearer_request_state_has_the_user_and_cookies(
    local_cognito: LocalCognito, middleware: CognitoAuthMiddleware
) -> None:
    tokens = local_cognito.mint_tokens("bob", scopes=["openid", "demo-api/read"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": "theme=dark"}
    async with _client(middleware) as client:
        for _ in range(2):  # verified, then remembered
            response = await client.get("/api/state", headers=headers)
            assert response.status_code == 200
            assert "set-cookie" not in response.headers
            assert response.json() == {
                "same_state": True,
                "user_matches": True,
                "authenticated": True,
                "cookies": {"theme": "dark"},
                "path": "/api/state",
                "has_session": False,
                "refreshed": False,
            }
        guarded = await client.get("/api/guarded", headers=headers)
        assert guarded.status_code == 200 and guarded.json() == {"username": "bob"}
        refused = await client.get("/api/guarded", headers={"Accept": "application/json"})
        assert refused.status_code == 401
        # The path rule alone (no decorator): a path a signed-in user just passed still
        # refuses a guest.
        refused = await client.get("/api/state", headers={"Accept": "application/json"})
        assert refused.status_code == 401


async def test_the_state_is_published_beside_starlettes_user_and_auth(
    local_cognito: LocalCognito, middleware: CognitoAuthMiddleware
) -> None:
    seen: dict[str, Any] = {}

    async def inspect(request: Request) -> Response:
        state = get_state(request)
        copy = dict(request.scope)  # as a sub-app or a mounted router gets it
        seen.update(
            state_is_under_cognito=request.scope["cognito"] is state,
            copy_shares_the_state=state_of(copy) is state,
            auth=request.auth,
            user=request.user,
            state_user=state.user,
        )
        return JSONResponse({})

    tokens = local_cognito.mint_tokens("bob", scopes=["openid", "demo-api/read"])
    inner = CognitoAuthMiddleware(
        Starlette(routes=[Route("/x", inspect)]), config=middleware.config
    )
    async with _client(inner) as client:
        response = await client.get(
            "/x", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    await inner.aclose()
    assert response.status_code == 200
    assert seen["state_is_under_cognito"] and seen["copy_shares_the_state"]
    assert seen["user"] is seen["state_user"] and seen["user"].username == "bob"
    # Starlette's request.auth: an AuthCredentials with the user's scopes (requires() reads it).
    assert isinstance(seen["auth"], AuthCredentials)
    assert seen["auth"].scopes == ["authenticated", "demo-api/read", "openid"]


def test_without_the_middleware_the_state_is_absent_and_named() -> None:
    scope: dict[str, Any] = {"type": "http", "path": "/", "headers": []}
    assert state_of(scope) is None
    with pytest.raises(RuntimeError, match="CognitoAuthMiddleware is not installed"):
        user_of(scope)
    with pytest.raises(RuntimeError, match="CognitoAuthMiddleware is not installed"):
        get_state(Request(scope))


def _any_config() -> CognitoConfig:
    return CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="webclient",
        domain="http://127.0.0.1:9",
        issuer="http://127.0.0.1:9/eu-west-1_AbCdEf123",
        redirect_uri="http://127.0.0.1:8000/auth/callback",
        session_secret="s" * 40,
    )
