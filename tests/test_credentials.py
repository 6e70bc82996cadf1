"""CredentialService and its helpers, against a fake identity pool behind httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cognito_middleware._config import CognitoConfig
from cognito_middleware._credentials.helpers import (
    CREDENTIALS_EXCEPTION_HANDLERS,
    AWSCredentials,
    CredentialCache,
    CredentialService,
    MemoryCredentialCache,
    boto3_session,
    credentials_error_response,
    get_aws_credentials,
    requires_role,
)
from cognito_middleware._identity_pool import IdentityPoolClient
from cognito_middleware._state import RequestState, Services
from cognito_middleware._user import AnonymousUser, CognitoUser
from cognito_middleware.exceptions import (
    CognitoUnavailableError,
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    IdentityPoolThrottledError,
    RoleNotAllowedError,
    SignInRequiredError,
)
from cognito_middleware.sessions._base import SessionData
from cognito_middleware.testing import FrozenClock

POOL = "eu-west-1:0a1b2c3d-0000-1111-2222-333344445555"
PROVIDER = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
EDITOR = "arn:aws:iam::111122223333:role/editor"
ADMIN = "arn:aws:iam::111122223333:role/admin"
START = 1_700_000_000.0


def make_config(**overrides: Any) -> CognitoConfig:
    values: dict[str, Any] = {
        "user_pool_id": "eu-west-1_AbCdEf123",
        "client_id": "4hqt9ikctmesulmh0hbqbs00ta",
        "domain": "http://localhost:9000",
        "redirect_uri": "http://localhost:8000/auth/callback",
        "session_secret": "s" * 40,
        "identity_pool_id": POOL,
        "identity_endpoint": "http://127.0.0.1:9/",
    }
    values.update(overrides)
    return CognitoConfig(**values)


class FakePool:
    """Just enough of the identity pool: guest identities, logins, linking, roles, faults.

    ID tokens are ``"<sub>"`` (valid) or ``"<sub>:expired"``: the service never reads them.
    """

    def __init__(self, clock: FrozenClock, *, allow_guests: bool = True) -> None:
        self.clock = clock
        self.allow_guests = allow_guests
        self.identities: dict[str, str | None] = {}
        self.calls: dict[str, list[dict[str, Any]]] = {"GetId": [], "GetCredentialsForIdentity": []}
        self.faults: list[httpx.Response | Exception] = []
        self.issued: list[AWSCredentials] = []
        self.delay = 0.0
        self.roles = {"alice": {EDITOR}}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        op = request.headers["x-amz-target"].split(".", 1)[1]
        body = json.loads(request.content)
        self.calls[op].append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        return self.get_id(body) if op == "GetId" else self.get_credentials(body)

    @staticmethod
    def error(error_type: str, message: str) -> httpx.Response:
        return httpx.Response(400, json={"__type": error_type, "message": message})

    def login(self, logins: dict[str, str] | None) -> str | httpx.Response | None:
        if not logins:
            return None
        token = logins.get(PROVIDER)
        if token is None:
            return self.error("NotAuthorizedException", "Token is not from a supported provider")
        if token.endswith(":expired"):
            return self.error(
                "NotAuthorizedException", "Invalid login token. Token expired: 2 >= 1"
            )
        return token

    def get_id(self, body: dict[str, Any]) -> httpx.Response:
        sub = self.login(body.get("Logins"))
        if isinstance(sub, httpx.Response):
            return sub
        if sub is None and not self.allow_guests:
            return self.error(
                "NotAuthorizedException",
                "Unauthenticated access is not supported for this identity pool.",
            )
        for identity, owner in self.identities.items():
            if sub is not None and owner == sub:
                return httpx.Response(200, json={"IdentityId": identity})
        identity = f"eu-west-1:{uuid.uuid4()}"
        self.identities[identity] = sub
        return httpx.Response(200, json={"IdentityId": identity})

    def get_credentials(self, body: dict[str, Any]) -> httpx.Response:
        identity = body["IdentityId"]
        if identity not in self.identities:
            return self.error("ResourceNotFoundException", f"Identity '{identity}' not found.")
        sub = self.login(body.get("Logins"))
        if isinstance(sub, httpx.Response):
            return sub
        owner = self.identities[identity]
        if owner != sub:
            if owner is None and sub is not None:
                existing = next((i for i, o in self.identities.items() if o == sub), None)
                if existing is None:
                    self.identities[identity] = sub
                else:
                    del self.identities[identity]
                    identity = existing
            else:
                return self.error(
                    "NotAuthorizedException",
                    "Logins don't match. Please include at least one valid login for this "
                    "identity or identity pool.",
                )
        role = body.get("CustomRoleArn")
        if role is not None and role not in self.roles.get(sub or "", set()):
            return self.error("NotAuthorizedException", "role not allowed")
        creds = AWSCredentials(
            access_key_id=f"ASIA{secrets.token_hex(8).upper()}",
            secret_key=f"SECRETKEY{secrets.token_hex(16)}",
            session_token=f"SESSIONTOKEN{secrets.token_hex(32)}",
            expiration=self.clock() + 3600,
            identity_id=identity,
        )
        self.issued.append(creds)
        return httpx.Response(
            200,
            json={
                "IdentityId": identity,
                "Credentials": {
                    "AccessKeyId": creds.access_key_id,
                    "SecretKey": creds.secret_key,
                    "SessionToken": creds.session_token,
                    "Expiration": creds.expiration,
                },
            },
        )

    def count(self, op: str) -> int:
        return len(self.calls[op])


class _Sessions:
    """The session manager's refresh, counted: the ID token is renewed unless told not to."""

    def __init__(self, env: Env, sub: str, works: bool) -> None:
        self.env, self.sub, self.works = env, sub, works

    async def refresh(self, state: RequestState) -> bool:
        self.env.refreshes += 1
        if not self.works or state.session is None:
            return False
        state.session = state.session.evolve(id_token=self.sub)
        return True


