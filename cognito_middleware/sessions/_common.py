"""Pieces every store shares: secrets, cookie flags, timeouts, a bounded LRU."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .._config import Secret
from .._cookies import expire_cookie, set_cookie
from ..exceptions import ConfigurationError
from ._base import CookieSettings, SessionData

__all__ = [
    "SecretsArg",
    "check_cookie_settings",
    "check_timeouts",
    "chunk_cookies_from",
    "deadline",
    "expire",
    "is_alive",
    "make_cookie",
    "normalise_secrets",
]

_MIN_SECRET_BYTES = 32
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_SAMESITE = ("lax", "strict", "none")

SecretsArg = Secret | str | Sequence[Secret | str]
"""Session secrets: the first seals (or signs), every one opens (or verifies)."""


def normalise_secrets(secrets: SecretsArg) -> tuple[Secret, ...]:
    """``secrets`` as a non-empty tuple of :class:`Secret` of at least 32 bytes each."""
    items: Sequence[Secret | str] = (
        (secrets,) if isinstance(secrets, Secret | str) else tuple(secrets)
    )
    result = tuple(s if isinstance(s, Secret) else Secret(s) for s in items)
    if not result:
        raise ConfigurationError("session_secret", "at least one secret is required")
    if any(len(s.get().encode()) < _MIN_SECRET_BYTES for s in result):
        raise ConfigurationError(
            "session_secret", f"each secret must be at least {_MIN_SECRET_BYTES} bytes"
        )
    return result


def check_cookie_settings(cookie: CookieSettings) -> None:
    """Refuse names a browser would mangle and flag combinations it would reject."""
    prefixed = cookie.name.lower().startswith(("__host-", "__secure-"))
    if prefixed or not _TOKEN.fullmatch(cookie.name):
        raise ConfigurationError(
            "cookie_name", "must be a plain cookie name (the __Host- prefix is added for you)"
        )
    if cookie.samesite.lower() not in _SAMESITE:
        raise ConfigurationError("cookie_samesite", "must be 'lax', 'strict' or 'none'")
    if cookie.samesite.lower() == "none" and not cookie.secure:
        raise ConfigurationError("cookie_samesite", "'none' requires secure cookies")
    if cookie.max_age is not None and cookie.max_age <= 0:
        raise ConfigurationError("cookie_max_age", "must be positive (or None)")


def check_timeouts(idle_timeout: float, absolute_timeout: float) -> None:
    if not idle_timeout > 0:
        raise ConfigurationError("idle_timeout", "must be positive")
    if not absolute_timeout > 0:
        raise ConfigurationError("absolute_timeout", "must be positive")


def is_alive(session: SessionData, now: float, idle: float, absolute: float) -> bool:
    """Whether ``session`` is within its idle and absolute timeouts and refresh lifetime.

    Written as ``not (... <= ...)``-style positive checks so that a NaN time fails closed.
    """
    if not now - session.last_seen <= idle:
        return False
    if not now - session.created_at <= absolute:
        return False
    return session.refresh_expires_at is None or now < session.refresh_expires_at


def deadline(session: SessionData, idle: float, absolute: float) -> float:
    """The epoch time at which ``session`` dies unless it is touched again."""
    end = min(session.last_seen + idle, session.created_at + absolute)
    if session.refresh_expires_at is not None:
        end = min(end, session.refresh_expires_at)
    return end


def chunk_cookies_from(cookies: Mapping[str, str], name: str, start: int) -> list[str]:
    """Names of the request's chunk cookies ``name-<i>`` with ``i >= start``."""
    prefix = f"{name}-"
    found = []
    for key in cookies:
        if key.startswith(prefix):
            suffix = key[len(prefix) :]
            if suffix.isascii() and suffix.isdigit() and len(suffix) <= 4 and int(suffix) >= start:
                found.append(key)
    return found


def make_cookie(cookie: CookieSettings, name: str, value: str) -> str:
    return set_cookie(
        name, value, secure=cookie.secure, max_age=cookie.max_age, samesite=cookie.samesite
    )


def expire(cookie: CookieSettings, name: str) -> str:
    return expire_cookie(name, secure=cookie.secure)
