"""What the local Cognito starts with: user pool, app clients, federated IdPs, identity pool.

A seed is plain data. Build it in Python, or load it from JSON or TOML with the same field names::

    seed = Seed.from_file("cognito-seed.toml")
    seed = Seed.from_dict({"user_pool_id": "eu-west-1_Test", "users": [...], "clients": [...]})
    seed = demo_seed(app_url="http://127.0.0.1:8000")
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_IDENTITY_POOL_ID",
    "DEMO_PASSWORD",
    "DEMO_POOL_ID",
    "DEMO_PORTAL_CLIENT_ID",
    "DEMO_PORTAL_CLIENT_SECRET",
    "DEMO_PUBLIC_CLIENT_ID",
    "DEMO_SERVICE_CLIENT_ID",
    "DEMO_SERVICE_CLIENT_SECRET",
    "TRIGGER_NAMES",
    "BrandingSeed",
    "ClientSeed",
    "GroupSeed",
    "IdentityPoolSeed",
    "IdpUserSeed",
    "PasswordPolicySeed",
    "ProviderSeed",
    "ResourceServerSeed",
    "RoleMappingRule",
    "RoleMappingSeed",
    "Seed",
    "SeedError",
    "TriggerSeed",
    "TriggerTarget",
    "UserSeed",
    "demo_seed",
]

_POOL_ID = re.compile(r"^[a-z]{2}-(?:gov-)?[a-z]+-\d_[a-zA-Z0-9]+$")
_IDENTITY_POOL_ID = re.compile(r"^[a-z]{2}-(?:gov-)?[a-z]+-\d:[0-9a-f-]{36}$")
AUTH_FLOWS = (
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH",
)
DEFAULT_AUTH_FLOWS = (
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
)
STANDARD_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")


class SeedError(ValueError):
    """The seed is not valid; the message names the offending entry."""


TriggerTarget = str | list[str] | Callable[..., Any]
"""A Lambda trigger: ``"package.module:function"``, a loopback ``http(s)://`` URL, a command
(argv list) or, from Python, a callable."""

TRIGGER_NAMES = (
    "pre_sign_up",
    "post_confirmation",
    "pre_authentication",
    "post_authentication",
    "pre_token_generation",
)
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(kw_only=True)
class TriggerSeed:
    """The user pool's Lambda triggers (``LambdaConfig``). Each is a :data:`TriggerTarget`
    receiving Cognito's event and answering it (see :mod:`cognito_middleware.local.triggers`).
    """

    pre_sign_up: TriggerTarget | None = None
    post_confirmation: TriggerTarget | None = None
    pre_authentication: TriggerTarget | None = None
    post_authentication: TriggerTarget | None = None
    pre_token_generation: TriggerTarget | None = None
    pre_token_generation_version: Literal["V1_0", "V2_0", "V3_0"] = "V1_0"  # noqa: S105
    """``PreTokenGenerationConfig.LambdaVersion``: V1 ID token only, V2 also the access
    token, V3 also client-credentials (M2M) tokens."""
    timeout: float = 5.0
    """Seconds a command or URL trigger may take (Cognito waits 5 s for a Lambda)."""


@dataclass(kw_only=True)
class BrandingSeed:
    """Classic hosted-UI customization: ``logo`` (a PNG/JPEG file path or ``data:`` URL, at
    most 100 KB) and ``css`` (rules on the ``*-customizable`` classes only)."""

    logo: str | None = None
    css: str | None = None


@dataclass(kw_only=True)
class UserSeed:
    """A user of the user pool's own directory (signs in on the hosted UI form)."""

    username: str
    password: str
    email: str | None = None
    email_verified: bool = True
    groups: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    """Other attributes: standard (``name``, ``phone_number``) or ``custom:*``; strings."""
    sub: str | None = None
    """Fixed ``sub`` (UUID); a random one when omitted."""
    enabled: bool = True


@dataclass(kw_only=True)
class GroupSeed:
    """A user pool group. ``precedence``: lower wins for ``cognito:preferred_role``."""

    name: str
    precedence: int | None = None
    role_arn: str | None = None
    description: str = ""


