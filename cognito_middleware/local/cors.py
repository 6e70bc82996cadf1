"""CORS as Cognito answers it, for the endpoints single-page apps call with ``fetch``.

- The JSON APIs at ``POST /`` (identity pool, user pool API), like every AWS JSON endpoint:
  ``Access-Control-Allow-Origin: *``, the AWS headers exposed (``x-amzn-RequestId``,
  ``x-amzn-ErrorType``, ``x-amzn-ErrorMessage``, ``Date``), no credentials.
- The OAuth endpoints ``/oauth2/token``, ``/oauth2/revoke``, ``/oauth2/userInfo``: the
  caller's ``Origin`` echoed with ``Access-Control-Allow-Credentials: true`` and
  ``Vary: Origin``.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on these paths
is answered here with ``200`` and the allowed methods and headers (``content-type``,
``x-amz-target``, ``x-amz-user-agent``, ``authorization`` and the SDKs' other headers, plus
any well-formed header the browser asks for). Other paths (the hosted UI's pages) get no CORS
headers: browsers navigate to them.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CorsMiddleware"]

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-amz-target",
    "x-amz-user-agent",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "cache-control",
)
EXPOSED_HEADERS = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"
JSON_API_MAX_AGE = "172800"
OAUTH_MAX_AGE = "3600"

_JSON_API = {"/": "POST, OPTIONS"}
_OAUTH = {
    "/oauth2/token": "POST, OPTIONS",
    "/oauth2/revoke": "POST, OPTIONS",
    "/oauth2/userInfo": "GET, POST, OPTIONS",
}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_ORIGIN = re.compile(r"^(?:null|https?://[A-Za-z0-9.\-\[\]:]{1,253}(?::\d{1,5})?)$")


class CorsMiddleware:
    """Answers CORS preflights and adds ``Access-Control-*`` headers on the JSON APIs and the
    OAuth endpoints (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        json_api = path in _JSON_API
        methods = _JSON_API.get(path) or _OAUTH.get(path)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if methods is None or origin is None:
            await self.app(scope, receive, send)
            return
        if not _ORIGIN.match(origin):
            # Not a value a browser sends; never reflected into a response header.
            await self.app(scope, receive, send)
            return
        cors = self._cors_headers(origin, json_api)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            requested = [
                h.strip().lower()
                for h in headers.get("access-control-request-headers", "").split(",")
            ]
            allowed = list(ALLOWED_HEADERS)
            allowed += [h for h in requested if _TOKEN.match(h) and h not in allowed][:32]
            preflight = [
                *cors,
                (b"access-control-allow-methods", methods.encode()),
                (b"access-control-allow-headers", ", ".join(allowed).encode()),
                (
                    b"access-control-max-age",
                    (JSON_API_MAX_AGE if json_api else OAUTH_MAX_AGE).encode(),
                ),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": preflight})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in cors:
                    if name == b"vary":
                        response_headers.add_vary_header(value.decode())
                    else:
                        response_headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _cors_headers(origin: str, json_api: bool) -> list[tuple[bytes, bytes]]:
        if json_api:
            return [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            ]
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
