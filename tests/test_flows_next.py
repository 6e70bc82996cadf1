from __future__ import annotations

import pytest

from cognito_middleware._flows import safe_next


@pytest.mark.parametrize(
    "value", ["/", "/profile", "/a/b?x=1&y=%2F", "/search?q=a%20b#frag", "/caf%C3%A9"]
)
def test_relative_paths_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/%2Fevil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "/ok\r\nSet-Cookie: x=1",
        "/tab\there",
        "profile",
        "",
        "/" + "a" * 5000,
    ],
)
def test_anything_that_could_leave_the_site_is_refused(value: str) -> None:
    assert safe_next(value) is None
