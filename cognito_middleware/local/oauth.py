"""OAuth 2.0 / OIDC endpoints: authorize, token, userInfo, revoke, discovery and JWKS."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .pages import error_page
from .pool import User
from .seed import ClientSeed, ProviderSeed
from .tokens import b64url, decode_jwt
from .triggers import TriggerError

if TYPE_CHECKING:
    from .app import LocalCognito

__all__ = ["AuthorizeRequest", "complete_sign_in", "error_redirect", "parse_authorize"]

SESSION_COOKIE = "cognito"
_JSON = "application/json;charset=UTF-8"
_NO_STORE = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
}
_REFUSED_MESSAGE = (
    "Access token is expired, disabled, or deleted, or the user has globally signed out."
)
_REFUSED_CHALLENGE = f'Bearer error="invalid_token", error_description="{_REFUSED_MESSAGE}"'


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=_JSON,
        headers=headers,
    )


def oauth_error(error: str, status: int = 400, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(body, status, _NO_STORE)


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def error_redirect(
    redirect_uri: str, error: str, description: str | None = None, state: str | None = None
) -> Response:
    """``302`` to the app's redirect URI with ``error`` (and ``error_description``, ``state``)."""
    params: list[tuple[str, str]] = []
    if description:
        params.append(("error_description", description))
    if state is not None:
        params.append(("state", state))
    params.append(("error", error))
    return RedirectResponse(_with_query(redirect_uri, params), status_code=302)


def error_page_redirect(error: str, client_id: str | None = None) -> Response:
    params = [("error", error)] + ([("client_id", client_id)] if client_id else [])
    return RedirectResponse(f"/error?{urlencode(params)}", status_code=302)


@dataclass
class AuthorizeRequest:
    """A validated ``/oauth2/authorize`` (or ``/login``) request."""

    client: ClientSeed
    redirect_uri: str
    response_type: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    identity_provider: str | None
    idp_identifier: str | None
    prompt: str | None
    params: dict[str, str]

    def error(self, error: str, description: str | None = None) -> Response:
        return error_redirect(self.redirect_uri, error, description, self.state)


def parse_authorize(cognito: LocalCognito, params: dict[str, str]) -> AuthorizeRequest | Response:
    """Validate authorize parameters as Cognito does: an error page for a bad client or
    redirect URI (nothing may be sent to an unverified URI), an error redirect otherwise."""
    pool = cognito.pool
    client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
    if not client_id or not redirect_uri:
        return error_page_redirect("Required parameters missing")
    client = pool.clients.get(client_id)
    if client is None:
        return error_page_redirect("invalid_request", client_id)
    if redirect_uri not in client.callback_urls:
        return error_page_redirect("redirect_mismatch", client_id)
    state = params.get("state")

    def fail(error: str, description: str | None = None) -> Response:
        return error_redirect(redirect_uri, error, description, state)

    response_type = params.get("response_type")
    if not response_type:
        return fail("invalid_request", "response_type is required")
    if response_type not in ("code", "token"):
        return fail("unsupported_response_type")
    flow = "code" if response_type == "code" else "implicit"
    if flow not in client.allowed_oauth_flows:
        return fail("unauthorized_client")
    method, challenge = params.get("code_challenge_method"), params.get("code_challenge")
    if (method or challenge) and (method != "S256" or not challenge):
        return fail("invalid_request", "code_challenge_method must be S256 with a code_challenge")
    scopes = pool.grant_scopes(client, params.get("scope"))
    if not scopes:
        return fail("invalid_scope")
    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        response_type=response_type,
        scopes=scopes,
        state=state,
        nonce=params.get("nonce"),
        code_challenge=challenge,
        identity_provider=params.get("identity_provider"),
        idp_identifier=params.get("idp_identifier"),
        prompt=params.get("prompt"),
        params=params,
    )


