"""HTML of the hosted UI and of the simulated IdPs (escaped, self-contained, no scripts except
the SAML POST-binding auto-submit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

__all__ = ["auto_post_page", "error_page", "login_page"]

_STYLE = """body{font-family:system-ui,sans-serif;background:#f2f3f3;margin:0;color:#16191f}
main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:6px;
box-shadow:0 1px 4px rgba(0,0,0,.15)} h1{font-size:1.3rem;margin-top:0}
label{display:block;margin:.8rem 0 .2rem} input[type=text],input[type=password]{width:100%;
box-sizing:border-box;padding:.5rem;border:1px solid #aab7b8;border-radius:3px}
button,a.idp{display:block;width:100%;box-sizing:border-box;margin-top:1.2rem;padding:.6rem;
border:0;border-radius:3px;background:#ec7211;color:#fff;font-size:1rem;text-align:center;
text-decoration:none;cursor:pointer} a.idp{background:#0073bb}
p.error{color:#d13212;background:#fde8e4;padding:.5rem;border-radius:3px}
p.note{color:#687078;font-size:.8rem} .banner-customizable{text-align:center;margin-bottom:1rem}
.logo-customizable{max-width:100%;max-height:6rem}"""

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _page(
    title: str,
    body: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    css: str | None = None,
) -> HTMLResponse:
    # ``css`` comes sanitised from the branding module (no "<" left in it).
    custom = f'<style id="customizable-css">{css}</style>' if css else ""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{custom}</head>"
        f'<body><main class="background-customizable">{body}</main></body></html>'
    )
    return HTMLResponse(html, status_code=status, headers={**_NO_STORE, **(headers or {})})


def login_page(
    *,
    title: str,
    heading: str,
    action: str,
    error: str | None = None,
    show_form: bool = True,
    hidden: Mapping[str, str] | None = None,
    providers: Sequence[tuple[str, str]] = (),
    note: str = "",
    username: str = "",
    css: str | None = None,
    logo_url: str | None = None,
) -> HTMLResponse:
    """A sign-in form posting ``username`` and ``password`` to ``action``; ``providers`` are
    (label, URL) buttons for federated sign-in. The elements carry the classic hosted UI's
    ``*-customizable`` classes that the branding ``css`` (already sanitised) styles."""
    parts = []
    if logo_url:
        parts.append(
            '<div class="banner-customizable"><img class="logo-customizable" '
            f'src="{escape(logo_url)}" alt="logo"></div>'
        )
    parts.append(f'<h1 class="textDescription-customizable">{escape(heading)}</h1>')
    if error:
        parts.append(
            '<p class="error errorMessage-customizable" id="loginErrorMessage" '
            f'role="alert">{escape(error)}</p>'
        )
    for label, url in providers:
        parts.append(
            f'<a class="idp idpButton-customizable" href="{escape(url)}">{escape(label)}</a>'
        )
    if show_form:
        fields = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in (hidden or {}).items()
        )
        parts.append(
            f'<form method="post" action="{escape(action)}" name="signin">{fields}'
            '<label for="username" class="label-customizable">Username</label>'
            f'<input id="username" name="username" type="text" autocomplete="username" '
            f'class="inputField-customizable" value="{escape(username)}" autofocus required>'
            '<label for="password" class="label-customizable">Password</label>'
            '<input id="password" name="password" type="password" '
            'class="inputField-customizable" autocomplete="current-password" required>'
            '<button type="submit" name="signInSubmitButton" '
            'class="submitButton-customizable">Sign in</button></form>'
        )
    if note:
        parts.append(f'<p class="note legalText-customizable">{escape(note)}</p>')
    return _page(title, "".join(parts), css=css)


def error_page(error: str, description: str = "", *, status: int = 400) -> HTMLResponse:
    """Cognito's generic error page."""
    detail = f"<p>{escape(description)}</p>" if description else ""
    return _page(
        "Error",
        "<h1>An error was encountered with the requested page.</h1>"
        f'<p class="error" id="errorMessage">{escape(error)}</p>{detail}',
        status=status,
    )


def auto_post_page(action: str, fields: Mapping[str, str], *, title: str) -> HTMLResponse:
    """SAML HTTP-POST binding: a form that submits itself (with a button when scripts are off)."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = (
        f"<h1>{escape(title)}</h1><p>Signing you in&hellip;</p>"
        f'<form method="post" action="{escape(action)}" id="samlform">{inputs}'
        '<button type="submit">Continue</button></form>'
        "<script>document.getElementById('samlform').submit()</script>"
    )
    return _page(title, body)