class Env:
    """One service and its fake pool; builds per-request states like the middleware does."""

    def __init__(self, **config: Any) -> None:
        self.clock = FrozenClock(START)
        self.pool = FakePool(self.clock)
        self.config = make_config(**config)
        self.http = httpx.AsyncClient(transport=self.pool.transport())
        self.client = IdentityPoolClient(
            self.config, self.http, clock=self.clock, sleep=self.clock.sleep, deadline=5.0
        )
        self.service = CredentialService(
            self.config, self.http, clock=self.clock, client=self.client
        )
        self.services = Services(
            config=self.config, http=self.http, clock=self.clock, credentials=self.service
        )
        self.refreshes = 0

    def guest(self, cookies: dict[str, str] | None = None) -> RequestState:
        return RequestState(services=self.services, user=AnonymousUser(), cookies=cookies or {})

    def user(
        self,
        sub: str = "alice",
        *,
        roles: tuple[str, ...] = (EDITOR,),
        identity_id: str | None = None,
        token: str | None = None,
        cookies: dict[str, str] | None = None,
        refresh_works: bool = True,
    ) -> RequestState:
        claims = {"sub": sub, "cognito:username": sub, "cognito:roles": list(roles)}
        session = SessionData(
            session_id=secrets.token_hex(16),
            id_token=token or sub,
            access_token="access",
            refresh_token="refresh",
            expires_at=self.clock() + 3600,
            created_at=self.clock(),
            last_seen=self.clock(),
            identity_id=identity_id,
        )
        state = RequestState(
            services=self.services,
            user=CognitoUser.from_claims(claims, None),
            cookies=cookies or {},
            session=session,
        )

        state.services = Services(
            config=self.config,
            http=self.http,
            clock=self.clock,
            credentials=self.service,
            sessions=_Sessions(self, sub, refresh_works),  # type: ignore[arg-type]
        )
        return state

    def guest_cookie(self, state: RequestState) -> dict[str, str]:
        name = self.service.guest_cookie_name
        for header in state.set_cookies:
            cookie_name, _, rest = header.partition("=")
            if cookie_name == name and not rest.startswith(";"):
                return {name: rest.split(";", 1)[0].strip('"')}
        raise AssertionError("no guest cookie was set")


@pytest.fixture
def env() -> Env:
    return Env()


# Guests -----------------------------------------------------------------------------------


async def test_nothing_is_asked_until_credentials_are(env: Env) -> None:
    env.guest()
    env.user()
    assert env.pool.count("GetId") == env.pool.count("GetCredentialsForIdentity") == 0


async def test_guest_gets_an_identity_kept_in_a_signed_cookie(env: Env) -> None:
    first = env.guest()
    creds = await env.service.get(first)

    assert env.pool.identities[creds.identity_id] is None
    assert env.pool.count("GetId") == 1
    [header] = first.set_cookies
    assert header.startswith("cognito_guest=")
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "max-age=31536000" in lowered
    assert creds.identity_id not in header, "the cookie is signed, not the bare identity id"

    second = env.guest(env.guest_cookie(first))
    again = await env.service.get(second)
    assert again == creds
    assert second.set_cookies == []
    assert env.pool.count("GetId") == 1
    assert env.pool.count("GetCredentialsForIdentity") == 1


