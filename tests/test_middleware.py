"""The middleware's own behaviour with fakes at the edges (the flows run against the local
Cognito in tests/integration)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from cognito_middleware import (
    CognitoAuthMiddleware,
    CognitoConfig,
    PathRule,
    get_state,
    login_required,
)
from cognito_middleware.fastapi import CurrentUser, install_exception_handler
from cognito_middleware.sessions import MemorySessionStore, RedisSessionStore, SessionData
from cognito_middleware.testing import FrozenClock

SECRET = "s" * 40
NAVIGATE = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}


def _config(**overrides: object) -> CognitoConfig:
    return CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="webclient",
        domain="http://127.0.0.1:9",
        issuer="http://127.0.0.1:9/eu-west-1_AbCdEf123",
        redirect_uri="http://127.0.0.1:8000/auth/callback",
        session_secret=SECRET,
        protected=(PathRule(prefix="/private"),),
        **overrides,  # type: ignore[arg-type]
    )


async def page(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.user.display_name}")


@login_required
async def decorated(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.user.display_name}")


async def identity(request: Request) -> Response:
    """The session's identity id; ``?set=`` changes it."""
    state = get_state(request)
    if "set" in request.query_params:
        state.update_session(identity_id=request.query_params["set"])
    return PlainTextResponse(str(state.session.identity_id if state.session else None))


def _fastapi_app() -> Any:
    api = FastAPI()
    install_exception_handler(api)

    @api.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"username": user.username}

    return api


APP = Starlette(
    routes=[
        Route("/", page),
        Route("/private", page),
        Route("/private/identity", identity),
        Route("/decorated", decorated),
        Mount("/fastapi", app=_fastapi_app()),
    ]
)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected network call to {request.url}")


@pytest.fixture
async def redis_down() -> AsyncIterator[tuple[CognitoAuthMiddleware, dict[str, str]]]:
    """A middleware whose Redis session store cannot be reached, and a validly signed cookie."""
    config = _config()
    now = time.time()
    session = SessionData(
        session_id="a" * 32,
        id_token="x.y.z",
        access_token="x.y.z",
        refresh_token=None,
        expires_at=now + 3600,
        created_at=now,
        last_seen=now,
    )
    signer = MemorySessionStore(config.session_secrets)
    raw = (await signer.save(session, {}))[0]
    jar: SimpleCookie = SimpleCookie()
    jar.load(raw)
    cookies = {name: morsel.value for name, morsel in jar.items()}
    store = RedisSessionStore.from_url("redis://127.0.0.1:1/0", config.session_secrets)
    middleware = CognitoAuthMiddleware(
        APP, config=config, session_store=store, transport=httpx.MockTransport(_refuse)
    )
    yield middleware, cookies
    await middleware.aclose()


async def test_unreachable_session_store_is_a_clear_503_on_protected_pages(
    redis_down: tuple[CognitoAuthMiddleware, dict[str, str]],
) -> None:
    middleware, cookies = redis_down
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        client.cookies.update(cookies)
        private = await client.get("/private", headers=NAVIGATE)
        assert private.status_code == 503
        assert "unreachable" in private.text
        public = await client.get("/")
        assert public.status_code == 200 and public.text == "hello guest"
        decorated = await client.get("/decorated", headers=NAVIGATE)
        assert decorated.status_code == 503 and "unreachable" in decorated.text
        api = await client.get("/fastapi/me")
        assert api.status_code == 503 and api.json()["error"] == "temporarily_unavailable"


async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    middleware = CognitoAuthMiddleware(
        app, config=_config(), transport=httpx.MockTransport(_refuse)
    )
    await middleware({"type": "custom"}, None, None)  # type: ignore[arg-type]
    assert seen == ["custom"]
    await middleware.aclose()


