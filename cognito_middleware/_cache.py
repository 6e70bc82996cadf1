"""The two pieces of shared mutable state every cache in the package is built from.

``BoundedMap`` holds at most ``maxsize`` entries, dropping the oldest (by insertion, or by use
with ``lru=True``) when full; an entry may carry an expiry, checked against an injectable clock
when it is read. ``SingleFlight`` lets concurrent callers for one key share one asyncio task.

Both are for one event loop: they are not thread-safe.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["BoundedMap", "SingleFlight"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class BoundedMap(Generic[K, V]):
    """A map of at most ``maxsize`` entries; ``None`` is never a value (it means absent).

    Without ``lru`` the oldest insertion goes first; with it a hit also moves the entry to the
    back. Entries expire only in a map given a ``clock`` or a ``ttl`` (``time.time`` is then the
    default clock): ``ttl`` is the lifetime of entries put without an explicit ``expires_at``,
    and expired entries read as absent and are dropped when read. A map with neither ``lru`` nor
    expiry answers :meth:`get` with a plain dictionary lookup. ``maxsize`` 0 keeps nothing::

        memo: BoundedMap[str, Claims] = BoundedMap(10_000, lru=True, clock=clock)
        memo.put(token, claims, expires_at=claims["exp"])
    """

    def __init__(
        self,
        maxsize: int,
        *,
        lru: bool = False,
        ttl: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must not be negative")
        self.maxsize = maxsize
        self._lru = lru
        self._ttl = ttl
        self._expiring = ttl is not None or clock is not None
        self._clock = clock or time.time
        self._data: OrderedDict[K, V] = OrderedDict()
        # Kept apart so that entries without expiry pay nothing for it on a hit.
        self._expires: dict[K, float] = {}
        if not lru and not self._expiring:
            # Some of these maps are read on every request: skip a Python-level call.
            self.get = self._data.get  # type: ignore[method-assign, assignment]

    def get(self, key: K) -> V | None:
        """The live value under ``key``, or ``None``."""
        value = self._data.get(key)
        if value is None:
            return None
        if self._expires:
            at = self._expires.get(key)
            # Written as a positive check so that a NaN clock reads as expired.
            if at is not None and not self._clock() < at:
                del self._data[key]
                del self._expires[key]
                return None
        if self._lru:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V, *, expires_at: float | None = None) -> None:
        """Store ``value`` under ``key`` (live until ``expires_at``, epoch seconds, if given),
        dropping the oldest entry when the map is full."""
        if expires_at is not None and not self._expiring:
            raise ValueError("this map has no clock: its entries cannot expire")
        if self.maxsize == 0:
            return
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if expires_at is None and self._ttl is not None:
            expires_at = self._clock() + self._ttl
        if expires_at is not None:
            self._expires[key] = expires_at
        elif self._expires:
            self._expires.pop(key, None)
        while len(data) > self.maxsize:
            old, _ = data.popitem(last=False)
            if self._expires:
                self._expires.pop(old, None)

    def pop(self, key: K) -> V | None:
        """Remove ``key``; its value (expired or not), or ``None``."""
        if self._expires:
            self._expires.pop(key, None)
        return self._data.pop(key, None)

    def clear(self) -> None:
        """Remove every entry."""
        self._data.clear()
        self._expires.clear()

    def __len__(self) -> int:
        return len(self._data)


class SingleFlight(Generic[K, T]):
    """Concurrent calls for one key share one asyncio task::

        flights: SingleFlight[str, Credentials] = SingleFlight()
        creds = await flights.run(key, lambda: fetch(key))

    The first caller's ``factory`` runs in a task of its own; later callers for the same key
    wait for that task. Its result, or its exception, goes to every waiter. A waiter that is
    cancelled stops waiting, but the task runs on for the others (and for what it stores on its
    way); it is cancelled only by cancelling it directly. The key is free again as soon as the
    task ends, before any waiter resumes, so the next call starts afresh.
    """

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[T]] = {}

    async def run(self, key: K, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The result of the task in flight for ``key``, started with ``factory`` if none is."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(factory())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        return await asyncio.shield(task)

    def __contains__(self, key: object) -> bool:
        return key in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, key: K, task: asyncio.Task[T]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            # Retrieved here so that a flight whose waiters all left is not reported as an
            # exception never retrieved.
            task.exception()
