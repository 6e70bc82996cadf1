"""``Set-Cookie`` values with the flags SECURITY.md asks for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http.cookies import SimpleCookie, _unquote

from starlette.requests import cookie_parser

__all__ = ["RequestCookies", "cookie_name", "expire_cookie", "set_cookie"]


class RequestCookies(Mapping[str, str]):
    """The request's cookies, read as Starlette's ``cookie_parser`` reads them, parsed only
    when first iterated.

    Looking up one name (what the session stores do) scans the header for that name alone:
    parsing a 4 KB header into a dictionary costs more than the rest of a request.
    """

    __slots__ = ("_parsed", "_raw")

    def __init__(self, raw: str | bytes) -> None:
        self._raw = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        self._parsed: dict[str, str] | None = None

    def _cookies(self) -> dict[str, str]:
        if self._parsed is None:
            self._parsed = cookie_parser(self._raw)
        return self._parsed

    def _find(self, name: str) -> str | None:
        """The value ``cookie_parser`` would give ``name``: that of the last ``;``-separated
        part whose text before its first ``=``, stripped, is ``name``. A part can hold the
        name as its key only at its start, so the search resumes after each part."""
        raw = self._raw
        value: str | None = None
        at = raw.find(name)
        while at >= 0:
            start = raw.rfind(";", 0, at) + 1
            stop = raw.find(";", at)
            if stop < 0:
                stop = len(raw)
            equals = raw.find("=", start, stop)
            if (
                equals >= at + len(name)
                and not raw[start:at].strip()
                and not raw[at + len(name) : equals].strip()
            ):
                value = raw[equals + 1 : stop].strip()
                if value[:1] == '"':
                    value = _unquote(value)
            at = raw.find(name, stop + 1)
        return value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if self._parsed is not None:
            return self._parsed.get(name, default)
        if not name:
            return self._cookies().get(name, default)
        value = self._find(name)
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._cookies())

    def __len__(self) -> int:
        return len(self._cookies())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


def cookie_name(name: str, *, secure: bool) -> str:
    """The name a cookie is sent under: with ``Secure``, the ``__Host-`` prefix, which browsers
    accept only for a cookie of this host, ``Path=/``, over HTTPS."""
    return f"__Host-{name}" if secure else name


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
