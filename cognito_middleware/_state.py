"""The request state: one :class:`RequestState` per request, published as ``scope["cognito"]``.

The middleware builds it for every HTTP and websocket request, fills in the user and the
session, and publishes it next to Starlette's own keys (``scope["user"]``, ``scope["auth"]``).
Handlers, guards and the credential helpers reach it through :func:`get_state`.

The state holds what this request is (user, session, cookies) and the collaborators it calls
(the :class:`Services`); it never calls back into the middleware. What it leaves for the
response (session changes, extra cookies) the middleware's ``send`` wrapper,
:meth:`RequestState.send`, writes when the response starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import Message, Scope, Send

from ._config import CognitoConfig
from ._cookies import RequestCookies
from ._user import AnonymousUser, CognitoUser
from .sessions._base import SessionData

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from ._session_manager import SessionManager

__all__ = ["RequestState", "Services", "get_state", "state_of", "user_of"]

SCOPE_KEY = "cognito"
NO_COOKIES: Mapping[str, str] = MappingProxyType({})
ANONYMOUS = AnonymousUser()
NOT_INSTALLED = (
    "CognitoAuthMiddleware is not installed: add it with "
    "app.add_middleware(CognitoAuthMiddleware, config=...)"
)


@dataclass(eq=False)
class Services:
    """The collaborators shared by every request of one middleware instance."""

    config: CognitoConfig
    http: httpx.AsyncClient
    clock: Callable[[], float]
    sessions: SessionManager | None = None
    """Loads, refreshes and saves browser sessions."""
    credentials: Any = None
    """The identity-pool credential service, when ``identity_pool_id`` is configured."""


class RequestState:
    """What the middleware knows about one request.

    ``user`` is the signed-in user (from a session or a Bearer token) or the guest.
    ``session`` is the browser session, if any; change it with :meth:`update_session` and the
    middleware saves it when the response starts. ``cookies`` are the request's cookies.
    ``set_cookies`` are extra ``Set-Cookie`` values for the response (guest identity, expired
    session chunks). ``auth_unavailable`` says the request carried a session that could not be
    checked (Cognito or the session store unreachable): guards answer 503 instead of asking
    to sign in.
    """

    # Slotted with its own __init__: one is built per request. Weakly referenceable: the
    # credential service keys what one request has in flight by its state.
    __slots__ = (
        "__weakref__",
        "_cookies",
        "_raw_cookie",
        "_send",
        "auth_unavailable",
        "path",
        "services",
        "session",
        "session_changed",
        "set_cookies",
        "user",
    )

    def __init__(
        self,
        services: Services,
        user: CognitoUser | AnonymousUser = ANONYMOUS,
        cookies: Mapping[str, str] | None = None,
        path: str = "",
        session: SessionData | None = None,
        *,
        raw_cookie: bytes | None = None,
    ) -> None:
        self.services = services
        self.user = user
        self.path = path
        self.session = session
        self.session_changed = False
        self.set_cookies: list[str] = []
        self.auth_unavailable = False
        self._cookies = cookies
        self._raw_cookie = raw_cookie
        self._send: Send | None = None

    @property
    def config(self) -> CognitoConfig:
        """The middleware's configuration."""
        return self.services.config

    @property
    def cookies(self) -> Mapping[str, str]:
        """The request's cookies, parsed as Starlette parses them when first read."""
        cookies = self._cookies
        if cookies is None:
            raw = self._raw_cookie
            cookies = self._cookies = NO_COOKIES if raw is None else RequestCookies(raw)
        return cookies

    @property
    def scopes(self) -> list[str]:
        """The user's ``request.auth.scopes``: ``authenticated`` and the token's scopes."""
        return self.user.auth_credentials.scopes

    def update_session(self, **changes: object) -> None:
        """Change the session; the middleware saves it when the response starts."""
        if self.session is None:
            raise RuntimeError("no session to update")
        self.session = self.session.evolve(**changes)
        self.session_changed = True

    async def refresh_tokens(self) -> bool:
        """Refresh the session's tokens now (e.g. an ID token an AWS service refused).
        Returns whether fresh tokens are in the session."""
        sessions = self.services.sessions
        if self.session is None or sessions is None:
            return False
        return await sessions.refresh(self)

    async def response_cookies(self) -> list[str]:
        """The ``Set-Cookie`` values this request's response must carry: the session when it
        changed (saved now, once) and the extra cookies."""
        cookies = self.set_cookies
        sessions = self.services.sessions
        if self.session_changed and sessions is not None:
            cookies = cookies + await sessions.save(self)
        return cookies

    def wrap(self, send: Send) -> Send:
        """``send`` as the app gets it: the response start carries the state's cookies."""
        self._send = send
        return self.send

    def release(self) -> None:
        """Let go of the server's ``send`` when the request is over: it leads back to the
        scope, which holds this state, and the cycle would keep both until the cyclic GC."""
        self._send = None

    def send(self, message: Message) -> Awaitable[None]:
        """Forward ``message``; on the response start, add the state's cookies first."""
        send = self._send
        if send is None:
            raise RuntimeError("the request is over")
        if message["type"] == "http.response.start" and (self.set_cookies or self.session_changed):
            return self._start_with_cookies(send, message)
        # Most messages go straight through: no coroutine of our own per message.
        return send(message)

    async def _start_with_cookies(self, send: Send, message: Message) -> None:
        cookies = await self.response_cookies()
        if cookies:
            headers = MutableHeaders(scope=message)
            for value in cookies:
                headers.append("set-cookie", value)
            if "cache-control" not in headers:
                headers["cache-control"] = "private"
        await send(message)


def state_of(scope: Scope) -> RequestState | None:
    """The request's :class:`RequestState`, or ``None`` when the middleware is absent."""
    state = scope.get(SCOPE_KEY)
    return state if isinstance(state, RequestState) else None


def get_state(conn: HTTPConnection) -> RequestState:
    """The :class:`RequestState` of a request or websocket; fails if the middleware is absent."""
    state = state_of(conn.scope)
    if state is None:
        raise RuntimeError(NOT_INSTALLED)
    return state


def user_of(scope: Scope) -> CognitoUser | AnonymousUser:
    """The request's user; fails if the middleware is absent."""
    state = state_of(scope)
    if state is None:
        raise RuntimeError(NOT_INSTALLED)
    return state.user
