"""The server side of Cognito's SRP-6a (``USER_SRP_AUTH`` / ``PASSWORD_VERIFIER``).

Cognito uses the 3072-bit MODP group of RFC 5054 with ``g = 2``, SHA-256, hex-string padding as
in amazon-cognito-identity-js (``AuthenticationHelper``), a 16-byte key derived with HKDF (info
``"Caldera Derived Key"``) from ``S`` and ``u``, and proves the password with an HMAC-SHA256 over
``pool name || USER_ID_FOR_SRP || SECRET_BLOCK || TIMESTAMP``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["SRPChallenge", "start", "valid_timestamp", "verify"]

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
_INFO = b"Caldera Derived Key\x01"
# "Tue Dec 1 23:48:15 UTC 2026": the day without a leading zero, as the JS SDK formats it.
_TIMESTAMP = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC \d{4}$"
)


def _pad_hex(value: int | str) -> str:
    """The SDK's ``padHex``: even length, and a leading ``00`` when the high bit is set."""
    text = f"{value:x}" if isinstance(value, int) else value
    if len(text) % 2:
        return "0" + text
    if text[0] in "89abcdefABCDEF":
        return "00" + text
    return text


def _hash_hex(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


_K = int(_hash_hex("00" + N_HEX + "0" + f"{G:x}"), 16)


@dataclass(frozen=True)
class SRPChallenge:
    """The server's half of one SRP exchange (the password verifier ``v`` included)."""

    user_id: str
    salt_hex: str
    verifier: int
    small_b: int
    big_b: int
    big_a: int
    secret_block: str

    @property
    def srp_b(self) -> str:
        """``SRP_B`` as Cognito sends it (hex, no padding)."""
        return f"{self.big_b:x}"


def _x(salt_hex: str, pool_name: str, user_id: str, password: str) -> int:
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    return int(_hash_hex(_pad_hex(salt_hex) + inner), 16)


def start(pool_name: str, user_id: str, password: str, srp_a_hex: str) -> SRPChallenge | None:
    """Begin an exchange for the client's ``SRP_A``; ``None`` when ``A`` is invalid.

    ``pool_name`` is the part of the pool id after ``_``; ``user_id`` is ``USER_ID_FOR_SRP``.
    """
    try:
        big_a = int(srp_a_hex, 16)
    except ValueError:
        return None
    if big_a % N == 0:
        return None
    salt_hex = _pad_hex(secrets.randbits(128) | 1 << 120)
    verifier = pow(G, _x(salt_hex, pool_name, user_id, password), N)
    while True:
        small_b = secrets.randbelow(N - 1) + 1
        big_b = (_K * verifier + pow(G, small_b, N)) % N
        if big_b:
            break
    secret_block = base64.standard_b64encode(secrets.token_bytes(64)).decode("ascii")
    return SRPChallenge(user_id, salt_hex, verifier, small_b, big_b, big_a, secret_block)


def verify(
    challenge: SRPChallenge, pool_name: str, timestamp: str, secret_block: str, signature: str
) -> bool:
    """Whether ``PASSWORD_CLAIM_SIGNATURE`` proves knowledge of the password."""
    if not secrets.compare_digest(secret_block.encode(), challenge.secret_block.encode()):
        return False
    u = int(_hash_hex(_pad_hex(challenge.big_a) + _pad_hex(challenge.big_b)), 16)
    if u == 0:
        return False
    s = pow(challenge.big_a * pow(challenge.verifier, u, N), challenge.small_b, N)
    prk = hmac.new(
        bytes.fromhex(_pad_hex(f"{u:x}")), bytes.fromhex(_pad_hex(s)), hashlib.sha256
    ).digest()
    key = hmac.new(prk, _INFO, hashlib.sha256).digest()[:16]
    message = (
        pool_name.encode()
        + challenge.user_id.encode()
        + base64.standard_b64decode(challenge.secret_block)
        + timestamp.encode()
    )
    expected = base64.standard_b64encode(hmac.new(key, message, hashlib.sha256).digest())
    return secrets.compare_digest(expected, signature.encode())


def valid_timestamp(timestamp: str) -> bool:
    """Whether ``TIMESTAMP`` has the format Cognito requires."""
    return _TIMESTAMP.match(timestamp) is not None
