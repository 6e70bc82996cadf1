"""CORS on the endpoints browsers call directly: the JSON APIs at ``POST /`` and the OAuth
token, revoke and userInfo endpoints; a real Chromium calls them from another origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import (
    DEMO_IDENTITY_POOL_ID,
    DEMO_PASSWORD,
    DEMO_PUBLIC_CLIENT_ID,
)
from cognito_middleware.local.server import background_server
from cognito_middleware.testing import sign_in

from .helpers import CALLBACK, authorize_url, pkce, query
from .test_browser import browser  # noqa: F401 - the Chromium fixture

ORIGIN = "http://127.0.0.1:5173"
GET_ID = {
    "content-type": "application/x-amz-json-1.1",
    "x-amz-target": "AWSCognitoIdentityService.GetId",
}


async def test_json_api_preflight_allows_any_origin(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent,"
            "x-amz-date,amz-sdk-request,x-custom-thing",
        },
    )
    assert response.status_code == 200 and response.content == b""
    headers = response.headers
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert {
        "content-type",
        "x-amz-target",
        "x-amz-user-agent",
        "authorization",
        "amz-sdk-request",
        "x-custom-thing",
    } <= allowed
    assert headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert headers["access-control-max-age"] == "172800"


async def test_json_api_answers_carry_cors_headers(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    ok = await client.post(
        "/",
        headers={**GET_ID, "Origin": ORIGIN},
        content=json.dumps({"IdentityPoolId": DEMO_IDENTITY_POOL_ID}),
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "*"
    assert "x-amzn-ErrorType" in ok.headers["access-control-expose-headers"]
    local_cognito.faults.throttle("GetId", times=1)
    throttled = await client.post(
        "/",
        headers={**GET_ID, "Origin": ORIGIN},
        content=json.dumps({"IdentityPoolId": DEMO_IDENTITY_POOL_ID}),
    )
    assert throttled.status_code == 400
    assert throttled.headers["access-control-allow-origin"] == "*"


async def test_token_endpoint_echoes_the_origin(client: httpx.AsyncClient) -> None:
    for path, methods in (
        ("/oauth2/token", "POST, OPTIONS"),
        ("/oauth2/revoke", "POST, OPTIONS"),
        ("/oauth2/userInfo", "GET, POST, OPTIONS"),
    ):
        preflight = await client.options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200, path
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-allow-methods"] == methods
        assert preflight.headers["vary"] == "Origin"
    answer = await client.post(
        "/oauth2/token", headers={"Origin": ORIGIN}, data={"grant_type": "authorization_code"}
    )
    assert answer.status_code == 400
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in answer.headers["vary"]


async def test_no_cors_where_browsers_navigate_or_without_origin(client: httpx.AsyncClient) -> None:
    page = await client.get(authorize_url(), headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in page.headers
    no_origin = await client.options("/", headers={"Access-Control-Request-Method": "POST"})
    assert no_origin.status_code == 405
    hostile = await client.options(
        "/oauth2/token",
        headers={
            "Origin": "javascript:alert(1) x" + "y" * 300,
            "Access-Control-Request-Method": "POST",
        },
    )
    assert "access-control-allow-origin" not in hostile.headers
    login = await client.options(
        "/login", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in login.headers


# A real browser ------------------------------------------------------------------------------

SPA = """<!doctype html><html><head><meta charset="utf-8"><title>spa</title></head>
<body><h1 id="ready">spa</h1></body></html>"""

SCRIPT = """
const [cognito, poolId, clientId, code, verifier, redirectUri, done] = arguments;
(async () => {
  const getId = await fetch(cognito + "/", {
    method: "POST",
    headers: {"Content-Type": "application/x-amz-json-1.1",
              "X-Amz-Target": "AWSCognitoIdentityService.GetId",
              "X-Amz-User-Agent": "aws-sdk-js/3.0.0"},
    body: JSON.stringify({IdentityPoolId: poolId}),
  });
  const identity = await getId.json();
  const token = await fetch(cognito + "/oauth2/token", {
    method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({grant_type: "authorization_code", client_id: clientId,
                               code: code, code_verifier: verifier,
                               redirect_uri: redirectUri}),
  });
  const tokens = await token.json();
  const info = await fetch(cognito + "/oauth2/userInfo", {
    headers: {"Authorization": "Bearer " + tokens.access_token}});
  return {getIdStatus: getId.status, identity: identity, tokenStatus: token.status,
          tokenTypes: Object.keys(tokens).sort(), userInfo: await info.json()};
})().then(done, (error) => done({error: String(error)}));
"""


@pytest.fixture
def spa_url() -> Iterator[str]:
    """A single-page app on another origin (another port) than the emulator."""
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(SPA))])
    with background_server(app) as (host, port):
        yield f"http://{host}:{port}/"


@pytest.mark.browser
async def test_a_browser_on_another_origin_calls_get_id_and_the_token_endpoint(
    local_cognito: LocalCognito,
    client: httpx.AsyncClient,
    spa_url: str,
    browser: Any,  # noqa: F811
) -> None:
    verifier, challenge = pkce()
    back = await sign_in(
        client,
        authorize_url(
            client_id=DEMO_PUBLIC_CLIENT_ID,
            code_challenge=challenge,
            code_challenge_method="S256",
            scope="openid email",
        ),
        "bob",
        DEMO_PASSWORD,
    )
    code = query(back)["code"]
    browser.get(spa_url)
    browser.set_script_timeout(15)
    result = browser.execute_async_script(
        SCRIPT,
        local_cognito.base_url,
        DEMO_IDENTITY_POOL_ID,
        DEMO_PUBLIC_CLIENT_ID,
        code,
        verifier,
        CALLBACK,
    )
    assert "error" not in result, result
    assert result["getIdStatus"] == 200
    assert result["identity"]["IdentityId"].startswith("eu-west-1:")
    assert result["tokenStatus"] == 200
    assert result["tokenTypes"] == [
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "token_type",
    ]
    assert result["userInfo"]["username"] == "bob"
    assert local_cognito.calls["GetId"] == 1
