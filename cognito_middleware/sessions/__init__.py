"""Session stores: encrypted cookies (default), memory, Redis.

Every store implements :class:`SessionStore`; :func:`build_session_store` picks one from
``CognitoConfig.session_store``. The Redis store imports ``redis`` only when it is built.
"""

from __future__ import annotations

from ..exceptions import SessionStoreUnavailableError, SessionTooLargeError
from ._base import CookieSettings, SessionData, SessionStore
from ._cookie import CookieSessionStore
from ._factory import build_session_store
from ._memory import MemorySessionStore
from ._redis_store import RedisSessionStore

__all__ = [
    "CookieSessionStore",
    "CookieSettings",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionData",
    "SessionStore",
    "SessionStoreUnavailableError",
    "SessionTooLargeError",
    "build_session_store",
]
