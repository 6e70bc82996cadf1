"""Realistic Cognito-shaped tokens, sessions and a minimal browser cookie jar."""

from __future__ import annotations

import base64
import json
import random
import secrets
import struct
import uuid
import zlib
from collections.abc import Iterable

from cognito_middleware.sessions import SessionData

POOL = "eu-west-1_AbCdEf123"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
CLIENT_ID = "4hqt9ikctmesulmh0hbqbs00ta"
NOW = 1_764_150_000.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(obj: object) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


def id_token(rng: random.Random, groups: int = 1, now: float = NOW) -> str:
    """An RS256 ID token shaped like Cognito's for a user federated from Azure AD (SAML).

    Group names are Azure AD object ids (GUIDs): the realistic worst case for compression.
    """
    claims: dict[str, object] = {"sub": _uuid(rng)}
    if groups:
        claims["cognito:groups"] = [f"{POOL}_AzureAD"] + [_uuid(rng) for _ in range(groups - 1)]
    claims |= {
        "email_verified": False,
        "iss": ISSUER,
        "cognito:username": f"azuread_{rng.randbytes(12).hex()}@example.com",
        "origin_jti": _uuid(rng),
        "aud": CLIENT_ID,
        "identities": [
            {
                "dateCreated": "1764150000000",
                "userId": f"{rng.randbytes(12).hex()}@example.com",
                "providerName": "AzureAD",
                "providerType": "SAML",
                "issuer": f"https://sts.windows.net/{_uuid(rng)}/",
                "primary": "true",
            }
        ],
        "token_use": "id",
        "auth_time": int(now),
        "exp": int(now) + 3600,
        "iat": int(now),
        "jti": _uuid(rng),
        "email": "jane.doe@example.com",
    }
    header = {"kid": _b64(rng.randbytes(32)) + "=", "alg": "RS256"}
    return f"{_segment(header)}.{_segment(claims)}.{_b64(rng.randbytes(256))}"


def access_token(rng: random.Random, now: float = NOW) -> str:
    """An RS256 access token shaped like Cognito's (about 1.1 KB)."""
    sub = _uuid(rng)
    claims = {
        "sub": sub,
        "cognito:groups": [f"{POOL}_AzureAD"],
        "iss": ISSUER,
        "version": 2,
        "client_id": CLIENT_ID,
        "origin_jti": _uuid(rng),
        "event_id": _uuid(rng),
        "token_use": "access",
        "scope": "openid profile email",
        "auth_time": int(now),
        "exp": int(now) + 3600,
        "iat": int(now),
        "jti": _uuid(rng),
        "username": f"azuread_{rng.randbytes(12).hex()}@example.com",
    }
    header = {"kid": _b64(rng.randbytes(32)) + "=", "alg": "RS256"}
    return f"{_segment(header)}.{_segment(claims)}.{_b64(rng.randbytes(256))}"


def refresh_token(rng: random.Random) -> str:
    """A JWE (RSA-OAEP + A256GCM) like Cognito's opaque refresh tokens (about 1.8 KB)."""
    header = {"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"}
    parts = [rng.randbytes(256), rng.randbytes(12), rng.randbytes(1000), rng.randbytes(16)]
    return ".".join([_segment(header), *(_b64(p) for p in parts)])


def make_session(
    now: float = NOW, *, groups: int = 1, seed: int | None = None, **changes: object
) -> SessionData:
    """A fresh session (new 128-bit id) with realistic tokens, created and seen at ``now``."""
    rng = random.Random(seed if seed is not None else secrets.randbits(64))
    session = SessionData(
        session_id=secrets.token_hex(16),
        id_token=id_token(rng, groups, now),
        access_token=access_token(rng, now),
        refresh_token=refresh_token(rng),
        expires_at=now + 3600,
        created_at=now,
        last_seen=now,
        refresh_expires_at=now + 30 * 24 * 3600,
        identity_id=f"eu-west-1:{_uuid(rng)}",
        extra={"provider": "AzureAD"},
    )
    return session.evolve(**changes) if changes else session


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """``(name, value, attributes)``; attribute names lower-cased, flags map to ``""``."""
    first, *rest = header.split(";")
    name, _, value = first.strip().partition("=")
    attrs = {}
    for item in rest:
        key, _, val = item.strip().partition("=")
        attrs[key.lower()] = val
    if value == '""':
        value = ""
    return name, value, attrs


class Jar(dict[str, str]):
    """The cookies a browser would send back after applying ``Set-Cookie`` headers."""

    def apply(self, headers: Iterable[str]) -> Jar:
        for header in headers:
            name, value, attrs = parse_set_cookie(header)
            if attrs.get("max-age") == "0":
                self.pop(name, None)
            else:
                self[name] = value
        return self


def token_fragments(session: SessionData) -> list[str]:
    """Pieces of the session's tokens that must never appear in a cookie or at rest."""
    fragments: list[str] = []
    for token in (session.id_token, session.access_token, session.refresh_token):
        assert token is not None
        fragments.extend(part[:16] for part in token.split(".") if len(part) >= 16)
    return fragments


def legacy_format_1(session: SessionData) -> bytes:
    """``session`` as versions before format 2 sealed it:
    ``0x01 | zlib(head | "\\n" | token | token | token)``, each token either absent (``0``),
    text (``1``, 4-byte size) or base64url segments as raw bytes (``2``, count, 2-byte sizes)."""
    head = json.dumps(
        [
            session.session_id,
            session.expires_at,
            session.created_at,
            session.last_seen,
            session.refresh_expires_at,
            session.identity_id,
            dict(session.extra),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    out = [head, b"\n"]
    for token in (session.id_token, session.access_token, session.refresh_token):
        if token is None:
            out.append(b"\x00")
            continue
        segments = token.split(".")
        raws = []
        for segment in segments:
            try:
                raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            except ValueError:
                break
            if _b64(raw) != segment:
                break
            raws.append(raw)
        if len(segments) > 1 and len(raws) == len(segments):
            out.append(bytes((2, len(raws))))
            for raw in raws:
                out.append(struct.pack(">H", len(raw)) + raw)
        else:
            text = token.encode()
            out.append(b"\x01" + struct.pack(">I", len(text)) + text)
    return b"\x01" + zlib.compress(b"".join(out), 6)
