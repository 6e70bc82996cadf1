"""Lambda triggers: event shapes, pre token generation V1/V2/V3 in the issued tokens, failures
as Cognito reports them, and the callable, command and URL targets."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cognito_middleware import CognitoConfig, PathRule
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.local import LocalCognito, Seed, SeedError, demo_seed
from cognito_middleware.local.seed import (
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    DEMO_SERVICE_CLIENT_ID,
    DEMO_SERVICE_CLIENT_SECRET,
    TriggerSeed,
)
from cognito_middleware.local.server import background_server
from cognito_middleware.local.triggers import TriggerError
from cognito_middleware.testing import sign_in

from .helpers import APP, BASIC, authorize_url, exchange, jwt_parts, pkce, query

V2_ADD_AND_SUPPRESS = {
    "claimsAndScopeOverrideDetails": {
        "idTokenGeneration": {
            "claimsToAddOrOverride": {"tenant": "acme", "level": 3},
            "claimsToSuppress": ["custom:department"],
        },
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"tenant": "acme"},
            "claimsToSuppress": ["event_id"],
            "scopesToAdd": ["demo-api/read"],
            "scopesToSuppress": ["profile"],
        },
    }
}


def answering(response: dict[str, Any], seen: list[dict[str, Any]] | None = None) -> Any:
    def handler(event: dict[str, Any]) -> dict[str, Any]:
        if seen is not None:
            seen.append(copy.deepcopy(event))
        event["response"] = response
        return event

    return handler


async def signed_in_tokens(
    client: httpx.AsyncClient, username: str = "alice", scope: str = "openid email profile"
) -> dict[str, Any]:
    verifier, challenge = pkce()
    back = await sign_in(
        client,
        authorize_url(scope=scope, code_challenge=challenge, code_challenge_method="S256"),
        username,
        DEMO_PASSWORD,
    )
    assert "code" in query(back), back.headers.get("location", back.text)
    response = await exchange(client, query(back)["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Pre token generation ------------------------------------------------------------------------


async def test_v2_claims_and_scopes_reach_the_hosted_ui_tokens(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    seen: list[dict[str, Any]] = []
    local_cognito.triggers.set(
        "pre_token_generation", answering(V2_ADD_AND_SUPPRESS, seen), version="V2_0"
    )
    tokens = await signed_in_tokens(client)
    _, id_claims = jwt_parts(tokens["id_token"])
    _, access = jwt_parts(tokens["access_token"])
    assert id_claims["tenant"] == "acme" and id_claims["level"] == 3
    assert "custom:department" not in id_claims
    assert id_claims["cognito:username"] == "alice" and id_claims["token_use"] == "id"
    assert access["tenant"] == "acme" and "event_id" not in access
    assert access["scope"].split() == ["openid", "email", "demo-api/read"]

    (event,) = seen
    assert event["version"] == "2"
    assert event["triggerSource"] == "TokenGeneration_HostedAuth"
    assert event["region"] == "eu-west-1" and event["userPoolId"] == DEMO_POOL_ID
    assert event["userName"] == "alice"
    assert event["callerContext"] == {
        "awsSdkVersion": "aws-sdk-unknown-unknown",
        "clientId": local_cognito.client_id,
    }
    request = event["request"]
    assert request["userAttributes"]["email"] == "alice@example.com"
    assert request["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert request["scopes"] == ["openid", "email", "profile"]
    assert request["groupConfiguration"] == {
        "groupsToOverride": ["admin", "users"],
        "iamRolesToOverride": [
            "arn:aws:iam::000000000000:role/demo-admin",
            "arn:aws:iam::000000000000:role/demo-users",
        ],
        "preferredRole": "arn:aws:iam::000000000000:role/demo-admin",
    }
    assert event["response"] == {"claimsAndScopeOverrideDetails": None}


async def test_refresh_runs_the_trigger_again_and_its_failure_is_invalid_request(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    sources: list[str] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        sources.append(event["triggerSource"])
        if event["triggerSource"] == "TokenGeneration_RefreshTokens" and len(sources) > 2:
            raise RuntimeError("No more refreshes today")
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "idTokenGeneration": {"claimsToAddOrOverride": {"round": len(sources)}}
        }
        return event

    local_cognito.triggers.set("pre_token_generation", handler, version="V2_0")
    tokens = await signed_in_tokens(client)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    again = await client.post("/oauth2/token", data=refresh, auth=BASIC)
    assert again.status_code == 200
    assert jwt_parts(again.json()["id_token"])[1]["round"] == 2
    failed = await client.post("/oauth2/token", data=refresh, auth=BASIC)
    assert failed.status_code == 400
    assert failed.json() == {
        "error": "invalid_request",
        "error_description": "PreTokenGeneration failed with error No more refreshes today.",
    }
    assert sources == [
        "TokenGeneration_HostedAuth",
        "TokenGeneration_RefreshTokens",
        "TokenGeneration_RefreshTokens",
    ]


async def test_group_override_changes_groups_roles_and_preferred_role(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    auditor = "arn:aws:iam::000000000000:role/auditor"
    local_cognito.triggers.set(
        "pre_token_generation",
        answering(
            {
                "claimsOverrideDetails": {
                    "groupOverrideDetails": {
                        "groupsToOverride": ["auditors"],
                        "iamRolesToOverride": [auditor],
                        "preferredRole": auditor,
                    },
                }
            }
        ),
    )
    tokens = await signed_in_tokens(client)
    _, id_claims = jwt_parts(tokens["id_token"])
    _, access = jwt_parts(tokens["access_token"])
    assert id_claims["cognito:groups"] == ["auditors"]
    assert id_claims["cognito:roles"] == [auditor]
    assert id_claims["cognito:preferred_role"] == auditor
    assert access["cognito:groups"] == ["auditors"]


async def test_v1_changes_only_the_id_token(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    seen: list[dict[str, Any]] = []
    local_cognito.triggers.set(
        "pre_token_generation",
        answering(
            {
                "claimsOverrideDetails": {
                    "claimsToAddOrOverride": {"tenant": "acme"},
                    "claimsToSuppress": ["email"],
                }
            },
            seen,
        ),
    )
    tokens = await signed_in_tokens(client)
    _, id_claims = jwt_parts(tokens["id_token"])
    _, access = jwt_parts(tokens["access_token"])
    assert id_claims["tenant"] == "acme" and "email" not in id_claims
    assert "tenant" not in access
    assert seen[0]["version"] == "1" and "scopes" not in seen[0]["request"]
    assert seen[0]["response"] == {"claimsOverrideDetails": None}


@pytest.mark.parametrize(
    "details",
    [
        {"idTokenGeneration": {"claimsToAddOrOverride": {"iss": "https://evil.example"}}},
        {"idTokenGeneration": {"claimsToSuppress": ["cognito:username"]}},
        {"accessTokenGeneration": {"claimsToAddOrOverride": {"client_id": "other"}}},
        {"accessTokenGeneration": {"claimsToAddOrOverride": {"cognito:groups": ["admin"]}}},
    ],
)
async def test_fixed_claims_cannot_be_changed(
    local_cognito: LocalCognito, client: httpx.AsyncClient, details: dict[str, Any]
) -> None:
    local_cognito.triggers.set(
        "pre_token_generation",
        answering({"claimsAndScopeOverrideDetails": details}),
        version="V2_0",
    )
    page = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
    assert page.status_code == 200
    assert "Invalid lambda output: the claim" in page.text
    assert local_cognito.hosted_sessions == 0


async def test_a_bad_answer_is_unrecognizable_lambda_output(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    local_cognito.triggers.set("pre_token_generation", lambda event: "not an event")
    page = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
    assert "Unrecognizable lambda output" in page.text


async def test_v3_customizes_client_credentials_tokens(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    seen: list[dict[str, Any]] = []
    local_cognito.triggers.set(
        "pre_token_generation",
        answering(
            {
                "claimsAndScopeOverrideDetails": {
                    "accessTokenGeneration": {
                        "claimsToAddOrOverride": {"partner": "globex"},
                        "scopesToSuppress": ["demo-api/write"],
                    }
                }
            },
            seen,
        ),
        version="V2_0",
    )
    auth = httpx.BasicAuth(DEMO_SERVICE_CLIENT_ID, DEMO_SERVICE_CLIENT_SECRET)
    form = {"grant_type": "client_credentials"}
    v2 = await client.post("/oauth2/token", data=form, auth=auth)
    assert "partner" not in jwt_parts(v2.json()["access_token"])[1]
    assert seen == []  # V2 is for users only

    local_cognito.triggers.set(
        "pre_token_generation",
        answering(
            {
                "claimsAndScopeOverrideDetails": {
                    "accessTokenGeneration": {
                        "claimsToAddOrOverride": {"partner": "globex"},
                        "scopesToSuppress": ["demo-api/write"],
                    }
                }
            },
            seen,
        ),
        version="V3_0",
    )
    v3 = await client.post("/oauth2/token", data=form, auth=auth)
    _, access = jwt_parts(v3.json()["access_token"])
    assert access["partner"] == "globex" and access["scope"] == "demo-api/read"
    (event,) = seen
    assert event["version"] == "3"
    assert event["triggerSource"] == "TokenGeneration_ClientCredentials"
    assert event["callerContext"]["clientId"] == DEMO_SERVICE_CLIENT_ID
    assert event["request"]["scopes"] == ["demo-api/read", "demo-api/write"]


# Through the middleware ------------------------------------------------------------------------


async def whoami(request: Request) -> Response:
    user = request.user
    return JSONResponse({"groups": list(user.groups), "claims": dict(user.claims)})


@pytest.fixture
async def site(local_cognito: LocalCognito) -> AsyncIterator[CognitoAuthMiddleware]:
    config = CognitoConfig.from_env(
        local_cognito.env(app_url=APP), protected=(PathRule(prefix="/me"),)
    )
    middleware = CognitoAuthMiddleware(Starlette(routes=[Route("/me", whoami)]), config=config)
    yield middleware
    await middleware.aclose()


async def test_the_middleware_sees_the_trigger_claims(
    local_cognito: LocalCognito, site: CognitoAuthMiddleware
) -> None:
    local_cognito.triggers.set(
        "pre_token_generation",
        answering(
            {
                "claimsAndScopeOverrideDetails": {
                    **V2_ADD_AND_SUPPRESS["claimsAndScopeOverrideDetails"],
                    "groupOverrideDetails": {"groupsToOverride": ["auditors"]},
                }
            }
        ),
        version="V2_0",
    )
    async with httpx.AsyncClient(
        base_url=local_cognito.base_url, mounts={APP: httpx.ASGITransport(app=site)}
    ) as browser:
        start = await browser.get(f"{APP}/auth/login?next=/me")
        back = await sign_in(browser, start.headers["location"], "alice", DEMO_PASSWORD)
        landed = await browser.get(back.headers["location"])
        assert landed.status_code == 303, landed.text
        me = await browser.get(f"{APP}/me")
    assert me.status_code == 200
    body = me.json()
    assert body["groups"] == ["auditors"]
    assert body["claims"]["tenant"] == "acme"
    assert "custom:department" not in body["claims"]


# Authentication triggers -------------------------------------------------------------------------


async def test_failing_pre_authentication_shows_its_message(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    seen: list[dict[str, Any]] = []

    def closed(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        raise PermissionError("Sign-in is closed on Sundays")

    local_cognito.triggers.set("pre_authentication", closed)
    page = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
    assert page.status_code == 200
    assert "PreAuthentication failed with error Sign-in is closed on Sundays." in page.text
    assert 'value="alice"' in page.text
    assert local_cognito.hosted_sessions == 0
    event = seen[0]
    assert event["triggerSource"] == "PreAuthentication_Authentication"
    assert event["version"] == "1" and event["userName"] == "alice"
    assert event["request"]["validationData"] == {} and event["request"]["userNotFound"] is False
    assert event["response"] == {}

    local_cognito.triggers.set("pre_authentication", None)
    assert "code" in query(await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD))


async def test_post_authentication_runs_after_a_good_password(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    seen: list[dict[str, Any]] = []
    local_cognito.triggers.set("post_authentication", answering({}, seen))
    await sign_in(client, authorize_url(), "bob", "wrong")
    assert seen == []
    back = await sign_in(client, authorize_url(), "bob", DEMO_PASSWORD)
    assert "code" in query(back)
    assert seen[0]["triggerSource"] == "PostAuthentication_Authentication"
    assert seen[0]["request"]["newDeviceUsed"] is False


async def test_external_provider_sign_up_runs_pre_sign_up_and_post_confirmation(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    events: list[dict[str, Any]] = []
    local_cognito.triggers.set(
        "pre_sign_up",
        answering(
            {"autoConfirmUser": True, "autoVerifyEmail": True, "autoVerifyPhone": False}, events
        ),
    )
    local_cognito.triggers.set("post_confirmation", answering({}, events))
    back = await sign_in(
        client, authorize_url(identity_provider="Okta"), "dave@okta.example", DEMO_PASSWORD
    )
    assert "code" in query(back)
    assert [e["triggerSource"] for e in events] == [
        "PreSignUp_ExternalProvider",
        "PostConfirmation_ConfirmSignUp",
    ]
    assert events[0]["userName"] == "okta_00u1a2b3c4d5e6f7g8h9"
    assert events[0]["request"]["userAttributes"]["email"] == "dave@okta.example"
    assert events[1]["request"]["userAttributes"]["cognito:user_status"] == "EXTERNAL_PROVIDER"
    user = local_cognito.user("okta_00u1a2b3c4d5e6f7g8h9")
    assert user is not None and user.attributes["email_verified"] == "true"
    # Only the first sign-in signs the user up.
    await sign_in(
        client,
        authorize_url(identity_provider="Okta", prompt="login"),
        "dave@okta.example",
        DEMO_PASSWORD,
    )
    assert len(events) == 2


async def test_refused_external_sign_up_redirects_with_cognitos_error(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    def refuse(event: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("Invalid email domain")

    local_cognito.triggers.set("pre_sign_up", refuse)
    saml = await sign_in(
        client, authorize_url(identity_provider="AzureAD"), "carol@contoso.example", DEMO_PASSWORD
    )
    assert query(saml) == {
        "error": "server_error",
        "state": "st-123",
        "error_description": "Invalid SAML response received: PreSignUp failed with error "
        "Invalid email domain.",
    }
    oidc = await sign_in(
        client, authorize_url(identity_provider="Okta"), "dave@okta.example", DEMO_PASSWORD
    )
    assert query(oidc)["error"] == "invalid_request"
    assert query(oidc)["error_description"] == "PreSignUp failed with error Invalid email domain."
    assert local_cognito.user("okta_00u1a2b3c4d5e6f7g8h9") is None


def test_the_pre_sign_up_entry_point_for_other_callers() -> None:
    seen: list[dict[str, Any]] = []
    cognito = LocalCognito(demo_seed())
    cognito.triggers.set("pre_sign_up", answering({"autoConfirmUser": True}, seen))
    decision = cognito.triggers.pre_sign_up(
        source="PreSignUp_SignUp",
        client_id=cognito.client_id,
        username="zoe",
        user_attributes={"email": "zoe@example.com"},
        validation_data={"captcha": "ok"},
        client_metadata={"origin": "test"},
    )
    assert decision.auto_confirm_user and not decision.auto_verify_email
    assert seen[0]["request"] == {
        "userAttributes": {"email": "zoe@example.com"},
        "validationData": {"captcha": "ok"},
        "clientMetadata": {"origin": "test"},
    }
    cognito.triggers.set("pre_sign_up", answering({"autoConfirmUser": "yes"}))
    with pytest.raises(TriggerError) as info:
        cognito.triggers.pre_sign_up(
            source="PreSignUp_AdminCreateUser",
            client_id=cognito.client_id,
            username="zoe",
            user_attributes={},
        )
    assert info.value.code == "InvalidLambdaResponseException"
    assert info.value.message == "Unrecognizable lambda output"


# Targets -----------------------------------------------------------------------------------------


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda-style handler named by its dotted path in a seed."""
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {
            "via": context.function_name,
            "remaining": str(context.get_remaining_time_in_millis() > 0),
        }
    }
    return event


