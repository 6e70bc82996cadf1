"""Path rules, denial outcomes and the Starlette guard decorators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from personas import ActingAs, Persona, config_for, local_cognito
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from cognito_middleware._config import CognitoConfig, PathRule
from cognito_middleware._guards import (
    Decision,
    Outcome,
    PathRules,
    deny,
    login_required,
    login_url,
    requires_groups,
    requires_scopes,
    send_denial,
)
from cognito_middleware._user import AnonymousUser, CognitoUser
from cognito_middleware.exceptions import ConfigurationError

COGNITO = local_cognito()


def make_config(**overrides: Any) -> CognitoConfig:
    return config_for(COGNITO, **overrides)


def user(*groups: str, scopes: str = "", bearer: bool = False) -> CognitoUser:
    return CognitoUser.from_claims(
        {"sub": "u-1", "cognito:username": "alice", "cognito:groups": list(groups)},
        {"sub": "u-1", "client_id": "testclient", "scope": scopes},
        via_bearer=bearer,
    )


GUEST = AnonymousUser()
USERS = {
    "plain": user(),
    "staff": user("staff"),
    "admin": user("admins", "staff"),
    "reader": user(scopes="orders/read"),
    "writer": user(scopes="orders/read orders/write"),
}


PERSONAS = {
    "plain": Persona("alice"),
    "staff": Persona("alice", groups=("staff",)),
    "admin": Persona("alice", groups=("admins", "staff")),
    "reader": Persona("alice", scopes=("orders/read",)),
    "writer": Persona("alice", scopes=("orders/read", "orders/write")),
}


def acting_as(app: ASGIApp, config: CognitoConfig) -> ActingAs:
    """``app`` behind the middleware; requests name their user in ``X-Test-User``."""
    return ActingAs(app, config, COGNITO, PERSONAS)


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def rules_app(config: CognitoConfig) -> ActingAs:
    app = Starlette(
        routes=[
            WebSocketRoute("/ws/{path:path}", ws_echo),
            Route("/{path:path}", ok, methods=["GET", "POST"]),
        ]
    )
    return acting_as(app, config)


def guests_by_rules(config: CognitoConfig) -> ASGIApp:
    """The path rules alone, for a guest: what the middleware decides before the app runs."""
    rules = PathRules.from_config(config)
    app = Starlette(
        routes=[
            WebSocketRoute("/ws/{path:path}", ws_echo),
            Route("/{path:path}", ok, methods=["GET", "POST"]),
        ]
    )

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        decision = rules.evaluate(scope["path"], GUEST)
        if decision.allowed:
            await app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send_denial(scope, receive, send, decision)
        else:
            await deny(scope, decision, config=config)(scope, receive, send)

    return guarded


def http_client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def websocket(
    app: ASGIApp, path: str, headers: dict[str, str] | None = None
) -> list[Message]:
    """Open a websocket on ``app`` and return every message the app sent."""
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "subprotocols": [],
    }
    incoming: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml"}
API = {"Accept": "application/json"}
FETCH = {"Sec-Fetch-Mode": "cors", "Accept": "*/*"}


def next_of(response: httpx.Response) -> str:
    location = urlsplit(response.headers["location"])
    return parse_qs(location.query)["next"][0]


# Path rules ----------------------------------------------------------------------------------


def test_prefix_matches_on_segment_boundaries() -> None:
    rules = PathRules(protected=(PathRule(prefix="/admin"),))
    for path in ("/admin", "/admin/", "/admin/users", "/admin/users/7/edit"):
        assert rules.evaluate(path, GUEST).outcome is Outcome.LOGIN_REQUIRED, path
    for path in ("/administrator", "/admins", "/adminx/y", "/", "/other/admin"):
        assert rules.evaluate(path, GUEST).allowed, path


def test_trailing_slash_in_configured_prefix_is_ignored() -> None:
    rules = PathRules(protected=(PathRule(prefix="/admin/"),))
    assert not rules.evaluate("/admin", GUEST).allowed
    assert rules.evaluate("/administrator", GUEST).allowed


def test_longest_prefix_decides() -> None:
    rules = PathRules(
        public_paths=("/api/docs",),
        protected=(
            PathRule(prefix="/api"),
            PathRule(prefix="/api/admin", groups=("admins",)),
            PathRule(prefix="/api/admin/status", allow_guests=True),
        ),
    )
    assert rules.evaluate("/api/docs/index", GUEST).allowed
    assert rules.evaluate("/api/orders", GUEST).outcome is Outcome.LOGIN_REQUIRED
    assert rules.evaluate("/api/orders", USERS["plain"]).allowed
    assert rules.evaluate("/api/admin/users", USERS["staff"]).outcome is Outcome.FORBIDDEN
    assert rules.evaluate("/api/admin/users", USERS["admin"]).allowed
    assert rules.evaluate("/api/admin/status", GUEST).allowed


def test_plain_paths_are_the_ones_needing_nothing_or_only_a_sign_in() -> None:
    # The middleware allows these without evaluating; anything else must never be in them.
    rules = PathRules(
        public_paths=("/api/docs",),
        protected=(PathRule(prefix="/api"), PathRule(prefix="/api/admin", groups=("admins",))),
    )
    paths = (
        "/api/docs",
        "/api/orders",
        "/api/admin/users",
        "/api//admin/x",
        "/api/a%2Fb",
        "/api/./admin",
        "/home",
    )
    for path in paths:
        for who in (GUEST, USERS["plain"], USERS["admin"]):
            rules.evaluate(path, who)
    assert rules.plain == {"/api/docs": True, "/api/orders": False, "/home": True}


def test_default_deny_requires_sign_in_outside_public_paths() -> None:
    rules = PathRules(
        public_paths=("/", "/health", "/static"),
        protected=(PathRule(prefix="/guest-book", allow_guests=True),),
        default_deny=True,
    )
    assert rules.evaluate("/anything", GUEST).outcome is Outcome.LOGIN_REQUIRED
    assert rules.evaluate("/anything", USERS["plain"]).allowed
    for path in ("/", "/health", "/static/app.css", "/guest-book/sign"):
        assert rules.evaluate(path, GUEST).allowed, path


def test_public_root_covers_only_the_home_page() -> None:
    rules = PathRules(public_paths=("/",), default_deny=True)
    assert rules.evaluate("/", GUEST).allowed
    assert not rules.evaluate("/private", GUEST).allowed


def test_protected_root_rule_covers_everything() -> None:
    rules = PathRules(protected=(PathRule(prefix="/", groups=("staff",)),), public_paths=("/up",))
    assert rules.evaluate("/", GUEST).outcome is Outcome.LOGIN_REQUIRED
    assert rules.evaluate("/x/y", USERS["plain"]).outcome is Outcome.FORBIDDEN
    assert rules.evaluate("/x/y", USERS["staff"]).allowed
    assert rules.evaluate("/up", GUEST).allowed


def test_open_by_default_without_default_deny() -> None:
    rules = PathRules(protected=(PathRule(prefix="/admin"),))
    assert rules.evaluate("/", GUEST).allowed
    assert rules.evaluate("/blog/post", GUEST).allowed


def test_auth_prefix_is_always_public() -> None:
    rules = PathRules(
        protected=(PathRule(prefix="/", groups=("staff",)), PathRule(prefix="/auth/x")),
        default_deny=True,
        auth_prefix="/auth",
    )
    for path in ("/auth", "/auth/login", "/auth/x/y"):
        assert rules.evaluate(path, GUEST).allowed, path
    assert not rules.evaluate("/authx", GUEST).allowed


def test_auth_prefix_comes_from_config() -> None:
    rules = PathRules.from_config(make_config(auth_prefix="/account", default_deny=True))
    assert rules.evaluate("/account/login", GUEST).allowed
    assert not rules.evaluate("/auth/login", GUEST).allowed


def test_groups_any_and_all() -> None:
    rules = PathRules(
        protected=(
            PathRule(prefix="/any", groups=("admins", "staff")),
            PathRule(prefix="/all", groups=("admins", "staff"), all_groups=True),
        )
    )
    assert rules.evaluate("/any", USERS["staff"]).allowed
    assert rules.evaluate("/all", USERS["admin"]).allowed
    refused = rules.evaluate("/all", USERS["staff"])
    assert refused.outcome is Outcome.FORBIDDEN
    assert refused.missing_groups == ("admins",)
    assert "admins" in refused.reason
    refused = rules.evaluate("/any", USERS["plain"])
    assert refused.missing_groups == ("admins", "staff")
    assert "one of the groups" in refused.reason


def test_in_group_uses_the_same_spelling_as_the_rules() -> None:
    staff = USERS["staff"]
    assert staff.in_group("admins", "staff")
    assert not staff.in_group("admins", "staff", all_groups=True)
    assert USERS["admin"].in_group("admins", "staff", all_groups=True)
    assert not AnonymousUser().in_group("staff")


def test_scopes_are_all_required() -> None:
    rules = PathRules(
        protected=(PathRule(prefix="/orders", scopes=("orders/read", "orders/write")),)
    )
    assert rules.evaluate("/orders", USERS["writer"]).allowed
    refused = rules.evaluate("/orders", USERS["reader"])
    assert refused.outcome is Outcome.FORBIDDEN
    assert refused.missing_scopes == ("orders/write",)
    assert "orders/write" in refused.reason
    assert rules.evaluate("/orders", GUEST).outcome is Outcome.LOGIN_REQUIRED


@pytest.mark.parametrize(
    "path",
    ["//admin", "/admin//x", "/./admin", "/public/../admin", "/public/%2e%2e/../admin/x"],
)
def test_odd_segments_cannot_slip_past_a_rule(path: str) -> None:
    rules = PathRules(public_paths=("/public",), protected=(PathRule(prefix="/admin"),))
    assert not rules.evaluate(path, GUEST).allowed


def test_odd_segments_must_pass_both_readings() -> None:
    rules = PathRules(public_paths=("/public",), default_deny=True)
    assert not rules.evaluate("/admin/../public", GUEST).allowed
    assert rules.evaluate("/public/./css", GUEST).allowed
    assert rules.evaluate("/public/a/../b", GUEST).allowed


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"protected": (PathRule(prefix="admin"),)}, "protected"),
        ({"protected": (PathRule(prefix="/a//b"),)}, "protected"),
        ({"protected": (PathRule(prefix="/a/../b"),)}, "protected"),
        ({"protected": (PathRule(prefix="/a?x=1"),)}, "protected"),
        ({"protected": (PathRule(prefix="/a"), PathRule(prefix="/a/"))}, "protected"),
        ({"protected": (PathRule(prefix="/a", groups=("g",), allow_guests=True),)}, "protected"),
        ({"protected": (PathRule(prefix="/a"),), "public_paths": ("/a",)}, "public_paths"),
        ({"public_paths": ("static",)}, "public_paths"),
    ],
)
def test_bad_rules_are_refused_at_startup(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        PathRules(**kwargs)
    assert info.value.setting == setting


def test_group_given_as_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match="separate"):
        PathRules(protected=(PathRule(prefix="/a", groups=(["x", "y"],)),))  # type: ignore[arg-type]


def test_many_rules_decide_by_the_longest_prefix() -> None:
    # How long an evaluation takes with many rules is measured in benchmarks/scale.py.
    rules = PathRules(
        public_paths=tuple(f"/public{i}" for i in range(50)),
        protected=tuple(PathRule(prefix=f"/area{i}", groups=("g",)) for i in range(200)),
        default_deny=True,
    )
    for _ in range(2):  # the prefix walk, then the path remembered
        assert rules.evaluate("/area150/a/b/c/d", user("g")).allowed
        assert rules.evaluate("/area150/a/b/c/d", user("other")).outcome is Outcome.FORBIDDEN
        assert rules.evaluate("/area1500/a", user("other")).allowed
        assert rules.evaluate("/public49/x", GUEST).allowed
        assert rules.evaluate("/area1500/a", GUEST).outcome is Outcome.LOGIN_REQUIRED


# Outcomes through the path rules -------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    config = make_config(
        protected=(
            PathRule(prefix="/admin", groups=("admins",)),
            PathRule(prefix="/orders", scopes=("orders/write",)),
            PathRule(prefix="/ws/private"),
        ),
        public_paths=("/", "/public"),
        default_deny=True,
    )
    async with http_client(rules_app(config)) as test_client:
        yield test_client


async def test_browser_navigation_is_redirected_to_login_with_next(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/admin/users?page=2&sort=name", headers=NAVIGATE)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=")
    assert next_of(response) == "/admin/users?page=2&sort=name"
    assert response.headers["cache-control"] == "no-store"


async def test_accept_html_without_fetch_metadata_counts_as_navigation(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/private", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert next_of(response) == "/private"


async def test_next_keeps_encoded_characters_and_never_starts_with_two_slashes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/caf%C3%A9/a%20b?q=a%26b", headers=NAVIGATE)
    assert next_of(response) == "/caf%C3%A9/a%20b?q=a%26b"
    scope: Scope = {"type": "http", "path": "//evil.example/x", "query_string": b"a=1"}
    assert login_url(scope, make_config()) == "/auth/login?next=%2Fevil.example%2Fx%3Fa%3D1"


async def test_api_request_gets_401_json_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/private", headers=API)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "login_required"


async def test_fetch_and_xhr_get_401_even_when_accepting_html(client: httpx.AsyncClient) -> None:
    assert (await client.get("/private", headers=FETCH)).status_code == 401
    xhr = {"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}
    assert (await client.get("/private", headers=xhr)).status_code == 401


async def test_bearer_request_gets_401_not_a_redirect() -> None:
    # The middleware answers a Bearer token it refuses itself; a refusal that reaches the
    # guards with a Bearer header is for an API client all the same.
    headers = {**NAVIGATE, "Authorization": "Bearer not-a-user"}
    async with http_client(guests_by_rules(make_config(default_deny=True))) as client:
        response = await client.get("/private", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


async def test_unauthenticated_post_is_never_answered_with_307(client: httpx.AsyncClient) -> None:
    form = await client.post("/private", headers=NAVIGATE, data={"a": "1"})
    assert form.status_code == 303
    api = await client.post("/private", headers=API, json={"a": 1})
    assert api.status_code == 401


async def test_signed_in_without_group_gets_403_page_in_a_browser(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/admin", headers={**NAVIGATE, "X-Test-User": "staff"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Access denied" in response.text
    assert "admins" in response.text


async def test_signed_in_without_group_gets_403_json_from_an_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin", headers={**API, "X-Test-User": "staff"})
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert "admins" in body["detail"]
    assert "www-authenticate" not in response.headers


async def test_missing_scope_on_bearer_request_names_the_scope(client: httpx.AsyncClient) -> None:
    headers = {**API, "X-Test-User": "reader", "Authorization": "Bearer t"}
    response = await client.get("/orders/7", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders/write"'
    )


async def test_allowed_users_and_public_paths_pass(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/x", headers={"X-Test-User": "admin"})).text == "ok"
    assert (await client.get("/orders", headers={"X-Test-User": "writer"})).text == "ok"
    assert (await client.get("/", headers=NAVIGATE)).text == "ok"
    assert (await client.get("/public/page", headers=NAVIGATE)).text == "ok"
    # The middleware answers its own routes; for the rules, they are public.
    rules_only = guests_by_rules(make_config(default_deny=True, public_paths=("/",)))
    async with http_client(rules_only) as client:
        assert (await client.get("/auth/anything", headers=NAVIGATE)).text == "ok"


async def test_websocket_refused_by_path_rules_is_closed_with_1008() -> None:
    config = make_config(default_deny=True)
    sent = await websocket(guests_by_rules(config), "/ws/private/x")
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "login_required"}]
    app = rules_app(config)
    sent = await websocket(app, "/ws/private/x", {"X-Test-User": "plain"})
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "hello"


async def test_login_redirect_never_answers_401_page_to_browsers() -> None:
    config = make_config(default_deny=True, login_redirect="never")
    async with http_client(rules_app(config)) as client:
        response = await client.get("/x?y=1", headers=NAVIGATE)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "/auth/login?next=%2Fx%3Fy%3D1" in response.text


async def test_login_redirect_always_redirects_apis_but_not_bearer_clients() -> None:
    config = make_config(default_deny=True, login_redirect="always")
    async with http_client(rules_app(config)) as client:
        assert (await client.get("/x", headers=API)).status_code == 303
        bearer = await client.get("/x", headers={**API, "Authorization": "Bearer t"})
        assert bearer.status_code == 401


async def test_custom_auth_prefix_is_used_for_the_login_redirect() -> None:
    config = make_config(default_deny=True, auth_prefix="/account")
    async with http_client(rules_app(config)) as client:
        response = await client.get("/x", headers=NAVIGATE)
    assert response.headers["location"] == "/account/login?next=%2Fx"


def test_deny_refuses_an_allow_decision_and_needs_config() -> None:
    scope: Scope = {"type": "http", "path": "/", "headers": [], "query_string": b""}
    with pytest.raises(ValueError, match="ALLOW"):
        deny(scope, Decision(Outcome.ALLOW))
    with pytest.raises(RuntimeError, match="CognitoAuthMiddleware is not installed"):
        deny(scope, Decision(Outcome.LOGIN_REQUIRED))
    response = deny(scope, Decision(Outcome.LOGIN_REQUIRED), config=make_config())
    assert response.status_code == 401


# Decorators ----------------------------------------------------------------------------------


@login_required
async def members(request: Request) -> Response:
    return PlainTextResponse(f"hi {request.user.username}")


@login_required
def members_sync(request: Request) -> Response:
    return PlainTextResponse("sync ok")


@requires_groups("admins", "staff")
async def any_group(request: Request) -> Response:
    return PlainTextResponse("any ok")


@requires_groups("admins", "staff", all_groups=True)
async def all_groups(request: Request) -> Response:
    return PlainTextResponse("all ok")


@requires_scopes("orders/read", "orders/write")
async def write_orders(request: Request) -> Response:
    return PlainTextResponse("scopes ok")


class Dashboard(HTTPEndpoint):
    @requires_groups("staff")
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("dashboard")

    @login_required
    def post(self, request: Request) -> Response:
        return PlainTextResponse("posted")


@requires_groups("admins")
async def admin_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close()


@pytest.fixture
def decorated_app() -> ActingAs:
    app = Starlette(
        routes=[
            Route("/members", members, methods=["GET", "POST"]),
            Route("/members-sync", members_sync),
            Route("/any", any_group),
            Route("/all", all_groups),
            Route("/orders", write_orders),
            Route("/dashboard", Dashboard),
            WebSocketRoute("/ws", admin_socket),
        ]
    )
    return acting_as(app, make_config())


@pytest.fixture
async def decorated(decorated_app: ActingAs) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(decorated_app) as test_client:
        yield test_client


async def test_login_required_redirects_navigations_and_401s_apis(
    decorated: httpx.AsyncClient,
) -> None:
    response = await decorated.get("/members?tab=1", headers=NAVIGATE)
    assert response.status_code == 303
    assert next_of(response) == "/members?tab=1"
    response = await decorated.get("/members", headers=API)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await decorated.get("/members", headers={"X-Test-User": "plain"})).text == "hi alice"


async def test_decorated_post_is_answered_with_303_or_401(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.post("/members", headers=NAVIGATE, data={"a": "1"})).status_code == 303
    assert (await decorated.post("/members", headers=API, json={})).status_code == 401


async def test_login_required_on_sync_endpoint(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.get("/members-sync", headers=API)).status_code == 401
    assert (
        await decorated.get("/members-sync", headers={"X-Test-User": "plain"})
    ).text == "sync ok"


async def test_requires_groups_any(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.get("/any", headers={"X-Test-User": "staff"})).text == "any ok"
    response = await decorated.get("/any", headers={**API, "X-Test-User": "plain"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert (await decorated.get("/any", headers=NAVIGATE)).status_code == 303


async def test_requires_groups_all(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.get("/all", headers={"X-Test-User": "admin"})).text == "all ok"
    response = await decorated.get("/all", headers={**NAVIGATE, "X-Test-User": "staff"})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]


async def test_requires_scopes(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.get("/orders", headers={"X-Test-User": "writer"})).text == "scopes ok"
    response = await decorated.get(
        "/orders", headers={**API, "X-Test-User": "reader", "Authorization": "Bearer t"}
    )
    assert response.status_code == 403
    assert 'scope="orders/write"' in response.headers["www-authenticate"]
    assert (await decorated.get("/orders", headers=API)).status_code == 401


async def test_http_endpoint_methods(decorated: httpx.AsyncClient) -> None:
    assert (await decorated.get("/dashboard", headers={"X-Test-User": "staff"})).text == "dashboard"
    assert (
        await decorated.get("/dashboard", headers={**API, "X-Test-User": "plain"})
    ).status_code == 403
    assert (await decorated.post("/dashboard", headers=NAVIGATE)).status_code == 303
    assert (await decorated.post("/dashboard", headers={"X-Test-User": "plain"})).text == "posted"


async def test_websocket_endpoint_closed_with_1008(decorated_app: ActingAs) -> None:
    for headers, reason in (({}, "login_required"), ({"X-Test-User": "staff"}, "forbidden")):
        sent = await websocket(decorated_app, "/ws", headers)
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": reason}]
    sent = await websocket(decorated_app, "/ws", {"X-Test-User": "admin"})
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1]["text"] == "welcome"


def test_decorators_keep_the_endpoint_identity() -> None:
    assert members.__name__ == "members"
    assert members.__wrapped__ is not None  # type: ignore[attr-defined]


async def test_decorator_without_middleware_fails_clearly() -> None:
    app = Starlette(routes=[Route("/members", members)])
    async with http_client(app) as client:
        with pytest.raises(RuntimeError, match="CognitoAuthMiddleware is not installed"):
            await client.get("/members")


async def test_decorator_needs_a_connection_argument() -> None:
    @login_required
    async def not_an_endpoint(value: int) -> int:
        return value

    with pytest.raises(TypeError, match="Request or WebSocket"):
        await not_an_endpoint(1)


def test_decorator_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="at least one group"):
        requires_groups()
    with pytest.raises(TypeError, match="separate"):
        requires_groups(["admins", "staff"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one scope"):
        requires_scopes()
    with pytest.raises(TypeError, match="parentheses"):
        requires_groups(ok)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="decorate its methods"):
        login_required(HTTPEndpoint)


def test_reasons_name_what_is_missing() -> None:
    def forbidden(**kwargs: Any) -> str:
        return Decision(Outcome.FORBIDDEN, **kwargs).reason

    assert forbidden(missing_groups=("admins",)) == "missing group: admins"
    assert forbidden(missing_groups=("a", "b")) == "requires one of the groups: a, b"
    assert forbidden(missing_groups=("a", "b"), all_groups=True) == "missing groups: a, b"
    assert forbidden(missing_scopes=("x", "y")) == "missing scopes: x y"
    assert Decision(Outcome.LOGIN_REQUIRED).reason == "sign-in required"


# With the real middleware --------------------------------------------------------------------


async def test_the_middleware_applies_rules_and_decorators_for_guests() -> None:
    from cognito_middleware._middleware import CognitoAuthMiddleware

    config = make_config(
        protected=(PathRule(prefix="/admin", groups=("admins",)),),
        public_paths=("/",),
        default_deny=True,
    )
    inner = Starlette(
        routes=[
            Route("/members", members),
            WebSocketRoute("/ws/{path:path}", ws_echo),
            Route("/{path:path}", ok),
        ]
    )
    middleware = CognitoAuthMiddleware(inner, config=config)
    try:
        async with http_client(middleware) as client:
            response = await client.get("/admin/x?a=1", headers=NAVIGATE)
            assert response.status_code == 303
            assert next_of(response) == "/admin/x?a=1"
            response = await client.get("/admin", headers=API)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert (await client.get("/", headers=NAVIGATE)).text == "ok"
            assert (await client.get("/other", headers=API)).status_code == 401
        sent = await websocket(middleware, "/ws/x")
        assert sent[0]["type"] == "websocket.close"
        assert sent[0]["code"] == 1008
    finally:
        await middleware.aclose()

    open_config = make_config()
    middleware = CognitoAuthMiddleware(inner, config=open_config)
    try:
        async with http_client(middleware) as client:
            response = await client.get("/members", headers=NAVIGATE)
            assert response.status_code == 303
            assert next_of(response) == "/members"
            assert (await client.get("/open", headers=API)).text == "ok"
    finally:
        await middleware.aclose()
