"""The session model and the ``SessionStore`` protocol every store implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from .._cookies import cookie_name

__all__ = ["CookieSettings", "SessionData", "SessionStore"]


@dataclass(frozen=True, kw_only=True)
class SessionData:
    """What a signed-in browser session holds. Immutable: change it with :meth:`evolve`.

    ``session_id`` is a fresh random 128-bit value at every sign-in (server-side stores use it
    as their key). Times are epoch seconds. ``expires_at`` is when the ID/access tokens expire;
    ``refresh_expires_at`` bounds the absolute lifetime (never beyond the refresh token).
    The tokens are left out of ``repr()`` so that a logged session never shows them.
    """

    session_id: str
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    created_at: float
    last_seen: float
    refresh_expires_at: float | None = None
    identity_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def evolve(self, **changes: object) -> SessionData:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class CookieSettings:
    """Cookie name and flags. With ``secure`` the name gets the ``__Host-`` prefix."""

    name: str = "cognito_session"
    secure: bool = True
    samesite: str = "lax"
    max_age: int | None = None

    @property
    def cookie_name(self) -> str:
        return cookie_name(self.name, secure=self.secure)


@runtime_checkable
class SessionStore(Protocol):
    """Where sessions live. ``cookies`` is the request's cookie mapping; the ``Set-Cookie``
    header values a method returns are sent with the response as they are."""

    async def load(self, cookies: Mapping[str, str]) -> SessionData | None:
        """The session of this request, or ``None`` (absent, tampered, stale or deleted)."""
        ...

    async def save(self, session: SessionData, cookies: Mapping[str, str]) -> list[str]:
        """Store ``session``; return the ``Set-Cookie`` values (stale chunks expired)."""
        ...

    async def clear(self, cookies: Mapping[str, str]) -> list[str]:
        """Delete the session server-side; return ``Set-Cookie`` values expiring every chunk."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
