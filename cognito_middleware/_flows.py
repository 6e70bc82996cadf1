"""The routes under the auth prefix: ``/login``, ``/callback``, ``/logout``.

Sign-in is the authorization code flow with PKCE through Cognito's hosted UI. Each sign-in
attempt keeps its ``state``, ``nonce``, PKCE verifier and ``next`` path in its own sealed,
ten-minute cookie named after the state, so several tabs can sign in at once and a callback is
only accepted by the browser that started it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from starlette.datastructures import URL, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ._cache import BoundedMap
from ._config import CognitoConfig
from ._cookies import cookie_name, expire_cookie, set_cookie
from ._events import AuthEvent, AuthHooks
from ._oauth import OAuthClient, PKCEPair
from ._refresh import session_expiry
from ._refusal import Refusal, render
from ._seal import Sealer
from ._tokens import TokenVerifier
from ._user import CognitoUser
from .exceptions import (
    CognitoUnavailableError,
    InvalidGrantError,
    SessionTooLargeError,
    TokenEndpointError,
    TokenError,
)
from .sessions._base import SessionData, SessionStore

__all__ = ["AuthFlows", "safe_next"]

logger = logging.getLogger("cognito_middleware")

LOGIN_TTL = 600
_MAX_NEXT = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IDP_IDENTIFIER = re.compile(r"^[A-Za-z0-9.\-_@]{1,128}$")
_PROMPTS = frozenset({"login", "none", "select_account", "consent"})
_USED_MAX = 10_000
_CALLBACK_HEADERS = (("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a same-origin relative path, else ``None``.

    Refuses ``//host``, ``/\\host``, schemes (``https:``, ``javascript:``), percent-encoded
    slashes or backslashes that a browser or a later decoding step would turn into another
    origin, and control characters.
    """
    if not value or len(value) > _MAX_NEXT:
        return None
    decoded = value
    for _ in range(3):  # nested encodings (%252F) must not survive either
        if _CONTROL.search(decoded) or "\\" in decoded:
            return None
        if not decoded.startswith("/") or decoded.startswith("//"):
            return None
        parts = urlsplit(decoded)
        if parts.scheme or parts.netloc:
            return None
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return None
    return value


@dataclass(frozen=True)
class _LoginTx:
    state: str
    nonce: str
    verifier: str
    next: str
    created: float


