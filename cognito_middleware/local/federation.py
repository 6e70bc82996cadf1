"""Simulated upstream IdPs (SAML and OIDC) and Cognito's side of federation.

SP-initiated SAML: ``/oauth2/authorize?identity_provider=AzureAD`` -> an ``AuthnRequest``
(HTTP-Redirect binding) to ``/_idp/AzureAD/saml2/sso`` (the IdP's sign-in page) -> a signed XML
``SAMLResponse`` auto-posted (HTTP-POST binding) to ``/saml2/idpresponse`` -> code.
IdP-initiated SAML: ``/_idp/AzureAD/apps`` (the app tile) -> the same sign-in page -> an
unsolicited ``SAMLResponse`` with a RelayState naming the client -> code with no ``state``.
OIDC: ``/_idp/Okta/oauth2/authorize`` -> ``/oauth2/idpresponse?code=...&state=...`` -> code.

The simulated Azure AD publishes its federation metadata at
``/_idp/<provider>/federationmetadata/2007-06/federationmetadata.xml``; a provider seeded with
``metadata_file`` / ``metadata_xml`` is trusted (entity id, SSO URL, certificates) from that
document instead, as Cognito does with an uploaded metadata file.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

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
    from cryptography import x509

    from .app import LocalCognito
    from .saml import IdpCredentials

# ``.saml`` (lxml, signxml) is imported where it is used: loading it would slow every start,
# also of pools without SAML providers.

__all__ = ["Federation"]

_PENDING_LIFETIME = 600
_BAD_RELAY = "Invalid samlResponse or relayState from identity provider"
_REPLAYED = "Invalid SAML response received: the assertion has already been used"
_STS = re.compile(r"^https://sts\.windows\.net/([^/]+)/$")
_AUTHN_METHODS = "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod"


@dataclass
class _Pending:
    request: AuthorizeRequest
    provider: str
    expires_at: float
    saml_request_id: str | None = None


@dataclass(frozen=True)
class _SamlTrust:
    """What Cognito knows of a SAML IdP: from its metadata, or the simulated IdP's own."""

    entity_id: str
    sso_url: str
    certificates: tuple[x509.Certificate, ...]


