"""API clients' ``Authorization: Bearer`` access tokens: verified once, remembered until ``exp``.

bearer = BearerAuthenticator(verifier, clock=time.time, leeway=5.0)
user = await bearer.authenticate(b"Bearer eyJ...")   # or raises BearerRefused
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._cache import BoundedMap
from ._tokens import TokenVerifier
from ._user import CognitoUser
from .exceptions import CognitoUnavailableError, TokenError

__all__ = ["BearerAuthenticator", "BearerRefused", "is_bearer"]

_DEFAULT_SIZE = 10_000
# Keyed by the end of the token's signature: hashing the whole header on every request would
# cost more than the lookup saves. The record keeps the whole header, which must match.
_KEY = slice(-32, None)


def is_bearer(authorization: bytes) -> bool:
    """Whether an ``Authorization`` header uses the Bearer scheme (case-insensitive)."""
    return authorization[:7].lower() == b"bearer "


class BearerRefused(Exception):
    """A Bearer token that cannot be accepted: ``status`` 401 (``invalid_token``) or 503
    (the token cannot be checked right now), with a ``reason`` safe to show."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(status, error, reason)
        self.status = status
        self.error = error
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified ``Authorization`` header, its user, and the epoch time until which it is
    accepted as it is."""

    header: bytes
    user: CognitoUser
    until: float


class BearerAuthenticator:
    """Turns a Bearer header into a :class:`CognitoUser`. A header seen before is a dictionary
    lookup and a clock read until the token's ``exp`` (plus the leeway); at most ``size``
    tokens are remembered."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        clock: Callable[[], float],
        leeway: float,
        size: int = _DEFAULT_SIZE,
    ) -> None:
        self._verifier = verifier
        self._clock = clock
        self._leeway = leeway
        self._verified: BoundedMap[bytes, _Verified] = BoundedMap(size, lru=True)

    async def authenticate(self, authorization: bytes) -> CognitoUser:
        """The user of a ``Bearer`` header; raises :class:`BearerRefused`."""
        known = self._verified.get(authorization[_KEY])
        if known is not None and known.header == authorization:
            if self._clock() < known.until:
                return known.user
            raise BearerRefused(401, "invalid_token", "the token has expired")
        token = authorization[7:].decode("latin-1").strip()
        try:
            claims = await self._verifier.verify_access_token(token)
        except CognitoUnavailableError:
            raise BearerRefused(
                503, "temporarily_unavailable", "The token cannot be checked right now."
            ) from None
        except TokenError as exc:
            raise BearerRefused(401, "invalid_token", exc.reason) from None
        user = CognitoUser.from_claims(None, claims, via_bearer=True)
        until = claims["exp"] + self._leeway
        self._verified.put(authorization[_KEY], _Verified(authorization, user, until))
        return user
