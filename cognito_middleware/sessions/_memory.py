"""Sessions in this process's memory: for one-process deployments, development and tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from .._cache import BoundedMap
from ._base import CookieSettings, SessionData
from ._common import SecretsArg
from ._server import ServerSideStore

__all__ = ["MemorySessionStore"]


class MemorySessionStore(ServerSideStore):
    """Keeps sessions in a bounded in-process map; the cookie carries only a signed id.

    At most ``max_entries`` sessions are kept; beyond that the least recently used is dropped
    (its user signs in again). Sessions do not survive a restart and are not shared between
    processes: run several workers with the Redis store instead.

    Example::

        store = MemorySessionStore(secret, max_entries=10_000)
    """

    def __init__(
        self,
        secrets: SecretsArg,
        *,
        cookie: CookieSettings | None = None,
        idle_timeout: float = 8 * 3600,
        absolute_timeout: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        max_entries: int = 10_000,
    ) -> None:
        super().__init__(
            secrets,
            cookie=cookie,
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            clock=clock,
        )
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._entries: BoundedMap[str, SessionData] = BoundedMap(max_entries, lru=True)

    @property
    def size(self) -> int:
        """How many sessions are held (a store is never falsy, even when empty)."""
        return len(self._entries)

    async def _get(self, session_id: str) -> SessionData | None:
        return self._entries.get(session_id)

    async def _put(self, session: SessionData) -> None:
        # A private copy of ``extra``: a caller mutating its dict must not change the store.
        self._entries.put(session.session_id, session.evolve(extra=dict(session.extra)))

    async def _delete(self, session_id: str) -> None:
        self._entries.pop(session_id)
