"""RSA signing keys and the published JWKS (one key for ID tokens, one for access tokens)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["KeyRing", "SigningKey"]


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """An RSA-2048 key with a Cognito-style ``kid`` (standard base64 of 32 bytes)."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")
        return cls(kid=kid, private_key=key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.private_key.public_key().verify(
                signature, data, padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return False
        return True

    def snapshot(self) -> dict[str, str]:
        """``kid`` and the private key as unencrypted PKCS#8 PEM (for the state file)."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {"kid": self.kid, "private_key": pem.decode("ascii")}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> SigningKey:
        """The key of a :meth:`snapshot`; ``ValueError`` when it is not an RSA private key."""
        key = serialization.load_pem_private_key(
            str(data["private_key"]).encode("ascii"), password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(data["kid"], str):
            raise ValueError("a signing key must be an RSA private key with a kid")
        return cls(kid=data["kid"], private_key=key)

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "alg": "RS256",
            "e": _b64url_uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64url_uint(numbers.n),
            "use": "sig",
        }


class KeyRing:
    """The pool's keys: the current ID-token and access-token keys, plus retired keys still
    published after a rotation so that tokens already issued keep verifying."""

    def __init__(self, keys: tuple[SigningKey, SigningKey] | None = None) -> None:
        self.id_key, self.access_key = keys or (SigningKey.generate(), SigningKey.generate())
        self.retired: list[SigningKey] = []

    @property
    def published(self) -> list[SigningKey]:
        return [self.id_key, self.access_key, *self.retired]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.published]}

    def find(self, kid: str) -> SigningKey | None:
        for key in self.published:
            if key.kid == kid:
                return key
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id_key.snapshot(),
            "access": self.access_key.snapshot(),
            "retired": [key.snapshot() for key in self.retired],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.id_key = SigningKey.restore(data["id"])
        self.access_key = SigningKey.restore(data["access"])
        self.retired = [SigningKey.restore(key) for key in data["retired"]]

    def rotate(self, *, keep_old: bool = True) -> None:
        """New keys sign from now on; the previous ones stay published (``keep_old``) until
        the next rotation, or are withdrawn at once."""
        self.retired = [self.id_key, self.access_key] if keep_old else []
        self.id_key = SigningKey.generate()
        self.access_key = SigningKey.generate()
