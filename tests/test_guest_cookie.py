"""The signed guest identity cookie, driven by a fake clock."""

from __future__ import annotations

from typing import Any

from cognito_middleware._config import CognitoConfig
from cognito_middleware._credentials.guest import MAX_AGE, RENEW_AFTER, GuestCookie

POOL = "eu-west-1:0a1b2c3d-0000-1111-2222-333344445555"
GUEST = "eu-west-1:guest-0001"
OLD, NEW = "o" * 40, "n" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_config(**overrides: Any) -> CognitoConfig:
    values: dict[str, Any] = {
        "user_pool_id": "eu-west-1_AbCdEf123",
        "client_id": "4hqt9ikctmesulmh0hbqbs00ta",
        "domain": "http://localhost:9000",
        "redirect_uri": "http://localhost:8000/auth/callback",
        "session_secret": OLD,
        "identity_pool_id": POOL,
    }
    values.update(overrides)
    return CognitoConfig(**values)


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def test_a_signed_cookie_reads_back_with_its_signing_time() -> None:
    clock = Clock()
    guests = GuestCookie(make_config(), POOL, clock)
    header = guests.set_cookie(GUEST)
    assert header.startswith("cognito_guest=") and f"Max-Age={MAX_AGE}" in header
    guest = guests.read({guests.name: value_of(header)})
    assert guest is not None
    assert (guest.identity_id, guest.signed_at) == (GUEST, int(clock.now))


def test_over_https_the_cookie_takes_the_host_prefix() -> None:
    secure = make_config(
        domain="https://auth.example.com", redirect_uri="https://app.example.com/auth/callback"
    )
    guests = GuestCookie(secure, POOL, Clock())
    assert guests.name == "__Host-cognito_guest"
    header = guests.set_cookie(GUEST)
    assert header.startswith("__Host-cognito_guest=") and "Secure" in header


def test_a_forged_or_foreign_cookie_is_ignored() -> None:
    clock = Clock()
    guests = GuestCookie(make_config(), POOL, clock)
    value = value_of(guests.set_cookie(GUEST))
    assert guests.read({}) is None
    assert guests.read({guests.name: value[:-2] + "xx"}) is None
    other_pool = GuestCookie(make_config(), "eu-west-1:another-pool", clock)
    assert other_pool.read({other_pool.name: value}) is None
    other_key = GuestCookie(make_config(session_secret=NEW), POOL, clock)
    assert other_key.read({other_key.name: value}) is None


def test_the_cookie_dies_after_its_max_age_even_once_verified() -> None:
    clock = Clock()
    guests = GuestCookie(make_config(), POOL, clock)
    cookies = {guests.name: value_of(guests.set_cookie(GUEST))}
    assert guests.read(cookies) is not None
    clock.now += MAX_AGE - 1
    assert guests.read(cookies) is not None
    clock.now += 2
    assert guests.read(cookies) is None


def test_an_old_cookie_asks_for_renewal() -> None:
    clock = Clock()
    guests = GuestCookie(make_config(), POOL, clock)
    guest = guests.read({guests.name: value_of(guests.set_cookie(GUEST))})
    assert guest is not None
    clock.now += RENEW_AFTER
    assert not guests.needs_renewal(guest)
    clock.now += 1
    assert guests.needs_renewal(guest)


def test_a_rotated_secret_still_reads_cookies_signed_with_the_old_one() -> None:
    clock = Clock()
    value = value_of(GuestCookie(make_config(), POOL, clock).set_cookie(GUEST))
    rotated = GuestCookie(make_config(session_secret=[NEW, OLD]), POOL, clock)
    guest = rotated.read({rotated.name: value})
    assert guest is not None and guest.identity_id == GUEST
    fresh = value_of(rotated.set_cookie(GUEST))
    assert (
        GuestCookie(make_config(session_secret=NEW), POOL, clock).read({rotated.name: fresh})
        is not None
    )


def test_expiring_the_cookie() -> None:
    guests = GuestCookie(make_config(), POOL, Clock())
    expired = guests.expire_cookie()
    assert expired.startswith("cognito_guest=") and "Max-Age=0" in expired
