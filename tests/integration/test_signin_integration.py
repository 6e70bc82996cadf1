"""Sign-in, refresh, sign-out, Bearer tokens and guard outcomes, end to end.

The local Cognito runs as a real server; the middleware talks to it over real HTTP. A
browser-like httpx client talks to both: to the emulator over HTTP, to the app in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from cognito_middleware import CognitoConfig, PathRule
from cognito_middleware._events import AuthEvent, AuthHooks
from cognito_middleware._guards import requires_scopes
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import (
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    DEMO_PORTAL_CLIENT_ID,
    DEMO_PUBLIC_CLIENT_ID,
)
from cognito_middleware.testing import ShiftedClock, sign_in

APP = "http://127.0.0.1:8000"
NAVIGATE = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}


# The app under test --------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return PlainTextResponse(f"home of {request.user.display_name}")


async def me(request: Request) -> Response:
    user = request.user
    return JSONResponse(
        {
            "sub": user.sub,
            "username": user.username,
            "email": user.email,
            "groups": list(user.groups),
            "roles": list(user.roles),
            "preferred_role": user.preferred_role,
            "scopes": sorted(user.scopes),
            "provider": user.identity_provider,
            "provider_type": user.provider_type,
            "via_bearer": user.via_bearer,
            "auth": sorted(request.auth.scopes),
        }
    )


@requires_scopes("demo-api/read")
async def reports(request: Request) -> Response:
    return JSONResponse({"reports": ["q1", "q2"]})


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.username)
    await websocket.close()


@dataclass
class Site:
    cognito: LocalCognito
    middleware: CognitoAuthMiddleware
    clock: ShiftedClock
    events: list[AuthEvent]

    def advance(self, seconds: float) -> None:
        """Move time forward for the app and the local Cognito alike."""
        self.clock.offset = seconds
        self.cognito.faults.clock_offset(seconds)

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.cognito.base_url,
            mounts={APP: httpx.ASGITransport(app=self.middleware)},
            follow_redirects=False,
        )

    async def sign_in(
        self,
        browser: httpx.AsyncClient,
        username: str = "alice",
        *,
        query: str = "next=/profile",
        password: str = DEMO_PASSWORD,
    ) -> httpx.Response:
        """Sign in through the hosted UI; returns the app's answer to the callback."""
        start = await browser.get(f"{APP}/auth/login?{query}")
        assert start.status_code == 302, start.text
        back = await sign_in(browser, start.headers["location"], username, password)
        assert back.is_redirect, back.text
        location = back.headers["location"]
        assert location.startswith(f"{APP}/auth/callback?"), location
        return await browser.get(location)


def _site(cognito: LocalCognito, **config_overrides: Any) -> Iterator[Site]:
    clock = ShiftedClock()
    events: list[AuthEvent] = []

    async def record(event: AuthEvent) -> None:
        events.append(event)

    env = cognito.env(app_url=APP)
    config = CognitoConfig.from_env(
        env,
        protected=(
            PathRule(prefix="/profile"),
            PathRule(prefix="/api"),
            PathRule(prefix="/admin", groups=("admin",)),
            PathRule(prefix="/ws"),
        ),
        **config_overrides,
    )
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/profile", me),
            Route("/api/me", me, methods=["GET", "POST"]),
            Route("/api/reports", reports),
            Route("/admin", me),
            WebSocketRoute("/ws", echo_ws),
        ]
    )
    hooks = AuthHooks(
        on_login=record,
        on_logout=record,
        on_refresh=record,
        on_denied=record,
        on_login_failed=record,
        on_refresh_failed=record,
    )
    middleware = CognitoAuthMiddleware(app, config=config, clock=clock, hooks=hooks)
    yield Site(cognito, middleware, clock, events)


@pytest.fixture
async def site(local_cognito: LocalCognito) -> AsyncIterator[Site]:
    for made in _site(local_cognito):
        yield made
        await made.middleware.aclose()


