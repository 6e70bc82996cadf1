"""``Set-Cookie`` values with the flags SECURITY.md asks for."""

from __future__ import annotations

from http.cookies import SimpleCookie

__all__ = ["expire_cookie", "set_cookie"]


def set_cookie(
    name: str, value: str, *, secure: bool, max_age: int | None = None, samesite: str = "lax"
) -> str:
    """A ``Set-Cookie`` value: ``HttpOnly``, ``SameSite``, ``Path=/`` and ``Secure`` when asked."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = samesite
    if secure:
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString()


def expire_cookie(name: str, *, secure: bool) -> str:
    """A ``Set-Cookie`` value that deletes the cookie ``name``."""
    expired = "; expires=Thu, 01 Jan 1970 00:00:00 GMT"
    return set_cookie(name, "", secure=secure, max_age=0) + expired
