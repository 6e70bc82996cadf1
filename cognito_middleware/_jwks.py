"""The issuer's signing keys, fetched over HTTP and cached.

    cache = JWKSCache(config.jwks_url, http)
    await cache.warm_up()            # optional, at startup
    key = await cache.get_key(kid)   # a jwt.PyJWK, RS256 only

Rules (after pyjwt's ``PyJWKClient`` and aws-jwt-verify's ``SimpleJwksCache``):

- the key set is kept for ``lifetime`` seconds; after that the next lookup refetches it, and if
  the refetch fails the keys already cached keep verifying (a JWKS outage does not fail requests
  whose keys are known);
- an unknown ``kid`` triggers one refetch (a key rotation at the issuer); refetches happen at most
  once per ``min_refetch_interval`` seconds, successful or not (the penalty box), so tokens with
  made-up ``kid`` values cannot turn the app into a load generator against the issuer;
- concurrent lookups that need a fetch share one in-flight request;
- only RSA keys of at least 2048 bits, ``use`` ``sig`` (or absent) and ``alg`` ``RS256`` (or
  absent), without private parts, are usable; other keys are skipped;
- a token without ``kid`` is matched only when the key set holds exactly one key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

from ._cache import SingleFlight
from .exceptions import JWKSUnavailableError, KeyNotFoundError

__all__ = ["JWKSCache"]

logger = logging.getLogger(__name__)

_MAX_JWKS_BYTES = 256 * 1024
_MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class _KeySet:
    __slots__ = ("by_kid", "fetched_at", "only")

    def __init__(self, by_kid: dict[str, jwt.PyJWK], only: jwt.PyJWK | None, fetched_at: float):
        self.by_kid = by_kid
        # The key a token without ``kid`` may use: set only when the document holds one key.
        self.only = only
        self.fetched_at = fetched_at

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return self.only
        return self.by_kid.get(kid)


class JWKSCache:
    """An async, bounded-refetch cache of one issuer's JSON Web Key Set.

    ``clock`` returns seconds (``time.time`` by default; tests freeze it). ``timeout`` bounds a
    whole fetch, connection and body included.
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        lifetime: float = 3600,
        min_refetch_interval: float = 10.0,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._http = http
        self._clock = clock
        self._lifetime = lifetime
        self._min_refetch_interval = min_refetch_interval
        self._timeout = timeout
        self._keys: _KeySet | None = None
        self._last_attempt: float | None = None
        self._fetches: SingleFlight[None, _KeySet] = SingleFlight()

    async def get_key(self, kid: str | None) -> jwt.PyJWK:
        """The usable RS256 key for ``kid`` (``None``: the token has no ``kid``).

        Raises :class:`KeyNotFoundError` when no key matches even after a refetch (or when a
        refetch is not allowed yet), :class:`JWKSUnavailableError` when nothing is cached and
        the key set cannot be fetched.
        """
        keys = self._keys
        if keys is not None and self._clock() - keys.fetched_at < self._lifetime:
            key = keys.find(kid)
            if key is not None:
                return key
        keys = await self._refresh(keys)
        key = keys.find(kid)
        if key is None:
            raise KeyNotFoundError(kid)
        return key

    async def warm_up(self) -> None:
        """Fetch the key set now (e.g. at startup) unless a fresh one is cached.

        Raises :class:`JWKSUnavailableError` when it cannot be fetched; the cache stays usable and
        later lookups try again (after ``min_refetch_interval``).
        """
        keys = self._keys
        if keys is not None and self._clock() - keys.fetched_at < self._lifetime:
            return
        await self._refresh(keys)

    async def _refresh(self, cached: _KeySet | None) -> _KeySet:
        """A fresher key set if a fetch is allowed now, else what is cached."""
        if None not in self._fetches:
            now = self._clock()
            if (
                self._last_attempt is not None
                and now - self._last_attempt < self._min_refetch_interval
            ):
                if cached is None:
                    raise JWKSUnavailableError("the last fetch failed moments ago")
                return cached
            self._last_attempt = now
        try:
            # A caller that gives up (client gone, request timeout) does not cancel the fetch
            # that other callers are waiting for.
            return await self._fetches.run(None, self._fetch_and_keep)
        except JWKSUnavailableError:
            if cached is None:
                raise
            logger.warning("JWKS refetch failed; still verifying with the cached keys")
            return cached

    async def _fetch_and_keep(self) -> _KeySet:
        try:
            keys = await self._fetch()
        except Exception as error:
            logger.warning("JWKS fetch from %s failed: %s", self.url, error)
            raise
        self._keys = keys
        return keys

    async def _fetch(self) -> _KeySet:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._http.stream(
                    "GET",
                    self.url,
                    timeout=self._timeout,
                    headers={"Accept": "application/json"},
                ) as response:
                    if response.status_code != 200:
                        raise JWKSUnavailableError(f"HTTP {response.status_code}")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > _MAX_JWKS_BYTES:
                            raise JWKSUnavailableError("the key set is too large")
        except TimeoutError:
            raise JWKSUnavailableError(f"no answer within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise JWKSUnavailableError(type(exc).__name__) from None
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise JWKSUnavailableError("the key set is not valid JSON") from None
        return _parse(document, self._clock())


def _parse(document: object, now: float) -> _KeySet:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSUnavailableError("the key set has no 'keys' list")
    entries: list[Any] = document["keys"]
    by_kid: dict[str, jwt.PyJWK] = {}
    usable: list[jwt.PyJWK] = []
    for entry in entries:
        key = _usable_key(entry)
        if key is None:
            continue
        usable.append(key)
        kid = entry.get("kid")
        if isinstance(kid, str):
            by_kid.setdefault(kid, key)
    if not usable:
        raise JWKSUnavailableError("the key set holds no usable RS256 key")
    only = usable[0] if len(entries) == 1 else None
    return _KeySet(by_kid, only, now)


def _usable_key(entry: object) -> jwt.PyJWK | None:
    if not isinstance(entry, Mapping):
        return None
    if (
        entry.get("kty") != "RSA"
        or entry.get("use", "sig") != "sig"
        or entry.get("alg", "RS256") != "RS256"
        or not isinstance(entry.get("kid", ""), str)
        or _PRIVATE_MEMBERS.intersection(entry)
    ):
        return None
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    try:
        key = jwt.PyJWK(dict(entry), algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if getattr(key.key, "key_size", 0) < _MIN_RSA_BITS:
        return None
    return key
