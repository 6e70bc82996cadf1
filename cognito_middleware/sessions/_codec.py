"""The compact binary form of a :class:`SessionData`, before it is sealed.

Layout (format 2)::

    0x02 | shape of the ID, access and refresh token (1 byte each)
         | size of every part (4 bytes each; the top bit set for a text part)
         | size of the compressed block (4 bytes)
         | zlib(the text parts, in order) | the binary parts, in order

The parts are the session's head, ``json([session_id, expires_at, created_at, last_seen,
refresh_expires_at, identity_id, extra])``, then each token's base64url segments, decoded to
their raw bytes. A token's shape is its number of segments (0 for no token; ``VERBATIM`` for a
token kept as its text, because its segments would not encode back to exactly the same text).
Text parts (the head, the JSON headers and payloads of the tokens, verbatim tokens) are
compressed together; binary parts (signatures, a JWE's key, nonce, ciphertext and tag) are
stored as they are, since compression cannot shrink them and would only take time to inflate.
Every session round-trips exactly.

Format 1, written by earlier versions (``0x01 | zlib(head | "\\n" | token | token | token)``),
is still read, so that sessions sealed before an upgrade stay open.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from collections.abc import Mapping, Sequence

from ._base import SessionData

__all__ = ["decode_session", "encode_session"]

_FORMAT, _LEGACY_FORMAT = 2, 1
VERBATIM = 0xFF
"""The shape of a token kept as its text."""
_MAX_SEGMENTS = 8
_TEXT_PART = 1 << 31
_MAX_PART = _TEXT_PART - 1
_MAX_PLAIN = 1 << 20
"""Decompression cap: far above any real session, far below a memory problem."""

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_shapes = struct.Struct(">BBBB")
_u16 = struct.Struct(">H")
_u32 = struct.Struct(">I")


def _b64encode(raw: bytes) -> bytes:
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=")


def _segments(token: str) -> list[bytes] | None:
    """The raw bytes of each base64url segment of ``token``, if they encode back to it."""
    segments = token.split(".")
    if not 1 < len(segments) <= _MAX_SEGMENTS:
        return None
    raws = []
    for segment in segments:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            return None
        if _b64encode(raw) != segment.encode("ascii", "replace"):
            return None
        raws.append(raw)
    return raws


def encode_session(session: SessionData) -> bytes:
    """``session`` as compact bytes, ready to seal. The inverse of :func:`decode_session`."""
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
    shapes = []
    sizes = [len(head) | _TEXT_PART]
    text, binary = [head], []
    for token in (session.id_token, session.access_token, session.refresh_token):
        raws = None if token is None else _segments(token)
        if token is None:
            shapes.append(0)
        elif raws is None:
            verbatim = token.encode("utf-8")
            shapes.append(VERBATIM)
            sizes.append(len(verbatim) | _TEXT_PART)
            text.append(verbatim)
        else:
            shapes.append(len(raws))
            for raw in raws:
                # JSON (a JWT's header and payload, a JWE's header) compresses; the rest is
                # random bytes.
                if raw[:1] == b"{":
                    sizes.append(len(raw) | _TEXT_PART)
                    text.append(raw)
                else:
                    sizes.append(len(raw))
                    binary.append(raw)
    block = zlib.compress(b"".join(text), 6)
    return b"".join(
        [
            _shapes.pack(_FORMAT, *shapes),
            struct.pack(f">{len(sizes)}I", *sizes),
            _u32.pack(len(block)),
            block,
            *binary,
        ]
    )


def decode_session(data: bytes) -> SessionData:
    """The :class:`SessionData` in ``data``; ``ValueError`` if it is not such bytes."""
    if data[:1] == bytes((_FORMAT,)):
        return _decode(data)
    if data[:1] == bytes((_LEGACY_FORMAT,)):
        return _decode_legacy(data)
    raise ValueError("unknown session format")


def _decode(data: bytes) -> SessionData:
    try:
        _, *shapes = _shapes.unpack_from(data)
        count = 1 + sum(1 if s == VERBATIM else s for s in shapes)
        if any(_MAX_SEGMENTS < s < VERBATIM or s == 1 for s in shapes):
            raise ValueError("corrupt session payload")
        sizes = struct.unpack_from(f">{count}I", data, _shapes.size)
        pos = _shapes.size + 4 * count
        (block_size,) = _u32.unpack_from(data, pos)
    except struct.error as exc:
        raise ValueError("truncated session payload") from exc
    pos += _u32.size
    text = _inflate(data[pos : pos + block_size])
    pos += block_size
    parts: list[bytes] = []
    text_pos = 0
    for size in sizes:
        if size & _TEXT_PART:
            size &= _MAX_PART
            parts.append(text[text_pos : text_pos + size])
            text_pos += size
        else:
            parts.append(data[pos : pos + size])
            pos += size
    if text_pos != len(text) or pos != len(data) or not sizes[0] & _TEXT_PART:
        raise ValueError("corrupt session payload")
    tokens: list[str | None] = []
    b2a = binascii.b2a_base64
    index = 1
    for shape in shapes:
        if shape == 0:
            tokens.append(None)
        elif shape == VERBATIM:
            tokens.append(_utf8(parts[index]))
            index += 1
        else:
            # Padding only ever ends a segment: one translation for the whole token.
            encoded = b".".join([b2a(p, newline=False) for p in parts[index : index + shape]])
            tokens.append(encoded.translate(_URLSAFE).replace(b"=", b"").decode("ascii"))
            index += shape
    return _session(_head(parts[0]), tokens)


def _inflate(block: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(block, _MAX_PLAIN)
    except zlib.error as exc:
        raise ValueError("corrupt session payload") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise ValueError("corrupt or oversized session payload")
    return plain


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("corrupt session payload") from exc


def _head(raw: bytes) -> list[object]:
    try:
        head = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("corrupt session payload") from exc
    if not isinstance(head, list) or len(head) != 7:
        raise ValueError("corrupt session payload")
    return head


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("session time is not a number")
    return float(value)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("session field is not a string")
    return value


def _session(head: Sequence[object], tokens: Sequence[str | None]) -> SessionData:
    session_id, expires_at, created_at, last_seen, refresh_expires_at, identity_id, extra = head
    if not isinstance(extra, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise ValueError("corrupt session payload")
    id_token, access_token, refresh_token = tokens
    if id_token is None or access_token is None:
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


# Format 1 -------------------------------------------------------------------------------

_ABSENT, _TEXT, _SEGMENTS = 0, 1, 2


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
            return _utf8(self.take(size))
        if kind == _SEGMENTS:
            count = self.take(1)[0]
            parts = []
            for _ in range(count):
                (size,) = _u16.unpack(self.take(2))
                parts.append(_b64encode(self.take(size)))
            return b".".join(parts).decode("ascii")
        raise ValueError("unknown token kind")

    def at_end(self) -> bool:
        return self._pos == len(self._data)


def _decode_legacy(data: bytes) -> SessionData:
    plain = _inflate(data[1:])
    end = plain.find(b"\n")
    if end < 0:
        raise ValueError("corrupt session payload")
    head = _head(plain[:end])
    reader = _Reader(plain, end + 1)
    tokens = [reader.token(), reader.token(), reader.token()]
    if not reader.at_end():
        raise ValueError("corrupt session payload")
    return _session(head, tokens)
