"""The browser session of a request: load, refresh, touch, save and drop.

One :class:`SessionManager` per middleware. It owns the session store and the refresher and
is the only place that changes a request's session on the middleware's behalf::

    await sessions.load(state)          # state.session and state.user, refreshed if due
    cookies = await sessions.save(state)  # the Set-Cookie values of a changed session
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ._cache import BoundedMap
from ._events import AuthEvent, AuthHooks
from ._refresh import SessionRefresher
from ._state import ANONYMOUS, RequestState
from ._tokens import TokenVerifier
from ._user import CognitoUser
from .exceptions import (
    CognitoUnavailableError,
    InvalidGrantError,
    SessionTooLargeError,
    TokenError,
)
from .sessions._base import SessionData, SessionStore
from .sessions._cookie import CookieSessionStore
from .sessions._server import ServerSideStore

__all__ = ["TOUCH_INTERVAL", "SessionManager"]

logger = logging.getLogger("cognito_middleware")

TOUCH_INTERVAL = 60.0
"""A session's ``last_seen`` (its idle timeout) is moved forward at most once a minute, so
that most requests of an active session send no cookie."""
_USERS_MAX = 4096
_SIGNATURE_TAIL = 43
"""Characters of a token's end used as its key: 32 bytes of its RSA signature."""


@dataclass(slots=True)
class _Touch:
    """One session's once-a-minute touch: the session as loaded, the touched session and,
    once saved, the ``Set-Cookie`` values that carry it."""

    loaded: SessionData
    touched: SessionData
    set_cookies: list[str] | None = None


