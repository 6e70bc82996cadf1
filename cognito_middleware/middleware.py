"""``CognitoAuthMiddleware``: the pure-ASGI middleware that ties everything together.

    from cognito_middleware import CognitoAuthMiddleware, CognitoConfig

    app.add_middleware(CognitoAuthMiddleware, config=CognitoConfig.from_env())

For each request it answers the auth routes itself (``/auth/login``, ``/auth/callback``,
``/auth/logout``), otherwise resolves the user cheapest first (Bearer token, then session
cookie, else anonymous), refreshes tokens close to expiry, publishes ``scope["user"]``,
``scope["auth"]`` (which is also the request's state), applies the path rules and runs the app. The
session cookie is written only when the session changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._memo import Memo
from .config import CognitoConfig
from .context import (
    NO_COOKIES,
    DeferredGuestState,
    DeferredState,
    PendingAuth,
    RequestState,
    Services,
    state_of,
)
from .cookies import RequestCookies
from .events import AuthEvent, AuthHooks
from .exceptions import (
    CognitoError,
    CognitoUnavailableError,
    InvalidGrantError,
    SessionTooLargeError,
    TokenError,
)
from .flows import AuthFlows
from .guards import PathRules, deny
from .oauth import OAuthClient
from .refresh import SessionRefresher
from .responses import error_response
from .sessions import CookieSessionStore, SessionStore, build_session_store
from .sessions._common import LRU
from .sessions._server import ServerSideStore
from .sessions.base import SessionData
from .tokens import TokenVerifier
from .user import AnonymousUser, CognitoUser

__all__ = ["CognitoAuthMiddleware"]

logger = logging.getLogger("cognito_middleware")

_TOUCH_INTERVAL = 60.0
_USER_MEMO_MAX = 4096
# As many Bearer users as the verifier keeps memoised tokens (its default bound), so that a
# token whose claims are remembered never has its user rebuilt.
_BEARER_USER_MEMO_MAX = 10_000
_ANONYMOUS = AnonymousUser()

# A verified Bearer header (whole), its user, the epoch time until which it is accepted as
# is, and the request.auth its requests publish. Keyed by the end of the token's signature:
# hashing the whole header on every request would cost more than the lookup saves.
_KnownBearer = tuple[bytes, CognitoUser, float, PendingAuth]
_BEARER_KEY = slice(-32, None)
# A cookie-store session's Cookie header (whole), the session, the parsed cookies, the user,
# until when all of it holds without any check (no refresh, touch or timeout due), until
# when the session is alive, and what its requests' states start from.
_KnownSession = tuple[bytes, SessionData, RequestCookies, CognitoUser, float, float, PendingAuth]
_SESSION_KEY_BYTES = 32


class CognitoAuthMiddleware:
    """Authenticate every request against Amazon Cognito.

    ``config`` is required. The keyword arguments are for tests and advanced setups:
    ``session_store`` replaces the store chosen by ``config.session_store``; ``transport``
    is the httpx transport of the outbound client (``httpx.MockTransport`` in tests);
    ``clock`` returns epoch seconds; ``hooks`` receive audit events; ``credential_cache``
    replaces the in-memory cache of identity-pool credentials.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: CognitoConfig,
        session_store: SessionStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        hooks: AuthHooks | None = None,
        credential_cache: Any = None,
    ) -> None:
        self.app = app
        self.config = config
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(config.http_timeout),
            follow_redirects=False,
            headers={"User-Agent": "cognito-middleware"},
        )
        self._store = session_store or build_session_store(config, clock=clock)
        self._verifier = TokenVerifier.from_config(config, self._http, clock=clock)
        self._oauth = OAuthClient(config, self._http)
        self._refresher = SessionRefresher(self._oauth, self._verifier, clock=clock)
        self._hooks = hooks or AuthHooks()
        self._flows = AuthFlows(
            config=config, oauth=self._oauth, verifier=self._verifier, store=self._store,
            hooks=self._hooks, clock=clock,
        )
        self._rules = PathRules.from_config(config)
        self._plain_paths = self._rules.plain
        self._services = Services(
            config=config, http=self._http, clock=clock, refresh=self._force_refresh,
            start_with_cookies=self._start_with_cookies,
        )
        if config.identity_pool_id:
            from .credentials import CredentialService

            self._services.credentials = CredentialService(
                config, self._http, cache=credential_cache, clock=clock
            )
        self._guest_auth = PendingAuth(
            self._services, _ANONYMOUS.auth_credentials.scopes, user=_ANONYMOUS
        )
        self._users: LRU[tuple[str, str], CognitoUser] = LRU(_USER_MEMO_MAX)
        self._bearer_users: Memo[bytes, _KnownBearer] = Memo(_BEARER_USER_MEMO_MAX)
        self._leeway = config.leeway
        self._cookie_store = (
            self._store if isinstance(self._store, CookieSessionStore) else None
        )
        self._cookie_sessions: Memo[bytes, _KnownSession] = Memo(_USER_MEMO_MAX)
        self._touches: Memo[bytes, _Touch] = Memo(_USER_MEMO_MAX)
        # A header without the session cookie's name cannot carry a session (the parser keeps
        # names as sent): guests and visitors with only other cookies skip the store.
        name = (
            self._cookie_store.cookie_names[0] if self._cookie_store is not None
            else self._store.cookie_name if isinstance(self._store, ServerSideStore)
            else None
        )
        self._session_cookie = None if name is None else name.encode("latin-1")
        # Only cookie-store sessions are remembered; b"\x00" starts no Cookie header.
        self._session_marker = (
            self._session_cookie + b"=" if self._cookie_store and self._session_cookie
            else b"\x00"
        )
        # Where the key is when the session cookie comes first, as it usually does.
        self._session_key_at = slice(
            len(self._session_marker), len(self._session_marker) + _SESSION_KEY_BYTES
        )
        self._auth_root = config.auth_prefix
        self._guest_cookies = config.identity_pool_id is not None and config.guest_credentials
        self._auth_prefix = config.auth_prefix + "/"
        self._margin = config.refresh_margin
        self._warm_up: asyncio.Future[None] | None = None

    async def _warm_up_keys(self) -> None:
        try:
            await self._verifier.jwks.warm_up()
        except CognitoError as exc:
            logger.warning("JWKS warm-up failed: %s", exc)

    async def aclose(self) -> None:
        """Close the outbound HTTP client and the session store."""
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        await self._http.aclose()
        await self._store.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            path.startswith(self._auth_root)
            and kind == "http"
            and (path == self._auth_root or path.startswith(self._auth_prefix))
        ):
            await self._flows(scope, receive, send)
            return

        raw_cookie: bytes | None = None
        authorization: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                raw_cookie = value if raw_cookie is None else raw_cookie + b"; " + value
            elif key == b"authorization":
                authorization = value

        # The common cases are settled here without awaiting anything: a Bearer header or a
        # cookie-store session seen before and still well within its lifetimes is recognised
        # from the raw header bytes. Everything else takes the full path. The request's state
        # is only built here when a session has to be loaded, refreshed or touched; otherwise
        # it is built when something asks for it (see context.py).
        state: RequestState | None = None
        user: CognitoUser | AnonymousUser = _ANONYMOUS
        auth: PendingAuth | DeferredState | RequestState = self._guest_auth
        if authorization is not None:
            known_bearer = self._bearer_users.get(authorization[_BEARER_KEY])
            if (
                known_bearer is not None
                and self._clock() < known_bearer[2]
                and known_bearer[0] == authorization
            ):
                user, auth = known_bearer[1], known_bearer[3]
            elif authorization[:7].lower() == b"bearer ":
                try:
                    _, user, _, auth = await self._bearer(authorization)
                except _BearerRefused as refusal:
                    await self._reject_bearer(scope, receive, send, *refusal.args)
                    return
            else:
                authorization = None
        if authorization is None and raw_cookie:
            key = (
                raw_cookie[self._session_key_at]
                if raw_cookie.startswith(self._session_marker)
                else self._session_key(raw_cookie)
            )
            known = self._cookie_sessions.get(key)
            if known is not None and known[0] == raw_cookie and self._clock() < known[4]:
                user, auth = known[3], DeferredState(known[6])
            elif self._session_cookie is None or self._session_cookie in raw_cookie:
                if known is not None and known[0] != raw_cookie:
                    known = None
                auth = state = RequestState(self._services, _ANONYMOUS, NO_COOKIES, path)
                state.auth_unavailable = await self._session(state, path, raw_cookie, key, known)
                user = state.user

        scope["user"] = user
        scope["auth"] = auth
        # Paths that need nothing, or only a sign-in, are settled without a call.
        plain = self._plain_paths.get(path)
        if plain is None or (plain is False and user is _ANONYMOUS):
            decision = self._rules.evaluate(path, user)
            if not decision.allowed and not _is_preflight(scope):
                await self._deny(scope, receive, send, decision)
                return
        # Only a response that may carry a cookie gets its send forwarded: one of a session,
        # or a guest's when an identity pool may give the guest an identity to remember.
        if state is not None:
            if kind == "websocket" or (
                state.session is None
                and not state.set_cookies
                and (user is not _ANONYMOUS or not self._guest_cookies)
            ):
                await self.app(scope, receive, send)
                return
            deferred = DeferredState(self._guest_auth, state)
        elif type(auth) is DeferredState:  # a remembered session
            if kind == "websocket":
                await self.app(scope, receive, send)
                return
            deferred = auth
        elif kind == "websocket" or user is not _ANONYMOUS or not self._guest_cookies:
            await self.app(scope, receive, send)
            return
        else:
            deferred = scope["auth"] = DeferredGuestState(self._guest_auth, raw_cookie)
        deferred._send = send
        try:
            await self.app(scope, receive, deferred._forward)
        finally:
            # The server's send leads back to the scope, which holds this object: left in
            # place, every request would stay in memory until the cyclic GC came by.
            del deferred._send

    # User resolution --------------------------------------------------------------------

    async def _bearer(self, authorization: bytes) -> _KnownBearer:
        token = authorization[7:].decode("latin-1").strip()
        try:
            claims = await self._verifier.verify_bearer(token)
        except CognitoUnavailableError:
            raise _BearerRefused(
                503, "temporarily_unavailable", "The token cannot be checked right now."
            ) from None
        except TokenError as exc:
            raise _BearerRefused(401, "invalid_token", exc.reason) from None
        user = CognitoUser.from_claims(None, claims, via_bearer=True)
        # The header is recognised as it comes from now on, until the token's exp: the user
        # is built once per token, and nothing is decoded on the hot path.
        known = (
            authorization, user, claims["exp"] + self._leeway,
            PendingAuth(self._services, user.auth_credentials.scopes),
        )
        self._bearer_users.put(authorization[_BEARER_KEY], known)
        return known

    async def _session(
        self,
        state: RequestState,
        path: str,
        raw_cookie: bytes,
        key: bytes,
        known: _KnownSession | None,
    ) -> bool:
        """Load, check and (if close to expiry) refresh the session. ``known`` is what the
        memo holds for this exact header, under ``key``. Returns whether Cognito was
        unreachable and the session could not be kept."""
        now = self._clock()
        if known is not None and now < known[5]:
            # Seen before and still alive, but due for a refresh or a touch.
            session, state.cookies = known[1], known[2]
        else:
            cookies = RequestCookies(raw_cookie)
            state.cookies = cookies
            try:
                loaded = await self._store.load(cookies)
            except CognitoUnavailableError as exc:
                logger.error("session store unavailable: %s", exc.detail)
                return True
            if loaded is None:
                return False
            session = loaded
            if self._cookie_store is not None:
                self._remember_cookie(raw_cookie, key, session, self._cookie_store)
        state.session = session
        if session.expires_at - now <= self._margin:
            outcome = await self._refresh(state, session, path)
            if outcome is not None:
                return outcome
        session = state.session
        assert session is not None
        if now - session.last_seen >= _TOUCH_INTERVAL:
            if known is not None and session is known[1]:
                self._touch_remembered(state, key, known, now)
            else:
                state.update_session(last_seen=now)
        state.user = self._user_for(state.session or session)
        return False

    def _touch_remembered(
        self, state: RequestState, key: bytes, known: _KnownSession, now: float
    ) -> None:
        # Requests that keep sending the header after a touch (already in flight, or from a
        # client that ignores Set-Cookie) get the cookie that touch sealed, not a new one each:
        # sealing costs more than the rest of the request. The old header keeps its own idle
        # timeout, as a cookie that is not renewed must.
        touch = self._touches.get(key)
        if touch is None or touch.header is not known[0] or (
            now - touch.session.last_seen >= _TOUCH_INTERVAL
        ):
            touch = _Touch(known[0], known[1].evolve(last_seen=now))
            self._touches.put(key, touch)
        state.session = touch.session
        state.session_changed = True
        state._touch = touch

    async def _refresh(self, state: RequestState, session: SessionData, path: str) -> bool | None:
        now = self._clock()
        try:
            fresh = await self._refresher.refresh(session)
        except InvalidGrantError:
            await self._end_session(state, path, "refresh token refused")
            return False
        except CognitoUnavailableError:
            if session.expires_at > now:
                logger.warning("token refresh deferred: Cognito unreachable")
                return None
            await self._drop_session(state)
            return True
        except TokenError as exc:
            logger.warning("refreshed tokens refused: %s", exc.reason)
            await self._end_session(state, path, "refreshed tokens refused")
            return False
        state.session = fresh
        state.session_changed = True
        await self._hooks.emit(AuthEvent("refresh", self._user_for(fresh), path))
        return None

    async def _force_refresh(self, state: RequestState) -> bool:
        if state.session is None:
            return False
        outcome = await self._refresh(state, state.session, state.path)
        if state.session is not None:
            state.user = self._user_for(state.session)
        return outcome is None and state.session is not None

    async def _end_session(self, state: RequestState, path: str, reason: str) -> None:
        user = self._user_for(state.session) if state.session else None
        await self._drop_session(state)
        logger.info("session ended: %s", reason)
        await self._hooks.emit(AuthEvent("refresh_failed", user, path, reason=reason))

    async def _drop_session(self, state: RequestState) -> None:
        try:
            state.set_cookies.extend(await self._store.clear(state.cookies))
        except CognitoUnavailableError as exc:
            logger.error("session store unavailable: %s", exc.detail)
        state.session = None
        state.session_changed = False
        state.user = _ANONYMOUS

    def _remember_cookie(
        self,
        raw_cookie: bytes,
        key: bytes,
        session: SessionData,
        store: CookieSessionStore,
    ) -> None:
        # The cookie store is stateless: the exact Cookie header determines the session, so
        # a header seen before skips parsing and opening. Until the session is due for a
        # refresh, a touch or its timeout, nothing else about it needs checking either.
        live_until = store.live_until(session)
        fast_until = min(
            live_until, session.expires_at - self._margin, session.last_seen + _TOUCH_INTERVAL
        )
        # Fresh, unparsed cookies over the header bytes the entry keeps anyway: most requests
        # never read them, and a parsed copy would double what the entry holds.
        cookies = RequestCookies(raw_cookie)
        user = self._user_for(session)
        pending = PendingAuth(
            self._services, user.auth_credentials.scopes,
            user=user, session=session, cookies=cookies,
        )
        self._cookie_sessions.put(
            key, (raw_cookie, session, cookies, user, fast_until, live_until, pending)
        )

    def _session_key(self, raw_cookie: bytes) -> bytes:
        # The memo is keyed by the start of the session cookie's value (its random nonce),
        # not by the whole header: hashing a 4 kB header would cost more than everything
        # else a request does here. Entries hold the whole header, which must match.
        at = raw_cookie.find(self._session_marker)
        if at < 0:
            return b""
        at += len(self._session_marker)
        return raw_cookie[at : at + _SESSION_KEY_BYTES]

    def _user_for(self, session: SessionData) -> CognitoUser:
        key = (session.id_token, session.access_token)
        user = self._users.get(key)
        if user is None:
            user = CognitoUser.from_claims(
                self._verifier.unverified_claims(session.id_token),
                self._verifier.unverified_claims(session.access_token),
            )
            self._users.put(key, user)
        return user

    # Responses --------------------------------------------------------------------------

    async def _start_with_cookies(self, state: RequestState, send: Send, message: Message) -> None:
        cookies = list(state.set_cookies)
        if state.session_changed and state.session is not None:
            touch: _Touch | None = state._touch
            if touch is not None and touch.session is not state.session:
                touch = None  # the app changed the session after the touch
            try:
                if touch is not None and touch.set_cookies is not None:
                    cookies.extend(touch.set_cookies)
                else:
                    saved = await self._store.save(state.session, state.cookies)
                    cookies.extend(saved)
                    if touch is not None:
                        touch.set_cookies = saved
            except (CognitoUnavailableError, SessionTooLargeError) as exc:
                # The response goes out; the change is redone on a later request.
                logger.error("session not saved: %s", exc)
            state.session_changed = False
        if cookies:
            headers = MutableHeaders(scope=message)
            for value in cookies:
                headers.append("set-cookie", value)
            if "cache-control" not in headers:
                headers["cache-control"] = "private"
        await send(message)

    async def _deny(self, scope: Scope, receive: Receive, send: Send, decision: Any) -> None:
        state = state_of(scope)
        assert state is not None
        await self._hooks.emit(
            AuthEvent("denied", state.user, scope["path"], _client(scope), decision.reason)
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = deny(scope, decision)
        for value in state.set_cookies:
            response.headers.append("set-cookie", value)
        await response(scope, receive, send)

    async def _reject_bearer(
        self, scope: Scope, receive: Receive, send: Send, status: int, error: str, reason: str
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = (
                f'Bearer error="invalid_token", error_description="{_quote(reason)}"'
            )
        else:
            headers["Retry-After"] = "5"
        message = (
            "The access token is not valid." if status == 401 else "Try again in a moment."
        )
        response = error_response(
            scope, status, error, message, detail=reason, headers=headers, html_page=False
        )
        await response(scope, receive, send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Warm the key cache in the background: sign-ins then skip a JWKS round trip,
                # and an unreachable Cognito does not delay the app's start.
                self._warm_up = asyncio.ensure_future(self._warm_up_keys())
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return lifespan_receive


class _Touch:
    """A remembered session's once-a-minute touch: the header it was made for, the touched
    session and, once saved, the ``Set-Cookie`` values that carry it."""

    __slots__ = ("header", "session", "set_cookies")

    def __init__(self, header: bytes, session: SessionData) -> None:
        self.header = header
        self.session = session
        self.set_cookies: list[str] | None = None


class _BearerRefused(Exception):
    """A Bearer token that cannot be accepted: (status, error, reason)."""


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight carries no credentials by design; the CORS middleware answers it."""
    if scope.get("method") != "OPTIONS":
        return False
    return any(key == b"access-control-request-method" for key, _ in scope["headers"])


def _quote(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
