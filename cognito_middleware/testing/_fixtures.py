"""The pytest fixtures of the plugin (``pytest_plugins = ["cognito_middleware.testing"]``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ..local import LocalCognito, demo_seed
from ..local.keys import SigningKey
from ._clock import FrozenClock

__all__ = [
    "frozen_clock",
    "local_cognito",
    "local_cognito_app_url",
    "local_cognito_clock",
    "local_cognito_signing_keys",
]


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A :class:`FrozenClock` standing at the time the test started."""
    return FrozenClock()


@pytest.fixture
def local_cognito_app_url() -> str:
    """The app URL the ``local_cognito`` fixture registers as callback and sign-out URL."""
    return "http://127.0.0.1:8000"


@pytest.fixture
def local_cognito_clock() -> Callable[[], float] | None:
    """The clock of the ``local_cognito`` fixture: ``None`` for real time. Override it to put
    the emulator on the app's clock::

        @pytest.fixture
        def local_cognito_clock(frozen_clock):
            return frozen_clock
    """
    return None


@pytest.fixture(scope="session")
def local_cognito_signing_keys() -> tuple[SigningKey, SigningKey]:
    """RSA keys generated once per test session and reused by every ``local_cognito``."""
    return SigningKey.generate(), SigningKey.generate()


@pytest.fixture
def local_cognito(
    local_cognito_app_url: str,
    local_cognito_signing_keys: tuple[SigningKey, SigningKey],
    local_cognito_clock: Callable[[], float] | None,
) -> Iterator[LocalCognito]:
    """A demo-seeded local Cognito served on a free port for the duration of one test."""
    cognito = LocalCognito(
        demo_seed(app_url=local_cognito_app_url),
        signing_keys=local_cognito_signing_keys,
        clock=local_cognito_clock,
    )
    with cognito.serve():
        yield cognito
