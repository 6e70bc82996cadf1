"""Error answers: an escaped HTML page for browsers, JSON for APIs.

Every refusal the middleware makes goes through here, so a browser always sees a readable page
with a way forward and an API client always gets ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

__all__ = ["error_response", "is_browser_navigation", "wants_html"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
color:#222}} h1{{font-size:1.5rem}} p.detail{{color:#555}} a.button{{display:inline-block;
margin-top:1rem;padding:.5rem 1rem;background:#0b5fff;color:#fff;border-radius:4px;
text-decoration:none}}</style></head>
<body><h1>{title}</h1><p>{message}</p>{detail}{link}</body></html>
"""

_NO_STORE = {"Cache-Control": "no-store"}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def is_browser_navigation(scope: Scope) -> bool:
    """A top-level page load by a browser (not fetch/XHR, not an API client with a token)."""
    if _header(scope, b"authorization").lower().startswith("bearer "):
        return False
    mode = _header(scope, b"sec-fetch-mode")
    if mode:
        return mode == "navigate"
    if _header(scope, b"x-requested-with").lower() == "xmlhttprequest":
        return False
    return "text/html" in _header(scope, b"accept")


def wants_html(scope: Scope) -> bool:
    """Whether an error should be rendered as a page rather than JSON."""
    if _header(scope, b"authorization").lower().startswith("bearer "):
        return False
    mode = _header(scope, b"sec-fetch-mode")
    if mode and mode != "navigate":
        return False
    return "text/html" in _header(scope, b"accept") or mode == "navigate"


def error_response(
    scope: Scope,
    status: int,
    error: str,
    message: str,
    *,
    detail: str | None = None,
    link: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    html_page: bool | None = None,
) -> Response:
    """An error as an escaped HTML page (browsers) or JSON (APIs).

    ``error`` is a short machine code (``login_required``, ``forbidden``, ...), ``message`` a
    sentence for people, ``detail`` optional extra text (e.g. Cognito's ``error_description``),
    ``link`` an optional ``(href, label)`` offering a way forward.
    """
    all_headers = {**_NO_STORE, **(headers or {})}
    as_html = wants_html(scope) if html_page is None else html_page
    if as_html:
        body = _PAGE.format(
            title=html.escape(_title(status)),
            message=html.escape(message),
            detail=f'<p class="detail">{html.escape(detail)}</p>' if detail else "",
            link=(
                f'<a class="button" href="{html.escape(link[0], quote=True)}">'
                f"{html.escape(link[1])}</a>"
                if link
                else ""
            ),
        )
        return HTMLResponse(body, status_code=status, headers=all_headers)
    payload: dict[str, str] = {"error": error, "message": message}
    if detail:
        payload["detail"] = detail
    return JSONResponse(payload, status_code=status, headers=all_headers)


def _title(status: int) -> str:
    return {
        400: "Sign-in failed",
        401: "Sign-in required",
        403: "Access denied",
        502: "Sign-in failed",
        503: "Sign-in service unavailable",
    }.get(status, "Error")
