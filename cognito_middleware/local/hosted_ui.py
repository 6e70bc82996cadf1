"""The hosted UI: ``/login`` (sign-in form, with the client's branding), ``/logout``,
``/error`` and the branding logos (``/_branding/<client_id>/logo``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .branding import Branding, load_logo, sanitize_css
from .oauth import (
    SESSION_COOKIE,
    AuthorizeRequest,
    complete_sign_in,
    error_page_redirect,
    error_page_route,
    parse_authorize,
)
from .pages import login_page
from .pool import User
from .seed import ClientSeed
from .triggers import TriggerError

if TYPE_CHECKING:
    from .app import LocalCognito

__all__ = ["HostedUI"]

_WRONG = "Incorrect username or password."
_NOT_SIGNED_IN = {
    "UNCONFIRMED": "User is not confirmed.",
    "FORCE_CHANGE_PASSWORD": "Password change required for the user.",
    "RESET_REQUIRED": "Password reset required for the user",
}


class HostedUI:
    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self.pool = cognito.pool
        self._branding: dict[str, Branding] = {}
        # Logo files are read once, at start, not on every page.
        for client in self.pool.clients.values():
            self.branding(client)

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["GET"]),
            Route("/error", error_page_route, methods=["GET"]),
            Route("/_branding/{client_id}/logo", self.logo, methods=["GET"]),
        ]

    def branding(self, client: ClientSeed) -> Branding:
        """The client's branding, else the pool's (Cognito's ``ALL``): the whole
        customization is replaced, not merged."""
        cached = self._branding.get(client.client_id)
        if cached is not None:
            return cached
        seed = client.branding or self.cognito.seed.branding
        logo, logo_type, css = None, None, None
        if seed is not None:
            if seed.logo is not None:
                logo, logo_type = load_logo(seed.logo)
            if seed.css is not None:
                css = sanitize_css(seed.css)
        branding = self._branding[client.client_id] = Branding(logo, logo_type, css)
        return branding

    async def logo(self, request: Request) -> Response:
        client = self.pool.clients.get(request.path_params["client_id"])
        branding = self.branding(client) if client is not None else None
        if branding is None or branding.logo is None:
            return Response(b"", status_code=404)
        return Response(
            branding.logo,
            media_type=branding.logo_type,
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    def _form(
        self,
        request: Request,
        req: AuthorizeRequest,
        *,
        error: str | None = None,
        username: str = "",
    ) -> Response:
        providers = []
        for name in req.client.identity_providers:
            provider = self.pool.providers.get(name)
            if provider is None:
                continue
            query = {k: v for k, v in req.params.items() if k not in ("prompt",)}
            query["identity_provider"] = name
            providers.append(
                (
                    f"Sign in with {provider.display_name or name}",
                    f"/oauth2/authorize?{urlencode(query)}",
                )
            )
        branding = self.branding(req.client)
        logo_url = f"/_branding/{req.client.client_id}/logo" if branding.logo is not None else None
        return login_page(
            title="Signin",
            heading="Sign in with your username and password",
            action=f"/login?{request.url.query}",
            error=error,
            show_form="COGNITO" in req.client.identity_providers,
            providers=providers,
            username=username,
            note="Local Cognito (emulator)",
            css=branding.css,
            logo_url=logo_url,
        )

    async def login(self, request: Request) -> Response:
        req = parse_authorize(self.cognito, dict(request.query_params))
        if isinstance(req, Response):
            return req
        if request.method == "GET":
            session = self.pool.session(request.cookies.get(SESSION_COOKIE))
            if session is not None and req.prompt != "login":
                user = self.pool.user(session.username)
                assert user is not None
                return await run_in_threadpool(
                    complete_sign_in,
                    self.cognito,
                    req,
                    user,
                    auth_time=session.auth_time,
                    on_trigger_error=lambda exc: self._form(request, req, error=exc.message),
                )
            return self._form(request, req, username=req.params.get("login_hint", ""))
        if "COGNITO" not in req.client.identity_providers:
            return req.error("unauthorized_client")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        # Triggers may block or call the emulator back: off the event loop.
        return await run_in_threadpool(
            self._sign_in, request, req, form.get("username", ""), form.get("password", "")
        )

    def _sign_in(
        self, request: Request, req: AuthorizeRequest, username: str, password: str
    ) -> Response:
        def refused(exc: TriggerError) -> Response:
            return self._form(request, req, error=exc.message, username=username)

        known = self.pool.user(username)
        triggers = self.pool.triggers
        client_id = req.client.client_id
        # Cognito runs pre authentication before it checks the password, for a known user.
        if known is not None and known.enabled and known.password is not None:
            try:
                triggers.pre_authentication(client_id=client_id, user=known)
            except TriggerError as exc:
                return refused(exc)
        user: User | None = self.pool.check_password(username, password)
        if user is None:
            return self._form(request, req, error=_WRONG, username=username)
        if not user.enabled:
            return self._form(request, req, error="User is disabled.", username=username)
        # Users the user-pool API left unconfirmed or with a temporary password do not sign in
        # here; the real pages would go on to a confirmation or new-password page.
        refusal = _NOT_SIGNED_IN.get(user.status)
        if refusal:
            return self._form(request, req, error=refusal, username=username)
        try:
            triggers.post_authentication(client_id=client_id, user=user)
        except TriggerError as exc:
            return refused(exc)
        session_id = self.pool.new_session(user.username)
        session = self.pool.sessions[session_id]
        return complete_sign_in(
            self.cognito,
            req,
            user,
            auth_time=session.auth_time,
            session_id=session_id,
            on_trigger_error=refused,
        )

    async def logout(self, request: Request) -> Response:
        params = dict(request.query_params)
        client = self.pool.clients.get(params.get("client_id", ""))
        if client is None:
            return error_page_redirect("invalid_request", params.get("client_id"))
        logout_uri = params.get("logout_uri")
        if logout_uri is not None:
            if logout_uri not in client.logout_urls:
                return error_page_redirect("redirect_mismatch", client.client_id)
            response: Response = RedirectResponse(logout_uri, status_code=302)
        elif params.get("redirect_uri") and params.get("response_type"):
            if params["redirect_uri"] not in client.callback_urls:
                return error_page_redirect("redirect_mismatch", client.client_id)
            keep = ("client_id", "redirect_uri", "response_type", "scope", "state")
            query = urlencode([(k, params[k]) for k in keep if k in params])
            response = RedirectResponse(f"/login?{query}", status_code=302)
        else:
            return error_page_redirect("Required parameters missing", client.client_id)
        self.pool.end_session(request.cookies.get(SESSION_COOKIE))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
