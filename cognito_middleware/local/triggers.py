"""Lambda triggers of the local user pool, with Cognito's event shapes and rules.

A trigger is configured in the seed (:class:`~cognito_middleware.local.seed.TriggerSeed`) or
at run time (:meth:`Triggers.set`) as one of:

- a Python callable, or its dotted path ``"package.module:function"``, called like a Lambda
  handler: ``handler(event)`` or ``handler(event, context)``; it returns the event with its
  ``response`` filled in, and raising an exception is the Lambda failing;
- a command (argv list): the event JSON on standard input, the answer JSON on standard output;
  a non-zero exit status is a failure (its message: ``errorMessage`` of the JSON output, else
  the last line of standard error);
- an ``http(s)://`` URL on loopback: the event JSON is POSTed, a 2xx JSON body is the answer,
  anything else is a failure (``errorMessage`` of a JSON body as the message).

Entry points, for the hosted UI, the token endpoint and the user-pool API alike. They are
synchronous and may block for the trigger's duration: async code calls them from a worker
thread (``await anyio.to_thread.run_sync(...)``), since a trigger may call the emulator back::

    triggers = cognito.pool.triggers
    decision = triggers.pre_sign_up(source="PreSignUp_SignUp", client_id=client_id,
                                    username="zoe", user_attributes={"email": "z@example.com"},
                                    validation_data={}, client_metadata={})
    decision.auto_confirm_user, decision.auto_verify_email, decision.auto_verify_phone
    triggers.post_confirmation(client_id=client_id, user=user)
    triggers.pre_authentication(client_id=client_id, user=user, validation_data={})
    triggers.post_authentication(client_id=client_id, user=user, new_device_used=False)
    overrides = pool.token_overrides(client, user, scopes, "TokenGeneration_Authentication")
    tokens = pool.issue(client=client, user=user, scopes=scopes, overrides=overrides)

Each entry point does nothing (and returns the neutral answer) when its trigger is not
configured. A failing trigger raises :class:`TriggerError`, whose ``code`` and ``message`` are
the ones Cognito's API answers and its hosted UI shows:

- ``UserLambdaValidationException``: the function raised, e.g.
  ``PreAuthentication failed with error Sign-in is closed on Sundays.``;
- ``InvalidLambdaResponseException``: the answer is not a valid response
  (``Unrecognizable lambda output``) or changes a claim Cognito does not let it change;
- ``UnexpectedLambdaException``: the function could not be reached or timed out.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from .seed import TRIGGER_NAMES, SeedError, TriggerSeed, TriggerTarget, _validate_triggers

if TYPE_CHECKING:
    from .pool import User

__all__ = ["SignUpDecision", "TokenOverrides", "TriggerError", "Triggers", "user_attributes"]

SDK_VERSION = "aws-sdk-unknown-unknown"
_LAMBDA_NAMES = {
    "pre_sign_up": "PreSignUp",
    "post_confirmation": "PostConfirmation",
    "pre_authentication": "PreAuthentication",
    "post_authentication": "PostAuthentication",
    "pre_token_generation": "PreTokenGeneration",
}
_UNRECOGNIZABLE = "Unrecognizable lambda output"

# Claims a pre token generation trigger may not add, override or suppress (AWS developer
# guide, "Pre token generation Lambda trigger", excluded claims).
ID_TOKEN_FIXED = frozenset(
    {
        "acr",
        "amr",
        "aud",
        "at_hash",
        "auth_time",
        "azp",
        "cognito:username",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
    }
)
ACCESS_TOKEN_FIXED = frozenset(
    {
        "acr",
        "amr",
        "aud",
        "auth_time",
        "azp",
        "client_id",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "origin_jti",
        "scope",
        "sub",
        "token_use",
        "username",
        "version",
    }
)
# These change only through groupOverrideDetails, not through claimsToAddOrOverride.
_GROUP_CLAIMS = frozenset({"cognito:groups", "cognito:roles", "cognito:preferred_role"})


class TriggerError(Exception):
    """A trigger failed; ``code`` is Cognito's error type, ``message`` its message."""

    def __init__(self, code: str, message: str, trigger: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.trigger = trigger


@dataclass(frozen=True)
class SignUpDecision:
    """The answer of a pre sign-up trigger (all ``False`` when there is none)."""

    auto_confirm_user: bool = False
    auto_verify_email: bool = False
    auto_verify_phone: bool = False


_UNSET: Any = object()


@dataclass(frozen=True)
class TokenOverrides:
    """What a pre token generation trigger changes in the ID and access tokens."""

    id_add: Mapping[str, Any] = field(default_factory=dict)
    id_suppress: tuple[str, ...] = ()
    access_add: Mapping[str, Any] = field(default_factory=dict)
    access_suppress: tuple[str, ...] = ()
    scopes_add: tuple[str, ...] = ()
    scopes_suppress: tuple[str, ...] = ()
    groups: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    preferred_role: str | None = _UNSET
    """An ARN, ``None`` to remove the claim; unset leaves the pool's choice."""

    def apply_id(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The ID token claims with the overrides applied (a suppressed claim stays out even
        when it is also added, as in Cognito)."""
        _set_list(claims, "cognito:groups", self.groups)
        _set_list(claims, "cognito:roles", self.roles)
        if self.preferred_role is not _UNSET:
            if self.preferred_role is None:
                claims.pop("cognito:preferred_role", None)
            else:
                claims["cognito:preferred_role"] = self.preferred_role
        claims.update(self.id_add)
        for name in self.id_suppress:
            claims.pop(name, None)
        return claims

    def apply_access(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The access token claims with the overrides applied, ``scope`` included."""
        _set_list(claims, "cognito:groups", self.groups)
        if self.scopes_add or self.scopes_suppress:
            scopes = [
                s for s in str(claims.get("scope", "")).split() if s not in self.scopes_suppress
            ]
            scopes += [s for s in self.scopes_add if s not in scopes]
            claims["scope"] = " ".join(scopes)
        claims.update(self.access_add)
        for name in self.access_suppress:
            claims.pop(name, None)
        return claims


def _set_list(claims: dict[str, Any], name: str, values: tuple[str, ...] | None) -> None:
    if values is None:
        return
    if values:
        claims[name] = list(values)
    else:
        claims.pop(name, None)


def user_attributes(user: User) -> dict[str, str]:
    """``request.userAttributes`` of a user, as Cognito sends it (strings only)."""
    attributes = {"sub": user.sub}
    if user.identities:
        attributes["identities"] = json.dumps(user.identities, separators=(",", ":"))
    attributes["cognito:user_status"] = "EXTERNAL_PROVIDER" if user.identities else "CONFIRMED"
    attributes.update(user.attributes)
    return attributes


class LambdaContext:
    """The ``context`` argument of a two-argument handler (the attributes handlers use)."""

    def __init__(self, name: str, timeout: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Unreachable(Exception):
    pass


class _Failed(Exception):
    pass


Invoker = Callable[[dict[str, Any]], Any]


class Triggers:
    """The configured triggers of one user pool and Cognito's entry points into them."""

    def __init__(self, seed: TriggerSeed | None, *, pool_id: str, region: str) -> None:
        self.pool_id = pool_id
        self.region = region
        self.seed = seed or TriggerSeed()
        self._invokers: dict[str, Invoker] = {}
        for name in TRIGGER_NAMES:
            target = getattr(self.seed, name)
            if target is not None:
                self._invokers[name] = self._invoker(name, target)
        self.events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)
        """The events sent so far (trigger name, event), newest last."""

    # Configuration -------------------------------------------------------------------------

    def set(self, name: str, target: TriggerTarget | None, *, version: str | None = None) -> None:
        """Configure (or with ``None`` remove) a trigger at run time; ``version`` is the pre
        token generation event version (``V1_0``, ``V2_0``, ``V3_0``)."""
        if name not in TRIGGER_NAMES:
            raise ValueError(f"unknown trigger {name!r}; one of {', '.join(TRIGGER_NAMES)}")
        changes: dict[str, Any] = {name: target}
        if version is not None:
            changes["pre_token_generation_version"] = version
        seed = replace(self.seed, **changes)
        try:
            _validate_triggers(seed)
        except SeedError as exc:
            raise ValueError(str(exc)) from None
        invoker = None if target is None else self._invoker(name, target)
        self.seed = seed
        if invoker is None:
            self._invokers.pop(name, None)
        else:
            self._invokers[name] = invoker

    def configured(self, name: str) -> bool:
        """Whether the trigger ``name`` (e.g. ``"pre_authentication"``) is configured."""
        return name in self._invokers

    @property
    def token_version(self) -> int:
        """The pre token generation event version: 1, 2 or 3."""
        return int(self.seed.pre_token_generation_version[1])

    def _invoker(self, name: str, target: TriggerTarget) -> Invoker:
        timeout = self.seed.timeout
        if callable(target):
            return _call_python(target, _LAMBDA_NAMES[name], timeout)
        if isinstance(target, list):
            argv = list(target)
            return lambda event: _call_command(argv, event, timeout)
        if "://" in target:
            url = target
            return lambda event: _call_url(url, event, timeout)
        module_name, _, attribute = target.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise SeedError(f"triggers.{name}: cannot import {target!r}: {exc}") from None
        if not callable(found):
            raise SeedError(f"triggers.{name}: {target!r} is not callable")
        return _call_python(found, _LAMBDA_NAMES[name], timeout)

    # Invocation ----------------------------------------------------------------------------

    def _event(
        self,
        *,
        version: str,
        source: str,
        client_id: str,
        username: str | None,
        request: dict[str, Any],
        response: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "version": version,
            "triggerSource": source,
            "region": self.region,
            "userPoolId": self.pool_id,
            "userName": username,
            "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": client_id},
            "request": request,
            "response": response,
        }

    def _invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        lambda_name = _LAMBDA_NAMES[name]
        self.events.append((name, json.loads(json.dumps(event))))
        try:
            result = self._invokers[name](json.loads(json.dumps(event)))
        except _Unreachable as exc:
            raise TriggerError(
                "UnexpectedLambdaException",
                f"{lambda_name} invocation failed due to error {exc}.",
                lambda_name,
            ) from None
        except _Failed as exc:
            raise TriggerError(
                "UserLambdaValidationException",
                f"{lambda_name} failed with error {exc}.",
                lambda_name,
            ) from None
        if not isinstance(result, dict):
            raise TriggerError("InvalidLambdaResponseException", _UNRECOGNIZABLE, lambda_name)
        answer = result.get("response")
        if answer is None:
            return {}
        if not isinstance(answer, dict):
            raise TriggerError("InvalidLambdaResponseException", _UNRECOGNIZABLE, lambda_name)
        return answer

    # Entry points --------------------------------------------------------------------------

    def pre_sign_up(
        self,
        *,
        source: str,
        client_id: str,
        username: str,
        user_attributes: Mapping[str, str],
        validation_data: Mapping[str, str] | None = None,
        client_metadata: Mapping[str, str] | None = None,
    ) -> SignUpDecision:
        """Pre sign-up (``PreSignUp_SignUp``, ``PreSignUp_AdminCreateUser``,
        ``PreSignUp_ExternalProvider``): may refuse (raise) or auto-confirm/verify."""
        if not self.configured("pre_sign_up"):
            return SignUpDecision()
        request: dict[str, Any] = {
            "userAttributes": dict(user_attributes),
            "validationData": dict(validation_data or {}),
        }
        if client_metadata:
            request["clientMetadata"] = dict(client_metadata)
        answer = self._invoke(
            "pre_sign_up",
            self._event(
                version="1",
                source=source,
                client_id=client_id,
                username=username,
                request=request,
                response={
                    "autoConfirmUser": False,
                    "autoVerifyEmail": False,
                    "autoVerifyPhone": False,
                },
            ),
        )
        flags = [
            answer.get(k, False) for k in ("autoConfirmUser", "autoVerifyEmail", "autoVerifyPhone")
        ]
        if not all(isinstance(f, bool) for f in flags):
            raise TriggerError("InvalidLambdaResponseException", _UNRECOGNIZABLE, "PreSignUp")
        return SignUpDecision(*flags)

    def post_confirmation(
        self,
        *,
        client_id: str,
        user: User,
        source: str = "PostConfirmation_ConfirmSignUp",
        client_metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Post confirmation (``PostConfirmation_ConfirmSignUp``,
        ``PostConfirmation_ConfirmForgotPassword``)."""
        if not self.configured("post_confirmation"):
            return
        request: dict[str, Any] = {"userAttributes": user_attributes(user)}
        if client_metadata:
            request["clientMetadata"] = dict(client_metadata)
        self._invoke(
            "post_confirmation",
            self._event(
                version="1",
                source=source,
                client_id=client_id,
                username=user.username,
                request=request,
                response={},
            ),
        )

    def pre_authentication(
        self, *, client_id: str, user: User, validation_data: Mapping[str, str] | None = None
    ) -> None:
        """Pre authentication (``PreAuthentication_Authentication``): raising refuses the
        sign-in."""
        if not self.configured("pre_authentication"):
            return
        self._invoke(
            "pre_authentication",
            self._event(
                version="1",
                source="PreAuthentication_Authentication",
                client_id=client_id,
                username=user.username,
                request={
                    "userAttributes": user_attributes(user),
                    "validationData": dict(validation_data or {}),
                    "userNotFound": False,
                },
                response={},
            ),
        )

    def post_authentication(
        self,
        *,
        client_id: str,
        user: User,
        new_device_used: bool = False,
        client_metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Post authentication (``PostAuthentication_Authentication``); raising fails the
        sign-in, as in Cognito."""
        if not self.configured("post_authentication"):
            return
        request: dict[str, Any] = {
            "userAttributes": user_attributes(user),
            "newDeviceUsed": new_device_used,
        }
        if client_metadata:
            request["clientMetadata"] = dict(client_metadata)
        self._invoke(
            "post_authentication",
            self._event(
                version="1",
                source="PostAuthentication_Authentication",
                client_id=client_id,
                username=user.username,
                request=request,
                response={},
            ),
        )

    def pre_token_generation(
        self,
        *,
        source: str,
        client_id: str,
        user: User | None,
        groups: Sequence[str],
        roles: Sequence[str],
        preferred_role: str | None,
        scopes: Iterable[str],
        client_metadata: Mapping[str, str] | None = None,
    ) -> TokenOverrides | None:
        """Pre token generation (``TokenGeneration_HostedAuth``, ``_Authentication``,
        ``_RefreshTokens``, ``_NewPasswordChallenge``, ``_AuthenticateDevice``, and with a
        V3 trigger ``TokenGeneration_ClientCredentials`` with ``user=None``).

        ``None`` when no trigger applies; otherwise the overrides to pass to
        ``UserPool.issue``.
        """
        if not self.configured("pre_token_generation"):
            return None
        version = self.token_version
        if user is None and version < 3:
            return None
        request: dict[str, Any] = {
            "userAttributes": user_attributes(user) if user is not None else {},
            "groupConfiguration": {
                "groupsToOverride": list(groups),
                "iamRolesToOverride": list(roles),
                "preferredRole": preferred_role,
            },
        }
        if version >= 2:
            request["scopes"] = list(scopes)
        if client_metadata:
            request["clientMetadata"] = dict(client_metadata)
        key = "claimsOverrideDetails" if version == 1 else "claimsAndScopeOverrideDetails"
        answer = self._invoke(
            "pre_token_generation",
            self._event(
                version=str(version),
                source=source,
                client_id=client_id,
                username=user.username if user is not None else None,
                request=request,
                response={key: None},
            ),
        )
        details = answer.get(key)
        if details is None:
            return TokenOverrides()
        try:
            return _parse_overrides(details, version)
        except _BadResponse as exc:
            raise TriggerError(
                "InvalidLambdaResponseException", str(exc), "PreTokenGeneration"
            ) from None


class _BadResponse(Exception):
    pass


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadResponse(_UNRECOGNIZABLE)
    return tuple(value)


def _table(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _BadResponse(_UNRECOGNIZABLE)
    return value


def _claims(value: Any, fixed: frozenset[str], *, strings_only: bool) -> dict[str, Any]:
    claims = _table(value)
    for name, claim in claims.items():
        if name in fixed or name in _GROUP_CLAIMS:
            raise _BadResponse(
                f"Invalid lambda output: the claim {name} cannot be added or overridden."
            )
        if strings_only and not isinstance(claim, str):
            raise _BadResponse(_UNRECOGNIZABLE)
    return claims


def _suppressed(value: Any, fixed: frozenset[str]) -> tuple[str, ...]:
    names = _strings(value)
    for name in names:
        if name in fixed:
            raise _BadResponse(f"Invalid lambda output: the claim {name} cannot be suppressed.")
    return names


def _parse_overrides(details: Any, version: int) -> TokenOverrides:
    details = _table(details)
    groups = _table(details.get("groupOverrideDetails"))
    preferred = groups.get("preferredRole", _UNSET) if groups else _UNSET
    if preferred is not _UNSET and preferred is not None and not isinstance(preferred, str):
        raise _BadResponse(_UNRECOGNIZABLE)
    group_names = groups.get("groupsToOverride")
    roles = groups.get("iamRolesToOverride")
    common: dict[str, Any] = {
        "groups": None if group_names is None else _strings(group_names),
        "roles": None if roles is None else _strings(roles),
        "preferred_role": preferred,
    }
    if version == 1:
        return TokenOverrides(
            id_add=_claims(details.get("claimsToAddOrOverride"), ID_TOKEN_FIXED, strings_only=True),
            id_suppress=_suppressed(details.get("claimsToSuppress"), ID_TOKEN_FIXED),
            **common,
        )
    id_part = _table(details.get("idTokenGeneration"))
    access_part = _table(details.get("accessTokenGeneration"))
    scopes_add = _strings(access_part.get("scopesToAdd"))
    scopes_suppress = _strings(access_part.get("scopesToSuppress"))
    if any(not s or " " in s for s in scopes_add):
        raise _BadResponse(_UNRECOGNIZABLE)
    return TokenOverrides(
        id_add=_claims(id_part.get("claimsToAddOrOverride"), ID_TOKEN_FIXED, strings_only=False),
        id_suppress=_suppressed(id_part.get("claimsToSuppress"), ID_TOKEN_FIXED),
        access_add=_claims(
            access_part.get("claimsToAddOrOverride"), ACCESS_TOKEN_FIXED, strings_only=False
        ),
        access_suppress=_suppressed(access_part.get("claimsToSuppress"), ACCESS_TOKEN_FIXED),
        scopes_add=scopes_add,
        scopes_suppress=scopes_suppress,
        **common,
    )


# Targets -------------------------------------------------------------------------------------


def _call_python(handler: Callable[..., Any], name: str, timeout: float) -> Invoker:
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    wants_context = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)

    def invoke(event: dict[str, Any]) -> Any:
        try:
            if wants_context:
                return handler(event, LambdaContext(name, timeout))
            return handler(event)
        except Exception as exc:
            raise _Failed(str(exc) or type(exc).__name__) from None

    return invoke


def _error_message(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
        return str(body["errorMessage"])
    return None


def _parse_answer(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _call_command(argv: list[str], event: dict[str, Any], timeout: float) -> Any:
    try:
        done = subprocess.run(  # noqa: S603 - the seed's own trigger command
            argv,
            input=json.dumps(event),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _Unreachable("Socket timeout while invoking Lambda function") from None
    except OSError as exc:
        raise _Unreachable(f"cannot run {argv[0]!r}: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        message = _error_message(done.stdout) or (
            lines[-1] if lines else f"exit status {done.returncode}"
        )
        raise _Failed(message)
    return _parse_answer(done.stdout)


def _call_url(url: str, event: dict[str, Any], timeout: float) -> Any:
    try:
        response = httpx.post(url, json=event, timeout=timeout)
    except httpx.TimeoutException:
        raise _Unreachable("Socket timeout while invoking Lambda function") from None
    except httpx.HTTPError as exc:
        raise _Unreachable(f"cannot reach the function: {type(exc).__name__}") from None
    if not response.is_success:
        raise _Failed(_error_message(response.text) or f"HTTP {response.status_code}")
    return _parse_answer(response.text)
