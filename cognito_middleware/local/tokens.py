"""JWTs with Cognito's header and claim sets, and opaque JWE-shaped refresh tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from typing import Any

from .keys import KeyRing, SigningKey

__all__ = ["at_hash", "b64url", "decode_jwt", "encode_jwt", "new_refresh_token"]

_REFRESH_HEADER = {"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], key: SigningKey) -> str:
    """Sign ``claims`` with RS256; the header is exactly ``{"kid": ..., "alg": "RS256"}``."""
    header = json.dumps({"kid": key.kid, "alg": "RS256"}, separators=(",", ":"))
    payload = json.dumps(claims, separators=(",", ":"))
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def decode_jwt(token: str, keys: KeyRing) -> dict[str, Any] | None:
    """The claims of a token signed by one of the published keys, else ``None``.

    Time claims are the caller's business (the emulator's clock can be offset).
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 16_384:
        return None
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        return None
    key = keys.find(header["kid"])
    if key is None or not key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii")):
        return None
    return claims


def at_hash(access_token: str) -> str:
    """OIDC ``at_hash``: left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def new_refresh_token() -> str:
    """An unguessable, JWE-compact-shaped opaque string of about 1.8 KB, like Cognito's.

    The emulator keeps the meaning server-side; the content is random.
    """
    header = b64url(json.dumps(_REFRESH_HEADER, separators=(",", ":")).encode())
    return ".".join(
        (
            header,
            b64url(secrets.token_bytes(256)),  # RSA-OAEP encrypted content key
            b64url(secrets.token_bytes(12)),  # GCM IV
            b64url(secrets.token_bytes(1024)),  # ciphertext
            b64url(secrets.token_bytes(16)),  # GCM tag
        )
    )
