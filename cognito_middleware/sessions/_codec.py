"""The compact binary form of a :class:`SessionData`, before it is sealed.

Layout (format 1)::

    0x01 | zlib( json([session_id, expires_at, created_at, last_seen, refresh_expires_at,
                       identity_id, extra]) | "\\n" | token | token | token )

Each token (ID, access, refresh) is stored as its raw bytes: the base64url segments of a
JWT/JWE are decoded first, so that zlib sees the claims as JSON (which compresses well) and the
signature as 256 raw bytes instead of 342 characters. A token whose segments would not encode
back to exactly the same text is kept verbatim, so every session round-trips exactly.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from collections.abc import Mapping

from ._base import SessionData

__all__ = ["decode_session", "encode_session"]

_FORMAT = 1
_ABSENT, _TEXT, _SEGMENTS = 0, 1, 2
_MAX_SEGMENTS = 8
_MAX_PLAIN = 1 << 20
"""Decompression cap: far above any real session, far below a memory problem."""

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_u16 = struct.Struct(">H")
_u32 = struct.Struct(">I")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _pack_token(token: str | None, out: list[bytes]) -> None:
    if token is None:
        out.append(bytes((_ABSENT,)))
        return
    segments = token.split(".")
    raws: list[bytes] = []
    if 1 < len(segments) <= _MAX_SEGMENTS:
        for segment in segments:
            try:
                raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            except (binascii.Error, ValueError):
                break
            if len(raw) > 0xFFFF or _b64encode(raw) != segment:
                break
            raws.append(raw)
    if len(raws) == len(segments):
        out.append(bytes((_SEGMENTS, len(raws))))
        for raw in raws:
            out.append(_u16.pack(len(raw)))
            out.append(raw)
        return
    text = token.encode("utf-8")
    out.append(bytes((_TEXT,)))
    out.append(_u32.pack(len(text)))
    out.append(text)


class _Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self._data = data
        self._pos = pos

    def take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise ValueError("truncated session payload")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def token(self) -> str | None:
        kind = self.take(1)[0]
        if kind == _ABSENT:
            return None
        if kind == _TEXT:
            (size,) = _u32.unpack(self.take(4))
            return self.take(size).decode("utf-8")
        if kind == _SEGMENTS:
            count = self.take(1)[0]
            parts = []
            for _ in range(count):
                (size,) = _u16.unpack(self.take(2))
                encoded = binascii.b2a_base64(self.take(size), newline=False)
                parts.append(encoded.translate(_URLSAFE).rstrip(b"="))
            return b".".join(parts).decode("ascii")
        raise ValueError("unknown token kind")

    def at_end(self) -> bool:
        return self._pos == len(self._data)


def encode_session(session: SessionData) -> bytes:
    """``session`` as compressed bytes, ready to seal. The inverse of :func:`decode_session`."""
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
        allow_nan=False,
    ).encode("utf-8")
    out = [head, b"\n"]
    for token in (session.id_token, session.access_token, session.refresh_token):
        _pack_token(token, out)
    return bytes((_FORMAT,)) + zlib.compress(b"".join(out), 6)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("session time is not a number")
    return float(value)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("session field is not a string")
    return value


def decode_session(data: bytes) -> SessionData:
    """The :class:`SessionData` in ``data``; ``ValueError`` if it is not format-1 bytes."""
    if not data or data[0] != _FORMAT:
        raise ValueError("unknown session format")
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(data[1:], _MAX_PLAIN)
    except zlib.error as exc:
        raise ValueError("corrupt session payload") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("corrupt or oversized session payload")
    end = plain.find(b"\n")
    if end < 0:
        raise ValueError("corrupt session payload")
    head = json.loads(plain[:end])
    if not isinstance(head, list) or len(head) != 7:
        raise ValueError("corrupt session payload")
    session_id, expires_at, created_at, last_seen, refresh_expires_at, identity_id, extra = head
    if not isinstance(extra, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise ValueError("corrupt session payload")
    reader = _Reader(plain, end + 1)
    id_token, access_token, refresh_token = reader.token(), reader.token(), reader.token()
    if id_token is None or access_token is None or not reader.at_end():
        raise ValueError("corrupt session payload")
    return SessionData(
        session_id=_string(session_id),
        id_token=id_token,
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=_number(expires_at),
        created_at=_number(created_at),
        last_seen=_number(last_seen),
        refresh_expires_at=None if refresh_expires_at is None else _number(refresh_expires_at),
        identity_id=None if identity_id is None else _string(identity_id),
        extra=dict(extra),
    )
