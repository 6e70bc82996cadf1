"""The emulator's OAuth2 endpoints over real HTTP, checked against the wire-format reference."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx
import jwt
import pytest

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_IDENTITY_POOL_ID,
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    DEMO_PUBLIC_CLIENT_ID,
    DEMO_SERVICE_CLIENT_ID,
    DEMO_SERVICE_CLIENT_SECRET,
)
from cognito_middleware.testing import sign_in

from .helpers import BASIC, CALLBACK, UUID, authorize_url, exchange, jwt_parts, pkce, query

JSON = "application/json;charset=UTF-8"


async def login_code(
    client: httpx.AsyncClient, username: str = "alice", **params: str | None
) -> str:
    response = await sign_in(client, authorize_url(**params), username, DEMO_PASSWORD)
    assert response.status_code == 302, response.text
    return query(response)["code"]


async def tokens_for(client: httpx.AsyncClient, username: str = "alice") -> dict[str, object]:
    verifier, challenge = pkce()
    code = await login_code(
        client, username, code_challenge=challenge, code_challenge_method="S256"
    )
    response = await exchange(client, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


# Tokens -------------------------------------------------------------------------------------


async def test_code_flow_token_response_and_claims(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce()
    code = await login_code(
        client,
        code_challenge=challenge,
        code_challenge_method="S256",
        scope="openid email profile demo-api/read",
    )
    assert re.match(UUID, code)
    response = await exchange(client, code, verifier)

    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600

    id_header, id_claims = jwt_parts(body["id_token"])
    access_header, access = jwt_parts(body["access_token"])
    assert list(id_header) == ["kid", "alg"] and id_header["alg"] == "RS256"
    assert list(access_header) == ["kid", "alg"]
    assert id_header["kid"] != access_header["kid"]

    issuer = f"{local_cognito.base_url}/{DEMO_POOL_ID}"
    assert local_cognito.issuer == issuer
    assert set(id_claims) == {
        "at_hash",
        "sub",
        "cognito:groups",
        "email_verified",
        "iss",
        "cognito:username",
        "nonce",
        "origin_jti",
        "cognito:roles",
        "cognito:preferred_role",
        "aud",
        "event_id",
        "token_use",
        "auth_time",
        "exp",
        "iat",
        "jti",
        "email",
        "name",
        "custom:department",
    }
    assert id_claims["iss"] == issuer
    assert id_claims["aud"] == DEMO_CLIENT_ID
    assert id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == "alice"
    assert re.match(UUID, id_claims["sub"])
    assert id_claims["cognito:groups"] == ["admin", "users"]
    assert id_claims["cognito:roles"] == [
        "arn:aws:iam::000000000000:role/demo-admin",
        "arn:aws:iam::000000000000:role/demo-users",
    ]
    assert id_claims["cognito:preferred_role"] == "arn:aws:iam::000000000000:role/demo-admin"
    assert id_claims["email_verified"] is True
    assert id_claims["custom:department"] == "engineering"
    assert id_claims["nonce"] == "n-456"
    assert id_claims["exp"] - id_claims["iat"] == 3600
    assert all(isinstance(id_claims[k], int) for k in ("exp", "iat", "auth_time"))
    for claim in ("origin_jti", "event_id", "jti"):
        assert re.match(UUID, id_claims[claim])
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    assert set(access) == {
        "sub",
        "cognito:groups",
        "iss",
        "version",
        "client_id",
        "origin_jti",
        "event_id",
        "token_use",
        "scope",
        "auth_time",
        "exp",
        "iat",
        "jti",
        "username",
    }
    assert access["version"] == 2
    assert access["client_id"] == DEMO_CLIENT_ID
    assert access["token_use"] == "access"
    assert access["username"] == "alice"
    assert access["sub"] == id_claims["sub"]
    assert access["origin_jti"] == id_claims["origin_jti"]
    assert access["event_id"] == id_claims["event_id"]
    assert access["scope"] == "openid email profile demo-api/read"
    assert "aud" not in access

    refresh = body["refresh_token"]
    assert refresh.count(".") == 4
    assert 1700 <= len(refresh) <= 1900
    assert jwt_parts(refresh.split(".", 1)[0] + ".e30.x")[0] == {
        "cty": "JWT",
        "enc": "A256GCM",
        "alg": "RSA-OAEP",
    }


async def test_tokens_verify_against_published_jwks(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    body = await tokens_for(client)
    keys = (await client.get(f"/{DEMO_POOL_ID}/.well-known/jwks.json")).json()["keys"]
    jwk_set = jwt.PyJWKSet.from_dict({"keys": keys})
    for token, kwargs in (
        (body["id_token"], {"audience": DEMO_CLIENT_ID}),
        (body["access_token"], {"options": {"verify_aud": False}}),
    ):
        assert isinstance(token, str)
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in jwk_set.keys if k.key_id == kid)
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], issuer=local_cognito.issuer, **kwargs
        )  # type: ignore[arg-type]
        assert claims["cognito:groups"] == ["admin", "users"]


async def test_preferred_role_absent_on_a_tie(local_cognito: LocalCognito) -> None:
    local_cognito.add_group("red", precedence=5, role_arn="arn:aws:iam::1:role/red")
    local_cognito.add_group("blue", precedence=5, role_arn="arn:aws:iam::1:role/blue")
    local_cognito.add_user("tie", "pw-123456", email="tie@example.com", groups=["red", "blue"])
    claims = jwt_parts(local_cognito.mint_tokens("tie")["id_token"])[1]
    assert sorted(claims["cognito:roles"]) == [
        "arn:aws:iam::1:role/blue",
        "arn:aws:iam::1:role/red",
    ]
    assert "cognito:preferred_role" not in claims


async def test_mint_tokens_for_bearer_tests(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    tokens = local_cognito.mint_tokens("bob", scopes=["openid", "demo-api/read"], nonce="x")
    assert set(tokens) == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    access = jwt_parts(tokens["access_token"])[1]
    assert access["scope"] == "openid demo-api/read"
    assert access["cognito:groups"] == ["users"]
    assert jwt_parts(tokens["id_token"])[1]["nonce"] == "x"
    info = await client.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.json()["username"] == "bob"
    no_openid = local_cognito.mint_tokens("bob", scopes=["demo-api/read"])
    assert "id_token" not in no_openid


# Code exchange errors -------------------------------------------------------------------------


async def test_code_is_single_use(client: httpx.AsyncClient) -> None:
    code = await login_code(client)
    assert (await exchange(client, code)).status_code == 200
    again = await exchange(client, code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}
    assert again.headers["content-type"] == JSON


async def test_code_expires_after_five_minutes(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    code = await login_code(client)
    local_cognito.faults.clock_offset(301)
    assert (await exchange(client, code)).json() == {"error": "invalid_grant"}


async def test_redirect_uri_must_match_exactly(client: httpx.AsyncClient) -> None:
    code = await login_code(client)
    response = await exchange(client, code, redirect_uri=CALLBACK + "/")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


async def test_pkce_verifier_is_checked(client: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    code = await login_code(client, code_challenge=challenge, code_challenge_method="S256")
    assert (await exchange(client, code, "wrong-verifier-" + "x" * 40)).json() == {
        "error": "invalid_grant"
    }
    code = await login_code(client, code_challenge=challenge, code_challenge_method="S256")
    assert (await exchange(client, code)).json() == {"error": "invalid_request"}


@pytest.mark.parametrize("auth", ["basic", "post", "none", "wrong"])
async def test_client_authentication(client: httpx.AsyncClient, auth: str) -> None:
    code = await login_code(client)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": DEMO_CLIENT_ID,
    }
    kwargs: dict[str, object] = {}
    if auth == "basic":
        kwargs["auth"] = BASIC
    elif auth == "post":
        data["client_secret"] = DEMO_CLIENT_SECRET
    elif auth == "wrong":
        data["client_secret"] = "not-the-secret"
    response = await client.post("/oauth2/token", data=data, **kwargs)  # type: ignore[arg-type]
    if auth in ("basic", "post"):
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_client"}


async def test_public_client_sends_client_id_only(client: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    code = await login_code(
        client,
        client_id=DEMO_PUBLIC_CLIENT_ID,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    response = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": DEMO_PUBLIC_CLIENT_ID,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200
    assert jwt_parts(response.json()["access_token"])[1]["client_id"] == DEMO_PUBLIC_CLIENT_ID


async def test_code_of_another_client_is_refused(client: httpx.AsyncClient) -> None:
    code = await login_code(client, client_id=DEMO_PUBLIC_CLIENT_ID)
    assert (await exchange(client, code)).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "authorization_code", "redirect_uri": CALLBACK}, "invalid_request"),
        (
            {"grant_type": "authorization_code", "code": "nope", "redirect_uri": CALLBACK},
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "a.b.c.d.e"}, "invalid_grant"),
        ({"grant_type": "client_credentials"}, "unauthorized_client"),
    ],
)
async def test_token_endpoint_errors(
    client: httpx.AsyncClient, data: dict[str, str], error: str
) -> None:
    response = await client.post("/oauth2/token", data=data, auth=BASIC)
    assert response.status_code == 400
    assert response.json() == {"error": error}


async def test_injected_token_error(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    code = await login_code(client)
    local_cognito.faults.token_error("invalid_grant", times=1)
    assert (await exchange(client, code)).json() == {"error": "invalid_grant"}
    assert (await exchange(client, code)).status_code == 200  # the fault answered, not the code
    assert local_cognito.calls["/oauth2/token"] == 2


# Refresh ------------------------------------------------------------------------------------


async def test_refresh_with_rotation_and_grace(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    first = await tokens_for(client)
    data = {"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}
    response = await client.post("/oauth2/token", data=data, auth=BASIC)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert body["refresh_token"] != first["refresh_token"]
    old_id, new_id = jwt_parts(str(first["id_token"]))[1], jwt_parts(body["id_token"])[1]
    assert new_id["sub"] == old_id["sub"] and new_id["iss"] == old_id["iss"]
    assert new_id["origin_jti"] == old_id["origin_jti"]
    assert new_id["auth_time"] == old_id["auth_time"]
    assert "nonce" not in new_id

    # Within the grace period (10 s in the demo) the old token still works ...
    assert (await client.post("/oauth2/token", data=data, auth=BASIC)).status_code == 200
    # ... after it, only the new one does.
    local_cognito.faults.clock_offset(11)
    assert (await client.post("/oauth2/token", data=data, auth=BASIC)).json() == {
        "error": "invalid_grant"
    }
    data["refresh_token"] = body["refresh_token"]
    assert (await client.post("/oauth2/token", data=data, auth=BASIC)).status_code == 200


async def test_refresh_without_rotation_returns_no_refresh_token(client: httpx.AsyncClient) -> None:
    verifier, challenge = pkce()
    code = await login_code(
        client,
        client_id=DEMO_PUBLIC_CLIENT_ID,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    tokens = (
        await client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": DEMO_PUBLIC_CLIENT_ID,
                "code_verifier": verifier,
            },
        )
    ).json()
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": DEMO_PUBLIC_CLIENT_ID,
    }
    for _ in range(2):
        body = (await client.post("/oauth2/token", data=data)).json()
        assert set(body) == {"access_token", "id_token", "token_type", "expires_in"}


async def test_refresh_token_expires(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(client)
    local_cognito.faults.clock_offset(30 * 24 * 3600 + 1)
    response = await client.post(
        "/oauth2/token",
        auth=BASIC,
        data={"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])},
    )
    assert response.json() == {"error": "invalid_grant"}


async def test_client_credentials(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    auth = httpx.BasicAuth(DEMO_SERVICE_CLIENT_ID, DEMO_SERVICE_CLIENT_SECRET)
    response = await client.post(
        "/oauth2/token",
        auth=auth,
        data={"grant_type": "client_credentials", "scope": "demo-api/read openid"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    claims = jwt_parts(body["access_token"])[1]
    assert claims["sub"] == DEMO_SERVICE_CLIENT_ID
    assert claims["scope"] == "demo-api/read"
    assert claims["token_use"] == "access" and claims["version"] == 2
    assert "username" not in claims and "cognito:groups" not in claims
    bad = await client.post(
        "/oauth2/token", auth=auth, data={"grant_type": "client_credentials", "scope": "openid"}
    )
    assert bad.json() == {"error": "invalid_scope"}


# userInfo and revoke ----------------------------------------------------------------------


async def test_userinfo(client: httpx.AsyncClient) -> None:
    tokens = await tokens_for(client)
    response = await client.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    body = response.json()
    assert body == {
        "sub": jwt_parts(str(tokens["id_token"]))[1]["sub"],
        "email_verified": "true",
        "email": "alice@example.com",
        "name": "Alice Admin",
        "custom:department": "engineering",
        "username": "alice",
    }


@pytest.mark.parametrize("token", ["garbage", "id_token", "expired"])
async def test_userinfo_refuses_bad_tokens(
    local_cognito: LocalCognito, client: httpx.AsyncClient, token: str
) -> None:
    tokens = local_cognito.mint_tokens("alice")
    value = {"garbage": "a.b.c", "id_token": tokens["id_token"], "expired": tokens["access_token"]}[
        token
    ]
    if token == "expired":
        local_cognito.faults.clock_offset(3601)
    response = await client.get("/oauth2/userInfo", headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_revoke(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    tokens = await tokens_for(client)
    refresh = str(tokens["refresh_token"])
    response = await client.post("/oauth2/revoke", data={"token": refresh}, auth=BASIC)
    assert response.status_code == 200
    assert response.content == b""
    assert local_cognito.is_revoked(refresh)
    assert refresh in local_cognito.revoked
    # Revoked again: still 200. The refresh token and the access token are dead for Cognito.
    assert (
        await client.post("/oauth2/revoke", data={"token": refresh}, auth=BASIC)
    ).status_code == 200
    refreshed = await client.post(
        "/oauth2/token", auth=BASIC, data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert refreshed.json() == {"error": "invalid_grant"}
    info = await client.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 401


async def test_revoke_errors(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    tokens = local_cognito.mint_tokens("alice")
    access = await client.post("/oauth2/revoke", data={"token": tokens["access_token"]}, auth=BASIC)
    assert (access.status_code, access.json()) == (400, {"error": "unsupported_token_type"})
    wrong = await client.post(
        "/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=httpx.BasicAuth(DEMO_CLIENT_ID, "wrong"),
    )
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
    local_cognito.pool.clients[DEMO_CLIENT_ID].enable_token_revocation = False
    disabled = await client.post(
        "/oauth2/revoke", data={"token": tokens["refresh_token"]}, auth=BASIC
    )
    assert (disabled.status_code, disabled.json()) == (400, {"error": "invalid_request"})


# Discovery and keys -------------------------------------------------------------------------


async def test_discovery(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    response = await client.get(f"/{DEMO_POOL_ID}/.well-known/openid-configuration")
    assert response.status_code == 200
    base, issuer = local_cognito.base_url, local_cognito.issuer
    assert response.json() == {
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "end_session_endpoint": f"{base}/logout",
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["code", "token"],
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
    }


async def test_jwks_shape_and_rotation(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    url = f"/{DEMO_POOL_ID}/.well-known/jwks.json"
    keys = (await client.get(url)).json()["keys"]
    assert len(keys) == 2
    for key in keys:
        assert set(key) == {"alg", "e", "kid", "kty", "n", "use"}
        assert (key["alg"], key["e"], key["kty"], key["use"]) == ("RS256", "AQAB", "RSA", "sig")
        assert len(base64.b64decode(key["kid"])) == 32
        assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256
    old_kids = {k["kid"] for k in keys}
    old_token = local_cognito.mint_tokens("alice")["access_token"]

    local_cognito.rotate_keys(keep_old=True)
    kids = {k["kid"] for k in (await client.get(url)).json()["keys"]}
    assert len(kids) == 4 and old_kids < kids
    new_kid = jwt_parts(local_cognito.mint_tokens("alice")["access_token"])[0]["kid"]
    assert new_kid not in old_kids
    headers = {"Authorization": f"Bearer {old_token}"}
    assert (await client.get("/oauth2/userInfo", headers=headers)).status_code == 200

    local_cognito.rotate_keys(keep_old=False)
    kids = {k["kid"] for k in (await client.get(url)).json()["keys"]}
    assert len(kids) == 2 and not kids & old_kids
    assert (await client.get("/oauth2/userInfo", headers=headers)).status_code == 401


async def test_jwks_unavailable(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    local_cognito.faults.jwks_unavailable()
    url = f"/{DEMO_POOL_ID}/.well-known/jwks.json"
    assert (await client.get(url)).status_code == 503
    local_cognito.faults.clear()
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/oauth2/token", {"content": b"\xff\xfe=&&grant_type=%ZZ"}),
        (
            "POST",
            "/oauth2/token",
            {"headers": {"Authorization": "Basic %%%"}, "data": {"grant_type": "refresh_token"}},
        ),
        ("GET", "/oauth2/userInfo", {"headers": {"Authorization": "Bearer e30.e30.e30"}}),
        ("GET", "/oauth2/userInfo", {"headers": {"Authorization": "Bearer W10.W10.AA"}}),
        ("GET", "/oauth2/userInfo", {"headers": {"Authorization": "Bearer " + "A" * 20000}}),
        ("POST", "/oauth2/revoke", {"data": {"token": "x"}}),
        (
            "POST",
            "/",
            {
                "content": b"{not json",
                "headers": {"X-Amz-Target": "AWSCognitoIdentityService.GetId"},
            },
        ),
        (
            "POST",
            "/",
            {"content": b"[1]", "headers": {"X-Amz-Target": "AWSCognitoIdentityService.GetId"}},
        ),
        (
            "POST",
            "/",
            {
                "json": {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": {"a": 1}},
                "headers": {"X-Amz-Target": "AWSCognitoIdentityService.GetId"},
            },
        ),
        ("GET", "/oauth2/authorize", {"params": {"client_id": "\x00", "redirect_uri": "\n"}}),
        ("POST", "/saml2/idpresponse", {"data": {"RelayState": "client_id=x&redirect_uri=y"}}),
        ("GET", "/oauth2/idpresponse", {"params": {"state": "x", "code": "y"}}),
    ],
)
async def test_garbage_is_a_client_error_never_a_crash(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = await client.request(method, path, **kwargs)
    assert 300 <= response.status_code < 500, response.text
