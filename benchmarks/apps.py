"""The apps being measured: the bare floor, the same app behind ``CognitoAuthMiddleware``, and
the two stacks a team would otherwise assemble from Starlette and pyjwt.

Every variant serves the same three routes with the same tiny JSON endpoint, so that the
difference between two variants is the authentication layer and nothing else:

* ``/`` public;
* ``/api/data`` needs a signed-in user or a valid Bearer token;
* ``/guest`` public; behind the middleware it fetches the visitor's (cached) AWS credentials.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cognito_middleware import CognitoConfig, PathRule
from cognito_middleware._credentials.helpers import get_aws_credentials
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.sessions import SessionStore

__all__ = [
    "CountingTransport",
    "JWTKeys",
    "PyJWTDecode",
    "bare_app",
    "bearer_dependency_app",
    "cognito_app",
    "cognito_config",
    "passthrough_app",
    "session_jwt_app",
    "session_jwt_cookie",
]

PROTECTED = "/api/data"
PUBLIC = "/"
GUEST = "/guest"
SESSION_SECRET_FOR_STARLETTE = "starlette-session-secret-for-the-benchmark-0123456789"


async def hello(request: Request) -> Response:
    return JSONResponse({"message": "hello"})


async def guest_credentials(request: Request) -> Response:
    creds = await get_aws_credentials(request)
    return JSONResponse({"message": "hello", "identity": creds.identity_id})


def bare_app() -> Starlette:
    """The physical floor: a tiny Starlette app, three routes, one small JSON response."""
    return Starlette(routes=[Route(PUBLIC, hello), Route(PROTECTED, hello), Route(GUEST, hello)])


class PassThrough:
    """The least any pure-ASGI authentication middleware does: read the request headers, wrap
    ``send`` to be able to add a ``Set-Cookie``, call the app. It authenticates nothing; its
    cost is the floor under every middleware of this kind."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = authorization = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookie = value
            elif key == b"authorization":
                authorization = value
        scope["passthrough"] = (cookie, authorization)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and cookie is None:
                message.setdefault("headers", [])
            await send(message)

        await self.app(scope, receive, send_wrapper)


def passthrough_app() -> PassThrough:
    """The bare app behind :class:`PassThrough`."""
    return PassThrough(bare_app())


def cognito_config(env: Mapping[str, str]) -> CognitoConfig:
    """The configuration every middleware instance of the benchmark uses."""
    return CognitoConfig.from_env(env, protected=(PathRule(prefix="/api"),))


class CountingTransport(httpx.AsyncBaseTransport):
    """The middleware's outbound transport; counts every request it sends."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def cognito_app(
    config: CognitoConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    session_store: SessionStore | None = None,
) -> CognitoAuthMiddleware:
    """The same routes behind ``CognitoAuthMiddleware``; ``/guest`` fetches AWS credentials."""
    inner = Starlette(
        routes=[Route(PUBLIC, hello), Route(PROTECTED, hello), Route(GUEST, guest_credentials)]
    )
    return CognitoAuthMiddleware(
        inner, config=config, transport=transport, session_store=session_store
    )


# The stacks a team would otherwise assemble ---------------------------------------------------


class JWTKeys:
    """Verification of Cognito tokens with pyjwt, keys fetched once from the pool's JWKS (what
    a ``PyJWKClient`` holds after its first fetch), so that no network call is measured."""

    def __init__(self, jwks: Mapping[str, Any], *, issuer: str, client_id: str) -> None:
        self.keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks["keys"]}
        self.issuer = issuer
        self.client_id = client_id

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        key = self.keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("unknown kid")
        return key

    def id_token(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key(token),
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub"]},
        )
        if claims.get("token_use") != "id":
            raise jwt.InvalidTokenError("not an ID token")
        return claims

    def access_token(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key(token),
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub"]},
        )
        if claims.get("token_use") != "access" or claims.get("client_id") != self.client_id:
            raise jwt.InvalidTokenError("not an access token of this client")
        return claims


class PyJWTDecode:
    """Not an app: pyjwt's own ``jwt.decode`` of one access token (``scope["token"]``) with a
    prepared key (``scope["key"]``, the RSA public key object of the token's JWK, looked up
    beforehand), RS256, pyjwt's default claim checks (``exp``, ``iat``, ``nbf``; access tokens
    carry no ``aud``). It has the shape of an ASGI app only so that the harness alternates it
    with the apps; that shape costs well under a microsecond, against tens of microseconds for
    an RSA verification."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        jwt.decode(scope["token"], scope["key"], algorithms=["RS256"])
        await send(_DECODED)

    @staticmethod
    def scope(keys: JWTKeys, token: str) -> Scope:
        """What a call decodes: ``token`` and its key, prepared."""
        return {"token": token, "key": keys.keys[jwt.get_unverified_header(token)["kid"]]}


_DECODED: Message = {"type": "http.response.start", "status": 200, "headers": []}


class SessionJWTBackend(AuthenticationBackend):
    """Bearer access token, else the ID token kept in Starlette's session, verified with pyjwt
    on every request."""

    def __init__(self, keys: JWTKeys) -> None:
        self.keys = keys

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        authorization = conn.headers.get("authorization")
        try:
            if authorization and authorization[:7].lower() == "bearer ":
                claims = self.keys.access_token(authorization[7:].strip())
                scopes = str(claims.get("scope", "")).split()
                return AuthCredentials(["authenticated", *scopes]), SimpleUser(claims["username"])
            token = conn.session.get("id_token")
            if not token:
                return None
            claims = self.keys.id_token(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("invalid token") from exc
        return AuthCredentials(["authenticated"]), SimpleUser(claims["cognito:username"])


def session_jwt_app(keys: JWTKeys) -> Starlette:
    """Starlette ``SessionMiddleware`` + ``AuthenticationMiddleware`` with a backend that
    verifies the Cognito ID token kept in the session (or a Bearer token) with pyjwt."""
    return Starlette(
        routes=[
            Route(PUBLIC, hello),
            Route(PROTECTED, requires("authenticated", status_code=401)(hello)),
            Route(GUEST, hello),
        ],
        middleware=[
            Middleware(SessionMiddleware, secret_key=SESSION_SECRET_FOR_STARLETTE),
            Middleware(AuthenticationMiddleware, backend=SessionJWTBackend(keys)),
        ],
    )


def session_jwt_cookie(tokens: Mapping[str, str]) -> str:
    """The ``session`` cookie value Starlette's ``SessionMiddleware`` writes for ``tokens``."""
    from itsdangerous import TimestampSigner

    data = base64.b64encode(json.dumps(dict(tokens)).encode("utf-8"))
    return TimestampSigner(SESSION_SECRET_FOR_STARLETTE).sign(data).decode("utf-8")


def bearer_dependency_app(keys: JWTKeys) -> Starlette:
    """A per-request pyjwt Bearer verification on the protected route, the way
    fastapi-cloudauth-style dependencies work (no memo, no session)."""

    def current_claims(request: Request) -> dict[str, Any] | None:
        authorization = request.headers.get("authorization")
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        try:
            return keys.access_token(authorization[7:].strip())
        except jwt.PyJWTError:
            return None

    async def protected(request: Request) -> Response:
        if current_claims(request) is None:
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        return JSONResponse({"message": "hello"})

    return Starlette(
        routes=[Route(PUBLIC, hello), Route(PROTECTED, protected), Route(GUEST, hello)]
    )
