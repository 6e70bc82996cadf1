"""Per-request state, published as ``scope["cognito"]``.

The middleware creates one :class:`RequestState` per request; handlers and helpers reach it
through :func:`get_state`. Nothing here is shared between requests except ``services``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from .config import CognitoConfig
from .sessions.base import SessionData
from .user import AnonymousUser, CognitoUser

if TYPE_CHECKING:
    import httpx

__all__ = ["RequestState", "Services", "get_state"]

SCOPE_KEY = "cognito"


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


class RequestState:
    """Our state for one request. ``set_cookies`` are extra ``Set-Cookie`` values to send
    (the middleware's own: session and guest cookies; on a Bearer request, and on an anonymous
    one when no identity pool is configured, none are sent).

    ``refresher`` overrides ``services.refresh`` for this request (tests, custom setups).
    ``auth_unavailable`` says the request carried a session that could not be checked
    (Cognito or the session store unreachable): guards answer 503 instead of asking to sign in.
    """

    # A plain slotted class with its own __init__: one is built for every request.
    __slots__ = (
        "__weakref__",
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
        *,
        session: SessionData | None = None,
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

    @property
    def config(self) -> CognitoConfig:
        return self.services.config

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


def get_state(conn: HTTPConnection) -> RequestState:
    """The :class:`RequestState` of a request or websocket; fails if the middleware is absent."""
    state = conn.scope.get(SCOPE_KEY)
    if not isinstance(state, RequestState):
        raise RuntimeError(
            "CognitoAuthMiddleware is not installed: add it with "
            "app.add_middleware(CognitoAuthMiddleware, config=...)"
        )
    return state
