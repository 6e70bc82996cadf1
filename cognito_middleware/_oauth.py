"""Client of Cognito's token and revocation endpoints (``/oauth2/token``, ``/oauth2/revoke``).

Runs over the middleware's shared ``httpx.AsyncClient``. The client authenticates with HTTP Basic
(``client_secret_basic``) when it has a secret, else sends ``client_id`` (public client). The code
exchange is never retried: a code is single use, and a retry after a lost answer would only fail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ._config import CognitoConfig
from .exceptions import CognitoUnavailableError, InvalidGrantError, TokenEndpointError

__all__ = ["OAuthClient", "PKCEPair", "TokenSet"]


@dataclass(frozen=True)
class PKCEPair:
    """A fresh PKCE verifier and its S256 challenge."""

    verifier: str
    challenge: str

    @classmethod
    def generate(cls) -> PKCEPair:
        verifier = secrets.token_urlsafe(48)
        return cls(verifier, create_s256_code_challenge(verifier))


@dataclass(frozen=True)
class TokenSet:
    """What ``/oauth2/token`` returned. ``refresh_token`` is ``None`` on a refresh without
    rotation. ``repr()`` hides the tokens."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int

    def __repr__(self) -> str:
        return f"TokenSet(expires_in={self.expires_in}, rotated={self.refresh_token is not None})"


class OAuthClient:
    """Token endpoint calls for one app client."""

    def __init__(self, config: CognitoConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        secret = config.client_secret_value
        self._auth = httpx.BasicAuth(config.client_id, secret) if secret else None
        self._timeout = httpx.Timeout(config.http_timeout)

    def _form(self, **fields: str) -> dict[str, str]:
        if self._auth is None:
            fields["client_id"] = self._config.client_id
        return fields

    async def _post(self, url: str, form: dict[str, str], what: str) -> httpx.Response:
        try:
            response = await self._http.post(
                url,
                data=form,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise CognitoUnavailableError(what, "timed out") from None
        except httpx.HTTPError as exc:
            raise CognitoUnavailableError(what, type(exc).__name__) from None
        if response.status_code >= 500:
            raise CognitoUnavailableError(what, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            error, description = _oauth_error(response)
            cls = InvalidGrantError if error == "invalid_grant" else TokenEndpointError
            raise cls(error, description, status=response.status_code)
        return response

    async def exchange_code(self, code: str, verifier: str | None) -> TokenSet:
        """Trade an authorization code (and its PKCE verifier) for tokens."""
        form = self._form(
            grant_type="authorization_code", code=code, redirect_uri=self._config.redirect_uri
        )
        if verifier is not None:
            form["code_verifier"] = verifier
        response = await self._post(self._config.token_url, form, "token endpoint")
        return _token_set(response, require_id_token=True)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New ID and access tokens (and, with rotation, a new refresh token)."""
        form = self._form(grant_type="refresh_token", refresh_token=refresh_token)
        response = await self._post(self._config.token_url, form, "token endpoint")
        return _token_set(response, require_id_token=False)

    async def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and the tokens issued from it, for Cognito's own APIs)."""
        await self._post(
            self._config.revoke_url, self._form(token=refresh_token), "revocation endpoint"
        )


def _oauth_error(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return body["error"], description if isinstance(description, str) else None
    return "invalid_response", f"HTTP {response.status_code}"


def _token_set(response: httpx.Response, *, require_id_token: bool) -> TokenSet:
    try:
        body: Any = response.json()
    except ValueError:
        raise TokenEndpointError(
            "invalid_response", "the token endpoint did not answer JSON"
        ) from None
    if not isinstance(body, dict):
        raise TokenEndpointError("invalid_response", "the token endpoint answer is not an object")
    access, id_token = body.get("access_token"), body.get("id_token")
    refresh, expires_in = body.get("refresh_token"), body.get("expires_in", 3600)
    if not isinstance(access, str) or (require_id_token and not isinstance(id_token, str)):
        raise TokenEndpointError("invalid_response", "tokens missing from the token response")
    if str(body.get("token_type", "Bearer")).lower() != "bearer":
        raise TokenEndpointError("invalid_response", "unexpected token_type")
    return TokenSet(
        access_token=access,
        id_token=id_token if isinstance(id_token, str) else None,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_in=expires_in if isinstance(expires_in, int) else 3600,
    )
