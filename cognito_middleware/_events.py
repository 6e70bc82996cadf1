"""Audit hooks: async callbacks for sign-in, sign-out, refresh and denied access.

    async def audit(event: AuthEvent) -> None:
        await audit_log.write(event.kind, event.username, event.path, event.reason)

    app.add_middleware(CognitoAuthMiddleware, config=config,
                       hooks=AuthHooks(on_login=audit, on_denied=audit))

Events never carry tokens, codes or cookies. A hook that raises is logged and ignored: an audit
trail must not take the site down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ._user import AnonymousUser, CognitoUser

__all__ = ["AuthEvent", "AuthHooks"]

logger = logging.getLogger("cognito_middleware")

EventKind = Literal["login", "login_failed", "logout", "refresh", "refresh_failed", "denied"]


@dataclass(frozen=True)
class AuthEvent:
    """One audit event. ``reason`` explains failures and denials in words safe to log."""

    kind: EventKind
    user: CognitoUser | AnonymousUser | None
    path: str
    client_ip: str | None = None
    reason: str | None = None

    @property
    def username(self) -> str | None:
        return self.user.username if isinstance(self.user, CognitoUser) else None


Hook = Callable[[AuthEvent], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class AuthHooks:
    """Optional async callbacks, each receiving an :class:`AuthEvent`."""

    on_login: Hook | None = None
    on_login_failed: Hook | None = None
    on_logout: Hook | None = None
    on_refresh: Hook | None = None
    on_refresh_failed: Hook | None = None
    on_denied: Hook | None = None

    async def emit(self, event: AuthEvent) -> None:
        hook: Hook | None = getattr(self, f"on_{event.kind}")
        if hook is None:
            return
        try:
            await hook(event)
        except Exception:
            logger.exception("the %s hook failed", event.kind)
