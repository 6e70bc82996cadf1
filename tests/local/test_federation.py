"""Federated sign-in through the simulated Azure AD (SAML) and Okta (OIDC)."""

from __future__ import annotations

import base64
import re

import httpx

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import (
    DEMO_AZURE_TENANT,
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    DEMO_PORTAL_CLIENT_ID,
    DEMO_PORTAL_CLIENT_SECRET,
)
from cognito_middleware.testing import find_forms, sign_in

from .helpers import CALLBACK, authorize_url, exchange, jwt_parts, pkce, query

CAROL = "carol@contoso.example"


async def test_identity_provider_shows_the_simulated_azure_page(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(identity_provider="AzureAD"))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/_idp/AzureAD/saml2/sso?SAMLRequest=")
    page = await client.get(location)
    assert "<title>Microsoft (simulated Azure AD)</title>" in page.text
    form = find_forms(page.text)[0]
    assert {"username", "password", "RelayState"} <= set(form.fields)


async def test_azure_ad_sign_in_creates_a_federated_user(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce()
    response = await sign_in(
        client,
        authorize_url(
            identity_provider="AzureAD", code_challenge=challenge, code_challenge_method="S256"
        ),
        CAROL,
        DEMO_PASSWORD,
    )
    assert response.headers["location"].startswith(CALLBACK)
    result = query(response)
    assert result["state"] == "st-123"
    tokens = (await exchange(client, result["code"], verifier)).json()
    claims = jwt_parts(tokens["id_token"])[1]

    assert claims["cognito:username"] == "azuread_carol@contoso.example"
    assert claims["cognito:groups"] == [f"{DEMO_POOL_ID}_AzureAD"]
    assert "cognito:roles" not in claims
    assert claims["email"] == CAROL
    assert claims["email_verified"] is False
    assert claims["name"] == "Carol Azure"
    assert claims["custom:groups"] == (
        "[5f0c3c5e-6f3a-4a8e-9d55-0f9a2d1c7e11, a2b4c6d8-1e3f-4a5b-8c7d-9e0f1a2b3c4d]"
    )
    [identity] = claims["identities"]
    assert set(identity) == {
        "userId",
        "providerName",
        "providerType",
        "issuer",
        "primary",
        "dateCreated",
    }
    assert identity["userId"] == CAROL
    assert identity["providerName"] == "AzureAD"
    assert identity["providerType"] == "SAML"
    assert identity["issuer"] == f"https://sts.windows.net/{DEMO_AZURE_TENANT}/"
    assert identity["primary"] == "true"
    assert re.fullmatch(r"\d{13}", identity["dateCreated"])

    info = await client.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.json()["identities"].startswith('[{"userId":"carol@contoso.example"')
    assert info.json()["email_verified"] == "false"

    # Second sign-in: the same user (same sub), linked, not duplicated.
    sub = claims["sub"]
    client.cookies.clear()
    again = await sign_in(client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD)
    second = jwt_parts((await exchange(client, query(again)["code"])).json()["id_token"])[1]
    assert second["sub"] == sub
    assert local_cognito.user("azuread_carol@contoso.example") is not None


async def test_idp_identifier_picks_the_provider(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(idp_identifier="Contoso.Example"))
    assert response.headers["location"].startswith("/_idp/AzureAD/saml2/sso")


async def test_wrong_idp_password_stays_on_the_idp_page(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, authorize_url(identity_provider="AzureAD"), CAROL, "nope")
    assert response.status_code == 200
    assert "Microsoft (simulated Azure AD)" in response.text
    assert "Your account or password is incorrect." in response.text


async def test_okta_oidc_sign_in(client: httpx.AsyncClient) -> None:
    first = await client.get(authorize_url(identity_provider="Okta"))
    assert first.headers["location"].startswith("/_idp/Okta/oauth2/authorize?")
    response = await sign_in(
        client, authorize_url(identity_provider="Okta"), "dave@okta.example", DEMO_PASSWORD
    )
    tokens = (await exchange(client, query(response)["code"])).json()
    claims = jwt_parts(tokens["id_token"])[1]
    assert claims["cognito:username"] == "okta_00u1a2b3c4d5e6f7g8h9"
    assert claims["cognito:groups"] == [f"{DEMO_POOL_ID}_Okta"]
    assert claims["email_verified"] is True
    assert claims["identities"][0]["providerType"] == "OIDC"
    assert claims["identities"][0]["issuer"] is None


async def test_failing_provider_gives_cognito_error_redirect(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    description = "Invalid SAML response received: PreSignUp failed with error Invalid domain."
    local_cognito.faults.idp_failure("AzureAD", description)
    response = await sign_in(
        client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD
    )
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert query(response) == {
        "error": "server_error",
        "error_description": description,
        "state": "st-123",
    }
    local_cognito.faults.idp_failure("AzureAD", None)
    ok = await sign_in(client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD)
    assert "code" in query(ok)


async def test_missing_required_attribute(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    provider = local_cognito.pool.providers["AzureAD"]
    provider.users[0].claims.pop(
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    )
    response = await sign_in(
        client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD
    )
    assert query(response)["error"] == "server_error"
    assert query(response)["error_description"] == (
        "Invalid SAML response received: Invalid user attributes: email: The attribute is required"
    )


async def test_tampered_or_replayed_saml_response(client: httpx.AsyncClient) -> None:
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    page = await client.get(start.headers["location"])
    form = find_forms(page.text)[0]
    posted = await client.post(
        form.action, data={**form.fields, "username": CAROL, "password": DEMO_PASSWORD}
    )
    saml = find_forms(posted.text)[0]
    assert saml.action.endswith("/saml2/idpresponse")
    xml = base64.b64decode(saml.fields["SAMLResponse"])
    assert b">carol@contoso.example</NameID>" in xml
    forged = xml.replace(b">carol@contoso.example<", b">mallory@contoso.example<")
    tampered = dict(saml.fields, SAMLResponse=base64.b64encode(forged).decode())
    bad = await client.post("/saml2/idpresponse", data=tampered)
    assert query(bad)["error"] == "server_error"
    assert "SAML Assertion signature is invalid" in query(bad)["error_description"]
    replayed = await client.post("/saml2/idpresponse", data=saml.fields)
    assert replayed.status_code == 400
    assert "Invalid samlResponse or relayState" in replayed.text


async def test_idp_initiated_sign_in_has_no_state(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    tile = f"/_idp/AzureAD/apps?client_id={DEMO_PORTAL_CLIENT_ID}"
    response = await sign_in(client, tile, CAROL, DEMO_PASSWORD)
    assert response.status_code == 302
    assert response.headers["location"].startswith(CALLBACK + "?code=")
    assert set(query(response)) == {"code"}
    token = await client.post(
        "/oauth2/token",
        auth=httpx.BasicAuth(DEMO_PORTAL_CLIENT_ID, DEMO_PORTAL_CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": query(response)["code"],
            "redirect_uri": CALLBACK,
        },
    )
    assert token.status_code == 200
    env = local_cognito.env(client_id=DEMO_PORTAL_CLIENT_ID)
    assert env["COGNITO_IDP_INITIATED_PROVIDERS"] == "AzureAD"


async def test_idp_initiated_refused_for_clients_with_other_providers(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await sign_in(
        client, f"/_idp/AzureAD/apps?client_id={local_cognito.client_id}", CAROL, DEMO_PASSWORD
    )
    assert query(response) == {
        "error": "invalid_request",
        "error_description": "Invalid samlResponse or relayState from identity provider",
    }


async def test_unknown_relay_state(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/saml2/idpresponse", data={"SAMLResponse": "eA==", "RelayState": "bogus"}
    )
    assert response.status_code == 400
    assert "Invalid samlResponse or relayState" in response.text


async def test_oidc_missing_required_attribute(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.pool.providers["Okta"].users[0].claims.pop("email")
    response = await sign_in(
        client, authorize_url(identity_provider="Okta"), "dave@okta.example", DEMO_PASSWORD
    )
    assert query(response) == {
        "error": "invalid_request",
        "state": "st-123",
        "error_description": "Invalid user attributes: email: The attribute is required",
    }


async def test_federated_sign_in_opens_a_hosted_session(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    await sign_in(client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD)
    assert local_cognito.hosted_sessions == 1
    silent = await client.get(authorize_url(prompt="none"))
    code = query(silent)["code"]
    assert local_cognito.pool.codes[code].username == "azuread_carol@contoso.example"
