"""Many distinct sessions and users, derived from one real sign-in.

Signing a token costs the emulator ~1.5 ms of RSA, too slow for 10^5 users. The session path
never re-verifies the tokens it sealed (they were verified at sign-in), so distinct sessions
get distinct tokens by rewriting the payload of the real ones (another ``sub``, username and
``jti``) while keeping their header, signature bytes and sizes.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid

from cognito_middleware import CognitoConfig
from cognito_middleware.sessions import CookieSessionStore, CookieSettings, SessionStore
from cognito_middleware.sessions._base import SessionData

__all__ = ["cookie_header_of", "distinct_sessions", "issuer_store", "retoken"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def retoken(token: str, index: int) -> str:
    """``token`` for user number ``index``: same shape and size, different identity."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.UUID(int=index + 1))
    claims["jti"] = str(uuid.uuid4())
    for name in ("username", "cognito:username"):
        if name in claims:
            claims[name] = f"user{index:06d}"
    if "email" in claims:
        claims["email"] = f"user{index:06d}@example.com"
    # A signature of its own, as every real token has: what is keyed by a token's signature
    # must not mistake one user's token for another's. (Tokens opened from a session are
    # never verified again, so it need not verify.)
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    signature = _b64(secrets.token_bytes(len(raw_signature)))
    return f"{header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"


def distinct_sessions(
    template: SessionData, count: int, *, start: int = 0, idle: float = 0.0
) -> list[SessionData]:
    """``count`` sessions of distinct users (numbers ``start`` onwards), signed in now and last
    seen ``idle`` seconds ago, shaped like ``template``."""
    now = time.time()
    sessions = []
    for index in range(start, start + count):
        sessions.append(
            template.evolve(
                session_id=secrets.token_urlsafe(16),
                id_token=retoken(template.id_token, index),
                access_token=retoken(template.access_token, index),
                refresh_token=(template.refresh_token or "")[:-8] + secrets.token_hex(4),
                created_at=now - idle,
                last_seen=now - idle,
            )
        )
    return sessions


def issuer_store(config: CognitoConfig) -> CookieSessionStore:
    """A cookie store with the middleware's secrets and cookie name that remembers nothing:
    the cookies it seals open in the middleware's store, which has never seen them (as after
    a restart, or on another worker)."""
    cookie = CookieSettings(name=config.cookie_name, secure=config.cookies_secure)
    return CookieSessionStore(config.session_secrets, cookie=cookie, cache_size=0)


async def cookie_header_of(store: SessionStore, session: SessionData) -> bytes:
    """The ``Cookie`` header a browser sends after ``store`` saved ``session``."""
    set_cookies = await store.save(session, {})
    pairs = [c.split(";", 1)[0] for c in set_cookies if "Max-Age=0" not in c]
    return "; ".join(pairs).encode("latin-1")
