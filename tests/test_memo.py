"""The bounded memo behind the per-request lookups."""

from __future__ import annotations

import pytest

from cognito_middleware._memo import Memo


def test_a_full_memo_forgets_its_oldest_entry() -> None:
    memo: Memo[str, int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("c", 3)
    assert memo.get("a") is None
    assert (memo.get("b"), memo.get("c")) == (2, 3)
    assert len(memo) == 2


def test_replacing_an_entry_evicts_nothing() -> None:
    memo: Memo[str, int] = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 10)
    assert dict(memo) == {"a": 10, "b": 2}


def test_a_memo_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Memo(0)
