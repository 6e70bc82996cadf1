"""Refusals: one JSON shape, one escaped page, the sign-in redirect, websocket closes, safe
headers, and the app's own error pages."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Scope

from cognito_middleware import (
    CognitoAuthMiddleware,
    CognitoConfig,
    ConfigurationError,
    PathRule,
    Refusal,
)
from cognito_middleware._refusal import (
    bearer_challenge,
    bearer_refusal,
    login_refusal,
    render,
    send_refusal,
    unavailable_refusal,
)

SECRET = "s" * 40
NAVIGATE = [(b"accept", b"text/html"), (b"sec-fetch-mode", b"navigate")]
API = [(b"accept", b"application/json")]
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def make_config(**overrides: Any) -> CognitoConfig:
    return CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="webclient",
        domain="http://127.0.0.1:9",
        issuer="http://127.0.0.1:9/eu-west-1_AbCdEf123",
        redirect_uri="http://127.0.0.1:8000/auth/callback",
        session_secret=SECRET,
        **overrides,
    )


def http_scope(headers: list[tuple[bytes, bytes]], path: str = "/x", query: bytes = b"") -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "root_path": "",
    }


FORBIDDEN = Refusal(
    status=403,
    error="forbidden",
    message="Not for you.",
    detail="missing group: admins",
    link=("/", "Go back"),
)


# JSON and pages ------------------------------------------------------------------------------


def test_api_clients_get_one_json_shape() -> None:
    response = render(http_scope(API), FORBIDDEN, config=make_config())
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert json.loads(bytes(response.body)) == {
        "error": "forbidden",
        "message": "Not for you.",
        "detail": "missing group: admins",
    }
    plain = Refusal(status=400, error="invalid_request", message="Repeated parameters.")
    body = json.loads(bytes(render(http_scope([]), plain, config=make_config()).body))
    assert body == {"error": "invalid_request", "message": "Repeated parameters."}


def test_browsers_get_an_escaped_page() -> None:
    refusal = Refusal(
        status=400,
        error="sign_in_failed",
        message="<script>alert(1)</script>",
        detail='access_denied: <img src=x onerror="x">',
        link=('/auth/login?next=/"><script>', "Try <again>"),
    )
    response = render(http_scope(NAVIGATE), refusal, config=make_config())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = bytes(response.body).decode()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;x&quot;&gt;" in page
    assert 'href="/auth/login?next=/&quot;&gt;&lt;script&gt;"' in page
    assert "Try &lt;again&gt;" in page
    assert "<title>Sign-in failed</title>" in page


def test_a_refusal_can_insist_on_json_or_on_a_page() -> None:
    as_json = Refusal(status=401, error="invalid_token", message="No.", page=False)
    response = render(http_scope(NAVIGATE), as_json, config=make_config())
    assert response.headers["content-type"] == "application/json"
    as_page = Refusal(status=400, error="sign_in_failed", message="No.", page=True)
    response = render(http_scope(API), as_page, config=make_config())
    assert response.headers["content-type"].startswith("text/html")


# Signing in ----------------------------------------------------------------------------------


def test_a_browser_navigation_that_must_sign_in_is_redirected() -> None:
    config = make_config()
    scope = http_scope(NAVIGATE, path="/orders/7", query=b"tab=2")
    response = render(scope, login_refusal(scope, config), config=config)
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=%2Forders%2F7%3Ftab%3D2"
    assert response.headers["cache-control"] == "no-store"


def test_api_clients_that_must_sign_in_get_401_with_a_challenge() -> None:
    config = make_config()
    for headers in (API, [*NAVIGATE, (b"authorization", b"Bearer abc")]):
        scope = http_scope(headers)
        response = render(scope, login_refusal(scope, config), config=config)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert json.loads(bytes(response.body))["error"] == "login_required"


def test_without_redirects_browsers_get_a_page_linking_to_sign_in() -> None:
    config = make_config(login_redirect="never")
    scope = http_scope(NAVIGATE, path="/x")
    response = render(scope, login_refusal(scope, config), config=config)
    assert response.status_code == 401
    assert 'href="/auth/login?next=%2Fx"' in bytes(response.body).decode()


# Websockets ----------------------------------------------------------------------------------


async def test_a_refused_websocket_is_closed() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": []}
    await send_refusal(scope, receive, send, login_refusal(scope, make_config()))
    unavailable = Refusal(
        status=503, error="temporarily_unavailable", message="Later.", close_code=1013
    )
    await send_refusal(scope, receive, send, unavailable)
    assert sent == [
        {"type": "websocket.close", "code": 1008, "reason": "login_required"},
        {"type": "websocket.close", "code": 1013, "reason": "temporarily_unavailable"},
    ]


# Headers -------------------------------------------------------------------------------------


def test_text_copied_into_a_challenge_is_printable_ascii_without_quotes() -> None:
    challenge = bearer_challenge("invalid_token", 'kid "中\\"\r\nSet-Cookie: x=1')
    assert challenge == 'Bearer error="invalid_token", error_description="kid Set-Cookie: x=1"'
    assert bearer_challenge() == "Bearer"
    assert bearer_challenge("insufficient_scope", scope="orders/read orders/write") == (
        'Bearer error="insufficient_scope", scope="orders/read orders/write"'
    )


def test_bearer_refusals_are_json_with_their_headers() -> None:
    response = render(
        http_scope(NAVIGATE),
        bearer_refusal(401, "invalid_token", "the token has expired"),
        config=make_config(),
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )
    assert json.loads(bytes(response.body)) == {
        "error": "invalid_token",
        "message": "The access token is not valid.",
        "detail": "the token has expired",
    }
    response = render(
        http_scope(API),
        bearer_refusal(503, "temporarily_unavailable", "JWKS unreachable"),
        config=make_config(),
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert json.loads(bytes(response.body))["error"] == "temporarily_unavailable"


def test_header_values_given_by_a_caller_are_made_safe() -> None:
    refusal = Refusal(
        status=401,
        error="invalid_token",
        message="No.",
        headers=(("WWW-Authenticate", 'Bearer error_description="中文\r\n"'),),
    )
    response = render(http_scope(API), refusal, config=make_config())
    assert response.headers["www-authenticate"] == 'Bearer error_description=""'


def _segment(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwks(request: httpx.Request) -> httpx.Response:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    jwk = {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": "the-key", "use": "sig", "alg": "RS256"}
    return httpx.Response(200, json={"keys": [jwk]})


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.mark.parametrize(
    "header",
    [{"alg": "中", "typ": "JWT"}, {"alg": "RS256", "kid": "中文"}],
    ids=["alg", "kid"],
)
async def test_a_token_header_outside_latin_1_is_a_401(header: dict[str, Any]) -> None:
    token = ".".join(
        (_segment(header), _segment({"sub": "x", "token_use": "access"}), _segment(b"sig"))
    )
    app = Starlette(routes=[Route("/api", _ok)])
    middleware = CognitoAuthMiddleware(
        app, config=make_config(), transport=httpx.MockTransport(_jwks)
    )
    transport = httpx.ASGITransport(app=middleware, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/api", headers={"Authorization": f"Bearer {token}"})
    await middleware.aclose()
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.isascii() and challenge.isprintable()
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert response.json()["error"] == "invalid_token"
    assert re.search("中", response.json()["detail"])


# The app's own error pages -------------------------------------------------------------------


def test_error_page_renders_pages_and_gets_the_refusal_headers() -> None:
    seen: list[tuple[str, Refusal]] = []

    def error_page(request: Request, refusal: Refusal) -> Response | None:
        seen.append((request.url.path, refusal))
        return HTMLResponse(f"<h1>ours: {refusal.error}</h1>", status_code=refusal.status)

    config = make_config(error_page=error_page)
    refusal = unavailable_refusal("Later.")
    response = render(http_scope(NAVIGATE, path="/page"), refusal, config=config)
    assert response.status_code == 503
    assert bytes(response.body) == b"<h1>ours: temporarily_unavailable</h1>"
    assert response.headers["retry-after"] == "5"
    assert response.headers["cache-control"] == "no-store"
    assert seen == [("/page", refusal)]
    # JSON answers and redirects are never the app's page.
    assert json.loads(bytes(render(http_scope(API), refusal, config=config).body))["error"]
    scope = http_scope(NAVIGATE)
    assert render(scope, login_refusal(scope, config), config=config).status_code == 303
    assert len(seen) == 1


def test_error_page_returning_none_keeps_the_built_in_page() -> None:
    config = make_config(error_page=lambda request, refusal: None)
    response = render(http_scope(NAVIGATE), FORBIDDEN, config=config)
    assert response.status_code == 403
    assert "Access denied" in bytes(response.body).decode()


def test_an_error_page_that_is_not_callable_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="error_page"):
        make_config(error_page="templates/error.html")


async def test_a_failing_error_page_is_logged_and_the_built_in_page_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def error_page(request: Request, refusal: Refusal) -> Response | None:
        raise LookupError("template error.html not found")

    config = make_config(
        error_page=error_page, protected=(PathRule(prefix="/private"),), login_redirect="never"
    )
    app = Starlette(routes=[Route("/private", _ok)])
    middleware = CognitoAuthMiddleware(app, config=config, transport=httpx.MockTransport(_jwks))
    transport = httpx.ASGITransport(app=middleware, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="cognito_middleware"):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000"
        ) as client:
            response = await client.get(
                "/private", headers=dict((k.decode(), v.decode()) for k, v in NAVIGATE)
            )
    await middleware.aclose()
    assert response.status_code == 401
    assert "Sign-in required" in response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert any(
        "error_page failed" in record.getMessage() and record.exc_info for record in caplog.records
    )


def test_an_error_page_returning_something_else_falls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(error_page=lambda request, refusal: "<h1>oops</h1>")
    with caplog.at_level(logging.ERROR, logger="cognito_middleware"):
        response = render(http_scope(NAVIGATE), FORBIDDEN, config=config)
    assert "Access denied" in bytes(response.body).decode()
    assert any("not a Response" in record.getMessage() for record in caplog.records)


def test_the_readme_error_page_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    section = README.split("### Refusals and error pages", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section.split("<!-- /section:", 1)[0], re.S)
    for name, value in {
        "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
        "COGNITO_CLIENT_ID": "webclient",
        "COGNITO_DOMAIN": "http://127.0.0.1:9",
        "COGNITO_REDIRECT_URI": "http://127.0.0.1:8000/auth/callback",
        "COGNITO_SESSION_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102
    config = namespace["config"]
    page = render(http_scope(NAVIGATE), FORBIDDEN, config=config)
    assert bytes(page.body) == b"<h1>No entry</h1><p>Not for you.</p>"
    scope = http_scope(NAVIGATE)
    unavailable = render(scope, unavailable_refusal("Later."), config=config)
    assert "Sign-in service unavailable" in bytes(unavailable.body).decode()
