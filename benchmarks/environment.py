"""The world the benchmarks run in: a local Cognito served over HTTP, a middleware configured
for it, and real credentials obtained the way a browser and an API client obtain them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from cognito_middleware import CognitoConfig
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.seed import DEMO_PASSWORD
from cognito_middleware.sessions._base import SessionData
from cognito_middleware.testing import sign_in

from .apps import CountingTransport, JWTKeys, cognito_app, cognito_config
from .harness import HOST, apply_set_cookies, call, make_scope

__all__ = ["APP_URL", "Environment", "running_environment"]

APP_URL = f"http://{HOST}"
API_SCOPES = ("demo-api/read",)


@dataclass
class Environment:
    """Everything a benchmark needs; built by :func:`running_environment`."""

    cognito: LocalCognito
    env: dict[str, str]
    config: CognitoConfig
    transport: CountingTransport
    middleware: CognitoAuthMiddleware
    jwks: dict[str, Any] = field(default_factory=dict)

    def network_calls(self) -> int:
        """Requests the local Cognito has answered so far, from any process."""
        return sum(v for k, v in self.cognito.calls.items() if k.startswith("/"))

    def keys(self) -> JWTKeys:
        return JWTKeys(self.jwks, issuer=self.config.issuer_url, client_id=self.config.client_id)

    async def fetch_jwks(self) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(self.config.jwks_url)
            response.raise_for_status()
            self.jwks = response.json()

    async def sign_in(self, username: str = "alice") -> dict[str, str]:
        """Sign ``username`` in through the hosted UI and the middleware's callback, as a
        browser does; returns the cookies the browser then holds for the app."""
        async with httpx.AsyncClient(
            base_url=self.cognito.base_url,
            mounts={APP_URL: httpx.ASGITransport(app=self.middleware)},
            follow_redirects=False,
        ) as browser:
            start = await browser.get(f"{APP_URL}/auth/login?next=/")
            if start.status_code != 302:
                raise RuntimeError(f"sign-in did not start: {start.status_code}")
            back = await sign_in(browser, start.headers["location"], username, DEMO_PASSWORD)
            location = back.headers.get("location", "")
            if not location.startswith(f"{APP_URL}/auth/callback?"):
                raise RuntimeError(f"sign-in failed for {username}: {back.status_code}")
            done = await browser.get(location)
            if done.status_code != 303:
                raise RuntimeError(f"callback refused: {done.status_code} {done.text[:200]}")
            jar: dict[str, str] = {}
            apply_set_cookies(jar, done.headers.get_list("set-cookie"))
            return jar

    async def session_of(self, cookies: dict[str, str]) -> SessionData:
        session = await self.middleware.session_store.load(cookies)
        if session is None:
            raise RuntimeError("the sign-in produced no session")
        return session

    async def guest_cookies(self) -> dict[str, str]:
        """A guest's cookie jar after its first visit to a page that fetched credentials."""
        jar: dict[str, str] = {}
        first = await call(self.middleware, make_scope("/guest"))
        if first.status != 200:
            raise RuntimeError(f"guest credentials failed: {first.status}")
        apply_set_cookies(jar, first.set_cookies)
        return jar

    def mint_access_tokens(self, count: int, scopes: tuple[str, ...] = API_SCOPES) -> list[str]:
        """``count`` distinct access tokens, signed by the pool as its token endpoint would."""
        return [
            self.cognito.mint_tokens("bob", scopes=scopes)["access_token"] for _ in range(count)
        ]


@contextlib.contextmanager
def running_environment() -> Iterator[Environment]:
    """A served local Cognito and a middleware talking to it over real HTTP."""
    cognito = LocalCognito(demo_seed(app_url=APP_URL))
    with cognito.serve():
        env = cognito.env(app_url=APP_URL)
        config = cognito_config(env)
        transport = CountingTransport()
        middleware = cognito_app(config, transport=transport)
        yield Environment(cognito, env, config, transport, middleware)
