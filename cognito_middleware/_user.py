"""The user object published as ``request.user``.

Both classes are Starlette ``BaseUser``\\s, so ``request.user.is_authenticated`` and
``starlette.authentication.requires()`` work as usual::

    async def profile(request):
        user = request.user
        return JSONResponse({"name": user.display_name, "groups": list(user.groups)})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser

__all__ = ["AnonymousUser", "CognitoUser"]


@dataclass(frozen=True, eq=False)
class CognitoUser(BaseUser):
    """A signed-in user (session) or an API client (Bearer access token).

    ``claims`` are the verified ID token claims for a session, the access token claims for a
    Bearer request. ``scopes`` always come from the access token.
    """

    sub: str
    username: str
    email: str | None
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    preferred_role: str | None
    scopes: frozenset[str]
    claims: Mapping[str, Any]
    identity_provider: str | None = None
    provider_type: str | None = None
    client_id: str | None = None
    via_bearer: bool = False
    is_guest: bool = field(default=False, init=False)
    auth_credentials: AuthCredentials = field(init=False, repr=False)
    """What ``request.auth`` holds for this user: ``authenticated`` and the token's scopes.
    Built once per user object; requests of the same session share it."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "auth_credentials", AuthCredentials(["authenticated", *sorted(self.scopes)])
        )

    @classmethod
    def from_claims(
        cls,
        id_claims: Mapping[str, Any] | None,
        access_claims: Mapping[str, Any] | None,
        *,
        via_bearer: bool = False,
    ) -> CognitoUser:
        """Build the user from verified claims (ID token, access token or both)."""
        primary: Mapping[str, Any] = id_claims or access_claims or {}
        access = access_claims or {}
        identities = primary.get("identities")
        provider = provider_type = None
        if isinstance(identities, list) and identities:
            first = next(
                (i for i in identities if isinstance(i, dict) and i.get("primary") == "true"),
                identities[0],
            )
            if isinstance(first, dict):
                provider = first.get("providerName")
                provider_type = first.get("providerType")
        groups = primary.get("cognito:groups") or access.get("cognito:groups") or []
        roles = primary.get("cognito:roles") or []
        scope = access.get("scope") or ""
        username = (
            primary.get("cognito:username")
            or primary.get("username")
            or access.get("username")
            or primary.get("sub", "")
        )
        return cls(
            sub=str(primary.get("sub", "")),
            username=str(username),
            email=primary.get("email"),
            groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
            preferred_role=primary.get("cognito:preferred_role"),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            claims=MappingProxyType(dict(primary)),
            identity_provider=provider,
            provider_type=provider_type,
            client_id=access.get("client_id") or primary.get("aud"),
            via_bearer=via_bearer,
        )

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.email or self.username

    @property
    def identity(self) -> str:
        return self.sub

    @property
    def is_federated(self) -> bool:
        return self.identity_provider is not None

    def in_group(self, *groups: str, all_groups: bool = False) -> bool:
        """Whether the user is in one of ``groups`` (all of them with ``all_groups=True``)."""
        held = set(self.groups)
        return all(g in held for g in groups) if all_groups else any(g in held for g in groups)

    def __repr__(self) -> str:
        return f"CognitoUser(sub={self.sub!r}, username={self.username!r}, groups={self.groups!r})"


class AnonymousUser(BaseUser):
    """A visitor without a session. ``is_guest`` is true: guest pages may serve them, and they
    can receive the identity pool's unauthenticated role."""

    sub = None
    username = ""
    email = None
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    preferred_role = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = {}
    identity_provider = None
    provider_type = None
    is_guest = True
    via_bearer = False
    auth_credentials = AuthCredentials()

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return "guest"

    @property
    def identity(self) -> str:
        return ""

    def in_group(self, *groups: str, all_groups: bool = False) -> bool:
        return False

    def __repr__(self) -> str:
        return "AnonymousUser()"
