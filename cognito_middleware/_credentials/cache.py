"""Where credentials are kept between requests: the :class:`CredentialCache` protocol and its
bounded in-process implementation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .._cache import BoundedMap
from .._identity_pool import AWSCredentials

__all__ = ["CredentialCache", "MemoryCredentialCache", "cache_key"]


@runtime_checkable
class CredentialCache(Protocol):
    """Where credentials are kept between requests, keyed by an opaque string built from the
    identity id, the role and whether the identity is signed in.

    Implementations must keep credentials server-side only and may drop entries at any time.
    """

    async def get(self, key: str) -> AWSCredentials | None:
        """The credentials stored under ``key``, or ``None`` (absent or already expired)."""
        ...

    async def set(self, key: str, credentials: AWSCredentials) -> None:
        """Store ``credentials`` under ``key`` (until they expire, at most)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        ...


class MemoryCredentialCache:
    """A bounded in-process :class:`CredentialCache` (least recently used entries go first).

    cache = MemoryCredentialCache(max_entries=50_000)
    service = CredentialService(config, http, cache=cache)
    """

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._entries: BoundedMap[str, AWSCredentials] = BoundedMap(
            max_entries, lru=True, clock=clock
        )

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> AWSCredentials | None:
        return self._entries.get(key)

    async def set(self, key: str, credentials: AWSCredentials) -> None:
        self._entries.put(key, credentials, expires_at=credentials.expiration)

    async def delete(self, key: str) -> None:
        self._entries.pop(key)


def cache_key(identity_id: str, role_arn: str | None, *, authenticated: bool) -> str:
    """The cache key of an identity's credentials for ``role_arn``."""
    # A guest identity that gets linked may keep its id; the flag keeps its unauthenticated
    # credentials from ever being served to the signed-in user (or the other way round).
    return f"{'auth' if authenticated else 'guest'}|{identity_id}|{role_arn or ''}"
