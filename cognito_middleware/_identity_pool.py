"""Client of the Cognito identity pool API (``GetId``, ``GetCredentialsForIdentity``).

Both operations are unsigned JSON 1.1 calls, made over the middleware's shared
``httpx.AsyncClient``::

    client = IdentityPoolClient(config, http, clock=time.time)
    identity_id = await client.get_id({config.login_provider_key: id_token})
    creds = await client.get_credentials_for_identity(
        identity_id, {config.login_provider_key: id_token}
    )

Errors are mapped onto the ``IdentityPoolError`` branch of :mod:`cognito_middleware.exceptions`:

    NotAuthorizedException (login refused, token expired)   -> IdentityPoolAuthError
    NotAuthorizedException (no guests, unsupported provider) -> IdentityPoolConfigurationError
    InvalidIdentityPoolConfigurationException               -> IdentityPoolConfigurationError
    ResourceNotFoundException from GetId (no such pool)     -> IdentityPoolConfigurationError
    TooManyRequestsException, 5xx, timeouts, network errors -> retried, then
                                                               IdentityPoolThrottledError
    anything else                                           -> IdentityPoolError

Only throttling and transient failures are retried (both operations are idempotent), with full
jitter exponential backoff, never past ``deadline`` seconds after the call started.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ._config import CognitoConfig
from .exceptions import (
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
)

__all__ = ["AWSCredentials", "IdentityPoolClient"]

logger = logging.getLogger("cognito_middleware._identity_pool")

_TARGET_PREFIX = "AWSCognitoIdentityService."
_CONTENT_TYPE = "application/x-amz-json-1.1"
_RETRYABLE_TYPES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "InternalErrorException",
        "ServiceUnavailableException",
        "ExternalServiceException",
    }
)
# NotAuthorizedException messages that describe the pool, not the caller's token: retrying with
# a fresh token cannot help, the pool's settings must change.
_CONFIGURATION_MESSAGES = (
    "unauthenticated access is not supported",
    "not from a supported provider",
    "issuer doesn't match providername",
)
_MAX_MESSAGE = 300
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-+/=]{40,}(?:\.[A-Za-z0-9_\-+/=]*)*")
_MAX_ATTEMPTS = 10


@dataclass(frozen=True, kw_only=True)
class AWSCredentials:
    """A frozen snapshot of temporary AWS credentials from the identity pool.

    A request holds one snapshot for its whole life, so it never mixes an old key with a new
    session token. ``repr()`` masks the secret key and the session token::

        creds = await get_aws_credentials(request)
        s3 = boto3_session(creds).client("s3")
        print(creds)  # AWSCredentials(access_key_id='ASIA...', secret_key='****', ...)

    ``expiration`` is epoch seconds; :attr:`expiration_datetime` is the same instant in UTC.
    ``role_arn`` is the role that was asked for (``None``: Cognito's role resolution chose it).
    """

    access_key_id: str
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: float
    identity_id: str
    role_arn: str | None = None

    @property
    def expiration_datetime(self) -> datetime:
        """``expiration`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.expiration, tz=UTC)

    def seconds_left(self, now: float) -> float:
        """Seconds until the credentials expire, measured from ``now`` (epoch seconds)."""
        return self.expiration - now

    def __repr__(self) -> str:
        return (
            f"AWSCredentials(access_key_id={self.access_key_id!r}, secret_key='****', "
            f"session_token='****', expiration={self.expiration!r}, "
            f"identity_id={self.identity_id!r}, role_arn={self.role_arn!r})"
        )

    __str__ = __repr__


def _error_type(response: httpx.Response, body: Mapping[str, Any]) -> str:
    raw = body.get("__type") or response.headers.get("x-amzn-errortype") or ""
    # Seen as "NotAuthorizedException", "com.amazonaws...#NotAuthorizedException" and, in the
    # header, "NotAuthorizedException:http://internal.amazon.com/...".
    name = str(raw).split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name or f"HTTP{response.status_code}"


def _message(body: Mapping[str, Any]) -> str:
    message = str(body.get("message") or body.get("Message") or "")
    # Validation messages may echo request values (a login token): never let one through.
    return _TOKEN_LIKE.sub("[redacted]", message)[:_MAX_MESSAGE]


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class IdentityPoolClient:
    """Calls the identity pool at ``config.identity_endpoint_url`` (real or local Cognito).

    ``deadline`` bounds a call with all its retries (default: twice ``config.http_timeout``);
    each attempt's timeout is ``config.http_timeout``, cut short so that no call outlives the
    deadline. ``clock`` measures it; ``sleep`` and ``rng`` are injectable so tests can run the
    backoff without waiting.
    """

    def __init__(
        self,
        config: CognitoConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        deadline: float | None = None,
        base_delay: float = 0.1,
        max_delay: float = 2.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if config.identity_pool_id is None:
            raise IdentityPoolConfigurationError(
                "IdentityPoolNotConfigured",
                "no identity pool is configured: set COGNITO_IDENTITY_POOL_ID "
                "(CognitoConfig.identity_pool_id)",
            )
        self._pool_id = config.identity_pool_id
        self._url = config.identity_endpoint_url
        self._timeout = config.http_timeout
        self._http = http
        self._clock = clock
        self._deadline = 2 * config.http_timeout if deadline is None else deadline
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._rng = rng

    @property
    def identity_pool_id(self) -> str:
        return self._pool_id

    async def get_id(self, logins: Mapping[str, str] | None = None) -> str:
        """The identity id for ``logins``; without logins, a new guest identity.

        Raises :class:`IdentityPoolConfigurationError` when the pool does not exist or does not
        allow guests, :class:`IdentityPoolAuthError` when a login token is refused.
        """
        payload: dict[str, Any] = {"IdentityPoolId": self._pool_id}
        if logins:
            payload["Logins"] = dict(logins)
        body = await self._call("GetId", payload)
        identity_id = body.get("IdentityId")
        if not isinstance(identity_id, str) or not identity_id:
            raise IdentityPoolError("InvalidResponse", "GetId answered without an IdentityId")
        return identity_id

    async def get_credentials_for_identity(
        self,
        identity_id: str,
        logins: Mapping[str, str] | None = None,
        custom_role_arn: str | None = None,
    ) -> AWSCredentials:
        """Temporary credentials for ``identity_id``.

        With ``logins`` for a guest identity, Cognito links the guest identity to the login;
        the returned ``identity_id`` is the one to keep from then on. An unknown identity
        raises :class:`IdentityPoolError` with ``error_type == "ResourceNotFoundException"``.
        """
        payload: dict[str, Any] = {"IdentityId": identity_id}
        if logins:
            payload["Logins"] = dict(logins)
        if custom_role_arn:
            payload["CustomRoleArn"] = custom_role_arn
        body = await self._call("GetCredentialsForIdentity", payload)
        raw = body.get("Credentials")
        try:
            if not isinstance(raw, dict):
                raise TypeError
            returned_id = body.get("IdentityId") or identity_id
            return AWSCredentials(
                access_key_id=str(raw["AccessKeyId"]),
                secret_key=str(raw["SecretKey"]),
                session_token=str(raw["SessionToken"]),
                expiration=float(raw["Expiration"]),
                identity_id=str(returned_id),
                role_arn=custom_role_arn,
            )
        except (KeyError, TypeError, ValueError):
            raise IdentityPoolError(
                "InvalidResponse", "GetCredentialsForIdentity answered without usable Credentials"
            ) from None

    async def _call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": _CONTENT_TYPE, "X-Amz-Target": _TARGET_PREFIX + operation}
        content = json.dumps(payload, separators=(",", ":")).encode()
        deadline_at = self._clock() + self._deadline
        attempt = 0
        while True:
            attempt += 1
            timeout = max(0.001, min(self._timeout, deadline_at - self._clock()))
            try:
                response = await self._http.post(
                    self._url, content=content, headers=headers, timeout=timeout
                )
            except httpx.TimeoutException:
                cause, detail = "Timeout", f"no answer within {timeout:.1f}s"
            except httpx.TransportError as exc:
                cause, detail = "ConnectionError", type(exc).__name__
            else:
                body = _json_body(response)
                if response.status_code == 200:
                    return body
                error_type, message = _error_type(response, body), _message(body)
                if response.status_code < 500 and error_type not in _RETRYABLE_TYPES:
                    raise self._error(operation, error_type, message)
                cause, detail = error_type, message or f"HTTP {response.status_code}"
            delay = self._rng() * min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
            if attempt >= _MAX_ATTEMPTS or self._clock() + delay >= deadline_at:
                logger.warning(
                    "identity pool %s failed after %d attempts: %s", operation, attempt, cause
                )
                raise IdentityPoolThrottledError(
                    cause, f"{operation} failed after {attempt} attempts: {detail}"
                )
            logger.info(
                "identity pool %s: %s, retrying in %.2fs (attempt %d)",
                operation,
                cause,
                delay,
                attempt,
            )
            await self._sleep(delay)

    @staticmethod
    def _error(operation: str, error_type: str, message: str) -> IdentityPoolError:
        if error_type == "NotAuthorizedException":
            lowered = message.lower()
            if any(text in lowered for text in _CONFIGURATION_MESSAGES):
                return IdentityPoolConfigurationError(error_type, message)
            return IdentityPoolAuthError(error_type, message)
        if error_type == "InvalidIdentityPoolConfigurationException":
            return IdentityPoolConfigurationError(error_type, message)
        if error_type == "ResourceNotFoundException" and operation == "GetId":
            return IdentityPoolConfigurationError(
                error_type, message or "the identity pool does not exist"
            )
        return IdentityPoolError(error_type, message)