async def test_unknown_auth_route_is_404_and_wrong_method_is_405() -> None:
    middleware = CognitoAuthMiddleware(
        APP, config=_config(), transport=httpx.MockTransport(_refuse)
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        assert (await client.get("/auth/nope")).status_code == 404
        wrong = await client.post("/auth/login")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"
    await middleware.aclose()


BAD_REQUESTS: list[tuple[str, str, dict[str, str | bytes]]] = [
    ("GET", "/private", {"Authorization": "Bearer"}),
    ("GET", "/private", {"Authorization": "Bearer " + "a" * 100_000}),
    ("GET", "/private", {"Authorization": "Bearer a.b"}),
    ("GET", "/private", {"Authorization": b"Bearer \xff\xfe.e30.x"}),
    ("GET", "/private", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("GET", "/private", {"Cookie": "cognito_session-0=%%%; cognito_session-1=" + "A" * 5000}),
    ("GET", "/private", {"Cookie": "cognito_session-0=2.abc"}),
    ("GET", "/private", {"Cookie": '=;;"; cognito_session-0="quoted"'}),
    ("GET", "/auth/callback?code=x&state=%ZZ", {}),
    ("GET", "/auth/callback?state=" + "s" * 10_000, {}),
    ("GET", "/auth/callback?code=c&state=s&state=t", {}),
    ("GET", "/auth/callback?error=%00%ff&error_description=%3Cb%3E", {}),
    ("GET", "/auth/callback", {"Cookie": "cognito_session_login_abc=garbage"}),
    ("GET", "/auth/login?next=%00", {}),
    ("GET", "/auth/login?next=/ok&next=/other", {}),
    ("GET", "/auth/login?prompt=sideways", {}),
    ("GET", "/auth/login?idp_identifier=%3Cscript%3E", {}),
    ("POST", "/auth/logout", {"Cookie": "cognito_session-0=" + "x" * 3000}),
]


@pytest.mark.parametrize(("method", "path", "headers"), BAD_REQUESTS)
async def test_bad_input_is_a_clear_4xx_never_a_500(
    method: str, path: str, headers: dict[str, str | bytes]
) -> None:
    middleware = CognitoAuthMiddleware(
        APP, config=_config(), transport=httpx.MockTransport(_refuse)
    )
    transport = httpx.ASGITransport(app=middleware, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        response = await client.request(method, path, headers={**NAVIGATE, **headers})
    await middleware.aclose()
    assert 300 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert "<script>" not in response.text and "<b>" not in response.text


async def _signed_in_client(
    clock: FrozenClock, **store_options: float
) -> tuple[CognitoAuthMiddleware, httpx.AsyncClient, str]:
    """A middleware with a cookie store and a browser holding a valid sealed session whose
    tokens claim ``bob`` (the session path never re-verifies sealed tokens)."""
    import base64
    import json

    from cognito_middleware.sessions import CookieSessionStore
    from cognito_middleware.sessions._base import CookieSettings

    def token(claims: dict[str, object]) -> str:
        def part(data: dict[str, object]) -> str:
            raw = json.dumps(data).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return f"{part({'kid': 'k', 'alg': 'RS256'})}.{part(claims)}.c2ln"

    config = _config()
    store = CookieSessionStore(
        config.session_secrets,
        cookie=CookieSettings(secure=False),
        clock=clock,
        **store_options,  # type: ignore[arg-type]
    )
    now = clock()
    claims = {"sub": "b0b", "cognito:username": "bob", "exp": int(now) + 3600}
    session = SessionData(
        session_id="b" * 32,
        id_token=token(claims),
        access_token=token({**claims, "scope": ""}),
        refresh_token=None,
        expires_at=now + 3600,
        created_at=now,
        last_seen=now,
    )
    jar: SimpleCookie = SimpleCookie()
    for header in await store.save(session, {}):
        jar.load(header)
    header = "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
    middleware = CognitoAuthMiddleware(
        APP,
        config=config,
        session_store=store,
        clock=clock,
        transport=httpx.MockTransport(_refuse),
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware), base_url="http://127.0.0.1:8000"
    )
    return middleware, client, header


async def test_a_cookie_header_seen_before_still_obeys_the_idle_timeout() -> None:
    clock = FrozenClock()
    middleware, client, header = await _signed_in_client(clock, idle_timeout=600)
    async with client:
        for _ in range(3):
            response = await client.get("/private", headers={"Cookie": header})
            assert response.text == "hello bob"
        clock.now += 601
        expired = await client.get("/private", headers={"Cookie": header, **NAVIGATE})
        assert expired.status_code == 303
    await middleware.aclose()


async def test_a_remembered_session_is_still_touched_once_a_minute() -> None:
    clock = FrozenClock()
    middleware, client, header = await _signed_in_client(clock, idle_timeout=600)
    async with client:
        first = await client.get("/private", headers={"Cookie": header})
        clock.now += 59
        quiet = await client.get("/private", headers={"Cookie": header})
        assert "set-cookie" not in first.headers and "set-cookie" not in quiet.headers
        clock.now += 2
        touched = await client.get("/private", headers={"Cookie": header})
        assert touched.text == "hello bob"
        jar: SimpleCookie = SimpleCookie()
        for value in touched.headers.get_list("set-cookie"):
            jar.load(value)
        renewed = "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
        assert renewed and renewed != header
        # The touch restarted the idle timeout: 600 s after sign-in the renewed cookie is
        # still good, the original one is not.
        clock.now += 560
        assert (await client.get("/private", headers={"Cookie": renewed})).text == "hello bob"
        stale = await client.get("/private", headers={"Cookie": header, **NAVIGATE})
        assert stale.status_code == 303
    await middleware.aclose()


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def _cookie_header(response: httpx.Response) -> str:
    jar: SimpleCookie = SimpleCookie()
    for value in _set_cookies(response):
        jar.load(value)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items() if morsel.value)


async def test_a_header_still_sent_after_a_touch_gets_the_cookie_that_touch_sealed() -> None:
    # Requests in flight when the touch falls due, or a client that ignores Set-Cookie, keep
    # sending the old header: they get the same renewed cookie (sealing one costs more than
    # the rest of the request), and a new one once the next touch is due.
    clock = FrozenClock()
    middleware, client, header = await _signed_in_client(clock, idle_timeout=600)
    signed_in_at = clock.now
    old = {"Cookie": header}
    async with client:
        assert (await client.get("/private", headers=old)).text == "hello bob"
        clock.now += 61
        touched = await client.get("/private", headers=old)
        assert _set_cookies(touched)
        for _ in range(2):
            clock.now += 20
            again = await client.get("/private", headers=old)
            assert again.text == "hello bob" and _set_cookies(again) == _set_cookies(touched)
        clock.now += 20  # 60 s after the touch: the next one
        next_touch = await client.get("/private", headers=old)
        assert _set_cookies(next_touch) and _set_cookies(next_touch) != _set_cookies(touched)
        renewed = {"Cookie": _cookie_header(touched)}
        assert (await client.get("/private", headers=renewed)).text == "hello bob"
        # A session the app changes after the touch is sealed with the change.
        clock.now += 61
        changed = await client.get("/private/identity?set=eu-west-1:abc", headers=old)
        assert _set_cookies(changed)
        kept = {"Cookie": _cookie_header(changed)}
        assert (await client.get("/private/identity", headers=kept)).text == "eu-west-1:abc"
        # The old header keeps its own idle timeout.
        clock.now = signed_in_at + 601
        assert (await client.get("/private", headers={**old, **NAVIGATE})).status_code == 303
    await middleware.aclose()


async def test_a_tampered_cookie_header_is_never_served_from_memory() -> None:
    clock = FrozenClock()
    middleware, client, header = await _signed_in_client(clock)
    async with client:
        assert (await client.get("/private", headers={"Cookie": header})).text == "hello bob"
        name, _, value = header.partition("=")
        # At the start (where remembered headers are looked up), in the middle and at the end.
        for at in (20, len(value) // 2, len(value) - 3):
            flipped = value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]
            response = await client.get("/private", headers={"Cookie": f"{name}={flipped}"})
            assert response.status_code == 401
            assert (await client.get("/private", headers={"Cookie": header})).text == "hello bob"
        other = await client.get("/private", headers={"Cookie": header + "; theme=dark"})
        assert other.text == "hello bob"
    await middleware.aclose()


async def test_visitors_without_a_session_cookie_do_not_reach_the_session_store() -> None:
    class CountingStore(MemorySessionStore):
        loads = 0

        async def load(self, cookies: Any) -> SessionData | None:
            CountingStore.loads += 1
            return await super().load(cookies)

    config = _config()
    store = CountingStore(config.session_secrets)
    middleware = CognitoAuthMiddleware(
        APP, config=config, session_store=store, transport=httpx.MockTransport(_refuse)
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        other = await client.get("/", headers={"Cookie": "theme=dark; _ga=GA1.2.3"})
        assert other.text == "hello guest" and CountingStore.loads == 0
        forged = await client.get("/", headers={"Cookie": f"{store.cookie_name}=forged"})
        assert forged.text == "hello guest" and CountingStore.loads == 1
    await middleware.aclose()


async def test_a_finished_request_is_freed_without_the_cyclic_gc() -> None:
    # A server's send leads back to its scope (uvicorn's does). Nothing the middleware keeps
    # on the scope may point to that send once the request is over, or every request would
    # stay in memory until the cyclic GC comes by.
    import gc
    import weakref

    clock = FrozenClock()
    middleware, client, header = await _signed_in_client(clock)
    await client.aclose()

    class ServerSend:
        def __init__(self) -> None:
            self.scope: dict[str, Any] = {}
            self.statuses: list[int] = []

        async def __call__(self, message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    # A guest's response may carry an identity cookie when an identity pool is configured.
    with_pool = CognitoAuthMiddleware(
        APP,
        config=_config(identity_pool_id="eu-west-1:00000000-0000-4000-8000-000000000000"),
        transport=httpx.MockTransport(_refuse),
    )
    session = [(b"cookie", header.encode())]
    gc.disable()
    try:
        # The session twice: loaded, then remembered from its header.
        for app, path, headers in (
            (middleware, "/private", session),
            (middleware, "/private", session),
            (middleware, "/", []),
            (with_pool, "/", []),
        ):
            send = ServerSend()
            send.scope = {
                "type": "http",
                "method": "GET",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": b"",
                "headers": headers,
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 8000),
                "scheme": "http",
                "http_version": "1.1",
                "asgi": {"version": "3.0"},
                "state": {},
            }
            await app(send.scope, receive, send)
            assert send.statuses == [200], path
            gone = weakref.ref(send)
            del send
            assert gone() is None, f"a request to {path} outlived itself"
    finally:
        gc.enable()
    await middleware.aclose()
    await with_pool.aclose()