def _seed_with(**triggers: Any) -> Seed:
    data = demo_seed().to_dict()
    data["triggers"] = triggers
    return Seed.from_dict(data)


async def test_a_dotted_path_from_the_seed_gets_event_and_context(
    local_cognito_signing_keys: Any,
) -> None:
    seed = _seed_with(pre_token_generation=f"{__name__}:lambda_handler")
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve():
        async with httpx.AsyncClient(base_url=cognito.base_url) as client:
            tokens = await signed_in_tokens(client)
    _, claims = jwt_parts(tokens["id_token"])
    assert claims["via"] == "PreTokenGeneration" and claims["remaining"] == "True"


COMMAND = """
import json, sys
event = json.load(sys.stdin)
if event["userName"] == "bob":
    print(json.dumps({"errorMessage": "bob may not sign in"}))
    sys.exit(1)
print(json.dumps(event))
"""


async def test_a_command_trigger(local_cognito_signing_keys: Any) -> None:
    seed = _seed_with(pre_authentication=[sys.executable, "-c", COMMAND])
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve():
        async with httpx.AsyncClient(base_url=cognito.base_url) as client:
            assert "code" in query(await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD))
            page = await sign_in(client, authorize_url(prompt="login"), "bob", DEMO_PASSWORD)
    assert "PreAuthentication failed with error bob may not sign in." in page.text


