"""Requests that act as named test users through the real middleware.

A request names a persona in ``X-Test-User``; it reaches the app through
``CognitoAuthMiddleware`` carrying that user's session cookie, or, when it sends
``Authorization: Bearer t``, that user's access token. The tokens come from an in-process
local Cognito, which also serves the middleware's JWKS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from cognito_middleware import CognitoAuthMiddleware, CognitoConfig
from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.keys import SigningKey
from cognito_middleware.testing import bearer_token, signed_in

APP_URL = "http://localhost:8000"
_KEYS: list[tuple[SigningKey, SigningKey]] = []


@dataclass(frozen=True)
class Persona:
    username: str
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


def local_cognito() -> LocalCognito:
    """A demo-seeded local Cognito, in process (its keys are made once per test run)."""
    if not _KEYS:
        _KEYS.append((SigningKey.generate(), SigningKey.generate()))
    return LocalCognito(demo_seed(app_url=APP_URL), signing_keys=_KEYS[0])


def config_for(cognito: LocalCognito, **overrides: Any) -> CognitoConfig:
    """The configuration of an app using ``cognito`` (without its identity pool)."""
    env = cognito.env(app_url=APP_URL)
    env.pop("COGNITO_IDENTITY_POOL_ID", None)
    env.pop("COGNITO_IDENTITY_ENDPOINT", None)
    if "auth_prefix" in overrides:
        overrides.setdefault("redirect_uri", f"{APP_URL}{overrides['auth_prefix']}/callback")
    return CognitoConfig.from_env(env, **overrides)


class ActingAs:
    """``app`` behind the real middleware, for requests that name their user."""

    def __init__(
        self,
        app: ASGIApp,
        config: CognitoConfig,
        cognito: LocalCognito,
        personas: Mapping[str, Persona],
    ) -> None:
        self.cognito = cognito
        self.config = config
        self.personas = personas
        self.middleware = CognitoAuthMiddleware(
            app, config=config, transport=httpx.ASGITransport(app=cognito.app)
        )
        self._cookies: dict[str, bytes] = {}
        self._tokens: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def _cookie(self, name: str) -> bytes:
        if name not in self._cookies:
            persona = self.personas[name]
            session = await signed_in(
                self.cognito,
                self.config,
                persona.username,
                groups=persona.groups,
                scopes=persona.scopes or None,
            )
            self._cookies[name] = session.cookie_header.encode("latin-1")
        return self._cookies[name]

    def _token(self, name: str) -> bytes:
        if name not in self._tokens:
            persona = self.personas[name]
            token = bearer_token(
                self.cognito,
                persona.username,
                groups=persona.groups,
                scopes=persona.scopes or ("openid",),
            )
            self._tokens[name] = f"Bearer {token}".encode("latin-1")
        return self._tokens[name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"x-test-user"]
            name = dict(scope["headers"]).get(b"x-test-user", b"").decode()
            if name in self.personas:
                async with self._lock:
                    if (b"authorization", b"Bearer t") in headers:
                        value = self._token(name)
                        headers = [(k, value if k == b"authorization" else v) for k, v in headers]
                    else:
                        headers.append((b"cookie", await self._cookie(name)))
            scope = {**scope, "headers": headers}
        await self.middleware(scope, receive, send)
