"""Does the per-request cost stay flat as the number of distinct active sessions (or Bearer
tokens) grows? Requests pick uniformly among N sessions that have all been seen before (beyond
the memos' bounds most picks are no longer remembered: a session the store still holds, but
whose cookie or user has been forgotten). And does a path-rule evaluation cost the same with
one rule as with hundreds?"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import Scope

from cognito_middleware import PathRule
from cognito_middleware._guards import PathRules
from cognito_middleware._user import CognitoUser
from cognito_middleware.sessions import CookieSessionStore, MemorySessionStore, SessionStore

from .apps import PROTECTED, bare_app, cognito_app
from .environment import Environment
from .harness import Batch, call, fastest, make_scope, measure_interleaved, median, min_ratio
from .harness import paired_ratio as median_ratio
from .synthetic import cookie_header_of, distinct_sessions

__all__ = ["run_scale"]

_DEFAULT_MEMORY_ENTRIES = 10_000


def _store(environment: Environment, kind: str, count: int) -> SessionStore:
    secrets = environment.config.session_secrets
    secure = environment.config.cookies_secure
    from cognito_middleware.sessions import CookieSettings

    cookie = CookieSettings(name=environment.config.cookie_name, secure=secure)
    if kind == "cookie":
        return CookieSessionStore(secrets, cookie=cookie)
    # The default bound (10^4) would sign users out beyond it; size the store for the test.
    return MemorySessionStore(
        secrets, cookie=cookie, max_entries=max(count, _DEFAULT_MEMORY_ENTRIES)
    )


def _scope(path: str, header: tuple[bytes, bytes]) -> Scope:
    scope = make_scope(path)
    scope["headers"] = [*scope["headers"], header]
    return scope


async def _session_headers(
    environment: Environment, store: SessionStore, template: Any, count: int
) -> list[tuple[bytes, bytes]]:
    return [
        (b"cookie", await cookie_header_of(store, session))
        for session in distinct_sessions(template, count)
    ]


async def _measure(
    environment: Environment,
    app: Any,
    headers: Sequence[tuple[bytes, bytes]],
    iterations: int,
    rounds: int,
    seed: int,
) -> dict[str, Any]:
    for header in headers:
        responder = await call(app, _scope(PROTECTED, header))
        if responder.status != 200:
            raise RuntimeError(f"warm-up request answered {responder.status}")
    rng = random.Random(seed)
    picks = [[rng.randrange(len(headers)) for _ in range(iterations)] for _ in range(rounds)]

    async def prepare(round_no: int) -> list[Scope]:
        # Header bytes of their own per request, as a server builds them.
        return [
            _scope(PROTECTED, (headers[i][0], bytes(bytearray(headers[i][1]))))
            for i in picks[round_no]
        ]

    calls_before = environment.network_calls()
    batches = [
        Batch("bare", bare_app(), prepare),
        Batch("bare_again", bare_app(), prepare),
        Batch("cognito", app, prepare),
    ]
    await measure_interleaved(batches, rounds)
    bare, bare_again, cognito = batches
    last = await call(app, _scope(PROTECTED, headers[picks[-1][-1]]))
    return {
        "fastest_us": round(fastest(cognito.samples), 3),
        "bare_fastest_us": round(fastest(bare.samples), 3),
        "ratio_to_bare": round(min_ratio(cognito.samples, bare.samples), 4),
        "band": round(abs(min_ratio(bare_again.samples, bare.samples) - 1.0), 4),
        "median_us": round(median(cognito.samples), 2),
        "median_ratio_to_bare": round(median_ratio(cognito.samples, bare.samples), 3),
        "unexpected_status_rounds": cognito.unexpected,
        "session_rewritten": bool(last.set_cookies),
        "network_calls": environment.network_calls() - calls_before,
    }


async def run_scale(
    environment: Environment,
    *,
    session_counts: Sequence[int],
    token_counts: Sequence[int],
    iterations: int,
    rounds: int,
) -> dict[str, Any]:
    """Per-request time with N distinct active sessions (cookie and memory stores) and N
    distinct memoised Bearer tokens."""
    template = await environment.session_of(await environment.sign_in("alice"))
    results: dict[str, Any] = {"sessions": {}, "bearer_tokens": {}}
    for kind in ("cookie", "memory"):
        rows = {}
        for count in session_counts:
            store = _store(environment, kind, count)
            headers = await _session_headers(environment, store, template, count)
            app = cognito_app(environment.config, session_store=store)
            rows[str(count)] = await _measure(
                environment, app, headers, iterations, rounds, seed=count
            )
            await app.aclose()
            del headers
        results["sessions"][f"{kind}_store"] = rows
    tokens = environment.mint_access_tokens(max(token_counts))
    for count in token_counts:
        app = cognito_app(environment.config)
        headers = [(b"authorization", f"Bearer {t}".encode()) for t in tokens[:count]]
        results["bearer_tokens"][str(count)] = await _measure(
            environment, app, headers, iterations, rounds, seed=count
        )
        await app.aclose()
    results["path_rules"] = {
        str(count): _path_rules(count, iterations * 10, rounds) for count in (1, 250)
    }
    return results


def _path_rules(count: int, iterations: int, rounds: int) -> dict[str, Any]:
    # A fifth of the rules make paths public, the rest require a group; the path evaluated
    # lies five segments under one of the protected prefixes.
    public = max(count // 5, 0)
    rules = PathRules(
        public_paths=tuple(f"/public{i}" for i in range(public)),
        protected=tuple(PathRule(prefix=f"/area{i}", groups=("g",)) for i in range(count - public)),
        default_deny=True,
    )
    target = f"/area{(count - public) // 2}"
    member = CognitoUser.from_claims(
        {"sub": "u-1", "cognito:username": "alice", "cognito:groups": ["g"]},
        {"sub": "u-1", "scope": ""},
    )
    fresh_paths = [f"{target}/a/b/c/{i}" for i in range(iterations * rounds)]
    seen_path = f"{target}/a/b/c/d"
    first_seen, seen = [], []
    for _ in range(iterations):  # warm-up
        rules.evaluate(seen_path, member)
    for round_no in range(rounds):
        paths = fresh_paths[round_no * iterations : (round_no + 1) * iterations]
        start = time.perf_counter()
        for path in paths:
            if not rules.evaluate(path, member).allowed:
                raise RuntimeError(f"{path} refused")
        first_seen.append((time.perf_counter() - start) / iterations * 1e6)
        start = time.perf_counter()
        for _ in range(iterations):
            rules.evaluate(seen_path, member)
        seen.append((time.perf_counter() - start) / iterations * 1e6)
    return {
        "first_seen_path_us": round(statistics.median(first_seen), 3),
        "seen_path_us": round(statistics.median(seen), 3),
    }
