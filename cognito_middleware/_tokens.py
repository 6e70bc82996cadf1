"""Verification of Cognito ID and access tokens: pyjwt for the JWS, Cognito's rules on top.

    verifier = TokenVerifier.from_config(config, http)
    id_claims = await verifier.verify_id_token(id_token, nonce=nonce, access_token=access_token)
    claims = await verifier.verify_bearer(request_bearer_token)

What is checked, in order (any failure raises a :class:`TokenError` subclass, never anything
else):

1. shape, before any decoding: a string of at most ``max_token_bytes`` ASCII characters, three
   unpadded base64url segments (so no JWE and no JSON serialisation); header and payload are
   JSON objects without duplicate members and without non-finite numbers;
2. header: ``alg`` exactly ``RS256`` and a non-empty signature; no ``crit``/``b64``; ``kid`` a
   string if present. ``jwk``, ``jku``, ``x5u``, ``x5c`` are never read;
3. the signature, by pyjwt, with the key object the issuer's JWKS holds for ``kid``;
4. claims: ``iss`` equal to the issuer; ``token_use``; ``sub``; ``aud`` (ID token, every
   audience trusted) or ``client_id`` (access token) among the configured clients; integer
   ``exp``/``iat`` (and ``nbf``/``auth_time`` when present) against the injected clock with
   ``leeway``; at sign-in ``nonce`` and ``at_hash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

from ._cache import BoundedMap
from ._jwks import JWKSCache
from .exceptions import (
    ClaimError,
    ExpiredTokenError,
    InvalidSignatureError,
    MalformedTokenError,
)

if TYPE_CHECKING:
    import httpx

    from ._config import CognitoConfig

__all__ = ["TokenVerifier", "at_hash"]

_ALGORITHM = "RS256"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
# Beyond float precision; larger integers would overflow the arithmetic with the leeway.
_MAX_TIME = 2**53
# Headers that select or change how the signature is computed; we support none of them.
_FORBIDDEN_HEADERS = ("crit", "b64", "zip", "enc")
_MAX_KID_LENGTH = 128
_TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")


def at_hash(access_token: str) -> str:
    """The OIDC ``at_hash`` of an access token signed with RS256: base64url (unpadded) of the
    left half of SHA-256 over its ASCII bytes."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Parsers disagree on which duplicate wins; the signer's intent is unknowable.
        raise ValueError("duplicate member")
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constants(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


_decoder = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_float=_finite, parse_constant=_no_constants
)


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    if not segment or not _SEGMENT.fullmatch(segment):
        raise MalformedTokenError(f"the {what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = _decoder.decode(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON, duplicates and over-long integers.
        raise MalformedTokenError(f"the {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {what} is not a JSON object")
    return value


class TokenVerifier:
    """Verifies the ID and access tokens of one Cognito user pool.

    ``client_ids`` are the app clients whose tokens are accepted (``aud`` of ID tokens,
    ``client_id`` of access tokens). ``clock`` returns seconds since the epoch.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_ids: Collection[str],
        jwks: JWKSCache,
        leeway: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_token_bytes: int = 16_384,
        bearer_cache_size: int = 10_000,
    ) -> None:
        if not issuer:
            raise ValueError("issuer is required")
        if not client_ids:
            raise ValueError("at least one client id is required")
        self.issuer = issuer
        self.client_ids = frozenset(client_ids)
        self.jwks = jwks
        self._leeway = leeway
        self._clock = clock
        self._max_token_bytes = max_token_bytes
        # Expiry is checked here rather than by the map: a remembered token past its ``exp`` is
        # refused without a signature check.
        self._bearer: BoundedMap[str, tuple[int, dict[str, Any]]] = BoundedMap(
            max(bearer_cache_size, 0), lru=True
        )

    @classmethod
    def from_config(
        cls,
        config: CognitoConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> TokenVerifier:
        """A verifier for the pool and clients of ``config``, fetching keys with ``http``."""
        jwks = JWKSCache(config.jwks_url, http, clock=clock, timeout=config.http_timeout)
        return cls(
            issuer=config.issuer_url,
            client_ids=config.allowed_client_ids,
            jwks=jwks,
            leeway=config.leeway,
            clock=clock,
        )

    # Public API -------------------------------------------------------------------------

    async def verify_id_token(
        self, token: str, *, nonce: str | None = None, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of a valid ID token of this pool, issued to one of the clients.

        With ``nonce``, the token must carry that nonce. With ``access_token``, a present
        ``at_hash`` must match it.
        """
        claims = await self._verify(token, "id")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not audiences:
            raise ClaimError("aud", "missing", expected=sorted(self.client_ids), actual=aud)
        for audience in audiences:
            if not isinstance(audience, str) or audience not in self.client_ids:
                raise ClaimError(
                    "aud", "not a trusted client", expected=sorted(self.client_ids), actual=aud
                )
        if nonce is not None:
            actual = claims.get("nonce")
            if not isinstance(actual, str):
                raise ClaimError("nonce", "missing")
            if not hmac.compare_digest(actual.encode(), nonce.encode()):
                raise ClaimError("nonce", "does not match the one sent")
        if access_token is not None and "at_hash" in claims:
            actual = claims["at_hash"]
            try:
                expected = at_hash(access_token)
            except UnicodeEncodeError:
                raise ClaimError("at_hash", "the access token is not ASCII") from None
            if not isinstance(actual, str) or not hmac.compare_digest(
                actual.encode(), expected.encode()
            ):
                raise ClaimError("at_hash", "does not match the access token")
        return claims

    async def verify_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token of this pool, issued to one of the clients."""
        claims = await self._verify(token, "access")
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or client_id not in self.client_ids:
            reason = "missing" if client_id is None else "not a trusted client"
            raise ClaimError(
                "client_id", reason, expected=sorted(self.client_ids), actual=client_id
            )
        return claims

    async def verify_bearer(self, token: str) -> dict[str, Any]:
        """:meth:`verify_access_token`, remembered per token until its ``exp``.

        A token seen before costs a dictionary lookup and a clock read; only successes are
        remembered, at most ``bearer_cache_size`` of them (least recently used first out).
        Returns a shallow copy of the claims.
        """
        if not isinstance(token, str) or len(token) > self._max_token_bytes:
            raise MalformedTokenError("the token is not a string of acceptable size")
        memo = self._bearer
        hit = memo.get(token)
        if hit is not None:
            exp, claims = hit
            if exp + self._leeway <= self._clock():
                memo.pop(token)
                raise ExpiredTokenError("the token has expired")
            return dict(claims)
        claims = await self.verify_access_token(token)
        memo.put(token, (claims["exp"], claims))
        return dict(claims)

    def unverified_claims(self, token: str) -> dict[str, Any]:
        """The payload of a token WITHOUT checking anything but its shape.

        Only for tokens this app verified itself and then sealed in its own session. Raises
        :class:`MalformedTokenError` for anything that is not a JWS with a JSON-object payload.
        """
        if not isinstance(token, str) or len(token) > self._max_token_bytes:
            raise MalformedTokenError("the token is not a string of acceptable size")
        parts = token.split(".")
        if len(parts) != 3:
            raise MalformedTokenError("not a compact JWS")
        return _decode_segment(parts[1], "payload")

    # Verification -----------------------------------------------------------------------

    async def _verify(self, token: str, token_use: Literal["id", "access"]) -> dict[str, Any]:
        header, claims = self._parse(token)
        key = await self.jwks.get_key(header.get("kid"))
        if key.algorithm_name != _ALGORITHM:
            raise InvalidSignatureError("the algorithm or key is not acceptable")
        # The header and payload are decoded (strictly) once, above; pyjwt's algorithm object
        # checks the signature over the signing input with the key from the JWKS.
        signing_input, _, signature = token.rpartition(".")
        raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        if not key.Algorithm.verify(signing_input.encode("ascii"), key.key, raw_signature):
            raise InvalidSignatureError("the signature does not verify")
        self._check_claims(claims, token_use)
        return claims

    def _parse(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and payload, after the checks that need no key."""
        if not isinstance(token, str):
            raise MalformedTokenError("the token is not a string")
        if len(token) > self._max_token_bytes:
            raise MalformedTokenError(f"the token is larger than {self._max_token_bytes} bytes")
        if not token.isascii():
            raise MalformedTokenError("the token is not ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            if len(parts) == 5:
                raise MalformedTokenError("encrypted tokens (JWE) are not accepted")
            raise MalformedTokenError("not a compact JWS (three segments)")
        header = _decode_segment(parts[0], "header")
        alg = header.get("alg")
        if alg != _ALGORITHM:
            raise InvalidSignatureError(f"algorithm {str(alg)[:16]!r} is not accepted")
        for name in _FORBIDDEN_HEADERS:
            if name in header:
                raise MalformedTokenError(f"header {name!r} is not supported")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > _MAX_KID_LENGTH):
            # Bounded because the kid ends up in error reasons, which reach logs and responses.
            raise MalformedTokenError("header 'kid' is not a short string")
        if not parts[2]:
            raise InvalidSignatureError("the token is not signed")
        if not _SEGMENT.fullmatch(parts[2]):
            raise MalformedTokenError("the signature is not unpadded base64url")
        return header, _decode_segment(parts[1], "payload")

    def _check_claims(self, claims: dict[str, Any], token_use: str) -> None:
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss != self.issuer:
            raise ClaimError("iss", "not the configured issuer", expected=self.issuer, actual=iss)
        actual_use = claims.get("token_use")
        if actual_use != token_use:
            raise ClaimError(
                "token_use", f"must be {token_use!r}", expected=token_use, actual=actual_use
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise ClaimError("sub", "missing")
        for name in _TIME_CLAIMS:
            value = claims.get(name)
            if value is None:
                if name in ("exp", "iat"):
                    raise ClaimError(name, "missing")
                continue
            if type(value) is not int:  # bool is an int subclass; floats are not accepted
                raise ClaimError(name, "must be an integer (seconds since the epoch)")
            if not 0 <= value <= _MAX_TIME:
                raise ClaimError(name, "out of range")
        now = self._clock()
        if claims["exp"] + self._leeway <= now:
            raise ExpiredTokenError("the token has expired")
        if claims["iat"] > now + self._leeway:
            raise ClaimError("iat", "issued in the future", actual=claims["iat"])
        nbf = claims.get("nbf")
        if nbf is not None and nbf > now + self._leeway:
            raise ClaimError("nbf", "not valid yet", actual=nbf)
