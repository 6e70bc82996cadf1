"""The default store: the whole session sealed into the browser's cookies.

The session is compacted (:mod:`.codec`), sealed with AES-GCM under a key derived from the
first session secret, base64url-encoded and cut into chunks, each sent as its own cookie
``<name>-0``, ``<name>-1``, ... so that no cookie reaches the browsers' 4096-byte limit.
The first chunk starts with the chunk count (``"2.<data>"``); the count and the cookie name are
the associated data of the seal, and the ciphertext covers the concatenation of every chunk.
So a chunk that is missing, altered, reordered, left over from an older session or borrowed
from another user's cookie makes the whole session fail to open: the request is anonymous.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from .._cache import BoundedMap
from .._seal import Sealer
from ..exceptions import SessionTooLargeError
from ._base import CookieSettings, SessionData
from ._codec import decode_session, encode_session
from ._common import (
    SecretsArg,
    check_cookie_settings,
    check_timeouts,
    chunk_cookies_from,
    deadline,
    expire,
    is_alive,
    make_cookie,
    normalise_secrets,
)

__all__ = ["MAX_CHUNKS", "MAX_COOKIE_BYTES", "CookieSessionStore"]

MAX_COOKIE_BYTES = 4000
"""``name=value`` of each chunk stays under this; with the flags, under 4096 bytes."""
MAX_CHUNKS = 5
"""Beyond ~20 KB of cookies most servers and proxies refuse the request headers anyway."""

_COUNTS = {str(n): n for n in range(1, MAX_CHUNKS + 1)}
_NONCE_AND_TAG = 12 + 16


def _fingerprint(values: tuple[str, ...]) -> str:
    """The last 32 characters of the sealed text: 24 bytes that end with its 16-byte tag."""
    last = values[-1]
    return last[-32:] if len(last) >= 32 else "".join(values)[-32:]


class CookieSessionStore:
    """Keeps the session, encrypted and authenticated, in the browser's cookies.

    Stateless: any process with one of the secrets opens the cookie. Loading an unchanged
    cookie is a dictionary lookup: the session decoded from each exact cookie value is kept in
    a small LRU (the value was authenticated when it was first opened), and the timeouts are
    checked again on every load.

    Example::

        store = CookieSessionStore([new_secret, old_secret], cookie=CookieSettings(secure=True))
        set_cookies = await store.save(session, request.cookies)
        session = await store.load(request.cookies)
    """

    def __init__(
        self,
        secrets: SecretsArg,
        *,
        cookie: CookieSettings | None = None,
        idle_timeout: float = 8 * 3600,
        absolute_timeout: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        cache_size: int = 1024,
    ) -> None:
        self._cookie = cookie or CookieSettings()
        check_cookie_settings(self._cookie)
        check_timeouts(idle_timeout, absolute_timeout)
        self._sealer = Sealer(normalise_secrets(secrets), "session-cookie")
        self._name = self._cookie.cookie_name
        self._names = tuple(f"{self._name}-{i}" for i in range(MAX_CHUNKS))
        longest_name = max(len(n) for n in self._names)
        self._chunk_size = MAX_COOKIE_BYTES - 1 - longest_name - len("=") - len(f"{MAX_CHUNKS}.")
        self._idle = idle_timeout
        self._absolute = absolute_timeout
        self._clock = clock
        # Keyed by the tail of the sealed text (it holds the AES-GCM tag, unique per seal):
        # hashing a 4 KB cookie value on every request would cost more than the lookup saves.
        # A hit counts only if the whole value is the one that was opened.
        self._opened: BoundedMap[str, tuple[tuple[str, ...], SessionData]] = BoundedMap(
            cache_size, lru=True
        )

    @property
    def cookie_names(self) -> tuple[str, ...]:
        """The name of every chunk cookie this store may write, in order."""
        return self._names

    def _associated(self, count: int) -> bytes:
        return f"{self._name}\x00{count}".encode()

    def _values(self, cookies: Mapping[str, str]) -> tuple[str, ...] | None:
        first = cookies.get(self._names[0])
        if first is None:
            return None
        count = _COUNTS.get(first.partition(".")[0])
        if count is None:
            return None
        if count == 1:
            return (first,)
        values = [first]
        for name in self._names[1:count]:
            value = cookies.get(name)
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    def _open(self, values: tuple[str, ...]) -> SessionData | None:
        # The sealer opens only the exact text it issued: any altered character fails.
        text = values[0].partition(".")[2] + "".join(values[1:])
        plain = self._sealer.open(text, self._associated(len(values)))
        if plain is None:
            return None
        try:
            return decode_session(plain)
        except ValueError:
            return None

    async def load(self, cookies: Mapping[str, str]) -> SessionData | None:
        """The session in the request's chunk cookies, or ``None`` if absent, not intact,
        sealed with an unknown secret, or past its idle or absolute timeout."""
        values = self._values(cookies)
        if values is None:
            return None
        key = _fingerprint(values)
        hit = self._opened.get(key)
        if hit is not None and hit[0] == values:
            session = hit[1]
        else:
            opened = self._open(values)
            if opened is None:
                return None
            session = opened
            self._opened.put(key, (values, session))
        if not is_alive(session, self._clock(), self._idle, self._absolute):
            return None
        return session

    def live_until(self, session: SessionData) -> float:
        """The epoch time at which ``session`` (opened by this store) times out unless it is
        touched again."""
        return deadline(session, self._idle, self._absolute)

    def seal(self, session: SessionData) -> tuple[str, ...]:
        """The chunk cookie values of ``session`` (what :meth:`save` sends), in order."""
        plain = encode_session(session)
        size = self._chunk_size
        length = math.ceil((len(plain) + _NONCE_AND_TAG) * 4 / 3)
        # The count is sealed in, so it is predicted from the sealed length; the seal is
        # redone (once: its length does not depend on the count) if the prediction was off.
        count = max(1, math.ceil(length / size))
        while True:
            if count > MAX_CHUNKS:
                raise SessionTooLargeError(length, MAX_CHUNKS)
            text = self._sealer.seal(plain, self._associated(count))
            chunks = [text[i : i + size] for i in range(0, len(text), size)]
            if len(chunks) == count:
                break
            count, length = len(chunks), len(text)
        chunks[0] = f"{count}.{chunks[0]}"
        return tuple(chunks)

    async def save(self, session: SessionData, cookies: Mapping[str, str]) -> list[str]:
        """Seal ``session`` into chunk cookies; expire chunks the new value no longer uses.

        Raises :class:`SessionTooLargeError` if it needs more than :data:`MAX_CHUNKS` cookies.
        """
        values = self.seal(session)
        self._opened.put(_fingerprint(values), (values, session))
        names = self._names[: len(values)]
        headers = [make_cookie(self._cookie, n, v) for n, v in zip(names, values, strict=True)]
        headers.extend(
            expire(self._cookie, n) for n in chunk_cookies_from(cookies, self._name, len(values))
        )
        return headers

    async def clear(self, cookies: Mapping[str, str]) -> list[str]:
        """Expire every chunk cookie. The sealed value itself stays valid until its timeouts,
        which is why sign-out also revokes the tokens at Cognito."""
        values = self._values(cookies)
        if values is not None:
            key = _fingerprint(values)
            hit = self._opened.get(key)
            if hit is not None and hit[0] == values:
                self._opened.pop(key)
        names = chunk_cookies_from(cookies, self._name, 1)
        return [expire(self._cookie, n) for n in (self._names[0], *names)]

    async def aclose(self) -> None:
        """Forget the decoded sessions."""
        self._opened.clear()
