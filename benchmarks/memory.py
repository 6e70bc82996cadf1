"""Memory per active session and per cached credential set; cookie size per session.

What the middleware keeps per session is measured from the outside: the bytes still allocated
after N distinct sessions' requests through a whole middleware, minus what its session store
alone keeps when asked the same (for the cookie store, its LRU of opened cookies is the
store's). No private attribute is read.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cognito_middleware._cookies import RequestCookies
from cognito_middleware._credentials.helpers import MemoryCredentialCache, get_aws_credentials
from cognito_middleware._identity_pool import AWSCredentials
from cognito_middleware._middleware import CognitoAuthMiddleware
from cognito_middleware._session_manager import TOUCH_INTERVAL
from cognito_middleware.local.seed import DEMO_PASSWORD
from cognito_middleware.sessions import (
    CookieSessionStore,
    CookieSettings,
    MemorySessionStore,
    SessionStore,
)

from .apps import PROTECTED, cognito_app, session_jwt_cookie
from .environment import Environment
from .harness import call, cookie_header, make_scope
from .synthetic import cookie_header_of, distinct_sessions, issuer_store

__all__ = ["run_memory"]

GROUP_COUNTS = (0, 10, 50)


async def _traced(action: Callable[[], Any]) -> int:
    """Bytes still allocated after awaiting ``action()`` (what it keeps alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = await action()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return int(after - before)


async def _store_bytes(environment: Environment, template: Any, count: int) -> float:
    """What ``count`` sessions of distinct users keep alive in a memory store: the sessions
    (tokens included) and the store's bookkeeping. Built inside the traced call and only
    referenced by the store afterwards."""
    store = MemorySessionStore(environment.config.session_secrets, max_entries=count + 1)

    async def fill() -> MemorySessionStore:
        for session in distinct_sessions(template, count):
            await store.save(session, {})
        return store

    return await _traced(fill) / count


def _session_store(environment: Environment, kind: str, count: int) -> SessionStore:
    config = environment.config
    cookie = CookieSettings(name=config.cookie_name, secure=config.cookies_secure)
    if kind == "cookie":
        return CookieSessionStore(config.session_secrets, cookie=cookie)
    return MemorySessionStore(config.session_secrets, cookie=cookie, max_entries=count + 10)


async def _retained(
    environment: Environment, template: Any, count: int, kind: str, idle: float
) -> dict[str, float]:
    """Bytes kept alive per session once ``count`` distinct signed-in users (last seen
    ``idle`` seconds ago) have each made one request: by the whole middleware, and by its
    session store on its own doing what the middleware asks of it (load; save when a touch is
    due). Cookies come from another store (cookie store) or are saved beforehand (memory
    store), so each request is the first of its session in this middleware. Every request is
    built inside the traced call and dropped after it, as a server does."""
    config = environment.config
    issuer = issuer_store(config)
    due = idle >= TOUCH_INTERVAL
    sessions = distinct_sessions(template, count + 1, idle=idle)

    async def headers_for(store: SessionStore) -> list[bytes]:
        saver = issuer if kind == "cookie" else store
        return [await cookie_header_of(saver, s) for s in sessions]

    store = _session_store(environment, kind, count)
    app = cognito_app(config, session_store=store)
    headers = await headers_for(store)

    def scope(header: bytes) -> Any:
        built = make_scope(PROTECTED)
        built["headers"].append((b"cookie", header))
        return built

    await call(app, scope(headers[0]))  # builds what every request shares

    async def requests() -> None:
        for header in headers[1:]:
            responder = await call(app, scope(header))
            if responder.status != 200 or bool(responder.set_cookies) != due:
                raise RuntimeError(f"request answered {responder.status}")

    whole = await _traced(requests)
    await app.aclose()

    alone = _session_store(environment, kind, count)
    alone_headers = await headers_for(alone)
    await alone.load(RequestCookies(alone_headers[0]))

    async def loads() -> None:
        now = time.time()
        for header in alone_headers[1:]:
            cookies = RequestCookies(header)
            session = await alone.load(cookies)
            if session is None:
                raise RuntimeError("the store did not open its session")
            if due:
                await alone.save(session.evolve(last_seen=now), cookies)

    store_own = await _traced(loads)
    return {
        "middleware_and_store": whole / count,
        "store": store_own / count,
        "middleware_beyond_store": (whole - store_own) / count,
    }


async def _credential_sample(environment: Environment) -> AWSCredentials:
    """Credentials as the identity pool issues them, fetched by a handler for a guest."""
    seen: list[AWSCredentials] = []

    async def fetch(request: Request) -> Response:
        seen.append(await get_aws_credentials(request))
        return JSONResponse({})

    app = CognitoAuthMiddleware(
        Starlette(routes=[Route("/creds", fetch)]), config=environment.config
    )
    try:
        responder = await call(app, make_scope("/creds"))
    finally:
        await app.aclose()
    if responder.status != 200 or not seen:
        raise RuntimeError(f"guest credentials failed: {responder.status}")
    return seen[0]


async def _credential_bytes(environment: Environment, count: int) -> float:
    """What ``count`` cached credential sets (distinct identities, sizes of the ones the
    identity pool issued) keep alive in the in-memory credential cache, keys included."""
    sample = await _credential_sample(environment)
    target = MemoryCredentialCache(max_entries=count + 1)

    async def fill() -> MemoryCredentialCache:
        for i in range(count):
            creds = AWSCredentials(
                access_key_id=f"{sample.access_key_id[:-6]}{i:06d}",
                secret_key=f"{sample.secret_key[:-6]}{i:06d}",
                session_token=f"{sample.session_token[:-6]}{i:06d}",
                expiration=sample.expiration + i,
                identity_id=f"{sample.identity_id[:-6]}{i:06d}",
                role_arn=sample.role_arn,
            )
            await target.set(f"auth|{creds.identity_id}|", creds)
        return target

    return await _traced(fill) / count


async def _cookie_sizes(environment: Environment) -> list[dict[str, Any]]:
    cognito = environment.cognito
    rows = []
    for count in GROUP_COUNTS:
        # Group names as federated directories send them (Azure AD: object ids), which
        # compress far worse than readable names.
        groups = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"group-{i}")) for i in range(count)]
        for group in groups:
            cognito.add_group(group)
        username = f"groups{count}"
        cognito.add_user(username, DEMO_PASSWORD, email=f"{username}@example.com", groups=groups)
        jar = await environment.sign_in(username)
        session = await environment.session_of(jar)
        names: Sequence[str] = sorted(jar)
        starlette = session_jwt_cookie(
            {
                "id_token": session.id_token,
                "access_token": session.access_token,
                "refresh_token": session.refresh_token or "",
            }
        )
        rows.append(
            {
                "groups": count,
                "cookie_header_bytes": len(cookie_header(jar)),
                "chunks": len(names),
                "largest_chunk_bytes": max(len(f"{n}={jar[n]}") for n in names),
                "tokens_bytes": len(session.id_token)
                + len(session.access_token)
                + len(session.refresh_token or ""),
                "starlette_session_cookie_bytes": len(f"session={starlette}"),
            }
        )
    return rows


async def run_memory(environment: Environment, count: int) -> dict[str, Any]:
    """Bytes per session (``count`` sessions, fewer than any memo's or cache's bound, so that
    every one of them is still remembered) and per credential set; cookie sizes."""
    template = await environment.session_of(await environment.sign_in("alice"))
    retained = {
        f"{kind}_store_{when}": {
            k: round(v)
            for k, v in (await _retained(environment, template, count, kind, idle)).items()
        }
        for kind in ("cookie", "memory")
        for when, idle in (("not_due_a_touch", 0.0), ("touched", 2 * TOUCH_INTERVAL))
    }
    return {
        "entries_measured": count,
        "memory_store_bytes_per_session": round(await _store_bytes(environment, template, count)),
        "retained_per_session": retained,
        "credential_cache_bytes_per_set": round(await _credential_bytes(environment, count)),
        "cookie_sizes": await _cookie_sizes(environment),
    }
