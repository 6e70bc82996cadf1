"""``Set-Cookie`` values with the flags SECURITY.md asks for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http.cookies import SimpleCookie

from starlette.requests import cookie_parser

__all__ = ["RequestCookies", "expire_cookie", "set_cookie"]


class RequestCookies(Mapping[str, str]):
    """The request's cookies, parsed (as Starlette parses them) only when first read.

    Most requests never need them parsed: a session cookie seen before is recognised from the
    raw header, and anonymous pages read no cookie at all.
    """

    __slots__ = ("_parsed", "_raw")

    def __init__(self, raw: str | bytes) -> None:
        self._raw = raw
        self._parsed: dict[str, str] | None = None

    def _cookies(self) -> dict[str, str]:
        if self._parsed is None:
            raw = self._raw
            self._parsed = cookie_parser(raw.decode("latin-1") if isinstance(raw, bytes) else raw)
            # Parsed cookies may be kept a long time (remembered sessions): not the header too.
            self._raw = ""
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._cookies()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cookies())

    def __len__(self) -> int:
        return len(self._cookies())

    def __contains__(self, name: object) -> bool:
        return name in self._cookies()


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