async def test_secure_guest_cookie_has_the_host_prefix() -> None:
    env = Env(secure_cookies=True)
    state = env.guest()
    await env.service.get(state)
    [header] = state.set_cookies
    assert header.startswith("__Host-cognito_guest=")
    assert "Secure" in header and "Domain" not in header


async def test_guest_cookie_renewed_after_a_month(env: Env) -> None:
    first = env.guest()
    creds = await env.service.get(first)
    env.clock.now += 40 * 24 * 3600
    later = env.guest(env.guest_cookie(first))
    renewed = await env.service.get(later)
    assert renewed.identity_id == creds.identity_id
    assert len(later.set_cookies) == 1


async def test_guest_cookie_older_than_a_year_is_refused_even_after_being_read(
    env: Env,
) -> None:
    first = env.guest()
    creds = await env.service.get(first)
    cookie = env.guest_cookie(first)
    assert (await env.service.get(env.guest(cookie))).identity_id == creds.identity_id
    env.clock.now += 366 * 24 * 3600
    stale = env.guest(cookie)
    fresh = await env.service.get(stale)
    assert fresh.identity_id != creds.identity_id
    assert env.pool.count("GetId") == 2


@pytest.mark.parametrize("value", ["garbage", "eyJ.abc.def", ""])
async def test_tampered_guest_cookie_gets_a_new_identity(env: Env, value: str) -> None:
    state = env.guest({"cognito_guest": value})
    await env.service.get(state)
    assert env.pool.count("GetId") == 1
    assert len(state.set_cookies) == 1


async def test_guest_cookie_from_another_secret_is_refused(env: Env) -> None:
    other = Env(session_secret="o" * 40)
    first = other.guest()
    await other.service.get(first)
    state = env.guest(other.guest_cookie(first))
    await env.service.get(state)
    assert env.pool.count("GetId") == 1


async def test_guest_cookie_survives_secret_rotation() -> None:
    old = Env(session_secret="o" * 40)
    first = old.guest()
    creds = await old.service.get(first)
    rotated = Env(session_secret=["n" * 40, "o" * 40])
    rotated.pool = old.pool
    rotated.http._transport = old.pool.transport()
    state = rotated.guest(old.guest_cookie(first))
    assert (await rotated.service.get(state)).identity_id == creds.identity_id
    assert rotated.pool.count("GetId") == 1


async def test_two_asks_in_one_request_create_one_guest(env: Env) -> None:
    state = env.guest()
    a, b = await asyncio.gather(env.service.get(state), env.service.get(state))
    c = await env.service.get(state)
    assert a.identity_id == b.identity_id == c.identity_id
    assert env.pool.count("GetId") == 1
    assert len(state.set_cookies) == 1


