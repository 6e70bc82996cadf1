"""Authenticated encryption of small values under keys derived from the session secrets.

AES-GCM from ``cryptography``; one key per (secret, purpose) derived with HKDF-SHA256, so a value
sealed for one purpose (a login transaction) never opens as another (a session). The first
secret seals, every secret opens: that is how secrets rotate.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._config import Secret

__all__ = ["Sealer"]

_NONCE = 12
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_UNUSED_BITS = {0: 1, 2: 16, 3: 4}
"""Unpadded base64 of n bytes ends in a character whose low bits are zero; the divisor."""


def _decode(text: str) -> bytes | None:
    """The bytes of ``text`` if it is exactly what :meth:`Sealer.seal` writes for them:
    unpadded base64url, nothing else (no padding, whitespace, standard alphabet, or a last
    character with unused bits set), so that only the issued spelling opens."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    divisor = _UNUSED_BITS.get(len(raw) % 4)
    if not raw or divisor is None or b"+" in raw or b"/" in raw or b"=" in raw:
        return None
    last = _ALPHABET.find(raw[-1:])
    if last < 0 or last % divisor:
        return None
    try:
        return binascii.a2b_base64(
            raw.translate(_FROM_URLSAFE) + b"=" * (-len(raw) % 4), strict_mode=True
        )
    except binascii.Error:
        return None


def _derive(secret: Secret, purpose: str) -> AESGCM:
    info = f"cognito-middleware:{purpose}".encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.get().encode()
    )
    return AESGCM(key)


class Sealer:
    """Seal bytes into URL-safe text and open them again; ``open`` returns ``None`` on any
    tampering, truncation, wrong key or wrong associated data."""

    def __init__(self, secrets: Sequence[Secret], purpose: str) -> None:
        if not secrets:
            raise ValueError("at least one secret is required")
        self._keys = [_derive(s, purpose) for s in secrets]

    def seal(self, data: bytes, associated: bytes = b"") -> str:
        nonce = os.urandom(_NONCE)
        blob = nonce + self._keys[0].encrypt(nonce, data, associated)
        return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")

    def open(self, text: str, associated: bytes = b"") -> bytes | None:
        blob = _decode(text)
        if blob is None or len(blob) < _NONCE + 16:
            return None
        nonce, body = blob[:_NONCE], blob[_NONCE:]
        for key in self._keys:
            try:
                return key.decrypt(nonce, body, associated)
            except InvalidTag:
                continue
        return None
