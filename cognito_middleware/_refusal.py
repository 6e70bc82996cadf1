"""Refusals: one value for every ``4xx``/``5xx`` the library answers, and one renderer.

A :class:`Refusal` says what went wrong (status, machine code, sentence, detail) and what the
client may do next (sign in, retry later). :func:`render` turns it into the answer the request
expects:

* a ``303`` to the sign-in page for a browser navigation that must sign in;
* an escaped HTML page for other browser navigations (or the app's own page, from
  ``CognitoConfig.error_page``);
* ``{"error": ..., "message": ..., "detail": ...}`` JSON for everything else;

always with ``Cache-Control: no-store``. :func:`send_refusal` does the same in ASGI terms and
closes a websocket with the refusal's close code::

    refusal = bearer_refusal(401, "invalid_token", "the token has expired")
    await send_refusal(scope, receive, send, refusal)

Header values never carry request text as is: whatever a refusal copies into a header is reduced
to printable ASCII, without quotes or backslashes inside quoted parameters.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ._state import state_of

if TYPE_CHECKING:
    from ._config import CognitoConfig

__all__ = [
    "ErrorPage",
    "Refusal",
    "bearer_challenge",
    "bearer_refusal",
    "header_param",
    "is_browser_navigation",
    "login_refusal",
    "login_url",
    "redirect_target",
    "render",
    "send_refusal",
    "unavailable_refusal",
    "wants_html",
]

logger = logging.getLogger("cognito_middleware")

WS_POLICY_VIOLATION = 1008
RETRY_AFTER = "5"
_PARAM_MAX = 200

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
color:#222}} h1{{font-size:1.5rem}} p.detail{{color:#555}} a.button{{display:inline-block;
margin-top:1rem;padding:.5rem 1rem;background:#0b5fff;color:#fff;border-radius:4px;
text-decoration:none}}</style></head>
<body><h1>{title}</h1><p>{message}</p>{detail}{link}</body></html>
"""

