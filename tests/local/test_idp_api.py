"""The user pool's JSON API, driven by boto3's own ``cognito-idp`` client over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito import Cognito

from cognito_middleware._jwks import JWKSCache
from cognito_middleware._tokens import TokenVerifier
from cognito_middleware.local import LocalCognito, PasswordPolicySeed, Seed, SeedError, demo_seed
from cognito_middleware.local.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    DEMO_PUBLIC_CLIENT_ID,
    DEMO_SERVICE_CLIENT_ID,
)
from cognito_middleware.testing import sign_in

from .helpers import authorize_url, jwt_parts, query

POOL = DEMO_POOL_ID
SPA = DEMO_PUBLIC_CLIENT_ID
NEW_PASSWORD = "N3w-Passw0rd!"


@pytest.fixture
def idp(local_cognito: LocalCognito) -> Iterator[Any]:
    client = boto3.client(
        "cognito-idp",
        endpoint_url=local_cognito.base_url,
        region_name=local_cognito.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client
    client.close()


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


def password_auth(
    idp: Any, username: str, password: str = DEMO_PASSWORD, client_id: str = SPA
) -> dict[str, Any]:
    response: dict[str, Any] = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return response


def tokens(idp: Any, username: str, password: str = DEMO_PASSWORD) -> dict[str, Any]:
    result: dict[str, Any] = password_auth(idp, username, password)["AuthenticationResult"]
    return result


def secret_hash(
    username: str, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET
) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def attrs(items: list[dict[str, str]]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in items}


# Pools and clients ---------------------------------------------------------------------------


def test_describe_and_list_pools_and_clients(idp: Any) -> None:
    pool = idp.describe_user_pool(UserPoolId=POOL)["UserPool"]
    assert pool["Id"] == POOL
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 8,
        "RequireUppercase": True,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 7,
    }
    assert pool["EstimatedNumberOfUsers"] == 2
    assert [p["Id"] for p in idp.list_user_pools(MaxResults=10)["UserPools"]] == [POOL]

    clients = idp.list_user_pool_clients(UserPoolId=POOL)["UserPoolClients"]
    assert {c["ClientId"] for c in clients} >= {DEMO_CLIENT_ID, SPA, DEMO_SERVICE_CLIENT_ID}
    web = idp.describe_user_pool_client(UserPoolId=POOL, ClientId=DEMO_CLIENT_ID)
    web = web["UserPoolClient"]
    assert web["ClientSecret"] == DEMO_CLIENT_SECRET
    assert "ALLOW_USER_SRP_AUTH" in web["ExplicitAuthFlows"]
    assert web["SupportedIdentityProviders"] == ["COGNITO", "AzureAD", "Okta"]

    with pytest.raises(ClientError) as exc:
        idp.describe_user_pool(UserPoolId="eu-west-1_Nope")
    assert error_of(exc) == (
        "ResourceNotFoundException",
        "User pool eu-west-1_Nope does not exist.",
    )
    with pytest.raises(ClientError) as exc:
        idp.describe_user_pool_client(UserPoolId=POOL, ClientId="nope")
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_create_user_pool_client_is_usable_at_once(idp: Any) -> None:
    created = idp.create_user_pool_client(
        UserPoolId=POOL,
        ClientName="cli",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=5,
        TokenValidityUnits={"AccessToken": "minutes"},
    )["UserPoolClient"]
    client_id, secret = created["ClientId"], created["ClientSecret"]
    assert len(client_id) == 26
    assert created["AccessTokenValidity"] == 300
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "alice", client_id=client_id)
    assert error_of(exc) == (
        "NotAuthorizedException",
        f"Client {client_id} is configured with secret but SECRET_HASH was not received",
    )
    result = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={
            "USERNAME": "alice",
            "PASSWORD": DEMO_PASSWORD,
            "SECRET_HASH": secret_hash("alice", client_id, secret),
        },
    )
    assert result["AuthenticationResult"]["ExpiresIn"] == 300
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            AuthFlow="USER_SRP_AUTH",
            ClientId=client_id,
            AuthParameters={"USERNAME": "alice", "SRP_A": "abc"},
        )
    assert error_of(exc) == (
        "InvalidParameterException",
        "USER_SRP_AUTH flow not enabled for this client",
    )


# User administration -------------------------------------------------------------------------


def test_admin_create_user_with_temporary_password_and_new_password_challenge(
    idp: Any, local_cognito: LocalCognito
) -> None:
    user = idp.admin_create_user(
        UserPoolId=POOL,
        Username="carla",
        TemporaryPassword="Temp-Passw0rd!",
        UserAttributes=[
            {"Name": "email", "Value": "carla@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert attrs(user["Attributes"])["email"] == "carla@example.com"
    assert local_cognito.outbox == []

    challenge = password_auth(idp, "carla", "Temp-Passw0rd!")
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert json.loads(challenge["ChallengeParameters"]["userAttributes"]) == {
        "email": "carla@example.com"
    }
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=SPA,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "carla", "NEW_PASSWORD": "weakpassword"},
        )
    assert error_of(exc) == (
        "InvalidPasswordException",
        "Password did not conform with policy: Password must have uppercase characters",
    )
    done = idp.respond_to_auth_challenge(
        ClientId=SPA,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": "carla",
            "NEW_PASSWORD": NEW_PASSWORD,
            "userAttributes.name": "Carla",
        },
    )
    assert "AccessToken" in done["AuthenticationResult"]
    got = idp.admin_get_user(UserPoolId=POOL, Username="carla")
    assert got["UserStatus"] == "CONFIRMED"
    assert attrs(got["UserAttributes"])["name"] == "Carla"
    # The session was single-use.
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=SPA,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "carla", "NEW_PASSWORD": NEW_PASSWORD},
        )
    assert error_of(exc) == (
        "NotAuthorizedException",
        "Invalid session for the user, session is expired.",
    )
    assert tokens(idp, "carla", NEW_PASSWORD)["TokenType"] == "Bearer"

    with pytest.raises(ClientError) as exc:
        idp.admin_create_user(UserPoolId=POOL, Username="Carla", MessageAction="SUPPRESS")
    assert error_of(exc) == ("UsernameExistsException", "User account already exists")


def test_admin_create_user_sends_an_invitation_with_a_generated_password(
    idp: Any, local_cognito: LocalCognito
) -> None:
    idp.admin_create_user(
        UserPoolId=POOL,
        Username="dora",
        DesiredDeliveryMediums=["EMAIL"],
        UserAttributes=[{"Name": "email", "Value": "dora@example.com"}],
    )
    (message,) = local_cognito.outbox
    assert (message.kind, message.destination, message.delivery_medium) == (
        "INVITATION",
        "dora@example.com",
        "EMAIL",
    )
    assert message.temporary_password
    challenge = password_auth(idp, "dora", message.temporary_password)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_temporary_password_expires(idp: Any, local_cognito: LocalCognito) -> None:
    with pytest.raises(ClientError) as exc:
        idp.admin_create_user(UserPoolId=POOL, Username="eve", MessageAction="SUPPRESS")
    assert error_of(exc) == (
        "InvalidParameterException",
        "Attributes did not conform to the schema: email: The attribute is required",
    )
    with pytest.raises(ClientError) as exc:
        idp.admin_create_user(
            UserPoolId=POOL,
            Username="two words",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "eve@example.com"}],
        )
    assert error_of(exc)[0] == "InvalidParameterException"
    idp.admin_create_user(
        UserPoolId=POOL,
        Username="eve",
        TemporaryPassword="Temp-Passw0rd!",
        UserAttributes=[{"Name": "email", "Value": "eve@example.com"}],
        MessageAction="SUPPRESS",
    )
    local_cognito.faults.clock_offset(8 * 86400)
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "eve", "Temp-Passw0rd!")
    assert error_of(exc) == (
        "NotAuthorizedException",
        "Temporary password has expired and must be reset by an administrator.",
    )


def test_admin_set_user_password(idp: Any) -> None:
    with pytest.raises(ClientError) as exc:
        idp.admin_set_user_password(
            UserPoolId=POOL, Username="bob", Password="short", Permanent=True
        )
    assert error_of(exc) == (
        "InvalidPasswordException",
        "Password did not conform with policy: Password not long enough",
    )
    idp.admin_set_user_password(
        UserPoolId=POOL, Username="bob", Password=NEW_PASSWORD, Permanent=True
    )
    assert idp.admin_get_user(UserPoolId=POOL, Username="bob")["UserStatus"] == "CONFIRMED"
    assert "AccessToken" in tokens(idp, "bob", NEW_PASSWORD)
    idp.admin_set_user_password(
        UserPoolId=POOL, Username="bob", Password="Tmp-Passw0rd!", Permanent=False
    )
    assert (
        idp.admin_get_user(UserPoolId=POOL, Username="bob")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    )
    assert password_auth(idp, "bob", "Tmp-Passw0rd!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(ClientError) as exc:
        idp.admin_set_user_password(UserPoolId=POOL, Username="nobody", Password=NEW_PASSWORD)
    assert error_of(exc) == ("UserNotFoundException", "User does not exist.")


def test_list_users_filters_and_pages(idp: Any, local_cognito: LocalCognito) -> None:
    for i in range(5):
        local_cognito.add_user(
            f"user{i}",
            DEMO_PASSWORD,
            email=f"user{i}@corp.example",
            attributes={"given_name": "Ann" if i % 2 else "Ben"},
        )

    def names(**kwargs: Any) -> list[str]:
        return [u["Username"] for u in idp.list_users(UserPoolId=POOL, **kwargs)["Users"]]

    assert names() == ["alice", "bob", "user0", "user1", "user2", "user3", "user4"]
    assert names(Filter='email = "bob@example.com"') == ["bob"]
    assert names(Filter='email ^= "user"') == ["user0", "user1", "user2", "user3", "user4"]
    assert names(Filter='given_name = "Ann"') == ["user1", "user3"]
    assert names(Filter='username ^= "AL"') == ["alice"]
    assert names(Filter='name = "Bob User"') == ["bob"]
    sub = local_cognito.user("alice").sub  # type: ignore[union-attr]
    assert names(Filter=f'sub = "{sub}"') == ["alice"]
    assert names(Filter='cognito:user_status = "CONFIRMED"')[:2] == ["alice", "bob"]
    idp.admin_disable_user(UserPoolId=POOL, Username="user2")
    assert names(Filter='status = "Disabled"') == ["user2"]

    first = idp.list_users(UserPoolId=POOL, Limit=3)
    assert [u["Username"] for u in first["Users"]] == ["alice", "bob", "user0"]
    second = idp.list_users(UserPoolId=POOL, Limit=3, PaginationToken=first["PaginationToken"])
    assert [u["Username"] for u in second["Users"]] == ["user1", "user2", "user3"]
    third = idp.list_users(UserPoolId=POOL, Limit=3, PaginationToken=second["PaginationToken"])
    assert [u["Username"] for u in third["Users"]] == ["user4"]
    assert "PaginationToken" not in third
    with pytest.raises(ClientError) as exc:
        idp.list_users(UserPoolId=POOL, PaginationToken="LTE=")
    assert error_of(exc) == ("InvalidParameterException", "Invalid pagination token.")

    only = idp.list_users(UserPoolId=POOL, AttributesToGet=["email"], Filter='username = "bob"')
    assert only["Users"][0]["Attributes"] == [{"Name": "email", "Value": "bob@example.com"}]
    for bad in ('email == "x"', "email = x", 'custom:department = "sales"'):
        with pytest.raises(ClientError) as exc:
            idp.list_users(UserPoolId=POOL, Filter=bad)
        assert error_of(exc)[0] == "InvalidParameterException"


def test_update_and_delete_user_attributes(idp: Any) -> None:
    idp.admin_update_user_attributes(
        UserPoolId=POOL,
        Username="bob",
        UserAttributes=[
            {"Name": "email", "Value": "robert@example.com"},
            {"Name": "custom:department", "Value": "support"},
        ],
    )
    got = attrs(idp.admin_get_user(UserPoolId=POOL, Username="bob")["UserAttributes"])
    assert got["email"] == "robert@example.com"
    assert got["email_verified"] == "false"
    assert got["custom:department"] == "support"
    idp.admin_delete_user_attributes(
        UserPoolId=POOL, Username="bob", UserAttributeNames=["custom:department"]
    )
    got = attrs(idp.admin_get_user(UserPoolId=POOL, Username="bob")["UserAttributes"])
    assert "custom:department" not in got
    with pytest.raises(ClientError) as exc:
        idp.admin_update_user_attributes(
            UserPoolId=POOL, Username="bob", UserAttributes=[{"Name": "sub", "Value": "x"}]
        )
    assert error_of(exc) == (
        "InvalidParameterException",
        "Cannot modify the non-mutable attribute sub",
    )
    with pytest.raises(ClientError) as exc:
        idp.admin_delete_user_attributes(
            UserPoolId=POOL, Username="bob", UserAttributeNames=["email"]
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_enable_disable_and_delete_user(idp: Any) -> None:
    refresh = tokens(idp, "bob")["RefreshToken"]
    idp.admin_disable_user(UserPoolId=POOL, Username="bob")
    assert idp.admin_get_user(UserPoolId=POOL, Username="bob")["Enabled"] is False
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "bob")
    assert error_of(exc) == ("NotAuthorizedException", "User is disabled.")
    idp.admin_enable_user(UserPoolId=POOL, Username="bob")
    assert "AccessToken" in tokens(idp, "bob")
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH", ClientId=SPA, AuthParameters={"REFRESH_TOKEN": refresh}
        )
    assert error_of(exc) == ("NotAuthorizedException", "Refresh Token has been revoked")

    idp.admin_delete_user(UserPoolId=POOL, Username="bob")
    with pytest.raises(ClientError) as exc:
        idp.admin_get_user(UserPoolId=POOL, Username="bob")
    assert error_of(exc) == ("UserNotFoundException", "User does not exist.")
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "bob")
    assert error_of(exc) == ("UserNotFoundException", "User does not exist.")


def test_groups_and_membership(idp: Any) -> None:
    group = idp.create_group(
        UserPoolId=POOL,
        GroupName="auditors",
        Description="Audit",
        Precedence=5,
        RoleArn="arn:aws:iam::000000000000:role/audit",
    )["Group"]
    assert (group["GroupName"], group["Precedence"], group["Description"]) == (
        "auditors",
        5,
        "Audit",
    )
    with pytest.raises(ClientError) as exc:
        idp.create_group(UserPoolId=POOL, GroupName="auditors")
    assert error_of(exc) == ("GroupExistsException", "A group with the name already exists.")
    assert idp.get_group(UserPoolId=POOL, GroupName="admin")["Group"]["Precedence"] == 1
    assert [g["GroupName"] for g in idp.list_groups(UserPoolId=POOL)["Groups"]] == [
        "admin",
        "auditors",
        "users",
    ]
    page = idp.list_groups(UserPoolId=POOL, Limit=2)
    assert len(page["Groups"]) == 2
    assert [
        g["GroupName"]
        for g in idp.list_groups(UserPoolId=POOL, Limit=2, NextToken=page["NextToken"])["Groups"]
    ] == ["users"]

    idp.admin_add_user_to_group(UserPoolId=POOL, Username="bob", GroupName="auditors")
    assert [
        g["GroupName"]
        for g in idp.admin_list_groups_for_user(UserPoolId=POOL, Username="bob")["Groups"]
    ] == ["users", "auditors"]
    assert [
        u["Username"]
        for u in idp.list_users_in_group(UserPoolId=POOL, GroupName="auditors")["Users"]
    ] == ["bob"]
    _, claims = jwt_parts(tokens(idp, "bob")["AccessToken"])
    assert claims["cognito:groups"] == ["auditors", "users"]

    idp.admin_remove_user_from_group(UserPoolId=POOL, Username="bob", GroupName="users")
    assert [
        g["GroupName"]
        for g in idp.admin_list_groups_for_user(UserPoolId=POOL, Username="bob")["Groups"]
    ] == ["auditors"]
    idp.delete_group(UserPoolId=POOL, GroupName="auditors")
    assert idp.admin_list_groups_for_user(UserPoolId=POOL, Username="bob")["Groups"] == []
    for call in (
        lambda: idp.get_group(UserPoolId=POOL, GroupName="auditors"),
        lambda: idp.admin_add_user_to_group(UserPoolId=POOL, Username="bob", GroupName="auditors"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("ResourceNotFoundException", "Group not found.")


# Authentication ------------------------------------------------------------------------------


def test_user_password_auth_errors(idp: Any, local_cognito: LocalCognito) -> None:
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "alice", "wrong")
    assert error_of(exc) == ("NotAuthorizedException", "Incorrect username or password.")
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "nobody")
    assert error_of(exc) == ("UserNotFoundException", "User does not exist.")
    local_cognito.pool.clients[SPA].prevent_user_existence_errors = True
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "nobody")
    assert error_of(exc) == ("NotAuthorizedException", "Incorrect username or password.")
    local_cognito.pool.clients[SPA].explicit_auth_flows = ["ALLOW_USER_SRP_AUTH"]
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "alice")
    assert error_of(exc) == (
        "InvalidParameterException",
        "USER_PASSWORD_AUTH flow not enabled for this client",
    )
    with pytest.raises(ClientError) as exc:
        idp.admin_initiate_auth(
            UserPoolId=POOL,
            ClientId=SPA,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": DEMO_PASSWORD},
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_secret_hash_is_required_and_checked(idp: Any) -> None:
    params = {"USERNAME": "alice", "PASSWORD": DEMO_PASSWORD}
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH", ClientId=DEMO_CLIENT_ID, AuthParameters=params
        )
    assert error_of(exc) == (
        "NotAuthorizedException",
        f"Client {DEMO_CLIENT_ID} is configured with secret but SECRET_HASH was not received",
    )
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=DEMO_CLIENT_ID,
            AuthParameters={**params, "SECRET_HASH": secret_hash("bob")},
        )
    assert error_of(exc) == (
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {DEMO_CLIENT_ID}",
    )
    result = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=DEMO_CLIENT_ID,
        AuthParameters={**params, "SECRET_HASH": secret_hash("alice")},
    )
    _, claims = jwt_parts(result["AuthenticationResult"]["IdToken"])
    assert claims["aud"] == DEMO_CLIENT_ID


def test_admin_user_password_auth_and_tokens(idp: Any, local_cognito: LocalCognito) -> None:
    result = idp.admin_initiate_auth(
        UserPoolId=POOL,
        ClientId=SPA,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ALICE", "PASSWORD": DEMO_PASSWORD},
    )["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    header, access = jwt_parts(result["AccessToken"])
    assert set(header) == {"kid", "alg"}
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["username"] == "alice"
    assert access["client_id"] == SPA
    assert access["iss"] == local_cognito.issuer
    _, id_claims = jwt_parts(result["IdToken"])
    assert id_claims["cognito:username"] == "alice"
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["cognito:groups"] == ["admin", "users"]
    assert id_claims["origin_jti"] == access["origin_jti"]
    assert local_cognito.calls["AdminInitiateAuth"] == 1


def test_refresh_token_auth(idp: Any, local_cognito: LocalCognito) -> None:
    first = tokens(idp, "alice")
    for flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        refreshed = idp.initiate_auth(
            AuthFlow=flow, ClientId=SPA, AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}
        )["AuthenticationResult"]
        assert "RefreshToken" not in refreshed
        _, claims = jwt_parts(refreshed["IdToken"])
        assert claims["cognito:username"] == "alice"
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH",
            ClientId=SPA,
            AuthParameters={"REFRESH_TOKEN": "not-a-token"},
        )
    assert error_of(exc) == ("NotAuthorizedException", "Invalid Refresh Token")

    secret_first = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=DEMO_CLIENT_ID,
        AuthParameters={
            "USERNAME": "bob",
            "PASSWORD": DEMO_PASSWORD,
            "SECRET_HASH": secret_hash("bob"),
        },
    )["AuthenticationResult"]
    sub = local_cognito.user("bob").sub  # type: ignore[union-attr]
    refreshed = idp.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH",
        ClientId=DEMO_CLIENT_ID,
        AuthParameters={
            "REFRESH_TOKEN": secret_first["RefreshToken"],
            "SECRET_HASH": secret_hash(sub),
        },
    )
    assert "AccessToken" in refreshed["AuthenticationResult"]


async def test_refresh_token_from_initiate_auth_works_at_the_token_endpoint(
    idp: Any, local_cognito: LocalCognito
) -> None:
    refresh = tokens(idp, "alice")["RefreshToken"]
    async with httpx.AsyncClient(base_url=local_cognito.base_url) as http:
        response = await http.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "client_id": SPA, "refresh_token": refresh},
        )
    assert response.status_code == 200
    assert "id_token" in response.json()


def test_srp_auth_with_pycognito(local_cognito: LocalCognito) -> None:
    kwargs = {
        "endpoint_url": local_cognito.base_url,
        "region_name": local_cognito.region,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    user = Cognito(POOL, SPA, username="alice", boto3_client_kwargs=kwargs)
    user.authenticate(password=DEMO_PASSWORD)  # also verifies both tokens against the JWKS
    assert jwt_parts(user.access_token)[1]["username"] == "alice"
    assert user.refresh_token
    assert local_cognito.calls["RespondToAuthChallenge"] == 1

    with_secret = Cognito(
        POOL,
        DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        username="bob",
        boto3_client_kwargs=kwargs,
    )
    with_secret.authenticate(password=DEMO_PASSWORD)
    assert jwt_parts(with_secret.id_token)[1]["aud"] == DEMO_CLIENT_ID

    wrong = Cognito(POOL, SPA, username="alice", boto3_client_kwargs=kwargs)
    with pytest.raises(ClientError) as exc:
        wrong.authenticate(password="Wrong-Passw0rd!")
    assert error_of(exc) == ("NotAuthorizedException", "Incorrect username or password.")


def test_srp_new_password_challenge_with_pycognito(idp: Any, local_cognito: LocalCognito) -> None:
    idp.admin_create_user(
        UserPoolId=POOL,
        Username="fay",
        TemporaryPassword="Temp-Passw0rd!",
        UserAttributes=[{"Name": "email", "Value": "fay@example.com"}],
        MessageAction="SUPPRESS",
    )
    kwargs = {
        "endpoint_url": local_cognito.base_url,
        "region_name": local_cognito.region,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    user = Cognito(POOL, SPA, username="fay", boto3_client_kwargs=kwargs)
    user.new_password_challenge("Temp-Passw0rd!", NEW_PASSWORD)
    assert idp.admin_get_user(UserPoolId=POOL, Username="fay")["UserStatus"] == "CONFIRMED"
    Cognito(POOL, SPA, username="fay", boto3_client_kwargs=kwargs).authenticate(NEW_PASSWORD)


def test_password_verifier_rejects_forged_claims(idp: Any) -> None:
    started = idp.initiate_auth(
        AuthFlow="USER_SRP_AUTH",
        ClientId=SPA,
        AuthParameters={"USERNAME": "alice", "SRP_A": "a1b2c3" * 64},
    )
    params = started["ChallengeParameters"]
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(params) == {"SALT", "SECRET_BLOCK", "SRP_B", "USERNAME", "USER_ID_FOR_SRP"}
    responses = {
        "USERNAME": "alice",
        "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
        "TIMESTAMP": "Tue Dec 1 10:00:00 UTC 2026",
        "PASSWORD_CLAIM_SIGNATURE": base64.b64encode(b"x" * 32).decode(),
    }
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=SPA,
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={**responses, "TIMESTAMP": "today"},
        )
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=SPA, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
        )
    assert error_of(exc) == ("NotAuthorizedException", "Incorrect username or password.")


async def test_initiate_auth_tokens_pass_the_middleware_verifier(
    idp: Any, local_cognito: LocalCognito
) -> None:
    result = tokens(idp, "alice")
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier(
            issuer=local_cognito.issuer,
            client_ids=[SPA],
            jwks=JWKSCache(f"{local_cognito.issuer}/.well-known/jwks.json", http),
        )
        access = await verifier.verify_bearer(result["AccessToken"])
        id_claims = await verifier.verify_id_token(result["IdToken"])
    assert access["username"] == "alice"
    assert id_claims["cognito:username"] == "alice"


# Self-service --------------------------------------------------------------------------------


def test_sign_up_confirm_and_sign_in(idp: Any, local_cognito: LocalCognito) -> None:
    with pytest.raises(ClientError) as exc:
        idp.sign_up(
            ClientId=SPA,
            Username="gil",
            Password="no-upper-1!",
            UserAttributes=[{"Name": "email", "Value": "gil@example.com"}],
        )
    assert error_of(exc) == (
        "InvalidPasswordException",
        "Password did not conform with policy: Password must have uppercase characters",
    )
    with pytest.raises(ClientError) as exc:
        idp.sign_up(ClientId=SPA, Username="gil", Password=NEW_PASSWORD)
    assert error_of(exc) == (
        "InvalidParameterException",
        "Attributes did not conform to the schema: email: The attribute is required",
    )
    signed = idp.sign_up(
        ClientId=SPA,
        Username="gil",
        Password=NEW_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "gil@example.com"}],
    )
    assert signed["UserConfirmed"] is False
    assert signed["CodeDeliveryDetails"] == {
        "Destination": "g***@e***.com",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    with pytest.raises(ClientError) as exc:
        idp.sign_up(
            ClientId=SPA,
            Username="GIL",
            Password=NEW_PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "gil@example.com"}],
        )
    assert error_of(exc) == ("UsernameExistsException", "User already exists")
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "gil", NEW_PASSWORD)
    assert error_of(exc) == ("UserNotConfirmedException", "User is not confirmed.")

    first = local_cognito.last_code("gil")
    idp.resend_confirmation_code(ClientId=SPA, Username="gil")
    code = local_cognito.last_code("gil", "RESEND_CODE")
    assert code and len(code) == 6
    assert [m.kind for m in local_cognito.outbox] == ["SIGN_UP", "RESEND_CODE"]
    assert local_cognito.outbox[-1].destination == "gil@example.com"
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ClientError) as exc:
        idp.confirm_sign_up(ClientId=SPA, Username="gil", ConfirmationCode=wrong)
    assert error_of(exc) == (
        "CodeMismatchException",
        "Invalid verification code provided, please try again.",
    )
    if first != code:
        with pytest.raises(ClientError) as exc:
            idp.confirm_sign_up(ClientId=SPA, Username="gil", ConfirmationCode=str(first))
        assert error_of(exc)[0] == "CodeMismatchException"
    idp.confirm_sign_up(ClientId=SPA, Username="gil", ConfirmationCode=code)
    user = idp.admin_get_user(UserPoolId=POOL, Username="gil")
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs(user["UserAttributes"])["email_verified"] == "true"
    assert attrs(user["UserAttributes"])["sub"] == signed["UserSub"]
    assert "AccessToken" in tokens(idp, "gil", NEW_PASSWORD)
    with pytest.raises(ClientError) as exc:
        idp.confirm_sign_up(ClientId=SPA, Username="gil", ConfirmationCode=code)
    assert error_of(exc) == (
        "NotAuthorizedException",
        "User cannot be confirmed. Current status is CONFIRMED",
    )


def test_sign_up_code_expires(idp: Any, local_cognito: LocalCognito) -> None:
    idp.sign_up(
        ClientId=DEMO_CLIENT_ID,
        Username="hal",
        Password=NEW_PASSWORD,
        SecretHash=secret_hash("hal"),
        UserAttributes=[{"Name": "email", "Value": "hal@example.com"}],
    )
    local_cognito.faults.clock_offset(25 * 3600)
    with pytest.raises(ClientError) as exc:
        idp.confirm_sign_up(
            ClientId=DEMO_CLIENT_ID,
            Username="hal",
            ConfirmationCode=str(local_cognito.last_code("hal")),
            SecretHash=secret_hash("hal"),
        )
    assert error_of(exc) == (
        "ExpiredCodeException",
        "Invalid code provided, please request a code again.",
    )


def test_forgot_password(idp: Any, local_cognito: LocalCognito) -> None:
    sent = idp.forgot_password(ClientId=SPA, Username="bob")["CodeDeliveryDetails"]
    assert sent == {
        "Destination": "b***@e***.com",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    code = local_cognito.last_code("bob", "FORGOT_PASSWORD")
    assert code is not None
    with pytest.raises(ClientError) as exc:
        idp.confirm_forgot_password(
            ClientId=SPA, Username="bob", ConfirmationCode=code, Password="weak"
        )
    assert error_of(exc)[0] == "InvalidPasswordException"
    idp.forgot_password(ClientId=SPA, Username="bob")
    code = local_cognito.last_code("bob", "FORGOT_PASSWORD")
    assert code is not None
    idp.confirm_forgot_password(
        ClientId=SPA, Username="bob", ConfirmationCode=code, Password=NEW_PASSWORD
    )
    assert "AccessToken" in tokens(idp, "bob", NEW_PASSWORD)
    with pytest.raises(ClientError) as exc:
        idp.confirm_forgot_password(
            ClientId=SPA, Username="bob", ConfirmationCode=code, Password=NEW_PASSWORD
        )
    assert error_of(exc)[0] == "CodeMismatchException"
    with pytest.raises(ClientError) as exc:
        idp.forgot_password(ClientId=SPA, Username="nobody")
    assert error_of(exc)[0] == "UserNotFoundException"
    local_cognito.add_user("ivy", DEMO_PASSWORD, email="ivy@example.com", email_verified=False)
    with pytest.raises(ClientError) as exc:
        idp.forgot_password(ClientId=SPA, Username="ivy")
    assert error_of(exc) == (
        "InvalidParameterException",
        "Cannot reset password for the user "
        "as there is no registered/verified email or phone_number",
    )


def test_admin_reset_user_password(idp: Any, local_cognito: LocalCognito) -> None:
    idp.admin_reset_user_password(UserPoolId=POOL, Username="bob")
    assert idp.admin_get_user(UserPoolId=POOL, Username="bob")["UserStatus"] == "RESET_REQUIRED"
    with pytest.raises(ClientError) as exc:
        password_auth(idp, "bob")
    assert error_of(exc) == (
        "PasswordResetRequiredException",
        "Password reset required for the user",
    )
    idp.confirm_forgot_password(
        ClientId=SPA,
        Username="bob",
        Password=NEW_PASSWORD,
        ConfirmationCode=str(local_cognito.last_code("bob", "FORGOT_PASSWORD")),
    )
    assert "AccessToken" in tokens(idp, "bob", NEW_PASSWORD)


def test_access_token_operations(idp: Any, local_cognito: LocalCognito) -> None:
    access = tokens(idp, "bob")["AccessToken"]
    me = idp.get_user(AccessToken=access)
    assert me["Username"] == "bob"
    assert attrs(me["UserAttributes"])["email"] == "bob@example.com"

    updated = idp.update_user_attributes(
        AccessToken=access,
        UserAttributes=[
            {"Name": "email", "Value": "bobby@example.com"},
            {"Name": "name", "Value": "Bobby"},
        ],
    )
    assert updated["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"
    assert attrs(idp.get_user(AccessToken=access)["UserAttributes"])["email_verified"] == "false"
    idp.verify_user_attribute(
        AccessToken=access,
        AttributeName="email",
        Code=str(local_cognito.last_code("bob", "VERIFY_ATTRIBUTE")),
    )
    assert attrs(idp.get_user(AccessToken=access)["UserAttributes"])["email_verified"] == "true"

    with pytest.raises(ClientError) as exc:
        idp.change_password(
            AccessToken=access, PreviousPassword="wrong", ProposedPassword=NEW_PASSWORD
        )
    assert error_of(exc) == ("NotAuthorizedException", "Incorrect username or password.")
    idp.change_password(
        AccessToken=access, PreviousPassword=DEMO_PASSWORD, ProposedPassword=NEW_PASSWORD
    )
    assert "AccessToken" in tokens(idp, "bob", NEW_PASSWORD)

    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken="not.a.token")
    assert error_of(exc) == ("NotAuthorizedException", "Invalid Access Token")
    hosted = local_cognito.mint_tokens("bob", scopes=["openid"])["access_token"]
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=hosted)
    assert error_of(exc) == ("NotAuthorizedException", "Access Token does not have required scopes")
    local_cognito.faults.clock_offset(3601)
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=access)
    assert error_of(exc) == ("NotAuthorizedException", "Access Token has expired")
    local_cognito.faults.clock_offset(0)

    idp.delete_user(AccessToken=access)
    assert local_cognito.user("bob") is None


async def test_global_sign_out_revokes_access_and_refresh_tokens(
    idp: Any, local_cognito: LocalCognito
) -> None:
    first, second = tokens(idp, "alice"), tokens(idp, "alice")
    idp.global_sign_out(AccessToken=first["AccessToken"])
    for result in (first, second):
        with pytest.raises(ClientError) as exc:
            idp.get_user(AccessToken=result["AccessToken"])
        assert error_of(exc) == ("NotAuthorizedException", "Access Token has been revoked")
        with pytest.raises(ClientError) as exc:
            idp.initiate_auth(
                AuthFlow="REFRESH_TOKEN_AUTH",
                ClientId=SPA,
                AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
            )
        assert error_of(exc) == ("NotAuthorizedException", "Refresh Token has been revoked")
        assert local_cognito.is_revoked(result["RefreshToken"])
    async with httpx.AsyncClient(base_url=local_cognito.base_url) as http:
        response = await http.post(
            "/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": SPA,
                "refresh_token": first["RefreshToken"],
            },
        )
    assert response.json() == {"error": "invalid_grant"}
    assert "AccessToken" in tokens(idp, "alice")

    later = tokens(idp, "alice")
    idp.admin_user_global_sign_out(UserPoolId=POOL, Username="alice")
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=later["AccessToken"])
    assert error_of(exc)[0] == "NotAuthorizedException"


def test_revoke_token(idp: Any, local_cognito: LocalCognito) -> None:
    result = tokens(idp, "alice")
    other = tokens(idp, "alice")
    with pytest.raises(ClientError) as exc:
        idp.revoke_token(Token=result["AccessToken"], ClientId=SPA)
    assert error_of(exc)[0] == "UnsupportedTokenTypeException"
    idp.revoke_token(Token=result["RefreshToken"], ClientId=SPA)
    assert local_cognito.is_revoked(result["RefreshToken"])
    assert not local_cognito.is_revoked(other["RefreshToken"])
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=result["AccessToken"])
    assert error_of(exc) == ("NotAuthorizedException", "Access Token has been revoked")
    assert idp.get_user(AccessToken=other["AccessToken"])["Username"] == "alice"

    secret = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=DEMO_CLIENT_ID,
        AuthParameters={
            "USERNAME": "bob",
            "PASSWORD": DEMO_PASSWORD,
            "SECRET_HASH": secret_hash("bob"),
        },
    )["AuthenticationResult"]
    with pytest.raises(ClientError) as exc:
        idp.revoke_token(Token=secret["RefreshToken"], ClientId=DEMO_CLIENT_ID)
    assert error_of(exc)[0] == "NotAuthorizedException"
    idp.revoke_token(
        Token=secret["RefreshToken"], ClientId=DEMO_CLIENT_ID, ClientSecret=DEMO_CLIENT_SECRET
    )
    assert local_cognito.is_revoked(secret["RefreshToken"])


def test_unknown_operation_and_faults(idp: Any, local_cognito: LocalCognito) -> None:
    with pytest.raises(ClientError) as exc:
        idp.list_devices(AccessToken="x")
    assert error_of(exc)[0] == "UnknownOperationException"
    local_cognito.faults.throttle("GetUser", times=1)
    access = tokens(idp, "bob")["AccessToken"]
    no_retry = boto3.client(
        "cognito-idp",
        endpoint_url=local_cognito.base_url,
        region_name=local_cognito.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as exc:
        no_retry.get_user(AccessToken=access)
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert no_retry.get_user(AccessToken=access)["Username"] == "bob"
    no_retry.close()


def test_hosted_ui_refresh_tokens_work_with_refresh_token_auth(
    idp: Any, local_cognito: LocalCognito
) -> None:
    minted = local_cognito.mint_tokens("alice", client_id=SPA, scopes=["openid", "email"])
    result = idp.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH",
        ClientId=SPA,
        AuthParameters={"REFRESH_TOKEN": minted["refresh_token"]},
    )
    _, access = jwt_parts(result["AuthenticationResult"]["AccessToken"])
    assert access["scope"] == "openid email"
    assert access["origin_jti"] == jwt_parts(minted["access_token"])[1]["origin_jti"]


def test_readme_example_runs(local_cognito: LocalCognito) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The user pool API (`cognito-idp`)", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    namespace = {
        "base_url": local_cognito.base_url,
        "cognito": local_cognito,
        "DEMO_PUBLIC_CLIENT_ID": SPA,
    }
    exec(block, namespace)  # noqa: S102
    assert local_cognito.user("erin").status == "CONFIRMED"  # type: ignore[union-attr]


async def test_hosted_ui_refuses_users_the_api_left_unconfirmed(
    idp: Any, local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    idp.sign_up(
        ClientId=SPA,
        Username="jo",
        Password=NEW_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "jo@example.com"}],
    )
    refused = await sign_in(client, authorize_url(), "jo", NEW_PASSWORD)
    assert refused.status_code == 200
    assert "User is not confirmed." in refused.text
    idp.confirm_sign_up(
        ClientId=SPA, Username="jo", ConfirmationCode=str(local_cognito.last_code("jo"))
    )
    assert "code" in query(await sign_in(client, authorize_url(), "jo", NEW_PASSWORD))
    idp.admin_set_user_password(UserPoolId=POOL, Username="jo", Password="Tmp-Passw0rd!")
    forced = await sign_in(client, authorize_url(prompt="login"), "jo", "Tmp-Passw0rd!")
    assert "Password change required for the user." in forced.text


def test_readme_seed_example_loads_with_its_policy_and_flows(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Seed files", 1)[1]
    (block,) = re.findall(r"```toml\n(.*?)```", section, re.S)[:1]
    path = tmp_path / "seed.toml"
    path.write_text(block, encoding="utf-8")
    seed = Seed.from_file(path)
    assert seed.password_policy.minimum_length == 12
    assert seed.password_policy.require_symbols is False
    assert seed.clients[0].explicit_auth_flows == [
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    assert seed.clients[0].prevent_user_existence_errors is True
    assert seed.alias_attributes == ["email"]
    with pytest.raises(SeedError, match="unknown auth flows"):
        Seed.from_dict(
            {
                "user_pool_id": "eu-west-1_X",
                "clients": [{"client_id": "c", "explicit_auth_flows": ["USER_PASSWORD_AUTH"]}],
            }
        )


def test_pool_password_policy_from_the_seed(local_cognito_signing_keys: Any) -> None:
    seed = demo_seed()
    seed.password_policy = PasswordPolicySeed(
        minimum_length=12, require_symbols=False, require_uppercase=False
    )
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve() as base_url:
        idp = boto3.client(
            "cognito-idp",
            endpoint_url=base_url,
            region_name=cognito.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        with pytest.raises(ClientError) as exc:
            idp.sign_up(
                ClientId=SPA,
                Username="kim",
                Password="Abcdefgh1!",
                UserAttributes=[{"Name": "email", "Value": "kim@example.com"}],
            )
        assert error_of(exc) == (
            "InvalidPasswordException",
            "Password did not conform with policy: Password not long enough",
        )
        idp.sign_up(
            ClientId=SPA,
            Username="kim",
            Password="abcdefghijk1",
            UserAttributes=[{"Name": "email", "Value": "kim@example.com"}],
        )
        policy = idp.describe_user_pool(UserPoolId=POOL)["UserPool"]["Policies"]
        assert policy["PasswordPolicy"]["MinimumLength"] == 12
        idp.close()


async def test_alias_attributes(local_cognito_signing_keys: Any) -> None:
    seed = demo_seed()
    seed.alias_attributes = ["email", "preferred_username"]
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve() as base_url:
        idp = boto3.client(
            "cognito-idp",
            endpoint_url=base_url,
            region_name=cognito.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        assert idp.describe_user_pool(UserPoolId=POOL)["UserPool"]["AliasAttributes"] == [
            "email",
            "preferred_username",
        ]
        # A verified email signs in, with the password flow, SRP and the hosted UI.
        result = tokens(idp, "Alice@Example.com")
        assert jwt_parts(result["AccessToken"])[1]["username"] == "alice"
        kwargs = {
            "endpoint_url": base_url,
            "region_name": cognito.region,
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
        Cognito(POOL, SPA, username="bob@example.com", boto3_client_kwargs=kwargs).authenticate(
            DEMO_PASSWORD
        )
        async with httpx.AsyncClient(base_url=base_url) as http:
            signed_in = await sign_in(http, authorize_url(), "alice@example.com", DEMO_PASSWORD)
        assert "code" in query(signed_in)
        assert idp.admin_get_user(UserPoolId=POOL, Username="bob@example.com")["Username"] == (
            "bob"
        )

        with pytest.raises(ClientError) as exc:
            idp.sign_up(
                ClientId=SPA,
                Username="lee@example.com",
                Password=NEW_PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "lee@example.com"}],
            )
        assert error_of(exc) == (
            "InvalidParameterException",
            "Username cannot be of email format, since user pool is configured for email alias.",
        )
        # Signing up with a taken email works; confirming it does not.
        idp.sign_up(
            ClientId=SPA,
            Username="lee",
            Password=NEW_PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "bob@example.com"}],
        )
        code = str(cognito.last_code("lee"))
        with pytest.raises(ClientError) as exc:
            idp.confirm_sign_up(ClientId=SPA, Username="lee", ConfirmationCode=code)
        assert error_of(exc) == (
            "AliasExistsException",
            "An account with the given email already exists.",
        )
        idp.confirm_sign_up(
            ClientId=SPA, Username="lee", ConfirmationCode=code, ForceAliasCreation=True
        )
        assert (
            jwt_parts(tokens(idp, "bob@example.com", NEW_PASSWORD)["AccessToken"])[1]["username"]
            == "lee"
        )
        assert cognito.user("bob").attributes["email_verified"] == "false"  # type: ignore[union-attr]

        idp.admin_update_user_attributes(
            UserPoolId=POOL,
            Username="alice",
            UserAttributes=[{"Name": "preferred_username", "Value": "ali"}],
        )
        assert "AccessToken" in tokens(idp, "ali")
        with pytest.raises(ClientError) as exc:
            idp.admin_update_user_attributes(
                UserPoolId=POOL,
                Username="bob",
                UserAttributes=[{"Name": "preferred_username", "Value": "ALI"}],
            )
        assert error_of(exc) == (
            "AliasExistsException",
            "An account with the given preferred_username already exists.",
        )
        with pytest.raises(ClientError) as exc:
            idp.admin_create_user(
                UserPoolId=POOL,
                Username="max",
                MessageAction="SUPPRESS",
                UserAttributes=[
                    {"Name": "email", "Value": "alice@example.com"},
                    {"Name": "email_verified", "Value": "true"},
                ],
            )
        assert error_of(exc)[0] == "AliasExistsException"
        idp.close()