@dataclass(kw_only=True)
class ClientSeed:
    """An app client. Lifetimes are in seconds; Cognito's defaults."""

    client_id: str
    client_secret: str | None = None
    client_name: str = ""
    callback_urls: list[str] = field(default_factory=list)
    logout_urls: list[str] = field(default_factory=list)
    allowed_oauth_flows: list[str] = field(default_factory=lambda: ["code"])
    """``code``, ``implicit`` and/or ``client_credentials``."""
    allowed_scopes: list[str] = field(default_factory=lambda: ["openid", "email", "profile"])
    identity_providers: list[str] = field(default_factory=lambda: ["COGNITO"])
    id_token_validity: int = 3600
    access_token_validity: int = 3600
    refresh_token_validity: int = 30 * 24 * 3600
    refresh_token_rotation: bool = False
    rotation_grace_seconds: int = 0
    """How long a rotated-out refresh token stays usable (0-60 s, as in Cognito)."""
    enable_token_revocation: bool = True
    branding: BrandingSeed | None = None
    """This client's hosted-UI branding; overrides the pool's :attr:`Seed.branding`."""
    explicit_auth_flows: list[str] = field(default_factory=lambda: list(DEFAULT_AUTH_FLOWS))
    """The user-pool API flows the client may use (``ALLOW_USER_SRP_AUTH``, ...)."""
    prevent_user_existence_errors: bool = False
    """``ENABLED``: unknown users fail like wrong passwords; ``False`` is ``LEGACY``."""


@dataclass(kw_only=True)
class PasswordPolicySeed:
    """The pool's password policy (Cognito's default policy unless changed)."""

    minimum_length: int = 8
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True
    temporary_password_validity_days: int = 7


@dataclass(kw_only=True)
class ResourceServerSeed:
    """A resource server: its scopes become ``<identifier>/<scope>``."""

    identifier: str
    name: str = ""
    scopes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class IdpUserSeed:
    """A user of a simulated upstream IdP.

    ``user_id`` is the SAML NameID or the OIDC ``sub``; ``claims`` are what the IdP asserts,
    keyed by the IdP's own claim names (SAML attribute URIs, OIDC claim names). A list value
    is a multi-valued attribute.
    """

    username: str
    password: str
    user_id: str
    claims: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(kw_only=True)
class ProviderSeed:
    """A federated identity provider of the user pool, simulated by the emulator."""

    name: str
    type: Literal["SAML", "OIDC"]
    display_name: str = ""
    """Title of the simulated IdP's sign-in page, e.g. ``Microsoft (simulated Azure AD)``."""
    issuer: str | None = None
    idp_identifiers: list[str] = field(default_factory=list)
    attribute_mapping: dict[str, str] = field(default_factory=dict)
    """User pool attribute -> IdP claim name, e.g. ``{"email": "http://schemas...emailaddress"}``."""
    users: list[IdpUserSeed] = field(default_factory=list)
    idp_initiated: bool = False
    failure: str | None = None
    """When set, every sign-in through this IdP fails with this ``error_description``."""
    tenant_id: str | None = None
    """SAML: the Azure AD tenant; the issuer defaults to ``https://sts.windows.net/<tenant>/``."""
    name_id_format: Literal["persistent", "emailAddress", "unspecified"] = "emailAddress"
    """SAML: the ``NameID`` format the simulated IdP sends (the user's ``user_id`` is the value)."""
    signing: Literal["assertion", "response", "response_and_assertion"] = "assertion"
    """SAML: what the simulated IdP signs (Azure AD's "Signing Option")."""
    metadata_file: str | None = None
    """SAML: path of the IdP's federation metadata XML (entity id, SSO URL, certificates), e.g.
    an Azure AD ``federationmetadata.xml``; relative to the seed file when loaded from one."""
    metadata_xml: str | None = None
    """SAML: the IdP's federation metadata XML itself (instead of ``metadata_file``)."""
    signing_key: str | None = field(default=None, repr=False)
    """SAML: PEM private key the simulated IdP signs with; a new key on every start if omitted."""
    signing_certificate: str | None = None
    """SAML: PEM certificate of ``signing_key``; generated from the key if omitted."""


@dataclass(kw_only=True)
class RoleMappingRule:
    """One rule of a Rules role mapping; the first matching rule wins."""

    claim: str
    match_type: Literal["Equals", "Contains", "StartsWith", "NotEqual"]
    value: str
    role_arn: str


@dataclass(kw_only=True)
class RoleMappingSeed:
    """Role mapping for the user pool provider of the identity pool."""

    type: Literal["Token", "Rules"] = "Token"
    ambiguous_role_resolution: Literal["AuthenticatedRole", "Deny"] = "AuthenticatedRole"
    rules: list[RoleMappingRule] = field(default_factory=list)