_TITLES = {
    400: "Sign-in failed",
    401: "Sign-in required",
    403: "Access denied",
    502: "Sign-in failed",
    503: "Sign-in service unavailable",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why a request is refused, independent of how the answer is rendered.

    ``error`` is a short machine code (``login_required``, ``forbidden``, ``invalid_token``,
    ``temporarily_unavailable``, ``invalid_request``, ...), ``message`` a sentence for people,
    ``detail`` optional extra text (which groups are missing, Cognito's
    ``error_description``). ``sign_in`` is the sign-in URL for a refusal that signing in
    resolves: browser navigations are redirected there (``303``, following
    ``config.login_redirect``) and pages link to it. ``link`` is another ``(href, label)``
    way forward shown on the page. ``headers`` are added to the answer (``WWW-Authenticate``,
    ``Retry-After``). ``page`` forces an HTML page (``True``) or JSON (``False``) whatever the
    request asks for. ``close_code`` and ``close_reason`` (default: ``error``) close a refused
    websocket::

        Refusal(status=403, error="forbidden", message="Not for you.", detail="group: admins")
    """

    status: int
    error: str
    message: str
    detail: str | None = None
    sign_in: str | None = None
    link: tuple[str, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    page: bool | None = None
    close_code: int = WS_POLICY_VIOLATION
    close_reason: str = ""

    def __post_init__(self) -> None:
        if not self.close_reason:
            object.__setattr__(self, "close_reason", self.error)

    def body(self) -> dict[str, str]:
        """The JSON body: ``{"error": ..., "message": ...}`` plus ``"detail"`` when there is one."""
        payload = {"error": self.error, "message": self.message}
        if self.detail:
            payload["detail"] = self.detail
        return payload


ErrorPage = Callable[[Request, Refusal], Response | None]
"""``CognitoConfig.error_page``: the app's own page for a refusal, or ``None`` for the
built-in one."""


# Reading the request ------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _has_bearer(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return bool(value[:7].lower() == b"bearer ")
    return False


def is_browser_navigation(scope: Scope) -> bool:
    """A top-level page load by a browser (not fetch/XHR, not an API client with a token)."""
    if _has_bearer(scope):
        return False
    mode = _header(scope, b"sec-fetch-mode")
    if mode:
        return mode == "navigate"
    if _header(scope, b"x-requested-with").lower() == "xmlhttprequest":
        return False
    return "text/html" in _header(scope, b"accept")


def wants_html(scope: Scope) -> bool:
    """Whether an error should be rendered as a page rather than JSON."""
    if _has_bearer(scope):
        return False
    mode = _header(scope, b"sec-fetch-mode")
    if mode and mode != "navigate":
        return False
    return "text/html" in _header(scope, b"accept") or mode == "navigate"


def _next_target(scope: Scope) -> str:
    path: str = scope.get("path") or "/"
    # A leading "//" would read as another host once it comes back as a redirect target.
    target = "/" + quote(path.lstrip("/"), safe="/:@!$&'()*+,;=-._~")
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return target


def login_url(scope: Scope, config: CognitoConfig | None) -> str:
    """The sign-in URL that brings the user back to the current path and query
    (under the default ``/auth`` prefix when ``config`` is ``None``)."""
    prefix = config.auth_prefix if config is not None else "/auth"
    return f"{prefix}/login?{urlencode({'next': _next_target(scope)})}"


# Headers ------------------------------------------------------------------------------------


def header_param(text: str, limit: int = _PARAM_MAX) -> str:
    """``text`` made safe inside a quoted header parameter: printable ASCII only, no quotes
    or backslashes, at most ``limit`` characters."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')[:limit]


def _header_value(text: str) -> str:
    # Whatever a caller built, a header value is printable ASCII: no CR/LF, nothing that
    # Latin-1 encoding would turn into an exception.
    if text.isascii() and text.isprintable():
        return text
    return "".join(c for c in text if " " <= c <= "~")


def bearer_challenge(
    error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    """A ``WWW-Authenticate: Bearer`` value (RFC 6750) with safely quoted parameters::

    bearer_challenge("invalid_token", "the token has expired")
    # 'Bearer error="invalid_token", error_description="the token has expired"'
    """
    params = [
        f'{name}="{header_param(value)}"'
        for name, value in (("error", error), ("error_description", description), ("scope", scope))
        if value is not None
    ]
    return "Bearer " + ", ".join(params) if params else "Bearer"


def _headers(
    pairs: Iterable[tuple[str, str]] | Mapping[str, str] | None,
) -> tuple[tuple[str, str], ...]:
    if pairs is None:
        return ()
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return tuple((name, _header_value(value)) for name, value in items)


# Common refusals ----------------------------------------------------------------------------


def login_refusal(scope: Scope, config: CognitoConfig | None) -> Refusal:
    """``401 login_required`` with ``WWW-Authenticate: Bearer``; browser navigations are sent
    to sign in (back to this path and query)."""
    return Refusal(
        status=401,
        error="login_required",
        message="Sign in to continue.",
        sign_in=login_url(scope, config),
        headers=(("WWW-Authenticate", "Bearer"),),
    )


def unavailable_refusal(
    message: str,
    *,
    error: str = "temporarily_unavailable",
    detail: str | None = None,
    page: bool | None = None,
) -> Refusal:
    """``503`` with ``Retry-After``: something the answer depends on is unreachable."""
    return Refusal(
        status=503,
        error=error,
        message=message,
        detail=detail,
        headers=(("Retry-After", RETRY_AFTER),),
        page=page,
    )


def bearer_refusal(status: int, error: str, reason: str) -> Refusal:
    """A Bearer token that cannot be accepted, always answered as JSON.

    ``401`` (``error="invalid_token"``): ``WWW-Authenticate: Bearer error="invalid_token",
    error_description="<reason>"``; ``503``: the token could not be checked, ``Retry-After``.
    """
    if status == 401:
        return Refusal(
            status=401,
            error=error,
            message="The access token is not valid.",
            detail=reason,
            headers=(("WWW-Authenticate", bearer_challenge("invalid_token", reason)),),
            page=False,
        )
    return unavailable_refusal("Try again in a moment.", error=error, detail=reason, page=False)


# Rendering ----------------------------------------------------------------------------------


def _config_of(scope: Scope) -> CognitoConfig | None:
    state = state_of(scope)
    return state.config if state is not None else None


def redirect_target(
    scope: Scope, refusal: Refusal, config: CognitoConfig | None = None
) -> str | None:
    """Where the refused request is sent with a ``303``, if anywhere.

    Only a refusal with ``sign_in`` is redirected, never for a request with a Bearer token:
    always with ``login_redirect='always'``, never with ``'never'``, and for a browser
    navigation with ``'auto'`` (the default). ``303`` rather than ``307``, so that a refused
    ``POST`` is never replayed.
    """
    if refusal.sign_in is None or _has_bearer(scope):
        return None
    if config is None:
        config = _config_of(scope)
    mode = config.login_redirect if config is not None else "auto"
    if mode == "always" or (mode == "auto" and is_browser_navigation(scope)):
        return refusal.sign_in
    return None


def render(
    scope: Scope,
    refusal: Refusal,
    *,
    config: CognitoConfig | None = None,
    set_cookies: Iterable[str] = (),
) -> Response:
    """The HTTP answer to ``refusal`` for this request (see the module docstring).

    ``config`` defaults to the middleware's (from the request state); without either, the
    defaults apply and no ``error_page`` is consulted. ``set_cookies`` are added as
    ``Set-Cookie`` headers::

        return render(request.scope, Refusal(status=403, error="forbidden", message="No."))
    """
    target = redirect_target(scope, refusal, config)
    response: Response
    if target is not None:
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    else:
        headers = {"Cache-Control": "no-store", **dict(_headers(refusal.headers))}
        as_html = wants_html(scope) if refusal.page is None else refusal.page
        if not as_html:
            response = JSONResponse(refusal.body(), status_code=refusal.status, headers=headers)
        else:
            if config is None:
                config = _config_of(scope)
            custom = None
            if config is not None and config.error_page is not None:
                custom = _custom_page(config.error_page, scope, refusal)
            if custom is None:
                response = HTMLResponse(_page(refusal), status_code=refusal.status, headers=headers)
            else:
                response = custom
                for name, value in headers.items():
                    if name not in response.headers:
                        response.headers[name] = value
    for value in set_cookies:
        response.headers.append("set-cookie", value)
    return response


def _custom_page(hook: ErrorPage, scope: Scope, refusal: Refusal) -> Response | None:
    if scope.get("type") != "http":
        return None
    try:
        response = hook(Request(scope), refusal)
    except Exception:
        # The refusal still goes out, as the built-in page: a broken template must not turn
        # a 401 into a 500.
        logger.exception(
            "error_page failed for a %d %s; using the built-in page", refusal.status, refusal.error
        )
        return None
    if response is not None and not isinstance(response, Response):
        logger.error(
            "error_page returned %s, not a Response; using the built-in page",
            type(response).__name__,
        )
        return None
    return response


def _page(refusal: Refusal) -> str:
    link = refusal.link
    if link is None and refusal.sign_in is not None:
        link = (refusal.sign_in, "Sign in")
    return _PAGE.format(
        title=html.escape(_TITLES.get(refusal.status, "Error")),
        message=html.escape(refusal.message),
        detail=f'<p class="detail">{html.escape(refusal.detail)}</p>' if refusal.detail else "",
        link=(
            f'<a class="button" href="{html.escape(link[0], quote=True)}">'
            f"{html.escape(link[1])}</a>"
            if link
            else ""
        ),
    )


async def send_refusal(
    scope: Scope,
    receive: Receive,
    send: Send,
    refusal: Refusal,
    *,
    config: CognitoConfig | None = None,
    set_cookies: Iterable[str] = (),
) -> None:
    """Answer a refused HTTP request with :func:`render`; close a refused websocket with
    ``refusal.close_code`` (``1008`` unless said otherwise) and its close reason."""
    if scope["type"] == "websocket":
        await send(
            {"type": "websocket.close", "code": refusal.close_code, "reason": refusal.close_reason}
        )
        return
    response = render(scope, refusal, config=config, set_cookies=set_cookies)
    await response(scope, receive, send)
