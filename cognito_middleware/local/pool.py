"""The user pool's state: users, groups, clients, codes, refresh tokens, hosted-UI sessions,
and the issuing of tokens with Cognito's claim sets."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .keys import KeyRing, SigningKey
from .seed import ClientSeed, GroupSeed, ProviderSeed, ResourceServerSeed, Seed, UserSeed
from .tokens import at_hash, encode_jwt, new_refresh_token
from .triggers import TokenOverrides, Triggers

__all__ = ["AuthCode", "Group", "HostedSession", "RefreshRecord", "User", "UserPool"]

CODE_LIFETIME = 300
HOSTED_SESSION_LIFETIME = 3600

_T = TypeVar("_T")


def snapshot(obj: Any) -> dict[str, Any]:
    """A data-model object (a dataclass: user, group, client, record) as plain JSON data.

    Every field is kept, so a field added to one of these classes is persisted as it is.
    """
    return dataclasses.asdict(obj)


def restore(cls: type[_T], data: Any) -> _T:
    """The object of a :func:`snapshot`; missing fields take their defaults, unknown or
    mistyped ones raise ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


@dataclass
class Group:
    name: str
    precedence: int | None = None
    role_arn: str | None = None
    description: str = ""
    created: float = 0.0
    modified: float = 0.0


@dataclass
class User:
    """A user pool user. ``attributes`` holds strings, as Cognito stores them."""

    username: str
    password: str | None
    sub: str
    attributes: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    enabled: bool = True
    identities: list[dict[str, Any]] = field(default_factory=list)
    status: str = "CONFIRMED"
    """``UserStatus``: ``CONFIRMED``, ``UNCONFIRMED``, ``FORCE_CHANGE_PASSWORD``, ..."""
    created: float = 0.0
    modified: float = 0.0


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    username: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    auth_time: int
    expires_at: float
    used: bool = False
    overrides: TokenOverrides | None = None


@dataclass
class RefreshRecord:
    client_id: str
    username: str
    scopes: tuple[str, ...]
    origin_jti: str
    auth_time: int
    expires_at: float
    rotated_at: float | None = None
    revoked: bool = False


@dataclass
class HostedSession:
    username: str
    auth_time: int
    expires_at: float