class AuthFlows:
    """Answers the requests under ``config.auth_prefix``."""

    def __init__(
        self,
        *,
        config: CognitoConfig,
        oauth: OAuthClient,
        verifier: TokenVerifier,
        store: SessionStore,
        hooks: AuthHooks,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._oauth = oauth
        self._verifier = verifier
        self._store = store
        self._hooks = hooks
        self._clock = clock
        self._sealer = Sealer(config.session_secrets, "login-transaction")
        self._secure = config.cookies_secure
        self._tx_prefix = cookie_name(f"{config.cookie_name}_login_", secure=self._secure)
        self._used: BoundedMap[str, bool] = BoundedMap(_USED_MAX, clock=clock)
        prefix = config.auth_prefix
        self._routes = {
            f"{prefix}/login": (self.login, ("GET", "HEAD")),
            f"{prefix}/callback": (self.callback, ("GET",)),
            f"{prefix}/logout": (self.logout, ("GET", "POST")),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"])
        if route is None:
            response = render(
                scope,
                Refusal(status=404, error="not_found", message="There is no such page."),
                config=self._config,
            )
        elif scope["method"] not in route[1]:
            refusal = Refusal(
                status=405,
                error="method_not_allowed",
                message="This method is not allowed here.",
                headers=(("Allow", ", ".join(route[1])),),
            )
            response = render(scope, refusal, config=self._config)
        else:
            response = await route[0](Request(scope, receive))
        await response(scope, receive, send)

    # /login -----------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """Redirect to the hosted UI with a fresh state, nonce and PKCE challenge."""
        params = request.query_params
        if _has_duplicates(params, ("next", "provider", "idp_identifier", "prompt")):
            return self._bad_request(request, "Repeated sign-in parameters.")
        raw_next = params.get("next")
        next_path = safe_next(raw_next) if raw_next is not None else self._config.after_login_path
        if next_path is None:
            return self._bad_request(
                request, "The page to return to after sign-in must be a path on this site."
            )
        query: dict[str, str] = {}
        provider = params.get("provider")
        if provider is not None:
            if provider not in self._config.allowed_providers:
                return self._bad_request(
                    request, "This sign-in provider is not offered by this site."
                )
            query["identity_provider"] = provider
        idp_identifier = params.get("idp_identifier")
        if idp_identifier is not None:
            if not _IDP_IDENTIFIER.match(idp_identifier):
                return self._bad_request(request, "The organisation identifier is not valid.")
            query["idp_identifier"] = idp_identifier
        prompt = params.get("prompt")
        if prompt is not None:
            if prompt not in _PROMPTS:
                return self._bad_request(request, "Unknown prompt value.")
            query["prompt"] = prompt
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        pkce = PKCEPair.generate()
        tx = {"s": state, "n": nonce, "v": pkce.verifier, "x": next_path, "t": self._clock()}
        name = self._tx_cookie(state)
        sealed = self._sealer.seal(json.dumps(tx).encode(), name.encode())
        url = (
            self._config.authorize_url
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": self._config.client_id,
                    "redirect_uri": self._config.redirect_uri,
                    "scope": " ".join(self._config.scopes),
                    "state": state,
                    "nonce": nonce,
                    "code_challenge": pkce.challenge,
                    "code_challenge_method": "S256",
                    **query,
                }
            )
        )
        response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
        response.headers.append(
            "set-cookie", set_cookie(name, sealed, secure=self._secure, max_age=LOGIN_TTL)
        )
        return response

    # /callback --------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        """Check the state, exchange the code, verify the tokens, start a new session."""
        params = request.query_params
        if _has_duplicates(params, ("code", "state", "error", "error_description")):
            return self._callback_error(
                request, 400, "Repeated parameters in the sign-in response."
            )
        state, code = params.get("state"), params.get("code")
        tx_cookies: list[str] = []
        tx: _LoginTx | None = None
        if state is not None:
            name = self._tx_cookie(state)
            tx_cookies.append(expire_cookie(name, secure=self._secure))
            tx = self._open_tx(request.cookies.get(name), name, state)
        error = params.get("error")
        if error is not None:
            return await self._provider_error(request, error, params, tx, tx_cookies)
        if state is None:
            if code is not None and self._config.idp_initiated_providers:
                return await self._finish(request, code, None, None, tx_cookies)
            return self._callback_error(
                request, 400, "The sign-in response has no state.", cookies=tx_cookies
            )
        if tx is None:
            return self._callback_error(
                request,
                400,
                "This sign-in has expired, was already used, or was started in another browser.",
                cookies=tx_cookies,
            )
        if not code:
            return self._callback_error(
                request, 400, "The sign-in response has no code.", cookies=tx_cookies
            )
        return await self._finish(request, code, tx, tx.next, tx_cookies)

    def _open_tx(self, sealed: str | None, name: str, state: str) -> _LoginTx | None:
        if not sealed:
            return None
        raw = self._sealer.open(sealed, name.encode())
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            tx = _LoginTx(
                state=str(data["s"]),
                nonce=str(data["n"]),
                verifier=str(data["v"]),
                next=str(data["x"]),
                created=float(data["t"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = self._clock()
        if not hmac.compare_digest(tx.state.encode(), state.encode()):
            return None
        if not 0 <= now - tx.created <= LOGIN_TTL:
            return None
        used_key = hashlib.sha256(state.encode()).hexdigest()
        if self._used.get(used_key):
            return None
        # Remembered a second past the transaction's own end, so a replay always finds it.
        self._used.put(used_key, True, expires_at=tx.created + LOGIN_TTL + 1)
        return tx

    async def _provider_error(
        self,
        request: Request,
        error: str,
        params: QueryParams,
        tx: _LoginTx | None,
        cookies: list[str],
    ) -> Response:
        description = params.get("error_description")
        status = 502 if error in ("server_error", "temporarily_unavailable") else 400
        logger.info("sign-in failed at Cognito: %s", error)
        await self._emit("login_failed", request, None, f"{error}: {description or ''}".strip())
        detail = f"{error}: {description}" if description else error
        return self._callback_error(
            request,
            status,
            "Sign-in did not complete.",
            detail=detail,
            cookies=cookies,
            next_path=tx.next if tx else None,
        )

    async def _finish(
        self,
        request: Request,
        code: str,
        tx: _LoginTx | None,
        next_path: str | None,
        cookies: list[str],
    ) -> Response:
        try:
            tokens = await self._oauth.exchange_code(code, tx.verifier if tx else None)
            assert tokens.id_token is not None
            id_claims = await self._verifier.verify_id_token(
                tokens.id_token, nonce=tx.nonce if tx else None, access_token=tokens.access_token
            )
            access_claims = await self._verifier.verify_access_token(tokens.access_token)
        except InvalidGrantError:
            return await self._failed(
                request, 400, "The sign-in code has expired or was already used.", cookies, tx
            )
        except TokenEndpointError as exc:
            return await self._failed(
                request,
                400 if exc.status < 500 else 502,
                "Cognito refused the sign-in.",
                cookies,
                tx,
                detail=exc.error,
            )
        except CognitoUnavailableError:
            return await self._failed(
                request,
                503,
                "The sign-in service is not reachable right now. Try again soon.",
                cookies,
                tx,
            )
        except TokenError as exc:
            logger.warning("refused tokens at sign-in: %s", exc.reason)
            return await self._failed(
                request, 400, "The sign-in response could not be verified.", cookies, tx
            )
        if access_claims.get("sub") != id_claims.get("sub"):
            return await self._failed(
                request, 400, "The sign-in response could not be verified.", cookies, tx
            )
        if tx is None and not self._idp_initiated_allowed(id_claims):
            return await self._failed(
                request,
                400,
                "Sign-in without a state is not allowed for this provider.",
                cookies,
                None,
            )
        now = self._clock()
        session = SessionData(
            session_id=secrets.token_hex(16),
            id_token=tokens.id_token,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=session_expiry(id_claims, access_claims),
            created_at=now,
            last_seen=now,
            refresh_expires_at=now + self._config.refresh_token_lifetime,
        )
        user = CognitoUser.from_claims(id_claims, access_claims)
        try:
            set_cookies = await self._store.save(session, request.cookies)
        except CognitoUnavailableError as exc:
            logger.error("session store unavailable: %s", exc.detail)
            return await self._failed(
                request, 503, "Sessions cannot be stored right now. Try again soon.", cookies, tx
            )
        except SessionTooLargeError as exc:
            logger.error("%s", exc)
            return await self._failed(
                request,
                500,
                "Your session is too large for cookies; the site must use a "
                "server-side session store.",
                cookies,
                tx,
            )
        response = RedirectResponse(
            next_path or self._config.after_login_path,
            status_code=303,
            headers=dict(_CALLBACK_HEADERS),
        )
        for value in (*cookies, *set_cookies):
            response.headers.append("set-cookie", value)
        logger.info("signed in: %s", user.username)
        await self._emit("login", request, user, None)
        return response

    def _idp_initiated_allowed(self, id_claims: Mapping[str, Any]) -> bool:
        user = CognitoUser.from_claims(id_claims, None)
        return user.identity_provider in self._config.idp_initiated_providers

    async def _failed(
        self,
        request: Request,
        status: int,
        message: str,
        cookies: list[str],
        tx: _LoginTx | None,
        *,
        detail: str | None = None,
    ) -> Response:
        await self._emit("login_failed", request, None, message)
        return self._callback_error(
            request,
            status,
            message,
            detail=detail,
            cookies=cookies,
            next_path=tx.next if tx else None,
        )

    # /logout ----------------------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        """Revoke the refresh token, end the session, then end the hosted-UI session."""
        try:
            session = await self._store.load(request.cookies)
        except CognitoUnavailableError:
            session = None
        user = None
        if session is not None:
            claims = self._verifier.unverified_claims(session.id_token)
            user = CognitoUser.from_claims(claims, None)
            if session.refresh_token:
                try:
                    await self._oauth.revoke(session.refresh_token)
                except (TokenEndpointError, CognitoUnavailableError) as exc:
                    # Sign-out must still happen locally; the token dies at its expiry.
                    logger.warning("refresh token revocation failed: %s", type(exc).__name__)
        try:
            cleared = await self._store.clear(request.cookies)
        except CognitoUnavailableError as exc:
            # Without the store the server side cannot be deleted; the cookies still go.
            logger.error("session store unavailable: %s", exc.detail)
            cleared = self._store_cookie_expiry(request.cookies)
        origin = URL(self._config.redirect_uri)
        logout_uri = self._config.logout_uri or (
            f"{origin.scheme}://{origin.netloc}{self._config.after_logout_path}"
        )
        target = (
            self._config.logout_url
            + "?"
            + urlencode({"client_id": self._config.client_id, "logout_uri": logout_uri})
        )
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        for value in cleared:
            response.headers.append("set-cookie", value)
        if user is not None:
            logger.info("signed out: %s", user.username)
            await self._emit("logout", request, user, None)
        return response

    # helpers ----------------------------------------------------------------------------

    def _store_cookie_expiry(self, cookies: Mapping[str, str]) -> list[str]:
        prefix = cookie_name(self._config.cookie_name, secure=self._secure)
        return [
            expire_cookie(name, secure=self._secure)
            for name in cookies
            if name == prefix or name.startswith(prefix + "-")
        ]

    def _tx_cookie(self, state: str) -> str:
        return self._tx_prefix + hashlib.sha256(state.encode()).hexdigest()[:12]

    def _login_link(self, next_path: str | None) -> tuple[str, str]:
        query = urlencode({"next": next_path}) if next_path else ""
        return (f"{self._config.auth_prefix}/login" + (f"?{query}" if query else ""), "Try again")

    def _bad_request(self, request: Request, message: str) -> Response:
        refusal = Refusal(status=400, error="invalid_request", message=message)
        return render(request.scope, refusal, config=self._config)

    def _callback_error(
        self,
        request: Request,
        status: int,
        message: str,
        *,
        detail: str | None = None,
        cookies: list[str] | None = None,
        next_path: str | None = None,
    ) -> Response:
        refusal = Refusal(
            status=status,
            error="sign_in_failed",
            message=message,
            detail=detail,
            link=self._login_link(next_path),
            headers=_CALLBACK_HEADERS,
            page=True,
        )
        return render(request.scope, refusal, config=self._config, set_cookies=cookies or ())

    async def _emit(
        self, kind: Any, request: Request, user: CognitoUser | None, reason: str | None
    ) -> None:
        client = request.client.host if request.client else None
        await self._hooks.emit(AuthEvent(kind, user, request.url.path, client, reason))


def _has_duplicates(params: QueryParams, names: tuple[str, ...]) -> bool:
    return any(len(params.getlist(name)) > 1 for name in names)
