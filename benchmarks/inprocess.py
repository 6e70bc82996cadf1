"""In-process ASGI timing of every scenario for every stack, in one interleaved run."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Scope

from .apps import (
    GUEST,
    PROTECTED,
    PUBLIC,
    bare_app,
    bearer_dependency_app,
    cognito_app,
    passthrough_app,
    session_jwt_app,
    session_jwt_cookie,
)
from .environment import Environment
from .harness import (
    Batch,
    apply_set_cookies,
    call,
    copies,
    make_scope,
    measure_interleaved,
    median,
    paired_ratio,
)

__all__ = ["SCENARIOS", "STACKS", "Settings", "run_inprocess"]

STACKS = {
    "bare": "bare Starlette (the floor)",
    "passthrough": "no-op pure-ASGI middleware (floor of any middleware)",
    "cognito": "CognitoAuthMiddleware",
    "cognito_no_guests": "CognitoAuthMiddleware, guest credentials off (no guest cookie to set)",
    "session_jwt": "SessionMiddleware + AuthenticationMiddleware, pyjwt-verified ID token",
    "bearer_dependency": "per-request pyjwt Bearer dependency",
}
SCENARIOS = {
    "anonymous": "(a) anonymous request, public route",
    "session": "(b) valid session cookie, protected route",
    "bearer_memo": "(c) Bearer token seen before, protected route",
    "bearer_first": "(d) Bearer token seen for the first time (RSA verify)",
    "guest_credentials": "(e) guest page fetching cached identity-pool credentials",
}


@dataclass(frozen=True)
class Settings:
    """How much to measure: calls per timed batch, and rounds per variant.

    Short batches and many rounds: the variants of a scenario are timed a few milliseconds
    apart, so that the machine's drift (large on a shared VM) cancels out of each round's
    ratio.
    """

    iterations: int = 250
    first_seen_iterations: int = 25
    rounds: int = 120


Prepare = Callable[[int], Awaitable[list[Scope]]]


def _fixed(scope: Scope, count: int) -> Prepare:
    async def prepare(round_no: int) -> list[Scope]:
        return copies(scope, count)

    return prepare


def _browser(app: ASGIApp, path: str, jar: dict[str, str], count: int,
             rewrites: list[int]) -> Prepare:
    """Before each round, one untimed request whose ``Set-Cookie`` the browser keeps (the
    session's once-a-minute touch), so the timed calls send what a browser would send."""

    async def prepare(round_no: int) -> list[Scope]:
        responder = await call(app, make_scope(path, cookies=jar))
        rewrites[0] += apply_set_cookies(jar, responder.set_cookies) > 0
        return copies(make_scope(path, cookies=jar), count)

    return prepare


def _first_seen(tokens: Sequence[Sequence[str]]) -> Prepare:
    async def prepare(round_no: int) -> list[Scope]:
        return [make_scope(PROTECTED, authorization=f"Bearer {t}") for t in tokens[round_no]]

    return prepare


async def run_inprocess(environment: Environment, settings: Settings) -> dict[str, Any]:
    """Measure every (scenario, stack) pair; returns the JSON-ready results."""
    n, rounds = settings.iterations, settings.rounds
    cognito = environment.middleware
    await environment.fetch_jwks()
    keys = environment.keys()
    bare = bare_app()
    passthrough = passthrough_app()
    # The identity pool for signed-in users only (as without an identity pool): no guest
    # cookie can be due, so an anonymous request's send is not wrapped. The cost of offering
    # guest credentials, shown apart.
    no_guests = cognito_app(
        dataclasses.replace(environment.config, guest_credentials=False),
        transport=environment.transport,
    )
    session_jwt = session_jwt_app(keys)
    dependency = bearer_dependency_app(keys)

    session_jar = await environment.sign_in("alice")
    session = await environment.session_of(session_jar)
    # The ID and access tokens: what fits in one browser cookie (the refresh token would not).
    starlette_cookie = {"session": session_jwt_cookie({
        "id_token": session.id_token,
        "access_token": session.access_token,
    })}
    bearer = f"Bearer {session.access_token}"
    guest_jar = await environment.guest_cookies()
    first_seen = environment.mint_access_tokens(rounds * settings.first_seen_iterations + 1)
    check_token, first_seen = first_seen[0], first_seen[1:]
    per_round = [
        first_seen[i * settings.first_seen_iterations:(i + 1) * settings.first_seen_iterations]
        for i in range(rounds)
    ]

    rewrites = [0]
    plans: dict[str, dict[str, tuple[ASGIApp, Scope, Prepare]]] = {}
    anonymous = make_scope(PUBLIC)
    plans["anonymous"] = {
        name: (app, anonymous, _fixed(anonymous, n))
        for name, app in (("bare", bare), ("passthrough", passthrough), ("cognito", cognito),
                          ("cognito_no_guests", no_guests), ("session_jwt", session_jwt),
                          ("bearer_dependency", dependency))
    }
    with_session = make_scope(PROTECTED, cookies=session_jar)
    with_starlette_session = make_scope(PROTECTED, cookies=starlette_cookie)
    plans["session"] = {
        "bare": (bare, with_session, _fixed(with_session, n)),
        "passthrough": (passthrough, with_session, _fixed(with_session, n)),
        "cognito": (cognito, with_session,
                    _browser(cognito, PROTECTED, dict(session_jar), n, rewrites)),
        "session_jwt": (session_jwt, with_starlette_session,
                        _fixed(with_starlette_session, n)),
    }
    with_bearer = make_scope(PROTECTED, authorization=bearer)
    plans["bearer_memo"] = {
        name: (app, with_bearer, _fixed(with_bearer, n))
        for name, app in (("bare", bare), ("passthrough", passthrough), ("cognito", cognito),
                          ("session_jwt", session_jwt), ("bearer_dependency", dependency))
    }
    with_check_token = make_scope(PROTECTED, authorization=f"Bearer {check_token}")
    plans["bearer_first"] = {
        name: (app, with_check_token, _first_seen(per_round))
        for name, app in (("bare", bare), ("cognito", cognito), ("session_jwt", session_jwt),
                          ("bearer_dependency", dependency))
    }
    with_guest = make_scope(GUEST, cookies=guest_jar)
    plans["guest_credentials"] = {
        "bare": (bare, with_guest, _fixed(with_guest, n)),
        "cognito": (cognito, with_guest, _browser(cognito, GUEST, dict(guest_jar), n, rewrites)),
    }

    # Warm every path (JWKS fetched, memos filled, lazily built middleware stacks) and check
    # that each variant really answers 200, i.e. authenticates where it must.
    for scenario, variants in plans.items():
        for stack, (app, scope, _) in variants.items():
            for _ in range(3):
                responder = await call(app, scope)
                if responder.status != 200:
                    raise RuntimeError(f"{scenario}/{stack} answered {responder.status}")

    transport_before = environment.transport.requests
    calls_before = environment.network_calls()
    results: dict[str, Any] = {}
    for scenario, variants in plans.items():
        batches = [Batch(stack, app, prepare) for stack, (app, _, prepare) in variants.items()]
        await measure_interleaved(batches, rounds)
        by_stack = {b.name: b for b in batches}
        floor = by_stack["bare"].samples
        results[scenario] = {
            "description": SCENARIOS[scenario],
            "iterations": settings.first_seen_iterations if scenario == "bearer_first" else n,
            "rounds": rounds,
            "stacks": {
                stack: {
                    "median_us": round(median(b.samples), 2),
                    "ratio_to_bare": round(paired_ratio(b.samples, floor), 3),
                    "overhead_us": round(median(b.samples) - median(floor), 2),
                    "unexpected_status_rounds": b.unexpected,
                    "samples_us": [round(s, 2) for s in b.samples],
                }
                for stack, b in by_stack.items()
            },
        }
    network = {
        "outbound_requests_during_timed_loops": environment.transport.requests - transport_before,
        "local_cognito_calls_during_timed_loops": environment.network_calls() - calls_before,
        "session_cookie_rewrites_between_rounds": rewrites[0],
    }
    sizes = {
        "session_cookie_header_bytes": len(with_session["headers"][-1][1]),
        "session_cookies": sorted(session_jar),
        "starlette_session_cookie_header_bytes": len(with_starlette_session["headers"][-1][1]),
        "access_token_bytes": len(session.access_token),
        "id_token_bytes": len(session.id_token),
    }
    await no_guests.aclose()
    return {"scenarios": results, "network": network, "sizes": sizes}
