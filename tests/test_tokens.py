"""TokenVerifier: Cognito's claim rules, forged and malformed tokens, the Bearer memo."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from authlib.oidc.core.util import create_half_hash
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

import cognito_middleware._tokens as tokens_module
from cognito_middleware._bearer import BearerAuthenticator, BearerRefused
from cognito_middleware._config import CognitoConfig
from cognito_middleware._jwks import JWKSCache
from cognito_middleware._tokens import TokenVerifier, at_hash
from cognito_middleware.exceptions import (
    ClaimError,
    CognitoUnavailableError,
    ExpiredTokenError,
    InvalidSignatureError,
    JWKSUnavailableError,
    KeyNotFoundError,
    MalformedTokenError,
    TokenError,
)
from cognito_middleware.testing import FrozenClock

REGION_POOL = "eu-west-1_Test123"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{REGION_POOL}"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
CLIENT = "4hqt9ikctmesulmh0hbqbs00ta"
MOBILE = "2todpsba6aij4tlrqhein3trrm"
UNTRUSTED = "7fakeclientid0000000000000"
# Far from the real date: a check against the wall clock instead of the injected one fails.
NOW = 1_500_000_000
EVIL_JWKS = "https://evil.example/jwks.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def _b64uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Key:
    """An RSA-2048 signing key with a Cognito-style ``kid``."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.b64encode(hashlib.sha256(self.der).digest()).decode()
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "alg": "RS256",
            "e": _b64uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64uint(numbers.n),
            "use": "sig",
        }

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


ID_KEY, ACCESS_KEY, ROTATED_KEY, ATTACKER_KEY = Key(), Key(), Key(), Key()


def id_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "at_hash": "placeholder",
        "sub": "7ee5da75-002a-4365-a62d-53df1c384970",
        "cognito:groups": ["admin"],
        "email_verified": True,
        "iss": ISSUER,
        "cognito:username": "alice",
        "nonce": "n-0S6_WzA2Mj",
        "origin_jti": "bc551b17",
        "aud": CLIENT,
        "token_use": "id",
        "auth_time": NOW - 10,
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "jti": "f681320a",
        "email": "alice@example.com",
    }
    claims.pop("at_hash")
    return _apply(claims, changes)


def access_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "sub": "7ee5da75-002a-4365-a62d-53df1c384970",
        "cognito:groups": ["admin"],
        "iss": ISSUER,
        "version": 2,
        "client_id": CLIENT,
        "origin_jti": "bc551b17",
        "event_id": "e1",
        "token_use": "access",
        "scope": "openid email",
        "auth_time": NOW - 10,
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "jti": "a1",
        "username": "alice",
    }
    return _apply(claims, changes)


DROP = object()


