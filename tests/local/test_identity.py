"""The identity pool's JSON 1.1 API, checked field by field against the reference."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from cognito_middleware.local import LocalCognito, RoleMappingRule, RoleMappingSeed
from cognito_middleware.local.seed import DEMO_IDENTITY_POOL_ID, DEMO_SERVICE_CLIENT_ID

from .helpers import jwt_parts

CT = "application/x-amz-json-1.1"
ROLE = "arn:aws:iam::000000000000:role/"
IDENTITY = r"^eu-west-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


async def call(client: httpx.AsyncClient, op: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/",
        json=body,
        headers={"Content-Type": CT, "X-Amz-Target": f"AWSCognitoIdentityService.{op}"},
    )


def expect_error(response: httpx.Response, error_type: str, message: str | None = None) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == CT
    assert response.headers["x-amzn-errortype"] == error_type
    body = response.json()
    assert set(body) == {"__type", "message"}
    assert body["__type"] == error_type
    if message is not None:
        assert body["message"] == message


def logins(cognito: LocalCognito, token: str) -> dict[str, str]:
    return {cognito.login_provider_key: token}


async def credentials(
    client: httpx.AsyncClient, cognito: LocalCognito, username: str, **extra: str
) -> dict[str, Any]:
    token = cognito.mint_tokens(username)["id_token"]
    identity = (
        await call(
            client,
            "GetId",
            {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": logins(cognito, token)},
        )
    ).json()
    response = await call(
        client,
        "GetCredentialsForIdentity",
        {"IdentityId": identity["IdentityId"], "Logins": logins(cognito, token), **extra},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_provider_key_is_the_issuer_without_scheme(local_cognito: LocalCognito) -> None:
    assert local_cognito.login_provider_key == local_cognito.issuer.removeprefix("http://")


async def test_guest_identity_and_credentials(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})
    assert response.status_code == 200
    assert response.headers["content-type"] == CT
    body = response.json()
    assert set(body) == {"IdentityId"} and re.match(IDENTITY, body["IdentityId"])

    creds = await call(client, "GetCredentialsForIdentity", {"IdentityId": body["IdentityId"]})
    assert creds.status_code == 200
    result = creds.json()
    assert set(result) == {"Credentials", "IdentityId"}
    assert result["IdentityId"] == body["IdentityId"]
    c = result["Credentials"]
    assert set(c) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", c["AccessKeyId"])
    assert len(c["SecretKey"]) == 40
    assert len(c["SessionToken"]) > 500
    assert isinstance(c["Expiration"], int)
    assert abs(c["Expiration"] - (time.time() + 3600)) < 5
    issued = local_cognito.credentials_issued[-1]
    assert (issued.role_arn, issued.authenticated) == (f"{ROLE}demo-guest", False)
    assert local_cognito.calls["GetId"] == 1
    assert local_cognito.calls["GetCredentialsForIdentity"] == 1
    assert local_cognito.calls["/"] == 2


async def test_authenticated_identity_is_stable(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    first = await credentials(client, local_cognito, "alice")
    second = await credentials(client, local_cognito, "alice")
    assert first["IdentityId"] == second["IdentityId"]
    assert local_cognito.identity_of("alice") == first["IdentityId"]
    assert (await credentials(client, local_cognito, "bob"))["IdentityId"] != first["IdentityId"]


async def test_token_role_mapping(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    await credentials(client, local_cognito, "alice")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}demo-admin"
    await credentials(client, local_cognito, "alice", CustomRoleArn=f"{ROLE}demo-users")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}demo-users"
    await credentials(client, local_cognito, "bob")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}demo-users"


async def test_custom_role_must_be_among_the_users_roles(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    token = local_cognito.mint_tokens("bob")["id_token"]
    identity = (
        await call(
            client,
            "GetId",
            {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": logins(local_cognito, token)},
        )
    ).json()
    response = await call(
        client,
        "GetCredentialsForIdentity",
        {
            "IdentityId": identity["IdentityId"],
            "Logins": logins(local_cognito, token),
            "CustomRoleArn": f"{ROLE}demo-admin",
        },
    )
    expect_error(response, "NotAuthorizedException")


async def test_ambiguous_role_resolution(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.add_user("nogroup", "pw-123456", email="n@example.com")
    await credentials(client, local_cognito, "nogroup")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}demo-authenticated"
    pool = local_cognito.identity.seed
    assert pool is not None and pool.role_mapping is not None
    pool.role_mapping.ambiguous_role_resolution = "Deny"
    token = local_cognito.mint_tokens("nogroup")["id_token"]
    identity = local_cognito.identity_of("nogroup")
    response = await call(
        client,
        "GetCredentialsForIdentity",
        {"IdentityId": identity, "Logins": logins(local_cognito, token)},
    )
    expect_error(
        response,
        "NotAuthorizedException",
        f"The ambiguous role mapping rules for: {local_cognito.login_provider_key} "
        "denied this request.",
    )


async def test_rules_role_mapping(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    pool = local_cognito.identity.seed
    assert pool is not None
    pool.role_mapping = RoleMappingSeed(
        type="Rules",
        rules=[
            RoleMappingRule(
                claim="custom:department",
                match_type="Equals",
                value="sales",
                role_arn=f"{ROLE}sales",
            ),
            RoleMappingRule(
                claim="cognito:groups",
                match_type="Contains",
                value="admin",
                role_arn=f"{ROLE}rule-admin",
            ),
        ],
    )
    await credentials(client, local_cognito, "bob")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}sales"
    await credentials(client, local_cognito, "alice")
    assert local_cognito.credentials_issued[-1].role_arn == f"{ROLE}rule-admin"


async def test_guest_identity_merges_into_the_users_identity(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    existing = (await credentials(client, local_cognito, "alice"))["IdentityId"]
    guest = (await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})).json()
    token = local_cognito.mint_tokens("alice")["id_token"]
    merged = await call(
        client,
        "GetCredentialsForIdentity",
        {"IdentityId": guest["IdentityId"], "Logins": logins(local_cognito, token)},
    )
    assert merged.json()["IdentityId"] == existing
    assert guest["IdentityId"] != existing
    gone = await call(client, "GetCredentialsForIdentity", {"IdentityId": guest["IdentityId"]})
    expect_error(gone, "ResourceNotFoundException")


async def test_guest_identity_is_linked_on_first_login(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    guest = (await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})).json()
    token = local_cognito.mint_tokens("bob")["id_token"]
    linked = await call(
        client,
        "GetCredentialsForIdentity",
        {"IdentityId": guest["IdentityId"], "Logins": logins(local_cognito, token)},
    )
    assert linked.json()["IdentityId"] == guest["IdentityId"]
    assert local_cognito.identity_of("bob") == guest["IdentityId"]
    # Now authenticated: without Logins it is refused.
    refused = await call(client, "GetCredentialsForIdentity", {"IdentityId": guest["IdentityId"]})
    expect_error(
        refused,
        "NotAuthorizedException",
        f"Access to Identity '{guest['IdentityId']}' is forbidden.",
    )


async def test_guests_disabled(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    assert local_cognito.identity.seed is not None
    local_cognito.identity.seed.allow_unauthenticated = False
    response = await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})
    expect_error(
        response,
        "NotAuthorizedException",
        "Unauthenticated access is not supported for this identity pool.",
    )


async def test_no_unauthenticated_role(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    assert local_cognito.identity.seed is not None
    local_cognito.identity.seed.unauthenticated_role_arn = None
    guest = (await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})).json()
    response = await call(client, "GetCredentialsForIdentity", {"IdentityId": guest["IdentityId"]})
    expect_error(
        response,
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong_key", "access_token", "other_client", "bad_signature", "wrong_issuer"],
)
async def test_logins_are_validated(
    local_cognito: LocalCognito, client: httpx.AsyncClient, case: str
) -> None:
    key = local_cognito.login_provider_key
    tokens = local_cognito.mint_tokens("alice")
    token = tokens["id_token"]
    expected = None
    if case == "expired":
        local_cognito.faults.clock_offset(3601)
        exp = jwt_parts(token)[1]["exp"]
        expected = f"Invalid login token. Token expired: {int(local_cognito.now())} >= {exp}"
    elif case == "wrong_key":
        key = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"
        expected = "Invalid login token. Issuer doesn't match providerName"
    elif case == "access_token":
        token = tokens["access_token"]
        expected = "Invalid login token. Not a valid OpenId Connect identity token."
    elif case == "other_client":
        assert local_cognito.identity.seed is not None
        local_cognito.identity.seed.client_ids = [DEMO_SERVICE_CLIENT_ID]
        expected = "Token is not from a supported provider of this identity pool."
    elif case == "bad_signature":
        token = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        expected = "Invalid login token. Couldn't verify signed token."
    elif case == "wrong_issuer":
        key = key.replace("127.0.0.1", "localhost")
        expected = "Invalid login token. Issuer doesn't match providerName"
    response = await call(
        client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": {key: token}}
    )
    expect_error(response, "NotAuthorizedException", expected)


@pytest.mark.parametrize(
    ("op", "body", "error_type"),
    [
        ("GetId", {}, "InvalidParameterException"),
        (
            "GetId",
            {"IdentityPoolId": "eu-west-1:00000000-0000-0000-0000-000000000000"},
            "ResourceNotFoundException",
        ),
        ("GetId", {"IdentityPoolId": "not a pool"}, "InvalidParameterException"),
        (
            "GetCredentialsForIdentity",
            {"IdentityId": "eu-west-1:00000000-0000-0000-0000-000000000000"},
            "ResourceNotFoundException",
        ),
        ("ListIdentityPools", {}, "UnknownOperationException"),
    ],
)
async def test_request_errors(
    client: httpx.AsyncClient, op: str, body: dict[str, str], error_type: str
) -> None:
    expect_error(await call(client, op, body), error_type)


async def test_missing_parameter_message(client: httpx.AsyncClient) -> None:
    expect_error(
        await call(client, "GetId", {}),
        "InvalidParameterException",
        "1 validation error detected: Value null at 'identityPoolId' failed to satisfy "
        "constraint: Member must not be null",
    )


async def test_get_open_id_token(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    """GetOpenIdToken is the basic (classic) flow: the pool must allow it."""
    assert local_cognito.seed.identity_pool is not None
    local_cognito.seed.identity_pool.allow_classic_flow = True
    token = local_cognito.mint_tokens("alice")["id_token"]
    identity = (
        await call(
            client,
            "GetId",
            {"IdentityPoolId": DEMO_IDENTITY_POOL_ID, "Logins": logins(local_cognito, token)},
        )
    ).json()
    response = await call(
        client,
        "GetOpenIdToken",
        {"IdentityId": identity["IdentityId"], "Logins": logins(local_cognito, token)},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"IdentityId", "Token"}
    claims = jwt_parts(body["Token"])[1]
    assert claims["sub"] == identity["IdentityId"]
    assert claims["aud"] == DEMO_IDENTITY_POOL_ID
    assert claims["amr"][0] == "authenticated"


async def test_throttling_and_errors_are_injected(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.faults.throttle("GetCredentialsForIdentity", times=2)
    local_cognito.faults.error("GetId", status=500, times=1)
    failed = await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})
    assert failed.status_code == 500
    assert failed.json()["__type"] == "InternalErrorException"
    assert failed.headers["x-amzn-errortype"] == "InternalErrorException"
    guest = (await call(client, "GetId", {"IdentityPoolId": DEMO_IDENTITY_POOL_ID})).json()
    for _ in range(2):
        expect_error(
            await call(client, "GetCredentialsForIdentity", {"IdentityId": guest["IdentityId"]}),
            "TooManyRequestsException",
            "Rate exceeded",
        )
    ok = await call(client, "GetCredentialsForIdentity", {"IdentityId": guest["IdentityId"]})
    assert ok.status_code == 200
    assert local_cognito.calls["GetCredentialsForIdentity"] == 3
    assert local_cognito.calls["GetId"] == 2
