"""Temporary AWS credentials per request, from the Cognito identity pool.

Signed-in users get their IAM role, guests the pool's unauthenticated role::

    from cognito_middleware.credentials import boto3_session, get_aws_credentials

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

import asyncio
import functools
import inspect
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

import httpx
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Scope

from ._memo import Memo
from ._refusal import (
    Refusal,
    login_refusal,
    login_url,
    redirect_target,
    render,
    unavailable_refusal,
)
from .config import CognitoConfig
from .context import RequestState, get_state, state_of, user_of
from .cookies import expire_cookie, set_cookie
from .exceptions import (
    CognitoUnavailableError,
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
    RoleNotAllowedError,
    SignInRequiredError,
)
from .guards import Decision, Outcome, deny, refusal_for
from .identity_pool import AWSCredentials, IdentityPoolClient

if TYPE_CHECKING:
    from boto3.session import Session as Boto3Session

__all__ = [
    "CREDENTIALS_EXCEPTION_HANDLERS",
    "AWSCredentials",
    "CredentialCache",
    "CredentialService",
    "MemoryCredentialCache",
    "aws_credentials_dependency",
    "boto3_session",
    "credentials_error_response",
    "get_aws_credentials",
    "requires_role",
]

logger = logging.getLogger("cognito_middleware.credentials")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

GUEST_COOKIE = "cognito_guest"
_GUEST_MAX_AGE = 365 * 24 * 3600
_GUEST_RENEW_AFTER = 30 * 24 * 3600
_LOGINS_MISMATCH = "logins don't match"
_NOT_FOUND = "ResourceNotFoundException"
_LOGGED_MAX = 64
_KNOWN_IDENTITIES_MAX = 10_000


# Cache ------------------------------------------------------------------------------------


@runtime_checkable
class CredentialCache(Protocol):
    """Where credentials are kept between requests, keyed by an opaque string built from the
    identity id, the role and whether the identity is signed in.

    Implementations must keep credentials server-side only and may drop entries at any time.
    """

    async def get(self, key: str) -> AWSCredentials | None:
        """The credentials stored under ``key``, or ``None`` (absent or already expired)."""
        ...

    async def set(self, key: str, credentials: AWSCredentials) -> None:
        """Store ``credentials`` under ``key`` (until they expire, at most)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        ...


class MemoryCredentialCache:
    """A bounded in-process :class:`CredentialCache` (least recently used entries go first).

        cache = MemoryCredentialCache(max_entries=50_000)
        service = CredentialService(config, http, cache=cache)
    """

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, AWSCredentials] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> AWSCredentials | None:
        creds = self._entries.get(key)
        if creds is None:
            return None
        if creds.expiration <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return creds

    async def set(self, key: str, credentials: AWSCredentials) -> None:
        self._entries[key] = credentials
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)


def _cache_key(identity_id: str, role_arn: str | None, *, authenticated: bool) -> str:
    # A guest identity that gets linked may keep its id; the flag keeps its unauthenticated
    # credentials from ever being served to the signed-in user (or the other way round).
    return f"{'auth' if authenticated else 'guest'}|{identity_id}|{role_arn or ''}"


# Single flight ----------------------------------------------------------------------------


async def _single_flight(
    flights: dict[str, asyncio.Task[T]],
    key: str,
    factory: Callable[[], Coroutine[Any, Any, T]],
) -> T:
    task = flights.get(key)
    if task is None:
        task = asyncio.create_task(factory())
        flights[key] = task
        task.add_done_callback(functools.partial(_flight_done, flights, key))
    # Shielded: a request that goes away must not cancel the call the others are waiting for.
    return await asyncio.shield(task)