def _apply(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(claims: dict[str, Any], key: Key = ID_KEY, **header: Any) -> str:
    """A token as Cognito signs it: header exactly ``{"kid", "alg"}`` unless told otherwise."""
    if not isinstance(claims.get("iss", ""), str):  # pyjwt refuses to make these
        return forge({"kid": key.kid, "alg": "RS256", **header}, claims, rs256(key))
    headers = {"kid": key.kid, "typ": None, **header}
    if headers["kid"] is None:
        del headers["kid"]
    return jwt.encode(claims, key.private, algorithm="RS256", headers=headers)


def forge(
    header: dict[str, Any] | str,
    payload: dict[str, Any] | str,
    signer: Callable[[bytes], bytes] | None = None,
) -> str:
    """A token with any header, payload and signature, including ones pyjwt refuses to make."""
    head = header if isinstance(header, str) else _b64json(header)
    body = payload if isinstance(payload, str) else _b64json(payload)
    signing_input = f"{head}.{body}".encode()
    signature = _b64(signer(signing_input)) if signer else ""
    return f"{head}.{body}.{signature}"


def rs256(key: Key) -> Callable[[bytes], bytes]:
    return key.sign


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


class Issuer:
    """The pool's JWKS endpoint, plus an attacker's, to prove it is never contacted."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [ID_KEY.jwk, ACCESS_KEY.jwk]
        self.requests: list[str] = []
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if str(request.url) == JWKS_URL and not self.down:
            return httpx.Response(200, json={"keys": self.keys})
        if str(request.url) != JWKS_URL:
            return httpx.Response(200, json={"keys": [ATTACKER_KEY.jwk]})
        return httpx.Response(503)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def http(issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)) as client:
        yield client


@pytest.fixture
def make_verifier(http: httpx.AsyncClient, clock: FrozenClock) -> Callable[..., TokenVerifier]:
    def make(**options: Any) -> TokenVerifier:
        jwks = JWKSCache(JWKS_URL, http, clock=clock)
        return TokenVerifier(
            issuer=ISSUER, client_ids=[CLIENT, MOBILE], jwks=jwks, leeway=5, clock=clock, **options
        )

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., TokenVerifier]) -> TokenVerifier:
    return make_verifier()


# Valid tokens ----------------------------------------------------------------------------


async def test_a_cognito_id_token_verifies(verifier: TokenVerifier) -> None:
    token = sign(id_claims())
    assert jwt.get_unverified_header(token) == {"kid": ID_KEY.kid, "alg": "RS256"}
    claims = await verifier.verify_id_token(token, nonce="n-0S6_WzA2Mj")
    assert claims == id_claims()


async def test_a_cognito_access_token_verifies(verifier: TokenVerifier) -> None:
    claims = await verifier.verify_access_token(sign(access_claims(), ACCESS_KEY))
    assert claims == access_claims()


async def test_tokens_of_every_configured_client_verify(verifier: TokenVerifier) -> None:
    await verifier.verify_id_token(sign(id_claims(aud=MOBILE)))
    await verifier.verify_id_token(sign(id_claims(aud=[CLIENT, MOBILE])))
    await verifier.verify_access_token(sign(access_claims(client_id=MOBILE), ACCESS_KEY))


async def test_header_members_that_point_to_keys_are_ignored(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    token = sign(id_claims(), jku=EVIL_JWKS, x5u=EVIL_JWKS, jwk=ATTACKER_KEY.jwk)
    await verifier.verify_id_token(token)
    assert issuer.requests == [JWKS_URL]


# Signature and algorithm -----------------------------------------------------------------


async def test_a_tampered_payload_fails_the_signature(verifier: TokenVerifier) -> None:
    head, _, signature = sign(id_claims()).split(".")
    tampered = f"{head}.{_b64json(id_claims(sub='someone-else'))}.{signature}"
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(tampered)


async def test_a_signature_by_another_key_fails(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(sign(id_claims(), ATTACKER_KEY, kid=ID_KEY.kid))
    with pytest.raises(InvalidSignatureError):  # the pool's other key, the ID key's kid
        await verifier.verify_id_token(sign(id_claims(), ACCESS_KEY, kid=ID_KEY.kid))


@pytest.mark.parametrize(
    "alg",
    ["none", "None", "NONE", "nOnE", "", None],
    ids=["none", "None", "NONE", "nOnE", "empty", "null"],
)
@pytest.mark.parametrize("signed", [False, True], ids=["empty-signature", "rs256-signature"])
async def test_alg_none_is_refused(
    verifier: TokenVerifier, issuer: Issuer, alg: str | None, signed: bool
) -> None:
    token = forge({"kid": ID_KEY.kid, "alg": alg}, id_claims(), rs256(ID_KEY) if signed else None)
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(token)
    assert issuer.requests == []


async def test_a_missing_alg_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(forge({"kid": ID_KEY.kid}, id_claims(), rs256(ID_KEY)))


async def test_an_rs256_header_with_an_empty_signature_is_refused(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(forge({"kid": ID_KEY.kid, "alg": "RS256"}, id_claims()))
    assert issuer.requests == []  # refused before any key lookup


@pytest.mark.parametrize(
    "secret",
    [
        ID_KEY.pem,
        ID_KEY.pem.strip(),
        ID_KEY.der,
        json.dumps(ID_KEY.jwk).encode(),
        ID_KEY.jwk["n"].encode(),
    ],
    ids=["pem", "pem-stripped", "der", "jwk-json", "modulus"],
)
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, secret: bytes, alg: str
) -> None:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    token = forge(
        {"kid": ID_KEY.kid, "alg": alg},
        id_claims(),
        lambda data: hmac.new(secret, data, digest).digest(),
    )
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(token)


async def test_hs256_is_refused_even_when_the_header_claims_rs256(
    verifier: TokenVerifier,
) -> None:
    token = forge({"kid": ID_KEY.kid, "alg": "RS256"}, id_claims(), hs256(ID_KEY.pem))
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(token)


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "EdDSA", "rs256", "RS256 "])
async def test_only_rs256_is_accepted(verifier: TokenVerifier, alg: str) -> None:
    token = forge({"kid": ID_KEY.kid, "alg": alg}, id_claims(), rs256(ID_KEY))
    with pytest.raises(InvalidSignatureError):
        await verifier.verify_id_token(token)


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["b64"], "b64": True},
        {"crit": ["exp"], "exp": NOW},
        {"crit": []},
        {"crit": "b64"},
        {"b64": True},
    ],
    ids=["crit-b64-true", "crit-unknown", "crit-empty", "crit-string", "b64-alone"],
)
async def test_crit_and_b64_headers_are_refused(
    verifier: TokenVerifier, extra: dict[str, Any]
) -> None:
    token = forge({"kid": ID_KEY.kid, "alg": "RS256", **extra}, id_claims(), rs256(ID_KEY))
    with pytest.raises(MalformedTokenError):
        await verifier.verify_id_token(token)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
async def test_a_key_offered_in_the_header_is_never_trusted(
    verifier: TokenVerifier, issuer: Issuer, member: str
) -> None:
    offered: Any = {
        "jwk": ATTACKER_KEY.jwk,
        "jku": EVIL_JWKS,
        "x5u": EVIL_JWKS,
        "x5c": [_b64(ATTACKER_KEY.der)],
    }[member]
    for kid in (ATTACKER_KEY.kid, ID_KEY.kid, None):
        header = {"kid": kid, "alg": "RS256", member: offered}
        if kid is None:
            del header["kid"]
        token = forge(header, id_claims(), rs256(ATTACKER_KEY))
        with pytest.raises((KeyNotFoundError, InvalidSignatureError)):
            await verifier.verify_id_token(token)
    assert set(issuer.requests) == {JWKS_URL}


# Keys ------------------------------------------------------------------------------------


async def test_an_unknown_kid_is_refused_after_one_refetch(
    verifier: TokenVerifier, issuer: Issuer, clock: FrozenClock
) -> None:
    await verifier.verify_id_token(sign(id_claims()))
    clock.now += 30
    with pytest.raises(KeyNotFoundError):
        await verifier.verify_id_token(sign(id_claims(), ATTACKER_KEY))
    assert issuer.requests == [JWKS_URL, JWKS_URL]


async def test_a_key_rotation_is_picked_up(
    verifier: TokenVerifier, issuer: Issuer, clock: FrozenClock
) -> None:
    await verifier.verify_id_token(sign(id_claims()))
    issuer.keys = [ROTATED_KEY.jwk, ACCESS_KEY.jwk]
    clock.now += 30
    await verifier.verify_id_token(sign(id_claims(), ROTATED_KEY))
    assert len(issuer.requests) == 2


async def test_a_token_without_kid_needs_a_single_key_jwks(
    verifier: TokenVerifier, issuer: Issuer, clock: FrozenClock
) -> None:
    token = sign(id_claims(), kid=None)
    assert "kid" not in jwt.get_unverified_header(token)
    with pytest.raises(KeyNotFoundError):
        await verifier.verify_id_token(token)
    issuer.keys = [ID_KEY.jwk]
    clock.now += 30
    assert (await verifier.verify_id_token(token))["sub"] == id_claims()["sub"]


async def test_cached_keys_keep_verifying_during_a_jwks_outage(
    verifier: TokenVerifier, issuer: Issuer, clock: FrozenClock
) -> None:
    await verifier.verify_id_token(sign(id_claims()))
    issuer.down = True
    clock.now += 3 * 3600
    fresh = {"iat": int(clock.now), "exp": int(clock.now) + 3600}
    await verifier.verify_id_token(sign(id_claims(**fresh)))
    await verifier.verify_bearer(sign(access_claims(**fresh), ACCESS_KEY))
    assert len(issuer.requests) == 2


async def test_no_keys_at_all_is_unavailable_not_a_token_error(
    verifier: TokenVerifier, issuer: Issuer
) -> None:
    issuer.down = True
    with pytest.raises(JWKSUnavailableError) as info:
        await verifier.verify_bearer(sign(access_claims(), ACCESS_KEY))
    assert isinstance(info.value, CognitoUnavailableError)
    assert not isinstance(info.value, TokenError)


# Claims ----------------------------------------------------------------------------------

ID_REFUSALS: dict[str, tuple[dict[str, Any], type[TokenError], str | None]] = {
    "iss-other-pool": ({"iss": ISSUER.replace("Test123", "Other99")}, ClaimError, "iss"),
    "iss-prefix": ({"iss": ISSUER[:-1]}, ClaimError, "iss"),
    "iss-extended": ({"iss": ISSUER + "x"}, ClaimError, "iss"),
    "iss-trailing-slash": ({"iss": ISSUER + "/"}, ClaimError, "iss"),
    "iss-http": ({"iss": ISSUER.replace("https", "http")}, ClaimError, "iss"),
    "iss-list": ({"iss": [ISSUER]}, ClaimError, "iss"),
    "iss-missing": ({"iss": DROP}, ClaimError, "iss"),
    "sub-missing": ({"sub": DROP}, ClaimError, "sub"),
    "sub-empty": ({"sub": ""}, ClaimError, "sub"),
    "sub-not-string": ({"sub": 42}, ClaimError, "sub"),
    "aud-missing": ({"aud": DROP}, ClaimError, "aud"),
    "aud-untrusted": ({"aud": UNTRUSTED}, ClaimError, "aud"),
    "aud-array-with-untrusted": ({"aud": [CLIENT, UNTRUSTED]}, ClaimError, "aud"),
    "aud-empty-array": ({"aud": []}, ClaimError, "aud"),
    "aud-null": ({"aud": None}, ClaimError, "aud"),
    "aud-number": ({"aud": 1}, ClaimError, "aud"),
    "aud-nested": ({"aud": [[CLIENT]]}, ClaimError, "aud"),
    "aud-prefix": ({"aud": CLIENT[:-1]}, ClaimError, "aud"),
    "token-use-access": ({"token_use": "access"}, ClaimError, "token_use"),
    "token-use-missing": ({"token_use": DROP}, ClaimError, "token_use"),
    "token-use-ID": ({"token_use": "ID"}, ClaimError, "token_use"),
    "iat-missing": ({"iat": DROP}, ClaimError, "iat"),
    "exp-missing": ({"exp": DROP}, ClaimError, "exp"),
    "exp-past": ({"exp": NOW - 60}, ExpiredTokenError, None),
    "exp-at-leeway": ({"exp": NOW - 5}, ExpiredTokenError, None),
    "iat-future": ({"iat": NOW + 6}, ClaimError, "iat"),
    "nbf-future": ({"nbf": NOW + 6}, ClaimError, "nbf"),
    "exp-float": ({"exp": NOW + 3600.0}, ClaimError, "exp"),
    "exp-fraction": ({"exp": NOW + 3600.5}, ClaimError, "exp"),
    "iat-float": ({"iat": float(NOW)}, ClaimError, "iat"),
    "nbf-float": ({"nbf": float(NOW)}, ClaimError, "nbf"),
    "exp-string": ({"exp": str(NOW + 3600)}, ClaimError, "exp"),
    "exp-true": ({"exp": True}, ClaimError, "exp"),
    "iat-false": ({"iat": False}, ClaimError, "iat"),
    "exp-null": ({"exp": None}, ClaimError, "exp"),
    "exp-huge": ({"exp": 10**40}, ClaimError, "exp"),
    "iat-negative": ({"iat": -1}, ClaimError, "iat"),
    "auth-time-string": ({"auth_time": "yesterday"}, ClaimError, "auth_time"),
}


@pytest.mark.parametrize(
    ("changes", "error", "claim"), list(ID_REFUSALS.values()), ids=list(ID_REFUSALS)
)
async def test_id_token_claims_are_checked(
    verifier: TokenVerifier, changes: dict[str, Any], error: type[TokenError], claim: str | None
) -> None:
    with pytest.raises(error) as info:
        await verifier.verify_id_token(sign(id_claims(**changes)))
    assert type(info.value) is error
    if claim is not None:
        assert isinstance(info.value, ClaimError)
        assert info.value.claim == claim


ACCESS_REFUSALS: dict[str, tuple[dict[str, Any], type[TokenError], str | None]] = {
    "iss-prefix": ({"iss": ISSUER[:-1]}, ClaimError, "iss"),
    "client-id-missing": ({"client_id": DROP}, ClaimError, "client_id"),
    "client-id-untrusted": ({"client_id": UNTRUSTED}, ClaimError, "client_id"),
    "client-id-list": ({"client_id": [CLIENT]}, ClaimError, "client_id"),
    "aud-instead-of-client-id": ({"client_id": DROP, "aud": CLIENT}, ClaimError, "client_id"),
    "token-use-id": ({"token_use": "id"}, ClaimError, "token_use"),
    "token-use-missing": ({"token_use": DROP}, ClaimError, "token_use"),
    "sub-missing": ({"sub": DROP}, ClaimError, "sub"),
    "iat-missing": ({"iat": DROP}, ClaimError, "iat"),
    "exp-missing": ({"exp": DROP}, ClaimError, "exp"),
    "exp-past": ({"exp": NOW - 3600}, ExpiredTokenError, None),
    "iat-future": ({"iat": NOW + 600}, ClaimError, "iat"),
    "nbf-future": ({"nbf": NOW + 600}, ClaimError, "nbf"),
    "exp-float": ({"exp": NOW + 60.0}, ClaimError, "exp"),
}


@pytest.mark.parametrize(
    ("changes", "error", "claim"), list(ACCESS_REFUSALS.values()), ids=list(ACCESS_REFUSALS)
)
@pytest.mark.parametrize("method", ["verify_access_token", "verify_bearer"])
async def test_access_token_claims_are_checked(
    verifier: TokenVerifier,
    changes: dict[str, Any],
    error: type[TokenError],
    claim: str | None,
    method: str,
) -> None:
    with pytest.raises(error) as info:
        await getattr(verifier, method)(sign(access_claims(**changes), ACCESS_KEY))
    assert type(info.value) is error
    if claim is not None:
        assert isinstance(info.value, ClaimError)
        assert info.value.claim == claim


async def test_times_within_the_leeway_are_accepted(verifier: TokenVerifier) -> None:
    await verifier.verify_id_token(sign(id_claims(exp=NOW - 4, iat=NOW + 5, nbf=NOW + 5)))


async def test_times_come_from_the_injected_clock(
    verifier: TokenVerifier, clock: FrozenClock
) -> None:
    token = sign(id_claims())
    await verifier.verify_id_token(token)
    clock.now = NOW + 3600 + 5
    with pytest.raises(ExpiredTokenError):
        await verifier.verify_id_token(token)


async def test_an_id_token_is_not_a_bearer_token(verifier: TokenVerifier) -> None:
    # Even an ID token that happens to name a trusted client_id.
    id_token = sign(id_claims(client_id=CLIENT))
    for verify in (verifier.verify_access_token, verifier.verify_bearer):
        with pytest.raises(ClaimError) as info:
            await verify(id_token)
        assert info.value.claim == "token_use"


async def test_an_access_token_is_not_an_id_token(verifier: TokenVerifier) -> None:
    with pytest.raises(ClaimError) as info:
        await verifier.verify_id_token(sign(access_claims(aud=CLIENT), ACCESS_KEY))
    assert info.value.claim == "token_use"


# Nonce and at_hash -----------------------------------------------------------------------


async def test_the_nonce_must_match(verifier: TokenVerifier) -> None:
    nonce = "n-0S6_WzA2Mj"
    await verifier.verify_id_token(sign(id_claims()), nonce=nonce)
    for token in (
        sign(id_claims(nonce=DROP)),
        sign(id_claims(nonce="other")),
        sign(id_claims(nonce=nonce + "x")),
        sign(id_claims(nonce=[nonce])),
        sign(id_claims(nonce="")),
    ):
        with pytest.raises(ClaimError) as info:
            await verifier.verify_id_token(token, nonce=nonce)
        assert info.value.claim == "nonce"


async def test_the_nonce_is_compared_in_constant_time(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await verifier.verify_id_token(sign(id_claims()), nonce="n-0S6_WzA2Mj")
    assert compared == [(b"n-0S6_WzA2Mj", b"n-0S6_WzA2Mj")]


def test_at_hash_is_the_left_half_of_sha256() -> None:
    access_token = sign(access_claims(), ACCESS_KEY)
    left = hashlib.sha256(access_token.encode("ascii")).digest()[:16]
    assert at_hash(access_token) == base64.urlsafe_b64encode(left).decode().rstrip("=")
    assert len(at_hash(access_token)) == 22
    assert at_hash(access_token) == create_half_hash(access_token, "RS256").decode()


async def test_at_hash_must_match_the_access_token(verifier: TokenVerifier) -> None:
    access_token = sign(access_claims(), ACCESS_KEY)
    good = sign(id_claims(at_hash=at_hash(access_token)))
    await verifier.verify_id_token(good, access_token=access_token)
    other = sign(access_claims(jti="another"), ACCESS_KEY)
    for wrong in (at_hash(other), at_hash(access_token) + "=", "", None, 1):
        with pytest.raises(ClaimError) as info:
            await verifier.verify_id_token(
                sign(id_claims(at_hash=wrong)), access_token=access_token
            )
        assert info.value.claim == "at_hash"
    with pytest.raises(ClaimError):
        await verifier.verify_id_token(good, access_token=other)


async def test_an_id_token_without_at_hash_is_accepted(verifier: TokenVerifier) -> None:
    await verifier.verify_id_token(sign(id_claims()), access_token="anything")


# Malformed input -------------------------------------------------------------------------

GOOD_HEAD = _b64json({"kid": ID_KEY.kid, "alg": "RS256"})
GOOD_BODY = _b64json(id_claims())
SIG = _b64(b"\x01" * 256)


def _raw(data: bytes) -> str:
    return _b64(data)


def _jws(head: str, body: str, signature: str = SIG) -> str:
    return f"{head}.{body}.{signature}"


def _with_head(raw_json: bytes) -> str:
    return _jws(_raw(raw_json), GOOD_BODY)


def _with_body(raw_json: bytes) -> str:
    return _jws(GOOD_HEAD, _raw(raw_json))


GOOD = _jws(GOOD_HEAD, GOOD_BODY)
JWE_HEAD = _b64json({"alg": "RSA-OAEP", "enc": "A256GCM"})
STANDARD_B64_HEAD = base64.b64encode(b'{"alg":"RS256","kid":"+/+/"}??').decode()
assert "+" in STANDARD_B64_HEAD or "/" in STANDARD_B64_HEAD

GARBAGE: dict[str, Any] = {
    "empty": "",
    "one-dot": ".",
    "two-dots": "..",
    "one-segment": GOOD_HEAD,
    "two-segments": f"{GOOD_HEAD}.{GOOD_BODY}",
    "four-segments": f"{GOOD}.{SIG}",
    "jwe-five-segments": ".".join([JWE_HEAD, SIG, SIG, SIG, SIG]),
    "jwe-five-segments-rs256-header": f"{GOOD}.{SIG}.{SIG}",
    "six-segments": ".".join([GOOD_HEAD] * 6),
    "json-general-serialisation": json.dumps(
        {"payload": GOOD_BODY, "signatures": [{"protected": GOOD_HEAD, "signature": SIG}]}
    ),
    "json-flattened-serialisation": json.dumps(
        {"payload": GOOD_BODY, "protected": GOOD_HEAD, "signature": SIG}
    ),
    "empty-header": _jws("", GOOD_BODY),
    "empty-payload": _jws(GOOD_HEAD, ""),
    "bad-base64-header": _jws("!!!!", GOOD_BODY),
    "bad-base64-payload": _jws(GOOD_HEAD, "$$$$"),
    "bad-base64-signature": _jws(GOOD_HEAD, GOOD_BODY, SIG[:-4] + "+/+/"),
    "impossible-base64-length": _jws(GOOD_HEAD, GOOD_BODY + "A" * ((1 - len(GOOD_BODY)) % 4)),
    "padded-header": _jws(GOOD_HEAD + "=" * (-len(GOOD_HEAD) % 4 or 2), GOOD_BODY),
    "standard-base64-header": _jws(STANDARD_B64_HEAD, GOOD_BODY),
    "space-inside": _jws(GOOD_HEAD, " " + GOOD_BODY),
    "newline-inside": _jws(GOOD_HEAD, GOOD_BODY + "\n"),
    "trailing-newline": GOOD + "\n",
    "nul-byte": _jws(GOOD_HEAD, GOOD_BODY + "\x00"),
    "non-ascii": _jws(GOOD_HEAD, GOOD_BODY + "\u00e9"),
    "header-not-json": _with_head(b"not json"),
    "header-not-utf8": _with_head(bytes([0xFF, 0xFE, 0x7B])),
    "header-array": _with_head(b'["RS256"]'),
    "header-string": _with_head(b'"RS256"'),
    "header-number": _with_head(b"1"),
    "header-null": _with_head(b"null"),
    "header-duplicate-alg": _with_head(b'{"alg":"none","alg":"RS256","kid":"k"}'),
    "header-duplicate-kid": _with_head(b'{"alg":"RS256","kid":"a","kid":"b"}'),
    "header-kid-number": _with_head(b'{"alg":"RS256","kid":1}'),
    "header-kid-object": _with_head(b'{"alg":"RS256","kid":{}}'),
    "header-kid-huge": _with_head(b'{"alg":"RS256","kid":"' + b"k" * 129 + b'"}'),
    "header-huge-float": _with_head(b'{"alg":"RS256","kid":"k","x":1e999}'),
    "header-nan": _with_head(b'{"alg":"RS256","kid":"k","x":NaN}'),
    "header-huge-int": _with_head(b'{"alg":"RS256","x":' + b"9" * 5000 + b"}"),
    "header-deeply-nested": _with_head(b'{"alg":"RS256","x":' + b"[" * 5000 + b"}"),
    "payload-not-json": _with_body(b"{sub: alice}"),
    "payload-array": _with_body(b"[{}]"),
    "payload-string": _with_body(b'"claims"'),
    "payload-number": _with_body(b"123"),
    "payload-true": _with_body(b"true"),
    "payload-null": _with_body(b"null"),
    "payload-not-utf8": _with_body(bytes([0xC3, 0x28])),
    "payload-duplicate-sub": _with_body(b'{"sub":"a","sub":"b"}'),
    "payload-huge-int": _with_body(b'{"exp":' + b"9" * 5000 + b"}"),
    "payload-huge-float": _with_body(b'{"exp":1e400}'),
    "payload-infinity": _with_body(b'{"exp":Infinity}'),
    "payload-minus-infinity": _with_body(b'{"exp":-Infinity}'),
    "payload-nan": _with_body(b'{"exp":NaN}'),
    "payload-deeply-nested": _with_body(b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "payload-trailing-data": _with_body(b"{} {}"),
    "dots-only": "." * 3000,
    "not-a-string-none": None,
    "not-a-string-bytes": GOOD.encode(),
    "not-a-string-int": 12345,
    "oversized": _jws(GOOD_HEAD, _b64json({"x": "a" * 20_000})),
}


@pytest.mark.parametrize("token", list(GARBAGE.values()), ids=list(GARBAGE))
@pytest.mark.parametrize(
    "method", ["verify_id_token", "verify_access_token", "verify_bearer", "unverified_claims"]
)
async def test_garbage_is_a_malformed_token(
    verifier: TokenVerifier, issuer: Issuer, token: Any, method: str
) -> None:
    call = getattr(verifier, method)
    if method == "unverified_claims":
        try:
            call(token)
        except MalformedTokenError as exc:
            assert type(exc) is MalformedTokenError
        return  # a bad header or signature does not matter without verification
    with pytest.raises(MalformedTokenError) as info:
        await call(token)
    assert type(info.value) is MalformedTokenError
    assert issuer.requests == []  # refused before any key lookup


PAYLOAD_GARBAGE = [name for name in GARBAGE if name.startswith("payload-")] + [
    "empty",
    "two-segments",
    "four-segments",
    "jwe-five-segments",
    "json-general-serialisation",
    "empty-payload",
    "bad-base64-payload",
    "oversized",
    "not-a-string-none",
]


@pytest.mark.parametrize("name", PAYLOAD_GARBAGE)
def test_unverified_claims_refuse_a_garbage_payload(verifier: TokenVerifier, name: str) -> None:
    with pytest.raises(MalformedTokenError) as info:
        verifier.unverified_claims(GARBAGE[name])
    assert type(info.value) is MalformedTokenError


async def test_duplicate_claims_are_refused_even_when_signed(verifier: TokenVerifier) -> None:
    body = json.dumps(id_claims())[:-1] + ', "sub": "admin-user"}'
    token = forge({"kid": ID_KEY.kid, "alg": "RS256"}, _raw(body.encode()), rs256(ID_KEY))
    with pytest.raises(MalformedTokenError):
        await verifier.verify_id_token(token)


async def test_a_duplicate_alg_cannot_smuggle_a_second_value(verifier: TokenVerifier) -> None:
    head = _raw(f'{{"alg":"HS256","kid":"{ID_KEY.kid}","alg":"RS256"}}'.encode())
    token = forge(head, id_claims(), rs256(ID_KEY))
    with pytest.raises(MalformedTokenError):
        await verifier.verify_id_token(token)


async def test_the_size_cap_applies_before_any_decoding(
    make_verifier: Callable[..., TokenVerifier], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sign(id_claims())
    await make_verifier(max_token_bytes=len(token)).verify_id_token(token)
    capped = make_verifier(max_token_bytes=len(token) - 1)

    def explode(*args: object) -> None:
        raise AssertionError("decoded an oversized token")

    monkeypatch.setattr(tokens_module, "_decode_segment", explode)
    monkeypatch.setattr(base64, "urlsafe_b64decode", explode)
    for call in (capped.verify_id_token, capped.verify_access_token, capped.verify_bearer):
        with pytest.raises(MalformedTokenError):
            await call(token)
    with pytest.raises(MalformedTokenError):
        capped.unverified_claims(token)


class Unhashable(str):
    def __hash__(self) -> int:
        raise AssertionError("an oversized token was hashed")


async def test_an_oversized_bearer_token_is_not_looked_up(verifier: TokenVerifier) -> None:
    with pytest.raises(MalformedTokenError):
        await verifier.verify_bearer(Unhashable("a" * 20_000))
    with pytest.raises(MalformedTokenError):
        verifier.unverified_claims(Unhashable("a" * 20_000))


async def test_the_default_cap_is_16_kib(verifier: TokenVerifier) -> None:
    padded = sign(id_claims(pad="x" * 11_000))
    assert len(padded) < 16_384
    await verifier.verify_id_token(padded)
    with pytest.raises(MalformedTokenError):
        await verifier.verify_id_token(sign(id_claims(pad="x" * 12_400)))


# The Bearer memo -------------------------------------------------------------------------


class RSACounter:
    """Counts RSA signature checks and segment decodings."""

    def __init__(self, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.decodes = 0
        real = RSAAlgorithm.verify
        real_decode = tokens_module._decode_segment

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        def counting_decode(*args: Any) -> Any:
            self.decodes += 1
            return real_decode(*args)

        monkeypatch.setattr(RSAAlgorithm, "verify", counting)
        monkeypatch.setattr(tokens_module, "_decode_segment", counting_decode)


def authenticator(verifier: TokenVerifier, size: int = 10_000) -> BearerAuthenticator:
    return BearerAuthenticator(verifier, clock=verifier._clock, leeway=5.0, size=size)


def header(token: str) -> bytes:
    return f"Bearer {token}".encode()


async def test_a_repeated_bearer_token_costs_no_rsa(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = authenticator(verifier)
    counter = RSACounter(verifier, monkeypatch)
    token = sign(access_claims(), ACCESS_KEY)
    first = await bearer.authenticate(header(token))
    assert (counter.calls, counter.decodes) == (1, 2)
    for _ in range(5):
        assert await bearer.authenticate(header(token)) is first
    assert (counter.calls, counter.decodes) == (1, 2)


async def test_the_memo_rechecks_exp(
    verifier: TokenVerifier, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = authenticator(verifier)
    counter = RSACounter(verifier, monkeypatch)
    token = sign(access_claims(exp=NOW + 60), ACCESS_KEY)
    await bearer.authenticate(header(token))
    clock.now = NOW + 64
    await bearer.authenticate(header(token))
    clock.now = NOW + 65
    with pytest.raises(BearerRefused) as refused:
        await bearer.authenticate(header(token))
    assert refused.value.status == 401 and "expired" in refused.value.reason
    assert counter.calls == 1


async def test_failures_are_not_memoised(
    verifier: TokenVerifier, issuer: Issuer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = authenticator(verifier)
    counter = RSACounter(verifier, monkeypatch)
    head, _, signature = sign(access_claims(), ACCESS_KEY).split(".")
    forged = f"{head}.{_b64json(access_claims(username='root'))}.{signature}"
    for _ in range(3):
        with pytest.raises(BearerRefused) as refused:
            await bearer.authenticate(header(forged))
        assert refused.value.status == 401
    assert counter.calls == 3
    issuer.down = True
    token = sign(access_claims(), ACCESS_KEY)
    fresh = authenticator(make_fresh_verifier(verifier, clock))
    with pytest.raises(BearerRefused) as refused:
        await fresh.authenticate(header(token))
    assert refused.value.status == 503
    issuer.down = False
    clock.now += 10
    assert (await fresh.authenticate(header(token))).username == "alice"


def make_fresh_verifier(verifier: TokenVerifier, clock: FrozenClock) -> TokenVerifier:
    jwks = JWKSCache(verifier.jwks.url, verifier.jwks._http, clock=clock)
    return TokenVerifier(issuer=ISSUER, client_ids=[CLIENT], jwks=jwks, clock=clock)


async def test_the_memo_is_a_bounded_lru(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    bearer = authenticator(verifier, size=2)
    counter = RSACounter(verifier, monkeypatch)
    a, b, c = (header(sign(access_claims(jti=name), ACCESS_KEY)) for name in "abc")
    await bearer.authenticate(a)
    await bearer.authenticate(b)
    await bearer.authenticate(a)  # a is now the most recently used
    await bearer.authenticate(c)  # evicts b
    assert counter.calls == 3
    await bearer.authenticate(a)
    await bearer.authenticate(c)
    assert counter.calls == 3
    await bearer.authenticate(b)  # evicts a
    assert counter.calls == 4
    await bearer.authenticate(c)
    assert counter.calls == 4
    await bearer.authenticate(a)
    assert counter.calls == 5


async def test_memoised_claims_cannot_be_changed_by_a_caller(verifier: TokenVerifier) -> None:
    bearer = authenticator(verifier)
    token = sign(access_claims(), ACCESS_KEY)
    user = await bearer.authenticate(header(token))
    with pytest.raises(TypeError):
        user.claims["username"] = "mallory"  # type: ignore[index]
    assert (await bearer.authenticate(header(token))).claims["username"] == "alice"


# Claims of tokens sealed in the session --------------------------------------------------


def test_unverified_claims_read_the_payload(verifier: TokenVerifier) -> None:
    token = sign(id_claims())
    assert verifier.unverified_claims(token) == id_claims()
    with pytest.raises(MalformedTokenError):
        verifier.unverified_claims(token.rsplit(".", 1)[0])


# Construction ----------------------------------------------------------------------------


async def test_from_config(http: httpx.AsyncClient, clock: FrozenClock, issuer: Issuer) -> None:
    config = CognitoConfig(
        user_pool_id=REGION_POOL,
        client_id=CLIENT,
        extra_client_ids=(MOBILE,),
        domain="https://test.auth.eu-west-1.amazoncognito.com",
        redirect_uri="https://app.example.com/auth/callback",
        session_secret="s" * 32,
        leeway=5,
    )
    verifier = TokenVerifier.from_config(config, http, clock=clock)
    assert verifier.issuer == ISSUER
    assert verifier.client_ids == {CLIENT, MOBILE}
    assert verifier.jwks.url == JWKS_URL
    await verifier.verify_bearer(sign(access_claims(client_id=MOBILE), ACCESS_KEY))
    assert issuer.requests == [JWKS_URL]


@pytest.mark.parametrize("kwargs", [{"issuer": ""}, {"client_ids": []}])
def test_issuer_and_clients_are_required(http: httpx.AsyncClient, kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_ids": [CLIENT],
        "jwks": JWKSCache(JWKS_URL, http),
        **kwargs,
    }
    with pytest.raises(ValueError):
        TokenVerifier(**options)


async def test_verify_bearer_remembers_a_token_until_exp(
    verifier: TokenVerifier, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = RSACounter(verifier, monkeypatch)
    token = sign(access_claims(exp=NOW + 60), ACCESS_KEY)
    first = await verifier.verify_bearer(token)
    first["username"] = "mallory"  # a copy: the remembered claims stay as verified
    assert (await verifier.verify_bearer(token))["username"] == "alice"
    assert counter.calls == 1
    clock.now = NOW + 65
    with pytest.raises(ExpiredTokenError):
        await verifier.verify_bearer(token)
    assert counter.calls == 1
