"""FastAPI dependencies: outcomes, websockets and the OpenAPI security schemes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from personas import ActingAs, Persona, config_for, local_cognito
from starlette.types import ASGIApp, Message, Scope

from cognito_middleware import AWSCredentials
from cognito_middleware._user import CognitoUser
from cognito_middleware.fastapi import (
    AccessDenied,
    CurrentUser,
    OptionalUser,
    aws_credentials_dependency,
    current_user,
    install_exception_handler,
    require_groups,
    require_scopes,
)

COGNITO = local_cognito()
CONFIG = config_for(COGNITO)
PERSONAS = {
    "plain": Persona("alice"),
    "staff": Persona("alice", groups=("staff",)),
    "admin": Persona("alice", groups=("admins", "staff")),
    "reader": Persona("alice", scopes=("orders/read",)),
    "writer": Persona("alice", scopes=("orders/read", "orders/write")),
}
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}
API = {"Accept": "application/json"}


def acting_as(app: ASGIApp) -> ActingAs:
    """``app`` behind the middleware; requests name their user in ``X-Test-User``."""
    return ActingAs(app, CONFIG, COGNITO, PERSONAS)


def build_app(*, handler: bool = True) -> FastAPI:
    app = FastAPI()
    if handler:
        install_exception_handler(app)

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"user": user.username if user else None}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str | None]:
        return {"email": user.email}

    @app.post("/me")
    async def update_me(user: Annotated[CognitoUser, Depends(current_user)]) -> dict[str, str]:
        return {"updated": user.username}

    @app.get("/any")
    async def any_group(
        user: Annotated[CognitoUser, Depends(require_groups("admins", "staff"))],
    ) -> dict[str, str]:
        return {"groups": ",".join(user.groups)}

    @app.get("/all", dependencies=[Depends(require_groups("admins", "staff", all_groups=True))])
    async def all_groups() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/orders", dependencies=[Depends(require_scopes("orders/read", "orders/write"))])
    async def orders() -> dict[str, bool]:
        return {"ok": True}

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, user: CurrentUser) -> None:
        await websocket.accept()
        await websocket.send_text(f"hi {user.username}")
        await websocket.close()

    return app


@pytest.fixture
def app() -> ActingAs:
    return acting_as(build_app())


@pytest.fixture
async def client(app: ActingAs) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def websocket(app: ASGIApp, path: str, headers: dict[str, str]) -> list[Message]:
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
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
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


# Outcomes ------------------------------------------------------------------------------------


async def test_current_user_is_returned(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={"X-Test-User": "plain"})
    assert response.json() == {"email": "alice@example.com"}


async def test_guest_api_request_gets_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=API)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "login_required"


async def test_guest_navigation_is_redirected_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/me?tab=keys", headers=NAVIGATE)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["/me?tab=keys"]


async def test_guest_post_gets_303_or_401_never_307(client: httpx.AsyncClient) -> None:
    assert (await client.post("/me", headers=NAVIGATE, data={"a": "1"})).status_code == 303
    assert (await client.post("/me", headers=API, json={})).status_code == 401


async def test_optional_user(client: httpx.AsyncClient) -> None:
    assert (await client.get("/maybe")).json() == {"user": None}
    assert (await client.get("/maybe", headers={"X-Test-User": "plain"})).json() == {
        "user": "alice"
    }


async def test_require_groups_any(client: httpx.AsyncClient) -> None:
    response = await client.get("/any", headers={"X-Test-User": "staff"})
    assert response.json() == {"groups": "staff"}
    response = await client.get("/any", headers={**API, "X-Test-User": "plain"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert (await client.get("/any", headers=API)).status_code == 401


async def test_require_groups_all_with_403_page_for_browsers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/all", headers={"X-Test-User": "admin"})).json() == {"ok": True}
    response = await client.get("/all", headers={**NAVIGATE, "X-Test-User": "staff"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Access denied" in response.text
    response = await client.get("/all", headers={**API, "X-Test-User": "staff"})
    assert "admins" in response.json()["detail"]


async def test_require_scopes(client: httpx.AsyncClient) -> None:
    ok = await client.post("/orders", headers={"X-Test-User": "writer"})
    assert ok.json() == {"ok": True}
    headers = {**API, "X-Test-User": "reader", "Authorization": "Bearer t"}
    response = await client.post("/orders", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="orders/write"'
    )


async def test_without_the_handler_status_and_headers_are_the_same() -> None:
    transport = httpx.ASGITransport(app=acting_as(build_app(handler=False)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/me?x=1", headers=NAVIGATE)
        assert response.status_code == 303
        assert response.headers["location"] == "/auth/login?next=%2Fme%3Fx%3D1"
        response = await client.get("/me", headers=API)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"detail": "Sign in to continue."}
        response = await client.get("/all", headers={"X-Test-User": "staff"})
        assert response.status_code == 403
        assert "admins" in response.json()["detail"]


async def test_access_denied_carries_the_decision() -> None:
    seen: list[AccessDenied] = []
    app = FastAPI()

    @app.exception_handler(AccessDenied)
    async def record(request: Any, exc: AccessDenied) -> Any:
        seen.append(exc)
        return exc.response

    app.get("/x", dependencies=[Depends(require_groups("admins"))])(lambda: {})
    transport = httpx.ASGITransport(app=acting_as(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
        await other.get("/x", headers={"X-Test-User": "plain"})
    assert seen[0].decision.missing_groups == ("admins",)
    assert seen[0].status_code == 403


async def test_websocket_guest_is_closed_with_1008(app: ActingAs) -> None:
    sent = await websocket(app, "/ws", {})
    assert sent[0]["type"] == "websocket.close"
    assert sent[0]["code"] == 1008
    sent = await websocket(app, "/ws", {"X-Test-User": "plain"})
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1]["text"] == "hi alice"


async def test_without_middleware_the_error_says_so() -> None:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="CognitoAuthMiddleware is not installed"):
            await client.get("/me")


def test_dependency_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="at least one group"):
        require_groups()
    with pytest.raises(TypeError, match="separate"):
        require_groups(["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one scope"):
        require_scopes()


# OpenAPI -------------------------------------------------------------------------------------


def test_openapi_declares_the_security_schemes() -> None:
    schema = build_app().openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["CognitoBearer"]["type"] == "http"
    assert schemes["CognitoBearer"]["scheme"] == "bearer"
    assert schemes["CognitoBearer"]["bearerFormat"] == "JWT"
    assert schemes["CognitoSession"]["type"] == "apiKey"
    assert schemes["CognitoSession"]["in"] == "cookie"


def test_openapi_marks_guarded_routes_only() -> None:
    paths = build_app().openapi()["paths"]
    assert paths["/me"]["get"]["security"] == [{"CognitoBearer": []}, {"CognitoSession": []}]
    assert paths["/me"]["post"]["security"] == [{"CognitoBearer": []}, {"CognitoSession": []}]
    assert paths["/any"]["get"]["security"] == [
        {"CognitoBearer": ["admins", "staff"]},
        {"CognitoSession": ["admins", "staff"]},
    ]
    assert paths["/orders"]["post"]["security"][0] == {
        "CognitoBearer": ["orders/read", "orders/write"]
    }
    assert "security" not in paths["/open"]["get"]
    assert "security" not in paths["/maybe"]["get"]


def test_openapi_shows_no_parameters_for_the_schemes() -> None:
    operation = build_app().openapi()["paths"]["/me"]["get"]
    assert "parameters" not in operation


def test_the_core_does_not_import_fastapi() -> None:
    code = (
        "import sys, cognito_middleware, cognito_middleware._guards; "
        "assert 'fastapi' not in sys.modules, 'fastapi imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Identity pool -------------------------------------------------------------------------------

EDITOR = "arn:aws:iam::111122223333:role/editor"


def credentials_app() -> FastAPI:
    app = FastAPI()

    @app.get("/guest-photos")
    async def guest_photos(
        creds: Annotated[AWSCredentials, Depends(aws_credentials_dependency())],
    ) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/edit")
    async def edit(
        creds: Annotated[AWSCredentials, Depends(aws_credentials_dependency(EDITOR))],
    ) -> dict[str, bool]:
        return {"ok": True}

    return app


def test_credentials_dependency_is_documented_only_when_it_guards() -> None:
    paths = credentials_app().openapi()["paths"]
    assert "security" not in paths["/guest-photos"]["get"]
    assert paths["/edit"]["get"]["security"] == [
        {"CognitoBearer": [EDITOR]},
        {"CognitoSession": [EDITOR]},
    ]


async def test_credentials_dependency_refuses_guests_when_it_guards() -> None:
    transport = httpx.ASGITransport(app=acting_as(credentials_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/edit", headers=API)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        response = await client.get("/edit", headers=NAVIGATE)
        assert response.status_code == 303
