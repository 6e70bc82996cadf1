"""Route guards: path rules evaluated by the middleware, and decorators for Starlette endpoints.

Path rules live in the configuration and are compiled once::

    config = CognitoConfig.from_env(
        public_paths=("/", "/health", "/static"),
        protected=(
            PathRule(prefix="/admin", groups=("admins",)),
            PathRule(prefix="/api/orders", scopes=("orders/read",)),
        ),
        default_deny=True,
    )

Decorators guard single endpoints::

    @requires_groups("admins", "auditors")
    async def report(request):
        ...

Every refusal, whoever makes it, is answered by :func:`deny`: ``303`` to the sign-in page for a
browser navigation, ``401`` JSON with ``WWW-Authenticate: Bearer`` for API clients, ``403`` (page
or JSON) for a signed-in user who lacks a group or scope, and close code ``1008`` for websockets.
:func:`refusal_for` gives the same answer as a ``Refusal`` value, before rendering.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ._cache import BoundedMap
from ._config import CognitoConfig, PathRule
from ._refusal import (
    Refusal,
    _has_bearer,
    bearer_challenge,
    login_refusal,
    login_url,
    render,
    send_refusal,
    unavailable_refusal,
)
from ._state import NOT_INSTALLED, state_of, user_of
from ._user import AnonymousUser, CognitoUser
from .exceptions import ConfigurationError

__all__ = [
    "Decision",
    "Outcome",
    "PathRules",
    "deny",
    "login_required",
    "login_url",
    "refusal_for",
    "requires_groups",
    "requires_scopes",
    "send_denial",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_SEEN_MAX = 4096

_AnyUser = CognitoUser | AnonymousUser


class Outcome(enum.Enum):
    """What a guard decided."""

    ALLOW = "allow"
    LOGIN_REQUIRED = "login_required"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict of a guard for one request.

    ``rule`` is the path rule that decided (``None`` for the default or a decorator).
    For ``FORBIDDEN``, ``missing_groups`` (one of them is enough unless ``all_groups``) and
    ``missing_scopes`` (all are needed) say why::

        decision = rules.evaluate("/admin/users", request.user)
        if not decision.allowed:
            return deny(request.scope, decision)
    """

    outcome: Outcome
    rule: PathRule | None = None
    missing_groups: tuple[str, ...] = ()
    all_groups: bool = False
    missing_scopes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def reason(self) -> str:
        """A short sentence for logs and error details (names groups and scopes only)."""
        if self.outcome is Outcome.ALLOW:
            return "allowed"
        if self.outcome is Outcome.LOGIN_REQUIRED:
            return "sign-in required"
        parts = []
        groups = self.missing_groups
        if len(groups) > 1 and not self.all_groups:
            parts.append(f"requires one of the groups: {', '.join(groups)}")
        elif groups:
            parts.append(f"missing group{'s' if len(groups) > 1 else ''}: {', '.join(groups)}")
        if self.missing_scopes:
            parts.append(f"missing scopes: {' '.join(self.missing_scopes)}")
        return "; ".join(parts) or "not allowed"


_ALLOW = Decision(Outcome.ALLOW)


@dataclass(frozen=True, slots=True)
class _Requirement:
    """A compiled rule: what a user needs. ``public`` lets everybody in, guests included."""

    public: bool
    groups: tuple[str, ...] = ()
    all_groups: bool = False
    scopes: tuple[str, ...] = ()
    rule: PathRule | None = None

    sign_in_only: bool = field(init=False, default=False)
    """Needs a signed-in user and nothing more (precomputed: read on every request)."""

    def __post_init__(self) -> None:
        plain = not self.public and not self.groups and not self.scopes
        object.__setattr__(self, "sign_in_only", plain)

    def check(self, user: _AnyUser) -> Decision:
        if self.public:
            return _ALLOW
        if not user.is_authenticated:
            return Decision(Outcome.LOGIN_REQUIRED, self.rule)
        missing_groups: tuple[str, ...] = ()
        if self.groups:
            held = user.groups
            if self.all_groups:
                missing_groups = tuple(g for g in self.groups if g not in held)
            elif not any(g in held for g in self.groups):
                missing_groups = self.groups
        missing_scopes: tuple[str, ...] = ()
        if self.scopes:
            granted = user.scopes
            missing_scopes = tuple(s for s in self.scopes if s not in granted)
        if missing_groups or missing_scopes:
            return Decision(
                Outcome.FORBIDDEN, self.rule, missing_groups, self.all_groups, missing_scopes
            )
        return _ALLOW


