"""The guest identity cookie: a guest's identity id, signed with the session secrets.

The cookie lives a year (``MAX_AGE``) and is re-signed when a guest who comes back holds one
older than a month (``RENEW_AFTER``), so that a regular visitor keeps their identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from .._cache import BoundedMap
from .._config import CognitoConfig
from .._cookies import cookie_name, expire_cookie, set_cookie

__all__ = ["GUEST_COOKIE", "GuestCookie", "GuestIdentity"]

GUEST_COOKIE = "cognito_guest"
MAX_AGE = 365 * 24 * 3600
RENEW_AFTER = 30 * 24 * 3600
_MEMO_SIZE = 10_000


class GuestIdentity(NamedTuple):
    identity_id: str
    signed_at: float


class GuestCookie:
    """Reads and writes the guest cookie of one identity pool::

    guests = GuestCookie(config, pool_id, clock)
    guest = guests.read(state.cookies)
    state.set_cookies.append(guests.set_cookie(identity_id))
    """

    def __init__(self, config: CognitoConfig, pool_id: str, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._secure = config.cookies_secure
        self.name = cookie_name(GUEST_COOKIE, secure=self._secure)
        self._serializer = _serializer(config, pool_id, clock)
        # A signature once checked stays valid for these keys: guest pages skip the HMAC.
        self._verified: BoundedMap[str, GuestIdentity] = BoundedMap(_MEMO_SIZE, clock=clock)

    def read(self, cookies: Mapping[str, str]) -> GuestIdentity | None:
        """The identity in the request's guest cookie, or ``None`` (absent, forged, expired)."""
        raw = cookies.get(self.name)
        if not raw:
            return None
        known = self._verified.get(raw)
        if known is not None:
            return known
        try:
            value, signed_at = self._serializer.loads(raw, max_age=MAX_AGE, return_timestamp=True)
        except BadSignature:
            return None
        if not isinstance(value, str) or not value:
            return None
        guest = GuestIdentity(value, signed_at.timestamp())
        self._verified.put(raw, guest, expires_at=guest.signed_at + MAX_AGE)
        return guest

    def needs_renewal(self, guest: GuestIdentity) -> bool:
        """Whether ``guest``'s cookie is old enough to be signed again."""
        return self._clock() - guest.signed_at > RENEW_AFTER

    def set_cookie(self, identity_id: str) -> str:
        """The ``Set-Cookie`` value carrying ``identity_id``, signed now."""
        value = self._serializer.dumps(identity_id)
        return set_cookie(self.name, value, secure=self._secure, max_age=MAX_AGE)

    def expire_cookie(self) -> str:
        """The ``Set-Cookie`` value removing the guest cookie."""
        return expire_cookie(self.name, secure=self._secure)


def _serializer(
    config: CognitoConfig, pool_id: str, clock: Callable[[], float]
) -> URLSafeTimedSerializer:
    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    # itsdangerous signs with the last key and verifies with all; the config's first secret
    # is the current one.
    keys = [secret.get() for secret in reversed(config.session_secrets)]
    return URLSafeTimedSerializer(
        keys, salt=f"cognito-middleware.guest-identity:{pool_id}", signer=_Signer
    )