class Federation:
    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self.pool = cognito.pool
        self._pending: dict[str, _Pending] = {}
        self._idp_codes: dict[str, tuple[str, IdpUserSeed, float]] = {}
        self._used_assertions: set[str] = set()
        self._saml_lock = threading.Lock()
        self._credentials: dict[str, IdpCredentials] = {}
        self._trust: dict[str, _SamlTrust] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/saml2/idpresponse", self.saml_response, methods=["POST"]),
            Route("/oauth2/idpresponse", self.oidc_response, methods=["GET"]),
            Route("/_idp/{provider}/saml2/sso", self.idp_signin, methods=["GET", "POST"]),
            Route("/_idp/{provider}/oauth2/authorize", self.idp_signin, methods=["GET", "POST"]),
            Route("/_idp/{provider}/apps", self.app_tile, methods=["GET"]),
            Route(
                "/_idp/{provider}/federationmetadata/2007-06/federationmetadata.xml",
                self.metadata_document,
                methods=["GET"],
            ),
        ]

    # SAML configuration --------------------------------------------------------------------

    @property
    def acs_url(self) -> str:
        """Cognito's assertion consumer service: ``<domain>/saml2/idpresponse``."""
        return f"{self.cognito.domain}/saml2/idpresponse"

    @property
    def sp_entity_id(self) -> str:
        """Cognito's SAML SP entity id: ``urn:amazon:cognito:sp:<pool id>``."""
        from . import saml

        return saml.sp_entity_id(self.pool.pool_id)

    @staticmethod
    def saml_issuer(provider: ProviderSeed) -> str:
        """The simulated IdP's issuer: the seed's ``issuer``, else Azure AD's for the tenant."""
        if provider.issuer:
            return provider.issuer
        tenant = provider.tenant_id or uuid.uuid5(uuid.NAMESPACE_URL, provider.name)
        return f"https://sts.windows.net/{tenant}/"

    def idp_credentials(self, provider: ProviderSeed) -> IdpCredentials:
        """The simulated IdP's signing key and certificate (from the seed, or made once)."""
        from . import saml

        with self._saml_lock:
            credentials = self._credentials.get(provider.name)
            if credentials is None:
                credentials = (
                    saml.IdpCredentials.from_pem(provider.signing_key, provider.signing_certificate)
                    if provider.signing_key
                    else saml.IdpCredentials.generate()
                )
                self._credentials[provider.name] = credentials
            return credentials

    def saml_trust(self, provider: ProviderSeed) -> _SamlTrust:
        """Entity id, SSO URL and certificates Cognito uses for ``provider``."""
        from . import saml

        with self._saml_lock:
            trust = self._trust.get(provider.name)
        if trust is not None:
            return trust
        xml: str | bytes | None = provider.metadata_xml
        if provider.metadata_file is not None:
            xml = Path(provider.metadata_file).read_bytes()
        if xml is not None:
            metadata = saml.parse_metadata(xml)
            trust = _SamlTrust(
                entity_id=metadata.entity_id,
                sso_url=metadata.sso_redirect_url or metadata.sso_post_url or "",
                certificates=metadata.certificates,
            )
        else:
            trust = _SamlTrust(
                entity_id=self.saml_issuer(provider),
                sso_url=f"/_idp/{provider.name}/saml2/sso",
                certificates=(self.idp_credentials(provider).certificate,),
            )
        with self._saml_lock:
            return self._trust.setdefault(provider.name, trust)

    # Cognito -> IdP ------------------------------------------------------------------------

    def start(self, req: AuthorizeRequest, provider: ProviderSeed) -> Response:
        """Send the browser to the IdP's sign-in page (SAML AuthnRequest or OIDC authorize)."""
        from . import saml

        now = time.time()
        for stale in [k for k, v in self._pending.items() if v.expires_at < now]:
            del self._pending[stale]
        relay = secrets.token_urlsafe(32)
        if provider.type == "SAML":
            trust = self.saml_trust(provider)
            request_id = f"_{uuid.uuid4()}"
            destination = (
                trust.sso_url
                if "://" in trust.sso_url
                else f"{self.cognito.base_url}{trust.sso_url}"
            )
            authn = saml.build_authn_request(
                request_id=request_id,
                sp_entity=self.sp_entity_id,
                acs_url=self.acs_url,
                destination=destination,
                now=self.cognito.now(),
            )
            self._pending[relay] = _Pending(
                req, provider.name, time.time() + _PENDING_LIFETIME, saml_request_id=request_id
            )
            query = urlencode({"SAMLRequest": saml.encode_redirect(authn), "RelayState": relay})
            separator = "&" if "?" in trust.sso_url else "?"
            return RedirectResponse(f"{trust.sso_url}{separator}{query}", status_code=302)
        self._pending[relay] = _Pending(req, provider.name, time.time() + _PENDING_LIFETIME)
        query = urlencode(
            {
                "client_id": f"local-cognito-{self.pool.pool_id}",
                "response_type": "code",
                "redirect_uri": f"{self.cognito.domain}/oauth2/idpresponse",
                "scope": "openid email profile",
                "state": relay,
            }
        )
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
                user.password.encode(), password.encode()
            ):
                return user
        return None

    def _idp_form(
        self,
        provider: ProviderSeed,
        action: str,
        hidden: dict[str, str],
        *,
        error: str | None = None,
        username: str = "",
    ) -> Response:
        title = provider.display_name or f"{provider.name} (simulated {provider.type} IdP)"
        return login_page(
            title=title,
            heading=title,
            action=action,
            hidden=hidden,
            error=error,
            username=username,
            note=f"Simulated {provider.type} identity provider of the local "
            "Cognito. Not a real sign-in page.",
        )

    async def idp_signin(self, request: Request) -> Response:
        kind = "SAML" if request.url.path.endswith("/saml2/sso") else "OIDC"
        provider = self._provider(request, kind)
        if provider is None:
            return error_page("invalid_request", "Unknown identity provider", status=404)
        if request.method == "GET":
            params = dict(request.query_params)
            if kind == "SAML":
                if "SAMLRequest" not in params:
                    return error_page(
                        "invalid_request",
                        "AADSTS750054: SAMLRequest or "
                        "SAMLResponse must be present as query string parameters "
                        "in HTTP request for SAML Redirect binding.",
                    )
                refused = self._refuse_authn_request(provider, params["SAMLRequest"])
                if refused is not None:
                    return refused
            keep = ("SAMLRequest", "RelayState") if kind == "SAML" else ("state", "redirect_uri")
            if kind == "OIDC" and params.get("redirect_uri") != (
                f"{self.cognito.domain}/oauth2/idpresponse"
            ):
                return error_page("invalid_request", "redirect_uri is not registered at the IdP")
            return self._idp_form(
                provider, request.url.path, {k: params[k] for k in keep if k in params}
            )
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        hidden = {k: v for k, v in form.items() if k not in ("username", "password")}
        if kind == "SAML" and "SAMLRequest" in form:
            refused = self._refuse_authn_request(provider, form["SAMLRequest"])
            if refused is not None:
                return refused
            if "username" not in form:
                # An AuthnRequest of the HTTP-POST binding: show the sign-in page.
                return self._idp_form(provider, request.url.path, hidden)
        if kind == "OIDC" and hidden.get("redirect_uri") != (
            f"{self.cognito.domain}/oauth2/idpresponse"
        ):
            return error_page("invalid_request", "redirect_uri is not registered at the IdP")
        user = self._idp_user(provider, form.get("username", ""), form.get("password", ""))
        if user is None:
            return self._idp_form(
                provider,
                request.url.path,
                hidden,
                username=form.get("username", ""),
                error="Your account or password is incorrect.",
            )
        if kind == "SAML":
            return self._saml_post(provider, user, hidden)
        code = secrets.token_urlsafe(32)
        self._idp_codes[code] = (provider.name, user, time.time() + 300)
        query = urlencode({"code": code, "state": hidden.get("state", "")})
        return RedirectResponse(f"{hidden.get('redirect_uri', '')}?{query}", status_code=302)

    def _refuse_authn_request(self, provider: ProviderSeed, value: str) -> Response | None:
        """Azure AD's checks of an AuthnRequest: a known app (issuer) and its reply URL."""
        from . import saml

        try:
            authn = saml.decode_request(value)
        except ValueError as exc:
            return error_page(
                "invalid_request", f"AADSTS750056: SAML message was not properly formatted: {exc}."
            )
        tenant = self._tenant(provider)
        if authn.issuer != self.sp_entity_id:
            return error_page(
                "invalid_request",
                f"AADSTS700016: Application with identifier "
                f"'{authn.issuer}' was not found in the directory '{tenant}'.",
            )
        if authn.acs_url and authn.acs_url != self.acs_url:
            return error_page(
                "invalid_request",
                f"AADSTS50011: The redirect URI "
                f"'{authn.acs_url}' specified in the request does not match the "
                "redirect URIs configured for the application.",
            )
        return None

    def _tenant(self, provider: ProviderSeed) -> str:
        match = _STS.match(self.saml_issuer(provider))
        return provider.tenant_id or (match.group(1) if match else "")

    def _azure_claims(
        self, provider: ProviderSeed, user: IdpUserSeed
    ) -> dict[str, str | list[str]]:
        """The claims Azure AD sends by default, overridden by the user's seeded claims."""
        from . import saml

        issuer = self.saml_issuer(provider)
        claims: dict[str, str | list[str]] = {
            saml.AZURE_CLAIMS["tenant_id"]: self._tenant(provider),
            saml.AZURE_CLAIMS["object_id"]: str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer}{user.username}")
            ),
            saml.AZURE_CLAIMS["identity_provider"]: issuer,
            saml.AZURE_CLAIMS["authn_methods"]: f"{_AUTHN_METHODS}/password",
            saml.AZURE_CLAIMS["name"]: user.username,
            **user.claims,
        }
        groups = claims.get(saml.AZURE_CLAIMS["groups"])
        if isinstance(groups, list) and len(groups) > saml.GROUPS_OVERAGE_LIMIT:
            del claims[saml.AZURE_CLAIMS["groups"]]
            object_id = claims[saml.AZURE_CLAIMS["object_id"]]
            claims[saml.AZURE_CLAIMS["groups_link"]] = (
                f"https://graph.windows.net/{claims[saml.AZURE_CLAIMS['tenant_id']]}/users/"
                f"{object_id}/getMemberObjects"
            )
        return {k: v for k, v in claims.items() if v}

    def _saml_post(
        self, provider: ProviderSeed, user: IdpUserSeed, hidden: dict[str, str]
    ) -> Response:
        """The signed Response, auto-posted to Cognito (HTTP-POST binding)."""
        from . import saml

        in_response_to = None
        if "SAMLRequest" in hidden:
            in_response_to = saml.decode_request(hidden["SAMLRequest"]).id
        xml = saml.build_response(
            issuer=self.saml_issuer(provider),
            name_id=user.user_id,
            name_id_format=saml.NAME_ID_FORMATS[provider.name_id_format],
            audience=self.sp_entity_id,
            recipient=self.acs_url,
            attributes=self._azure_claims(provider, user),
            now=self.cognito.now(),
            credentials=self.idp_credentials(provider),
            in_response_to=in_response_to,
            sign_assertion=provider.signing != "response",
            sign_response=provider.signing != "assertion",
        )
        return auto_post_page(
            self.acs_url,
            {
                "SAMLResponse": base64.b64encode(xml).decode(),
                "RelayState": hidden.get("RelayState", ""),
            },
            title=provider.display_name or provider.name,
        )

    async def metadata_document(self, request: Request) -> Response:
        """The simulated IdP's federation metadata (Azure AD's ``federationmetadata.xml``)."""
        from . import saml

        provider = self._provider(request, "SAML")
        if provider is None:
            return error_page("invalid_request", "Unknown SAML identity provider", status=404)
        sso = f"{self.cognito.base_url}/_idp/{provider.name}/saml2/sso"
        xml = saml.idp_metadata(
            entity_id=self.saml_issuer(provider),
            sso_url=sso,
            credentials=self.idp_credentials(provider),
            logout_url=sso,
        )
        return Response(xml, media_type="application/samlmetadata+xml")

    async def app_tile(self, request: Request) -> Response:
        """The IdP portal's app tile: IdP-initiated sign-in into a user pool app client."""
        provider = self._provider(request, "SAML")
        if provider is None:
            return error_page("invalid_request", "Unknown SAML identity provider", status=404)
        params = dict(request.query_params)
        client_id = params.get("client_id") or next(
            (
                c.client_id
                for c in self.pool.clients.values()
                if c.identity_providers == [provider.name] and c.callback_urls
            ),
            "",
        )
        client = self.pool.clients.get(client_id)
        redirect_uri = params.get("redirect_uri") or (
            client.callback_urls[0] if client and client.callback_urls else ""
        )
        relay = urlencode(
            {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": params.get("scope", "openid email profile"),
                "identity_provider": provider.name,
            }
        )
        return self._idp_form(provider, f"/_idp/{provider.name}/saml2/sso", {"RelayState": relay})

    # IdP -> Cognito ------------------------------------------------------------------------

    async def saml_response(self, request: Request) -> Response:
        from . import saml

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
        trust = self.saml_trust(provider)
        try:
            assertion = saml.verify_response(
                form.get("SAMLResponse", ""),
                certificates=trust.certificates,
                idp_entity_id=trust.entity_id,
                audience=self.sp_entity_id,
                recipient=self.acs_url,
                now=self.cognito.now(),
                in_response_to=None if pending is None else pending.saml_request_id,
            )
        except saml.SamlError as exc:
            return req.error(exc.error, exc.description)
        with self._saml_lock:
            replayed = assertion.id in self._used_assertions
            self._used_assertions.add(assertion.id)
        if replayed:
            return req.error("invalid_request", _REPLAYED)
        return await run_in_threadpool(
            self._finish,
            req,
            provider,
            assertion.name_id,
            assertion.attributes,
            include_state=not idp_initiated,
            issuer=assertion.issuer,
        )

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
            return req.error(
                "invalid_request", f"{provider.name} Error - {params.get('error_description', '')}"
            )
        entry = self._idp_codes.pop(params.get("code", ""), None)
        if entry is None or entry[0] != provider.name or entry[2] < time.time():
            return req.error("invalid_request", f"{provider.name} Error - 400 error getting token")
        user = entry[1]
        return await run_in_threadpool(
            self._finish, req, provider, user.user_id, user.claims, include_state=True
        )

    def _finish(
        self,
        req: AuthorizeRequest,
        provider: ProviderSeed,
        user_id: str,
        claims: dict[str, Any],
        *,
        include_state: bool,
        issuer: str | None = None,
    ) -> Response:
        failure = self.cognito.faults.idp_failure_for(provider.name) or provider.failure
        if failure is not None:
            return req.error(
                "server_error" if provider.type == "SAML" else "invalid_request", failure
            )
        attributes: dict[str, str] = {}
        for attribute, claim in provider.attribute_mapping.items():
            value = claims.get(claim)
            if value is None:
                continue
            attributes[attribute] = (
                f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)
            )

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
                    source="PreSignUp_ExternalProvider",
                    client_id=client_id,
                    username=username,
                    user_attributes=attributes,
                )
                if decision.auto_verify_email and "email" in attributes:
                    attributes["email_verified"] = "true"
                if decision.auto_verify_phone and "phone_number" in attributes:
                    attributes["phone_number_verified"] = "true"
            user = self._link(provider, user_id, attributes, issuer)
            if first:
                triggers.post_confirmation(client_id=client_id, user=user)
        except TriggerError as exc:
            return refused(exc.message)
        session_id = self.pool.new_session(user.username)
        return complete_sign_in(
            self.cognito,
            req,
            user,
            auth_time=self.pool.sessions[session_id].auth_time,
            session_id=session_id,
            include_state=include_state,
            on_trigger_error=lambda exc: refused(exc.message),
        )

    def _link(
        self, provider: ProviderSeed, user_id: str, attributes: dict[str, str], issuer: str | None
    ) -> User:
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
            user = User(
                username=username,
                password=None,
                sub=str(uuid.uuid4()),
                attributes=attributes,
                groups=[group],
                identities=[
                    {
                        "userId": user_id,
                        "providerName": provider.name,
                        "providerType": provider.type,
                        "issuer": issuer,
                        "primary": "true",
                        "dateCreated": str(int(self.pool.now() * 1000)),
                    }
                ],
            )
            self.pool.users[username] = user
        self.pool.changed()
        return user
