"""The error tree of cognito-middleware.

    CognitoError
    ├── ConfigurationError              a setting is missing or wrong (names the setting)
    ├── TokenError                      a JWT was refused
    │   ├── MalformedTokenError         not a compact JWS, bad base64/JSON, too large, bad header
    │   ├── InvalidSignatureError       signature does not verify, or a forbidden algorithm
    │   ├── KeyNotFoundError            no key for the token's ``kid`` even after a refetch
    │   ├── ExpiredTokenError           ``exp`` is past (beyond the leeway)
    │   └── ClaimError                  a claim is missing or has the wrong value
    ├── CognitoUnavailableError         Cognito did not answer in time (JWKS, token, identity)
    │   ├── JWKSUnavailableError        the key set could not be fetched
    │   └── SessionStoreUnavailableError  the session store (Redis) did not answer
    ├── SessionTooLargeError            the session does not fit in the cookies (use Redis)
    ├── OAuthError                      the OAuth flow failed
    │   └── TokenEndpointError          ``/oauth2/token`` or ``/oauth2/revoke`` answered an error
    │       └── InvalidGrantError       code or refresh token unknown, used, revoked or expired
    └── IdentityPoolError               the identity pool answered an error (``__type``)
        ├── IdentityPoolConfigurationError  the pool is misconfigured or refuses guests
        ├── IdentityPoolThrottledError      throttled or failing, retries exhausted
        ├── IdentityPoolAuthError           ``NotAuthorizedException`` (e.g. an expired ID token)
        ├── RoleNotAllowedError             a role was asked for that the user does not hold
        └── SignInRequiredError             a guest asked while guest credentials are off

Every leaf carries the data needed to act on it; messages never contain tokens, codes or secrets.
"""

from __future__ import annotations

__all__ = [
    "ClaimError",
    "CognitoError",
    "CognitoUnavailableError",
    "ConfigurationError",
    "ExpiredTokenError",
    "IdentityPoolAuthError",
    "IdentityPoolConfigurationError",
    "IdentityPoolError",
    "IdentityPoolThrottledError",
    "InvalidGrantError",
    "InvalidSignatureError",
    "JWKSUnavailableError",
    "KeyNotFoundError",
    "MalformedTokenError",
    "OAuthError",
    "RoleNotAllowedError",
    "SessionStoreUnavailableError",
    "SessionTooLargeError",
    "SignInRequiredError",
    "TokenEndpointError",
    "TokenError",
]


class CognitoError(Exception):
    """Root of every error raised by cognito-middleware."""


class ConfigurationError(CognitoError, ValueError):
    """A configuration value is missing or invalid.

    ``setting`` names what to fix: an environment variable (``COGNITO_CLIENT_ID``) when the
    configuration came from the environment, else the ``CognitoConfig`` field.
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class TokenError(CognitoError):
    """A token was refused. ``reason`` is safe to log and to show; it never holds the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedTokenError(TokenError):
    """The token is not a well-formed, reasonably sized compact JWS."""


class InvalidSignatureError(TokenError):
    """The signature does not verify, or the header asks for an algorithm other than RS256."""


class KeyNotFoundError(TokenError):
    """No key in the issuer's JWKS matches the token's ``kid``, even after one refetch."""

    def __init__(self, kid: str | None) -> None:
        super().__init__(f"no signing key for kid {kid!r}")
        self.kid = kid


class ExpiredTokenError(TokenError):
    """The token's ``exp`` is in the past (beyond the configured leeway)."""


class ClaimError(TokenError):
    """A claim is missing or does not have the expected value."""

    def __init__(self, claim: str, reason: str, *, expected: object = None, actual: object = None):
        super().__init__(f"claim {claim!r}: {reason}")
        self.claim = claim
        self.expected = expected
        self.actual = actual


class CognitoUnavailableError(CognitoError):
    """Cognito did not answer, answered 5xx, or timed out."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service} unavailable: {detail}")
        self.service = service
        self.detail = detail


class JWKSUnavailableError(CognitoUnavailableError):
    """The issuer's JWKS could not be fetched and no cached key fits."""

    def __init__(self, detail: str) -> None:
        super().__init__("JWKS", detail)


class SessionStoreUnavailableError(CognitoUnavailableError):
    """The server-side session store (Redis) could not be reached or timed out."""

    def __init__(self, detail: str) -> None:
        super().__init__("session store", detail)


class SessionTooLargeError(CognitoError, ValueError):
    """The sealed session needs more cookies than allowed: ``size`` bytes. Use a server-side
    store (``COGNITO_SESSION_STORE``)."""

    def __init__(self, size: int, max_chunks: int) -> None:
        super().__init__(
            f"the sealed session is {size} bytes, more than {max_chunks} cookies can carry; "
            "use the memory or Redis session store (COGNITO_SESSION_STORE)"
        )
        self.size = size
        self.max_chunks = max_chunks


class OAuthError(CognitoError):
    """The OAuth 2.0 flow failed. ``error`` is an OAuth error code, ``description`` free text."""

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class TokenEndpointError(OAuthError):
    """``/oauth2/token`` or ``/oauth2/revoke`` answered with an OAuth error."""

    def __init__(self, error: str, description: str | None = None, *, status: int = 400) -> None:
        super().__init__(error, description)
        self.status = status


class InvalidGrantError(TokenEndpointError):
    """The code or refresh token is unknown, already used, revoked or expired."""


class IdentityPoolError(CognitoError):
    """The identity pool answered an error: ``error_type`` is Cognito's ``__type``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class IdentityPoolConfigurationError(IdentityPoolError):
    """The identity pool refuses by configuration (no guests, no roles, pool not found)."""


class IdentityPoolThrottledError(IdentityPoolError):
    """Throttling, 5xx or timeouts outlasted the retry deadline."""


class IdentityPoolAuthError(IdentityPoolError):
    """``NotAuthorizedException``: the login token was refused (often: it expired)."""


class RoleNotAllowedError(IdentityPoolError):
    """The requested IAM role is not among the user's ``cognito:roles``; AWS was not called."""

    def __init__(self, role_arn: str) -> None:
        super().__init__("RoleNotAllowed", f"role {role_arn} is not among the user's cognito:roles")
        self.role_arn = role_arn


class SignInRequiredError(IdentityPoolError):
    """A guest asked for AWS credentials while guest credentials are off
    (``guest_credentials=False``); AWS was not called."""

    def __init__(self) -> None:
        super().__init__(
            "SignInRequired", "guests get no AWS credentials (guest_credentials is off): sign in"
        )
