"""The refresh windows of identity-pool credentials, driven by a fake clock."""

from __future__ import annotations

import logging

import pytest

from cognito_middleware._credentials.policy import RefreshPolicy
from cognito_middleware._identity_pool import AWSCredentials
from cognito_middleware.exceptions import (
    CognitoUnavailableError,
    IdentityPoolAuthError,
    IdentityPoolThrottledError,
)

NOW = 1_700_000_000.0
ADVISORY = 15 * 60
MANDATORY = 5 * 60


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def creds(expiration: float, key: str = "ASIAOLD") -> AWSCredentials:
    return AWSCredentials(
        access_key_id=key,
        secret_key="secret",
        session_token="token",
        expiration=expiration,
        identity_id="eu-west-1:guest",
    )


class Refresher:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    async def __call__(self) -> AWSCredentials:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return creds(NOW + 3600, "ASIANEW")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy(clock: Clock) -> RefreshPolicy:
    return RefreshPolicy(advisory=ADVISORY, mandatory=MANDATORY, clock=clock)


async def test_nothing_cached_waits_for_the_refresh(policy: RefreshPolicy) -> None:
    refresh = Refresher()
    assert (await policy.current(None, refresh)).access_key_id == "ASIANEW"
    assert refresh.calls == 1


async def test_nothing_cached_propagates_the_error(policy: RefreshPolicy) -> None:
    with pytest.raises(IdentityPoolThrottledError):
        await policy.current(None, Refresher(IdentityPoolThrottledError("Throttling", "slow")))


async def test_outside_the_advisory_window_the_cached_snapshot_is_used(
    policy: RefreshPolicy, clock: Clock
) -> None:
    cached = creds(NOW + ADVISORY + 1)
    refresh = Refresher()
    assert await policy.current(cached, refresh) is cached
    assert refresh.calls == 0


async def test_in_the_advisory_window_a_refresh_is_tried(
    policy: RefreshPolicy, clock: Clock
) -> None:
    cached = creds(NOW + ADVISORY)
    refresh = Refresher()
    assert (await policy.current(cached, refresh)).access_key_id == "ASIANEW"
    assert refresh.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        IdentityPoolThrottledError("Throttling", "slow"),
        CognitoUnavailableError("identity pool", "down"),
    ],
)
async def test_a_failed_advisory_refresh_keeps_the_cached_snapshot(
    policy: RefreshPolicy, clock: Clock, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    cached = creds(NOW + 10 * 60)
    with caplog.at_level(logging.WARNING, "cognito_middleware._credentials.helpers"):
        assert await policy.current(cached, Refresher(error)) is cached
    assert "advisory refresh of AWS credentials failed" in caplog.text
    assert "secret" not in caplog.text


async def test_an_advisory_refresh_already_running_is_not_waited_for(
    policy: RefreshPolicy,
) -> None:
    cached = creds(NOW + 10 * 60)
    refresh = Refresher()
    assert await policy.current(cached, refresh, refreshing=True) is cached
    assert refresh.calls == 0


async def test_in_the_mandatory_window_the_refresh_is_waited_for(
    policy: RefreshPolicy, clock: Clock
) -> None:
    cached = creds(NOW + 10 * 60)
    clock.now += 5 * 60  # exactly the mandatory window now
    refresh = Refresher()
    assert (await policy.current(cached, refresh, refreshing=True)).access_key_id == "ASIANEW"
    assert refresh.calls == 1


async def test_in_the_mandatory_window_errors_propagate(policy: RefreshPolicy) -> None:
    cached = creds(NOW + 60)
    with pytest.raises(IdentityPoolThrottledError):
        await policy.current(cached, Refresher(IdentityPoolThrottledError("Throttling", "x")))


async def test_expired_credentials_are_never_handed_out(policy: RefreshPolicy) -> None:
    with pytest.raises(IdentityPoolAuthError):
        await policy.current(
            creds(NOW - 1), Refresher(IdentityPoolAuthError("NotAuthorizedException", "no"))
        )


async def test_other_errors_are_not_swallowed_in_the_advisory_window(
    policy: RefreshPolicy,
) -> None:
    with pytest.raises(RuntimeError):
        await policy.current(creds(NOW + 10 * 60), Refresher(RuntimeError("bug")))


async def test_a_nan_clock_refreshes(clock: Clock, policy: RefreshPolicy) -> None:
    clock.now = float("nan")
    refresh = Refresher()
    assert (await policy.current(creds(NOW + 3600), refresh)).access_key_id == "ASIANEW"


def test_the_windows_must_nest() -> None:
    with pytest.raises(ValueError, match="mandatory_refresh"):
        RefreshPolicy(advisory=60, mandatory=120)
    with pytest.raises(ValueError, match="mandatory_refresh"):
        RefreshPolicy(advisory=60, mandatory=-1)