@pytest.fixture
async def browser(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.browser() as client:
        yield client


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


# Sign-in -------------------------------------------------------------------------------------


async def test_native_user_signs_in_and_lands_on_a_clean_url(
    site: Site, browser: httpx.AsyncClient
) -> None:
    response = await site.sign_in(browser, "alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    session_cookies = [c for c in _set_cookies(response) if c.startswith("cognito_session")]
    assert session_cookies
    for cookie in session_cookies:
        flags = [f.strip().lower() for f in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert len(cookie) < 4096

    profile = await browser.get(f"{APP}/profile", headers=NAVIGATE)
    assert profile.status_code == 200
    body = profile.json()
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["groups"] == ["admin", "users"]
    assert body["preferred_role"].endswith(":role/demo-admin")
    assert len(body["roles"]) == 2
    assert "authenticated" in body["auth"] and "openid" in body["scopes"]
    assert body["via_bearer"] is False
    assert [e.kind for e in site.events] == ["login"]
    assert site.events[0].username == "alice"


async def test_authorize_request_carries_state_nonce_and_pkce(browser: httpx.AsyncClient) -> None:
    start = await browser.get(f"{APP}/auth/login?next=/profile")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [f"{APP}/auth/callback"]
    assert query["scope"] == ["openid email profile"]
    assert "identity_provider" not in query
    again = parse_qs(urlsplit((await browser.get(f"{APP}/auth/login")).headers["location"]).query)
    assert again["state"] != query["state"] and again["nonce"] != query["nonce"]
    assert again["code_challenge"] != query["code_challenge"]


async def test_a_second_request_sends_no_cookie_when_nothing_changed(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    first = await browser.get(f"{APP}/profile")
    second = await browser.get(f"{APP}/api/me")
    assert first.status_code == second.status_code == 200
    assert _set_cookies(first) == [] and _set_cookies(second) == []


async def test_azure_ad_sign_in_skips_the_cognito_form(
    site: Site, browser: httpx.AsyncClient
) -> None:
    start = await browser.get(f"{APP}/auth/login?provider=AzureAD&next=/profile")
    assert parse_qs(urlsplit(start.headers["location"]).query)["identity_provider"] == ["AzureAD"]
    idp_page = await browser.get(start.headers["location"], follow_redirects=True)
    assert "Azure" in idp_page.text
    response = await site.sign_in(
        browser, "carol@contoso.example", query="provider=AzureAD&next=/profile"
    )
    assert response.status_code == 303
    body = (await browser.get(f"{APP}/profile")).json()
    assert body["provider"] == "AzureAD" and body["provider_type"] == "SAML"
    assert f"{DEMO_POOL_ID}_AzureAD" in body["groups"]
    assert body["username"] == "azuread_carol@contoso.example"


async def test_idp_identifier_routes_to_the_provider_of_that_domain(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(
        browser, "carol@contoso.example", query="idp_identifier=contoso.example&next=/"
    )
    assert (await browser.get(f"{APP}/api/me")).json()["provider"] == "AzureAD"


async def test_idp_initiated_azure_ad_sign_in_is_accepted_when_opted_in(
    local_cognito: LocalCognito,
) -> None:
    env = local_cognito.env(app_url=APP, client_id=DEMO_PORTAL_CLIENT_ID)
    for made in _site(
        local_cognito,
        client_id=env["COGNITO_CLIENT_ID"],
        client_secret=env["COGNITO_CLIENT_SECRET"],
        idp_initiated_providers=("AzureAD",),
    ):
        async with made.browser() as browser:
            back = await sign_in(
                browser, "/_idp/AzureAD/apps", "carol@contoso.example", DEMO_PASSWORD
            )
            callback = back.headers["location"]
            assert "state" not in parse_qs(urlsplit(callback).query)
            done = await browser.get(callback)
            assert done.status_code == 303 and done.headers["location"] == "/"
            me = (await browser.get(f"{APP}/api/me")).json()
            assert me["provider"] == "AzureAD" and me["provider_type"] == "SAML"
        await made.middleware.aclose()


async def test_state_less_code_is_refused_without_opt_in(local_cognito: LocalCognito) -> None:
    env = local_cognito.env(app_url=APP, client_id=DEMO_PORTAL_CLIENT_ID)
    for made in _site(
        local_cognito,
        client_id=env["COGNITO_CLIENT_ID"],
        client_secret=env["COGNITO_CLIENT_SECRET"],
        idp_initiated_providers=(),
    ):
        async with made.browser() as browser:
            back = await sign_in(
                browser, "/_idp/AzureAD/apps", "carol@contoso.example", DEMO_PASSWORD
            )
            refused = await browser.get(back.headers["location"])
            assert refused.status_code == 400
            assert local_cognito.calls["/oauth2/token"] == 0
        await made.middleware.aclose()


async def test_unknown_provider_is_refused(browser: httpx.AsyncClient) -> None:
    response = await browser.get(f"{APP}/auth/login?provider=Evil", headers=NAVIGATE)
    assert response.status_code == 400
    assert "not offered" in response.text


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example"])
async def test_login_refuses_next_outside_the_site(browser: httpx.AsyncClient, target: str) -> None:
    response = await browser.get(f"{APP}/auth/login?" + urlencode({"next": target}))
    assert response.status_code == 400
    assert "evil" not in response.headers.get("location", "")


async def test_two_tabs_sign_in_at_once(site: Site, browser: httpx.AsyncClient) -> None:
    first = await browser.get(f"{APP}/auth/login?next=/first")
    second = await browser.get(f"{APP}/auth/login?next=/second")
    back_second = await sign_in(browser, second.headers["location"], "alice", DEMO_PASSWORD)
    back_first = await sign_in(browser, first.headers["location"], "alice", DEMO_PASSWORD)
    done_second = await browser.get(back_second.headers["location"])
    done_first = await browser.get(back_first.headers["location"])
    assert done_second.headers["location"] == "/second"
    assert done_first.headers["location"] == "/first"


# The callback's checks -----------------------------------------------------------------------


async def _code_for(site: Site, browser: httpx.AsyncClient) -> str:
    """Start a sign-in in ``browser`` and return the callback URL Cognito sends back."""
    start = await browser.get(f"{APP}/auth/login?next=/profile")
    back = await sign_in(browser, start.headers["location"], "alice", DEMO_PASSWORD)
    return str(back.headers["location"])


async def test_replayed_callback_is_refused_before_any_token_request(
    site: Site, browser: httpx.AsyncClient
) -> None:
    callback = await _code_for(site, browser)
    assert (await browser.get(callback)).status_code == 303
    calls = site.cognito.calls["/oauth2/token"]
    replay = await browser.get(callback, headers=NAVIGATE)
    assert replay.status_code == 400
    assert site.cognito.calls["/oauth2/token"] == calls


async def test_callback_in_another_browser_is_refused(site: Site) -> None:
    async with site.browser() as victim, site.browser() as attacker:
        callback = await _code_for(site, attacker)
        response = await victim.get(callback, headers=NAVIGATE)
        assert response.status_code == 400
        assert "another browser" in response.text
        assert site.cognito.calls["/oauth2/token"] == 0
        assert (await victim.get(f"{APP}/api/me")).status_code == 401


@pytest.mark.parametrize(
    "mangle",
    [
        lambda q: {k: v for k, v in q.items() if k != "state"},
        lambda q: {**q, "state": "forged-state"},
        lambda q: {k: v for k, v in q.items() if k != "code"},
    ],
    ids=["missing-state", "wrong-state", "missing-code"],
)
async def test_callback_with_bad_state_or_code_is_refused(
    site: Site, browser: httpx.AsyncClient, mangle: Any
) -> None:
    callback = await _code_for(site, browser)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    response = await browser.get(f"{APP}/auth/callback?" + urlencode(mangle(query)))
    assert response.status_code == 400
    assert site.cognito.calls["/oauth2/token"] == 0
    assert "text/html" in response.headers["content-type"]


async def test_sign_in_older_than_ten_minutes_is_refused(
    site: Site, browser: httpx.AsyncClient
) -> None:
    callback = await _code_for(site, browser)
    site.clock.offset = 601
    response = await browser.get(callback)
    assert response.status_code == 400
    assert site.cognito.calls["/oauth2/token"] == 0


async def test_error_from_cognito_is_an_escaped_page(
    site: Site, browser: httpx.AsyncClient
) -> None:
    query = urlencode(
        {
            "error": "server_error",
            "error_description": "Invalid SAML response received: <script>alert(1)</script>",
        }
    )
    response = await browser.get(f"{APP}/auth/callback?{query}")
    assert response.status_code == 502
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert "Try again" in response.text
    assert site.events[-1].kind == "login_failed"


async def test_failing_azure_ad_federation_shows_cognitos_reason(
    site: Site, browser: httpx.AsyncClient
) -> None:
    site.cognito.faults.idp_failure("AzureAD", "SAML Assertion signature is invalid")
    start = await browser.get(f"{APP}/auth/login?provider=AzureAD")
    back = await sign_in(browser, start.headers["location"], "carol@contoso.example", DEMO_PASSWORD)
    response = await browser.get(back.headers["location"])
    assert response.status_code in (400, 502)
    assert "SAML Assertion signature is invalid" in response.text
    assert (await browser.get(f"{APP}/api/me")).status_code == 401


async def test_session_cookie_set_before_login_is_replaced(site: Site) -> None:
    """Session fixation: whatever id the browser had, sign-in starts a new session."""
    for made in _site(site.cognito, session_store="memory"):
        async with made.browser() as first, made.browser() as second:
            await made.sign_in(first, "bob")
            planted = {(c.name, c.value) for c in first.cookies.jar}
            for cookie in first.cookies.jar:
                if cookie.name.startswith("cognito_session"):
                    second.cookies.jar.set_cookie(cookie)
            assert (await second.get(f"{APP}/api/me")).json()["username"] == "bob"
            await made.sign_in(second, "alice")
            assert {(c.name, c.value) for c in second.cookies.jar}.isdisjoint(
                {p for p in planted if p[0].startswith("cognito_session")}
            )
            assert (await second.get(f"{APP}/api/me")).json()["username"] == "alice"
            # The planted id no longer opens anything: the store deleted it at sign-in.
            assert (await first.get(f"{APP}/api/me")).status_code == 401
        await made.middleware.aclose()


async def test_tampered_session_cookie_is_anonymous(site: Site, browser: httpx.AsyncClient) -> None:
    await site.sign_in(browser)
    name = next(n for n in browser.cookies if n.startswith("cognito_session"))
    value = browser.cookies[name]
    browser.cookies.set(name, value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB"))
    response = await browser.get(f"{APP}/api/me")
    assert response.status_code == 401


# Refresh -------------------------------------------------------------------------------------


async def test_tokens_close_to_expiry_are_refreshed_with_rotation(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    calls = site.cognito.calls["/oauth2/token"]
    before = dict(browser.cookies)
    site.advance(3600 - 30)
    response = await browser.get(f"{APP}/api/me")
    assert response.status_code == 200 and response.json()["username"] == "alice"
    assert site.cognito.calls["/oauth2/token"] == calls + 1
    assert _set_cookies(response)
    assert dict(browser.cookies) != before
    assert any(e.kind == "refresh" for e in site.events)
    # The rotated refresh token was stored: a later refresh uses it and succeeds.
    site.advance(2 * 3600 - 30)
    again = await browser.get(f"{APP}/api/me")
    assert again.status_code == 200
    assert site.cognito.calls["/oauth2/token"] == calls + 2


async def test_refresh_without_rotation_keeps_the_refresh_token(
    local_cognito: LocalCognito,
) -> None:
    for made in _site(local_cognito, client_id=DEMO_PUBLIC_CLIENT_ID, client_secret=None):
        async with made.browser() as browser:
            await made.sign_in(browser, "bob")
            made.advance(3600 - 30)
            assert (await browser.get(f"{APP}/api/me")).status_code == 200
            made.advance(2 * 3600 - 30)
            assert (await browser.get(f"{APP}/api/me")).status_code == 200
            assert local_cognito.calls["/oauth2/token"] == 3
            assert not local_cognito.revoked
        await made.middleware.aclose()


async def test_concurrent_requests_share_one_refresh(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    calls = site.cognito.calls["/oauth2/token"]
    site.advance(3600 - 30)
    site.cognito.faults.latency("/oauth2/token", 0.2)
    responses = await asyncio.gather(*(browser.get(f"{APP}/api/me") for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert site.cognito.calls["/oauth2/token"] == calls + 1


async def test_refused_refresh_token_ends_the_session(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    site.cognito.faults.token_error("invalid_grant")
    site.advance(3600 - 30)
    response = await browser.get(f"{APP}/profile", headers=NAVIGATE)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=")
    expired = [c for c in _set_cookies(response) if "max-age=0" in c.lower()]
    assert expired
    assert (await browser.get(f"{APP}/api/me")).status_code == 401
    assert any(e.kind == "refresh_failed" for e in site.events)


async def test_unreachable_cognito_keeps_valid_sessions_then_answers_503(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    site.cognito.faults.error("/oauth2/token", status=500, times=None)
    site.advance(3600 - 30)
    still = await browser.get(f"{APP}/api/me")
    assert still.status_code == 200 and still.json()["username"] == "alice"
    site.advance(3600 + 30)
    down = await browser.get(f"{APP}/profile", headers=NAVIGATE)
    assert down.status_code == 503
    assert "unreachable" in down.text
    assert "Traceback" not in down.text


async def test_refreshed_id_token_of_another_user_is_refused(
    site: Site, browser: httpx.AsyncClient
) -> None:
    """A refresh must keep ``sub``: a token endpoint that answers for someone else is refused."""
    await site.sign_in(browser, "alice")
    bob = site.cognito.mint_tokens("bob")

    class SwapTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/oauth2/token":
                return httpx.Response(200, json={**bob, "token_type": "Bearer"})
            return await self.inner.handle_async_request(request)

    original = site.middleware._http._transport
    site.middleware._http._transport = SwapTransport()  # the network edge
    await original.aclose()
    site.advance(3600 - 30)
    response = await browser.get(f"{APP}/api/me")
    assert response.status_code == 401


# Sign-out ------------------------------------------------------------------------------------


async def test_sign_out_revokes_and_ends_the_hosted_ui_session(
    site: Site, browser: httpx.AsyncClient
) -> None:
    await site.sign_in(browser)
    assert site.cognito.hosted_sessions == 1
    response = await browser.post(f"{APP}/auth/logout")
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == site.cognito.base_url
    assert target.path == "/logout"
    assert parse_qs(target.query) == {
        "client_id": [site.middleware.config.client_id],
        "logout_uri": [f"{APP}/"],
    }
    assert len(site.cognito.revoked) == 1
    assert all("max-age=0" in c.lower() for c in _set_cookies(response))
    assert (await browser.get(f"{APP}/api/me")).status_code == 401
    back = await browser.get(response.headers["location"])
    assert back.headers["location"] == f"{APP}/"
    assert site.cognito.hosted_sessions == 0
    # The next sign-in shows the form again instead of signing in silently.
    start = await browser.get(f"{APP}/auth/login")
    page = await browser.get(start.headers["location"], follow_redirects=True)
    assert 'name="password"' in page.text
    assert [e.kind for e in site.events if e.kind != "denied"] == ["login", "logout"]


async def test_sign_out_without_session_still_ends_the_cognito_session(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get(f"{APP}/auth/logout")
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/logout"


# Bearer tokens -------------------------------------------------------------------------------


async def test_bearer_access_token_authenticates_api_calls(site: Site) -> None:
    tokens = site.cognito.mint_tokens("bob", scopes=["openid", "demo-api/read"])
    async with site.browser() as api:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await api.get(f"{APP}/api/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["username"] == "bob" and me.json()["via_bearer"] is True
        assert "demo-api/read" in me.json()["scopes"]
        assert (await api.get(f"{APP}/api/reports", headers=headers)).status_code == 200
        jwks_calls = site.cognito.calls[f"/{DEMO_POOL_ID}/.well-known/jwks.json"]
        for _ in range(5):
            assert (await api.get(f"{APP}/api/me", headers=headers)).status_code == 200
        assert site.cognito.calls[f"/{DEMO_POOL_ID}/.well-known/jwks.json"] == jwks_calls


async def test_bearer_token_accepted_before_is_refused_once_it_expires(site: Site) -> None:
    tokens = site.cognito.mint_tokens("bob")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with site.browser() as api:
        for _ in range(3):
            assert (await api.get(f"{APP}/api/me", headers=headers)).status_code == 200
        site.clock.offset = 3600 + 60
        expired = await api.get(f"{APP}/api/me", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_a_header_like_a_remembered_token_is_verified_in_full(site: Site) -> None:
    # Remembered tokens are looked up by the end of their signature; a header that ends the
    # same way but carries other claims must be verified, not served from memory.
    import base64
    import json

    tokens = site.cognito.mint_tokens("bob", scopes=["openid", "demo-api/read"])
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims = {**claims, "username": "alice", "cognito:groups": ["admin"]}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=")
    forged = f"{header}.{forged_payload.decode()}.{signature}"
    genuine = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with site.browser() as api:
        assert (await api.get(f"{APP}/api/me", headers=genuine)).json()["username"] == "bob"
        refused = await api.get(f"{APP}/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401
        assert (await api.get(f"{APP}/api/me", headers=genuine)).json()["username"] == "bob"


async def test_bearer_without_the_scope_is_forbidden(site: Site) -> None:
    tokens = site.cognito.mint_tokens("bob", scopes=["openid"])
    async with site.browser() as api:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        response = await api.get(f"{APP}/api/reports", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]


@pytest.mark.parametrize("kind", ["id-token", "garbage", "other-client", "expired"])
async def test_bad_bearer_tokens_get_invalid_token(site: Site, kind: str) -> None:
    if kind == "id-token":
        token = site.cognito.mint_tokens("bob")["id_token"]
    elif kind == "garbage":
        token = "eyJhbGciOiJSUzI1NiJ9.e30.!!!"
    elif kind == "other-client":
        token = site.cognito.mint_tokens("bob", client_id=DEMO_PUBLIC_CLIENT_ID)["access_token"]
    else:
        token = site.cognito.mint_tokens("bob")["access_token"]
        site.clock.offset = 3600 + 60
    async with site.browser() as api:
        response = await api.get(f"{APP}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


# Guard outcomes ------------------------------------------------------------------------------


async def test_guard_outcomes(site: Site, browser: httpx.AsyncClient) -> None:
    navigation = await browser.get(f"{APP}/profile?tab=1", headers=NAVIGATE)
    assert navigation.status_code == 303
    assert navigation.headers["location"] == "/auth/login?" + urlencode({"next": "/profile?tab=1"})

    api = await browser.get(f"{APP}/api/me", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json()["error"]
    assert api.headers["www-authenticate"].startswith("Bearer")

    post = await browser.post(f"{APP}/api/me", headers=NAVIGATE)
    assert post.status_code in (303, 401)

    assert (await browser.get(f"{APP}/")).text == "home of guest"

    await site.sign_in(browser, "bob")
    forbidden_page = await browser.get(f"{APP}/admin", headers=NAVIGATE)
    assert (
        forbidden_page.status_code == 403 and "text/html" in forbidden_page.headers["content-type"]
    )
    forbidden_api = await browser.get(f"{APP}/admin", headers={"Accept": "application/json"})
    assert forbidden_api.status_code == 403 and forbidden_api.json()["error"]
    assert any(e.kind == "denied" and e.username == "bob" for e in site.events)


async def test_websocket_of_anonymous_visitor_is_closed_with_1008(site: Site) -> None:
    messages: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [],
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("1.2.3.4", 1),
        "subprotocols": [],
        "root_path": "",
        "asgi": {"version": "3.0"},
    }
    await site.middleware(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "login_required"}]


async def test_cors_preflight_to_a_protected_path_is_not_refused(
    browser: httpx.AsyncClient,
) -> None:
    preflight = await browser.options(
        f"{APP}/api/me",
        headers={"Origin": "https://spa.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code not in (401, 403, 303)
    plain_options = await browser.options(f"{APP}/api/me")
    assert plain_options.status_code == 401


async def test_redirect_uri_never_comes_from_request_headers(browser: httpx.AsyncClient) -> None:
    response = await browser.get(
        f"{APP}/auth/login",
        headers={
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        },
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["redirect_uri"] == [f"{APP}/auth/callback"]


# Logs and responses --------------------------------------------------------------------------


async def test_browser_never_sees_a_token_secret_or_verifier(site: Site) -> None:
    seen: list[str] = []

    async def remember(response: httpx.Response) -> None:
        await response.aread()
        seen.append(str(response.url))
        seen.extend(f"{k}: {v}" for k, v in response.headers.multi_items())
        seen.append(response.text)

    handed_out: list[str] = []

    class Recording(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = request.content.decode(errors="replace")
            handed_out.extend(v[0] for k, v in parse_qs(body).items() if k == "code_verifier")
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
            if request.url.path == "/oauth2/token":
                data = httpx.Response(200, content=content).json()
                handed_out.extend(
                    data[k] for k in ("id_token", "access_token", "refresh_token") if k in data
                )
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        async def aclose(self) -> None:
            await self.inner.aclose()

    site.middleware._http._transport = Recording(site.middleware._http._transport)
    async with site.browser() as browser:
        browser.event_hooks["response"] = [remember]
        await site.sign_in(browser)
        await browser.get(f"{APP}/profile")
        site.advance(3600 - 30)
        await browser.get(f"{APP}/api/me")
        await browser.post(f"{APP}/auth/logout")
    secret = site.cognito.client_secret()
    assert secret and len(handed_out) >= 5
    everything = "\n".join(seen)
    for value in (*handed_out, secret):
        assert value not in everything


async def test_no_token_code_or_cookie_reaches_the_logs(
    site: Site, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    callback = await _code_for(site, browser)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    await browser.get(callback)
    site.advance(3600 - 30)
    await browser.get(f"{APP}/api/me")
    await browser.post(f"{APP}/auth/logout")
    secrets = [code, *browser.cookies.values()]
    secrets += [v for t in site.cognito.pool.refresh_tokens for v in [t]]
    ours = [
        r
        for r in caplog.records
        if r.name.startswith("cognito_middleware")
        and not r.name.startswith("cognito_middleware.local")
    ]
    text = "\n".join(r.getMessage() for r in ours)
    assert "signed in: alice" in text
    for secret in secrets:
        if len(secret) > 12:
            assert secret not in text
