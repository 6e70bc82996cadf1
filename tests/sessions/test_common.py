"""Timeout arithmetic and the bounded LRU shared by the stores."""

from __future__ import annotations

import math

import pytest

from cognito_middleware.sessions._common import LRU, deadline, is_alive

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


def test_lru_keeps_the_most_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert "b" not in lru
    assert lru.get("a") == 1
    assert lru.get("c") == 3
    assert len(lru) == 2
    lru.pop("a")
    lru.pop("missing")
    assert len(lru) == 1


def test_lru_of_size_zero_keeps_nothing() -> None:
    lru: LRU[str, int] = LRU(0)
    lru.put("a", 1)
    assert lru.get("a") is None
    with pytest.raises(ValueError):
        LRU(-1)
