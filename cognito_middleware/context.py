"""Per-request state, published as ``scope["auth"]`` (Starlette's ``request.auth``).

There is one :class:`RequestState` per request; handlers and helpers reach it through
:func:`get_state`. Nothing in it is shared between requests except ``services``.

The state is the request's ``request.auth``, an ``AuthCredentials`` whose ``scopes`` are the
user's, rather than a key of its own: Starlette and uvicorn already fill the scope up to the
size at which a dict grows, and one more key made every request pay for growing it.

Most requests never ask for their state, so the middleware builds it only when asked, or when
it needs it itself (a session being loaded, refreshed or touched). When nothing a request does
can reach its response (a Bearer request, or a guest's when no identity pool is configured),
it publishes a shared :class:`PendingAuth` (the services, the user's scopes, what the state
starts from). When the response may carry a cookie (a remembered session, or a guest's when
an identity pool is configured), it publishes a :class:`DeferredState`: a small per-request
object that holds the shared part, builds the state on first use and forwards ``send``.
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

__all__ = [
    "DeferredGuestState", "DeferredState", "PendingAuth", "RequestState", "Services",
    "get_state", "state_of", "user_of",
]

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
    """``request.auth`` of requests whose state is built on first use, shared by all of them:
    the middleware's services, the user's scopes and what the state starts from. One per
    middleware for guests, one per Bearer token, one per remembered session cookie.

    ``user``, ``session`` and ``cookies`` are taken from the request (its ``scope["user"]``
    and ``Cookie`` headers) when not given.
    """

    def __init__(
        self,
        services: Services,
        scopes: list[str],
        *,
        user: CognitoUser | AnonymousUser | None = None,
        session: SessionData | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> None:
        self.services = services
        self.scopes = scopes
        self.user = user
        self.session = session
        self.cookies = cookies

    def build(self, scope: Scope) -> RequestState:
        """A request's own state, started from this one."""
        return RequestState(
            self.services,
            scope["user"] if self.user is None else self.user,
            _request_cookies(scope) if self.cookies is None else self.cookies,
            scope.get("path", ""),
            self.session,
        )


class DeferredState(AuthCredentials):
    """``request.auth`` of one request whose response may carry a cookie, until something
    asks for its state: a session request, or a guest's when an identity pool is configured.
    Most such requests never ask, and this is cheaper to make than the state.

    Its ``_forward`` is ``send`` as the app gets it; it adds the state's cookies to the
    response start once the state exists and has some (the middleware sets ``_send`` first).
    """

    __slots__ = ("_built", "_pending", "_send")
    _send: Send

    def __init__(self, pending: PendingAuth, built: RequestState | None = None) -> None:
        self._pending = pending
        self._built = built

    @property
    def scopes(self) -> list[str]:
        """The user's ``request.auth.scopes``."""
        if self._built is not None:
            return self._built.scopes
        return self._pending.scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        raise AttributeError("request.auth.scopes are the user's: change the user instead")

    def state(self, scope: Scope) -> RequestState:
        """The request's state, built on the first call."""
        built = self._built
        if built is None:
            built = self._built = self._pending.build(scope)
        return built

    def _forward(self, message: Message) -> Awaitable[None]:
        # A plain bound method returning the awaitable of the next ``send`` (the ASGI spec asks
        # for an awaitable callable): no closure per request, no coroutine of our own per
        # message, and the response start is only held up when cookies are due.
        built = self._built
        if (
            built is not None
            and (built.set_cookies or built.session_changed)
            and message["type"] == "http.response.start"
        ):
            finish = built.services.start_with_cookies
            assert finish is not None
            return finish(built, self._send, message)
        return self._send(message)


class DeferredGuestState(DeferredState):
    """A guest's :class:`DeferredState` (when an identity pool is configured), holding the
    ``Cookie`` header the middleware already read: guest pages that fetch credentials read
    the guest cookie from it without a second pass over the headers."""

    __slots__ = ("_raw_cookie",)

    def __init__(self, pending: PendingAuth, raw_cookie: bytes | None) -> None:
        self._pending = pending
        self._built = None
        self._raw_cookie = raw_cookie

    def state(self, scope: Scope) -> RequestState:
        """The request's state, built on the first call."""
        built = self._built
        if built is None:
            pending = self._pending
            raw = self._raw_cookie
            built = self._built = RequestState(
                pending.services,
                scope["user"] if pending.user is None else pending.user,
                NO_COOKIES if raw is None else RequestCookies(raw),
                scope.get("path", ""),
            )
        return built


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

    # Slotted with its own __init__: many are built.
    __slots__ = (
        "_touch",
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
        # The middleware's record of this request's once-a-minute session touch, if any.
        self._touch: Any = None

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
    if isinstance(auth, DeferredState):
        built = auth.state(scope)
    elif isinstance(auth, PendingAuth):
        built = auth.build(scope)
    else:
        return None
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
    if isinstance(auth, DeferredState) and auth._built is not None:
        return auth._built.user
    if isinstance(auth, (DeferredState, PendingAuth)):
        user: CognitoUser | AnonymousUser = scope["user"]
        return user
    raise RuntimeError(NOT_INSTALLED)


def _request_cookies(scope: Scope) -> Mapping[str, str]:
    # Joined as the middleware joins them: a client may split cookies over several headers.
    raw: bytes | None = None
    for key, value in scope["headers"]:
        if key == b"cookie":
            raw = value if raw is None else raw + b"; " + value
    return NO_COOKIES if raw is None else RequestCookies(raw)
