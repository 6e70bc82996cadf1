"""The user pool's JSON API: ``POST /`` with ``X-Amz-Target:
AWSCognitoIdentityProviderService.<Op>`` (what boto3's ``cognito-idp`` client and the AWS SDKs
call): user administration, groups, pool and client descriptions, the ``InitiateAuth`` flows
(password, SRP, refresh), challenges, sign-up, password reset and the access-token operations.

Confirmation codes, password-reset codes and invitations are not sent anywhere: they are kept in
:attr:`UserPoolApi.outbox` (``LocalCognito.outbox``, ``LocalCognito.last_code``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from . import srp
from .identity import IdentityError, answer_call
from .pool import Group, User
from .seed import AUTH_FLOWS, ClientSeed, PasswordPolicySeed
from .tokens import decode_jwt

if TYPE_CHECKING:
    from .app import LocalCognito

__all__ = ["IDP_TARGET_PREFIX", "IdpError", "OutboxMessage", "UserPoolApi"]

IDP_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
CHALLENGE_LIFETIME = 180
SIGN_UP_CODE_LIFETIME = 24 * 3600
RESET_CODE_LIFETIME = 3600
_WRONG = "Incorrect username or password."
_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
_STANDARD_ATTRIBUTES = {
    "address",
    "birthdate",
    "email",
    "email_verified",
    "family_name",
    "gender",
    "given_name",
    "locale",
    "middle_name",
    "name",
    "nickname",
    "phone_number",
    "phone_number_verified",
    "picture",
    "preferred_username",
    "profile",
    "sub",
    "updated_at",
    "website",
    "zoneinfo",
}
_FILTER = re.compile(r'^\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')
# Cognito's pattern is [\p{L}\p{M}\p{S}\p{N}\p{P}]+: letters, marks, symbols, digits, punctuation.
_USERNAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")
_FILTERABLE = {
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
}


class IdpError(IdentityError):
    """An error answer of the user-pool API (``__type`` and ``message``, HTTP 400)."""


@dataclass(frozen=True)
class OutboxMessage:
    """A message the pool would have sent: a code or an invitation.

    ``kind``: ``SIGN_UP``, ``RESEND_CODE``, ``FORGOT_PASSWORD``, ``INVITATION`` (AdminCreateUser,
    with ``temporary_password``) or ``VERIFY_ATTRIBUTE``. ``destination`` is the unmasked email
    address or phone number; ``delivery_medium`` ``EMAIL`` or ``SMS``.
    """

    kind: str
    username: str
    destination: str | None
    delivery_medium: str | None
    attribute: str | None
    code: str | None = None
    temporary_password: str | None = None


@dataclass
class _Code:
    code: str
    expires_at: float
    attribute: str | None = None


@dataclass
class _Challenge:
    name: str
    username: str
    client_id: str
    expires_at: float
    srp: srp.SRPChallenge | None = None


def _null(member: str) -> IdpError:
    return IdpError(
        "InvalidParameterException",
        f"1 validation error detected: Value null at '{member}' failed to satisfy "
        "constraint: Member must not be null",
    )


def _req(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise _null(key[0].lower() + key[1:])
    if not isinstance(value, str):
        raise IdpError("SerializationException", f"{key} must be a string")
    return value


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IdpError("SerializationException", f"{key} must be a string")
    return value


def _attributes(body: dict[str, Any], key: str) -> dict[str, str]:
    items = body.get(key) or []
    if not isinstance(items, list):
        raise IdpError("SerializationException", f"{key} must be a list")
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise IdpError("InvalidParameterException", f"{key}: every entry needs a Name")
        value = item.get("Value", "")
        out[item["Name"]] = value if isinstance(value, str) else str(value)
    return out


def _limit(body: dict[str, Any], key: str, default: int, maximum: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise IdpError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{value}' at '{key[0].lower()}"
            f"{key[1:]}' failed to satisfy constraint: Member must have value less "
            f"than or equal to {maximum}",
        )
    return value or default


def _page(
    items: Sequence[Any], body: dict[str, Any], token_key: str, limit: int
) -> tuple[list[Any], str | None]:
    token = body.get(token_key)
    start = 0
    if token is not None:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except (ValueError, binascii.Error):
            start = -1
        if start < 0:
            raise IdpError("InvalidParameterException", "Invalid pagination token.")
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """``SECRET_HASH``: Base64(HMAC-SHA256(client secret, username + client id))."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.standard_b64encode(digest.digest()).decode("ascii")


def _mask(medium: str, destination: str) -> str:
    if medium == "EMAIL" and "@" in destination:
        local, domain = destination.split("@", 1)
        tld = domain[domain.rfind(".") :] if "." in domain else ""
        return f"{local[:1]}***@{domain[:1]}***{tld}"
    return "+" + "*" * max(len(destination) - 5, 0) + destination[-4:]


