"""Sealed values open only as issued: any other spelling of the same bytes is refused."""

from __future__ import annotations

import pytest

from cognito_middleware._config import Secret
from cognito_middleware._seal import Sealer

SEALER = Sealer((Secret("s" * 32),), "test")


def test_round_trip_with_associated_data() -> None:
    text = SEALER.seal(b"payload", b"ad")
    assert SEALER.open(text, b"ad") == b"payload"
    assert SEALER.open(text, b"other") is None


@pytest.mark.parametrize(
    "respell",
    [
        lambda t: t + "=" * (-len(t) % 4 or 4),  # padded
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t[:10] + "\n" + t[10:],
        lambda t: t.replace("-", "+").replace("_", "/"),  # the standard alphabet
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t[:5] + "é" + t[6:],
        lambda t: "",
    ],
)
def test_other_spellings_do_not_open(respell: object) -> None:
    # A value with '-' and '_' in it, so that the alphabet swap changes it.
    text = next(
        t for t in (SEALER.seal(bytes([n]) * 40) for n in range(256)) if "-" in t or "_" in t
    )
    variant = respell(text)  # type: ignore[operator]
    assert variant != text
    assert SEALER.open(variant) is None
