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

from cognito_middleware.sessions.base import SessionData

__all__ = ["distinct_sessions", "retoken"]


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
    return f"{header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"


def distinct_sessions(template: SessionData, count: int) -> list[SessionData]:
    """``count`` sessions of distinct users, signed in now, shaped like ``template``."""
    now = time.time()
    sessions = []
    for index in range(count):
        sessions.append(template.evolve(
            session_id=secrets.token_urlsafe(16),
            id_token=retoken(template.id_token, index),
            access_token=retoken(template.access_token, index),
            refresh_token=(template.refresh_token or "")[:-8] + secrets.token_hex(4),
            created_at=now,
            last_seen=now,
        ))
    return sessions
