"""cognito-middleware: make any Starlette or FastAPI app a secure AWS Cognito relying party."""

from __future__ import annotations

from .config import CognitoConfig, PathRule, Secret
from .exceptions import (
    CallbackError,
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
    TokenEndpointError,
    TokenError,
)
from .user import AnonymousUser, CognitoUser

__all__ = [
    "AnonymousUser",
    "CallbackError",
    "ClaimError",
    "CognitoConfig",
    "CognitoError",
    "CognitoUnavailableError",
    "CognitoUser",
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
    "PathRule",
    "RoleNotAllowedError",
    "Secret",
    "TokenEndpointError",
    "TokenError",
]
