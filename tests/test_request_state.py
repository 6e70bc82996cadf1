"""The per-request state as handlers see it, including the requests whose state the middleware
leaves to be built on first use (Bearer requests, guests when no identity pool is configured)."""

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
    RequestState,
    get_state,
    login_required,
)
from cognito_middleware.context import state_of, user_of
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
    return Starlette(routes=[Route("/", describe), Route("/api/state", describe),
                             Route("/api/guarded", guarded)])


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
        response = await client.get(
            "/", headers=[("Cookie", "theme=dark"), ("Cookie", "lang=fr")]
        )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.json() == {
        "same_state": True, "user_matches": True, "authenticated": False,
        "cookies": {"theme": "dark", "lang": "fr"}, "path": "/", "has_session": False,
        "refreshed": False,
    }


async def test_guest_state_with_an_identity_pool_has_every_cookie_header(
    local_cognito: LocalCognito,
) -> None:
    # With an identity pool a guest's response may carry a cookie: the state is still built
    # on first use, from the Cookie headers the middleware read.
    config = CognitoConfig.from_env(local_cognito.env(app_url=APP),
                                    protected=(PathRule(prefix="/api"),))
    middleware = CognitoAuthMiddleware(_app(), config=config)
    async with _client(middleware) as client:
        response = await client.get(
            "/", headers=[("Cookie", "theme=dark"), ("Cookie", "lang=fr")]
        )
        bare = await client.get("/")
    await middleware.aclose()
    assert response.status_code == 200 and "set-cookie" not in response.headers
    assert response.json() == {
        "same_state": True, "user_matches": True, "authenticated": False,
        "cookies": {"theme": "dark", "lang": "fr"}, "path": "/", "has_session": False,
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
                "same_state": True, "user_matches": True, "authenticated": True,
                "cookies": {"theme": "dark"}, "path": "/api/state", "has_session": False,
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


def test_state_of_builds_the_state_from_the_scope_once() -> None:
    from cognito_middleware.context import PendingAuth, Services
    from cognito_middleware.user import CognitoUser

    services = Services(config=_any_config(), http=httpx.AsyncClient(), clock=lambda: 0.0)
    user = CognitoUser.from_claims(None, {"sub": "b0b", "username": "bob", "scope": "a/read"},
                                   via_bearer=True)
    pending = PendingAuth(services, user.auth_credentials.scopes)
    scope: dict[str, Any] = {
        "type": "http", "path": "/x", "headers": [(b"cookie", b"a=1")],
        "auth": pending, "user": user,
    }
    assert user_of(scope) is user
    assert scope["auth"] is pending  # reading the user builds nothing
    state = state_of(scope)
    assert isinstance(state, RequestState)
    assert state.services is services and state.user is user and dict(state.cookies) == {"a": "1"}
    assert scope["auth"] is state and state_of(scope) is state
    # Still the request's auth for Starlette: the user's scopes, read-only.
    assert isinstance(state, AuthCredentials)
    assert state.scopes == ["authenticated", "a/read"] == Request(scope).auth.scopes
    with pytest.raises(AttributeError):
        state.scopes = ["admin"]


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


def test_a_deferred_state_is_built_once_and_shared_by_scope_copies() -> None:
    from cognito_middleware.context import DeferredState, PendingAuth, Services
    from cognito_middleware.user import AnonymousUser, CognitoUser

    services = Services(config=_any_config(), http=httpx.AsyncClient(), clock=lambda: 0.0)
    user = CognitoUser.from_claims({"sub": "b0b", "cognito:username": "bob"},
                                   {"sub": "b0b", "scope": "a/read"})
    cookies = {"session": "x"}
    deferred = DeferredState(PendingAuth(services, user.auth_credentials.scopes, user=user,
                                         cookies=cookies))
    scope: dict[str, Any] = {"type": "http", "path": "/x", "headers": [], "auth": deferred,
                             "user": user}
    copy = dict(scope)
    # Starlette's requires() reads the scopes without the state being built.
    assert Request(scope).auth.scopes == ["authenticated", "a/read"]
    with pytest.raises(AttributeError):
        deferred.scopes = ["admin"]
    state = state_of(copy)
    assert isinstance(state, RequestState)
    assert state.user is user and state.cookies is cookies and state.path == "/x"
    # The original scope (still holding the deferred state) reaches the same state.
    assert state_of(scope) is state and copy["auth"] is state
    state.user = AnonymousUser()
    other_copy = {**copy, "auth": deferred}
    assert user_of(other_copy) is state.user