def _flight_done(flights: dict[str, asyncio.Task[T]], key: str, task: asyncio.Task[T]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved, so a flight whose waiters all left is not reported


# The service ------------------------------------------------------------------------------


class CredentialService:
    """Resolves the request's identity and returns credentials for it; one per middleware.

    Constructing it does no I/O. ``deadline`` bounds each identity-pool call with its retries
    (default: twice ``config.http_timeout``). The middleware publishes it as
    ``RequestState.services.credentials``; handlers use :func:`get_aws_credentials`::

        service = CredentialService(config, http)
        creds = await service.get(state, role_arn="arn:aws:iam::111122223333:role/editor")
    """

    def __init__(
        self,
        config: CognitoConfig,
        http: httpx.AsyncClient,
        *,
        cache: CredentialCache | None = None,
        clock: Callable[[], float] = time.time,
        client: IdentityPoolClient | None = None,
        deadline: float | None = None,
        advisory_refresh: float = 15 * 60,
        mandatory_refresh: float = 5 * 60,
    ) -> None:
        if not 0 <= mandatory_refresh <= advisory_refresh:
            raise ValueError("need 0 <= mandatory_refresh <= advisory_refresh")
        self._config = config
        self._client = client or IdentityPoolClient(config, http, clock=clock, deadline=deadline)
        self._cache: CredentialCache = cache or MemoryCredentialCache(clock=clock)
        self._clock = clock
        self._advisory = advisory_refresh
        self._mandatory = mandatory_refresh
        self._secure = config.cookies_secure
        self.guest_cookie_name = f"__Host-{GUEST_COOKIE}" if self._secure else GUEST_COOKIE
        self._guests = _guest_serializer(config, self._client.identity_pool_id, clock)
        self._guest_memo: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._credential_flights: dict[str, asyncio.Task[AWSCredentials]] = {}
        self._id_flights: dict[str, asyncio.Task[str]] = {}
        self._new_guests: weakref.WeakKeyDictionary[RequestState, str] = (
            weakref.WeakKeyDictionary()
        )
        self._logged: set[tuple[str, str]] = set()
        self._known_identities: OrderedDict[str, str] = OrderedDict()
        # (login, guest identity) -> the identity linking gave: requests still carrying the
        # guest cookie (sent before the browser saw it expire) reuse it instead of linking again.
        self._linked_guests: Memo[tuple[str, str], str] = Memo(_KNOWN_IDENTITIES_MAX)

    @property
    def cache(self) -> CredentialCache:
        return self._cache

    async def get(self, state: RequestState, role_arn: str | None = None) -> AWSCredentials:
        """Credentials for the request's user (or guest), for ``role_arn`` when given.

        Raises :class:`RoleNotAllowedError` (without calling AWS) when ``role_arn`` is not among
        the user's ``cognito:roles`` or the visitor is a guest,
        :class:`IdentityPoolConfigurationError` when the pool refuses by configuration,
        :class:`IdentityPoolThrottledError` when it stays throttled or unreachable, and
        :class:`IdentityPoolAuthError` when the user's sign-in is no longer accepted.
        """
        user = state.user
        if not user.is_authenticated and not self._config.guest_credentials:
            raise SignInRequiredError()
        if role_arn is not None and (not user.is_authenticated or role_arn not in user.roles):
            logger.info("refused AWS credentials for a role the user does not hold")
            raise RoleNotAllowedError(role_arn)
        try:
            if user.is_authenticated:
                return await self._for_user(state, role_arn)
            return await self._for_guest(state)
        except IdentityPoolConfigurationError as exc:
            self._log_configuration_error(exc)
            raise

    # Signed-in users ----------------------------------------------------------------------

    async def _for_user(self, state: RequestState, role_arn: str | None) -> AWSCredentials:
        session = state.session
        if session is None:
            raise IdentityPoolAuthError(
                "MissingIdToken",
                "AWS credentials need a signed-in session: the identity pool takes an ID token, "
                "not a Bearer access token",
            )
        guest = self._read_guest(state)
        identity_id = session.identity_id
        if identity_id is None and guest is not None:
            identity_id = self._linked_guests.get((self._login_key(state), guest[0]))
            if identity_id is None:
                linked = await self._link(state, guest[0], role_arn)
                if linked is not None:
                    return linked
        if guest is not None:
            self._expire_guest_cookie(state)
        if identity_id is None:
            identity_id = self._known_identities.get(self._login_key(state))
            if identity_id is not None:
                self._keep_identity(state, identity_id)
            else:
                identity_id = await self._identity_for_login(state)
        key = _cache_key(identity_id, role_arn, authenticated=True)
        requested = identity_id
        creds = await self._obtain(
            key,
            lambda: self._fetch_for_user(state, requested, role_arn),
            role_arn=role_arn,
            authenticated=True,
        )
        self._keep_identity(state, creds.identity_id)
        return creds

    async def _link(
        self, state: RequestState, guest_id: str, role_arn: str | None
    ) -> AWSCredentials | None:
        login = self._login_key(state)

        async def link() -> AWSCredentials:
            creds = await self._with_fresh_token(
                state,
                lambda logins: self._client.get_credentials_for_identity(
                    guest_id, logins, role_arn
                ),
            )
            # Known before the flight ends, as GetId's answer is.
            self._linked_guests.put((login, guest_id), creds.identity_id)
            self._remember_identity(login, creds.identity_id)
            key = _cache_key(creds.identity_id, role_arn, authenticated=True)
            await self._cache.set(key, creds)
            return creds

        try:
            # Keyed by the login too: two users presenting one guest cookie must never
            # share an answer.
            creds = await _single_flight(
                self._credential_flights,
                f"link|{login}|{guest_id}|{role_arn or ''}",
                link,
            )
        except IdentityPoolAuthError as exc:
            if _LOGINS_MISMATCH not in exc.message.lower():
                raise
            logger.info("guest identity belongs to another login; using the user's own")
            return None
        except IdentityPoolError as exc:
            if exc.error_type != _NOT_FOUND:
                raise
            logger.info("guest identity no longer exists; using the user's own")
            return None
        self._keep_identity(state, creds.identity_id)
        self._expire_guest_cookie(state)
        return creds

    async def _identity_for_login(self, state: RequestState) -> str:
        login = self._login_key(state)

        async def get_id() -> str:
            identity_id = await self._with_fresh_token(state, self._client.get_id)
            # Known before the flight ends: a request arriving between the end of the flight
            # and its waiters resuming must find the identity, not start a second GetId.
            self._remember_identity(login, identity_id)
            return identity_id

        identity_id = await _single_flight(self._id_flights, f"id|{login}", get_id)
        self._keep_identity(state, identity_id)
        return identity_id

    @staticmethod
    def _login_key(state: RequestState) -> str:
        return str(state.user.sub or "")

    async def _fetch_for_user(
        self, state: RequestState, identity_id: str, role_arn: str | None
    ) -> AWSCredentials:
        try:
            return await self._with_fresh_token(
                state,
                lambda logins: self._client.get_credentials_for_identity(
                    identity_id, logins, role_arn
                ),
            )
        except IdentityPoolError as exc:
            if exc.error_type != _NOT_FOUND:
                raise
        logger.info("the session's identity no longer exists; asking for a new one")
        fresh_id = await self._with_fresh_token(state, self._client.get_id)
        return await self._with_fresh_token(
            state,
            lambda logins: self._client.get_credentials_for_identity(fresh_id, logins, role_arn),
        )

    async def _with_fresh_token(
        self, state: RequestState, call: Callable[[Mapping[str, str]], Awaitable[T]]
    ) -> T:
        try:
            return await call(self._logins(state))
        except IdentityPoolAuthError as exc:
            if _LOGINS_MISMATCH in exc.message.lower():
                raise
            if not await state.refresh_tokens():
                raise
            logger.info("the identity pool refused the ID token; retrying with refreshed tokens")
        return await call(self._logins(state))

    def _logins(self, state: RequestState) -> dict[str, str]:
        if state.session is None:
            raise IdentityPoolAuthError("MissingIdToken", "the session has ended")
        return {self._config.login_provider_key: state.session.id_token}

    def _keep_identity(self, state: RequestState, identity_id: str) -> None:
        if state.session is None:
            return
        # Other sessions of the same user (other tabs racing the first answer, other devices)
        # reuse the identity instead of each asking GetId; a stale entry is caught by
        # ResourceNotFoundException and replaced.
        self._remember_identity(self._login_key(state), identity_id)
        if state.session.identity_id != identity_id:
            state.update_session(identity_id=identity_id)

    def _remember_identity(self, login: str, identity_id: str) -> None:
        self._known_identities[login] = identity_id
        self._known_identities.move_to_end(login)
        while len(self._known_identities) > _KNOWN_IDENTITIES_MAX:
            self._known_identities.popitem(last=False)

    # Guests -------------------------------------------------------------------------------

    async def _for_guest(self, state: RequestState) -> AWSCredentials:
        guest = self._read_guest(state)
        pending = self._new_guests.get(state)
        if pending is not None:
            identity_id, fresh = pending, True
        elif guest is not None:
            identity_id, fresh = guest[0], False
            if self._clock() - guest[1] > _GUEST_RENEW_AFTER:
                self._set_guest_cookie(state, identity_id)
        else:
            identity_id, fresh = await self._new_guest(state), True
        try:
            return await self._guest_credentials(identity_id)
        except IdentityPoolError as exc:
            gone = isinstance(exc, IdentityPoolAuthError) or exc.error_type == _NOT_FOUND
            if fresh or not gone:
                raise
        # The identity was linked to a signed-in user (or deleted): this visitor needs a new one.
        logger.info("guest identity no longer usable as a guest; creating a new one")
        return await self._guest_credentials(await self._new_guest(state))

    async def _guest_credentials(self, identity_id: str) -> AWSCredentials:
        return await self._obtain(
            _cache_key(identity_id, None, authenticated=False),
            lambda: self._client.get_credentials_for_identity(identity_id),
            role_arn=None,
            authenticated=False,
        )

    async def _new_guest(self, state: RequestState) -> str:
        async def create() -> str:
            identity_id = await self._client.get_id(None)
            self._new_guests[state] = identity_id
            self._set_guest_cookie(state, identity_id)
            return identity_id

        return await _single_flight(self._id_flights, f"guest|{id(state)}", create)

    def _read_guest(self, state: RequestState) -> tuple[str, float] | None:
        raw = state.cookies.get(self.guest_cookie_name)
        if not raw:
            return None
        known = self._guest_memo.get(raw)
        if known is not None:
            if self._clock() - known[1] <= _GUEST_MAX_AGE:
                return known
            del self._guest_memo[raw]
            return None
        try:
            value, signed_at = self._guests.loads(
                raw, max_age=_GUEST_MAX_AGE, return_timestamp=True
            )
        except BadSignature:
            return None
        if not isinstance(value, str) or not value:
            return None
        # A signature once checked stays valid for these keys: guest pages skip the HMAC.
        result = (value, signed_at.timestamp())
        self._guest_memo[raw] = result
        if len(self._guest_memo) > _KNOWN_IDENTITIES_MAX:
            self._guest_memo.popitem(last=False)
        return result

    def _set_guest_cookie(self, state: RequestState, identity_id: str) -> None:
        value = self._guests.dumps(identity_id)
        state.set_cookies.append(
            set_cookie(self.guest_cookie_name, value, secure=self._secure, max_age=_GUEST_MAX_AGE)
        )

    def _expire_guest_cookie(self, state: RequestState) -> None:
        expired = expire_cookie(self.guest_cookie_name, secure=self._secure)
        if expired not in state.set_cookies:
            state.set_cookies.append(expired)

    # Cache and refresh windows ------------------------------------------------------------

    async def _obtain(
        self,
        key: str,
        fetch: Callable[[], Coroutine[Any, Any, AWSCredentials]],
        *,
        role_arn: str | None,
        authenticated: bool,
    ) -> AWSCredentials:
        cached = await self._cache.get(key)
        if cached is not None:
            left = cached.expiration - self._clock()
            if left > self._advisory:
                return cached
            if left > self._mandatory:
                if key in self._credential_flights:
                    return cached
                try:
                    return await self._refresh(key, fetch, role_arn, authenticated)
                except (IdentityPoolError, CognitoUnavailableError) as exc:
                    logger.warning(
                        "advisory refresh of AWS credentials failed (%s); the current ones "
                        "stay in use for %.0f more seconds",
                        type(exc).__name__,
                        left,
                    )
                    return cached
        return await self._refresh(key, fetch, role_arn, authenticated)

    async def _refresh(
        self,
        key: str,
        fetch: Callable[[], Coroutine[Any, Any, AWSCredentials]],
        role_arn: str | None,
        authenticated: bool,
    ) -> AWSCredentials:
        async def refresh() -> AWSCredentials:
            creds = await fetch()
            await self._cache.set(key, creds)
            moved = _cache_key(creds.identity_id, role_arn, authenticated=authenticated)
            if moved != key:
                await self._cache.set(moved, creds)
            return creds

        return await _single_flight(self._credential_flights, key, refresh)

    def _log_configuration_error(self, exc: IdentityPoolConfigurationError) -> None:
        marker = (exc.error_type, exc.message)
        if marker in self._logged:
            return
        if len(self._logged) < _LOGGED_MAX:
            self._logged.add(marker)
        logger.error(
            "the identity pool refuses AWS credentials by configuration: %s: %s",
            exc.error_type,
            exc.message,
        )


def _guest_serializer(
    config: CognitoConfig, pool_id: str, clock: Callable[[], float]
) -> URLSafeTimedSerializer:
    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    # itsdangerous signs with the last key and verifies with all; the config's first secret
    # is the current one.
    keys = [secret.get() for secret in reversed(config.session_secrets)]
    return URLSafeTimedSerializer(
        keys, salt=f"cognito-middleware.guest-identity:{pool_id}", signer=_Signer
    )


# Public helpers ---------------------------------------------------------------------------


async def get_aws_credentials(
    conn: HTTPConnection, role_arn: str | None = None
) -> AWSCredentials:
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
            status=403, error="role_not_allowed",
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
            status=401, error="login_required",
            message="Your sign-in has expired. Please sign in again.",
            link=(login_url(scope, _config_of(scope)), "Sign in"),
        )
    if isinstance(exc, IdentityPoolConfigurationError):
        return Refusal(
            status=503, error="identity_pool_misconfigured",
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
            status=503, error="identity_pool_error",
            message="The identity pool refused the request.", detail=exc.error_type,
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


def aws_credentials_dependency(
    role_arn: str | None = None,
) -> Callable[[Request], Awaitable[AWSCredentials]]:
    """A dependency returning the request's AWS credentials (FastAPI ``Depends``).

        @app.get("/photos")
        async def photos(creds: AWSCredentials = Depends(aws_credentials_dependency())):
            ...

    With ``role_arn`` it also guards the route: guests get a 303 to sign-in (browser
    navigation) or 401, users without the role a 403. Failures become ``HTTPException``\\s
    (503 for throttling, outages and pool misconfiguration) carrying a clear message.
    """

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
