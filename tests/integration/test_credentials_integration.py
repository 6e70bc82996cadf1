"""AWS credentials end to end: an app behind the middleware and the local Cognito, both served
over real HTTP; a browser-like httpx client signs in through the hosted UI."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cognito_middleware import AWSCredentials
from cognito_middleware._config import CognitoConfig
from cognito_middleware._credentials.helpers import (
    CREDENTIALS_EXCEPTION_HANDLERS,
    get_aws_credentials,
    requires_role,
)
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.fastapi import aws_credentials_dependency
from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.seed import DEMO_ACCOUNT, DEMO_PASSWORD, Seed
from cognito_middleware.local.server import background_server
from cognito_middleware.testing import ShiftedClock, sign_in

ADMIN_ROLE = f"arn:aws:iam::{DEMO_ACCOUNT}:role/demo-admin"
USERS_ROLE = f"arn:aws:iam::{DEMO_ACCOUNT}:role/demo-users"
GUEST_ROLE = f"arn:aws:iam::{DEMO_ACCOUNT}:role/demo-guest"
GET_CREDENTIALS = "GetCredentialsForIdentity"


# The app under test -------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return PlainTextResponse("a public page that needs no AWS")


async def credentials(request: Request) -> Response:
    creds = await get_aws_credentials(request, role_arn=request.query_params.get("role"))
    return JSONResponse(
        {
            "identity_id": creds.identity_id,
            "access_key_id": creds.access_key_id,
            "expiration": creds.expiration,
            "role_arn": creds.role_arn,
        }
    )


@requires_role(ADMIN_ROLE)
async def admin(request: Request) -> Response:
    creds = await get_aws_credentials(request, role_arn=ADMIN_ROLE)
    return JSONResponse({"access_key_id": creds.access_key_id})


class RecordingTransport(httpx.AsyncBaseTransport):
    """The middleware's outbound transport; remembers every secret Cognito handed out."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.secrets: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            creds = data.get("Credentials") or {}
            self.secrets += [creds[k] for k in ("SecretKey", "SessionToken") if k in creds]
            self.secrets += [
                data[k] for k in ("id_token", "access_token", "refresh_token") if k in data
            ]
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class Deferred:
    """Served before the app exists: the app's config needs the port it is served on."""

    def __init__(self) -> None:
        self.app: CognitoAuthMiddleware | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)


@dataclass
class Site:
    cognito: LocalCognito
    url: str
    clock: ShiftedClock
    transport: RecordingTransport
    responses: list[httpx.Response] = field(default_factory=list)

    @asynccontextmanager
    async def browser(self) -> AsyncIterator[httpx.AsyncClient]:
        """A browser: its own cookie jar; every response it receives is kept for scanning."""

        async def keep(response: httpx.Response) -> None:
            await response.aread()
            self.responses.append(response)

        async with httpx.AsyncClient(
            base_url=self.url,
            timeout=20,
            event_hooks={"response": [keep]},
            limits=httpx.Limits(max_connections=100),
        ) as client:
            yield client

    async def sign_in(self, browser: httpx.AsyncClient, username: str) -> None:
        start = await browser.get("/auth/login", params={"next": "/"})
        assert start.status_code in (302, 303), start.text
        async with httpx.AsyncClient(base_url=self.cognito.base_url, timeout=20) as idp:
            back = await sign_in(idp, start.headers["location"], username, DEMO_PASSWORD)
        assert back.is_redirect, back.text
        done = await browser.get(urljoin(self.url, back.headers["location"]))
        assert done.status_code == 303, done.text
        assert browser.cookies, "signed in: a session cookie"

    def calls(self, operation: str) -> int:
        return self.cognito.calls[operation]

    def assert_no_secret_leaked(self, caplog: pytest.LogCaptureFixture) -> None:
        assert self.transport.secrets, "the test obtained credentials"
        logged = caplog.text + "".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
        )
        seen = [
            r.text + "".join(f"{k}: {v}\n" for k, v in r.headers.multi_items())
            for r in self.responses
        ]
        for secret in self.transport.secrets:
            assert secret not in logged
            for text in seen:
                assert secret not in text


def starlette_app() -> ASGIApp:
    return Starlette(
        routes=[Route("/", home), Route("/creds", credentials), Route("/admin", admin)],
        exception_handlers=CREDENTIALS_EXCEPTION_HANDLERS,
    )


def fastapi_app() -> ASGIApp:
    app = FastAPI()

    @app.get("/creds")
    async def creds(
        creds: Annotated[AWSCredentials, Depends(aws_credentials_dependency())],
    ) -> dict[str, Any]:
        return {"identity_id": creds.identity_id, "role_arn": creds.role_arn}

    @app.get("/admin")
    async def admin(
        creds: Annotated[AWSCredentials, Depends(aws_credentials_dependency(ADMIN_ROLE))],
    ) -> dict[str, Any]:
        return {"identity_id": creds.identity_id, "role_arn": creds.role_arn}

    return app


