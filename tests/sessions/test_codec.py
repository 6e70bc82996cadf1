"""The compact session encoding: exact round trips and refusal of anything else."""

from __future__ import annotations

import contextlib
import json
import random
import tracemalloc
import zlib

import pytest

from cognito_middleware.sessions import SessionData
from cognito_middleware.sessions._codec import decode_session, encode_session

from .helpers import NOW, legacy_format_1, make_session


def session_with(**changes: object) -> SessionData:
    return make_session(NOW, seed=1).evolve(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"refresh_token": None, "refresh_expires_at": None, "identity_id": None},
        {"extra": {"provider": "AzureAD", "ünïcode": "✓", "quote": '"\n\\'}},
        {"expires_at": 1764153600.123456789, "created_at": 0.1, "last_seen": 1e10},
        {"expires_at": 1764153600},
        # Not JWT-shaped, or base64 that would not re-encode to the same text: kept verbatim.
        {"access_token": "opaque-token"},
        {"access_token": "a.b"},
        {"access_token": "abc=.def"},
        {"access_token": "AB.CD"},
        {"access_token": "eyJ.é.x"},
        {"access_token": "...."},
        {"access_token": ""},
        {"id_token": "a." * 20 + "a"},
    ],
)
def test_round_trips_exactly(changes: dict[str, object]) -> None:
    session = session_with(**changes)
    decoded = decode_session(encode_session(session))
    assert decoded == session
    assert type(decoded.expires_at) is float


@pytest.mark.parametrize("groups", [0, 10, 50])
def test_smaller_than_compressed_json(groups: int) -> None:
    session = make_session(NOW, groups=groups, seed=groups)
    as_json = json.dumps(
        [session.id_token, session.access_token, session.refresh_token, session.session_id],
        separators=(",", ":"),
    ).encode()
    assert len(encode_session(session)) < len(zlib.compress(as_json, 9)) * 0.95


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + zlib.compress(b"[]\n"),
        b"\x01not zlib",
        b"\x01" + zlib.compress(b"no newline"),
        b"\x01" + zlib.compress(b"[1,2]\n"),
        b"\x01" + zlib.compress(b"{}\n"),
        b"\x01" + zlib.compress(b"not json\n"),
        b"\x01" + zlib.compress(b'["id",1,2,3,null,null,{}]\n'),
        b"\x01" + zlib.compress(b'["id",1,2,3,null,null,{}]\n\x01\x00\x00\x00\x09abc'),
        b"\x01" + zlib.compress(b'["id",1,2,3,null,null,{}]\n\x07'),
        b"\x01" + zlib.compress(b'["id",1,2,3,null,null,{}]\n\x00\x01\x00\x00\x00\x00\x00'),
        b"\x01" + zlib.compress(b'["id","1",2,3,null,null,{}]\n\x01\x00\x00\x00\x00' * 1),
    ],
)
def test_refuses_malformed_data(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_session(data)


def _with_head(head: list[object]) -> bytes:
    token = b"\x01\x00\x00\x00\x01x"
    body = json.dumps(head).encode() + b"\n" + token + token + b"\x00"
    return b"\x01" + zlib.compress(body)


@pytest.mark.parametrize(
    "head",
    [
        [1, 1.0, 2.0, 3.0, None, None, {}],
        ["id", True, 2.0, 3.0, None, None, {}],
        ["id", 1.0, "2", 3.0, None, None, {}],
        ["id", 1.0, 2.0, 3.0, "4", None, {}],
        ["id", 1.0, 2.0, 3.0, None, 5, {}],
        ["id", 1.0, 2.0, 3.0, None, None, []],
        ["id", 1.0, 2.0, 3.0, None, None, {"k": 1}],
    ],
)
def test_refuses_wrong_types(head: list[object]) -> None:
    assert decode_session(_with_head(["id", 1.0, 2.0, 3.0, None, None, {}])).session_id == "id"
    with pytest.raises(ValueError):
        decode_session(_with_head(head))


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(ValueError):
        decode_session(encode_session(session_with()) + b"\x00")
    good = zlib.decompress(legacy_format_1(session_with())[1:])
    with pytest.raises(ValueError):
        decode_session(b"\x01" + zlib.compress(good + b"\x00"))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"refresh_token": None, "refresh_expires_at": None, "identity_id": None},
        {"access_token": "opaque-token"},
        {"extra": {"provider": "AzureAD", "ünïcode": "✓"}},
    ],
)
def test_sessions_written_by_earlier_versions_still_open(changes: dict[str, object]) -> None:
    session = session_with(**changes)
    assert decode_session(legacy_format_1(session)) == session


def test_compression_is_spent_on_the_claims_only() -> None:
    # Signatures and a JWE's ciphertext do not compress: stored raw, the encoding is smaller
    # than compressing everything together.
    session = make_session(NOW, groups=10, seed=3)
    assert len(encode_session(session)) < len(legacy_format_1(session))


def test_decompression_is_capped() -> None:
    head = b'["id",1,2,3,null,null,{}]\n'
    size = 64 << 20
    bomb = b"\x01" + zlib.compress(head + b"\x01" + size.to_bytes(4, "big") + b"x" * size, 9)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            decode_session(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_random_bytes_never_raise_anything_but_value_error() -> None:
    rng = random.Random(5)
    good = encode_session(session_with())
    for _ in range(500):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(ValueError):
            decode_session(bytes(data))