@pytest.fixture
def function_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in Lambda function URL on loopback."""
    received: list[dict[str, Any]] = []

    async def invoke(request: Request) -> Response:
        event = json.loads(await request.body())
        received.append(event)
        if event["triggerSource"] == "TokenGeneration_RefreshTokens":
            return JSONResponse({"errorMessage": "refresh refused", "errorType": "Error"}, 502)
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "idTokenGeneration": {"claimsToAddOrOverride": {"from_url": True}}
        }
        return JSONResponse(event)

    with background_server(Starlette(routes=[Route("/", invoke, methods=["POST"])])) as (
        host,
        port,
    ):
        yield f"http://{host}:{port}/", received


async def test_a_url_trigger(
    local_cognito_signing_keys: Any, function_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = function_url
    seed = _seed_with(pre_token_generation=url, pre_token_generation_version="V2_0")
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve():
        async with httpx.AsyncClient(base_url=cognito.base_url) as client:
            tokens = await signed_in_tokens(client)
            refresh = await client.post(
                "/oauth2/token",
                auth=BASIC,
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            )
    assert jwt_parts(tokens["id_token"])[1]["from_url"] is True
    assert refresh.json()["error_description"] == (
        "PreTokenGeneration failed with error refresh refused."
    )
    assert [e["triggerSource"] for e in received] == [
        "TokenGeneration_HostedAuth",
        "TokenGeneration_RefreshTokens",
    ]


async def test_an_unreachable_url_is_an_unexpected_lambda_exception() -> None:
    cognito = LocalCognito(_seed_with(pre_authentication="http://127.0.0.1:9/", timeout=2))
    user = cognito.user("alice")
    assert user is not None
    with pytest.raises(TriggerError) as info:
        cognito.triggers.pre_authentication(client_id=cognito.client_id, user=user)
    assert info.value.code == "UnexpectedLambdaException"
    assert info.value.message.startswith("PreAuthentication invocation failed due to error ")


@pytest.mark.parametrize(
    ("triggers", "message"),
    [
        ({"pre_sign_up": "not a path"}, "is not like 'package.module:function'"),
        ({"pre_sign_up": "https://lambda.example.com/fn"}, "only http(s) URLs on loopback"),
        ({"pre_sign_up": []}, "a command is a non-empty list of strings"),
        ({"pre_token_generation_version": "V4_0"}, "V1_0, V2_0 or V3_0"),
        ({"pre_sign_up": "no_such_module_here:fn"}, "cannot import 'no_such_module_here:fn'"),
        ({"unknown_trigger": "a:b"}, "unknown keys ['unknown_trigger']"),
    ],
)
def test_bad_trigger_configuration_is_a_seed_error(triggers: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match="triggers") as info:
        LocalCognito(_seed_with(**triggers))
    assert message in str(info.value)


def test_trigger_seed_is_plain_data() -> None:
    seed = Seed.from_dict(
        {
            "user_pool_id": "eu-west-1_T1",
            "triggers": {
                "pre_authentication": "json:loads",
                "pre_token_generation_version": "V2_0",
            },
        }
    )
    assert seed.triggers == TriggerSeed(
        pre_authentication="json:loads", pre_token_generation_version="V2_0"
    )


def test_minted_tokens_go_through_the_trigger(local_cognito: LocalCognito) -> None:
    local_cognito.triggers.set(
        "pre_token_generation",
        answering({"claimsOverrideDetails": {"claimsToAddOrOverride": {"minted": "yes"}}}),
    )
    tokens = local_cognito.mint_tokens("bob", scopes=["openid"])
    assert jwt_parts(tokens["id_token"])[1]["minted"] == "yes"


HOOKS = """
def pre_authentication(event):
    raise RuntimeError(f"{event['userName']} is on holiday")