async def test_guests_refused_by_the_pool_are_a_configuration_error_logged_once(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.pool.allow_guests = False
    caplog.set_level(logging.INFO, logger="cognito_middleware")
    for _ in range(3):
        with pytest.raises(IdentityPoolConfigurationError, match="Unauthenticated access"):
            await env.service.get(env.guest())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "Unauthenticated access is not supported" in errors[0].getMessage()


async def test_guests_may_not_ask_for_a_role(env: Env) -> None:
    state = env.guest()
    with pytest.raises(RoleNotAllowedError):
        await env.service.get(state, role_arn=EDITOR)
    assert env.pool.count("GetId") == 0
    assert state.set_cookies == []


async def test_guest_identity_taken_by_a_login_gets_replaced(env: Env) -> None:
    first = env.guest()
    creds = await env.service.get(first)
    env.pool.identities[creds.identity_id] = "mallory"
    await env.service.cache.delete(f"guest|{creds.identity_id}|")
    state = env.guest(env.guest_cookie(first))
    fresh = await env.service.get(state)
    assert fresh.identity_id != creds.identity_id
    assert env.pool.identities[fresh.identity_id] is None
    assert len(state.set_cookies) == 1


# Signed-in users --------------------------------------------------------------------------


async def test_user_identity_is_kept_in_the_session(env: Env) -> None:
    state = env.user()
    creds = await env.service.get(state)
    assert env.pool.calls["GetId"] == [{"IdentityPoolId": POOL, "Logins": {PROVIDER: "alice"}}]
    assert env.pool.calls["GetCredentialsForIdentity"][0]["Logins"] == {PROVIDER: "alice"}
    assert state.session is not None
    assert state.session.identity_id == creds.identity_id
    assert state.session_changed
    assert state.set_cookies == []

    later = env.user(identity_id=creds.identity_id)
    assert await env.service.get(later) == creds
    assert not later.session_changed
    assert env.pool.count("GetId") == 1
    assert env.pool.count("GetCredentialsForIdentity") == 1


async def test_other_sessions_of_a_user_reuse_the_identity(env: Env) -> None:
    first = await env.service.get(env.user())
    other_device = env.user()
    assert (await env.service.get(other_device)) == first
    assert other_device.session is not None
    assert other_device.session.identity_id == first.identity_id
    assert env.pool.count("GetId") == 1


async def test_a_remembered_identity_that_vanished_is_replaced(env: Env) -> None:
    first = await env.service.get(env.user())
    del env.pool.identities[first.identity_id]
    await env.service.cache.delete(f"auth|{first.identity_id}|")
    state = env.user()
    creds = await env.service.get(state)
    assert creds.identity_id != first.identity_id
    assert state.session is not None and state.session.identity_id == creds.identity_id
    assert await env.service.get(env.user()) == creds


async def test_bearer_users_cannot_get_credentials(env: Env) -> None:
    state = env.user()
    state.session = None
    with pytest.raises(IdentityPoolAuthError) as info:
        await env.service.get(state)
    assert info.value.error_type == "MissingIdToken"
    assert env.pool.count("GetId") == 0


async def test_allowed_role_is_asked_for_and_cached_apart(env: Env) -> None:
    state = env.user()
    default = await env.service.get(state)
    editor = await env.service.get(state, role_arn=EDITOR)
    assert editor.role_arn == EDITOR and default.role_arn is None
    assert editor != default
    assert env.pool.calls["GetCredentialsForIdentity"][1]["CustomRoleArn"] == EDITOR
    assert await env.service.get(state, role_arn=EDITOR) == editor
    assert env.pool.count("GetCredentialsForIdentity") == 2


async def test_role_not_in_cognito_roles_is_refused_without_calling_aws(env: Env) -> None:
    state = env.user()
    with pytest.raises(RoleNotAllowedError) as info:
        await env.service.get(state, role_arn=ADMIN)
    assert info.value.role_arn == ADMIN
    assert env.pool.count("GetId") == env.pool.count("GetCredentialsForIdentity") == 0


async def test_guest_identity_is_linked_at_sign_in(env: Env) -> None:
    visit = env.guest()
    guest_creds = await env.service.get(visit)
    cookies = env.guest_cookie(visit)

    state = env.user(cookies=cookies)
    creds = await env.service.get(state)

    assert env.pool.count("GetId") == 1, "only the guest's GetId"
    link = env.pool.calls["GetCredentialsForIdentity"][-1]
    assert link == {"IdentityId": guest_creds.identity_id, "Logins": {PROVIDER: "alice"}}
    assert creds.identity_id == guest_creds.identity_id
    assert creds.access_key_id != guest_creds.access_key_id
    assert state.session is not None and state.session.identity_id == creds.identity_id
    [expired] = state.set_cookies
    assert expired.startswith("cognito_guest=") and "Max-Age=0" in expired

    same = env.user(identity_id=creds.identity_id)
    assert await env.service.get(same) == creds, "linked credentials are cached"
    env.clock.now += 3600
    stale_cookie = env.guest(cookies)
    other = await env.service.get(stale_cookie)
    assert other.identity_id != creds.identity_id, "an old guest cookie never reaches the user"
    assert env.pool.identities[other.identity_id] is None


async def test_linking_into_an_existing_identity_keeps_the_returned_id(env: Env) -> None:
    earlier = env.user()
    own = await env.service.get(earlier)
    visit = env.guest()
    guest = await env.service.get(visit)

    state = env.user(cookies=env.guest_cookie(visit))
    creds = await env.service.get(state)

    assert creds.identity_id == own.identity_id != guest.identity_id
    assert state.session is not None and state.session.identity_id == own.identity_id
    assert guest.identity_id not in env.pool.identities


async def test_guest_cookie_of_another_user_is_not_linked(env: Env) -> None:
    visit = env.guest()
    guest = await env.service.get(visit)
    env.pool.identities[guest.identity_id] = "mallory"

    state = env.user(cookies=env.guest_cookie(visit))
    creds = await env.service.get(state)

    assert creds.identity_id != guest.identity_id
    assert env.pool.identities[creds.identity_id] == "alice"
    assert any("Max-Age=0" in h for h in state.set_cookies)


async def test_two_users_with_one_guest_cookie_never_share_credentials(env: Env) -> None:
    env.pool.roles["bob"] = set()
    visit = env.guest()
    await env.service.get(visit)
    cookies = env.guest_cookie(visit)
    env.pool.delay = 0.02
    alice = env.user("alice", cookies=cookies)
    bob = env.user("bob", roles=(), cookies=cookies)
    a, b = await asyncio.gather(env.service.get(alice), env.service.get(bob))
    assert a.identity_id != b.identity_id
    assert env.pool.identities[a.identity_id] == "alice"
    assert env.pool.identities[b.identity_id] == "bob"
    assert alice.session and alice.session.identity_id == a.identity_id
    assert bob.session and bob.session.identity_id == b.identity_id


async def test_leftover_guest_cookie_is_expired_for_a_known_identity(env: Env) -> None:
    visit = env.guest()
    await env.service.get(visit)
    own = await env.service.get(env.user())
    state = env.user(identity_id=own.identity_id, cookies=env.guest_cookie(visit))
    assert await env.service.get(state) == own
    assert len(state.set_cookies) == 1 and "Max-Age=0" in state.set_cookies[0]


async def test_expired_id_token_is_refreshed_and_retried_once(env: Env) -> None:
    state = env.user(token="alice:expired")
    creds = await env.service.get(state)
    assert env.refreshes == 1
    assert env.pool.identities[creds.identity_id] == "alice"
    assert [c["Logins"][PROVIDER] for c in env.pool.calls["GetId"]] == [
        "alice:expired",
        "alice",
    ]


async def test_expired_id_token_on_credentials_call(env: Env) -> None:
    own = await env.service.get(env.user())
    env.clock.now += 3600
    state = env.user(identity_id=own.identity_id, token="alice:expired")
    creds = await env.service.get(state)
    assert creds.access_key_id != own.access_key_id
    assert env.refreshes == 1
    assert env.pool.count("GetCredentialsForIdentity") == 3


async def test_expired_id_token_that_cannot_be_refreshed(env: Env) -> None:
    state = env.user(token="alice:expired", refresh_works=False)
    with pytest.raises(IdentityPoolAuthError):
        await env.service.get(state)
    assert env.refreshes == 1
    assert env.pool.count("GetId") == 1


async def test_identity_deleted_at_the_pool_is_replaced(env: Env) -> None:
    own = await env.service.get(env.user())
    del env.pool.identities[own.identity_id]
    env.clock.now += 3600
    state = env.user(identity_id=own.identity_id)
    creds = await env.service.get(state)
    assert creds.identity_id != own.identity_id
    assert state.session is not None and state.session.identity_id == creds.identity_id


# Cache, windows, single flight --------------------------------------------------------------


async def test_hundred_concurrent_requests_make_one_call(env: Env) -> None:
    own = await env.service.get(env.user())
    env.clock.now += 3600
    env.pool.delay = 0.02
    before = env.pool.count("GetCredentialsForIdentity")

    states = [env.user(identity_id=own.identity_id) for _ in range(100)]
    results = await asyncio.gather(*(env.service.get(s) for s in states))

    assert env.pool.count("GetCredentialsForIdentity") == before + 1
    assert len({r.access_key_id for r in results}) == 1
    assert results[0] != own


async def test_hundred_concurrent_first_requests_make_one_get_id(env: Env) -> None:
    env.pool.delay = 0.02
    states = [env.user() for _ in range(100)]
    results = await asyncio.gather(*(env.service.get(s) for s in states))
    assert env.pool.count("GetId") == 1
    assert env.pool.count("GetCredentialsForIdentity") == 1
    assert len({r.identity_id for r in results}) == 1
    assert all(s.session and s.session.identity_id == results[0].identity_id for s in states)


async def test_a_departing_request_does_not_cancel_the_shared_call(env: Env) -> None:
    env.pool.delay = 0.05
    first = asyncio.create_task(env.service.get(env.user()))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(env.service.get(env.user()))
    await asyncio.sleep(0.01)
    first.cancel()
    creds = await second
    assert env.pool.identities[creds.identity_id] == "alice"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_credentials_are_reused_until_the_advisory_window(env: Env) -> None:
    state = env.user()
    creds = await env.service.get(state)
    env.clock.now += 3600 - 15 * 60 - 1
    assert await env.service.get(state) == creds
    assert env.pool.count("GetCredentialsForIdentity") == 1

    env.clock.now += 2
    fresh = await env.service.get(state)
    assert fresh != creds
    assert env.pool.count("GetCredentialsForIdentity") == 2


async def test_failed_advisory_refresh_keeps_the_old_snapshot(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    state = env.user()
    creds = await env.service.get(state)
    env.clock.now += 3600 - 10 * 60
    env.pool.faults = [FakePool.error("TooManyRequestsException", "Rate exceeded")] * 50
    with caplog.at_level(logging.WARNING, logger="cognito_middleware"):
        assert await env.service.get(state) == creds
    assert "advisory refresh" in caplog.text


async def test_advisory_refresh_in_flight_does_not_hold_up_others(env: Env) -> None:
    state = env.user()
    creds = await env.service.get(state)
    env.clock.now += 3600 - 10 * 60
    env.pool.delay = 0.05
    refreshing = asyncio.create_task(env.service.get(state))
    await asyncio.sleep(0.01)
    assert await env.service.get(env.user(identity_id=creds.identity_id)) == creds
    assert (await refreshing) != creds


async def test_mandatory_window_must_refresh(env: Env) -> None:
    state = env.user()
    await env.service.get(state)
    env.clock.now += 3600 - 4 * 60
    env.pool.faults = [FakePool.error("TooManyRequestsException", "Rate exceeded")] * 50
    with pytest.raises(IdentityPoolThrottledError):
        await env.service.get(state)


async def test_throttling_recovers_within_the_deadline(env: Env) -> None:
    env.pool.faults = [FakePool.error("TooManyRequestsException", "Rate exceeded")] * 3
    creds = await env.service.get(env.user())
    assert creds.access_key_id.startswith("ASIA")
    assert env.pool.count("GetId") == 4


async def test_memory_cache_is_bounded_and_drops_expired_entries() -> None:
    clock = FrozenClock(START)
    cache = MemoryCredentialCache(max_entries=2, clock=clock)
    assert isinstance(cache, CredentialCache)

    def creds(n: int, life: float = 3600) -> AWSCredentials:
        return AWSCredentials(
            access_key_id=f"A{n}",
            secret_key="s",
            session_token="t",
            expiration=clock() + life,
            identity_id=f"id{n}",
        )

    await cache.set("a", creds(1))
    await cache.set("b", creds(2))
    assert await cache.get("a") is not None
    await cache.set("c", creds(3))
    assert await cache.get("b") is None, "least recently used goes first"
    assert len(cache) == 2
    await cache.set("d", creds(4, life=10))
    clock.now += 11
    assert await cache.get("d") is None
    await cache.delete("a")
    assert await cache.get("a") is None
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCredentialCache(max_entries=0)


def test_refresh_windows_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="mandatory_refresh"):
        CredentialService(
            make_config(), httpx.AsyncClient(), advisory_refresh=60, mandatory_refresh=120
        )


def test_service_needs_an_identity_pool() -> None:
    with pytest.raises(IdentityPoolConfigurationError, match="COGNITO_IDENTITY_POOL_ID"):
        CredentialService(make_config(identity_pool_id=None), httpx.AsyncClient())


# Responses, helpers, guards --------------------------------------------------------------


class StubMiddleware:
    """Publishes a RequestState like the real middleware and sends its extra cookies."""

    def __init__(self, app: ASGIApp, make_state: Callable[[Scope], RequestState]) -> None:
        self.app = app
        self.make_state = make_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.make_state(scope)
        scope["cognito"] = state
        scope["auth"] = state.user.auth_credentials
        scope["user"] = state.user

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"set-cookie", c.encode("latin-1")) for c in state.set_cookies]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


