"""Build the store that ``CognitoConfig.session_store`` names."""

from __future__ import annotations

import time
from collections.abc import Callable

from .._config import CognitoConfig
from ._base import CookieSettings, SessionStore
from ._cookie import CookieSessionStore
from ._memory import MemorySessionStore

__all__ = ["build_session_store"]


def build_session_store(
    config: CognitoConfig, *, clock: Callable[[], float] = time.time
) -> SessionStore:
    """The session store for ``config``: ``cookie`` (default), ``memory``, or a Redis URL
    (``redis://``, ``rediss://``, ``unix://``; needs the ``[redis]`` extra).

    Example::

        store = build_session_store(CognitoConfig.from_env())
    """
    cookie = CookieSettings(name=config.cookie_name, secure=config.cookies_secure)
    secrets = config.session_secrets
    idle, absolute = config.idle_timeout, config.absolute_timeout
    kind = config.session_store
    if kind == "cookie":
        return CookieSessionStore(
            secrets, cookie=cookie, idle_timeout=idle, absolute_timeout=absolute, clock=clock
        )
    if kind == "memory":
        return MemorySessionStore(
            secrets, cookie=cookie, idle_timeout=idle, absolute_timeout=absolute, clock=clock
        )
    from ._redis_store import RedisSessionStore

    return RedisSessionStore.from_url(
        kind, secrets, cookie=cookie, idle_timeout=idle, absolute_timeout=absolute, clock=clock
    )
