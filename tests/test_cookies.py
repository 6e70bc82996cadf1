"""Request cookies parsed on first read, and the Set-Cookie values the library writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import cookie_parser

from cognito_middleware._cookies import RequestCookies, expire_cookie, set_cookie


def test_request_cookies_from_the_raw_header_bytes_read_as_starlette_reads_them() -> None:
    cookies = RequestCookies(b"a=1; theme=dark; name=\xe9t\xe9")
    assert cookies["theme"] == "dark"
    assert dict(cookies) == {"a": "1", "theme": "dark", "name": "\xe9t\xe9"}
    assert "missing" not in cookies and len(cookies) == 3


def test_request_cookies_from_text_and_an_empty_header() -> None:
    assert dict(RequestCookies("a=1")) == {"a": "1"}
    assert dict(RequestCookies(b"")) == {}


def test_set_cookie_flags_and_expiry() -> None:
    value = set_cookie("s", "v", secure=True, max_age=60)
    assert value.startswith("s=v") and "HttpOnly" in value and "Secure" in value
    assert "SameSite=lax" in value and "Path=/" in value and "Max-Age=60" in value
    expired = expire_cookie("s", secure=False)
    assert "Max-Age=0" in expired and "Secure" not in expired


_COOKIE_TEXT = st.text(alphabet=st.sampled_from(list('ab=; "\\\t\xa0\x1fs-0')), max_size=40)


@settings(max_examples=500, deadline=None)
@given(header=_COOKIE_TEXT, name=st.sampled_from(["a", "b", "ab", "s-0", "a b", "="]))
def test_looking_up_one_name_reads_what_starlette_reads(header: str, name: str) -> None:
    expected = cookie_parser(header)
    cookies = RequestCookies(header.encode("latin-1"))
    assert cookies.get(name) == expected.get(name)
    assert (name in cookies) == (name in expected)
    assert dict(cookies) == expected


def test_a_name_inside_another_cookie_is_not_that_cookie() -> None:
    cookies = RequestCookies("x=session=forged; session=real; y=1session=no")
    assert cookies["session"] == "real"
    assert RequestCookies("x=session=forged").get("session") is None
    assert RequestCookies('session="quoted\\"value"')["session"] == 'quoted"value'
