"""Simulated upstream IdPs (SAML and OIDC) and Cognito's side of federation.

SP-initiated SAML: ``/oauth2/authorize?identity_provider=AzureAD`` -> ``/_idp/AzureAD/saml2/sso``
(the IdP's sign-in page) -> auto-posted ``SAMLResponse`` to ``/saml2/idpresponse`` -> code.
IdP-initiated SAML: ``/_idp/AzureAD/apps`` (the app tile) -> the same sign-in page -> a
``SAMLResponse`` with a RelayState naming the client -> code with no ``state``.
OIDC: ``/_idp/Okta/oauth2/authorize`` -> ``/oauth2/idpresponse?code=...&state=...`` -> code.

The SAMLResponse is a signed, base64-encoded JSON assertion, not SAML XML.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .oauth import AuthorizeRequest, complete_sign_in, parse_authorize
from .pages import auto_post_page, error_page, login_page
from .pool import Group, User
from .seed import IdpUserSeed, ProviderSeed
from .triggers import TriggerError

if TYPE_CHECKING:
    from .app import LocalCognito

__all__ = ["Federation"]

_PENDING_LIFETIME = 600
_BAD_RELAY = "Invalid samlResponse or relayState from identity provider"
_BAD_SIGNATURE = "Error in SAML response processing: SAML Assertion signature is invalid"


@dataclass
class _Pending:
    request: AuthorizeRequest
    provider: str
    expires_at: float


class Federation:
    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self.pool = cognito.pool
        self._pending: dict[str, _Pending] = {}
        self._idp_codes: dict[str, tuple[str, IdpUserSeed, float]] = {}
        self._used_assertions: set[str] = set()
        self._signer = URLSafeTimedSerializer(secrets.token_bytes(32), salt="local-saml")

    def routes(self) -> list[Route]:
        return [
            Route("/saml2/idpresponse", self.saml_response, methods=["POST"]),
            Route("/oauth2/idpresponse", self.oidc_response, methods=["GET"]),
            Route("/_idp/{provider}/saml2/sso", self.idp_signin, methods=["GET", "POST"]),
            Route("/_idp/{provider}/oauth2/authorize", self.idp_signin, methods=["GET", "POST"]),
            Route("/_idp/{provider}/apps", self.app_tile, methods=["GET"]),
        ]

    # Cognito -> IdP ------------------------------------------------------------------------

    def start(self, req: AuthorizeRequest, provider: ProviderSeed) -> Response:
        """Send the browser to the IdP's sign-in page (SAML AuthnRequest or OIDC authorize)."""
        now = time.time()
        for stale in [k for k, v in self._pending.items() if v.expires_at < now]:
            del self._pending[stale]
        relay = secrets.token_urlsafe(32)
        self._pending[relay] = _Pending(req, provider.name, time.time() + _PENDING_LIFETIME)
        if provider.type == "SAML":
            request_id = f"_{uuid.uuid4().hex}"
            authn = base64.b64encode(
                f'<samlp:AuthnRequest ID="{request_id}" '
                f'AssertionConsumerServiceURL="{self.cognito.domain}/saml2/idpresponse"/>'
                .encode()).decode()
            query = urlencode({"SAMLRequest": authn, "RelayState": relay})
            return RedirectResponse(f"/_idp/{provider.name}/saml2/sso?{query}", status_code=302)
        query = urlencode({
            "client_id": f"local-cognito-{self.pool.pool_id}", "response_type": "code",
            "redirect_uri": f"{self.cognito.domain}/oauth2/idpresponse",
            "scope": "openid email profile", "state": relay,
        })
        return RedirectResponse(f"/_idp/{provider.name}/oauth2/authorize?{query}", 302)

    # The simulated IdP ---------------------------------------------------------------------

    def _provider(self, request: Request, kind: str | None = None) -> ProviderSeed | None:
        provider = self.pool.providers.get(request.path_params["provider"])
        if provider is None or (kind is not None and provider.type != kind):
            return None
        return provider

    @staticmethod
    def _idp_user(provider: ProviderSeed, username: str, password: str) -> IdpUserSeed | None:
        for user in provider.users:
            if user.username.lower() == username.lower() and secrets.compare_digest(
                    user.password.encode(), password.encode()):
                return user
        return None

    def _idp_form(self, provider: ProviderSeed, action: str, hidden: dict[str, str], *,
                  error: str | None = None, username: str = "") -> Response:
        title = provider.display_name or f"{provider.name} (simulated {provider.type} IdP)"
        return login_page(title=title, heading=title, action=action, hidden=hidden,
                          error=error, username=username,
                          note=f"Simulated {provider.type} identity provider of the local "
                               "Cognito. Not a real sign-in page.")

    async def idp_signin(self, request: Request) -> Response:
        kind = "SAML" if request.url.path.endswith("/saml2/sso") else "OIDC"
        provider = self._provider(request, kind)
        if provider is None:
            return error_page("invalid_request", "Unknown identity provider", status=404)
        if request.method == "GET":
            params = dict(request.query_params)
            keep = ("RelayState",) if kind == "SAML" else ("state", "redirect_uri")
            if kind == "OIDC" and params.get("redirect_uri") != (
                    f"{self.cognito.domain}/oauth2/idpresponse"):
                return error_page("invalid_request", "redirect_uri is not registered at the IdP")
            return self._idp_form(provider, request.url.path,
                                  {k: params.get(k, "") for k in keep})
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        hidden = {k: v for k, v in form.items() if k not in ("username", "password")}
        if kind == "OIDC" and hidden.get("redirect_uri") != (
                f"{self.cognito.domain}/oauth2/idpresponse"):
            return error_page("invalid_request", "redirect_uri is not registered at the IdP")
        user = self._idp_user(provider, form.get("username", ""), form.get("password", ""))
        if user is None:
            return self._idp_form(provider, request.url.path, hidden, username=form.get(
                "username", ""), error="Your account or password is incorrect.")
        if kind == "SAML":
            assertion = self._signer.dumps({
                "id": f"_{uuid.uuid4().hex}", "provider": provider.name,
                "issuer": provider.issuer, "name_id": user.user_id, "attributes": user.claims,
            })
            return auto_post_page(f"{self.cognito.domain}/saml2/idpresponse", {
                "SAMLResponse": base64.b64encode(assertion.encode()).decode(),
                "RelayState": hidden.get("RelayState", ""),
            }, title=provider.display_name or provider.name)
        code = secrets.token_urlsafe(32)
        self._idp_codes[code] = (provider.name, user, time.time() + 300)
        query = urlencode({"code": code, "state": hidden.get("state", "")})
        return RedirectResponse(f"{hidden.get('redirect_uri', '')}?{query}", status_code=302)

    async def app_tile(self, request: Request) -> Response:
        """The IdP portal's app tile: IdP-initiated sign-in into a user pool app client."""
        provider = self._provider(request, "SAML")
        if provider is None:
            return error_page("invalid_request", "Unknown SAML identity provider", status=404)
        params = dict(request.query_params)
        client_id = params.get("client_id") or next(
            (c.client_id for c in self.pool.clients.values()
             if c.identity_providers == [provider.name] and c.callback_urls), "")
        client = self.pool.clients.get(client_id)
        redirect_uri = params.get("redirect_uri") or (
            client.callback_urls[0] if client and client.callback_urls else "")
        relay = urlencode({
            "client_id": client_id, "redirect_uri": redirect_uri,
            "response_type": "code", "scope": params.get("scope", "openid email profile"),
            "identity_provider": provider.name,
        })
        return self._idp_form(provider, f"/_idp/{provider.name}/saml2/sso",
                              {"RelayState": relay})

    # IdP -> Cognito ------------------------------------------------------------------------

    async def saml_response(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        relay = form.get("RelayState", "")
        pending = self._pending.pop(relay, None)
        idp_initiated = pending is None
        if pending is not None:
            if pending.expires_at < time.time():
                return error_page("invalid_request", _BAD_RELAY)
            req, provider = pending.request, self.pool.providers[pending.provider]
        else:
            params = dict(parse_qsl(relay))
            parsed = parse_authorize(self.cognito, params) if params else None
            if parsed is None:
                return error_page("invalid_request", _BAD_RELAY)
            if isinstance(parsed, Response):
                return parsed
            req = parsed
            named = self.pool.providers.get(params.get("identity_provider", ""))
            if named is None or not self._idp_initiated_allowed(req, named):
                return req.error("invalid_request", _BAD_RELAY)
            provider = named
        try:
            raw = base64.b64decode(form.get("SAMLResponse", ""), validate=True).decode()
            assertion: dict[str, Any] = self._signer.loads(raw, max_age=300)
        except (binascii.Error, UnicodeDecodeError, BadData):
            return req.error("server_error", _BAD_SIGNATURE)
        if assertion.get("provider") != provider.name or assertion["id"] in self._used_assertions:
            return req.error("server_error", _BAD_SIGNATURE)
        self._used_assertions.add(assertion["id"])
        return await run_in_threadpool(self._finish, req, provider, assertion["name_id"],
                                       assertion["attributes"], include_state=not idp_initiated)

    def _idp_initiated_allowed(self, req: AuthorizeRequest, provider: ProviderSeed) -> bool:
        if provider.type != "SAML" or not provider.idp_initiated:
            return False
        if provider.name not in req.client.identity_providers:
            return False
        # Cognito accepts unsolicited assertions only for app clients whose identity providers
        # are all IdP-initiated SAML providers.
        for name in req.client.identity_providers:
            other = self.pool.providers.get(name)
            if other is None or other.type != "SAML" or not other.idp_initiated:
                return False
        return True

    async def oidc_response(self, request: Request) -> Response:
        params = dict(request.query_params)
        pending = self._pending.pop(params.get("state", ""), None)
        if pending is None or pending.expires_at < time.time():
            return error_page("invalid_request", "Invalid state from identity provider")
        req, provider = pending.request, self.pool.providers[pending.provider]
        # Cognito reports an OIDC IdP's failures (an error sent back by the IdP, a failed token
        # exchange) to the app as error=invalid_request, unlike SAML's server_error.
        if "error" in params:
            return req.error("invalid_request",
                             f"{provider.name} Error - {params.get('error_description', '')}")
        entry = self._idp_codes.pop(params.get("code", ""), None)
        if entry is None or entry[0] != provider.name or entry[2] < time.time():
            return req.error("invalid_request", f"{provider.name} Error - 400 error getting token")
        user = entry[1]
        return await run_in_threadpool(self._finish, req, provider, user.user_id, user.claims,
                                       include_state=True)

    def _finish(self, req: AuthorizeRequest, provider: ProviderSeed, user_id: str,
                claims: dict[str, Any], *, include_state: bool) -> Response:
        failure = self.cognito.faults.idp_failure_for(provider.name) or provider.failure
        if failure is not None:
            return req.error("server_error" if provider.type == "SAML" else "invalid_request",
                             failure)
        attributes: dict[str, str] = {}
        for attribute, claim in provider.attribute_mapping.items():
            value = claims.get(claim)
            if value is None:
                continue
            attributes[attribute] = (f"[{', '.join(map(str, value))}]"
                                     if isinstance(value, list) else str(value))
        def refused(detail: str) -> Response:
            if provider.type == "SAML":
                return req.error("server_error", f"Invalid SAML response received: {detail}")
            return req.error("invalid_request", detail)

        missing = [a for a in self.pool.required_attributes if not attributes.get(a)]
        if missing:
            return refused(f"Invalid user attributes: {missing[0]}: The attribute is required")
        if "email" in attributes:
            attributes.setdefault("email_verified", "false")
        triggers, client_id = self.pool.triggers, req.client.client_id
        username = f"{provider.name}_{user_id}".lower()
        first = self.pool.user(username) is None
        try:
            if first:
                decision = triggers.pre_sign_up(
                    source="PreSignUp_ExternalProvider", client_id=client_id,
                    username=username, user_attributes=attributes)
                if decision.auto_verify_email and "email" in attributes:
                    attributes["email_verified"] = "true"
                if decision.auto_verify_phone and "phone_number" in attributes:
                    attributes["phone_number_verified"] = "true"
            user = self._link(provider, user_id, attributes)
            if first:
                triggers.post_confirmation(client_id=client_id, user=user)
        except TriggerError as exc:
            return refused(exc.message)
        session_id = self.pool.new_session(user.username)
        return complete_sign_in(self.cognito, req, user,
                                auth_time=self.pool.sessions[session_id].auth_time,
                                session_id=session_id, include_state=include_state,
                                on_trigger_error=lambda exc: refused(exc.message))

    def _link(self, provider: ProviderSeed, user_id: str, attributes: dict[str, str]) -> User:
        """Create the federated user on first sign-in, refresh its mapped attributes after."""
        username = f"{provider.name}_{user_id}".lower()
        group = f"{self.pool.pool_id}_{provider.name}"
        with self.pool.lock:
            self.pool.groups.setdefault(group, Group(group))
            user = self.pool.user(username)
            if user is not None:
                user.attributes.update(attributes)
                self.pool.changed()
                return user
            user = User(username=username, password=None, sub=str(uuid.uuid4()),
                        attributes=attributes, groups=[group], identities=[{
                            "userId": user_id, "providerName": provider.name,
                            "providerType": provider.type,
                            "issuer": provider.issuer if provider.type == "SAML" else None,
                            "primary": "true",
                            "dateCreated": str(int(self.pool.now() * 1000)),
                        }])
            self.pool.users[username] = user
        self.pool.changed()
        return user