@dataclass(kw_only=True)
class IdentityPoolSeed:
    """The identity pool, with the user pool as its provider."""

    identity_pool_id: str
    allow_unauthenticated: bool = True
    authenticated_role_arn: str | None = None
    unauthenticated_role_arn: str | None = None
    client_ids: list[str] | None = None
    """The user pool clients whose ID tokens are accepted; ``None``: all of them."""
    role_mapping: RoleMappingSeed | None = None
    allow_classic_flow: bool = False


@dataclass(kw_only=True)
class Seed:
    """Everything the local Cognito starts with. Field names are the JSON/TOML keys."""

    user_pool_id: str
    users: list[UserSeed] = field(default_factory=list)
    groups: list[GroupSeed] = field(default_factory=list)
    clients: list[ClientSeed] = field(default_factory=list)
    resource_servers: list[ResourceServerSeed] = field(default_factory=list)
    providers: list[ProviderSeed] = field(default_factory=list)
    identity_pool: IdentityPoolSeed | None = None
    required_attributes: list[str] = field(default_factory=lambda: ["email"])
    """Attributes every user must have; a federated sign-in missing one fails."""
    triggers: TriggerSeed | None = None
    branding: BrandingSeed | None = None
    """Pool-wide hosted-UI branding (Cognito's ``ALL`` client); a client's own replaces it."""
    issuer_style: Literal["local", "aws"] = "local"
    """``iss`` of the tokens: ``local`` is ``<base URL>/<pool id>``; ``aws`` is the real
    service's ``https://cognito-idp.<region>.amazonaws.com/<pool id>`` (discovery and JWKS
    are still served by the emulator)."""
    password_policy: PasswordPolicySeed = field(default_factory=PasswordPolicySeed)
    """Checked on every password set through the user-pool API (not on seeded users)."""
    alias_attributes: list[str] = field(default_factory=list)
    """``email``, ``phone_number``, ``preferred_username``: users also sign in with these."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def region(self) -> str:
        return self.user_pool_id.split("_", 1)[0]

    def validate(self) -> None:
        """Raise :class:`SeedError` when the seed is inconsistent."""
        if not _POOL_ID.match(self.user_pool_id):
            raise SeedError(f"user_pool_id {self.user_pool_id!r} is not like 'eu-west-1_AbC123'")
        bad_aliases = set(self.alias_attributes) - {"email", "phone_number", "preferred_username"}
        if bad_aliases:
            raise SeedError(f"alias_attributes: not alias attributes {sorted(bad_aliases)}")
        groups = {g.name for g in self.groups}
        for user in self.users:
            for group in user.groups:
                if group not in groups:
                    raise SeedError(f"user {user.username!r}: unknown group {group!r}")
        providers = {p.name for p in self.providers}
        for client in self.clients:
            for name in client.identity_providers:
                if name != "COGNITO" and name not in providers:
                    raise SeedError(f"client {client.client_id!r}: unknown provider {name!r}")
            unknown = set(client.allowed_oauth_flows) - {"code", "implicit", "client_credentials"}
            if unknown:
                raise SeedError(f"client {client.client_id!r}: unknown flows {sorted(unknown)}")
            bad_flows = set(client.explicit_auth_flows) - set(AUTH_FLOWS)
            if bad_flows:
                raise SeedError(
                    f"client {client.client_id!r}: unknown auth flows {sorted(bad_flows)}"
                )
            if not 0 <= client.rotation_grace_seconds <= 60:
                raise SeedError(f"client {client.client_id!r}: grace period must be 0-60 s")
        for provider in self.providers:
            if provider.type not in ("SAML", "OIDC"):
                raise SeedError(f"provider {provider.name!r}: type must be SAML or OIDC")
            _validate_saml(provider)
        if self.issuer_style not in ("local", "aws"):
            raise SeedError(f"issuer_style must be 'local' or 'aws', got {self.issuer_style!r}")
        pool = self.identity_pool
        if pool is not None and not _IDENTITY_POOL_ID.match(pool.identity_pool_id):
            raise SeedError(
                f"identity_pool_id {pool.identity_pool_id!r} is not like 'eu-west-1:<uuid>'"
            )
        if self.triggers is not None:
            _validate_triggers(self.triggers)
        _validate_branding(self.branding, "branding")
        for client in self.clients:
            _validate_branding(client.branding, f"client {client.client_id!r}: branding")

    # Loading -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Seed:
        """Build a seed from plain data (as parsed from JSON or TOML)."""
        seed: Seed = _build(cls, data, "seed")
        return seed

    @classmethod
    def from_file(cls, path: str | Path) -> Seed:
        """Load a ``.json`` or ``.toml`` seed file."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        for provider in data.get("providers") or []:
            metadata = provider.get("metadata_file") if isinstance(provider, dict) else None
            if isinstance(metadata, str) and not Path(metadata).is_absolute():
                provider["metadata_file"] = str(path.parent / metadata)
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, loadable again with :meth:`from_dict`."""
        return dataclasses.asdict(self)


def _validate_triggers(triggers: TriggerSeed) -> None:
    if triggers.pre_token_generation_version not in ("V1_0", "V2_0", "V3_0"):
        raise SeedError("triggers.pre_token_generation_version must be V1_0, V2_0 or V3_0")
    if not 0 < triggers.timeout <= 900:
        raise SeedError("triggers.timeout must be between 0 and 900 seconds")
    for name in TRIGGER_NAMES:
        target = getattr(triggers, name)
        if target is None or callable(target):
            continue
        if isinstance(target, list):
            if not target or not all(isinstance(a, str) and a for a in target):
                raise SeedError(f"triggers.{name}: a command is a non-empty list of strings")
        elif not isinstance(target, str):
            raise SeedError(f"triggers.{name}: expected 'module:function', a URL or a command")
        elif "://" in target:
            url = urlsplit(target)
            if url.scheme not in ("http", "https") or url.hostname not in _LOOPBACK:
                raise SeedError(f"triggers.{name}: only http(s) URLs on loopback are allowed")
        elif not _DOTTED.match(target):
            raise SeedError(f"triggers.{name}: {target!r} is not like 'package.module:function'")


def _validate_branding(branding: BrandingSeed | None, where: str) -> None:
    from .branding import load_logo, sanitize_css

    if branding is None:
        return
    try:
        if branding.logo is not None:
            load_logo(branding.logo)
        if branding.css is not None:
            sanitize_css(branding.css)
    except ValueError as exc:
        raise SeedError(f"{where}: {exc}") from None


def _validate_saml(provider: ProviderSeed) -> None:
    where = f"provider {provider.name!r}"
    saml_only = ("tenant_id", "metadata_file", "metadata_xml", "signing_key", "signing_certificate")
    if provider.type != "SAML":
        used = [name for name in saml_only if getattr(provider, name) is not None]
        if used:
            raise SeedError(f"{where}: {', '.join(used)} only apply to SAML providers")
        return
    if provider.name_id_format not in ("persistent", "emailAddress", "unspecified"):
        raise SeedError(f"{where}: name_id_format must be persistent, emailAddress or unspecified")
    if provider.signing not in ("assertion", "response", "response_and_assertion"):
        raise SeedError(f"{where}: signing must be assertion, response or response_and_assertion")
    if provider.metadata_file is not None and provider.metadata_xml is not None:
        raise SeedError(f"{where}: give metadata_file or metadata_xml, not both")
    if provider.signing_certificate is not None and provider.signing_key is None:
        raise SeedError(f"{where}: signing_certificate needs signing_key")
    if (
        provider.metadata_file is None
        and provider.metadata_xml is None
        and (provider.signing_key is None)
    ):
        return
    from .saml import IdpCredentials, parse_metadata

    try:
        if provider.metadata_file is not None:
            parse_metadata(Path(provider.metadata_file).read_bytes())
        elif provider.metadata_xml is not None:
            parse_metadata(provider.metadata_xml)
    except (OSError, ValueError) as exc:
        raise SeedError(f"{where}: metadata: {exc}") from None
    if provider.signing_key is not None:
        try:
            IdpCredentials.from_pem(provider.signing_key, provider.signing_certificate)
        except ValueError as exc:
            raise SeedError(f"{where}: signing_key: {exc}") from None


_NESTED: dict[tuple[type[Any], str], type[Any]] = {
    (Seed, "users"): UserSeed,
    (Seed, "groups"): GroupSeed,
    (Seed, "clients"): ClientSeed,
    (Seed, "resource_servers"): ResourceServerSeed,
    (Seed, "providers"): ProviderSeed,
    (Seed, "identity_pool"): IdentityPoolSeed,
    (Seed, "password_policy"): PasswordPolicySeed,
    (ProviderSeed, "users"): IdpUserSeed,
    (IdentityPoolSeed, "role_mapping"): RoleMappingSeed,
    (RoleMappingSeed, "rules"): RoleMappingRule,
    (Seed, "triggers"): TriggerSeed,
    (Seed, "branding"): BrandingSeed,
    (ClientSeed, "branding"): BrandingSeed,
}


def _build(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SeedError(f"{where}: expected a table/object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise SeedError(f"{where}: unknown keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        nested = _NESTED.get((cls, key))
        if nested is not None and value is not None:
            if isinstance(value, Sequence) and not isinstance(value, str):
                value = [_build(nested, v, f"{where}.{key}[{i}]") for i, v in enumerate(value)]
            else:
                value = _build(nested, value, f"{where}.{key}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SeedError(f"{where}: {exc}") from None


# The demo --------------------------------------------------------------------------------------

DEMO_POOL_ID = "eu-west-1_LocalDemo"
DEMO_IDENTITY_POOL_ID = "eu-west-1:7c1e8a52-3f6d-4b9e-a0d4-5e2f9b61c3a8"
DEMO_CLIENT_ID = "5k2j8c4m1n7q3r9s6t0v4w8x2y"
DEMO_CLIENT_SECRET = "1h8b3lk6v0d9m2q5r7t4w1y8e3u6o9p2a5s8d1f4g7j0k3l6z9x2c"  # noqa: S105 (demo only)
DEMO_PUBLIC_CLIENT_ID = "3p9u6i2o8y5t1r7e4w0q6a3s9d"
DEMO_SERVICE_CLIENT_ID = "8z4x1c7v3b9n5m2l6k0j8h4g1f"
DEMO_SERVICE_CLIENT_SECRET = "9q3w6e1r4t7y0u2i5o8p1a4s7d0f3g6h9j2k5l8z1x4c7v0b3n6m"  # noqa: S105
DEMO_PORTAL_CLIENT_ID = "6a1s5d9f3g7h2j6k0l4z8x2c5v"
DEMO_PORTAL_CLIENT_SECRET = "4m7n0b3v6c9x2z5l8k1j4h7g0f3d6s9a2p5o8i1u4y7t0r3e6w9q"  # noqa: S105
DEMO_PASSWORD = "Passw0rd!"  # noqa: S105 (the demo users' password, printed at start)
DEMO_AZURE_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
DEMO_ACCOUNT = "000000000000"

_SAML_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
_MS_IDENTITY_CLAIMS = "http://schemas.microsoft.com/identity/claims"
_MS_CLAIMS = "http://schemas.microsoft.com/ws/2008/06/identity/claims"


def _role(name: str) -> str:
    return f"arn:aws:iam::{DEMO_ACCOUNT}:role/{name}"


def demo_seed(app_url: str = "http://127.0.0.1:8000") -> Seed:
    """The demo pool: ``alice`` (admin, users) and ``bob`` (users), password ``DEMO_PASSWORD``.

    Registers ``<app_url>/auth/callback`` as callback and ``<app_url>/`` as sign-out URL on the
    demo clients. Federation: ``AzureAD`` (SAML, user ``carol@contoso.example``, also
    IdP-initiated through the portal client) and ``Okta`` (OIDC, user ``dave@okta.example``).
    The identity pool allows guests and maps roles from the token.
    """
    app_url = app_url.rstrip("/")
    callback, signout = f"{app_url}/auth/callback", f"{app_url}/"
    scopes = [*STANDARD_SCOPES, "demo-api/read", "demo-api/write"]
    return Seed(
        user_pool_id=DEMO_POOL_ID,
        groups=[
            GroupSeed(
                name="admin",
                precedence=1,
                role_arn=_role("demo-admin"),
                description="Administrators",
            ),
            GroupSeed(
                name="users", precedence=10, role_arn=_role("demo-users"), description="Everyone"
            ),
        ],
        users=[
            UserSeed(
                username="alice",
                password=DEMO_PASSWORD,
                email="alice@example.com",
                groups=["admin", "users"],
                attributes={"name": "Alice Admin", "custom:department": "engineering"},
                sub="0f4b6a8e-2c1d-4e3f-9a7b-5c6d7e8f9a01",
            ),
            UserSeed(
                username="bob",
                password=DEMO_PASSWORD,
                email="bob@example.com",
                groups=["users"],
                attributes={"name": "Bob User", "custom:department": "sales"},
                sub="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            ),
        ],
        resource_servers=[
            ResourceServerSeed(identifier="demo-api", name="Demo API", scopes=["read", "write"])
        ],
        clients=[
            ClientSeed(
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
                client_name="demo-web",
                callback_urls=[callback],
                logout_urls=[signout],
                allowed_scopes=scopes,
                identity_providers=["COGNITO", "AzureAD", "Okta"],
                refresh_token_rotation=True,
                rotation_grace_seconds=10,
            ),
            ClientSeed(
                client_id=DEMO_PUBLIC_CLIENT_ID,
                client_name="demo-spa",
                callback_urls=[callback],
                logout_urls=[signout],
                allowed_scopes=scopes,
                identity_providers=["COGNITO", "AzureAD", "Okta"],
            ),
            ClientSeed(
                client_id=DEMO_SERVICE_CLIENT_ID,
                client_secret=DEMO_SERVICE_CLIENT_SECRET,
                client_name="demo-service",
                allowed_oauth_flows=["client_credentials"],
                allowed_scopes=["demo-api/read", "demo-api/write"],
                identity_providers=[],
            ),
            ClientSeed(
                client_id=DEMO_PORTAL_CLIENT_ID,
                client_secret=DEMO_PORTAL_CLIENT_SECRET,
                client_name="demo-portal",
                callback_urls=[callback],
                logout_urls=[signout],
                allowed_scopes=scopes,
                identity_providers=["AzureAD"],
            ),
        ],
        providers=[
            ProviderSeed(
                name="AzureAD",
                type="SAML",
                display_name="Microsoft (simulated Azure AD)",
                issuer=f"https://sts.windows.net/{DEMO_AZURE_TENANT}/",
                tenant_id=DEMO_AZURE_TENANT,
                idp_identifiers=["contoso.example"],
                attribute_mapping={
                    "email": f"{_SAML_CLAIMS}/emailaddress",
                    "given_name": f"{_SAML_CLAIMS}/givenname",
                    "family_name": f"{_SAML_CLAIMS}/surname",
                    "name": "http://schemas.microsoft.com/identity/claims/displayname",
                    "custom:groups": f"{_MS_CLAIMS}/groups",
                },
                users=[
                    IdpUserSeed(
                        username="carol@contoso.example",
                        password=DEMO_PASSWORD,
                        user_id="carol@contoso.example",
                        claims={
                            f"{_SAML_CLAIMS}/emailaddress": "carol@contoso.example",
                            f"{_SAML_CLAIMS}/givenname": "Carol",
                            f"{_SAML_CLAIMS}/surname": "Azure",
                            f"{_MS_IDENTITY_CLAIMS}/displayname": "Carol Azure",
                            f"{_MS_CLAIMS}/groups": [
                                "5f0c3c5e-6f3a-4a8e-9d55-0f9a2d1c7e11",
                                "a2b4c6d8-1e3f-4a5b-8c7d-9e0f1a2b3c4d",
                            ],
                        },
                    )
                ],
                idp_initiated=True,
            ),
            ProviderSeed(
                name="Okta",
                type="OIDC",
                display_name="Okta (simulated OIDC provider)",
                issuer="https://demo.okta.example/oauth2/default",
                idp_identifiers=["okta.example"],
                attribute_mapping={
                    "email": "email",
                    "email_verified": "email_verified",
                    "name": "name",
                },
                users=[
                    IdpUserSeed(
                        username="dave@okta.example",
                        password=DEMO_PASSWORD,
                        user_id="00u1a2b3c4d5e6f7g8h9",
                        claims={
                            "email": "dave@okta.example",
                            "email_verified": "true",
                            "name": "Dave Okta",
                        },
                    )
                ],
            ),
        ],
        identity_pool=IdentityPoolSeed(
            identity_pool_id=DEMO_IDENTITY_POOL_ID,
            allow_unauthenticated=True,
            authenticated_role_arn=_role("demo-authenticated"),
            unauthenticated_role_arn=_role("demo-guest"),
            role_mapping=RoleMappingSeed(
                type="Token", ambiguous_role_resolution="AuthenticatedRole"
            ),
        ),
    )
