"""Transparent token refresh, one call per session at a time.

Concurrent requests of one session share one refresh (single flight in the process). A refresh
that just happened is remembered for a short while, so that requests still carrying the old
cookie (sent before the browser stored the new one) reuse its result instead of spending the
old refresh token again, which rotation would refuse after its grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._cache import BoundedMap, SingleFlight
from ._oauth import OAuthClient
from ._tokens import TokenVerifier
from .exceptions import ClaimError, InvalidGrantError
from .sessions._base import SessionData

__all__ = ["SessionRefresher", "session_expiry"]

_RECENT_SECONDS = 60.0
_RECENT_MAX = 4096


def session_expiry(id_claims: dict[str, Any], access_claims: dict[str, Any]) -> float:
    """When the session's tokens stop being usable: the earlier of the two ``exp``."""
    return float(min(int(id_claims["exp"]), int(access_claims["exp"])))


class SessionRefresher:
    """Refreshes a session's tokens with its refresh token."""

    def __init__(
        self, oauth: OAuthClient, verifier: TokenVerifier, *, clock: Callable[[], float]
    ) -> None:
        self._oauth = oauth
        self._verifier = verifier
        self._in_flight: SingleFlight[tuple[str, str], SessionData] = SingleFlight()
        self._recent: BoundedMap[tuple[str, str], SessionData] = BoundedMap(
            _RECENT_MAX, ttl=_RECENT_SECONDS, clock=clock
        )

    async def refresh(self, session: SessionData) -> SessionData:
        """The session with fresh tokens. Raises :class:`InvalidGrantError` when the refresh
        token is no longer accepted, :class:`CognitoUnavailableError` when Cognito is down,
        and a :class:`TokenError` when the new tokens do not verify."""
        key = (session.session_id, session.access_token)
        recent = self._recent.get(key)
        if recent is not None:
            return recent
        return await self._in_flight.run(key, lambda: self._refresh_and_remember(key, session))

    async def _refresh_and_remember(
        self, key: tuple[str, str], session: SessionData
    ) -> SessionData:
        fresh = await self._refresh(session)
        self._recent.put(key, fresh)
        return fresh

    async def _refresh(self, session: SessionData) -> SessionData:
        if not session.refresh_token:
            raise InvalidGrantError("invalid_grant", "the session has no refresh token")
        tokens = await self._oauth.refresh(session.refresh_token)
        old = self._verifier.unverified_claims(session.id_token)
        id_token = tokens.id_token or session.id_token
        id_claims = await self._verifier.verify_id_token(id_token)
        for claim in ("iss", "sub"):
            if id_claims.get(claim) != old.get(claim):
                raise ClaimError(claim, "changed on refresh")
        access_claims = await self._verifier.verify_access_token(tokens.access_token)
        if access_claims.get("sub") != id_claims.get("sub"):
            raise ClaimError("sub", "the access token belongs to another user")
        return session.evolve(
            id_token=id_token,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or session.refresh_token,
            expires_at=session_expiry(id_claims, access_claims),
        )