@contextmanager
def serve_site(
    seed: Seed | None = None, app: Callable[[], ASGIApp] = starlette_app, **overrides: Any
) -> Iterator[Site]:
    cognito = LocalCognito(seed or demo_seed())
    deferred = Deferred()
    clock = ShiftedClock()
    transport = RecordingTransport()
    with cognito.serve(), background_server(deferred) as (host, port):
        url = f"http://{host}:{port}"
        cognito.register_callback(cognito.client_id, f"{url}/auth/callback", f"{url}/")
        config = CognitoConfig.from_env(cognito.env(app_url=url), **overrides)
        deferred.app = CognitoAuthMiddleware(app(), config=config, clock=clock, transport=transport)
        try:
            yield Site(cognito, url, clock, transport)
        finally:
            if deferred.loop is not None:
                closing = asyncio.run_coroutine_threadsafe(deferred.app.aclose(), deferred.loop)
                closing.result(timeout=5)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture(autouse=True)
def _capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def guest_cookie_headers(response: httpx.Response) -> list[str]:
    return [v for v in response.headers.get_list("set-cookie") if v.startswith("cognito_guest=")]


# Guests -----------------------------------------------------------------------------------


async def test_visitors_who_never_ask_cost_nothing(site: Site) -> None:
    async with site.browser() as browser:
        for _ in range(3):
            page = await browser.get("/")
            assert page.status_code == 200
            assert "set-cookie" not in page.headers
    assert site.calls("GetId") == site.calls(GET_CREDENTIALS) == 0


async def test_guest_keeps_one_identity(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    async with site.browser() as browser:
        first = await browser.get("/creds")
        assert first.status_code == 200, first.text
        [cookie] = guest_cookie_headers(first)
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "max-age=" in lowered
        second = await browser.get("/creds")
        assert second.json() == first.json(), "cached: same snapshot, same identity"
        assert guest_cookie_headers(second) == []
        assert (await browser.get("/")).headers.get("set-cookie") is None

    async with site.browser() as stranger:
        other = await stranger.get("/creds")
    assert other.json()["identity_id"] != first.json()["identity_id"]

    assert site.calls("GetId") == 2
    assert site.calls(GET_CREDENTIALS) == 2
    issued = site.cognito.credentials_issued
    assert {c.role_arn for c in issued} == {GUEST_ROLE}
    assert not any(c.authenticated for c in issued)
    site.assert_no_secret_leaked(caplog)


async def test_guest_asking_for_a_role_is_refused(site: Site) -> None:
    async with site.browser() as browser:
        refused = await browser.get("/creds", params={"role": ADMIN_ROLE})
        assert refused.status_code == 403
        assert refused.json()["error"] == "role_not_allowed"
        page = await browser.get(
            "/admin", headers={"accept": "text/html", "sec-fetch-mode": "navigate"}
        )
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/login?next=%2Fadmin"
        assert (await browser.get("/admin")).status_code == 401
    assert site.calls("GetId") == site.calls(GET_CREDENTIALS) == 0


async def test_pool_without_guests_is_a_clear_503_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed = demo_seed()
    assert seed.identity_pool is not None
    seed.identity_pool.allow_unauthenticated = False
    with serve_site(seed) as site:
        async with site.browser() as browser:
            for _ in range(2):
                response = await browser.get("/creds")
                assert response.status_code == 503
                body = response.json()
                assert body["error"] == "identity_pool_misconfigured"
                assert "Unauthenticated access is not supported" in body["detail"]
                assert "Traceback" not in response.text
                assert guest_cookie_headers(response) == []
            page = await browser.get("/creds", headers={"accept": "text/html"})
            assert page.status_code == 503 and "<h1>" in page.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]


@pytest.mark.parametrize(
    ("seed_change", "overrides", "cause"),
    [
        ({"unauthenticated_role_arn": None}, {}, "Check assigned IAM roles for this pool."),
        ({}, {"identity_pool_id": "eu-west-1:00000000-0000-4000-8000-000000000000"}, "not found"),
    ],
    ids=["no-guest-role", "unknown-pool"],
)
async def test_misconfigured_pool_is_a_503_naming_the_cause(
    seed_change: dict[str, Any], overrides: dict[str, Any], cause: str
) -> None:
    seed = demo_seed()
    assert seed.identity_pool is not None
    for name, value in seed_change.items():
        setattr(seed.identity_pool, name, value)
    with serve_site(seed, **overrides) as site:
        async with site.browser() as browser:
            response = await browser.get("/creds")
    assert response.status_code == 503
    assert response.json()["error"] == "identity_pool_misconfigured"
    assert cause in response.json()["detail"]


