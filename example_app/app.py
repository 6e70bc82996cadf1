"""The demo application: every capability of cognito-middleware on a few small pages.

Guards are shown in their three styles:

- path rules in the configuration (:data:`DEMO_RULES`): ``/profile`` needs a signed-in user,
  ``/admin`` the group ``admin``; browsers are sent to sign in, signed-in users without the group
  get a 403 page;
- FastAPI dependencies: ``/api/me`` (401 JSON for anonymous callers) and ``/api/aws/identity``
  (identity-pool credentials for guests and users alike);
- a Starlette decorator on a plain Starlette route: ``/starlette/whoami``.

AWS secret keys and session tokens are never rendered: pages and JSON show only the identity id,
the access key id, the role and the expiry.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.authentication import BaseUser
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse as StarletteJSONResponse

from cognito_middleware import (
    AWSCredentials,
    CognitoAuthMiddleware,
    CognitoConfig,
    CognitoUser,
    PathRule,
    credentials_error_response,
    get_aws_credentials,
    login_required,
)
from cognito_middleware.exceptions import CognitoError
from cognito_middleware.fastapi import CurrentUser, install_exception_handler

__all__ = ["DEMO_RULES", "DemoUser", "create_app", "demo_config"]

DEMO_RULES: tuple[PathRule, ...] = (
    PathRule(prefix="/profile"),
    PathRule(prefix="/admin", groups=("admin",)),
)
"""The demo's path rules; :func:`demo_config` adds them to the configuration."""

_PROVIDER_LABELS = {"AzureAD": "Azure AD"}


@dataclass(frozen=True)
class DemoUser:
    """A sign-in offered on the home page when running against the local Cognito."""

    username: str
    password: str
    description: str = ""
    provider: str | None = None
    """``None`` for a user of the user pool, else the federated provider it signs in with."""


def demo_config(environ: Mapping[str, str] | None = None, **overrides: Any) -> CognitoConfig:
    """The demo's configuration: ``COGNITO_*`` variables plus :data:`DEMO_RULES`.

    ``environ`` defaults to ``os.environ``; for the local Cognito pass ``cognito.env(...)``.
    """
    overrides.setdefault("protected", DEMO_RULES)
    return CognitoConfig.from_env(environ, **overrides)


def create_app(config: CognitoConfig, *, demo_users: Sequence[DemoUser] | None = None) -> FastAPI:
    """Build the demo app around ``config`` (see :func:`demo_config` for its path rules).

    ``demo_users`` are listed, with their passwords, on the home page: only pass them for
    the local Cognito.
    """
    app = FastAPI(title="cognito-middleware demo", docs_url="/api/docs", redoc_url=None)
    pages = _Pages(config, tuple(demo_users or ()))

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return pages.home(request)

    @app.get("/guest", response_class=HTMLResponse)
    async def guest(request: Request) -> HTMLResponse:
        return await pages.guest(request)

    @app.get("/profile", response_class=HTMLResponse)
    async def profile(request: Request, user: CurrentUser) -> HTMLResponse:
        return pages.profile(request, user)

    @app.get("/admin", response_class=HTMLResponse)
    async def admin(request: Request, user: CurrentUser) -> HTMLResponse:
        return pages.admin(request, user)

    @app.get("/api/me")
    async def api_me(user: CurrentUser) -> dict[str, Any]:
        return _user_json(user)

    @app.get("/api/aws/identity")
    async def api_aws_identity(request: Request) -> Response:
        """The identity and the public parts of its AWS credentials. ``role`` is ``null`` when
        the identity pool chose its default role for this kind of identity."""
        if config.identity_pool_id is None:
            return JSONResponse(
                {"error": "not_configured", "message": "No identity pool is configured."},
                status_code=404,
            )
        try:
            creds = await _credentials(request)
        except CognitoError as exc:
            return credentials_error_response(request.scope, exc)
        return JSONResponse(_credentials_json(creds, request.user))

    app.add_route("/starlette/whoami", whoami, methods=["GET"])
    # Refusals by the dependencies then look exactly like those of the path rules.
    install_exception_handler(app)
    app.add_middleware(CognitoAuthMiddleware, config=config)
    return app


@login_required
async def whoami(request: StarletteRequest) -> StarletteJSONResponse:
    """A plain Starlette endpoint guarded by a decorator instead of a dependency."""
    user = request.user
    return StarletteJSONResponse({"username": user.username, "groups": list(user.groups)})


def _user_json(user: CognitoUser) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "groups": list(user.groups),
        "roles": list(user.roles),
        "preferred_role": user.preferred_role,
        "scopes": sorted(user.scopes),
        "identity_provider": user.identity_provider,
        "provider_type": user.provider_type,
        "via_bearer": user.via_bearer,
    }


async def _credentials(request: Request) -> AWSCredentials:
    # The identity pool does not say which role it chose, so a user's preferred role (the role
    # of their group of lowest precedence) is asked for explicitly: then the role is known.
    return await get_aws_credentials(request, role_arn=request.user.preferred_role)