async def identity(request: Request) -> Response:
    creds = await get_aws_credentials(request)
    return JSONResponse({"identity_id": creds.identity_id, "key": creds.access_key_id})


@requires_role(EDITOR)
async def edit(request: Request) -> Response:
    creds = await get_aws_credentials(request, role_arn=EDITOR)
    return JSONResponse({"role": creds.role_arn})


def starlette_app(make_state: Callable[[Scope], RequestState]) -> ASGIApp:
    app = Starlette(
        routes=[Route("/identity", identity), Route("/edit", edit)],
        exception_handlers=dict(CREDENTIALS_EXCEPTION_HANDLERS),
    )
    return StubMiddleware(app, make_state)


def all_secrets(pool: FakePool) -> list[str]:
    return [s for c in pool.issued for s in (c.secret_key, c.session_token)]


async def test_starlette_guest_pages_keep_one_identity(env: Env) -> None:
    app = starlette_app(lambda scope: env.guest(_cookies(scope)))
    async with client_for(app) as client:
        first = await client.get("/identity")
        second = await client.get("/identity")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert "set-cookie" not in second.headers
    for response in (first, second):
        assert not any(s in response.text for s in all_secrets(env.pool))


async def test_starlette_requires_role(env: Env) -> None:
    states = {
        "guest": lambda scope: env.guest(),
        "reader": lambda scope: env.user("bob", roles=()),
        "editor": lambda scope: env.user(),
    }
    who = "guest"
    app = starlette_app(lambda scope: states[who](scope))
    async with client_for(app) as client:
        browser = await client.get(
            "/edit?x=1", headers={"accept": "text/html", "sec-fetch-mode": "navigate"}
        )
        assert browser.status_code == 303
        assert browser.headers["location"] == "/auth/login?next=%2Fedit%3Fx%3D1"
        api = await client.get("/edit")
        assert api.status_code == 401 and api.json()["error"] == "login_required"
        who = "reader"
        refused = await client.get("/edit")
        assert refused.status_code == 403 and refused.json()["error"] == "role_not_allowed"
        assert env.pool.count("GetId") == 0
        who = "editor"
        allowed = await client.get("/edit")
        assert allowed.status_code == 200 and allowed.json() == {"role": EDITOR}
        env.pool.faults = [FakePool.error("TooManyRequestsException", "slow down")] * 50
        env.clock.now += 3600
        throttled = await client.get("/edit")
        assert throttled.status_code == 503
        assert throttled.headers["retry-after"] == "5"
        assert throttled.json()["error"] == "aws_credentials_unavailable"