"""


def _cli(tmp_path: Path, seed: dict[str, Any]) -> subprocess.Popen[str]:
    """The command line with ``seed`` in a working directory of its own, importing this
    checkout of the package."""
    (tmp_path / "seed.json").write_text(json.dumps(seed), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "cognito_middleware.local", "--port", "0", "--seed", "seed.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.fixture
def cli_with_hooks(tmp_path: Path) -> Iterator[list[str]]:
    """The command line serving a seed whose trigger is a module of the working directory;
    yields the lines it printed."""
    (tmp_path / "hooks.py").write_text(HOOKS, encoding="utf-8")
    data = demo_seed().to_dict()
    data["triggers"] = {"pre_authentication": "hooks:pre_authentication"}
    with _cli(tmp_path, data) as process:
        try:
            assert process.stdout is not None
            lines: list[str] = []
            while not lines or not lines[-1].startswith("COGNITO_SESSION_SECRET"):
                line = process.stdout.readline()
                assert line, process.stderr.read() if process.stderr else ""
                lines.append(line.strip())
            yield lines
        finally:
            process.terminate()
            process.wait(timeout=10)


async def test_the_command_line_loads_triggers_from_the_seed(cli_with_hooks: list[str]) -> None:
    assert "# Lambda triggers: pre_authentication" in cli_with_hooks
    domain = next(v for v in cli_with_hooks if v.startswith("COGNITO_DOMAIN=")).split("=", 1)[1]
    async with httpx.AsyncClient(base_url=domain) as client:
        page = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
    assert "PreAuthentication failed with error alice is on holiday." in page.text


def test_the_command_line_refuses_an_unimportable_trigger(tmp_path: Path) -> None:
    data = demo_seed().to_dict()
    data["triggers"] = {"pre_sign_up": "no_such_hooks:pre_sign_up"}
    with _cli(tmp_path, data) as process:
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "cannot load seed: triggers.pre_sign_up: cannot import" in stderr