class UserPoolApi:
    """Serves ``AWSCognitoIdentityProviderService.*`` for one :class:`LocalCognito`."""

    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self.pool = cognito.pool
        self.policy: PasswordPolicySeed = cognito.seed.password_policy
        self.lock = threading.RLock()
        self.outbox: list[OutboxMessage] = []
        self.codes: dict[tuple[str, str], _Code] = {}
        self.challenges: dict[str, _Challenge] = {}
        self.created = cognito.now()
        self.client_dates: dict[str, tuple[float, float]] = {}
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            name: getattr(self, "op_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower())
            for name in _OPERATIONS
        }

    @property
    def pool_name(self) -> str:
        """The part of the pool id after ``_`` (SRP's pool name)."""
        return self.pool.pool_id.split("_", 1)[1]

    async def handle(self, request: Request) -> Response:
        """Answer one JSON 1.1 call."""
        target = request.headers.get("x-amz-target", "")
        operation = target[len(IDP_TARGET_PREFIX) :] if target.startswith(IDP_TARGET_PREFIX) else ""
        handler = self.operations.get(operation)
        return await answer_call(request, handler)

    # Lookups -----------------------------------------------------------------------------

    def _check_pool(self, body: dict[str, Any]) -> None:
        pool_id = _req(body, "UserPoolId")
        if pool_id != self.pool.pool_id:
            raise IdpError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")

    def _client(self, body: dict[str, Any]) -> ClientSeed:
        client_id = _req(body, "ClientId")
        client = self.pool.clients.get(client_id)
        if client is None:
            raise IdpError(
                "ResourceNotFoundException", f"User pool client {client_id} does not exist."
            )
        return client

    def _user(self, username: str) -> User:
        user = self.pool.resolve(username)
        if user is None:
            raise IdpError("UserNotFoundException", "User does not exist.")
        return user

    def _admin_user(self, body: dict[str, Any]) -> User:
        self._check_pool(body)
        return self._user(_req(body, "Username"))

    def _group(self, name: str) -> Group:
        group = self.pool.groups.get(name)
        if group is None:
            raise IdpError("ResourceNotFoundException", "Group not found.")
        return group

    def _token_user(self, body: dict[str, Any]) -> tuple[User, dict[str, Any]]:
        """The user of a valid access token with the admin scope, as Cognito's APIs check it."""
        token = _req(body, "AccessToken")
        claims = decode_jwt(token, self.pool.keys)
        if (
            claims is None
            or claims.get("token_use") != "access"
            or claims.get("iss") != self.cognito.issuer
        ):
            raise IdpError("NotAuthorizedException", "Invalid Access Token")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.pool.now():
            raise IdpError("NotAuthorizedException", "Access Token has expired")
        if claims.get("origin_jti") in self.pool.revoked_origins:
            raise IdpError("NotAuthorizedException", "Access Token has been revoked")
        if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
            raise IdpError("NotAuthorizedException", "Access Token does not have required scopes")
        user = self.pool.user(str(claims.get("username", "")))
        if user is None or user.sub != claims.get("sub"):
            raise IdpError("NotAuthorizedException", "User does not exist.")
        if not user.enabled:
            raise IdpError("NotAuthorizedException", "User is disabled.")
        return user, claims

    def _check_secret(self, client: ClientSeed, given: str | None, *names: str) -> None:
        if client.client_secret is None:
            return
        if not given:
            raise IdpError(
                "NotAuthorizedException",
                f"Client {client.client_id} is configured "
                "with secret but SECRET_HASH was not received",
            )
        for name in names:
            expected = secret_hash(name, client.client_id, client.client_secret)
            if secrets.compare_digest(expected.encode(), given.encode()):
                return
        raise IdpError(
            "NotAuthorizedException", f"Unable to verify secret hash for client {client.client_id}"
        )

    # Representations ---------------------------------------------------------------------

    @staticmethod
    def _status(user: User) -> str:
        return "EXTERNAL_PROVIDER" if user.identities else user.status

    @staticmethod
    def _attribute_list(user: User, only: Sequence[str] | None = None) -> list[dict[str, str]]:
        values = {"sub": user.sub, **user.attributes}
        if user.identities:
            values["identities"] = json.dumps(user.identities, separators=(",", ":"))
        names = list(values) if only is None else [n for n in only if n in values]
        return [{"Name": name, "Value": values[name]} for name in names]

    def _user_type(self, user: User, only: Sequence[str] | None = None) -> dict[str, Any]:
        return {
            "Username": user.username,
            "Attributes": self._attribute_list(user, only),
            "UserCreateDate": user.created,
            "UserLastModifiedDate": user.modified,
            "Enabled": user.enabled,
            "UserStatus": self._status(user),
        }

    def _group_type(self, group: Group) -> dict[str, Any]:
        out: dict[str, Any] = {
            "GroupName": group.name,
            "UserPoolId": self.pool.pool_id,
            "Description": group.description,
            "LastModifiedDate": group.modified,
            "CreationDate": group.created,
        }
        if group.role_arn:
            out["RoleArn"] = group.role_arn
        if group.precedence is not None:
            out["Precedence"] = group.precedence
        return out

    def _client_type(self, client: ClientSeed) -> dict[str, Any]:
        created, modified = self.client_dates.get(client.client_id, (self.created, self.created))
        out: dict[str, Any] = {
            "UserPoolId": self.pool.pool_id,
            "ClientName": client.client_name,
            "ClientId": client.client_id,
            "LastModifiedDate": modified,
            "CreationDate": created,
            "RefreshTokenValidity": client.refresh_token_validity,
            "AccessTokenValidity": client.access_token_validity,
            "IdTokenValidity": client.id_token_validity,
            "TokenValidityUnits": {
                "AccessToken": "seconds",
                "IdToken": "seconds",
                "RefreshToken": "seconds",
            },
            "ExplicitAuthFlows": list(client.explicit_auth_flows),
            "SupportedIdentityProviders": list(client.identity_providers),
            "CallbackURLs": list(client.callback_urls),
            "LogoutURLs": list(client.logout_urls),
            "AllowedOAuthFlows": list(client.allowed_oauth_flows),
            "AllowedOAuthScopes": list(client.allowed_scopes),
            "AllowedOAuthFlowsUserPoolClient": bool(client.allowed_oauth_flows),
            "PreventUserExistenceErrors": "ENABLED"
            if client.prevent_user_existence_errors
            else "LEGACY",
            "EnableTokenRevocation": client.enable_token_revocation,
            "AuthSessionValidity": CHALLENGE_LIFETIME // 60,
        }
        if client.client_secret:
            out["ClientSecret"] = client.client_secret
        return out

    def _pool_policy(self) -> dict[str, Any]:
        p = self.policy
        return {
            "MinimumLength": p.minimum_length,
            "RequireUppercase": p.require_uppercase,
            "RequireLowercase": p.require_lowercase,
            "RequireNumbers": p.require_numbers,
            "RequireSymbols": p.require_symbols,
            "TemporaryPasswordValidityDays": p.temporary_password_validity_days,
        }

    # Rules -------------------------------------------------------------------------------

    def check_password_policy(self, password: str) -> None:
        """Raise ``InvalidPasswordException`` unless ``password`` satisfies the pool's policy."""
        p = self.policy
        problems = [
            (len(password) < p.minimum_length, "Password not long enough"),
            (
                p.require_lowercase and not any(c.islower() for c in password),
                "Password must have lowercase characters",
            ),
            (
                p.require_uppercase and not any(c.isupper() for c in password),
                "Password must have uppercase characters",
            ),
            (
                p.require_numbers and not any(c.isdigit() for c in password),
                "Password must have numeric characters",
            ),
            (
                p.require_symbols and not any(c in _SYMBOLS for c in password.strip()),
                "Password must have symbol characters",
            ),
        ]
        for failed, message in problems:
            if failed:
                raise IdpError(
                    "InvalidPasswordException", f"Password did not conform with policy: {message}"
                )
        if password != password.strip():
            raise IdpError(
                "InvalidParameterException", "Password must not begin or end with a space"
            )

    def _temporary_password(self) -> str:
        alphabet = string.ascii_letters + string.digits
        while True:
            word = "".join(
                secrets.choice(alphabet) for _ in range(max(self.policy.minimum_length, 10))
            )
            candidate = word + secrets.choice("!#%&*+-=?@^_")
            try:
                self.check_password_policy(candidate)
            except IdpError:
                continue
            return candidate

    def _check_username(self, username: str) -> None:
        aliases = self.pool.alias_attributes
        if "email" in aliases and "@" in username:
            raise IdpError(
                "InvalidParameterException",
                "Username cannot be of email format, "
                "since user pool is configured for email alias.",
            )
        if "phone_number" in aliases and re.fullmatch(r"\+\d+", username):
            raise IdpError(
                "InvalidParameterException",
                "Username cannot be of phone format, "
                "since user pool is configured for phone_number alias.",
            )
        if not _USERNAME.match(username):
            raise IdpError(
                "InvalidParameterException",
                "1 validation error detected: Value at 'username' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
            )

    def _check_attributes(self, attributes: dict[str, str], *, new: bool) -> None:
        for name in attributes:
            if name == "sub":
                raise IdpError(
                    "InvalidParameterException", "Cannot modify the non-mutable attribute sub"
                )
            if name not in _STANDARD_ATTRIBUTES and not name.startswith(("custom:", "dev:")):
                raise IdpError(
                    "InvalidParameterException", f"Attribute does not exist in the schema: {name}"
                )
        if new:
            for name in self.pool.required_attributes:
                if not attributes.get(name):
                    raise IdpError(
                        "InvalidParameterException",
                        f"Attributes did not conform to the schema: {name}: The "
                        "attribute is required",
                    )

    def _claim_aliases(self, user: User, attributes: dict[str, str], force: bool) -> None:
        """Refuse (or, with ``force``, take over) aliases another user already holds."""
        for attr in self.pool.alias_attributes:
            value = attributes.get(attr)
            unique = attr == "preferred_username"
            if not value or not (unique or attributes.get(f"{attr}_verified") == "true"):
                continue
            holder = self.pool.resolve(value)
            if holder is None or holder is user:
                continue
            if force and not unique:
                with self.pool.lock:
                    holder.attributes[f"{attr}_verified"] = "false"
                continue
            raise IdpError(
                "AliasExistsException", f"An account with the given {attr} already exists."
            )

    def _apply_attributes(self, user: User, changes: dict[str, str], force: bool = False) -> None:
        for flag, attr in (("email_verified", "email"), ("phone_number_verified", "phone_number")):
            if (
                attr in changes
                and changes[attr] != user.attributes.get(attr)
                and flag not in changes
            ):
                changes = {**changes, flag: "false"}
        self._claim_aliases(user, {**user.attributes, **changes}, force)
        with self.pool.lock:
            user.attributes.update(changes)
            user.modified = self.cognito.now()

    def _delivery(self, user: User, prefer_verified: bool = False) -> tuple[str, str, str] | None:
        """(medium, attribute, destination) where the user's codes go."""
        attrs = user.attributes
        for attr, medium, flag in (
            ("email", "EMAIL", "email_verified"),
            ("phone_number", "SMS", "phone_number_verified"),
        ):
            if attrs.get(attr) and (not prefer_verified or attrs.get(flag) == "true"):
                return medium, attr, attrs[attr]
        return None

    def _send_code(
        self, kind: str, user: User, lifetime: float, delivery: tuple[str, str, str] | None
    ) -> dict[str, str]:
        code = f"{secrets.randbelow(1_000_000):06d}"
        medium, attribute, destination = delivery or (None, None, None)
        with self.lock:
            purpose = (
                "verify:" + (attribute or "")
                if kind == "VERIFY_ATTRIBUTE"
                else ("reset" if kind == "FORGOT_PASSWORD" else "confirm")
            )
            self.codes[(user.username.lower(), purpose)] = _Code(
                code, self.cognito.now() + lifetime, attribute
            )
            self.outbox.append(
                OutboxMessage(kind, user.username, destination, medium, attribute, code=code)
            )
        if delivery is None:
            return {}
        return {
            "Destination": _mask(delivery[0], delivery[2]),
            "DeliveryMedium": delivery[0],
            "AttributeName": delivery[1],
        }

    def _use_code(self, user: User, purpose: str, code: str) -> None:
        with self.lock:
            record = self.codes.get((user.username.lower(), purpose))
            if record is None or not secrets.compare_digest(record.code.encode(), code.encode()):
                raise IdpError(
                    "CodeMismatchException", "Invalid verification code provided, please try again."
                )
            if record.expires_at <= self.cognito.now():
                raise IdpError(
                    "ExpiredCodeException", "Invalid code provided, please request a code again."
                )
            del self.codes[(user.username.lower(), purpose)]

    def _sign_out(self, user: User) -> None:
        with self.pool.lock:
            origins = {
                r.origin_jti
                for r in self.pool.refresh_tokens.values()
                if r.username.lower() == user.username.lower()
            }
        for origin in origins:
            self.pool.revoke_family(origin)

    def _set_password(self, user: User, password: str, status: str) -> None:
        with self.pool.lock:
            user.password = password
            user.status = status
            user.modified = self.cognito.now()

    # Pools and clients -------------------------------------------------------------------

    def op_describe_user_pool(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        pool = self.pool
        return {
            "UserPool": {
                "Id": pool.pool_id,
                "Name": self.pool_name,
                "Arn": f"arn:aws:cognito-idp:{self.cognito.region}:000000000000:userpool/"
                f"{pool.pool_id}",
                "Policies": {"PasswordPolicy": self._pool_policy()},
                "LambdaConfig": {},
                "LastModifiedDate": self.created,
                "CreationDate": self.created,
                "SchemaAttributes": [
                    {
                        "Name": name,
                        "AttributeDataType": "String",
                        "Mutable": name != "sub",
                        "Required": name in pool.required_attributes or name == "sub",
                    }
                    for name in sorted(_STANDARD_ATTRIBUTES)
                ],
                "AutoVerifiedAttributes": ["email"],
                "MfaConfiguration": "OFF",
                **(
                    {"AliasAttributes": list(pool.alias_attributes)}
                    if pool.alias_attributes
                    else {}
                ),
                "EstimatedNumberOfUsers": len(pool.users),
                "AdminCreateUserConfig": {
                    "AllowAdminCreateUserOnly": False,
                    "UnusedAccountValidityDays": self.policy.temporary_password_validity_days,
                },
                "UsernameConfiguration": {"CaseSensitive": False},
                "DeletionProtection": "INACTIVE",
            }
        }

    def op_list_user_pools(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("MaxResults") is None:
            raise _null("maxResults")
        limit = _limit(body, "MaxResults", 60, 60)
        pools = [
            {
                "Id": self.pool.pool_id,
                "Name": self.pool_name,
                "LambdaConfig": {},
                "LastModifiedDate": self.created,
                "CreationDate": self.created,
            }
        ]
        chunk, token = _page(pools, body, "NextToken", limit)
        out: dict[str, Any] = {"UserPools": chunk}
        if token:
            out["NextToken"] = token
        return out

    def op_describe_user_pool_client(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        return {"UserPoolClient": self._client_type(self._client(body))}

    def op_list_user_pool_clients(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        limit = _limit(body, "MaxResults", 60, 60)
        clients = [
            {"ClientId": c.client_id, "UserPoolId": self.pool.pool_id, "ClientName": c.client_name}
            for c in self.pool.clients.values()
        ]
        chunk, token = _page(clients, body, "NextToken", limit)
        out: dict[str, Any] = {"UserPoolClients": chunk}
        if token:
            out["NextToken"] = token
        return out

    def op_create_user_pool_client(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        name = _req(body, "ClientName")
        flows = body.get("ExplicitAuthFlows") or [
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_CUSTOM_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ]
        bad = [f for f in flows if f not in AUTH_FLOWS]
        if bad:
            raise IdpError("InvalidParameterException", f"Invalid ExplicitAuthFlows: {bad[0]}")
        providers = list(body.get("SupportedIdentityProviders") or [])
        for provider in providers:
            if provider != "COGNITO" and provider not in self.pool.providers:
                raise IdpError(
                    "InvalidParameterException",
                    f"The provider {provider} does not exist for User Pool {self.pool.pool_id}",
                )
        oauth_flows = list(body.get("AllowedOAuthFlows") or [])
        if set(oauth_flows) - {"code", "implicit", "client_credentials"}:
            raise IdpError("InvalidParameterException", "Invalid AllowedOAuthFlows")
        units = body.get("TokenValidityUnits") or {}
        factor = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

        def validity(key: str, unit_key: str, default_unit: str, default: int) -> int:
            value = body.get(key)
            if value is None:
                return default
            return int(value) * factor.get(units.get(unit_key, default_unit), 1)

        client = ClientSeed(
            client_id="".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26)
            ),
            client_secret=(
                secrets.token_urlsafe(39)[:52].replace("-", "a").replace("_", "b")
                if body.get("GenerateSecret")
                else None
            ),
            client_name=name,
            callback_urls=list(body.get("CallbackURLs") or []),
            logout_urls=list(body.get("LogoutURLs") or []),
            allowed_oauth_flows=oauth_flows,
            allowed_scopes=list(body.get("AllowedOAuthScopes") or []),
            identity_providers=providers,
            id_token_validity=validity("IdTokenValidity", "IdToken", "hours", 3600),
            access_token_validity=validity("AccessTokenValidity", "AccessToken", "hours", 3600),
            refresh_token_validity=validity(
                "RefreshTokenValidity", "RefreshToken", "days", 30 * 86400
            ),
            enable_token_revocation=bool(body.get("EnableTokenRevocation", True)),
            explicit_auth_flows=list(flows),
            prevent_user_existence_errors=body.get("PreventUserExistenceErrors") == "ENABLED",
        )
        now = self.cognito.now()
        with self.pool.lock:
            self.pool.clients[client.client_id] = client
            self.client_dates[client.client_id] = (now, now)
        return {"UserPoolClient": self._client_type(client)}

    # Users (admin) -----------------------------------------------------------------------

    def op_admin_create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        username = _req(body, "Username")
        attributes = _attributes(body, "UserAttributes")
        action = body.get("MessageAction")
        if action not in (None, "RESEND", "SUPPRESS"):
            raise IdpError("InvalidParameterException", f"Invalid MessageAction: {action}")
        temporary = _opt_str(body, "TemporaryPassword")
        if temporary is not None:
            self.check_password_policy(temporary)
        else:
            temporary = self._temporary_password()
        existing = self.pool.user(username)
        if action == "RESEND":
            if existing is None:
                raise IdpError("UserNotFoundException", "User does not exist.")
            if existing.status != "FORCE_CHANGE_PASSWORD":
                raise IdpError(
                    "UnsupportedUserStateException",
                    "Resend not possible. " + username + " status is not FORCE_CHANGE_PASSWORD",
                )
            self._set_password(existing, temporary, "FORCE_CHANGE_PASSWORD")
            with self.pool.lock:
                existing.created = self.cognito.now()
            user = existing
        else:
            if existing is not None:
                raise IdpError("UsernameExistsException", "User account already exists")
            self._check_username(username)
            self._check_attributes(attributes, new=True)
            now = self.cognito.now()
            user = User(
                username=username,
                password=temporary,
                sub=str(uuid.uuid4()),
                attributes={},
                status="FORCE_CHANGE_PASSWORD",
                created=now,
                modified=now,
            )
            self._claim_aliases(user, attributes, bool(body.get("ForceAliasCreation")))
            user.attributes.update(attributes)
            with self.pool.lock:
                self.pool.users[username.lower()] = user
        if action != "SUPPRESS":
            mediums = body.get("DesiredDeliveryMediums") or ["SMS"]
            delivery = None
            for attr, medium in (("email", "EMAIL"), ("phone_number", "SMS")):
                if medium in mediums and user.attributes.get(attr):
                    delivery = (medium, attr, user.attributes[attr])
                    break
            with self.lock:
                self.outbox.append(
                    OutboxMessage(
                        "INVITATION",
                        user.username,
                        delivery[2] if delivery else None,
                        delivery[0] if delivery else None,
                        delivery[1] if delivery else None,
                        temporary_password=temporary,
                    )
                )
        return {"User": self._user_type(user)}

    def op_admin_get_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        return {
            "Username": user.username,
            "UserAttributes": self._attribute_list(user),
            "UserCreateDate": user.created,
            "UserLastModifiedDate": user.modified,
            "Enabled": user.enabled,
            "UserStatus": self._status(user),
        }

    def op_list_users(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        limit = _limit(body, "Limit", 60, 60)
        only = body.get("AttributesToGet")
        users = sorted(self.pool.users.values(), key=lambda u: u.username.lower())
        text = body.get("Filter") or ""
        if text.strip():
            match = _FILTER.match(text)
            if match is None:
                raise IdpError("InvalidParameterException", "Error while parsing filter.")
            name, operator, raw = match.groups()
            value = re.sub(r"\\(.)", r"\1", raw)
            if name not in _FILTERABLE:
                raise IdpError("InvalidParameterException", f"Invalid search attribute: {name}")
            users = [
                u
                for u in users
                if _filter_match(self._filter_value(u, name), operator, value, name == "username")
            ]
        chunk, token = _page(users, body, "PaginationToken", limit)
        out: dict[str, Any] = {"Users": [self._user_type(u, only) for u in chunk]}
        if token:
            out["PaginationToken"] = token
        return out

    def _filter_value(self, user: User, name: str) -> str | None:
        if name == "username":
            return user.username
        if name == "sub":
            return user.sub
        if name == "cognito:user_status":
            return self._status(user)
        if name == "status":
            return "Enabled" if user.enabled else "Disabled"
        return user.attributes.get(name)

    def op_admin_update_user_attributes(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        changes = _attributes(body, "UserAttributes")
        self._check_attributes(changes, new=False)
        self._apply_attributes(user, changes)
        return {}

    def op_admin_delete_user_attributes(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        names = body.get("UserAttributeNames")
        if not isinstance(names, list):
            raise _null("userAttributeNames")
        for name in names:
            if name == "sub":
                raise IdpError(
                    "InvalidParameterException", "Cannot modify the non-mutable attribute sub"
                )
            if name in self.pool.required_attributes:
                raise IdpError(
                    "InvalidParameterException",
                    f"Attributes did not conform to the schema: {name}: The attribute is required",
                )
        with self.pool.lock:
            for name in names:
                user.attributes.pop(name, None)
            user.modified = self.cognito.now()
        return {}

    def op_admin_set_user_password(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        password = _req(body, "Password")
        self.check_password_policy(password)
        permanent = bool(body.get("Permanent", False))
        self._set_password(user, password, "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD")
        if not permanent:
            with self.pool.lock:
                user.created = self.cognito.now()
        return {}

    def op_admin_reset_user_password(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        delivery = self._delivery(user, prefer_verified=True)
        if delivery is None:
            raise IdpError(
                "InvalidParameterException",
                "Cannot reset password for the user as "
                "there is no registered/verified email or phone_number",
            )
        with self.pool.lock:
            user.status = "RESET_REQUIRED"
            user.modified = self.cognito.now()
        self._sign_out(user)
        self._send_code("FORGOT_PASSWORD", user, RESET_CODE_LIFETIME, delivery)
        return {}

    def op_admin_enable_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        with self.pool.lock:
            user.enabled = True
            user.modified = self.cognito.now()
        return {}

    def op_admin_disable_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        with self.pool.lock:
            user.enabled = False
            user.modified = self.cognito.now()
        self._sign_out(user)
        return {}

    def op_admin_delete_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        self._delete(user)
        return {}

    def _delete(self, user: User) -> None:
        self._sign_out(user)
        with self.pool.lock:
            self.pool.users.pop(user.username.lower(), None)

    def op_admin_add_user_to_group(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        group = self._group(_req(body, "GroupName"))
        with self.pool.lock:
            if group.name not in user.groups:
                user.groups.append(group.name)
        return {}

    def op_admin_remove_user_from_group(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        group = self._group(_req(body, "GroupName"))
        with self.pool.lock:
            if group.name in user.groups:
                user.groups.remove(group.name)
        return {}

    def op_admin_list_groups_for_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._admin_user(body)
        limit = _limit(body, "Limit", 60, 60)
        groups = [self.pool.groups[n] for n in user.groups if n in self.pool.groups]
        chunk, token = _page(groups, body, "NextToken", limit)
        out: dict[str, Any] = {"Groups": [self._group_type(g) for g in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def op_list_users_in_group(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        group = self._group(_req(body, "GroupName"))
        limit = _limit(body, "Limit", 60, 60)
        users = sorted(
            (u for u in self.pool.users.values() if group.name in u.groups),
            key=lambda u: u.username.lower(),
        )
        chunk, token = _page(users, body, "NextToken", limit)
        out: dict[str, Any] = {"Users": [self._user_type(u) for u in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def op_admin_user_global_sign_out(self, body: dict[str, Any]) -> dict[str, Any]:
        self._sign_out(self._admin_user(body))
        return {}

    # Groups ------------------------------------------------------------------------------

    def op_create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        name = _req(body, "GroupName")
        precedence = body.get("Precedence")
        if precedence is not None and (not isinstance(precedence, int) or precedence < 0):
            raise IdpError("InvalidParameterException", "Precedence must be a non-negative integer")
        with self.pool.lock:
            if name in self.pool.groups:
                raise IdpError("GroupExistsException", "A group with the name already exists.")
            now = self.cognito.now()
            group = Group(
                name,
                precedence,
                _opt_str(body, "RoleArn"),
                _opt_str(body, "Description") or "",
                now,
                now,
            )
            self.pool.groups[name] = group
        return {"Group": self._group_type(group)}

    def op_get_group(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        return {"Group": self._group_type(self._group(_req(body, "GroupName")))}

    def op_list_groups(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        limit = _limit(body, "Limit", 60, 60)
        groups = sorted(self.pool.groups.values(), key=lambda g: g.name)
        chunk, token = _page(groups, body, "NextToken", limit)
        out: dict[str, Any] = {"Groups": [self._group_type(g) for g in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def op_delete_group(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_pool(body)
        group = self._group(_req(body, "GroupName"))
        with self.pool.lock:
            del self.pool.groups[group.name]
            for user in self.pool.users.values():
                if group.name in user.groups:
                    user.groups.remove(group.name)
        return {}

    # Authentication ----------------------------------------------------------------------

    def _flow_allowed(self, client: ClientSeed, flow: str) -> None:
        allowed = {
            "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
            "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
            "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
            "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
        }.get(flow)
        if allowed is None:
            raise IdpError(
                "InvalidParameterException",
                f"Unsupported AuthFlow: {flow}"
                if flow in ("CUSTOM_AUTH", "USER_AUTH")
                else f"1 validation error detected: Value '{flow}' at 'authFlow' failed "
                "to satisfy constraint: Member must satisfy enum value set",
            )
        if allowed not in client.explicit_auth_flows:
            raise IdpError("InvalidParameterException", f"{flow} flow not enabled for this client")

    def _auth_user(self, client: ClientSeed, username: str) -> User:
        user = self.pool.resolve(username)
        if user is None or user.identities:
            if client.prevent_user_existence_errors:
                raise IdpError("NotAuthorizedException", _WRONG)
            raise IdpError("UserNotFoundException", "User does not exist.")
        return user

    def _after_password(self, client: ClientSeed, user: User) -> dict[str, Any]:
        """What follows a proven password: tokens, or a challenge, or a refusal."""
        if not user.enabled:
            raise IdpError("NotAuthorizedException", "User is disabled.")
        if user.status == "UNCONFIRMED":
            raise IdpError("UserNotConfirmedException", "User is not confirmed.")
        if user.status == "RESET_REQUIRED":
            raise IdpError("PasswordResetRequiredException", "Password reset required for the user")
        if user.status == "FORCE_CHANGE_PASSWORD":
            validity = self.policy.temporary_password_validity_days * 86400
            if user.created + validity <= self.cognito.now():
                raise IdpError(
                    "NotAuthorizedException",
                    "Temporary password has expired and must be reset by an administrator.",
                )
            session = self._new_challenge("NEW_PASSWORD_REQUIRED", user, client)
            attributes = {
                k: v
                for k, v in user.attributes.items()
                if k not in ("email_verified", "phone_number_verified")
            }
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session,
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": user.username,
                    "requiredAttributes": json.dumps(
                        [
                            f"userAttributes.{a}"
                            for a in self.pool.required_attributes
                            if not user.attributes.get(a)
                        ]
                    ),
                    "userAttributes": json.dumps(attributes),
                },
            }
        return self._tokens(client, user)

    def _tokens(self, client: ClientSeed, user: User) -> dict[str, Any]:
        issued = self.pool.issue(client=client, user=user, scopes=(ADMIN_SCOPE,), at_login=False)
        return {
            "ChallengeParameters": {},
            "AuthenticationResult": {
                "AccessToken": issued["access_token"],
                "ExpiresIn": issued["expires_in"],
                "TokenType": "Bearer",
                "RefreshToken": issued["refresh_token"],
                "IdToken": issued["id_token"],
            },
        }

    def _new_challenge(
        self, name: str, user: User, client: ClientSeed, challenge: srp.SRPChallenge | None = None
    ) -> str:
        session = base64.urlsafe_b64encode(secrets.token_bytes(96)).decode().rstrip("=")
        with self.lock:
            now = self.cognito.now()
            for key in [k for k, c in self.challenges.items() if c.expires_at <= now]:
                del self.challenges[key]
            self.challenges[session] = _Challenge(
                name, user.username, client.client_id, now + CHALLENGE_LIFETIME, challenge
            )
        return session

    def _password_auth(self, client: ClientSeed, params: dict[str, Any]) -> dict[str, Any]:
        username = params.get("USERNAME")
        password = params.get("PASSWORD")
        if not isinstance(username, str) or not username:
            raise IdpError("InvalidParameterException", "Missing required parameter USERNAME")
        if not isinstance(password, str) or not password:
            raise IdpError("InvalidParameterException", "Missing required parameter PASSWORD")
        user = self._auth_user(client, username)
        self._check_secret(client, params.get("SECRET_HASH"), username, user.username)
        if self.pool.check_password(user.username, password) is None:
            raise IdpError("NotAuthorizedException", _WRONG)
        return self._after_password(client, user)

    def _refresh_auth(self, client: ClientSeed, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("REFRESH_TOKEN")
        if not isinstance(token, str) or not token:
            raise IdpError("InvalidParameterException", "Missing required parameter REFRESH_TOKEN")
        record = self.pool.refresh_tokens.get(token)
        if record is None or record.client_id != client.client_id:
            raise IdpError("NotAuthorizedException", "Invalid Refresh Token")
        user = self.pool.user(record.username)
        if user is None:
            raise IdpError("NotAuthorizedException", "Invalid Refresh Token")
        self._check_secret(
            client,
            params.get("SECRET_HASH"),
            user.username,
            user.sub,
            str(params.get("USERNAME", "")),
        )
        if record.revoked or record.origin_jti in self.pool.revoked_origins:
            raise IdpError("NotAuthorizedException", "Refresh Token has been revoked")
        if record.expires_at <= self.pool.now():
            raise IdpError("NotAuthorizedException", "Refresh Token has expired")
        if not self.pool.refresh_usable(record, client):
            raise IdpError("NotAuthorizedException", "Invalid Refresh Token")
        if not user.enabled:
            raise IdpError("NotAuthorizedException", "User is disabled.")
        issued = self.pool.issue(
            client=client,
            user=user,
            scopes=record.scopes,
            auth_time=record.auth_time,
            origin_jti=record.origin_jti,
            with_refresh=False,
            at_login=False,
        )
        result: dict[str, Any] = {
            "AccessToken": issued["access_token"],
            "ExpiresIn": issued["expires_in"],
            "TokenType": "Bearer",
        }
        if "id_token" in issued:
            result["IdToken"] = issued["id_token"]
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def _srp_auth(self, client: ClientSeed, params: dict[str, Any]) -> dict[str, Any]:
        username = params.get("USERNAME")
        srp_a = params.get("SRP_A")
        if not isinstance(username, str) or not username:
            raise IdpError("InvalidParameterException", "Missing required parameter USERNAME")
        if not isinstance(srp_a, str) or not srp_a:
            raise IdpError("InvalidParameterException", "Missing required parameter SRP_A")
        user = self._auth_user(client, username)
        self._check_secret(client, params.get("SECRET_HASH"), username, user.username)
        challenge = srp.start(
            self.pool_name, user.username, user.password or secrets.token_urlsafe(32), srp_a
        )
        if challenge is None:
            raise IdpError("InvalidParameterException", "SRP_A is not valid")
        with self.lock:
            self.challenges[challenge.secret_block] = _Challenge(
                "PASSWORD_VERIFIER",
                user.username,
                client.client_id,
                self.cognito.now() + CHALLENGE_LIFETIME,
                challenge,
            )
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": challenge.salt_hex,
                "SECRET_BLOCK": challenge.secret_block,
                "SRP_B": challenge.srp_b,
                "USERNAME": user.username,
                "USER_ID_FOR_SRP": user.username,
            },
        }

    def _initiate(self, body: dict[str, Any], admin: bool) -> dict[str, Any]:
        if admin:
            self._check_pool(body)
        client = self._client(body)
        flow = _req(body, "AuthFlow")
        params = body.get("AuthParameters") or {}
        if not isinstance(params, dict):
            raise IdpError("SerializationException", "AuthParameters must be a map")
        self._flow_allowed(client, flow)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self._refresh_auth(client, params)
        if flow == "USER_SRP_AUTH":
            return self._srp_auth(client, params)
        if admin != flow.startswith("ADMIN_"):
            raise IdpError(
                "InvalidParameterException", f"Initiate Auth method not supported: {flow}"
            )
        return self._password_auth(client, params)

    def op_initiate_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._initiate(body, admin=False)

    def op_admin_initiate_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._initiate(body, admin=True)

    def _respond(self, body: dict[str, Any], admin: bool) -> dict[str, Any]:
        if admin:
            self._check_pool(body)
        client = self._client(body)
        name = _req(body, "ChallengeName")
        responses = body.get("ChallengeResponses") or {}
        if not isinstance(responses, dict):
            raise IdpError("SerializationException", "ChallengeResponses must be a map")
        username = responses.get("USERNAME")
        if not isinstance(username, str) or not username:
            raise IdpError("InvalidParameterException", "Missing required parameter USERNAME")
        if name == "PASSWORD_VERIFIER":
            key = str(responses.get("PASSWORD_CLAIM_SECRET_BLOCK", ""))
        elif name == "NEW_PASSWORD_REQUIRED":
            key = _req(body, "Session")
        else:
            raise IdpError("InvalidParameterException", f"Unsupported challenge: {name}")
        with self.lock:
            challenge = self.challenges.get(key)
            if (
                challenge is None
                or challenge.name != name
                or challenge.client_id != client.client_id
                or challenge.expires_at <= self.cognito.now()
            ):
                raise IdpError(
                    "NotAuthorizedException", "Invalid session for the user, session is expired."
                )
            user = self.pool.user(challenge.username)
            if user is None or self.pool.resolve(username) is not user:
                raise IdpError("NotAuthorizedException", _WRONG)
            if name == "PASSWORD_VERIFIER":
                if not srp.valid_timestamp(str(responses.get("TIMESTAMP", ""))):
                    raise IdpError(
                        "InvalidParameterException",
                        "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
                    )
                del self.challenges[key]
        self._check_secret(client, responses.get("SECRET_HASH"), username, user.username)
        if name == "PASSWORD_VERIFIER":
            assert challenge.srp is not None
            timestamp = str(responses.get("TIMESTAMP", ""))
            if not srp.verify(
                challenge.srp,
                self.pool_name,
                timestamp,
                key,
                str(responses.get("PASSWORD_CLAIM_SIGNATURE", "")),
            ):
                raise IdpError("NotAuthorizedException", _WRONG)
            return self._after_password(client, user)
        new_password = responses.get("NEW_PASSWORD")
        if not isinstance(new_password, str) or not new_password:
            raise IdpError("InvalidParameterException", "Missing required parameter NEW_PASSWORD")
        self.check_password_policy(new_password)
        changes = {
            k[len("userAttributes.") :]: str(v)
            for k, v in responses.items()
            if k.startswith("userAttributes.")
        }
        self._check_attributes(changes, new=False)
        missing = [
            a
            for a in self.pool.required_attributes
            if not (changes.get(a) or user.attributes.get(a))
        ]
        if missing:
            raise IdpError(
                "InvalidParameterException",
                f"Missing required parameter userAttributes.{missing[0]}",
            )
        with self.lock:
            if self.challenges.pop(key, None) is None:
                raise IdpError(
                    "NotAuthorizedException", "Invalid session for the user, session is expired."
                )
        self._apply_attributes(user, changes)
        self._set_password(user, new_password, "CONFIRMED")
        return self._after_password(client, user)

    def op_respond_to_auth_challenge(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._respond(body, admin=False)

    def op_admin_respond_to_auth_challenge(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._respond(body, admin=True)

    # Self-service ------------------------------------------------------------------------

    def op_sign_up(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        username = _req(body, "Username")
        password = _req(body, "Password")
        self._check_secret(client, _opt_str(body, "SecretHash"), username)
        attributes = _attributes(body, "UserAttributes")
        self._check_username(username)
        if self.pool.user(username) is not None:
            raise IdpError("UsernameExistsException", "User already exists")
        self.check_password_policy(password)
        self._check_attributes(attributes, new=True)
        if "email" in attributes:
            attributes.setdefault("email_verified", "false")
        now = self.cognito.now()
        user = User(
            username=username,
            password=password,
            sub=str(uuid.uuid4()),
            attributes=attributes,
            status="UNCONFIRMED",
            created=now,
            modified=now,
        )
        self._claim_aliases(user, attributes, False)
        with self.pool.lock:
            if self.pool.user(username) is not None:
                raise IdpError("UsernameExistsException", "User already exists")
            self.pool.users[username.lower()] = user
        details = self._send_code("SIGN_UP", user, SIGN_UP_CODE_LIFETIME, self._delivery(user))
        out: dict[str, Any] = {"UserConfirmed": False, "UserSub": user.sub}
        if details:
            out["CodeDeliveryDetails"] = details
        return out

    def op_confirm_sign_up(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        username = _req(body, "Username")
        code = _req(body, "ConfirmationCode")
        self._check_secret(client, _opt_str(body, "SecretHash"), username)
        user = self._user(username)
        if user.status != "UNCONFIRMED":
            raise IdpError(
                "NotAuthorizedException",
                f"User cannot be confirmed. Current status is {self._status(user)}",
            )
        delivery = self._delivery(user)
        if delivery is not None:
            self._claim_aliases(
                user,
                {**user.attributes, f"{delivery[1]}_verified": "true"},
                bool(body.get("ForceAliasCreation")),
            )
        self._use_code(user, "confirm", code)
        with self.pool.lock:
            user.status = "CONFIRMED"
            if delivery is not None:
                user.attributes[f"{delivery[1]}_verified"] = "true"
            user.modified = self.cognito.now()
        return {}

    def op_resend_confirmation_code(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        username = _req(body, "Username")
        self._check_secret(client, _opt_str(body, "SecretHash"), username)
        user = self._user(username)
        if user.status != "UNCONFIRMED":
            raise IdpError("InvalidParameterException", "User is already confirmed.")
        delivery = self._delivery(user)
        return {
            "CodeDeliveryDetails": self._send_code(
                "RESEND_CODE", user, SIGN_UP_CODE_LIFETIME, delivery
            )
        }

    def op_forgot_password(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        username = _req(body, "Username")
        self._check_secret(client, _opt_str(body, "SecretHash"), username)
        user = self.pool.resolve(username)
        if user is None or user.identities:
            if client.prevent_user_existence_errors:
                return {
                    "CodeDeliveryDetails": {
                        "Destination": "u***@e***.com",
                        "DeliveryMedium": "EMAIL",
                        "AttributeName": "email",
                    }
                }
            raise IdpError("UserNotFoundException", "Username/client id combination not found.")
        if not user.enabled:
            raise IdpError("NotAuthorizedException", "User is disabled.")
        delivery = self._delivery(user, prefer_verified=True)
        if delivery is None:
            raise IdpError(
                "InvalidParameterException",
                "Cannot reset password for the user as "
                "there is no registered/verified email or phone_number",
            )
        return {
            "CodeDeliveryDetails": self._send_code(
                "FORGOT_PASSWORD", user, RESET_CODE_LIFETIME, delivery
            )
        }

    def op_confirm_forgot_password(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        username = _req(body, "Username")
        code = _req(body, "ConfirmationCode")
        password = _req(body, "Password")
        self._check_secret(client, _opt_str(body, "SecretHash"), username)
        user = self.pool.resolve(username)
        if user is None:
            raise IdpError("UserNotFoundException", "Username/client id combination not found.")
        self._use_code(user, "reset", code)
        self.check_password_policy(password)
        self._set_password(user, password, "CONFIRMED")
        return {}

    def op_get_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        return {"Username": user.username, "UserAttributes": self._attribute_list(user)}

    def op_change_password(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        previous = _req(body, "PreviousPassword")
        proposed = _req(body, "ProposedPassword")
        if self.pool.check_password(user.username, previous) is None:
            raise IdpError("NotAuthorizedException", _WRONG)
        self.check_password_policy(proposed)
        self._set_password(user, proposed, "CONFIRMED")
        return {}

    def op_update_user_attributes(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        changes = _attributes(body, "UserAttributes")
        self._check_attributes(changes, new=False)
        for flag in ("email_verified", "phone_number_verified"):
            if flag in changes:
                raise IdpError(
                    "InvalidParameterException", f"Cannot modify the non-mutable attribute {flag}"
                )
        changed = [
            a
            for a in ("email", "phone_number")
            if a in changes and changes[a] != user.attributes.get(a)
        ]
        self._apply_attributes(user, changes)
        details = []
        for attr in changed:
            medium = "EMAIL" if attr == "email" else "SMS"
            details.append(
                self._send_code(
                    "VERIFY_ATTRIBUTE", user, SIGN_UP_CODE_LIFETIME, (medium, attr, changes[attr])
                )
            )
        return {"CodeDeliveryDetailsList": details} if details else {}

    def op_get_user_attribute_verification_code(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        attr = _req(body, "AttributeName")
        if attr not in ("email", "phone_number") or not user.attributes.get(attr):
            raise IdpError("InvalidParameterException", f"{attr} cannot be verified")
        medium = "EMAIL" if attr == "email" else "SMS"
        return {
            "CodeDeliveryDetails": self._send_code(
                "VERIFY_ATTRIBUTE",
                user,
                SIGN_UP_CODE_LIFETIME,
                (medium, attr, user.attributes[attr]),
            )
        }

    def op_verify_user_attribute(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        attr = _req(body, "AttributeName")
        self._claim_aliases(user, {**user.attributes, f"{attr}_verified": "true"}, False)
        self._use_code(user, "verify:" + attr, _req(body, "Code"))
        with self.pool.lock:
            user.attributes[f"{attr}_verified"] = "true"
            user.modified = self.cognito.now()
        return {}

    def op_delete_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        self._delete(user)
        return {}

    def op_global_sign_out(self, body: dict[str, Any]) -> dict[str, Any]:
        user, _ = self._token_user(body)
        self._sign_out(user)
        return {}

    def op_revoke_token(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _req(body, "Token")
        client = self._client(body)
        if client.client_secret is not None:
            given = _opt_str(body, "ClientSecret")
            if not given or not secrets.compare_digest(
                given.encode(), client.client_secret.encode()
            ):
                raise IdpError("NotAuthorizedException", "Invalid client secret")
        if not client.enable_token_revocation:
            raise IdpError(
                "UnsupportedOperationException", "Token revocation is not enabled for this client"
            )
        if token.count(".") != 4:
            raise IdpError("UnsupportedTokenTypeException", "Unsupported token type")
        record = self.pool.refresh_tokens.get(token)
        if record is not None:
            if record.client_id != client.client_id:
                raise IdpError("UnauthorizedException", "Token does not belong to the client")
            self.pool.revoke_family(record.origin_jti)
        return {}

    # Outbox ------------------------------------------------------------------------------

    def last_code(self, username: str, kind: str | None = None) -> str | None:
        """The newest code sent to ``username`` (optionally of one ``kind``)."""
        with self.lock:
            for message in reversed(self.outbox):
                if (
                    message.username.lower() == username.lower()
                    and message.code is not None
                    and (kind is None or message.kind == kind)
                ):
                    return message.code
        return None


def _filter_match(actual: str | None, operator: str, value: str, fold: bool) -> bool:
    if actual is None:
        return False
    if fold:
        actual, value = actual.lower(), value.lower()
    return actual == value if operator == "=" else actual.startswith(value)


_OPERATIONS = (
    "AdminAddUserToGroup",
    "AdminCreateUser",
    "AdminDeleteUser",
    "AdminDeleteUserAttributes",
    "AdminDisableUser",
    "AdminEnableUser",
    "AdminGetUser",
    "AdminInitiateAuth",
    "AdminListGroupsForUser",
    "AdminRemoveUserFromGroup",
    "AdminResetUserPassword",
    "AdminRespondToAuthChallenge",
    "AdminSetUserPassword",
    "AdminUpdateUserAttributes",
    "AdminUserGlobalSignOut",
    "ChangePassword",
    "ConfirmForgotPassword",
    "ConfirmSignUp",
    "CreateGroup",
    "CreateUserPoolClient",
    "DeleteGroup",
    "DeleteUser",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "ForgotPassword",
    "GetGroup",
    "GetUser",
    "GetUserAttributeVerificationCode",
    "GlobalSignOut",
    "InitiateAuth",
    "ListGroups",
    "ListUserPoolClients",
    "ListUserPools",
    "ListUsers",
    "ListUsersInGroup",
    "ResendConfirmationCode",
    "RespondToAuthChallenge",
    "RevokeToken",
    "SignUp",
    "UpdateUserAttributes",
    "VerifyUserAttribute",
)