_PUBLIC = _Requirement(public=True)
_SIGNED_IN = _Requirement(public=False)


def _names(kind: str, values: Iterable[object]) -> tuple[str, ...]:
    names = tuple(values)
    if len(names) == 1 and callable(names[0]):
        raise TypeError(f"requires_{kind} needs parentheses: @requires_{kind}('name')")
    for name in names:
        if not isinstance(name, str) or not name or name != name.strip():
            raise TypeError(
                f"{kind} must be given as separate non-empty strings, got {name!r} "
                f"(write requires_{kind}('a', 'b'), not requires_{kind}(['a', 'b']))"
            )
    return cast(tuple[str, ...], names)


def _check_prefix(setting: str, prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigurationError(setting, f"{prefix!r} must be a path starting with '/'")
    if any(c in prefix for c in "?#\\") or any(not c.isprintable() or c.isspace() for c in prefix):
        raise ConfigurationError(setting, f"{prefix!r} must be a plain path (no query, no spaces)")
    stripped = prefix.rstrip("/") or "/"
    if _normalize(stripped) != stripped:
        raise ConfigurationError(setting, f"{prefix!r} must not contain '//', '.' or '..'")
    return stripped


def _normalize(path: str) -> str:
    """Collapse empty and dot segments the way a proxy or a file server might."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return normalized


class PathRules:
    """Path rules compiled once, evaluated on every request.

    A rule's prefix covers the path itself and everything below it on segment boundaries:
    ``/admin`` guards ``/admin`` and ``/admin/users`` but not ``/administrator``. The longest
    matching prefix decides. ``public_paths`` are prefixes too, except ``/``, which makes only
    the home page public (so that listing it never opens the whole site). Paths not covered by
    any rule are open, or need a sign-in when ``default_deny`` is set. The auth prefix is always
    public. Paths with ``//``, ``.`` or ``..`` segments or leftover ``%`` escapes must pass both
    as sent and normalized (and decoded once more), so that no proxy or router reading of them
    reaches a guarded route::

        rules = PathRules.from_config(config)
        decision = rules.evaluate(scope["path"], scope["user"])
    """

    __slots__ = (
        "_auth_prefix",
        "_auth_prefix_slash",
        "_default",
        "_home",
        "_seen",
        "_table",
        "plain",
    )

    def __init__(
        self,
        *,
        public_paths: Iterable[str] = (),
        protected: Iterable[PathRule] = (),
        default_deny: bool = False,
        auth_prefix: str = "/auth",
    ) -> None:
        table: dict[str, _Requirement] = {}
        home: _Requirement | None = None
        for rule in protected:
            prefix = _check_prefix("protected", rule.prefix)
            if rule.allow_guests and (rule.groups or rule.scopes):
                raise ConfigurationError(
                    "protected",
                    f"the rule for {rule.prefix!r} allows guests but also requires groups or "
                    "scopes; drop one or the other",
                )
            if prefix in table:
                raise ConfigurationError("protected", f"{rule.prefix!r} has two rules")
            table[prefix] = _Requirement(
                public=rule.allow_guests,
                groups=_names("groups", rule.groups),
                all_groups=rule.all_groups,
                scopes=_names("scopes", rule.scopes),
                rule=rule,
            )
        for path in public_paths:
            prefix = _check_prefix("public_paths", path)
            if prefix == "/":
                home = _PUBLIC
                continue
            if prefix in table and not table[prefix].public:
                raise ConfigurationError(
                    "public_paths", f"{path!r} is also a protected prefix; keep one of them"
                )
            table[prefix] = _PUBLIC
        self._default = table.pop("/", _SIGNED_IN if default_deny else _PUBLIC)
        self._home = home
        self._table = table
        self._auth_prefix = auth_prefix
        self._auth_prefix_slash = auth_prefix + "/"
        # Paths seen recently and what they require: the prefix walk runs once per path.
        self._seen: BoundedMap[str, tuple[_Requirement, bool]] = BoundedMap(_SEEN_MAX)
        self.plain: dict[str, bool] = {}
        """Paths seen before that need nothing (``True``) or only a sign-in (``False``):
        a caller may allow them without calling :meth:`evaluate`. Always this one dict."""

    @classmethod
    def from_config(cls, config: CognitoConfig) -> PathRules:
        """Compile ``config.public_paths``, ``config.protected`` and ``config.default_deny``."""
        return cls(
            public_paths=config.public_paths,
            protected=config.protected,
            default_deny=config.default_deny,
            auth_prefix=config.auth_prefix,
        )

    def _lookup(self, path: str) -> _Requirement:
        if path == self._auth_prefix or path.startswith(self._auth_prefix_slash):
            return _PUBLIC
        if self._home is not None and path == "/":
            return self._home
        table = self._table
        candidate = path
        while True:
            requirement = table.get(candidate)
            if requirement is not None:
                return requirement
            cut = candidate.rfind("/")
            if cut <= 0:
                return self._default
            candidate = candidate[:cut]

    def evaluate(self, path: str, user: _AnyUser) -> Decision:
        """Decide whether ``user`` may see ``path`` (the decoded ``scope["path"]``)."""
        known = self._seen.get(path)
        if known is None:
            known = (self._lookup(path), "//" in path or "/." in path or "%" in path)
            self._seen.put(path, known)
            if not known[1] and (known[0].public or known[0].sign_in_only):
                # A plain dict for callers' lookups; emptied when full, it refills as paths
                # come back through evaluate().
                if len(self.plain) >= _SEEN_MAX:
                    self.plain.clear()
                self.plain[path] = known[0].public
        requirement, odd = known
        if not odd:
            # The usual cases without a further call: an open path, or a path that needs
            # nothing but a sign-in.
            if requirement.public or (requirement.sign_in_only and user.is_authenticated):
                return _ALLOW
            return requirement.check(user)
        decision = requirement.check(user)
        if decision.allowed:
            readings = {_normalize(path)}
            if "%" in path:
                # Percent signs left after the server's decoding: a second decoding somewhere
                # behind the middleware must not reach a guarded route either.
                readings.add(_normalize(unquote(path)))
            for reading in readings:
                other = self._lookup(reading)
                if other is not requirement:
                    decision = other.check(user)
                    if not decision.allowed:
                        return decision
        return decision


# Outcomes ------------------------------------------------------------------------------------


def refusal_for(
    scope: Scope, decision: Decision, *, config: CognitoConfig | None = None
) -> Refusal:
    """The :class:`~cognito_middleware._refusal.Refusal` for a refused ``decision``.

    ``LOGIN_REQUIRED``: ``401 login_required`` with ``WWW-Authenticate: Bearer`` and the
    sign-in URL (``{auth_prefix}/login?next=...``), where browser navigations are redirected;
    ``503 temporarily_unavailable`` with ``Retry-After`` instead when the visitor's session
    could not be checked. ``FORBIDDEN``: ``403`` naming what is missing; for a Bearer request
    missing scopes only, ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``.
    ``config`` defaults to the middleware's, from the request state.
    """
    if decision.allowed:
        raise ValueError("deny() called with an ALLOW decision")
    state = state_of(scope)
    if config is None:
        if state is None:
            raise RuntimeError(NOT_INSTALLED)
        config = state.config
    if decision.outcome is Outcome.LOGIN_REQUIRED:
        if state is not None and state.auth_unavailable:
            # The visitor has a session we could not check: sending them to sign in again
            # would hide the outage and fail the same way.
            return replace(
                unavailable_refusal(
                    "Your sign-in cannot be checked right now: a service it depends on is "
                    "unreachable. Try again in a moment."
                ),
                close_reason=Outcome.LOGIN_REQUIRED.value,
            )
        return login_refusal(scope, config)
    headers: tuple[tuple[str, str], ...] = ()
    error = "forbidden"
    if decision.missing_scopes and not decision.missing_groups:
        error = "insufficient_scope"
        if _has_bearer(scope):
            challenge = bearer_challenge(
                "insufficient_scope", scope=" ".join(decision.missing_scopes)
            )
            headers = (("WWW-Authenticate", challenge),)
    return Refusal(
        status=403,
        error=error,
        message="You are signed in but not allowed to see this page.",
        detail=decision.reason,
        link=(config.after_login_path, "Go back"),
        headers=headers,
        close_reason=Outcome.FORBIDDEN.value,
    )


def deny(scope: Scope, decision: Decision, *, config: CognitoConfig | None = None) -> Response:
    """The HTTP answer to a refused request: :func:`refusal_for`, rendered.

    ``LOGIN_REQUIRED``: ``303`` to ``{auth_prefix}/login?next=...`` for a browser navigation
    (``login_redirect='auto'``; always with ``'always'``, never with ``'never'``; never for a
    request with a Bearer token), else ``401`` with ``WWW-Authenticate: Bearer`` (JSON, or a
    page with a sign-in link for a browser). ``FORBIDDEN``: ``403`` page or JSON; for a Bearer
    request missing scopes, ``WWW-Authenticate: Bearer error="insufficient_scope"``.
    A ``303`` is used rather than ``307`` so that a refused ``POST`` is never replayed.
    ``config`` defaults to the middleware's, from the request state (``scope["auth"]``)::

        decision = rules.evaluate(scope["path"], scope["user"])
        if not decision.allowed:
            await deny(scope, decision)(scope, receive, send)
    """
    refusal = refusal_for(scope, decision, config=config)
    return render(scope, refusal, config=config)


async def send_denial(scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
    """Answer a refused HTTP request with :func:`deny`, or close a websocket with ``1008``
    (the reason is ``login_required`` or ``forbidden``)."""
    if scope["type"] == "websocket":
        # A close needs no page, so no configuration: this works without the middleware too.
        await send({"type": "websocket.close", "code": 1008, "reason": decision.outcome.value})
        return
    await send_refusal(scope, receive, send, refusal_for(scope, decision))


# Decorators ----------------------------------------------------------------------------------


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any], func: object) -> HTTPConnection:
    for value in chain(args, kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError(
        f"{getattr(func, '__qualname__', func)!r} was called without a Request or WebSocket "
        "argument; guard decorators work on Starlette endpoints (with FastAPI, use the "
        "dependencies of cognito_middleware.fastapi)"
    )


def _is_async(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or (
        callable(func) and inspect.iscoroutinefunction(func.__call__)
    )


def _guard(requirement: _Requirement) -> Callable[[_F], _F]:
    def decorator(func: _F) -> _F:
        if inspect.isclass(func):
            raise TypeError(
                f"{func.__qualname__} is a class: decorate its methods (get, post, ...) instead"
            )
        if _is_async(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                conn = _connection(args, kwargs, func)
                decision = requirement.check(user_of(conn.scope))
                if decision.allowed:
                    return await func(*args, **kwargs)
                if isinstance(conn, WebSocket):
                    refusal = refusal_for(conn.scope, decision)
                    await conn.close(refusal.close_code, refusal.close_reason)
                    return None
                return deny(conn.scope, decision)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            conn = _connection(args, kwargs, func)
            decision = requirement.check(user_of(conn.scope))
            if decision.allowed:
                return func(*args, **kwargs)
            return deny(conn.scope, decision)

        return cast(_F, sync_wrapper)

    return decorator


def login_required(func: _F) -> _F:
    """Only signed-in users (session or Bearer token) may call the endpoint.

    Works on ``async``/sync endpoint functions, ``HTTPEndpoint`` methods and websocket
    endpoints; requires :class:`~cognito_middleware.CognitoAuthMiddleware`::

        @login_required
        async def profile(request):
            return JSONResponse({"email": request.user.email})
    """
    return _guard(_SIGNED_IN)(func)


def requires_groups(*groups: str, all_groups: bool = False) -> Callable[[_F], _F]:
    """Only members of one of ``groups`` (or of all of them, with ``all_groups=True``)::

        @requires_groups("admins", "auditors")
        async def report(request): ...

        @requires_groups("admins", "finance", all_groups=True)
        async def payroll(request): ...

    A guest is sent to sign in; a signed-in user outside the groups gets ``403``.
    """
    names = _names("groups", groups)
    if not names:
        raise TypeError("requires_groups() needs at least one group")
    return _guard(_Requirement(public=False, groups=names, all_groups=all_groups))


def requires_scopes(*scopes: str) -> Callable[[_F], _F]:
    """Only requests whose access token carries every one of ``scopes``::

    @requires_scopes("orders/read", "orders/write")
    async def update_order(request): ...
    """
    names = _names("scopes", scopes)
    if not names:
        raise TypeError("requires_scopes() needs at least one scope")
    return _guard(_Requirement(public=False, scopes=names))


def _requirement(
    *, groups: tuple[str, ...] = (), all_groups: bool = False, scopes: tuple[str, ...] = ()
) -> _Requirement:
    return _Requirement(
        public=False,
        groups=_names("groups", groups),
        all_groups=all_groups,
        scopes=_names("scopes", scopes),
    )