def test_requires_role_needs_an_async_endpoint_with_a_request() -> None:
    with pytest.raises(TypeError, match="async"):
        requires_role(EDITOR)(lambda request: None)

    async def no_request(x: int) -> None:
        return None

    with pytest.raises(TypeError, match="request"):
        requires_role(EDITOR)(no_request)


async def test_missing_identity_pool_is_a_clear_503(env: Env) -> None:
    services = Services(config=env.config, http=env.http, clock=env.clock)
    app = starlette_app(
        lambda scope: RequestState(services=services, user=AnonymousUser(), cookies={})
    )
    async with client_for(app) as client:
        response = await client.get("/identity")
    assert response.status_code == 503
    assert "COGNITO_IDENTITY_POOL_ID" in response.json()["detail"]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (RoleNotAllowedError(ADMIN), 403, "role_not_allowed"),
        (IdentityPoolAuthError("NotAuthorizedException", "Token expired"), 401, "login_required"),
        (IdentityPoolAuthError("MissingIdToken", "need a session"), 403, "id_token_required"),
        (
            IdentityPoolConfigurationError(
                "InvalidIdentityPoolConfigurationException", "Check assigned IAM roles"
            ),
            503,
            "identity_pool_misconfigured",
        ),
        (
            IdentityPoolThrottledError("TooManyRequestsException", "Rate exceeded"),
            503,
            "aws_credentials_unavailable",
        ),
        (CognitoUnavailableError("identity pool", "down"), 503, "aws_credentials_unavailable"),
        (IdentityPoolError("InvalidParameterException", "odd"), 503, "identity_pool_error"),
    ],
)
def test_error_responses(exc: Exception, status: int, code: str) -> None:
    scope: Scope = {"type": "http", "path": "/x", "query_string": b"", "headers": []}
    response = credentials_error_response(scope, exc)
    assert response.status_code == status
    assert json.loads(bytes(response.body))["error"] == code
    assert response.headers["cache-control"] == "no-store"
    page = credentials_error_response({**scope, "headers": [(b"accept", b"text/html")]}, exc)
    assert page.media_type == "text/html"


