"""``CognitoConfig``: every setting of the middleware, validated once, frozen.

Build it in code or from the environment::

    config = CognitoConfig.from_env()
    config = CognitoConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="4hqt9ikctmesulmh0hbqbs00ta",
        domain="https://myapp.auth.eu-west-1.amazoncognito.com",
        redirect_uri="https://app.example.com/auth/callback",
        session_secret="at least 32 bytes of randomness ...",
    )
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._refusal import ErrorPage

__all__ = ["CognitoConfig", "PathRule", "Secret"]

_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}-(?:gov-)?[a-z]+-\d)_[a-zA-Z0-9]+$")
_IDENTITY_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}-(?:gov-)?[a-z]+-\d):[0-9a-f-]{36}$")
_REGION = re.compile(r"^[a-z]{2}-(?:gov-)?[a-z]+-\d$")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_MIN_SECRET_BYTES = 32


class Secret:
    """A string that does not show itself in ``repr()``, ``str()`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class PathRule:
    """Access rule for every path under ``prefix``.

    ``groups``: the user needs one of them (or all, with ``all_groups=True``);
    ``scopes``: the access token must carry all of them. An empty rule only requires sign-in.
    ``allow_guests=True`` makes the prefix public (guests may see it) even in default-deny mode.
    """

    prefix: str
    groups: tuple[str, ...] = ()
    all_groups: bool = False
    scopes: tuple[str, ...] = ()
    allow_guests: bool = False


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(setting: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(setting, f"must be an absolute http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            setting, f"must use https (plain http is only allowed for loopback hosts), got {url!r}"
        )
    if parts.fragment:
        raise ConfigurationError(setting, "must not contain a fragment")
    return url


def _split(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in re.split(r"[\s,]+", value) if v)
    return tuple(value)


@dataclass(frozen=True, kw_only=True)
class CognitoConfig:
    """The middleware's configuration. Frozen; validated in ``__post_init__``.

    Field names map to environment variables in :meth:`from_env` (``COGNITO_<FIELD>``).
    URLs that Cognito derives from the pool id (issuer, JWKS, identity endpoint) are computed
    unless overridden, for example to point at the local Cognito.
    """

    user_pool_id: str
    client_id: str
    domain: str
    redirect_uri: str
    session_secret: Secret | str | Sequence[str] | Sequence[Secret]
    client_secret: Secret | str | None = None
    region: str | None = None
    logout_uri: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    identity_pool_id: str | None = None
    guest_credentials: bool = True
    """Whether guests (visitors without a session) get the identity pool's unauthenticated
    credentials. Off, a guest asking for credentials is sent to sign in, AWS is not called, and
    no guest response needs the middleware between the app and ``send``."""
    issuer: str | None = None
    jwks_uri: str | None = None
    """Where the pool's keys are fetched; default ``<issuer>/.well-known/jwks.json``."""
    identity_endpoint: str | None = None
    allowed_providers: tuple[str, ...] = ()
    idp_initiated_providers: tuple[str, ...] = ()
    """Providers whose IdP-initiated SAML sign-ins (codes with no ``state``) are accepted."""
    extra_client_ids: tuple[str, ...] = ()
    """Other app clients (e.g. a mobile app) whose tokens are accepted as Bearer tokens."""
    session_store: str = "cookie"
    auth_prefix: str = "/auth"
    cookie_name: str = "cognito_session"
    secure_cookies: bool | None = None
    """``None``: Secure unless the redirect URI is plain-HTTP loopback (local development)."""
    idle_timeout: float = 8 * 3600
    absolute_timeout: float = 7 * 24 * 3600
    refresh_token_lifetime: float = 30 * 24 * 3600
    """The app client's refresh token lifetime: no session outlives it."""
    refresh_margin: float = 60.0
    leeway: float = 5.0
    http_timeout: float = 5.0
    public_paths: tuple[str, ...] = ()
    protected: tuple[PathRule, ...] = ()
    default_deny: bool = False
    after_login_path: str = "/"
    after_logout_path: str = "/"
    login_redirect: Literal["auto", "always", "never"] = "auto"
    """How unauthenticated requests to protected routes are answered: ``auto`` redirects browser
    navigations to the login page and answers APIs with 401; ``never`` always answers 401."""
    error_page: ErrorPage | None = None
    """``error_page(request, refusal)``: the app's own HTML page for a refusal (a ``Response``),
    or ``None`` for the built-in one. Called for refusals answered with a page, never for
    redirects, JSON or websockets; if it raises, the error is logged and the built-in page
    is sent."""
    _session_secrets: tuple[Secret, ...] = field(init=False, repr=False)
    _client_secret: Secret | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        match = _POOL_ID.match(self.user_pool_id or "")
        if not match:
            raise ConfigurationError(
                "user_pool_id",
                f"{self.user_pool_id!r} is not a user pool id like 'eu-west-1_AbCdEf123'",
            )
        region = self.region or match.group("region")
        if not _REGION.match(region):
            raise ConfigurationError("region", f"{region!r} is not an AWS region")
        set_(self, "region", region)
        if not self.client_id or not re.fullmatch(r"[\w+]+", self.client_id):
            raise ConfigurationError("client_id", "must be the app client id")
        set_(self, "domain", _check_url("domain", self.domain).rstrip("/"))
        _check_url("redirect_uri", self.redirect_uri)
        if self.logout_uri is not None:
            _check_url("logout_uri", self.logout_uri)
        if self.issuer is not None:
            set_(self, "issuer", _check_url("issuer", self.issuer).rstrip("/"))
        if self.jwks_uri is not None:
            _check_url("jwks_uri", self.jwks_uri)
        if self.identity_endpoint is not None:
            _check_url("identity_endpoint", self.identity_endpoint)
        if self.error_page is not None and not callable(self.error_page):
            raise ConfigurationError("error_page", "must be a callable (request, refusal)")
        if not isinstance(self.guest_credentials, bool):
            raise ConfigurationError("guest_credentials", "must be true or false")
        if self.identity_pool_id is not None and not _IDENTITY_POOL_ID.match(self.identity_pool_id):
            raise ConfigurationError(
                "identity_pool_id",
                f"{self.identity_pool_id!r} is not an identity pool id like "
                "'eu-west-1:0a1b2c3d-0000-1111-2222-333344445555'",
            )
        if not self.auth_prefix.startswith("/") or self.auth_prefix.endswith("/"):
            raise ConfigurationError("auth_prefix", "must start with '/' and not end with '/'")
        if urlsplit(self.redirect_uri).path != self.callback_path:
            raise ConfigurationError(
                "redirect_uri",
                f"its path must be {self.callback_path!r} (the auth prefix + '/callback'), "
                f"got {urlsplit(self.redirect_uri).path!r}",
            )
        if not self.scopes or "openid" not in self.scopes:
            raise ConfigurationError("scopes", "must include 'openid' to receive an ID token")
        for name in ("idle_timeout", "absolute_timeout", "refresh_token_lifetime", "http_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(name, "must be positive")
        if self.refresh_margin < 0 or self.leeway < 0 or self.leeway > 300:
            raise ConfigurationError("leeway", "must be between 0 and 300 seconds")
        if not (
            self.session_store in ("cookie", "memory")
            or self.session_store.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise ConfigurationError(
                "session_store", "must be 'cookie', 'memory' or a redis:// URL"
            )
        for path in (self.after_login_path, self.after_logout_path):
            if not path.startswith("/") or path.startswith("//"):
                raise ConfigurationError("after_login_path", "must be a local path like '/'")
        set_(self, "_session_secrets", self._parse_secrets(self.session_secret))
        secret = self.client_secret
        set_(self, "_client_secret", Secret(secret) if isinstance(secret, str) else secret)
        for attr in (
            "scopes",
            "allowed_providers",
            "idp_initiated_providers",
            "extra_client_ids",
            "public_paths",
            "protected",
        ):
            set_(self, attr, tuple(getattr(self, attr)))

    @staticmethod
    def _parse_secrets(value: object) -> tuple[Secret, ...]:
        raw: list[Secret]
        if isinstance(value, Secret):
            raw = [value]
        elif isinstance(value, str):
            raw = [Secret(v.strip()) for v in value.split(",") if v.strip()]
        else:
            raw = [v if isinstance(v, Secret) else Secret(str(v)) for v in value]  # type: ignore[attr-defined]
        if not raw:
            raise ConfigurationError("session_secret", "is required")
        for secret in raw:
            if len(secret.get().encode()) < _MIN_SECRET_BYTES:
                raise ConfigurationError(
                    "session_secret",
                    f"each secret must be at least {_MIN_SECRET_BYTES} bytes; generate one with "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                )
        return tuple(raw)

    def __repr__(self) -> str:
        return (
            f"CognitoConfig(user_pool_id={self.user_pool_id!r}, client_id={self.client_id!r}, "
            f"domain={self.domain!r}, redirect_uri={self.redirect_uri!r}, "
            f"client_secret={'Secret(**********)' if self._client_secret else None}, "
            "session_secret=Secret(**********))"
        )

    # Derived values -----------------------------------------------------------------------

    @property
    def session_secrets(self) -> tuple[Secret, ...]:
        """Session secrets: the first seals, all open (rotation)."""
        return self._session_secrets

    @property
    def client_secret_value(self) -> str | None:
        """The app client secret, or ``None`` for a public client."""
        return self._client_secret.get() if self._client_secret else None

    @property
    def issuer_url(self) -> str:
        """The exact ``iss`` of the pool's tokens."""
        return self.issuer or f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.jwks_uri or f"{self.issuer_url}/.well-known/jwks.json"

    @property
    def login_provider_key(self) -> str:
        """The identity pool ``Logins`` key of this user pool: the issuer without its scheme."""
        return self.issuer_url.split("://", 1)[1]

    @property
    def identity_pool_region(self) -> str:
        assert self.identity_pool_id is not None
        return self.identity_pool_id.split(":", 1)[0]

    @property
    def identity_endpoint_url(self) -> str:
        return self.identity_endpoint or (
            f"https://cognito-identity.{self.identity_pool_region}.amazonaws.com/"
        )

    @property
    def authorize_url(self) -> str:
        return f"{self.domain}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.domain}/oauth2/token"

    @property
    def revoke_url(self) -> str:
        return f"{self.domain}/oauth2/revoke"

    @property
    def logout_url(self) -> str:
        return f"{self.domain}/logout"

    @property
    def callback_path(self) -> str:
        return f"{self.auth_prefix}/callback"

    @property
    def allowed_client_ids(self) -> frozenset[str]:
        return frozenset((self.client_id, *self.extra_client_ids))

    @property
    def cookies_secure(self) -> bool:
        """Whether cookies get ``Secure`` (and the ``__Host-`` prefix)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        parts = urlsplit(self.redirect_uri)
        return not (parts.scheme == "http" and _is_loopback(parts.hostname))

    # From the environment -----------------------------------------------------------------

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> CognitoConfig:
        """Build the configuration from ``COGNITO_*`` variables (see README).

        Errors name the environment variable to fix. Keyword ``overrides`` win over the
        environment (for settings that have no variable, such as path rules).
        """
        env = os.environ if environ is None else environ
        names = {
            "user_pool_id": "COGNITO_USER_POOL_ID",
            "client_id": "COGNITO_CLIENT_ID",
            "domain": "COGNITO_DOMAIN",
            "redirect_uri": "COGNITO_REDIRECT_URI",
            "session_secret": "COGNITO_SESSION_SECRET",
            "client_secret": "COGNITO_CLIENT_SECRET",
            "region": "COGNITO_REGION",
            "logout_uri": "COGNITO_LOGOUT_URI",
            "scopes": "COGNITO_SCOPES",
            "identity_pool_id": "COGNITO_IDENTITY_POOL_ID",
            "guest_credentials": "COGNITO_GUEST_CREDENTIALS",
            "issuer": "COGNITO_ISSUER",
            "jwks_uri": "COGNITO_JWKS_URI",
            "identity_endpoint": "COGNITO_IDENTITY_ENDPOINT",
            "allowed_providers": "COGNITO_ALLOWED_PROVIDERS",
            "idp_initiated_providers": "COGNITO_IDP_INITIATED_PROVIDERS",
            "extra_client_ids": "COGNITO_EXTRA_CLIENT_IDS",
            "session_store": "COGNITO_SESSION_STORE",
        }
        required = ("user_pool_id", "client_id", "domain", "redirect_uri", "session_secret")
        kwargs: dict[str, object] = {}
        for fld, var in names.items():
            value = env.get(var, "").strip()
            if not value:
                if fld in required and fld not in overrides:
                    raise ConfigurationError(var, "is not set")
                continue
            if fld in (
                "scopes",
                "allowed_providers",
                "idp_initiated_providers",
                "extra_client_ids",
            ):
                kwargs[fld] = _split(value)
            elif fld == "guest_credentials":
                kwargs[fld] = _BOOLEANS.get(value.lower(), value)
            else:
                kwargs[fld] = value
        kwargs.update(overrides)
        try:
            return cls(**kwargs)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            env_name = names.get(exc.setting)
            if env_name is None or exc.setting in overrides:
                raise
            raise ConfigurationError(env_name, exc.message) from None
