"""A browser's part in the hosted UI: reading the emulator's forms and signing in through them."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["HTMLForm", "find_forms", "sign_in"]


class HTMLForm:
    """A form found in a page: ``action``, ``method`` and its named input values."""

    def __init__(self, action: str, method: str, name: str, form_id: str) -> None:
        self.action = action
        self.method = method
        self.name = name
        self.id = form_id
        self.fields: dict[str, str] = {}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HTMLForm] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                HTMLForm(
                    values.get("action", ""),
                    values.get("method", "get").lower(),
                    values.get("name", ""),
                    values.get("id", ""),
                )
            )
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def find_forms(html: str) -> list[HTMLForm]:
    """The forms of an HTML page (enough for the emulator's pages, not a general parser)."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


async def sign_in(
    client: httpx.AsyncClient, url: str, username: str, password: str, *, max_steps: int = 12
) -> httpx.Response:
    """Act as a browser from ``url`` (usually an ``/oauth2/authorize`` URL) through the
    emulator's pages: follow its redirects, fill in the sign-in form (Cognito's or a simulated
    IdP's), submit SAML POST-binding forms.

    Returns the first response that leaves the emulator (the redirect to the app's callback,
    whose ``Location`` holds ``code`` or ``error``) or the page it stopped on (e.g. the form
    again, showing a wrong password).
    """
    origin = urlsplit(str(client.base_url)).netloc
    response = await client.get(url, follow_redirects=False)
    for _ in range(max_steps):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if urlsplit(target).netloc not in ("", origin):
                return response
            response = await client.get(target, follow_redirects=False)
            continue
        forms = find_forms(response.text) if response.status_code == 200 else []
        signin = next((f for f in forms if "password" in f.fields), None)
        saml = next((f for f in forms if "SAMLResponse" in f.fields), None)
        if signin is not None and response.request.method == "GET":
            data = {**signin.fields, "username": username, "password": password}
        elif saml is not None:
            data, signin = saml.fields, saml
        else:
            return response
        action = urljoin(str(response.url), signin.action)
        response = await client.post(action, data=data, follow_redirects=False)
    return response