def test_configuration_error_response_names_the_cause() -> None:
    scope: Scope = {"type": "http", "path": "/", "query_string": b"", "headers": []}
    exc = IdentityPoolConfigurationError(
        "NotAuthorizedException", "Unauthenticated access is not supported for this identity pool."
    )
    body = json.loads(bytes(credentials_error_response(scope, exc).body))
    assert "Unauthenticated access is not supported" in body["detail"]


def test_error_response_refuses_other_errors() -> None:
    with pytest.raises(TypeError):
        credentials_error_response({"type": "http", "headers": []}, ValueError("x"))


async def test_fastapi_dependency(env: Env) -> None:
    from fastapi import Depends, FastAPI

    from cognito_middleware.fastapi import aws_credentials_dependency

    api = FastAPI()
    who: list[Callable[[], RequestState]] = [env.guest]

    @api.get("/me")
    async def me(creds: AWSCredentials = Depends(aws_credentials_dependency())) -> Any:  # noqa: B008
        return {"identity_id": creds.identity_id}

    @api.get("/edit")
    async def editor(
        creds: AWSCredentials = Depends(aws_credentials_dependency(EDITOR)),  # noqa: B008
    ) -> Any:
        return {"role": creds.role_arn}

    app = StubMiddleware(api, lambda scope: who[0]())
    async with client_for(app) as client:
        guest = await client.get("/me")
        assert guest.status_code == 200 and guest.json()["identity_id"].startswith("eu-west-1:")
        assert "cognito_guest=" in guest.headers["set-cookie"]
        assert (await client.get("/edit")).status_code == 401
        redirect = await client.get("/edit", headers={"sec-fetch-mode": "navigate"})
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/auth/login?next=%2Fedit"
        who[0] = lambda: env.user("bob", roles=())
        assert (await client.get("/edit")).status_code == 403
        who[0] = env.user
        assert (await client.get("/edit")).json() == {"role": EDITOR}
        env.pool.allow_guests = False
        who[0] = env.guest
        refused = await client.get("/me")
        assert refused.status_code == 503
        assert "Unauthenticated access is not supported" in refused.json()["detail"]


