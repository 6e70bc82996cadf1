"""The identity pool: JSON 1.1 at ``POST /`` with ``X-Amz-Target:
AWSCognitoIdentityService.<Op>`` (``GetId``, ``GetCredentialsForIdentity``, ``GetOpenIdToken``)."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .seed import IdentityPoolSeed
from .tokens import decode_jwt, encode_jwt

if TYPE_CHECKING:
    from .app import LocalCognito

__all__ = ["IdentityError", "IdentityPool", "IssuedCredentials", "identity_error"]

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSCognitoIdentityService."
CREDENTIALS_LIFETIME = 3600
_POOL_ID = re.compile(r"^[\w-]+:[0-9a-f-]+$")
_KEY_ALPHABET = string.ascii_uppercase + "234567"


class IdentityError(Exception):
    """An error answer of a JSON 1.1 API (``__type`` and ``message``, HTTP 400 by default)."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


JsonHandler = Callable[[dict[str, Any]], dict[str, Any]]


async def answer_call(request: Request, handler: JsonHandler | None) -> Response:
    """Answer one JSON 1.1 call (identity pool or user pool): ``handler`` gets the request's
    object and returns the answer's, or raises :class:`IdentityError`; ``None`` is an unknown
    operation."""
    if handler is None:
        return identity_error("UnknownOperationException", "")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return identity_error("SerializationException", "Malformed request body")
    if not isinstance(body, dict):
        return identity_error("SerializationException", "Expected an object")
    try:
        result = handler(body)
    except IdentityError as exc:
        return identity_error(exc.error_type, exc.message, exc.status)
    return Response(
        json.dumps(result),
        media_type=CONTENT_TYPE,
        headers={"x-amzn-requestid": str(uuid.uuid4())},
    )


def identity_error(error_type: str, message: str, status: int = 400) -> Response:
    """Cognito Identity's error answer: ``__type`` in the body and in ``x-amzn-errortype``."""
    return Response(
        json.dumps({"__type": error_type, "message": message}),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-errortype": error_type, "x-amzn-requestid": str(uuid.uuid4())},
    )


@dataclass
class Identity:
    identity_id: str
    logins: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class IssuedCredentials:
    """A record of credentials handed out (for tests: which identity got which role)."""

    identity_id: str
    role_arn: str
    access_key_id: str
    authenticated: bool