@pytest.mark.parametrize("app", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
async def test_with_guest_credentials_off_guests_are_sent_to_sign_in(
    app: Callable[[], ASGIApp],
) -> None:
    with serve_site(app=app, guest_credentials=False) as site:
        async with site.browser() as browser:
            api = await browser.get("/creds", headers={"accept": "application/json"})
            assert api.status_code == 401, api.text
            assert "set-cookie" not in api.headers
            page = await browser.get(
                "/creds", headers={"accept": "text/html", "sec-fetch-mode": "navigate"}
            )
            assert page.status_code == 303
            assert page.headers["location"] == "/auth/login?next=%2Fcreds"
            assert site.calls("GetId") == site.calls(GET_CREDENTIALS) == 0
            await site.sign_in(browser, "alice")
            signed_in = await browser.get("/creds")
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["identity_id"] == site.cognito.identity_of("alice")


# Signed-in users --------------------------------------------------------------------------


async def test_signed_in_user_gets_the_preferred_role(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, "bob")
        first = await browser.get("/creds")
        assert first.status_code == 200, first.text
        second = await browser.get("/creds")
    assert first.json() == second.json()
    assert first.json()["identity_id"] == site.cognito.identity_of("bob")
    assert site.calls("GetId") == 1
    assert site.calls(GET_CREDENTIALS) == 1
    [issued] = site.cognito.credentials_issued
    assert issued.authenticated and issued.role_arn == USERS_ROLE
    site.assert_no_secret_leaked(caplog)


async def test_guest_identity_is_linked_at_sign_in(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    async with site.browser() as browser:
        guest = (await browser.get("/creds")).json()
        await site.sign_in(browser, "alice")
        signed_in = await browser.get("/creds")
        assert signed_in.status_code == 200, signed_in.text
        [expired] = guest_cookie_headers(signed_in)
        assert "max-age=0" in expired.lower()
        again = await browser.get("/creds")

    assert signed_in.json()["identity_id"] == guest["identity_id"]
    assert site.cognito.identity_of("alice") == guest["identity_id"]
    assert again.json() == signed_in.json()
    assert site.calls("GetId") == 1, "only the guest's: the link needs none"
    assert site.calls(GET_CREDENTIALS) == 2
    assert [c.authenticated for c in site.cognito.credentials_issued] == [False, True]
    site.assert_no_secret_leaked(caplog)


class CopiesTheScope:
    """An inner middleware that hands the app a copy of the scope, as some do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(dict(scope), receive, send)


async def test_cookies_set_behind_a_scope_copy_reach_the_browser() -> None:
    # The state a handler changes is built after the copy, from the copy: the cookies it sets
    # (the guest's identity, then the session keeping the linked identity) must still go out.
    with serve_site(app=lambda: CopiesTheScope(starlette_app())) as site:
        async with site.browser() as browser:
            first = await browser.get("/creds")
            assert len(guest_cookie_headers(first)) == 1
            guest = first.json()["identity_id"]
            assert (await browser.get("/creds")).json()["identity_id"] == guest
            await site.sign_in(browser, "alice")
            assert (await browser.get("/")).status_code == 200  # the session, now remembered
            signed_in = await browser.get("/creds")
            assert signed_in.status_code == 200, signed_in.text
            [expired] = guest_cookie_headers(signed_in)
            assert "max-age=0" in expired.lower()
            saved = [v for v in signed_in.headers.get_list("set-cookie") if v != expired]
            assert saved, "the session, now holding the identity, is saved"
            again = await browser.get("/creds")
    assert signed_in.json()["identity_id"] == guest == again.json()["identity_id"]
    assert site.calls("GetId") == 1


async def test_guest_linked_into_an_existing_identity(site: Site) -> None:
    async with site.browser() as laptop:
        await site.sign_in(laptop, "alice")
        own = (await laptop.get("/creds")).json()["identity_id"]
    async with site.browser() as phone:
        guest = (await phone.get("/creds")).json()["identity_id"]
        await site.sign_in(phone, "alice")
        linked = (await phone.get("/creds")).json()["identity_id"]
    assert guest != own
    assert linked == own == site.cognito.identity_of("alice")


async def test_role_selection_allowed_and_refused(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    async with site.browser() as alice:
        await site.sign_in(alice, "alice")
        default = await alice.get("/creds")
        users = await alice.get("/creds", params={"role": USERS_ROLE})
        guarded = await alice.get("/admin")
        assert default.status_code == users.status_code == guarded.status_code == 200
        assert users.json()["role_arn"] == USERS_ROLE
    roles = [c.role_arn for c in site.cognito.credentials_issued]
    assert roles == [ADMIN_ROLE, USERS_ROLE, ADMIN_ROLE], "preferred role, then as asked"

    before = site.calls(GET_CREDENTIALS)
    async with site.browser() as bob:
        await site.sign_in(bob, "bob")
        refused = await bob.get("/creds", params={"role": ADMIN_ROLE})
        assert refused.status_code == 403
        assert refused.json()["error"] == "role_not_allowed"
        page = await bob.get("/admin", headers={"accept": "text/html"})
        assert page.status_code == 403 and "Access denied" in page.text
    assert site.calls(GET_CREDENTIALS) == before, "refused without calling AWS"
    site.assert_no_secret_leaked(caplog)


# Concurrency, throttling, expiry ------------------------------------------------------------


async def test_hundred_concurrent_requests_make_one_call(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, "alice")
        site.cognito.faults.latency(GET_CREDENTIALS, 0.3)
        responses = await asyncio.gather(*(browser.get("/creds") for _ in range(100)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert site.calls("GetId") == 1
    assert site.calls(GET_CREDENTIALS) == 1
    site.assert_no_secret_leaked(caplog)


async def test_throttling_is_retried_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serve_site(http_timeout=1.0) as site:
        async with site.browser() as browser:
            site.cognito.faults.throttle(GET_CREDENTIALS, times=3)
            recovered = await browser.get("/creds")
            assert recovered.status_code == 200, recovered.text
            assert site.calls(GET_CREDENTIALS) == 4

            site.cognito.faults.throttle(GET_CREDENTIALS, times=None)
            stranger_start = time.monotonic()
            async with site.browser() as stranger:
                unavailable = await stranger.get("/creds")
                elapsed = time.monotonic() - stranger_start
                assert unavailable.status_code == 503
                assert unavailable.headers["retry-after"] == "5"
                assert unavailable.json()["error"] == "aws_credentials_unavailable"
                assert elapsed < 5, "gave up within the deadline (twice http_timeout)"

                site.cognito.faults.clear()
                back = await stranger.get("/creds")
                assert back.status_code == 200
        site.assert_no_secret_leaked(caplog)


async def test_expired_id_token_is_refreshed_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The identity pool sees the ID token as expired while the app still thinks it is fresh
    # (its clock lags behind Cognito's, within the verifier's leeway).
    with serve_site(leeway=300) as site:
        async with site.browser() as browser:
            await site.sign_in(browser, "alice")
            site.clock.offset = 3500
            site.cognito.faults.clock_offset(3700)
            token_calls = site.calls("/oauth2/token")

            response = await browser.get("/creds")
            assert response.status_code == 200, response.text
            assert site.calls("/oauth2/token") == token_calls + 1, "one refresh"
            assert site.calls("GetId") == 2, "refused once, then accepted"
            again = await browser.get("/creds")
            assert again.json() == response.json()
            assert site.calls("/oauth2/token") == token_calls + 1
        site.assert_no_secret_leaked(caplog)


async def test_credentials_are_refreshed_before_they_expire(site: Site) -> None:
    async with site.browser() as browser:
        await site.sign_in(browser, "bob")
        first = (await browser.get("/creds")).json()
        site.clock.offset = 3600 - 14 * 60  # inside the 15-minute advisory window
        site.cognito.faults.clock_offset(site.clock.offset)
        second = (await browser.get("/creds")).json()
    assert second["access_key_id"] != first["access_key_id"]
    assert second["expiration"] > first["expiration"]
    assert site.calls(GET_CREDENTIALS) == 2


async def test_fastapi_dependency_end_to_end(caplog: pytest.LogCaptureFixture) -> None:
    with serve_site(app=fastapi_app) as site:
        async with site.browser() as browser:
            guest = await browser.get("/creds")
            assert guest.status_code == 200, guest.text
            assert guest_cookie_headers(guest)
            assert (await browser.get("/admin")).status_code == 401
            await site.sign_in(browser, "alice")
            admin = await browser.get("/admin")
            assert admin.status_code == 200, admin.text
            assert admin.json() == {
                "identity_id": guest.json()["identity_id"],
                "role_arn": ADMIN_ROLE,
            }
        async with site.browser() as bob:
            await site.sign_in(bob, "bob")
            refused = await bob.get("/admin")
            assert refused.status_code == 403
            assert "IAM role" in refused.json()["detail"]
        assert [c.role_arn for c in site.cognito.credentials_issued] == [GUEST_ROLE, ADMIN_ROLE]
        site.assert_no_secret_leaked(caplog)
