"""BoundedMap and SingleFlight: the bounded maps and in-flight maps behind every cache."""

from __future__ import annotations

import asyncio
import gc

import pytest

from cognito_middleware._cache import BoundedMap, SingleFlight


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# BoundedMap --------------------------------------------------------------------------------


def test_the_bound_is_respected_and_the_oldest_insertion_goes_first() -> None:
    memo: BoundedMap[str, int] = BoundedMap(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a hit does not count as a use without lru
    memo.put("c", 3)
    assert memo.get("a") is None
    assert (memo.get("b"), memo.get("c")) == (2, 3)
    assert len(memo) == 2


def test_with_lru_the_least_recently_used_goes_first() -> None:
    memo: BoundedMap[str, int] = BoundedMap(2, lru=True)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1
    memo.put("c", 3)
    assert memo.get("b") is None
    assert (memo.get("a"), memo.get("c")) == (1, 3)


def test_replacing_an_entry_evicts_nothing_and_renews_its_place() -> None:
    memo: BoundedMap[str, int] = BoundedMap(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 10)
    assert len(memo) == 2
    memo.put("c", 3)
    assert memo.get("b") is None
    assert (memo.get("a"), memo.get("c")) == (10, 3)


def test_a_zero_bound_keeps_nothing_and_a_negative_one_is_refused() -> None:
    memo: BoundedMap[str, int] = BoundedMap(0)
    memo.put("a", 1)
    assert memo.get("a") is None and len(memo) == 0
    with pytest.raises(ValueError, match="maxsize"):
        BoundedMap(-1)


def test_only_a_map_with_a_clock_takes_expiries() -> None:
    memo: BoundedMap[str, int] = BoundedMap(2)
    with pytest.raises(ValueError, match="clock"):
        memo.put("a", 1, expires_at=0.0)
    assert memo.get("a") is None


@pytest.mark.parametrize("lru", [False, True])
def test_pop_and_clear(lru: bool) -> None:
    memo: BoundedMap[str, int] = BoundedMap(4, lru=lru)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.pop("a") == 1
    assert memo.pop("a") is None
    assert memo.get("a") is None
    memo.clear()
    assert len(memo) == 0 and memo.get("b") is None


def test_an_entry_expires_at_its_time() -> None:
    clock = Clock()
    memo: BoundedMap[str, int] = BoundedMap(4, clock=clock)
    memo.put("a", 1, expires_at=clock.now + 10)
    memo.put("forever", 2)
    clock.now += 9.5
    assert memo.get("a") == 1
    clock.now += 0.5
    assert memo.get("a") is None
    assert len(memo) == 1  # dropped when read
    clock.now += 10**9
    assert memo.get("forever") == 2


def test_ttl_is_the_default_lifetime_and_a_put_renews_it() -> None:
    clock = Clock()
    memo: BoundedMap[str, int] = BoundedMap(4, ttl=60, clock=clock)
    memo.put("a", 1)
    memo.put("b", 2, expires_at=clock.now + 5)
    clock.now += 30
    memo.put("a", 1)
    assert memo.get("b") is None
    clock.now += 59
    assert memo.get("a") == 1
    clock.now += 1
    assert memo.get("a") is None


def test_replacing_an_expiring_entry_without_expiry_makes_it_permanent() -> None:
    clock = Clock()
    memo: BoundedMap[str, int] = BoundedMap(4, clock=clock)
    memo.put("a", 1, expires_at=clock.now + 1)
    memo.put("a", 2)
    clock.now += 100
    assert memo.get("a") == 2


def test_a_nan_clock_reads_as_expired() -> None:
    clock = Clock()
    memo: BoundedMap[str, int] = BoundedMap(4, clock=clock)
    memo.put("a", 1, expires_at=clock.now + 10)
    clock.now = float("nan")
    assert memo.get("a") is None


def test_eviction_forgets_the_expiry_too() -> None:
    clock = Clock()
    memo: BoundedMap[str, int] = BoundedMap(1, clock=clock)
    memo.put("a", 1, expires_at=clock.now + 1)
    memo.put("b", 2)
    memo.put("a", 3)  # no expiry this time: the old one must not linger
    clock.now += 5
    assert memo.get("a") == 3


# SingleFlight -------------------------------------------------------------------------------


async def test_concurrent_callers_share_one_call() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    waiters = [asyncio.create_task(flights.run("k", work)) for _ in range(5)]
    await asyncio.sleep(0)
    assert "k" in flights and len(flights) == 1
    release.set()
    assert await asyncio.gather(*waiters) == [42] * 5
    assert calls == 1
    assert "k" not in flights and len(flights) == 0


async def test_different_keys_do_not_share() -> None:
    flights: SingleFlight[str, str] = SingleFlight()

    async def echo(value: str) -> str:
        await asyncio.sleep(0)
        return value

    results = await asyncio.gather(
        flights.run("a", lambda: echo("a")), flights.run("b", lambda: echo("b"))
    )
    assert list(results) == ["a", "b"]


async def test_the_exception_goes_to_every_waiter_and_the_key_is_freed() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    calls = 0

    async def fail() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        raise LookupError("gone")

    waiters = [asyncio.create_task(flights.run("k", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 3
    assert calls == 1

    async def succeed() -> int:
        return 7

    assert await flights.run("k", succeed) == 7


async def test_a_cancelled_waiter_does_not_cancel_the_call_for_the_others() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    finished = []

    async def work() -> int:
        await release.wait()
        finished.append(True)
        return 1

    first = asyncio.create_task(flights.run("k", work))
    second = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == 1
    assert finished == [True]


async def test_the_call_completes_even_when_every_waiter_left() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    done = asyncio.Event()

    async def work() -> int:
        await release.wait()
        done.set()
        raise LookupError("nobody is listening")

    only = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    release.set()
    await done.wait()
    for _ in range(3):  # the task's own callbacks run within a few loop iterations
        await asyncio.sleep(0)
    assert "k" not in flights
    # The error was retrieved: no "exception was never retrieved" report (warnings are errors).
    gc.collect()


async def test_a_call_that_ends_frees_the_key_before_its_waiters_resume() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    seen: list[bool] = []

    async def work() -> int:
        return 1

    async def caller() -> None:
        await flights.run("k", work)
        seen.append("k" in flights)

    await asyncio.gather(caller(), caller())
    assert seen == [False, False]