def complete_sign_in(
    cognito: LocalCognito,
    req: AuthorizeRequest,
    user: User,
    *,
    auth_time: int,
    session_id: str | None = None,
    include_state: bool = True,
    on_trigger_error: Callable[[TriggerError], Response] | None = None,
) -> Response:
    """Redirect back to the app with a code (or tokens for the implicit flow).

    The pre token generation trigger runs here (``TokenGeneration_HostedAuth``), as Cognito
    runs it when the hosted UI signs the user in; its failure ends the new hosted-UI session
    and is answered by ``on_trigger_error`` (default: an ``invalid_request`` redirect to the
    app). Blocks while the trigger runs: call from a worker thread.
    """
    pool = cognito.pool
    state = req.state if include_state else None
    try:
        overrides = pool.token_overrides(req.client, user, req.scopes, "TokenGeneration_HostedAuth")
    except TriggerError as exc:
        pool.end_session(session_id)
        if on_trigger_error is not None:
            return on_trigger_error(exc)
        return error_redirect(req.redirect_uri, "invalid_request", exc.message, state)
    if req.response_type == "token":
        body = pool.issue(
            client=req.client,
            user=user,
            scopes=req.scopes,
            nonce=req.nonce,
            auth_time=auth_time,
            with_refresh=False,
            overrides=overrides,
        )
        fragment = [(k, str(v)) for k, v in body.items()]
        if state is not None:
            fragment.append(("state", state))
        response: Response = RedirectResponse(f"{req.redirect_uri}#{urlencode(fragment)}", 302)
    else:
        code = pool.new_code(
            client_id=req.client.client_id,
            redirect_uri=req.redirect_uri,
            username=user.username,
            scopes=req.scopes,
            nonce=req.nonce,
            code_challenge=req.code_challenge,
            auth_time=auth_time,
            overrides=overrides,
        )
        params = [("code", code)] + ([("state", state)] if state is not None else [])
        response = RedirectResponse(_with_query(req.redirect_uri, params), status_code=302)
    if session_id is not None:
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=3600,
            path="/",
            httponly=True,
            secure=cognito.base_url.startswith("https:"),
            samesite="lax",
        )
    return response


def find_provider(cognito: LocalCognito, req: AuthorizeRequest) -> ProviderSeed | Response | None:
    """The federated provider the request names, ``None`` for the Cognito directory."""
    providers = cognito.pool.providers
    if req.identity_provider:
        if req.identity_provider == "COGNITO":
            return None
        provider = providers.get(req.identity_provider)
        if provider is None or provider.name not in req.client.identity_providers:
            return req.error(
                "invalid_request",
                f"{req.identity_provider} is not a valid identity provider for this client",
            )
        return provider
    if req.idp_identifier:
        wanted = req.idp_identifier.lower()
        for provider in providers.values():
            if provider.name in req.client.identity_providers and wanted in (
                i.lower() for i in provider.idp_identifiers
            ):
                return provider
        return req.error("invalid_request", "No identity provider matches the idp_identifier")
    return None


