from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import httpx
import pytest

from cognito_middleware import CognitoConfig, CognitoUnavailableError, InvalidGrantError
from cognito_middleware._oauth import OAuthClient, PKCEPair
from cognito_middleware.exceptions import TokenEndpointError


def _config(secret: str | None = "clientsecret") -> CognitoConfig:
    return CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="webclient",
        client_secret=secret,
        domain="https://auth.example.com",
        redirect_uri="https://app.example.com/auth/callback",
        session_secret="x" * 32,
    )


def _client(handler: httpx.MockTransport, secret: str | None = "clientsecret") -> OAuthClient:
    return OAuthClient(_config(secret), httpx.AsyncClient(transport=handler))


TOKENS = {
    "access_token": "a.b.c",
    "id_token": "d.e.f",
    "refresh_token": "r",
    "token_type": "Bearer",
    "expires_in": 3600,
}


def test_pkce_pair_is_s256_of_a_fresh_verifier() -> None:
    import hashlib

    one, two = PKCEPair.generate(), PKCEPair.generate()
    assert one.verifier != two.verifier and 43 <= len(one.verifier) <= 128
    digest = hashlib.sha256(one.verifier.encode()).digest()
    assert one.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_code_exchange_uses_basic_auth_and_sends_verifier() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TOKENS)

    tokens = await _client(httpx.MockTransport(handler)).exchange_code("the-code", "the-verifier")
    assert tokens.access_token == "a.b.c" and tokens.refresh_token == "r"
    request = seen[0]
    assert str(request.url) == "https://auth.example.com/oauth2/token"
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(b"webclient:clientsecret").decode()
    )
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["https://app.example.com/auth/callback"],
        "code_verifier": ["the-verifier"],
    }
    assert "a.b.c" not in repr(tokens)


async def test_public_client_sends_client_id_without_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={k: v for k, v in TOKENS.items() if k != "refresh_token"})

    tokens = await _client(httpx.MockTransport(handler), secret=None).refresh("old-refresh")
    assert tokens.refresh_token is None
    assert "authorization" not in seen[0].headers
    form = parse_qs(seen[0].content.decode())
    assert form["client_id"] == ["webclient"] and form["grant_type"] == ["refresh_token"]


async def test_invalid_grant_is_typed() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(400, json={"error": "invalid_grant"}))
    with pytest.raises(InvalidGrantError):
        await _client(transport).refresh("revoked")


async def test_other_oauth_errors_keep_code_and_description() -> None:
    body = {"error": "invalid_client", "error_description": "Client secret mismatch"}
    transport = httpx.MockTransport(lambda r: httpx.Response(401, json=body))
    with pytest.raises(TokenEndpointError) as info:
        await _client(transport).exchange_code("c", "v")
    assert info.value.error == "invalid_client" and info.value.status == 401
    assert not isinstance(info.value, InvalidGrantError)


@pytest.mark.parametrize(
    "response",
    [httpx.Response(500, text="boom"), httpx.Response(503, json={"error": "x"})],
)
async def test_5xx_is_unavailable(response: httpx.Response) -> None:
    with pytest.raises(CognitoUnavailableError):
        await _client(httpx.MockTransport(lambda r: response)).refresh("x")


async def test_timeouts_are_unavailable_and_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(CognitoUnavailableError, match="timed out"):
        await _client(httpx.MockTransport(handler)).exchange_code("c", "v")
    assert calls == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"id_token": "x"}).encode(),
        json.dumps({**TOKENS, "token_type": "mac"}).encode(),
    ],
)
async def test_malformed_token_responses_are_errors(body: bytes) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    with pytest.raises(TokenEndpointError):
        await _client(transport).exchange_code("c", "v")


async def test_revoke_posts_the_refresh_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    await _client(httpx.MockTransport(handler)).revoke("the-refresh")
    assert str(seen[0].url) == "https://auth.example.com/oauth2/revoke"
    assert parse_qs(seen[0].content.decode()) == {"token": ["the-refresh"]}