def _role(creds: AWSCredentials, user: BaseUser) -> str:
    if creds.role_arn:
        return creds.role_arn
    if user.is_authenticated:
        return "the identity pool's authenticated role"
    return "the identity pool's unauthenticated role"


def _credentials_json(creds: AWSCredentials, user: BaseUser) -> dict[str, Any]:
    # Deliberately neither the secret key nor the session token: they never leave the server.
    return {
        "identity_id": creds.identity_id,
        "access_key_id": creds.access_key_id,
        "expiration": _iso(creds.expiration),
        "role": creds.role_arn,
        "authenticated": user.is_authenticated,
    }


def _iso(epoch: float) -> str:
    when = datetime.fromtimestamp(epoch, UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;
background:#f5f7fa}
header{background:#1d2330;color:#fff;padding:.75rem 1.5rem;display:flex;
align-items:center;gap:1.5rem;flex-wrap:wrap}
header a{color:#cfe0ff;text-decoration:none}header a:hover{text-decoration:underline}
header .brand{font-weight:600;color:#fff}header nav{display:flex;gap:1rem;flex:1;
flex-wrap:wrap}header .who{display:flex;gap:1rem;white-space:nowrap}
header form{display:inline;margin:0}
main{max-width:52rem;margin:2rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin-top:0}
.card{background:#fff;border:1px solid #dde3ec;border-radius:8px;padding:1.25rem 1.5rem;
margin-bottom:1.25rem}
.button,button{display:inline-block;padding:.55rem 1.1rem;border-radius:6px;border:0;
font:inherit;cursor:pointer;text-decoration:none;background:#0b5fff;color:#fff}
.button.secondary{background:#fff;color:#0b5fff;border:1px solid #0b5fff}
button.link{background:none;color:#cfe0ff;padding:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eef1f5;vertical-align:top}
th{width:12rem;color:#55607a;font-weight:500}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.muted{color:#55607a}.error{color:#b00020}
.badge{display:inline-block;background:#e8efff;color:#0b3fa8;border-radius:999px;
padding:.1rem .6rem;margin-right:.3rem;font-size:.85em}
"""


class _Pages:
    """The HTML pages. Every dynamic value goes through ``html.escape``."""

    def __init__(self, config: CognitoConfig, demo_users: tuple[DemoUser, ...]) -> None:
        self._config = config
        self._demo_users = demo_users
        self._auth = config.auth_prefix

    def login_url(self, next_path: str, provider: str | None = None) -> str:
        query = {"next": next_path} | ({"provider": provider} if provider else {})
        return f"{self._auth}/login?{urlencode(query)}"

    def render(
        self, request: Request, title: str, body: str, *, status_code: int = 200
    ) -> HTMLResponse:
        user = request.user
        if user.is_authenticated:
            who = (
                f'<span>Signed in as <strong id="current-user">{_e(user.username)}</strong></span>'
                f'<form method="post" action="{_e(self._auth)}/logout">'
                '<button class="link" id="sign-out" type="submit">Sign out</button></form>'
            )
        else:
            next_path = request.url.path if request.url.path != "/" else "/profile"
            who = f'<a id="nav-sign-in" href="{_e(self.login_url(next_path))}">Sign in</a>'
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)} · cognito-middleware demo</title><style>{_STYLE}</style>"
            '</head><body><header><a class="brand" href="/">cognito-middleware demo</a><nav>'
            '<a href="/guest">Guest</a><a href="/profile">Profile</a><a href="/admin">Admin</a>'
            '<a href="/api/me">/api/me</a><a href="/api/aws/identity">/api/aws/identity</a>'
            f'<a href="/starlette/whoami">/starlette/whoami</a></nav><div class="who">{who}</div>'
            "</header>"
            f"<main><h1>{_e(title)}</h1>{body}</main></body></html>"
        )
        # Pages show per-user data: never let a shared cache keep them.
        return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})

    def home(self, request: Request) -> HTMLResponse:
        user = request.user
        if user.is_authenticated:
            intro = (
                f'<p id="signed-in-as">You are signed in as <strong>{_e(user.username)}</strong>.'
                ' See your <a href="/profile">profile</a>.</p>'
            )
        else:
            intro = '<p id="signed-in-as">You are browsing as a guest.</p>'
        buttons = [
            f'<a class="button" id="sign-in" href="{_e(self.login_url("/profile"))}">Sign in</a>'
        ]
        for provider in self._config.allowed_providers:
            label = _PROVIDER_LABELS.get(provider, provider)
            buttons.append(
                f'<a class="button secondary" id="sign-in-{_e(provider.lower())}" '
                f'href="{_e(self.login_url("/profile", provider))}">Sign in with {_e(label)}</a>'
            )
        body = [
            '<div class="card">',
            intro,
            "<p>This app is an AWS Cognito relying party: sign in through the hosted UI or a "
            "federated provider, browse as a guest with identity-pool credentials, and call the "
            "JSON APIs with the session cookie or a Bearer token.</p>",
            f"<p>{' '.join(buttons)}</p>",
            "</div>",
        ]
        if self._demo_users:
            rows = "".join(
                f'<tr><td><code class="demo-username">{_e(a.username)}</code></td>'
                f"<td><code>{_e(a.password)}</code></td>"
                f"<td>{_e(a.provider or 'Cognito user pool')}</td><td>{_e(a.description)}</td>"
                "</tr>"
                for a in self._demo_users
            )
            body.append(
                '<div class="card" id="demo-users"><h2>Demo users (local Cognito)</h2>'
                "<table><tr><th>username</th><th>password</th><th>signs in with</th><th></th></tr>"
                f"{rows}</table></div>"
            )
        body.append(
            '<div class="card"><h2>Pages</h2><ul>'
            '<li><a href="/guest">Guest page</a>: open to everyone, with AWS credentials</li>'
            '<li><a href="/profile">Profile</a>: sign-in required</li>'
            '<li><a href="/admin">Admin</a>: group <code>admin</code> required</li>'
            '<li><a href="/api/me">/api/me</a> and <a href="/api/aws/identity">'
            "/api/aws/identity</a>: JSON</li></ul></div>"
        )
        return self.render(request, "Welcome", "".join(body))

    async def guest(self, request: Request) -> HTMLResponse:
        user = request.user
        who = (
            f"signed in as <strong>{_e(user.username)}</strong> (authenticated role)"
            if user.is_authenticated
            else "a guest (unauthenticated role)"
        )
        parts = [
            '<div class="card"><p>This page is open to everyone. You are '
            f'<span id="visitor">{who}</span>. The server holds temporary AWS credentials for '
            "you from the identity pool; only their public parts are shown here.</p></div>"
        ]
        if self._config.identity_pool_id is None:
            parts.append(
                '<div class="card"><p id="no-identity-pool">No identity pool is configured '
                "(set <code>COGNITO_IDENTITY_POOL_ID</code>).</p></div>"
            )
            return self.render(request, "Guest page", "".join(parts))
        try:
            creds = await _credentials(request)
        except CognitoError as exc:
            parts.append(
                '<div class="card"><p class="error" id="credentials-error">Could not get AWS '
                f"credentials: {_e(type(exc).__name__)}.</p></div>"
            )
            return self.render(request, "Guest page", "".join(parts), status_code=503)
        parts.append(
            '<div class="card"><table>'
            f'<tr><th>Identity id</th><td><code id="identity-id">{_e(creds.identity_id)}</code>'
            "</td></tr>"
            f'<tr><th>Role</th><td><code id="role">{_e(_role(creds, user))}</code></td></tr>'
            f'<tr><th>Access key id</th><td><code id="access-key-id">{_e(creds.access_key_id)}'
            "</code></td></tr>"
            f'<tr><th>Expires</th><td><code id="expiration">{_e(_iso(creds.expiration))}</code>'
            "</td></tr></table></div>"
        )
        return self.render(request, "Guest page", "".join(parts))

    def profile(self, request: Request, user: CognitoUser) -> HTMLResponse:
        provider = user.identity_provider or "Cognito"
        rows = [
            ("Username", "username", user.username),
            ("Email", "email", user.email or ""),
            ("Subject", "sub", user.sub),
            ("Provider", "provider", provider),
            ("Provider type", "provider-type", user.provider_type or "user pool"),
            ("Preferred role", "preferred-role", user.preferred_role or ""),
        ]
        table = "".join(
            f'<tr><th>{_e(label)}</th><td><code id="{ident}">{_e(value)}</code></td></tr>'
            for label, ident, value in rows
        )
        groups = "".join(f'<span class="badge">{_e(g)}</span>' for g in user.groups) or (
            '<span class="muted">none</span>'
        )
        body = (
            f'<div class="card"><table>{table}'
            f'<tr><th>Groups</th><td id="groups">{groups}</td></tr></table></div>'
            '<div class="card"><h2>ID token claims</h2>'
            f'<table id="claims">{_claims_rows(user.claims.items())}</table></div>'
        )
        return self.render(request, "Your profile", body)

    def admin(self, request: Request, user: CognitoUser) -> HTMLResponse:
        body = (
            '<div class="card" id="admin-panel"><p>Welcome to the admin area, '
            f"<strong>{_e(user.username)}</strong>. Only members of the group "
            "<code>admin</code> reach this page: the path rule for <code>/admin</code> "
            "refuses everyone else before the app runs.</p></div>"
        )
        return self.render(request, "Admin", body)


def _claims_rows(claims: Iterable[tuple[str, Any]]) -> str:
    rows = []
    for name, value in sorted(claims):
        shown = value if isinstance(value, str) else json.dumps(value)
        rows.append(f"<tr><th><code>{_e(name)}</code></th><td><code>{_e(shown)}</code></td></tr>")
    return "".join(rows)
