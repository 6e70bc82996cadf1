"""cognito-middleware: make any Starlette or FastAPI app a secure AWS Cognito relying party."""

from __future__ import annotations

from ._config import CognitoConfig, PathRule, Secret
from ._credentials.helpers import (
    CREDENTIALS_EXCEPTION_HANDLERS,
    AWSCredentials,
    CredentialCache,
    MemoryCredentialCache,
    boto3_session,
    credentials_error_response,
    get_aws_credentials,
    requires_role,
)
from ._events import AuthEvent, AuthHooks
from ._guards import PathRules, deny, login_required, requires_groups, requires_scopes
from ._middleware import CognitoAuthMiddleware
from ._refusal import Refusal
from ._state import RequestState, get_state
from ._user import AnonymousUser, CognitoUser
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

__all__ = [
    "CREDENTIALS_EXCEPTION_HANDLERS",
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
    "OAuthError",
    "PathRule",
    "PathRules",
    "Refusal",
    "RequestState",
    "RoleNotAllowedError",
    "Secret",
    "SessionStoreUnavailableError",
    "SessionTooLargeError",
    "SignInRequiredError",
    "TokenEndpointError",
    "TokenError",
    "boto3_session",
    "credentials_error_response",
    "deny",
    "get_aws_credentials",
    "get_state",
    "login_required",
    "requires_groups",
    "requires_role",
    "requires_scopes",
]
