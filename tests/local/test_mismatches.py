"""Behaviours where the emulator once differed from documented Cognito, each with its source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cognito_middleware import CognitoConfig
from cognito_middleware._tokens import TokenVerifier
from cognito_middleware.local import LocalCognito, SeedError, demo_seed
from cognito_middleware.local.keys import SigningKey
from cognito_middleware.local.seed import DEMO_IDENTITY_POOL_ID, DEMO_POOL_ID, Seed

from .helpers import BASIC, CALLBACK, CLI, authorize_url, jwt_parts, query

CT = "application/x-amz-json-1.1"
AWS_KEY = f"cognito-idp.eu-west-1.amazonaws.com/{DEMO_POOL_ID}"
DAY = 24 * 3600


async def call(client: httpx.AsyncClient, op: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/",
        json=body,
        headers={"Content-Type": CT, "X-Amz-Target": f"AWSCognitoIdentityService.{op}"},
    )


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/oauth2/token", auth=BASIC, data={"grant_type": "refresh_token", "refresh_token": token}
    )


@pytest.fixture
def aws_cognito(
    local_cognito_signing_keys: tuple[SigningKey, SigningKey],
) -> Iterator[LocalCognito]:
    cognito = LocalCognito(demo_seed(), signing_keys=local_cognito_signing_keys, issuer_style="aws")
    with cognito.serve():
        yield cognito


# a. The basic (classic) flow --------------------------------------------------------------


async def test_get_open_id_token_needs_the_classic_flow(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    """AWS: GetOpenIdToken belongs to the basic (classic) authflow, which an identity pool only
    allows with ``AllowClassicFlow`` (false unless set); otherwise it answers
    ``InvalidParameterException: Basic (classic) flow is not enabled, please use enhanced
    flow.`` (Developer Guide, "Identity pools authentication flow"; IdentityPool API
    reference, ``AllowClassicFlow``)."""
    pool = local_cognito.seed.identity_pool
    assert pool is not None and pool.allow_classic_flow is False
    token = local_cognito.mint_tokens("alice")["id_token"]
    logins = {local_cognito.login_provider_key: token}
    identity = (
        await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": logins})
    ).json()["IdentityId"]
    refused = await call(client, "GetOpenIdToken", {"IdentityId": identity, "Logins": logins})
    assert refused.status_code == 400
    assert refused.headers["x-amzn-errortype"] == "InvalidParameterException"
    assert refused.json() == {
        "__type": "InvalidParameterException",
        "message": "Basic (classic) flow is not enabled, please use enhanced flow.",
    }
    # The enhanced flow is unaffected.
    creds = await call(
        client, "GetCredentialsForIdentity", {"IdentityId": identity, "Logins": logins}
    )
    assert creds.status_code == 200

    pool.allow_classic_flow = True
    allowed = await call(client, "GetOpenIdToken", {"IdentityId": identity, "Logins": logins})
    assert allowed.status_code == 200
    assert jwt_parts(allowed.json()["Token"])[1]["sub"] == identity


def test_allow_classic_flow_is_a_seed_setting(
    local_cognito_signing_keys: tuple[SigningKey, SigningKey],
) -> None:
    seed = demo_seed().to_dict()
    assert seed["identity_pool"]["allow_classic_flow"] is False
    seed["identity_pool"]["allow_classic_flow"] = True
    cognito = LocalCognito(Seed.from_dict(seed), signing_keys=local_cognito_signing_keys)
    assert cognito.seed.identity_pool is not None
    assert cognito.seed.identity_pool.allow_classic_flow is True


# b. Refresh-token rotation keeps the sign-in's expiry -------------------------------------


async def test_rotated_refresh_tokens_expire_with_the_sign_in(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    """AWS: "By default, the refresh token expires 30 days after your application user signs
    into your user pool" (Developer Guide, "Refresh tokens"); with rotation the new refresh
    tokens do not extend that: the validity is measured from the original authentication.
    So a session that keeps rotating still ends 30 days after the sign-in."""
    client_seed = local_cognito.pool.clients[local_cognito.client_id]
    assert client_seed.refresh_token_rotation
    assert client_seed.refresh_token_validity == 30 * DAY
    token = local_cognito.mint_tokens("alice")["refresh_token"]
    signed_in_expiry = local_cognito.pool.refresh_tokens[token].expires_at
    for day in (10, 20, 29):
        local_cognito.faults.clock_offset(day * DAY)
        response = await refresh(client, token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
        assert local_cognito.pool.refresh_tokens[token].expires_at == signed_in_expiry
    local_cognito.faults.clock_offset(30 * DAY + 1)
    assert (await refresh(client, token)).json() == {"error": "invalid_grant"}


# c. OIDC IdP failures --------------------------------------------------------------------


async def okta_state(client: httpx.AsyncClient) -> str:
    start = await client.get(authorize_url(identity_provider="Okta"))
    assert start.status_code == 302
    return parse_qs(urlsplit(start.headers["location"]).query)["state"][0]


async def test_an_oidc_idp_error_reaches_the_app_as_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    """Cognito reports an OIDC IdP's failure to the app as ``error=invalid_request`` with the
    IdP's name in ``error_description`` (e.g. ``<IdP> Error - 400 error getting token``), not
    ``server_error`` (which it uses for SAML responses it cannot process)."""
    state = await okta_state(client)
    response = await client.get(
        "/oauth2/idpresponse",
        params={"error": "access_denied", "error_description": "User cancelled", "state": state},
    )
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert query(response) == {
        "error": "invalid_request",
        "state": "st-123",
        "error_description": "Okta Error - User cancelled",
    }


async def test_a_failed_upstream_token_exchange_is_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    """As above: a code the OIDC IdP's token endpoint refuses gives ``invalid_request`` and
    ``<IdP> Error - 400 error getting token``."""
    state = await okta_state(client)
    response = await client.get("/oauth2/idpresponse", params={"code": "bogus", "state": state})
    assert query(response) == {
        "error": "invalid_request",
        "state": "st-123",
        "error_description": "Okta Error - 400 error getting token",
    }


async def test_an_injected_oidc_failure_is_invalid_request(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    from cognito_middleware.testing import DEMO_PASSWORD, sign_in

    local_cognito.faults.idp_failure("Okta", "Okta Error - 500 error getting token")
    response = await sign_in(
        client, authorize_url(identity_provider="Okta"), "dave@okta.example", DEMO_PASSWORD
    )
    assert query(response)["error"] == "invalid_request"


# d. and the AWS-style issuer -------------------------------------------------------------


async def test_aws_style_issuer_in_tokens_and_discovery(aws_cognito: LocalCognito) -> None:
    """With ``issuer_style="aws"`` tokens carry the real service's issuer,
    ``https://cognito-idp.<region>.amazonaws.com/<userPoolId>``; discovery names it while its
    ``jwks_uri`` stays on the emulator, which serves both documents."""
    issuer = f"https://cognito-idp.eu-west-1.amazonaws.com/{DEMO_POOL_ID}"
    assert aws_cognito.issuer == issuer
    tokens = aws_cognito.mint_tokens("alice")
    assert jwt_parts(tokens["id_token"])[1]["iss"] == issuer
    assert jwt_parts(tokens["access_token"])[1]["iss"] == issuer
    async with httpx.AsyncClient(base_url=aws_cognito.base_url) as client:
        discovery = (await client.get(f"/{DEMO_POOL_ID}/.well-known/openid-configuration")).json()
        assert discovery["issuer"] == issuer
        assert discovery["jwks_uri"] == aws_cognito.jwks_url
        assert aws_cognito.jwks_url.startswith(aws_cognito.base_url + "/")
        assert (await client.get(discovery["jwks_uri"])).json() == aws_cognito.jwks()
        userinfo = await client.get(
            "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.json()["username"] == "alice"


async def test_env_lets_the_middleware_verify_aws_style_tokens(aws_cognito: LocalCognito) -> None:
    env = aws_cognito.env(app_url="http://127.0.0.1:8000")
    assert env["COGNITO_ISSUER"] == aws_cognito.issuer
    assert env["COGNITO_JWKS_URI"] == aws_cognito.jwks_url
    config = CognitoConfig.from_env(env)
    assert config.login_provider_key == AWS_KEY
    token = aws_cognito.mint_tokens("alice")["id_token"]
    async with httpx.AsyncClient() as http:
        claims = await TokenVerifier.from_config(config, http).verify_id_token(token)
    assert claims["cognito:username"] == "alice"
    keys = aws_cognito.pool.keys
    local = LocalCognito(demo_seed(), signing_keys=(keys.id_key, keys.access_key))
    assert "COGNITO_JWKS_URI" not in local.env()


async def test_logins_key_of_the_real_service_with_the_aws_issuer(
    aws_cognito: LocalCognito,
) -> None:
    """The identity pool's ``Logins`` key for a user pool is
    ``cognito-idp.<region>.amazonaws.com/<userPoolId>`` (GetId API reference); with the
    AWS-style issuer the emulator takes it, and still takes its own ``<host:port>/<pool>``,
    both leading to the same identity."""
    token = aws_cognito.mint_tokens("alice")["id_token"]
    local_key = f"{aws_cognito.base_url.split('://', 1)[1]}/{DEMO_POOL_ID}"
    assert aws_cognito.login_provider_keys == (AWS_KEY, local_key)
    async with httpx.AsyncClient(base_url=aws_cognito.base_url) as client:
        ids = []
        for key in (AWS_KEY, local_key):
            response = await call(
                client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": {key: token}}
            )
            assert response.status_code == 200, response.text
            ids.append(response.json()["IdentityId"])
            creds = await call(
                client, "GetCredentialsForIdentity", {"IdentityId": ids[-1], "Logins": {key: token}}
            )
            assert creds.status_code == 200, creds.text
        assert ids[0] == ids[1] == aws_cognito.identity_of("alice")


async def test_the_aws_key_is_refused_for_local_issuer_tokens(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    """Without the AWS-style issuer the token's ``iss`` is the emulator's, so the AWS key does
    not match it: ``Invalid login token. Issuer doesn't match providerName``, as Cognito says."""
    token = local_cognito.mint_tokens("alice")["id_token"]
    response = await call(
        client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": {AWS_KEY: token}}
    )
    assert response.json() == {
        "__type": "NotAuthorizedException",
        "message": "Invalid login token. Issuer doesn't match providerName",
    }


def test_issuer_style_from_the_seed(
    local_cognito_signing_keys: tuple[SigningKey, SigningKey],
) -> None:
    seed = demo_seed()
    seed.issuer_style = "aws"
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    assert cognito.issuer == f"https://cognito-idp.eu-west-1.amazonaws.com/{DEMO_POOL_ID}"
    with pytest.raises(SeedError, match="issuer_style"):
        LocalCognito(
            demo_seed(),
            issuer_style="amazon",  # type: ignore[arg-type]
            signing_keys=local_cognito_signing_keys,
        )


def test_cli_aws_issuer_prints_what_the_middleware_needs() -> None:
    with CLI("--aws-issuer") as cli:
        assert cli.env["COGNITO_ISSUER"] == (
            f"https://cognito-idp.eu-west-1.amazonaws.com/{DEMO_POOL_ID}"
        )
        assert cli.env["COGNITO_JWKS_URI"] == (
            f"{cli.base_url}/{DEMO_POOL_ID}/.well-known/jwks.json"
        )
        config = CognitoConfig.from_env(cli.env)
        assert httpx.get(config.jwks_url).json()["keys"]