class SessionManager:
    """Loads a request's session, refreshes its tokens close to expiry, keeps its idle timeout
    moving, saves it when it changed and drops it when it can no longer be used."""

    def __init__(
        self,
        store: SessionStore,
        refresher: SessionRefresher,
        verifier: TokenVerifier,
        *,
        hooks: AuthHooks,
        refresh_margin: float,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self._refresher = refresher
        self._verifier = verifier
        self._hooks = hooks
        self._margin = refresh_margin
        self._clock = clock
        # A user per pair of tokens: built from their claims once, shared by every request of
        # the session (the store keeps the session itself). Keyed by the ends of the tokens'
        # signatures, unique per token, so that the memo does not keep whole tokens alive.
        self._users: BoundedMap[tuple[str, str], CognitoUser] = BoundedMap(_USERS_MAX, lru=True)
        # Requests that keep sending the cookie after a touch (already in flight, or from a
        # client that ignores Set-Cookie) get the cookie that touch made, not a new one each:
        # sealing costs more than the rest of the request. A touch is of no use once the next
        # one is due, so it is forgotten then.
        self._touches: BoundedMap[str, _Touch] = BoundedMap(
            _USERS_MAX, ttl=TOUCH_INTERVAL, clock=clock
        )
        self.cookie_name = _cookie_name(store)
        """The name every session cookie of the store starts with, when the store says; a
        request whose ``Cookie`` header lacks it carries no session."""

    def may_carry_session(self, raw_cookie: bytes) -> bool:
        """Whether a request with this ``Cookie`` header may carry a session."""
        return self.cookie_name is None or self.cookie_name in raw_cookie

    async def load(self, state: RequestState) -> None:
        """Set ``state.session`` and ``state.user`` from the request's session cookie.

        Tokens expiring within the refresh margin are refreshed first; a session last seen
        over a minute ago is touched (saved again when the response starts). A session that
        cannot be kept is dropped: its cookies expire and the request is a guest's. When the
        store or Cognito is unreachable, ``state.auth_unavailable`` is set instead.
        """
        try:
            session = await self.store.load(state.cookies)
        except CognitoUnavailableError as exc:
            logger.error("session store unavailable: %s", exc.detail)
            state.auth_unavailable = True
            return
        if session is None:
            return
        state.session = session
        now = self._clock()
        if session.expires_at - now <= self._margin:
            await self._refresh(state, session)
            if state.session is None:
                return
        if now - state.session.last_seen >= TOUCH_INTERVAL:
            self._touch(state, now)
        state.user = self.user_for(state.session)

    async def refresh(self, state: RequestState) -> bool:
        """Refresh the tokens of ``state.session`` now; whether fresh tokens are in it."""
        session = state.session
        if session is None:
            return False
        refreshed = await self._refresh(state, session)
        if state.session is not None:
            state.user = self.user_for(state.session)
        return refreshed

    async def save(self, state: RequestState) -> list[str]:
        """Store the changed session; the ``Set-Cookie`` values that carry it. A store that
        cannot save lets the response go out without them: the change is redone later."""
        session = state.session
        state.session_changed = False
        if session is None:
            return []
        touch = self._touches.get(session.session_id)
        if touch is not None and touch.touched is not session:
            touch = None  # not this touch's session (refreshed, or changed by the app)
        if touch is not None and touch.set_cookies is not None:
            return touch.set_cookies
        try:
            saved = await self.store.save(session, state.cookies)
        except (CognitoUnavailableError, SessionTooLargeError) as exc:
            logger.error("session not saved: %s", exc)
            return []
        if touch is not None:
            touch.set_cookies = saved
        return saved

    async def drop(self, state: RequestState) -> None:
        """Forget the request's session: its cookies expire with the response."""
        try:
            state.set_cookies.extend(await self.store.clear(state.cookies))
        except CognitoUnavailableError as exc:
            logger.error("session store unavailable: %s", exc.detail)
        state.session = None
        state.session_changed = False
        state.user = ANONYMOUS

    def user_for(self, session: SessionData) -> CognitoUser:
        """The user of ``session``, from the claims of its tokens (verified at sign-in and at
        every refresh, then sealed in the session)."""
        key = (session.id_token[-_SIGNATURE_TAIL:], session.access_token[-_SIGNATURE_TAIL:])
        user = self._users.get(key)
        if user is None:
            user = CognitoUser.from_claims(
                self._verifier.unverified_claims(session.id_token),
                self._verifier.unverified_claims(session.access_token),
            )
            self._users.put(key, user)
        return user

    def _touch(self, state: RequestState, now: float) -> None:
        session = state.session
        assert session is not None
        if state.session_changed:
            state.update_session(last_seen=now)  # refreshed: saved anyway
            return
        touch = self._touches.get(session.session_id)
        if (
            touch is None
            or touch.loaded != session
            or now - touch.touched.last_seen >= TOUCH_INTERVAL
        ):
            touch = _Touch(session, session.evolve(last_seen=now))
            self._touches.put(session.session_id, touch)
        state.session = touch.touched
        state.session_changed = True

    async def _refresh(self, state: RequestState, session: SessionData) -> bool:
        """Replace the session's tokens; whether that worked. A refused refresh token ends the
        session; an unreachable Cognito keeps the tokens while they are still valid."""
        try:
            fresh = await self._refresher.refresh(session)
        except InvalidGrantError:
            await self._end(state, session, "refresh token refused")
            return False
        except CognitoUnavailableError:
            if session.expires_at > self._clock():
                logger.warning("token refresh deferred: Cognito unreachable")
                return False
            await self.drop(state)
            state.auth_unavailable = True
            return False
        except TokenError as exc:
            logger.warning("refreshed tokens refused: %s", exc.reason)
            await self._end(state, session, "refreshed tokens refused")
            return False
        state.session = fresh
        state.session_changed = True
        await self._hooks.emit(AuthEvent("refresh", self.user_for(fresh), state.path))
        return True

    async def _end(self, state: RequestState, session: SessionData, reason: str) -> None:
        user = self.user_for(session)
        await self.drop(state)
        logger.info("session ended: %s", reason)
        await self._hooks.emit(AuthEvent("refresh_failed", user, state.path, reason=reason))


def _cookie_name(store: SessionStore) -> bytes | None:
    if isinstance(store, CookieSessionStore):
        return store.cookie_names[0].encode("latin-1")
    if isinstance(store, ServerSideStore):
        return store.cookie_name.encode("latin-1")
    return None
