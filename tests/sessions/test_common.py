"""Timeout arithmetic shared by the stores."""

from __future__ import annotations

import math

import pytest

from cognito_middleware.sessions._common import deadline, is_alive

from .helpers import NOW, make_session


@pytest.mark.parametrize("field", ["last_seen", "created_at", "refresh_expires_at"])
def test_a_nan_time_fails_closed(field: str) -> None:
    session = make_session(NOW).evolve(**{field: math.nan})
    assert not is_alive(session, NOW, 3600, 86400)


def test_deadline_is_the_earliest_limit() -> None:
    session = make_session(NOW, refresh_expires_at=None)
    assert deadline(session, 3600, 86400) == NOW + 3600
    assert deadline(session.evolve(last_seen=NOW + 86000), 3600, 86400) == NOW + 86400
    assert deadline(session.evolve(refresh_expires_at=NOW + 60), 3600, 86400) == NOW + 60
