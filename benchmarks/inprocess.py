"""In-process ASGI timing of every scenario for every stack, in one alternated run per scenario.

Every scenario also times a second, independent bare app (``bare_again``): its ratio to the
first one is what two measurements of the same thing differ by in this run, the band a
difference must clear to be more than noise.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Scope

from cognito_middleware.sessions import MemorySessionStore, SessionStore
from cognito_middleware.sessions._base import SessionData

from .apps import (
    GUEST,
    PROTECTED,
    PUBLIC,
    PyJWTDecode,
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
    figures,
    make_scope,
    measure_interleaved,
)
from .synthetic import cookie_header_of, distinct_sessions, issuer_store

__all__ = ["EXTRA_VARIANTS", "SCENARIOS", "STACKS", "Settings", "run_inprocess"]

STACKS = {
    "bare": "bare Starlette (the floor)",
    "bare_again": "bare Starlette again (the noise band)",
    "passthrough": "no-op pure-ASGI middleware (floor of any middleware)",
    "cognito": "CognitoAuthMiddleware",
    "cognito_no_guests": "CognitoAuthMiddleware, guest credentials off (no guest cookie to set)",
    "cognito_memory_store": "CognitoAuthMiddleware, memory session store",
    "session_jwt": "SessionMiddleware + AuthenticationMiddleware, pyjwt-verified ID token",
    "bearer_dependency": "per-request pyjwt Bearer dependency",
}
EXTRA_VARIANTS = {
    "cognito_memo": "CognitoAuthMiddleware, a memoised token (same alternation)",
    "pyjwt_decode": "pyjwt's jwt.decode with a prepared key (no app)",
}
SCENARIOS = {
    "anonymous": "(a) anonymous request, public route",
    "session": "(b) remembered session cookie, protected route",
    "session_first": "(c) session cookie never seen by this process, protected route",
    "bearer_memo": "(d) Bearer token seen before, protected route",
    "bearer_first": "(e) Bearer token seen for the first time (RSA verify)",
    "guest_credentials": "(f) guest page fetching cached identity-pool credentials",
}


@dataclass(frozen=True)
class Settings:
    """How much to measure: calls per timed batch, and rounds (batches) per variant.

    Short batches and many rounds: the variants of a scenario are timed a few milliseconds
    apart, and the fastest of many batches is the one the machine did not disturb.
    """

    iterations: int = 100
    first_seen_iterations: int = 20
    rounds: int = 200


Prepare = Callable[[int], Awaitable[list[Scope]]]


def _fixed(scope: Scope, count: int) -> Prepare:
    async def prepare(round_no: int) -> list[Scope]:
        return copies(scope, count)

    return prepare


def _browser(
    app: ASGIApp, path: str, jar: dict[str, str], count: int, rewrites: list[int]
) -> Prepare:
    """Before each round, one untimed request whose ``Set-Cookie`` the browser keeps (the
    session's once-a-minute touch), so the timed calls send what a browser would send."""

    async def prepare(round_no: int) -> list[Scope]:
        responder = await call(app, make_scope(path, cookies=jar))
        rewrites[0] += apply_set_cookies(jar, responder.set_cookies) > 0
        return copies(make_scope(path, cookies=jar), count)

    return prepare


def _with_cookie(path: str, header: bytes) -> Scope:
    scope = make_scope(path)
    scope["headers"] = [*scope["headers"], (b"cookie", header)]
    return scope


def _new_sessions(
    store: SessionStore, template: SessionData, count: int, users: itertools.count[int]
) -> Prepare:
    """Before each round, ``count`` sessions of users never seen before, saved by ``store``:
    every timed request carries a session cookie this process has not opened, with tokens
    whose user it has not built."""

    async def prepare(round_no: int) -> list[Scope]:
        sessions = distinct_sessions(template, count, start=next(users) * count)
        return [_with_cookie(PROTECTED, await cookie_header_of(store, s)) for s in sessions]

    return prepare


def _bearers(tokens: Sequence[Sequence[str]]) -> Prepare:
    async def prepare(round_no: int) -> list[Scope]:
        return [make_scope(PROTECTED, authorization=f"Bearer {t}") for t in tokens[round_no]]

    return prepare


def _decodes(scopes: Sequence[Sequence[Scope]]) -> Prepare:
    async def prepare(round_no: int) -> list[Scope]:
        return list(scopes[round_no])

    return prepare


async def run_inprocess(environment: Environment, settings: Settings) -> dict[str, Any]:
    """Measure every (scenario, stack) pair; returns the JSON-ready results."""
    n, rounds, first_n = settings.iterations, settings.rounds, settings.first_seen_iterations
    cognito = environment.middleware
    await environment.fetch_jwks()
    keys = environment.keys()
    bare, bare_again = bare_app(), bare_app()
    passthrough = passthrough_app()
    # The identity pool for signed-in users only (as without an identity pool): no guest
    # cookie can be due. The cost of offering guest credentials, shown apart.
    no_guests = cognito_app(
        dataclasses.replace(environment.config, guest_credentials=False),
        transport=environment.transport,
    )
    # Sized for every session the first-seen scenario saves: none is evicted before its turn.
    memory_store = MemorySessionStore(
        environment.config.session_secrets, max_entries=rounds * n + 100
    )
    with_memory_store = cognito_app(
        environment.config, transport=environment.transport, session_store=memory_store
    )
    session_jwt = session_jwt_app(keys)
    dependency = bearer_dependency_app(keys)

    session_jar = await environment.sign_in("alice")
    session = await environment.session_of(session_jar)
    # The ID and access tokens: what fits in one browser cookie (the refresh token would not).
    starlette_cookie = {
        "session": session_jwt_cookie(
            {
                "id_token": session.id_token,
                "access_token": session.access_token,
            }
        )
    }
    bearer = f"Bearer {session.access_token}"
    guest_jar = await environment.guest_cookies()
    minted = environment.mint_access_tokens(rounds * first_n + 1)
    check_token, minted = minted[0], minted[1:]
    per_round = [minted[i * first_n : (i + 1) * first_n] for i in range(rounds)]
    decode_scopes = [[PyJWTDecode.scope(keys, t) for t in tokens] for tokens in per_round]
    decoder = PyJWTDecode()

    rewrites = [0]
    plans: dict[str, dict[str, tuple[ASGIApp, Scope, Prepare]]] = {}
    anonymous = make_scope(PUBLIC)
    plans["anonymous"] = {
        name: (app, anonymous, _fixed(anonymous, n))
        for name, app in (
            ("bare", bare),
            ("bare_again", bare_again),
            ("passthrough", passthrough),
            ("cognito", cognito),
            ("cognito_no_guests", no_guests),
            ("session_jwt", session_jwt),
            ("bearer_dependency", dependency),
        )
    }
    with_session = make_scope(PROTECTED, cookies=session_jar)
    with_starlette_session = make_scope(PROTECTED, cookies=starlette_cookie)
    plans["session"] = {
        "bare": (bare, with_session, _fixed(with_session, n)),
        "bare_again": (bare_again, with_session, _fixed(with_session, n)),
        "passthrough": (passthrough, with_session, _fixed(with_session, n)),
        "cognito": (
            cognito,
            with_session,
            _browser(cognito, PROTECTED, dict(session_jar), n, rewrites),
        ),
        "session_jwt": (session_jwt, with_starlette_session, _fixed(with_starlette_session, n)),
    }
    # Users numbered from 1: the warm-up request below is user 0 of each store.
    issuer = issuer_store(environment.config)
    first_cookie = _with_cookie(
        PROTECTED, await cookie_header_of(issuer, distinct_sessions(session, 1)[0])
    )
    first_memory = _with_cookie(
        PROTECTED, await cookie_header_of(memory_store, distinct_sessions(session, 1)[0])
    )
    plans["session_first"] = {
        "bare": (bare, first_cookie, _fixed(first_cookie, n)),
        "bare_again": (bare_again, first_cookie, _fixed(first_cookie, n)),
        "passthrough": (passthrough, first_cookie, _fixed(first_cookie, n)),
        "cognito": (cognito, first_cookie, _new_sessions(issuer, session, n, itertools.count(1))),
        "cognito_memory_store": (
            with_memory_store,
            first_memory,
            _new_sessions(memory_store, session, n, itertools.count(1)),
        ),
    }
    with_bearer = make_scope(PROTECTED, authorization=bearer)
    plans["bearer_memo"] = {
        name: (app, with_bearer, _fixed(with_bearer, n))
        for name, app in (
            ("bare", bare),
            ("bare_again", bare_again),
            ("passthrough", passthrough),
            ("cognito", cognito),
            ("session_jwt", session_jwt),
            ("bearer_dependency", dependency),
        )
    }
    with_check_token = make_scope(PROTECTED, authorization=f"Bearer {check_token}")
    plans["bearer_first"] = {
        name: (app, with_check_token, _bearers(per_round))
        for name, app in (
            ("bare", bare),
            ("bare_again", bare_again),
            ("cognito", cognito),
            ("session_jwt", session_jwt),
            ("bearer_dependency", dependency),
        )
    }
    plans["bearer_first"]["cognito_memo"] = (cognito, with_bearer, _fixed(with_bearer, first_n))
    plans["bearer_first"]["pyjwt_decode"] = (
        decoder,
        PyJWTDecode.scope(keys, check_token),
        _decodes(decode_scopes),
    )
    with_guest = make_scope(GUEST, cookies=guest_jar)
    plans["guest_credentials"] = {
        "bare": (bare, with_guest, _fixed(with_guest, n)),
        "bare_again": (bare_again, with_guest, _fixed(with_guest, n)),
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
        floor = by_stack["bare"]
        stacks = {stack: figures(b, floor) for stack, b in by_stack.items()}
        results[scenario] = {
            "description": SCENARIOS[scenario],
            "iterations": first_n if scenario == "bearer_first" else n,
            "rounds": rounds,
            "band": round(abs(stacks["bare_again"]["ratio_to_bare"] - 1.0), 4),
            "stacks": stacks,
        }
    first = results["bearer_first"]["stacks"]
    results["bearer_first"]["verification_vs_pyjwt"] = round(
        (first["cognito"]["fastest_us"] - first["cognito_memo"]["fastest_us"])
        / first["pyjwt_decode"]["fastest_us"],
        3,
    )
    network = {
        "outbound_requests_during_timed_loops": environment.transport.requests - transport_before,
        "local_cognito_calls_during_timed_loops": environment.network_calls() - calls_before,
        "session_cookie_rewrites_between_rounds": rewrites[0],
    }
    sizes = {
        "session_cookie_header_bytes": len(with_session["headers"][-1][1]),
        "first_seen_session_cookie_header_bytes": len(first_cookie["headers"][-1][1]),
        "session_cookies": sorted(session_jar),
        "starlette_session_cookie_header_bytes": len(with_starlette_session["headers"][-1][1]),
        "access_token_bytes": len(session.access_token),
        "id_token_bytes": len(session.id_token),
    }
    await no_guests.aclose()
    await with_memory_store.aclose()
    return {"scenarios": results, "network": network, "sizes": sizes}
