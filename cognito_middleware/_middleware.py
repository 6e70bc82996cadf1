"""``CognitoAuthMiddleware``: the pure-ASGI middleware that ties everything together.

    from cognito_middleware import CognitoAuthMiddleware, CognitoConfig

    app.add_middleware(CognitoAuthMiddleware, config=CognitoConfig.from_env())

A request takes six steps, each in one place (ARCHITECTURE.md draws them):

1. anything but ``http``/``websocket`` passes through (the lifespan warms the key cache);
2. a path under the auth prefix is answered by the auth flows (login, callback, logout);
3. the user is identified: a Bearer token, else the session cookie (refreshed or touched when
   due), else a guest;
4. the request state is published: ``scope["user"]``, ``scope["auth"]`` as Starlette defines
   them, and ``scope["cognito"]``;
5. the path rules decide; a refusal is answered with a 401, 403, 503, a redirect to sign in, or
   a websocket close;
6. the app runs with a ``send`` that adds the session's cookies when the session changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._bearer import BearerAuthenticator, BearerRefused, is_bearer
from ._config import CognitoConfig
from ._events import AuthEvent, AuthHooks
from ._flows import AuthFlows
from ._guards import Decision, PathRules, refusal_for
from ._oauth import OAuthClient
from ._refresh import SessionRefresher
from ._refusal import bearer_refusal, send_refusal
from ._session_manager import SessionManager
from ._state import SCOPE_KEY, RequestState, Services
from ._tokens import TokenVerifier
from .exceptions import CognitoError
from .sessions import SessionStore, build_session_store

__all__ = ["CognitoAuthMiddleware"]

logger = logging.getLogger("cognito_middleware")


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
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(config.http_timeout),
            follow_redirects=False,
            headers={"User-Agent": "cognito-middleware"},
        )
        self._hooks = hooks or AuthHooks()
        store = session_store or build_session_store(config, clock=clock)
        verifier = TokenVerifier.from_config(config, self._http, clock=clock)
        oauth = OAuthClient(config, self._http)
        self._keys = verifier.jwks
        self._bearer = BearerAuthenticator(verifier, clock=clock, leeway=config.leeway)
        self._sessions = SessionManager(
            store,
            SessionRefresher(oauth, verifier, clock=clock),
            verifier,
            hooks=self._hooks,
            refresh_margin=config.refresh_margin,
            clock=clock,
        )
        self._flows = AuthFlows(
            config=config,
            oauth=oauth,
            verifier=verifier,
            store=store,
            hooks=self._hooks,
            clock=clock,
        )
        self._rules = PathRules.from_config(config)
        self._services = Services(
            config=config, http=self._http, clock=clock, sessions=self._sessions
        )
        if config.identity_pool_id:
            from ._credentials.helpers import CredentialService

            self._services.credentials = CredentialService(
                config, self._http, cache=credential_cache, clock=clock
            )
        self._auth_root = config.auth_prefix
        self._auth_prefix = config.auth_prefix + "/"
        self._warm_up: asyncio.Future[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if kind == "http" and self._is_auth_route(path):
            await self._flows(scope, receive, send)
            return

        raw_cookie: bytes | None = None
        authorization: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                # A client may split its cookies over several headers.
                raw_cookie = value if raw_cookie is None else raw_cookie + b"; " + value
            elif key == b"authorization":
                authorization = value
        state = RequestState(self._services, path=path, raw_cookie=raw_cookie)
        try:
            await self._identify(state, authorization, raw_cookie)
        except BearerRefused as refused:
            refusal = bearer_refusal(refused.status, refused.error, refused.reason)
            await send_refusal(scope, receive, send, refusal, config=self.config)
            return

        user = state.user
        scope["user"] = user
        scope["auth"] = user.auth_credentials
        scope[SCOPE_KEY] = state

        decision = self._rules.evaluate(path, user)
        if not decision.allowed and not _is_preflight(scope):
            await self._deny(scope, receive, send, state, decision)
            return

        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, state.wrap(send))
        finally:
            state.release()

    # The steps ------------------------------------------------------------------------------

    def _is_auth_route(self, path: str) -> bool:
        return path == self._auth_root or path.startswith(self._auth_prefix)

    async def _identify(
        self, state: RequestState, authorization: bytes | None, raw_cookie: bytes | None
    ) -> None:
        """Set the request's user: from a Bearer token, else from the session cookie."""
        if authorization is not None and is_bearer(authorization):
            state.user = await self._bearer.authenticate(authorization)
        elif raw_cookie and self._sessions.may_carry_session(raw_cookie):
            await self._sessions.load(state)

    async def _deny(
        self, scope: Scope, receive: Receive, send: Send, state: RequestState, decision: Decision
    ) -> None:
        await self._hooks.emit(
            AuthEvent("denied", state.user, state.path, _client(scope), decision.reason)
        )
        # A dropped session's expired cookies go out with the refusal; a websocket is closed
        # with 1008 and the refusal's reason.
        await send_refusal(
            scope,
            receive,
            send,
            refusal_for(scope, decision, config=self.config),
            config=self.config,
            set_cookies=state.set_cookies,
        )

    # Lifecycle ------------------------------------------------------------------------------

    @property
    def session_store(self) -> SessionStore:
        """The session store in use (``session_store``, or the one the configuration chose)."""
        return self._sessions.store

    async def aclose(self) -> None:
        """Close the outbound HTTP client and the session store."""
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        await self._http.aclose()
        await self._sessions.store.aclose()

    async def _warm_up_keys(self) -> None:
        try:
            await self._keys.warm_up()
        except CognitoError as exc:
            logger.warning("JWKS warm-up failed: %s", exc)

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


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight carries no credentials by design; the CORS middleware answers it."""
    if scope.get("method") != "OPTIONS":
        return False
    return any(key == b"access-control-request-method" for key, _ in scope["headers"])


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
