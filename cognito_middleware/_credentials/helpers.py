"""Temporary AWS credentials per request, from the Cognito identity pool.

Signed-in users get their IAM role, guests the pool's unauthenticated role::

    from cognito_middleware._credentials.helpers import boto3_session, get_aws_credentials

    async def upload(request):
        creds = await get_aws_credentials(request)
        s3 = boto3_session(creds).client("s3")
        ...

Nothing is asked of the identity pool until a handler asks for credentials. Credentials stay on
the server: they are cached per (identity, role) in a :class:`CredentialCache` and reused until
shortly before they expire, in the manner of botocore's ``RefreshableCredentials``:

* more than ``advisory_refresh`` seconds left (15 minutes): the cached snapshot is returned;
* inside the advisory window: one request refreshes, the others keep the current snapshot,
  and a failed refresh keeps it too;
* inside the mandatory window (5 minutes) or with nothing cached: every request waits for
  the refresh, and concurrent requests for one identity share a single call.

A guest's identity id lives in a small signed cookie (``cognito_guest``); a signed-in user's in
the session. When a guest signs in, the guest identity is linked to the user.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Scope

from .._config import CognitoConfig
from .._guards import Decision, Outcome, deny, refusal_for
from .._identity_pool import AWSCredentials
from .._refusal import Refusal, login_refusal, login_url, render, unavailable_refusal
from .._state import get_state, state_of, user_of
from ..exceptions import (
    CognitoUnavailableError,
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
    RoleNotAllowedError,
    SignInRequiredError,
)
from .cache import CredentialCache, MemoryCredentialCache
from .service import CredentialService

if TYPE_CHECKING:
    from boto3.session import Session as Boto3Session

__all__ = [
    "CREDENTIALS_EXCEPTION_HANDLERS",
    "AWSCredentials",
    "CredentialCache",
    "CredentialService",
    "MemoryCredentialCache",
    "boto3_session",
    "credentials_error_response",
    "get_aws_credentials",
    "requires_role",
]

logger = logging.getLogger("cognito_middleware._credentials.helpers")

F = TypeVar("F", bound=Callable[..., Any])


# Public helpers ---------------------------------------------------------------------------


async def get_aws_credentials(conn: HTTPConnection, role_arn: str | None = None) -> AWSCredentials:
    """Temporary AWS credentials for this request's user, or for the guest.

        async def photos(request):
            creds = await get_aws_credentials(request)
            s3 = boto3_session(creds).client("s3")
            ...

    ``role_arn`` asks for one of the user's ``cognito:roles``; otherwise Cognito's role
    resolution applies (``cognito:preferred_role``, then the pool's default). Errors are
    ``IdentityPoolError``\\s: turn them into answers with :func:`credentials_error_response` or
    :data:`CREDENTIALS_EXCEPTION_HANDLERS`.
    """
    state = get_state(conn)
    service = state.services.credentials
    if service is None:
        raise IdentityPoolConfigurationError(
            "IdentityPoolNotConfigured",
            "no identity pool is configured: set COGNITO_IDENTITY_POOL_ID "
            "(CognitoConfig.identity_pool_id)",
        )
    return cast(AWSCredentials, await service.get(state, role_arn))


def boto3_session(credentials: AWSCredentials, region: str | None = None) -> Boto3Session:
    """A ``boto3.Session`` using ``credentials`` (needs the ``[boto3]`` extra).

        s3 = boto3_session(await get_aws_credentials(request)).client("s3")

    ``region`` defaults to the identity pool's region.
    """
    try:
        import boto3
    except ImportError as exc:
        raise ImportError(
            "boto3_session() needs boto3: pip install 'cognito-middleware[boto3]'"
        ) from exc
    return boto3.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token,
        region_name=region or credentials.identity_id.split(":", 1)[0],
    )


def _credentials_refusal(scope: Scope, exc: Exception) -> Refusal:
    """The :class:`~cognito_middleware._refusal.Refusal` for a credentials error (see
    :func:`credentials_error_response`)."""
    if isinstance(exc, RoleNotAllowedError):
        return Refusal(
            status=403,
            error="role_not_allowed",
            message="You do not hold the IAM role this page needs.",
        )
    if isinstance(exc, SignInRequiredError):
        if state_of(scope) is None:
            return login_refusal(scope, None)
        return refusal_for(scope, Decision(Outcome.LOGIN_REQUIRED))
    if isinstance(exc, IdentityPoolAuthError):
        if exc.error_type == "MissingIdToken":
            return Refusal(status=403, error="id_token_required", message=exc.message)
        return Refusal(
            status=401,
            error="login_required",
            message="Your sign-in has expired. Please sign in again.",
            link=(login_url(scope, _config_of(scope)), "Sign in"),
        )
    if isinstance(exc, IdentityPoolConfigurationError):
        return Refusal(
            status=503,
            error="identity_pool_misconfigured",
            message="AWS credentials cannot be issued: the identity pool refuses by configuration.",
            detail=f"{exc.error_type}: {exc.message}",
        )
    if isinstance(exc, IdentityPoolThrottledError | CognitoUnavailableError):
        return unavailable_refusal(
            "AWS credentials are temporarily unavailable. Please try again in a moment.",
            error="aws_credentials_unavailable",
        )
    if isinstance(exc, IdentityPoolError):
        return Refusal(
            status=503,
            error="identity_pool_error",
            message="The identity pool refused the request.",
            detail=exc.error_type,
        )
    raise TypeError(f"not a credentials error: {type(exc).__name__}") from exc


def credentials_error_response(scope: Scope, exc: Exception) -> Response:
    """The answer to a credentials error: a page for browsers, JSON for APIs.

        try:
            creds = await get_aws_credentials(request)
        except IdentityPoolError as exc:
            return credentials_error_response(request.scope, exc)

    ``RoleNotAllowedError`` is a 403, an expired sign-in a 401, throttling, outages and pool
    misconfiguration a 503 whose text names the cause. Secrets and tokens never appear.
    """
    return render(scope, _credentials_refusal(scope, exc))


async def _credentials_exception_handler(request: Request, exc: Exception) -> Response:
    return credentials_error_response(request.scope, exc)


CREDENTIALS_EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]
CREDENTIALS_EXCEPTION_HANDLERS = {
    IdentityPoolError: _credentials_exception_handler,
    CognitoUnavailableError: _credentials_exception_handler,
}
"""Starlette/FastAPI exception handlers for credentials errors::

    app = Starlette(routes=..., exception_handlers=CREDENTIALS_EXCEPTION_HANDLERS)
"""


def _config_of(scope: Scope) -> CognitoConfig | None:
    state = state_of(scope)
    return state.config if state is not None else None


def requires_role(role_arn: str) -> Callable[[F], F]:
    """Protect an async endpoint that needs the IAM role ``role_arn``.

        @requires_role("arn:aws:iam::111122223333:role/editor")
        async def edit(request):
            creds = await get_aws_credentials(request, role_arn=EDITOR)
            ...

    Guests are sent to sign in as the path guards do (a 303 to the sign-in page for a browser
    navigation, following ``config.login_redirect``, else a 401); signed-in users
    without the role in ``cognito:roles`` a 403. Credentials errors raised by the endpoint are
    answered as :func:`credentials_error_response` does. The endpoint needs a ``request`` (or
    ``websocket``) parameter; it works for Starlette routes and FastAPI path operations.
    """

    def decorator(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError("requires_role() protects async endpoints")
        params = list(inspect.signature(func).parameters)
        name = next((p for p in ("request", "websocket") if p in params), None)
        if name is None:
            raise TypeError(f'no "request" or "websocket" parameter in {func.__qualname__}()')
        index = params.index(name)

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            conn = kwargs[name] if name in kwargs else args[index]
            user = user_of(conn.scope)
            if not user.is_authenticated:
                return deny(conn.scope, Decision(Outcome.LOGIN_REQUIRED))
            if role_arn not in user.roles:
                logger.info("refused a route that needs an IAM role the user does not hold")
                return credentials_error_response(conn.scope, RoleNotAllowedError(role_arn))
            try:
                return await func(*args, **kwargs)
            except (IdentityPoolError, CognitoUnavailableError) as exc:
                return credentials_error_response(conn.scope, exc)

        return cast(F, wrapper)

    return decorator
