"""Per-request state, published as ``scope["auth"]`` (Starlette's ``request.auth``).

There is one :class:`RequestState` per request; handlers and helpers reach it through
:func:`get_state`. Nothing here is shared between requests except ``services``.

The state is the request's ``request.auth``, an ``AuthCredentials`` whose ``scopes`` are the
user's, rather than a key of its own: Starlette and uvicorn already fill the scope up to the
size at which a dict grows, and one more key made every request pay for growing it.

When nothing a request does can reach its response (a Bearer request, or a guest's when no
identity pool is configured), the middleware publishes a :class:`PendingAuth` (shared, the
user's scopes and the services) instead, and the state is built the first time it is asked
for: most such requests never ask.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection
from starlette.types import Message, Scope, Send

from .config import CognitoConfig
from .cookies import RequestCookies
from .sessions.base import SessionData
from .user import AnonymousUser, CognitoUser

if TYPE_CHECKING:
    import httpx

__all__ = ["PendingAuth", "RequestState", "Services", "get_state", "state_of", "user_of"]

SCOPE_KEY = "auth"
NO_COOKIES: Mapping[str, str] = MappingProxyType({})


@dataclass(eq=False)
class Services:
    """Objects shared by every request of one middleware instance (set up at startup)."""

    config: CognitoConfig
    http: httpx.AsyncClient
    clock: Callable[[], float]
    credentials: Any = None
    """The identity-pool credential service, when ``identity_pool_id`` is configured."""
    refresh: Callable[[RequestState], Awaitable[bool]] | None = None
    """Refreshes a request's session tokens now (set by the middleware)."""
    start_with_cookies: Callable[[RequestState, Send, Message], Awaitable[None]] | None = None
    """Sends a response start with the request's cookies added (set by the middleware)."""


class PendingAuth(AuthCredentials):
    """``request.auth`` of a request whose state is built on first use: the user's scopes
    and the middleware's services. One per middleware for guests, one per Bearer token."""

    def __init__(self, services: Services, scopes: list[str]) -> None:
        self.services = services
        self.scopes = scopes


class RequestState(AuthCredentials):
    """Our state for one request, and its ``request.auth`` (whose ``scopes`` are the user's:
    ``"authenticated"`` and the access token's scopes, or none for a guest).

    ``set_cookies`` are extra ``Set-Cookie`` values to send
    (the middleware's own: session and guest cookies; on a Bearer request, and on an anonymous
    one when no identity pool is configured, none are sent).

    ``refresher`` overrides ``services.refresh`` for this request (tests, custom setups).
    ``auth_unavailable`` says the request carried a session that could not be checked
    (Cognito or the session store unreachable): guards answer 503 instead of asking to sign in.
    """

    # Slotted with its own __init__: one is built for every request.
    __slots__ = (
        "_send",
        "auth_unavailable",
        "cookies",
        "path",
        "refresher",
        "services",
        "session",
        "session_changed",
        "set_cookies",
        "user",
    )
    _send: Send

    def __init__(
        self,
        services: Services,
        user: CognitoUser | AnonymousUser,
        cookies: Mapping[str, str],
        path: str = "",
        session: SessionData | None = None,
        *,
        session_changed: bool = False,
        set_cookies: list[str] | None = None,
        refresher: Callable[[], Awaitable[bool]] | None = None,
        auth_unavailable: bool = False,
    ) -> None:
        self.services = services
        self.user = user
        self.cookies = cookies
        self.path = path
        self.session = session
        self.session_changed = session_changed
        self.set_cookies: list[str] = [] if set_cookies is None else set_cookies
        self.refresher = refresher
        self.auth_unavailable = auth_unavailable

    def _forward(self, message: Message) -> Awaitable[None]:
        # ``send`` as the app gets it when the response may carry a cookie (the middleware
        # sets ``_send`` first). A plain bound method returning the awaitable of the next
        # ``send`` (the ASGI spec asks for an awaitable callable): no closure per request, no
        # coroutine of our own per message, and the response start is only held up when
        # cookies are due.
        if (self.set_cookies or self.session_changed) and (
            message["type"] == "http.response.start"
        ):
            finish = self.services.start_with_cookies
            assert finish is not None
            return finish(self, self._send, message)
        return self._send(message)

    @property
    def config(self) -> CognitoConfig:
        return self.services.config

    @property
    def scopes(self) -> list[str]:
        """The user's ``request.auth.scopes`` (Starlette's ``requires()`` reads them)."""
        return self.user.auth_credentials.scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        raise AttributeError("request.auth.scopes are the user's: change the user instead")

    def update_session(self, **changes: object) -> None:
        """Change the session; the middleware saves it when the response starts."""
        if self.session is None:
            raise RuntimeError("no session to update")
        self.session = self.session.evolve(**changes)
        self.session_changed = True

    async def refresh_tokens(self) -> bool:
        """Refresh the session's tokens now (e.g. an ID token an AWS service refused).
        Returns whether fresh tokens are in the session."""
        if self.session is None:
            return False
        if self.refresher is not None:
            return await self.refresher()
        if self.services.refresh is None:
            return False
        return await self.services.refresh(self)


NOT_INSTALLED = (
    "CognitoAuthMiddleware is not installed: add it with "
    "app.add_middleware(CognitoAuthMiddleware, config=...)"
)


def state_of(scope: Scope) -> RequestState | None:
    """The request's :class:`RequestState`, or ``None`` when the middleware is absent."""
    auth = scope.get(SCOPE_KEY)
    if isinstance(auth, RequestState):
        return auth
    if not isinstance(auth, PendingAuth):
        return None
    built = RequestState(
        auth.services, scope["user"], _request_cookies(scope), scope.get("path", "")
    )
    scope[SCOPE_KEY] = built
    return built


def get_state(conn: HTTPConnection) -> RequestState:
    """The :class:`RequestState` of a request or websocket; fails if the middleware is absent."""
    state = state_of(conn.scope)
    if state is None:
        raise RuntimeError(NOT_INSTALLED)
    return state


def user_of(scope: Scope) -> CognitoUser | AnonymousUser:
    """The request's user (as :func:`get_state` would give it, without building the state);
    fails if the middleware is absent."""
    auth = scope.get(SCOPE_KEY)
    if isinstance(auth, RequestState):
        return auth.user
    if isinstance(auth, PendingAuth):
        user: CognitoUser | AnonymousUser = scope["user"]
        return user
    raise RuntimeError(NOT_INSTALLED)


def _request_cookies(scope: Scope) -> Mapping[str, str]:
    # Joined as the middleware joins them: a client may split cookies over several headers.
    values = [value for key, value in scope["headers"] if key == b"cookie"]
    if not values:
        return NO_COOKIES
    return RequestCookies(b"; ".join(values))
