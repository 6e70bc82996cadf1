"""What the server-side stores share: a signed opaque session id in one cookie."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from itsdangerous import BadSignature, Signer

from .._cache import BoundedMap
from ._base import CookieSettings, SessionData
from ._common import (
    SecretsArg,
    check_cookie_settings,
    check_timeouts,
    chunk_cookies_from,
    expire,
    is_alive,
    make_cookie,
    normalise_secrets,
)

__all__ = ["ServerSideStore"]

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,128}")
"""At least 22 base64url characters (128 bits from ``secrets.token_urlsafe(16)``) or 32 hex."""
_MAX_COOKIE = 256


def check_session_id(session_id: str) -> None:
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(
            "session_id must be a random value of at least 128 bits, "
            "e.g. secrets.token_urlsafe(16) or secrets.token_hex(16)"
        )


class ServerSideStore(ABC):
    """Sessions kept on the server under their ``session_id``; the cookie carries only that
    id, signed (itsdangerous, HMAC-SHA256) so forged or guessed ids are refused without a
    lookup. Subclasses provide ``_get``, ``_put`` and ``_delete``."""

    def __init__(
        self,
        secrets: SecretsArg,
        *,
        cookie: CookieSettings | None,
        idle_timeout: float,
        absolute_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._cookie = cookie or CookieSettings()
        check_cookie_settings(self._cookie)
        check_timeouts(idle_timeout, absolute_timeout)
        self._secrets = normalise_secrets(secrets)
        self._name = self._cookie.cookie_name
        # itsdangerous signs with the last key and verifies with all of them. The cookie name
        # is in the salt: a signed id is valid only under the name it was issued for.
        self._signer = Signer(
            [s.get() for s in reversed(self._secrets)],
            salt=f"cognito-middleware.session-id:{self._name}",
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )
        self._idle = idle_timeout
        self._absolute = absolute_timeout
        self._clock = clock
        # A signature, once verified, stays valid for this store's keys: skip the HMAC on the
        # hot path. The entry itself is still looked up, so deletion is always honoured.
        self._verified: BoundedMap[str, str] = BoundedMap(1024, lru=True)

    @property
    def cookie_name(self) -> str:
        """The name of the cookie that carries the signed session id."""
        return self._name

    def _session_id(self, cookies: Mapping[str, str]) -> str | None:
        value = cookies.get(self._name)
        if not value or len(value) > _MAX_COOKIE:
            return None
        session_id = self._verified.get(value)
        if session_id is not None:
            return session_id
        try:
            session_id = self._signer.unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        if not _SESSION_ID.fullmatch(session_id):
            return None
        self._verified.put(value, session_id)
        return session_id

    @abstractmethod
    async def _get(self, session_id: str) -> SessionData | None: ...

    @abstractmethod
    async def _put(self, session: SessionData) -> None: ...

    @abstractmethod
    async def _delete(self, session_id: str) -> None: ...

    async def load(self, cookies: Mapping[str, str]) -> SessionData | None:
        """The session whose signed id the request carries, or ``None`` if the id is absent,
        forged or unknown, or the session is past its idle or absolute timeout."""
        session_id = self._session_id(cookies)
        if session_id is None:
            return None
        session = await self._get(session_id)
        if session is None or session.session_id != session_id:
            return None
        if not is_alive(session, self._clock(), self._idle, self._absolute):
            await self._delete(session_id)
            return None
        return session

    async def save(self, session: SessionData, cookies: Mapping[str, str]) -> list[str]:
        """Store ``session`` under its ``session_id``. If the request carried another id (a
        new sign-in), that entry is deleted and the cookie gets the new id: no fixation."""
        check_session_id(session.session_id)
        previous = self._session_id(cookies)
        if previous is not None and previous != session.session_id:
            await self._delete(previous)
        await self._put(session)
        signed = self._signer.sign(session.session_id).decode("ascii")
        return [
            make_cookie(self._cookie, self._name, signed),
            *(expire(self._cookie, n) for n in chunk_cookies_from(cookies, self._name, 0)),
        ]

    async def clear(self, cookies: Mapping[str, str]) -> list[str]:
        """Delete the session server-side and expire its cookie."""
        session_id = self._session_id(cookies)
        if session_id is not None:
            await self._delete(session_id)
        return [
            expire(self._cookie, self._name),
            *(expire(self._cookie, n) for n in chunk_cookies_from(cookies, self._name, 0)),
        ]

    async def aclose(self) -> None:  # noqa: B027 - nothing to release unless overridden
        """Release connections (nothing to release by default)."""
