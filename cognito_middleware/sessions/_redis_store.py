"""Sessions in Redis, sealed at rest: for several processes or machines.

Needs the ``redis`` package (``pip install 'cognito-middleware[redis]'``), imported only when a
store is built from a URL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .._seal import Sealer
from ..exceptions import SessionStoreUnavailableError
from ._base import CookieSettings, SessionData
from ._codec import decode_session, encode_session
from ._common import SecretsArg, deadline
from ._server import ServerSideStore

__all__ = ["RedisSessionStore"]

_CONNECT_TIMEOUT = 5.0
T = TypeVar("T")


def _outage_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return (OSError, TimeoutError)
    return (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class RedisClient(Protocol):
    """The part of ``redis.asyncio.Redis`` the store uses."""

    def get(self, name: str, /) -> Awaitable[Any]: ...

    def set(self, name: str, value: str, /, *, px: int) -> Awaitable[Any]: ...

    def delete(self, *names: str) -> Awaitable[Any]: ...

    def aclose(self) -> Awaitable[None]: ...


class RedisSessionStore(ServerSideStore):
    """Keeps sessions in Redis under ``<key_prefix><session_id>`` with a TTL that ends with
    the session's idle, absolute or refresh-token lifetime; the cookie carries only a signed id.

    Entries are sealed with AES-GCM (key derived from the session secrets, the Redis key as
    associated data), so tokens are not readable at rest and an entry cannot be moved to
    another key. Sign-out deletes the entry. When Redis cannot be reached (or times out) the
    store raises :class:`~cognito_middleware.exceptions.SessionStoreUnavailableError`.

    Example::

        store = RedisSessionStore.from_url("redis://localhost:6379/0", secrets)
        ...
        await store.aclose()
    """

    def __init__(
        self,
        client: RedisClient,
        secrets: SecretsArg,
        *,
        cookie: CookieSettings | None = None,
        idle_timeout: float = 8 * 3600,
        absolute_timeout: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        key_prefix: str = "cognito-middleware:session:",
        owns_client: bool = False,
    ) -> None:
        super().__init__(
            secrets,
            cookie=cookie,
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            clock=clock,
        )
        self._client = client
        self._owns_client = owns_client
        self._prefix = key_prefix
        self._sealer = Sealer(self._secrets, "session-redis")
        self._outage = _outage_errors()

    @classmethod
    def from_url(
        cls,
        url: str,
        secrets: SecretsArg,
        *,
        cookie: CookieSettings | None = None,
        idle_timeout: float = 8 * 3600,
        absolute_timeout: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        key_prefix: str = "cognito-middleware:session:",
    ) -> RedisSessionStore:
        """A store with its own connection pool to ``url`` (``redis://``, ``rediss://`` or
        ``unix://``), closed by :meth:`aclose`. No connection is made until the first use."""
        try:
            from redis import asyncio as aioredis
        except ImportError as exc:
            raise ImportError(
                "the Redis session store needs the 'redis' package: "
                "pip install 'cognito-middleware[redis]'"
            ) from exc
        client: RedisClient = aioredis.from_url(
            url,
            socket_timeout=_CONNECT_TIMEOUT,
            socket_connect_timeout=_CONNECT_TIMEOUT,
        )
        return cls(
            client,
            secrets,
            cookie=cookie,
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            clock=clock,
            key_prefix=key_prefix,
            owns_client=True,
        )

    def _key(self, session_id: str) -> str:
        return self._prefix + session_id

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except self._outage as exc:
            raise SessionStoreUnavailableError(type(exc).__name__) from exc

    async def _get(self, session_id: str) -> SessionData | None:
        key = self._key(session_id)
        raw = await self._call(self._client.get(key))
        if raw is None:
            return None
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        plain = self._sealer.open(text, key.encode())
        if plain is None:
            return None
        try:
            return decode_session(plain)
        except ValueError:
            return None

    async def _put(self, session: SessionData) -> None:
        key = self._key(session.session_id)
        ttl = deadline(session, self._idle, self._absolute) - self._clock()
        if not ttl > 0:
            await self._call(self._client.delete(key))
            return
        sealed = self._sealer.seal(encode_session(session), key.encode())
        await self._call(self._client.set(key, sealed, px=math.ceil(ttl * 1000)))

    async def _delete(self, session_id: str) -> None:
        await self._call(self._client.delete(self._key(session_id)))

    async def aclose(self) -> None:
        """Close the connection pool if this store created it (:meth:`from_url`)."""
        if self._owns_client:
            await self._client.aclose()
