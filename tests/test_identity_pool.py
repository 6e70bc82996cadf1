"""IdentityPoolClient: wire format, error mapping, retries within a deadline."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cognito_middleware._config import CognitoConfig
from cognito_middleware._identity_pool import AWSCredentials, IdentityPoolClient
from cognito_middleware.exceptions import (
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
)
from cognito_middleware.testing import FrozenClock

START = 1_700_000_000.0
POOL = "eu-west-1:0a1b2c3d-0000-1111-2222-333344445555"
IDENTITY = "eu-west-1:11111111-2222-3333-4444-555555555555"
ENDPOINT = "http://127.0.0.1:9/"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"


def make_config(**overrides: Any) -> CognitoConfig:
    values: dict[str, Any] = {
        "user_pool_id": "eu-west-1_AbCdEf123",
        "client_id": "4hqt9ikctmesulmh0hbqbs00ta",
        "domain": "http://localhost:9000",
        "redirect_uri": "http://localhost:8000/auth/callback",
        "session_secret": "s" * 40,
        "identity_pool_id": POOL,
        "identity_endpoint": ENDPOINT,
    }
    values.update(overrides)
    return CognitoConfig(**values)


def error(status: int, error_type: str, message: str = "") -> httpx.Response:
    return httpx.Response(status, json={"__type": error_type, "message": message})


def credentials_body(identity_id: str = IDENTITY, expiration: float = 1_700_003_600) -> Any:
    return {
        "IdentityId": identity_id,
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretKey": SECRET,
            "SessionToken": TOKEN,
            "Expiration": expiration,
        },
    }


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, clock: FrozenClock | None = None, **kwargs: Any
) -> tuple[IdentityPoolClient, list[httpx.Request], FrozenClock]:
    seen: list[httpx.Request] = []
    clock = clock or FrozenClock(START)

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    client = IdentityPoolClient(
        make_config(), http, clock=clock, sleep=clock.sleep, rng=lambda: 1.0, **kwargs
    )
    return client, seen, clock


async def test_get_id_sends_unsigned_json_1_1() -> None:
    client, seen, _ = make_client(lambda r: httpx.Response(200, json={"IdentityId": IDENTITY}))
    logins = {"cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123": "id-token"}

    assert await client.get_id(logins) == IDENTITY

    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert request.headers["x-amz-target"] == "AWSCognitoIdentityService.GetId"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {"IdentityPoolId": POOL, "Logins": logins}


async def test_get_id_without_logins_asks_for_a_guest_identity() -> None:
    client, seen, _ = make_client(lambda r: httpx.Response(200, json={"IdentityId": IDENTITY}))
    await client.get_id(None)
    assert json.loads(seen[0].content) == {"IdentityPoolId": POOL}


async def test_get_credentials_for_identity_parses_the_snapshot() -> None:
    client, seen, _ = make_client(lambda r: httpx.Response(200, json=credentials_body()))
    role = "arn:aws:iam::111122223333:role/editor"

    creds = await client.get_credentials_for_identity(IDENTITY, {"k": "v"}, role)

    assert json.loads(seen[0].content) == {
        "IdentityId": IDENTITY,
        "Logins": {"k": "v"},
        "CustomRoleArn": role,
    }
    assert seen[0].headers["x-amz-target"] == (
        "AWSCognitoIdentityService.GetCredentialsForIdentity"
    )
    assert creds == AWSCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_key=SECRET,
        session_token=TOKEN,
        expiration=1_700_003_600.0,
        identity_id=IDENTITY,
        role_arn=role,
    )
    assert creds.expiration_datetime == datetime(2023, 11, 14, 23, 13, 20, tzinfo=UTC)
    assert creds.seconds_left(1_700_000_000.0) == 3600


async def test_credentials_repr_masks_the_secrets() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(200, json=credentials_body()))
    creds = await client.get_credentials_for_identity(IDENTITY)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text
        assert TOKEN not in text
        assert "ASIAEXAMPLE" in text


async def test_linking_returns_the_identity_cognito_keeps() -> None:
    merged = "eu-west-1:99999999-2222-3333-4444-555555555555"
    client, _, _ = make_client(lambda r: httpx.Response(200, json=credentials_body(merged)))
    creds = await client.get_credentials_for_identity(IDENTITY, {"k": "v"})
    assert creds.identity_id == merged


@pytest.mark.parametrize(
    ("response", "operation", "expected"),
    [
        (
            error(400, "NotAuthorizedException", "Invalid login token. Token expired: 2 >= 1"),
            "creds",
            IdentityPoolAuthError,
        ),
        (
            error(
                400,
                "NotAuthorizedException",
                "Unauthenticated access is not supported for this identity pool.",
            ),
            "id",
            IdentityPoolConfigurationError,
        ),
        (
            error(
                400,
                "NotAuthorizedException",
                "Token is not from a supported provider of this identity pool.",
            ),
            "id",
            IdentityPoolConfigurationError,
        ),
        (
            error(
                400,
                "InvalidIdentityPoolConfigurationException",
                "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
            ),
            "creds",
            IdentityPoolConfigurationError,
        ),
        (
            error(400, "ResourceNotFoundException", "IdentityPool not found"),
            "id",
            IdentityPoolConfigurationError,
        ),
        (error(400, "InvalidParameterException", "bad"), "creds", IdentityPoolError),
        (error(400, "ResourceConflictException", "conflict"), "creds", IdentityPoolError),
    ],
)
async def test_errors_map_onto_the_identity_pool_branch(
    response: httpx.Response, operation: str, expected: type[Exception]
) -> None:
    client, seen, _ = make_client(lambda r: response)
    with pytest.raises(expected) as info:
        if operation == "id":
            await client.get_id(None)
        else:
            await client.get_credentials_for_identity(IDENTITY)
    assert type(info.value) is expected
    assert len(seen) == 1, "refusals are never retried"


async def test_unknown_identity_is_a_plain_identity_pool_error() -> None:
    client, _, _ = make_client(
        lambda r: error(400, "ResourceNotFoundException", f"Identity '{IDENTITY}' not found.")
    )
    with pytest.raises(IdentityPoolError) as info:
        await client.get_credentials_for_identity(IDENTITY)
    assert type(info.value) is IdentityPoolError
    assert info.value.error_type == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            400,
            content=b"not json",
            headers={"x-amzn-errortype": "NotAuthorizedException:http://internal.amazon.com/"},
        ),
        httpx.Response(
            400,
            json={
                "__type": "com.amazonaws.cognito.identity.model#NotAuthorizedException",
                "Message": "Invalid login token.",
            },
        ),
    ],
)
async def test_error_type_from_header_or_qualified_type(response: httpx.Response) -> None:
    client, _, _ = make_client(lambda r: response)
    with pytest.raises(IdentityPoolAuthError) as info:
        await client.get_credentials_for_identity(IDENTITY)
    assert info.value.error_type == "NotAuthorizedException"


async def test_messages_never_carry_a_token() -> None:
    jwt = "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0." + "a" * 300 + "." + "b" * 100
    client, _, _ = make_client(
        lambda r: error(400, "InvalidParameterException", f"Value '{jwt}' at 'logins' failed")
    )
    with pytest.raises(IdentityPoolError) as info:
        await client.get_credentials_for_identity(IDENTITY)
    assert "a" * 40 not in str(info.value)
    assert "[redacted]" in info.value.message


def sequence(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_throttling_is_retried_with_exponential_backoff() -> None:
    throttled = error(400, "TooManyRequestsException", "Rate exceeded")
    client, seen, clock = make_client(
        sequence(throttled, throttled, throttled, httpx.Response(200, json=credentials_body()))
    )
    creds = await client.get_credentials_for_identity(IDENTITY)
    assert creds.access_key_id == "ASIAEXAMPLE"
    assert len(seen) == 4
    assert clock.sleeps == [0.1, 0.2, 0.4]


async def test_backoff_has_full_jitter() -> None:
    throttled = error(400, "TooManyRequestsException")
    clock = FrozenClock(START)
    draws = iter([0.5, 0.25, 0.0])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return throttled if len(seen) < 4 else httpx.Response(200, json={"IdentityId": "x"})

    client = IdentityPoolClient(
        make_config(),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: next(draws),
    )
    await client.get_id()
    assert clock.sleeps == [0.05, 0.05, 0.0]


@pytest.mark.parametrize(
    "failure",
    [
        error(500, "InternalErrorException", "boom"),
        httpx.Response(502, content=b"<html>bad gateway</html>"),
        error(400, "TooManyRequestsException"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
)
async def test_transient_failures_are_retried_then_succeed(
    failure: httpx.Response | Exception,
) -> None:
    client, seen, _ = make_client(
        sequence(failure, httpx.Response(200, json={"IdentityId": IDENTITY}))
    )
    assert await client.get_id() == IDENTITY
    assert len(seen) == 2


async def test_retries_stop_at_the_deadline() -> None:
    client, seen, clock = make_client(
        lambda r: error(400, "TooManyRequestsException", "Rate exceeded"), deadline=3.0
    )
    start = clock.now
    with pytest.raises(IdentityPoolThrottledError) as info:
        await client.get_credentials_for_identity(IDENTITY)
    assert info.value.error_type == "TooManyRequestsException"
    assert "GetCredentialsForIdentity" in info.value.message
    assert clock.now - start < 3.0
    assert len(seen) == len(clock.sleeps) + 1 >= 3


async def test_timeouts_outlasting_the_deadline_are_a_throttled_error() -> None:
    client, _, _ = make_client(sequence(httpx.ReadTimeout("slow")), deadline=1.0)
    with pytest.raises(IdentityPoolThrottledError) as info:
        await client.get_id()
    assert info.value.error_type == "Timeout"


async def test_each_attempt_is_cut_short_by_the_deadline() -> None:
    clock = FrozenClock(START)
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        clock.now += 1.5
        return error(500, "InternalErrorException")

    client = IdentityPoolClient(
        make_config(http_timeout=5.0),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.0,
        deadline=4.0,
    )
    with pytest.raises(IdentityPoolThrottledError):
        await client.get_id()
    assert timeouts[0] == 4.0
    assert timeouts[1] == pytest.approx(2.5)
    assert all(t <= 4.0 for t in timeouts)


async def test_a_clock_that_never_moves_still_ends_the_retries() -> None:
    client, seen, _ = make_client(lambda r: error(500, "InternalErrorException"))
    client._sleep = _no_sleep
    with pytest.raises(IdentityPoolThrottledError):
        await client.get_id()
    assert len(seen) == 10


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.parametrize(
    "body",
    [
        {"IdentityId": IDENTITY},
        {"Credentials": {"AccessKeyId": "A", "SecretKey": "S"}},
        {
            "Credentials": {
                "AccessKeyId": "A",
                "SecretKey": "S",
                "SessionToken": "T",
                "Expiration": "soon",
            }
        },
        [],
    ],
)
async def test_unusable_answers_are_refused(body: Any) -> None:
    client, _, _ = make_client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(IdentityPoolError) as info:
        await client.get_credentials_for_identity(IDENTITY)
    assert info.value.error_type == "InvalidResponse"


async def test_get_id_without_identity_is_refused() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(200, json={}))
    with pytest.raises(IdentityPoolError, match="InvalidResponse"):
        await client.get_id()


def test_identity_pool_must_be_configured() -> None:
    with pytest.raises(IdentityPoolConfigurationError, match="COGNITO_IDENTITY_POOL_ID"):
        IdentityPoolClient(
            make_config(identity_pool_id=None), httpx.AsyncClient(), clock=FrozenClock(START)
        )


def test_endpoint_defaults_to_the_pool_region() -> None:
    config = make_config(identity_endpoint=None)
    assert config.identity_endpoint_url == "https://cognito-identity.eu-west-1.amazonaws.com/"


async def test_deadline_defaults_to_twice_the_http_timeout() -> None:
    clock = FrozenClock(START)
    client = IdentityPoolClient(
        make_config(http_timeout=1.5),
        httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: error(400, "TooManyRequestsException"))
        ),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 1.0,
    )
    with pytest.raises(IdentityPoolThrottledError):
        await client.get_id()
    # 0.1 + 0.2 + 0.4 + 0.8 s waited; the next 1.6 s would end past the 3 s deadline.
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8]
