"""FastAPI dependencies: the signed-in user, group and scope guards, documented in OpenAPI.

Install the ``fastapi`` extra (``pip install 'cognito-middleware[fastapi]'``). The middleware
authenticates; these dependencies read its result, refuse with the same outcomes as the path
rules (``303`` to sign in for a browser navigation, ``401`` with ``WWW-Authenticate: Bearer`` for
APIs, ``403`` for a signed-in user who lacks a group or scope, close ``1008`` for websockets) and
declare the ``CognitoBearer`` and ``CognitoSession`` security schemes so that ``/docs`` shows which
routes need what::

    from cognito_middleware.fastapi import CurrentUser, install_exception_handler, require_groups

    app = FastAPI()
    app.add_middleware(CognitoAuthMiddleware, config=config)
    install_exception_handler(app)

    @app.get("/me")
    async def me(user: CurrentUser):
        return {"email": user.email}

    @app.get("/admin", dependencies=[Depends(require_groups("admins"))])
    async def admin(): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Security
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException, WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ._credentials.helpers import (
    AWSCredentials,
    _credentials_refusal,
    get_aws_credentials,
)
from ._guards import (
    Decision,
    Outcome,
    _Requirement,
    _requirement,
    refusal_for,
)
from ._refusal import Refusal, redirect_target, render
from ._state import user_of
from ._user import CognitoUser
from .exceptions import CognitoUnavailableError, IdentityPoolError, SignInRequiredError

__all__ = [
    "AccessDenied",
    "CurrentUser",
    "OptionalUser",
    "access_denied_handler",
    "aws_credentials_dependency",
    "bearer_scheme",
    "current_user",
    "install_exception_handler",
    "optional_user",
    "require_groups",
    "require_scopes",
    "session_scheme",
]

_KEPT_HEADERS = ("location", "www-authenticate", "cache-control")


class DocumentedScheme(SecurityBase):
    """An OpenAPI security scheme that only documents: the middleware has already
    authenticated the request, so resolving it costs nothing."""

    def __init__(self, model: SecuritySchemeModel, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name

    async def __call__(self) -> None:
        return None


bearer_scheme = DocumentedScheme(
    HTTPBearerModel(
        bearerFormat="JWT",
        description="A Cognito access token from the user pool (`Authorization: Bearer ...`).",
    ),
    "CognitoBearer",
)
session_scheme = DocumentedScheme(
    APIKey.model_validate(
        {
            "in": APIKeyIn.cookie,
            "name": "cognito_session",
            "description": (
                "The browser session set by signing in through the hosted UI (the cookie "
                "takes the `__Host-` prefix over HTTPS and may be split into numbered chunks)."
            ),
        }
    ),
    "CognitoSession",
)


class AccessDenied(HTTPException):
    """Raised by the dependencies to refuse a request.

    Status and headers (``Location``, ``WWW-Authenticate``) are those of
    :func:`cognito_middleware._guards.deny` even with FastAPI's default handler; with
    :func:`install_exception_handler` the body is too (the JSON error, the HTML page for
    browsers, or the app's ``error_page``). ``response`` is that answer, ``decision`` says
    why.
    """

    def __init__(self, response: Response, decision: Decision) -> None:
        headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
        detail = (
            "Sign in to continue."
            if decision.outcome is Outcome.LOGIN_REQUIRED
            else f"Not allowed: {decision.reason}."
        )
        super().__init__(response.status_code, detail=detail, headers=headers)
        self.response = response
        self.decision = decision


async def access_denied_handler(request: Request, exc: Exception) -> Response:
    """Answer an :class:`AccessDenied` with the response the guards built."""
    assert isinstance(exc, AccessDenied)
    return exc.response


def install_exception_handler(app: FastAPI) -> None:
    """Make refusals by the dependencies answer exactly like the path rules (HTML pages for
    browsers, ``{"error": ..., "message": ...}`` for APIs)::

        install_exception_handler(app)
    """
    app.add_exception_handler(AccessDenied, access_denied_handler)


def _enforce(conn: HTTPConnection, requirement: _Requirement) -> CognitoUser:
    user = user_of(conn.scope)
    decision = requirement.check(user)
    if decision.allowed:
        return cast(CognitoUser, user)
    refusal = refusal_for(conn.scope, decision)
    if conn.scope["type"] == "websocket":
        raise WebSocketException(refusal.close_code, refusal.close_reason)
    raise AccessDenied(render(conn.scope, refusal), decision)


_SIGNED_IN = _requirement()


async def current_user(
    conn: HTTPConnection,
    _bearer: Annotated[None, Security(bearer_scheme)],
    _session: Annotated[None, Security(session_scheme)],
) -> CognitoUser:
    """The signed-in user (session or Bearer token); refuses guests::

    @app.get("/me")
    async def me(user: Annotated[CognitoUser, Depends(current_user)]):
        return {"sub": user.sub}
    """
    return _enforce(conn, _SIGNED_IN)


async def optional_user(conn: HTTPConnection) -> CognitoUser | None:
    """The signed-in user, or ``None`` for a guest (the route stays open)::

    @app.get("/")
    async def home(user: OptionalUser):
        return {"greeting": f"hello {user.display_name}" if user else "hello"}
    """
    user = user_of(conn.scope)
    return user if isinstance(user, CognitoUser) else None


CurrentUser = Annotated[CognitoUser, Depends(current_user)]
"""``user: CurrentUser`` in a route's parameters requires a signed-in user."""

OptionalUser = Annotated[CognitoUser | None, Depends(optional_user)]
"""``user: OptionalUser`` gives the signed-in user or ``None``."""


def _dependency(
    requirement: _Requirement, documented: list[str]
) -> Callable[..., Awaitable[CognitoUser]]:
    async def dependency(
        conn: HTTPConnection,
        # Defaults rather than Annotated: FastAPI resolves string annotations in the module
        # globals, where ``documented`` does not exist.
        _bearer: None = Security(bearer_scheme, scopes=documented),
        _session: None = Security(session_scheme, scopes=documented),
    ) -> CognitoUser:
        return _enforce(conn, requirement)

    return dependency


def require_groups(*groups: str, all_groups: bool = False) -> Callable[..., Awaitable[CognitoUser]]:
    """A dependency that requires one of ``groups`` (all of them with ``all_groups=True``) and
    returns the user. OpenAPI lists the groups as the role names of the requirement::

        @app.get("/reports")
        async def reports(user: Annotated[CognitoUser, Depends(require_groups("admins"))]):
            ...

        payroll_team = Depends(require_groups("hr", "admins", all_groups=True))

        @app.delete("/payroll", dependencies=[payroll_team])
        async def purge(): ...
    """
    requirement = _requirement(groups=groups, all_groups=all_groups)
    if not requirement.groups:
        raise TypeError("require_groups() needs at least one group")
    return _dependency(requirement, list(requirement.groups))


def require_scopes(*scopes: str) -> Callable[..., Awaitable[CognitoUser]]:
    """A dependency that requires every one of ``scopes`` in the access token and returns
    the user. OpenAPI lists the scopes on the route's security requirement::

        @app.post("/orders", dependencies=[Depends(require_scopes("orders/write"))])
        async def create_order(): ...
    """
    requirement = _requirement(scopes=scopes)
    if not requirement.scopes:
        raise TypeError("require_scopes() needs at least one scope")
    return _dependency(requirement, list(requirement.scopes))


def aws_credentials_dependency(
    role_arn: str | None = None,
) -> Callable[..., Awaitable[AWSCredentials]]:
    """The request's temporary AWS credentials from the identity pool, as a dependency.

    Without ``role_arn`` guests get the unauthenticated role and the route stays open; with it
    the route needs a signed-in user holding that role, and OpenAPI shows the requirement with
    the role as its role name::

        @app.get("/photos")
        async def photos(
            creds: Annotated[AWSCredentials, Depends(aws_credentials_dependency(EDITOR_ARN))],
        ): ...

    Guests asking for a role get a 303 to sign-in (browser navigation) or a 401, users without
    the role a 403. Other failures become ``HTTPException``\\s (503 for throttling, outages and
    pool misconfiguration) carrying a clear message.
    """
    fetch = _credentials_of(role_arn)
    if role_arn is None:
        return fetch
    documented = [role_arn]
    fetched = Depends(fetch)

    async def dependency(
        credentials: AWSCredentials = fetched,
        _bearer: None = Security(bearer_scheme, scopes=documented),
        _session: None = Security(session_scheme, scopes=documented),
    ) -> AWSCredentials:
        return credentials

    return dependency


def _credentials_of(role_arn: str | None) -> Callable[[Request], Awaitable[AWSCredentials]]:
    async def dependency(request: Request) -> AWSCredentials:
        try:
            if role_arn is not None and not user_of(request.scope).is_authenticated:
                raise SignInRequiredError()
            return await get_aws_credentials(request, role_arn)
        except SignInRequiredError:
            refusal = _credentials_refusal(request.scope, SignInRequiredError())
            target = redirect_target(request.scope, refusal)
            if target is not None:
                raise HTTPException(303, headers={"Location": target}) from None
            raise _http_exception(refusal) from None
        except (IdentityPoolError, CognitoUnavailableError) as exc:
            raise _http_exception(_credentials_refusal(request.scope, exc)) from None

    return dependency


def _http_exception(refusal: Refusal) -> HTTPException:
    message = f"{refusal.message} ({refusal.detail})" if refusal.detail else refusal.message
    return HTTPException(refusal.status, message, headers=dict(refusal.headers) or None)
