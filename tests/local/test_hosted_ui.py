"""Authorize parameters, the sign-in form, the hosted-UI session and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_SERVICE_CLIENT_ID
from cognito_middleware.testing import find_forms, sign_in

from .helpers import APP, CALLBACK, authorize_url, jwt_parts, query


async def test_authorize_redirects_to_login_form(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url())
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/login?")
    page = await client.get(location)
    assert page.status_code == 200
    forms = find_forms(page.text)
    signin = next(f for f in forms if f.method == "post")
    assert {"username", "password"} <= set(signin.fields)
    assert "Sign in with Microsoft (simulated Azure AD)" in page.text


async def test_login_hint_prefills_the_username(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(login_hint="bob"))
    page = await client.get(response.headers["location"])
    assert find_forms(page.text)[0].fields["username"] == "bob"


async def test_sign_in_redirects_with_code_and_state(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
    assert response.status_code == 302
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert set(query(response)) == {"code", "state"}
    assert query(response)["state"] == "st-123"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("cognito=") and "HttpOnly" in cookie and "Max-Age=3600" in cookie
    assert local_cognito.hosted_sessions == 1


async def test_wrong_password_is_shown_on_the_form(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await sign_in(client, authorize_url(), "alice", "wrong")
    assert response.status_code == 200
    assert "Incorrect username or password." in response.text
    assert 'value="alice"' in response.text
    assert local_cognito.hosted_sessions == 0
    unknown = await sign_in(client, authorize_url(), "nobody", "wrong")
    assert "Incorrect username or password." in unknown.text


async def test_disabled_user_cannot_sign_in(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.add_user("carl", "pw-123456", email="c@example.com", enabled=False)
    response = await sign_in(client, authorize_url(), "carl", "pw-123456")
    assert "User is disabled." in response.text


async def test_usernames_are_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, authorize_url(), "ALICE", DEMO_PASSWORD)
    assert "code" in query(response)


async def test_session_skips_the_form_until_prompt_login(client: httpx.AsyncClient) -> None:
    await sign_in(client, authorize_url(), "bob", DEMO_PASSWORD)
    again = await client.get(authorize_url(state="second"))
    assert again.status_code == 302
    assert again.headers["location"].startswith(CALLBACK)
    assert query(again)["state"] == "second"
    forced = await client.get(authorize_url(prompt="login"))
    assert forced.headers["location"].startswith("/login?")
    page = await client.get(forced.headers["location"])
    assert "password" in find_forms(page.text)[0].fields
    silent = await client.get(authorize_url(prompt="none"))
    assert "code" in query(silent)


async def test_session_lasts_one_hour(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    await sign_in(client, authorize_url(), "bob", DEMO_PASSWORD)
    local_cognito.faults.clock_offset(3601)
    response = await client.get(authorize_url())
    assert response.headers["location"].startswith("/login?")
    assert local_cognito.hosted_sessions == 0


async def test_prompt_none_without_session(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(prompt="none"))
    assert response.status_code == 302
    assert response.headers["location"].startswith(CALLBACK)
    assert query(response) == {"error": "login_required", "state": "st-123"}


async def test_nonce_and_auth_time_carry_into_the_id_token(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    await sign_in(client, authorize_url(), "bob", DEMO_PASSWORD)
    code = query(await client.get(authorize_url(nonce="other-nonce")))["code"]
    tokens = (
        await client.post(
            "/oauth2/token",
            auth=httpx.BasicAuth(DEMO_CLIENT_ID, local_cognito.client_secret() or ""),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        )
    ).json()
    claims = jwt_parts(tokens["id_token"])[1]
    assert claims["nonce"] == "other-nonce"
    assert claims["auth_time"] <= claims["iat"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"client_id": "unknownclient"}, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:8000/elsewhere"}, "redirect_mismatch"),
        ({"redirect_uri": CALLBACK + "?x=1"}, "redirect_mismatch"),
        ({"client_id": None}, "Required parameters missing"),
    ],
)
async def test_bad_client_or_redirect_uri_gives_error_page(
    client: httpx.AsyncClient, params: dict[str, str | None], error: str
) -> None:
    response = await client.get(authorize_url(**params))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/error?")
    assert query(response)["error"] == error
    page = await client.get(location)
    assert page.status_code == 400
    assert "An error was encountered with the requested page." in page.text


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": "token"}, "unauthorized_client"),
        ({"code_challenge_method": "plain", "code_challenge": "abc"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
        ({"scope": "not-a-scope"}, "invalid_scope"),
        ({"identity_provider": "Google"}, "invalid_request"),
        ({"idp_identifier": "unknown.example"}, "invalid_request"),
    ],
)
async def test_other_errors_redirect_to_the_app(
    client: httpx.AsyncClient, params: dict[str, str | None], error: str
) -> None:
    response = await client.get(authorize_url(**params))
    assert response.status_code == 302
    assert response.headers["location"].startswith(CALLBACK + "?")
    result = query(response)
    assert result["error"] == error
    assert result["state"] == "st-123"


async def test_client_without_code_flow(client: httpx.AsyncClient) -> None:
    response = await client.get(authorize_url(client_id=DEMO_SERVICE_CLIENT_ID))
    assert query(response)["error"] == "redirect_mismatch"


async def test_disallowed_scopes_are_dropped(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await sign_in(
        client, authorize_url(scope="openid email admin-only"), "bob", DEMO_PASSWORD
    )
    code = query(response)["code"]
    assert local_cognito.pool.codes[code].scopes == ("openid", "email")


async def test_implicit_flow_when_allowed(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.pool.clients[DEMO_CLIENT_ID].allowed_oauth_flows.append("implicit")
    response = await sign_in(client, authorize_url(response_type="token"), "bob", DEMO_PASSWORD)
    fragment = urlsplit(response.headers["location"]).fragment
    assert "access_token=" in fragment and "id_token=" in fragment
    assert "refresh_token" not in fragment and "state=st-123" in fragment


async def test_logout(local_cognito: LocalCognito, client: httpx.AsyncClient) -> None:
    await sign_in(client, authorize_url(), "bob", DEMO_PASSWORD)
    assert local_cognito.hosted_sessions == 1
    response = await client.get(
        "/logout", params={"client_id": DEMO_CLIENT_ID, "logout_uri": f"{APP}/"}
    )
    assert response.status_code == 302
    assert response.headers["location"] == f"{APP}/"
    assert (
        'cognito=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert local_cognito.hosted_sessions == 0
    after = await client.get(authorize_url())
    assert after.headers["location"].startswith("/login?")


async def test_logout_with_redirect_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/logout",
        params={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "state": "s1",
        },
    )
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?")
    assert query(response)["state"] == "s1"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"client_id": DEMO_CLIENT_ID, "logout_uri": "https://evil.example/"}, "redirect_mismatch"),
        ({"logout_uri": f"{APP}/"}, "invalid_request"),
    ],
)
async def test_logout_errors(client: httpx.AsyncClient, params: dict[str, str], error: str) -> None:
    response = await client.get("/logout", params=params)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/error?")
    assert query(response)["error"] == error


async def test_register_callback_for_an_app_on_a_random_port(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    callback = "http://127.0.0.1:54321/auth/callback"
    local_cognito.register_callback(DEMO_CLIENT_ID, callback, "http://127.0.0.1:54321/")
    response = await sign_in(client, authorize_url(redirect_uri=callback), "bob", DEMO_PASSWORD)
    assert response.headers["location"].startswith(callback + "?code=")
    env = local_cognito.env(app_url="http://127.0.0.1:54321")
    assert env["COGNITO_REDIRECT_URI"] == callback
    assert env["COGNITO_LOGOUT_URI"] == "http://127.0.0.1:54321/"