class OAuthEndpoints:
    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self.pool = cognito.pool

    def routes(self) -> list[Route]:
        pool_id = self.pool.pool_id
        return [
            Route("/oauth2/authorize", self.authorize, methods=["GET"]),
            Route("/oauth2/token", self.token, methods=["POST"]),
            Route("/oauth2/userInfo", self.userinfo, methods=["GET", "POST"]),
            Route("/oauth2/revoke", self.revoke, methods=["POST"]),
            Route(f"/{pool_id}/.well-known/openid-configuration", self.discovery),
            Route(f"/{pool_id}/.well-known/jwks.json", self.jwks),
        ]

    # /oauth2/authorize ---------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        req = parse_authorize(self.cognito, params)
        if isinstance(req, Response):
            return req
        provider = find_provider(self.cognito, req)
        if isinstance(provider, Response):
            return provider
        if provider is not None:
            return self.cognito.federation.start(req, provider)
        if "COGNITO" not in req.client.identity_providers and req.identity_provider:
            return req.error(
                "invalid_request", "COGNITO is not an identity provider of this client"
            )
        session = self.pool.session(request.cookies.get(SESSION_COOKIE))
        if req.prompt == "none" and session is None:
            return req.error("login_required")
        if session is not None and req.prompt != "login":
            user = self.pool.user(session.username)
            assert user is not None
            return await run_in_threadpool(
                complete_sign_in, self.cognito, req, user, auth_time=session.auth_time
            )
        return RedirectResponse(f"/login?{request.url.query}", status_code=302)

    # /oauth2/token -------------------------------------------------------------------------

    def _authenticate_client(
        self, request: Request, form: dict[str, str], status: int
    ) -> ClientSeed | Response:
        header = request.headers.get("authorization", "")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                basic_id, _, basic_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return oauth_error("invalid_client", status)
            basic_id, basic_secret = unquote(basic_id), unquote(basic_secret)
            if client_id and client_id != basic_id:
                return oauth_error("invalid_client", status)
            client_id, secret = basic_id, basic_secret
        client = self.pool.clients.get(client_id or "")
        if client is None:
            return oauth_error("invalid_client", status)
        if client.client_secret is not None and not (
            secret and secrets.compare_digest(secret.encode(), client.client_secret.encode())
        ):
            return oauth_error("invalid_client", status)
        return client

    async def token(self, request: Request) -> Response:
        injected = self.cognito.faults.next_token_error()
        if injected is not None:
            return oauth_error(injected[0], injected[1])
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client = self._authenticate_client(request, form, 400)
        if isinstance(client, Response):
            return client
        grant = form.get("grant_type")
        if not grant:
            return oauth_error("invalid_request")
        handler = {
            "authorization_code": self._code_grant,
            "refresh_token": self._refresh_grant,
            "client_credentials": self._client_credentials,
        }.get(grant)
        if handler is None:
            return oauth_error("unsupported_grant_type")
        # A grant may run a trigger, which may block or call the emulator back.
        return await run_in_threadpool(handler, client, form)

    def _code_grant(self, client: ClientSeed, form: dict[str, str]) -> Response:
        if "code" not in client.allowed_oauth_flows:
            return oauth_error("unauthorized_client")
        code, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code or not redirect_uri:
            return oauth_error("invalid_request")
        with self.pool.lock:
            record = self.pool.codes.get(code)
            if record is None or record.used or record.client_id != client.client_id:
                return oauth_error("invalid_grant")
            record.used = True
        self.pool.changed()
        if record.expires_at <= self.pool.now() or record.redirect_uri != redirect_uri:
            return oauth_error("invalid_grant")
        if record.code_challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error("invalid_request")
            digest = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not secrets.compare_digest(digest, record.code_challenge):
                return oauth_error("invalid_grant")
        user = self.pool.user(record.username)
        if user is None or not user.enabled:
            return oauth_error("invalid_grant")
        body = self.pool.issue(
            client=client,
            user=user,
            scopes=record.scopes,
            nonce=record.nonce,
            auth_time=record.auth_time,
            overrides=record.overrides,
        )
        return json_response(body, headers=_NO_STORE)

    def _refresh_grant(self, client: ClientSeed, form: dict[str, str]) -> Response:
        token = form.get("refresh_token")
        if not token:
            return oauth_error("invalid_request")
        with self.pool.lock:
            record = self.pool.refresh_tokens.get(token)
            if (
                record is None
                or record.client_id != client.client_id
                or not self.pool.refresh_usable(record, client)
            ):
                return oauth_error("invalid_grant")
            if client.refresh_token_rotation and record.rotated_at is None:
                record.rotated_at = self.pool.now()
        user = self.pool.user(record.username)
        if user is None or not user.enabled:
            return oauth_error("invalid_grant")
        try:
            overrides = self.pool.token_overrides(
                client, user, record.scopes, "TokenGeneration_RefreshTokens"
            )
        except TriggerError as exc:
            return oauth_error("invalid_request", description=exc.message)
        # A rotated refresh token expires with the one it replaces: Cognito counts the refresh
        # token validity from the user's sign-in ("the refresh token expires 30 days after your
        # application user signs into your user pool"), so rotation cannot extend a session.
        body = self.pool.issue(
            client=client,
            user=user,
            scopes=record.scopes,
            auth_time=record.auth_time,
            origin_jti=record.origin_jti,
            with_refresh=client.refresh_token_rotation,
            at_login=False,
            overrides=overrides,
            refresh_expires_at=record.expires_at,
        )
        return json_response(body, headers=_NO_STORE)

    def _client_credentials(self, client: ClientSeed, form: dict[str, str]) -> Response:
        if client.client_secret is None or "client_credentials" not in client.allowed_oauth_flows:
            return oauth_error("unauthorized_client")
        custom = [s for s in client.allowed_scopes if s in self.pool.resource_scopes]
        requested = form.get("scope")
        scopes = custom if requested is None else [s for s in requested.split() if s in custom]
        if not scopes:
            return oauth_error("invalid_scope")
        try:
            token = self.pool.client_credentials_token(client, tuple(scopes))
        except TriggerError as exc:
            return oauth_error("invalid_request", description=exc.message)
        return json_response(
            {
                "access_token": token,
                "expires_in": client.access_token_validity,
                "token_type": "Bearer",
            },
            headers=_NO_STORE,
        )

    # /oauth2/userInfo ----------------------------------------------------------------------

    def access_token_user(self, token: str) -> User | None:
        """The user of a valid, unrevoked access token (as Cognito's APIs check it)."""
        claims = decode_jwt(token, self.pool.keys)
        if claims is None or claims.get("token_use") != "access":
            return None
        if claims.get("iss") != self.cognito.issuer:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.pool.now():
            return None
        if claims.get("origin_jti") in self.pool.revoked_origins:
            return None
        user = self.pool.user(str(claims.get("username", "")))
        if user is None or not user.enabled or user.sub != claims.get("sub"):
            return None
        if "openid" not in str(claims.get("scope", "")).split():
            return None
        return user

    async def userinfo(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return json_response(
                {"error": "invalid_request", "error_description": "Access token is missing"},
                400,
                {"WWW-Authenticate": 'Bearer error="invalid_request"'},
            )
        user = self.access_token_user(header[7:].strip())
        if user is None:
            return json_response(
                {"error": "invalid_token", "error_description": _REFUSED_MESSAGE},
                401,
                {"WWW-Authenticate": _REFUSED_CHALLENGE},
            )
        body: dict[str, str] = {"sub": user.sub}
        if user.identities:
            body["identities"] = json.dumps(user.identities, separators=(",", ":"))
        body.update(user.attributes)
        body["username"] = user.username
        return json_response(body)

    # /oauth2/revoke ------------------------------------------------------------------------

    async def revoke(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client = self._authenticate_client(request, form, 401)
        if isinstance(client, Response):
            return client
        token = form.get("token")
        if not token:
            return oauth_error("invalid_request")
        if not client.enable_token_revocation:
            return oauth_error("invalid_request")
        if token.count(".") != 4:
            return oauth_error("unsupported_token_type")
        record = self.pool.refresh_tokens.get(token)
        if record is not None:
            if record.client_id != client.client_id:
                return oauth_error("invalid_request")
            self.pool.revoke_family(record.origin_jti)
        return Response(b"", status_code=200, headers=_NO_STORE)

    # Discovery -----------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        domain, issuer = self.cognito.domain, self.cognito.issuer
        return json_response(
            {
                "authorization_endpoint": f"{domain}/oauth2/authorize",
                "end_session_endpoint": f"{domain}/logout",
                "id_token_signing_alg_values_supported": ["RS256"],
                "issuer": issuer,
                "jwks_uri": self.cognito.jwks_url,
                "response_types_supported": ["code", "token"],
                "revocation_endpoint": f"{domain}/oauth2/revoke",
                "scopes_supported": ["openid", "email", "phone", "profile"],
                "subject_types_supported": ["public"],
                "token_endpoint": f"{domain}/oauth2/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "userinfo_endpoint": f"{domain}/oauth2/userInfo",
            }
        )

    async def jwks(self, request: Request) -> Response:
        if self.cognito.faults.jwks_down:
            return json_response({"message": "Service Unavailable"}, 503)
        return json_response(self.pool.keys.jwks())


def error_page_route(request: Request) -> Response:
    params = request.query_params
    return error_page(params.get("error", "invalid_request"), params.get("error_description", ""))