class UserPool:
    """Users, app clients and issued artefacts of one user pool. Thread-safe enough for a
    test thread mutating it while the server thread serves requests (one lock).

    Persistence: every operation that changes what :meth:`snapshot` returns calls
    :meth:`changed` afterwards (the state file, when there is one, is then saved soon).
    """

    def __init__(
        self,
        seed: Seed,
        *,
        clock: Callable[[], float],
        issuer: Callable[[], str],
        keys: tuple[SigningKey, SigningKey] | None = None,
    ):
        self.pool_id = seed.user_pool_id
        self.required_attributes = list(seed.required_attributes)
        self.alias_attributes = list(seed.alias_attributes)
        self.keys = KeyRing(keys)
        self._clock = clock
        self._issuer = issuer
        self.on_change: Callable[[], None] = lambda: None
        """Called by :meth:`changed`; the emulator points it at its state file's saver."""
        self.lock = threading.RLock()
        self.groups: dict[str, Group] = {}
        self.users: dict[str, User] = {}
        self.clients: dict[str, ClientSeed] = {c.client_id: c for c in seed.clients}
        self.providers: dict[str, ProviderSeed] = {p.name: p for p in seed.providers}
        self.resource_servers: list[ResourceServerSeed] = list(seed.resource_servers)
        self.resource_scopes = {
            f"{rs.identifier}/{scope}" for rs in seed.resource_servers for scope in rs.scopes
        }
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.revoked_origins: set[str] = set()
        self.sessions: dict[str, HostedSession] = {}
        self.triggers = Triggers(seed.triggers, pool_id=seed.user_pool_id, region=seed.region)
        """The Lambda triggers (see :mod:`cognito_middleware.local.triggers`)."""
        for group in seed.groups:
            self.add_group(group)
        for user in seed.users:
            self.add_user(user)

    def now(self) -> float:
        return self._clock()

    def changed(self) -> None:
        """Persistence hook: call it after any change to users, groups, clients, keys or
        issued tokens."""
        self.on_change()

    # Persistence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to rebuild this pool, as plain JSON data (see :meth:`restore`)."""
        with self.lock:
            return {
                "pool_id": self.pool_id,
                "required_attributes": list(self.required_attributes),
                "clients": [snapshot(c) for c in self.clients.values()],
                "providers": [snapshot(p) for p in self.providers.values()],
                "resource_servers": [snapshot(r) for r in self.resource_servers],
                "groups": [snapshot(g) for g in self.groups.values()],
                "users": [snapshot(u) for u in self.users.values()],
                "keys": self.keys.snapshot(),
                "refresh_tokens": {t: snapshot(r) for t, r in self.refresh_tokens.items()},
                "revoked_origins": sorted(self.revoked_origins),
                "codes": {c: snapshot(r) for c, r in self.codes.items()},
                "sessions": {s: snapshot(r) for s, r in self.sessions.items()},
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace users, groups, keys and issued tokens with those of a :meth:`snapshot`
        (clients, providers and resource servers come in through the seed)."""
        now = self.now()
        with self.lock:
            self.keys.restore(data["keys"])
            self.groups = {g.name: g for g in (restore(Group, g) for g in data["groups"])}
            self.users = {u.username.lower(): u for u in (restore(User, u) for u in data["users"])}
            self.refresh_tokens = {
                str(t): restore(RefreshRecord, r) for t, r in data["refresh_tokens"].items()
            }
            self.revoked_origins = {str(o) for o in data["revoked_origins"]}
            self.codes = {str(c): restore(AuthCode, r) for c, r in data["codes"].items()}
            self.sessions = {str(s): restore(HostedSession, r) for s, r in data["sessions"].items()}
            # Expired codes and sessions are dead weight; refresh tokens are kept (revoked and
            # expired ones still answer invalid_grant rather than looking unknown).
            self.codes = {c: r for c, r in self.codes.items() if r.expires_at > now}
            self.sessions = {s: r for s, r in self.sessions.items() if r.expires_at > now}
            for record in self.codes.values():
                record.scopes = tuple(record.scopes)
            for token in self.refresh_tokens.values():
                token.scopes = tuple(token.scopes)

    # Directory ---------------------------------------------------------------------------

    def add_group(self, group: GroupSeed) -> Group:
        with self.lock:
            now = self.now()
            self.groups[group.name] = Group(
                group.name, group.precedence, group.role_arn, group.description, now, now
            )
        self.changed()
        return self.groups[group.name]

    def add_user(self, seed: UserSeed) -> User:
        attributes = dict(seed.attributes)
        if seed.email is not None:
            attributes["email"] = seed.email
            attributes.setdefault("email_verified", "true" if seed.email_verified else "false")
        for group in seed.groups:
            if group not in self.groups:
                raise ValueError(f"unknown group {group!r}")
        user = User(
            username=seed.username,
            password=seed.password,
            sub=seed.sub or str(uuid.uuid4()),
            attributes=attributes,
            groups=list(seed.groups),
            enabled=seed.enabled,
            created=self.now(),
            modified=self.now(),
        )
        with self.lock:
            # Pools are case-insensitive for user names (the default for new pools).
            self.users[seed.username.lower()] = user
        self.changed()
        return user

    def user(self, username: str) -> User | None:
        return self.users.get(username.lower())

    def resolve(self, name: str) -> User | None:
        """A user by user name, else by an alias: a verified ``email``/``phone_number`` or a
        ``preferred_username``, when the pool has that alias attribute."""
        user = self.user(name)
        if user is not None or not self.alias_attributes:
            return user
        folded = name.lower()
        for candidate in list(self.users.values()):
            for attr in self.alias_attributes:
                value = candidate.attributes.get(attr)
                if value is None or value.lower() != folded:
                    continue
                if attr == "preferred_username" or (
                    candidate.attributes.get(f"{attr}_verified") == "true"
                ):
                    return candidate
        return None

    def user_groups(self, user: User) -> list[Group]:
        groups = [self.groups[name] for name in user.groups if name in self.groups]
        # Groups without precedence sort last, as Cognito treats them as the lowest priority.
        return sorted(groups, key=lambda g: (g.precedence is None, g.precedence or 0))

    def preferred_role(self, groups: Iterable[Group]) -> str | None:
        with_roles = [g for g in groups if g.role_arn and g.precedence is not None]
        if not with_roles:
            roles = [g.role_arn for g in groups if g.role_arn]
            return roles[0] if len(roles) == 1 else None
        best = min(g.precedence for g in with_roles if g.precedence is not None)
        winners = {g.role_arn for g in with_roles if g.precedence == best}
        return winners.pop() if len(winners) == 1 else None

    def check_password(self, username: str, password: str) -> User | None:
        user = self.resolve(username)
        if user is None or user.password is None:
            return None
        if not secrets.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    # Scopes ------------------------------------------------------------------------------

    def grant_scopes(self, client: ClientSeed, requested: str | None) -> tuple[str, ...]:
        """Requested scopes the client may have; all of the client's when none is requested."""
        allowed = [s for s in client.allowed_scopes if s in self.resource_scopes or "/" not in s]
        if requested is None:
            return tuple(allowed)
        wanted = requested.split()
        return tuple(s for s in dict.fromkeys(wanted) if s in allowed)

    # Codes, sessions ---------------------------------------------------------------------

    def new_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        username: str,
        scopes: tuple[str, ...],
        nonce: str | None,
        code_challenge: str | None,
        auth_time: int,
        overrides: TokenOverrides | None = None,
    ) -> str:
        code = str(uuid.uuid4())
        with self.lock:
            self.codes[code] = AuthCode(
                client_id,
                redirect_uri,
                username,
                scopes,
                nonce,
                code_challenge,
                auth_time,
                self.now() + CODE_LIFETIME,
                overrides=overrides,
            )
        self.changed()
        return code

    def new_session(self, username: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self.lock:
            self.sessions[sid] = HostedSession(
                username, int(self.now()), self.now() + HOSTED_SESSION_LIFETIME
            )
        self.changed()
        return sid

    def session(self, sid: str | None) -> HostedSession | None:
        if not sid:
            return None
        session = self.sessions.get(sid)
        if session is None or session.expires_at <= self.now():
            return None
        user = self.user(session.username)
        if user is None or not user.enabled:
            return None
        return session

    def end_session(self, sid: str | None) -> None:
        with self.lock:
            if sid and self.sessions.pop(sid, None) is not None:
                self.changed()

    def live_sessions(self) -> int:
        now = self.now()
        return sum(1 for s in self.sessions.values() if s.expires_at > now)

    # Tokens ------------------------------------------------------------------------------

    def token_overrides(
        self, client: ClientSeed, user: User, scopes: tuple[str, ...], source: str
    ) -> TokenOverrides | None:
        """Run the pre token generation trigger for ``user`` (``source`` is its
        ``triggerSource``); raises ``TriggerError`` when it fails."""
        groups = self.user_groups(user)
        return self.triggers.pre_token_generation(
            source=source,
            client_id=client.client_id,
            user=user,
            groups=[g.name for g in groups],
            roles=[g.role_arn for g in groups if g.role_arn],
            preferred_role=self.preferred_role(groups),
            scopes=scopes,
        )

    def issue(
        self,
        *,
        client: ClientSeed,
        user: User,
        scopes: tuple[str, ...],
        nonce: str | None = None,
        auth_time: int | None = None,
        origin_jti: str | None = None,
        with_refresh: bool = True,
        at_login: bool = True,
        overrides: TokenOverrides | None = None,
        refresh_expires_at: float | None = None,
    ) -> dict[str, Any]:
        """The body of a token response for ``user`` (code exchange, refresh or mint), with
        the changes of a pre token generation trigger (``overrides``) applied.

        ``refresh_expires_at``: when the new refresh token expires; by default the client's
        refresh token validity from now (a sign-in). A rotated refresh token passes the
        original's, as its lifetime counts from the sign-in.
        """
        now = int(self.now())
        auth_time = now if auth_time is None else auth_time
        origin_jti = origin_jti or str(uuid.uuid4())
        event_id = str(uuid.uuid4())
        groups = self.user_groups(user)
        group_names = [g.name for g in groups]
        access: dict[str, Any] = {"sub": user.sub}
        if group_names:
            access["cognito:groups"] = group_names
        access.update(
            {
                "iss": self._issuer(),
                "version": 2,
                "client_id": client.client_id,
                "origin_jti": origin_jti,
                "event_id": event_id,
                "token_use": "access",
                "scope": " ".join(scopes),
                "auth_time": auth_time,
                "exp": now + client.access_token_validity,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "username": user.username,
            }
        )
        if overrides is not None:
            access = overrides.apply_access(access)
        access_token = encode_jwt(access, self.keys.access_key)
        body: dict[str, Any] = {"access_token": access_token}
        # The user-pool API's tokens carry only the admin scope and still come with an ID token.
        if "openid" in scopes or "aws.cognito.signin.user.admin" in scopes:
            claims = self._id_claims(
                client,
                user,
                groups,
                nonce,
                auth_time,
                origin_jti,
                event_id,
                access_token if at_login else None,
                now,
            )
            if overrides is not None:
                claims = overrides.apply_id(claims)
            body["id_token"] = encode_jwt(claims, self.keys.id_key)
        if with_refresh:
            body["refresh_token"] = self.new_refresh(
                client, user, scopes, origin_jti, auth_time, expires_at=refresh_expires_at
            )
        body["token_type"] = "Bearer"  # noqa: S105
        body["expires_in"] = client.access_token_validity
        return body

    def _id_claims(
        self,
        client: ClientSeed,
        user: User,
        groups: list[Group],
        nonce: str | None,
        auth_time: int,
        origin_jti: str,
        event_id: str,
        access_token: str | None,
        now: int,
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {}
        if access_token is not None:
            claims["at_hash"] = at_hash(access_token)
        claims["sub"] = user.sub
        if groups:
            claims["cognito:groups"] = [g.name for g in groups]
        attributes = dict(user.attributes)
        for flag in ("email_verified", "phone_number_verified"):
            if flag in attributes:
                claims[flag] = attributes.pop(flag) == "true"
        claims["iss"] = self._issuer()
        claims["cognito:username"] = user.username
        if nonce is not None:
            claims["nonce"] = nonce
        claims["origin_jti"] = origin_jti
        roles = [g.role_arn for g in groups if g.role_arn]
        if roles:
            claims["cognito:roles"] = roles
            preferred = self.preferred_role(groups)
            if preferred:
                claims["cognito:preferred_role"] = preferred
        claims["aud"] = client.client_id
        if user.identities:
            claims["identities"] = user.identities
        claims.update(
            {
                "event_id": event_id,
                "token_use": "id",
                "auth_time": auth_time,
                "exp": now + client.id_token_validity,
                "iat": now,
                "jti": str(uuid.uuid4()),
            }
        )
        claims.update(attributes)
        return claims

    def new_refresh(
        self,
        client: ClientSeed,
        user: User,
        scopes: tuple[str, ...],
        origin_jti: str,
        auth_time: int,
        *,
        expires_at: float | None = None,
    ) -> str:
        token = new_refresh_token()
        if expires_at is None:
            expires_at = self.now() + client.refresh_token_validity
        with self.lock:
            self.refresh_tokens[token] = RefreshRecord(
                client.client_id, user.username, scopes, origin_jti, auth_time, expires_at
            )
        self.changed()
        return token

    def client_credentials_token(self, client: ClientSeed, scopes: tuple[str, ...]) -> str:
        """An M2M access token; a V3 pre token generation trigger
        (``TokenGeneration_ClientCredentials``) may change it (raises ``TriggerError``)."""
        now = int(self.now())
        claims: dict[str, Any] = {
            "sub": client.client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": now,
            "iss": self._issuer(),
            "exp": now + client.access_token_validity,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client.client_id,
        }
        overrides = self.triggers.pre_token_generation(
            source="TokenGeneration_ClientCredentials",
            client_id=client.client_id,
            user=None,
            groups=[],
            roles=[],
            preferred_role=None,
            scopes=scopes,
        )
        if overrides is not None:
            claims = overrides.apply_access(claims)
        return encode_jwt(claims, self.keys.access_key)

    def refresh_usable(self, record: RefreshRecord, client: ClientSeed) -> bool:
        now = self.now()
        if record.revoked or record.origin_jti in self.revoked_origins:
            return False
        if record.expires_at <= now:
            return False
        return record.rotated_at is None or now < record.rotated_at + client.rotation_grace_seconds

    def revoke_family(self, origin_jti: str) -> None:
        with self.lock:
            self.revoked_origins.add(origin_jti)
            for record in self.refresh_tokens.values():
                if record.origin_jti == origin_jti:
                    record.revoked = True
        self.changed()
