"""The stores behind the middleware: bad cookies are anonymous requests, never errors."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cognito_middleware._config import CognitoConfig
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.sessions import SessionStore
from cognito_middleware.testing import FrozenClock

from .conftest import SECRET, StoreFactory
from .helpers import Jar, make_session


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"signed_in": request.user.is_authenticated})


def app_with(store: SessionStore, clock: FrozenClock) -> CognitoAuthMiddleware:
    config = CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="4hqt9ikctmesulmh0hbqbs00ta",
        domain="https://myapp.auth.eu-west-1.amazoncognito.com",
        redirect_uri="https://app.example.com/auth/callback",
        session_secret=SECRET,
    )

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a request with a valid session makes no network call")

    return CognitoAuthMiddleware(
        Starlette(routes=[Route("/", whoami)]),
        config=config,
        session_store=store,
        transport=httpx.MockTransport(no_network),
        clock=clock,
    )


async def get(app: CognitoAuthMiddleware, cookies: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://app.example.com") as c:
        header = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return await c.get("/", headers={"cookie": header} if header else {})


def mangled(jar: dict[str, str]) -> list[dict[str, str]]:
    variants = []
    for name, value in jar.items():
        altered = value[:10] + ("_" if value[10] != "_" else "-") + value[11:]
        for new in (value[:-3], value[:5], value + "A", altered, "x"):
            variants.append({**jar, name: new})
    variants.append({name: value for name, value in list(jar.items())[:-1]})
    return variants


@pytest.mark.parametrize("groups", [1, 50])
async def test_valid_mangled_and_absent_cookies(
    make_store: StoreFactory, clock: FrozenClock, groups: int
) -> None:
    store = await make_store()
    app = app_with(store, clock)
    jar = Jar().apply(await store.save(make_session(clock(), groups=groups), {}))
    response = await get(app, jar)
    assert response.status_code == 200
    assert response.json() == {"signed_in": True}
    assert "set-cookie" not in response.headers, "an unchanged session is not written again"
    for cookies in [{}, *mangled(jar)]:
        response = await get(app, cookies)
        assert response.status_code == 200
        assert response.json() == {"signed_in": False}
