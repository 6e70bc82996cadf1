"""cognito-middleware: make any Starlette or FastAPI app a secure AWS Cognito relying party."""

from __future__ import annotations

from ._refusal import Refusal
from .config import CognitoConfig, PathRule, Secret
from .context import RequestState, get_state
from .credentials import (
    AWSCredentials,
    CredentialCache,
    MemoryCredentialCache,
    boto3_session,
    get_aws_credentials,
    requires_role,
)
from .events import AuthEvent, AuthHooks
from .exceptions import (
    ClaimError,
    CognitoError,
    CognitoUnavailableError,
    ConfigurationError,
    ExpiredTokenError,
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
    InvalidGrantError,
    InvalidSignatureError,
    JWKSUnavailableError,
    KeyNotFoundError,
    MalformedTokenError,
    OAuthError,
    RoleNotAllowedError,
    SessionStoreUnavailableError,
    SessionTooLargeError,
    SignInRequiredError,
    TokenEndpointError,
    TokenError,
)
from .guards import login_required, requires_groups, requires_scopes
from .middleware import CognitoAuthMiddleware
from .sessions import (
    CookieSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionData,
    SessionStore,
)
from .user import AnonymousUser, CognitoUser

__all__ = [
    "AWSCredentials",
    "AnonymousUser",
    "AuthEvent",
    "AuthHooks",
    "ClaimError",
    "CognitoAuthMiddleware",
    "CognitoConfig",
    "CognitoError",
    "CognitoUnavailableError",
    "CognitoUser",
    "ConfigurationError",
    "CookieSessionStore",
    "CredentialCache",
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
    "MemoryCredentialCache",
    "MemorySessionStore",
    "OAuthError",
    "PathRule",
    "RedisSessionStore",
    "Refusal",
    "RequestState",
    "RoleNotAllowedError",
    "Secret",
    "SessionData",
    "SessionStore",
    "SessionStoreUnavailableError",
    "SessionTooLargeError",
    "SignInRequiredError",
    "TokenEndpointError",
    "TokenError",
    "boto3_session",
    "get_aws_credentials",
    "get_state",
    "login_required",
    "requires_groups",
    "requires_role",
    "requires_scopes",
]