async def test_boto3_session_uses_the_snapshot(env: Env) -> None:
    creds = await env.service.get(env.user())
    session = boto3_session(creds)
    frozen = session.get_credentials().get_frozen_credentials()
    assert frozen.access_key == creds.access_key_id
    assert frozen.secret_key == creds.secret_key
    assert frozen.token == creds.session_token
    assert session.region_name == "eu-west-1"
    assert boto3_session(creds, region="us-east-1").region_name == "us-east-1"


def test_boto3_session_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    creds = AWSCredentials(
        access_key_id="A", secret_key="s", session_token="t", expiration=0, identity_id="x:y"
    )
    with pytest.raises(ImportError, match=r"cognito-middleware\[boto3\]"):
        boto3_session(creds)


async def test_no_log_line_carries_a_secret(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    visit = env.guest()
    await env.service.get(visit)
    state = env.user(token="alice:expired", cookies=env.guest_cookie(visit))
    await env.service.get(state)
    await env.service.get(state, role_arn=EDITOR)
    env.clock.now += 3600 - 10 * 60
    env.pool.faults = [FakePool.error("TooManyRequestsException", "Rate exceeded")] * 50
    await env.service.get(state)
    env.pool.faults = []
    with pytest.raises(RoleNotAllowedError):
        await env.service.get(state, role_arn=ADMIN)
    assert env.pool.issued and caplog.records
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in all_secrets(env.pool):
        assert secret not in text
    assert "alice:expired" not in text


def _cookies(scope: Scope) -> dict[str, str]:
    return dict(Request(scope).cookies)


async def test_a_request_arriving_as_get_id_answers_does_not_ask_again(env: Env) -> None:
    # The first request's GetId call ends a moment before its waiters resume; a request that
    # runs in between must find the identity, not start a second GetId.
    loop = asyncio.get_running_loop()
    late: list[asyncio.Future[AWSCredentials]] = []
    answer = env.pool.get_id

    def get_id(body: dict[str, Any]) -> httpx.Response:
        loop.call_soon(lambda: late.append(asyncio.ensure_future(env.service.get(env.user()))))
        return answer(body)

    env.pool.get_id = get_id  # type: ignore[method-assign]
    first = await env.service.get(env.user())
    assert late, "the late request ran before the first one resumed"
    second = await late[0]
    assert env.pool.count("GetId") == 1
    assert second.identity_id == first.identity_id


async def test_a_request_still_carrying_a_linked_guest_cookie_does_not_link_again(
    env: Env,
) -> None:
    # Requests the browser sent before it saw the guest cookie expire carry the guest cookie
    # and a session without the identity: they get the linked identity, not a second link.
    visit = env.guest()
    guest = await env.service.get(visit)
    cookies = env.guest_cookie(visit)
    first = await env.service.get(env.user(cookies=cookies))
    late = env.user(cookies=cookies)
    again = await env.service.get(late)
    assert again == first and again.identity_id == guest.identity_id
    assert env.pool.count("GetCredentialsForIdentity") == 2, "the guest's, then the link"
    assert late.session is not None and late.session.identity_id == guest.identity_id
    assert any("Max-Age=0" in h for h in late.set_cookies), "the guest cookie still expires"
    # Another user presenting the same guest cookie is not given that identity.
    env.pool.roles["bob"] = set()
    bob = await env.service.get(env.user("bob", roles=(), cookies=cookies))
    assert bob.identity_id != guest.identity_id


async def test_guests_asking_while_guest_credentials_are_off_are_refused_without_aws() -> None:
    env = Env(guest_credentials=False)
    with pytest.raises(SignInRequiredError):
        await env.service.get(env.guest())
    assert env.pool.count("GetId") == env.pool.count("GetCredentialsForIdentity") == 0
    user = await env.service.get(env.user())
    assert user.identity_id and env.pool.count("GetId") == 1