class IdentityPool:
    """The identity pool's identities and their links to user pool users.

    Persistence: every change to identities or links calls :meth:`changed`.
    """

    def __init__(self, cognito: LocalCognito, seed: IdentityPoolSeed | None) -> None:
        self.cognito = cognito
        self.seed = seed
        self.on_change: Callable[[], None] = lambda: None
        self.lock = threading.RLock()
        self.identities: dict[str, Identity] = {}
        self.by_login: dict[tuple[str, str], str] = {}
        self.merged: dict[str, str] = {}
        self.issued: list[IssuedCredentials] = []

    def changed(self) -> None:
        """Persistence hook: call it after any change to identities or their links."""
        self.on_change()

    def login_key(self, sub: str) -> tuple[str, str]:
        """How a user pool user's login is recorded: by pool id, not by ``Logins`` key, so
        that every accepted key (and a changed port or issuer style) finds the same identity."""
        return (self.cognito.pool_id, sub)

    def _keys(self, logins: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
        return {self.login_key(str(claims["sub"])) for claims in logins.values()}

    def snapshot(self) -> dict[str, Any]:
        """Identities, their links and merges as plain JSON data (see :meth:`restore`)."""
        with self.lock:
            return {
                "config": dataclasses.asdict(self.seed) if self.seed else None,
                "identities": {
                    i.identity_id: sorted([p, s] for p, s in i.logins)
                    for i in self.identities.values()
                },
                "merged": dict(self.merged),
            }

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.identities, self.by_login = {}, {}
            for identity_id, logins in data["identities"].items():
                identity = Identity(str(identity_id), {(str(p), str(s)) for p, s in logins})
                self.identities[identity.identity_id] = identity
                for key in identity.logins:
                    self.by_login[key] = identity.identity_id
            self.merged = {str(k): str(v) for k, v in data["merged"].items()}

    @property
    def region(self) -> str:
        return self.seed.identity_pool_id.split(":", 1)[0] if self.seed else "us-east-1"

    def routes(self) -> list[Route]:
        return [Route("/", self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        handler = {
            "GetId": self.get_id,
            "GetCredentialsForIdentity": self.get_credentials,
            "GetOpenIdToken": self.get_open_id_token,
        }.get(operation)
        return await answer_call(request, handler)

    # Validation ----------------------------------------------------------------------------

    def _pool(self) -> IdentityPoolSeed:
        if self.seed is None:
            raise IdentityError("ResourceNotFoundException", "No identity pool is configured.")
        return self.seed

    @staticmethod
    def _required(body: dict[str, Any], key: str) -> str:
        value = body.get(key)
        member = key[0].lower() + key[1:]
        if value is None:
            raise IdentityError(
                "InvalidParameterException",
                f"1 validation error detected: Value null at '{member}' failed "
                "to satisfy constraint: Member must not be null",
            )
        if not isinstance(value, str) or not _POOL_ID.match(value):
            raise IdentityError(
                "InvalidParameterException",
                f"1 validation error detected: Value '{value}' at '{member}' "
                "failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: [\\w-]+:[0-9a-f-]+",
            )
        return value

    def _logins(self, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Verified ``Logins``: provider key -> ID token claims."""
        logins = body.get("Logins")
        if logins is None or logins == {}:
            return {}
        if (
            not isinstance(logins, dict)
            or len(logins) > 10
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in logins.items())
        ):
            raise IdentityError(
                "InvalidParameterException", "Logins must map provider names to tokens (at most 10)"
            )
        pool = self._pool()
        keys = self.cognito.login_provider_keys
        allowed = (
            pool.client_ids if pool.client_ids is not None else list(self.cognito.pool.clients)
        )
        verified = {}
        unsupported = IdentityError(
            "NotAuthorizedException",
            "Token is not from a supported provider of this identity pool.",
        )
        for provider, token in logins.items():
            claims = decode_jwt(token, self.cognito.pool.keys)
            if claims is None:
                raise IdentityError(
                    "NotAuthorizedException", "Invalid login token. Couldn't verify signed token."
                )
            issuer = str(claims.get("iss", "")).split("://", 1)[-1]
            # The user pool answers to each of its keys (its issuer without the scheme, and
            # the emulator's own address when tokens carry the AWS-style issuer).
            if issuer != provider and not (provider in keys and issuer in keys):
                raise IdentityError(
                    "NotAuthorizedException",
                    "Invalid login token. Issuer doesn't match providerName",
                )
            if provider not in keys:
                raise unsupported
            if claims.get("token_use") != "id":
                raise IdentityError(
                    "NotAuthorizedException",
                    "Invalid login token. Not a valid OpenId Connect identity token.",
                )
            now, exp = int(self.cognito.now()), claims.get("exp")
            if not isinstance(exp, int) or exp <= now:
                raise IdentityError(
                    "NotAuthorizedException", f"Invalid login token. Token expired: {now} >= {exp}"
                )
            if claims.get("aud") not in allowed:
                raise unsupported
            verified[provider] = claims
        return verified

    def _check_pool_id(self, body: dict[str, Any]) -> IdentityPoolSeed:
        pool_id = self._required(body, "IdentityPoolId")
        pool = self._pool()
        if pool_id != pool.identity_pool_id:
            raise IdentityError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
        return pool

    def _identity(self, identity_id: str) -> Identity:
        identity = self.identities.get(identity_id)
        if identity is None:
            raise IdentityError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        return identity

    def _new_identity(self) -> Identity:
        identity = Identity(f"{self.region}:{uuid.uuid4()}")
        self.identities[identity.identity_id] = identity
        self.changed()
        return identity

    def _resolve(self, identity_id: str, logins: dict[str, dict[str, Any]]) -> Identity:
        """The identity to use for ``identity_id`` with these logins: links a guest identity
        to a first login, or merges it into the identity the login already has."""
        pool = self._pool()
        with self.lock:
            identity = self._identity(identity_id)
            keys = self._keys(logins)
            if not logins:
                if identity.logins:
                    raise IdentityError(
                        "NotAuthorizedException",
                        f"Access to Identity '{identity_id}' is forbidden.",
                    )
                if not pool.allow_unauthenticated:
                    raise IdentityError(
                        "NotAuthorizedException",
                        "Unauthenticated access is not supported for this identity pool.",
                    )
                return identity
            if identity.logins:
                if not identity.logins & keys:
                    raise IdentityError(
                        "NotAuthorizedException",
                        "Logins don't match. Please "
                        "include at least one valid login for this identity "
                        "or identity pool.",
                    )
                return identity
            owners = {self.by_login[k] for k in keys if k in self.by_login}
            if owners:
                target = self.identities[owners.pop()]
                del self.identities[identity.identity_id]
                self.merged[identity.identity_id] = target.identity_id
                identity = target
            identity.logins |= keys
            for key in keys:
                self.by_login[key] = identity.identity_id
        self.changed()
        return identity

    def _role(
        self, pool: IdentityPoolSeed, claims: dict[str, Any] | None, custom_role: str | None
    ) -> str:
        invalid = IdentityError(
            "InvalidIdentityPoolConfigurationException",
            "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
        )
        if claims is None:
            if not pool.unauthenticated_role_arn:
                raise invalid
            return pool.unauthenticated_role_arn
        mapping, key = pool.role_mapping, self.cognito.login_provider_key
        role: str | None = None
        if mapping is not None and mapping.type == "Token":
            roles = claims.get("cognito:roles") or []
            if custom_role:
                if custom_role not in roles:
                    raise IdentityError(
                        "NotAuthorizedException",
                        f"Role '{custom_role}' is not among the user's roles.",
                    )
                return custom_role
            role = claims.get("cognito:preferred_role")
        elif mapping is not None:
            for rule in mapping.rules:
                if _matches(claims.get(rule.claim), rule.match_type, rule.value):
                    role = rule.role_arn
                    break
        if role:
            return role
        if mapping is not None and mapping.ambiguous_role_resolution == "Deny":
            raise IdentityError(
                "NotAuthorizedException",
                f"The ambiguous role mapping rules for: {key} denied this request.",
            )
        if not pool.authenticated_role_arn:
            raise invalid
        return pool.authenticated_role_arn

    # Operations ----------------------------------------------------------------------------

    def get_id(self, body: dict[str, Any]) -> dict[str, Any]:
        pool = self._check_pool_id(body)
        logins = self._logins(body)
        with self.lock:
            if not logins:
                if not pool.allow_unauthenticated:
                    raise IdentityError(
                        "NotAuthorizedException",
                        "Unauthenticated access is not supported for this identity pool.",
                    )
                return {"IdentityId": self._new_identity().identity_id}
            keys = self._keys(logins)
            for key in keys:
                if key in self.by_login:
                    return {"IdentityId": self.by_login[key]}
            identity = self._new_identity()
            identity.logins |= keys
            for key in keys:
                self.by_login[key] = identity.identity_id
        self.changed()
        return {"IdentityId": identity.identity_id}

    def get_credentials(self, body: dict[str, Any]) -> dict[str, Any]:
        identity_id = self._required(body, "IdentityId")
        pool = self._pool()
        logins = self._logins(body)
        identity = self._resolve(identity_id, logins)
        claims = next(iter(logins.values()), None)
        custom = body.get("CustomRoleArn")
        role = self._role(pool, claims, custom if isinstance(custom, str) else None)
        key_id = "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        self.issued.append(
            IssuedCredentials(identity.identity_id, role, key_id, claims is not None)
        )
        return {
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretKey": base64.b64encode(secrets.token_bytes(30)).decode(),
                "SessionToken": "IQoJb3JpZ2luX2VjE"
                + base64.b64encode(secrets.token_bytes(600)).decode(),
                "Expiration": int(self.cognito.now()) + CREDENTIALS_LIFETIME,
            },
            "IdentityId": identity.identity_id,
        }

    def get_open_id_token(self, body: dict[str, Any]) -> dict[str, Any]:
        identity_id = self._required(body, "IdentityId")
        pool = self._pool()
        # GetOpenIdToken is the basic (classic) flow's step; pools have it off unless
        # AllowClassicFlow is set, and then refuse it with this InvalidParameterException.
        if not pool.allow_classic_flow:
            raise IdentityError(
                "InvalidParameterException",
                "Basic (classic) flow is not enabled, please use enhanced flow.",
            )
        logins = self._logins(body)
        identity = self._resolve(identity_id, logins)
        now = int(self.cognito.now())
        amr = ["unauthenticated"]
        if logins:
            key, claims = next(iter(logins.items()))
            amr = ["authenticated", key, f"{key}:CognitoSignIn:{claims['sub']}"]
        token = encode_jwt(
            {
                "sub": identity.identity_id,
                "aud": pool.identity_pool_id,
                "amr": amr,
                "iss": "https://cognito-identity.amazonaws.com",
                "exp": now + 600,
                "iat": now,
            },
            self.cognito.pool.keys.id_key,
        )
        return {"IdentityId": identity.identity_id, "Token": token}


def _matches(claim: Any, match_type: str, value: str) -> bool:
    values = (
        [str(v) for v in claim]
        if isinstance(claim, list)
        else ([] if claim is None else [str(claim)])
    )
    if match_type == "Equals":
        return value in values
    if match_type == "Contains":
        return any(value in v for v in values)
    if match_type == "StartsWith":
        return any(v.startswith(value) for v in values)
    if match_type == "NotEqual":
        return bool(values) and value not in values
    return False
