"""Memory per active session and per cached credential set; cookie size per session."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cognito_middleware.credentials import MemoryCredentialCache
from cognito_middleware.identity_pool import AWSCredentials
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
from .synthetic import distinct_sessions

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


async def _memo_bytes(environment: Environment, template: Any, count: int, kind: str) -> float:
    """What the middleware keeps per session beyond its store (its memos: users and claims,
    and for the cookie store the remembered ``Cookie`` headers) once ``count`` distinct
    signed-in users have each made a request. Every request is built inside the traced call
    and dropped after it, as a server does, so what a memo holds on to is counted."""
    store: SessionStore
    if kind == "cookie":
        store = CookieSessionStore(environment.config.session_secrets,
                                   cookie=CookieSettings(name=environment.config.cookie_name))
    else:
        store = MemorySessionStore(environment.config.session_secrets, max_entries=count + 1)
    app = cognito_app(environment.config, session_store=store)
    jars = []
    for session in distinct_sessions(template, count + 1):
        pairs = [c.split(";", 1)[0].split("=", 1) for c in await store.save(session, {})]
        jars.append({name: value for name, value in pairs})
    await call(app, make_scope(PROTECTED, cookies=jars[0]))

    async def requests() -> None:
        for jar in jars[1:]:
            responder = await call(app, make_scope(PROTECTED, cookies=jar))
            if responder.status != 200:
                raise RuntimeError(f"request answered {responder.status}")

    grown = await _traced(requests)
    await app.aclose()
    return grown / count


async def _credential_bytes(environment: Environment, count: int) -> float:
    """What ``count`` cached credential sets (distinct identities, sizes of the ones the
    identity pool issued) keep alive in the in-memory credential cache, keys included."""
    cache = environment.middleware._services.credentials.cache
    sample: AWSCredentials = next(iter(cache._entries._data.values()))
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
        cognito.add_user(username, DEMO_PASSWORD, email=f"{username}@example.com",
                         groups=groups)
        jar = await environment.sign_in(username)
        session = await environment.session_of(jar)
        names: Sequence[str] = sorted(jar)
        starlette = session_jwt_cookie({
            "id_token": session.id_token, "access_token": session.access_token,
            "refresh_token": session.refresh_token or "",
        })
        rows.append({
            "groups": count,
            "cookie_header_bytes": len(cookie_header(jar)),
            "chunks": len(names),
            "largest_chunk_bytes": max(len(f"{n}={jar[n]}") for n in names),
            "tokens_bytes": len(session.id_token) + len(session.access_token)
            + len(session.refresh_token or ""),
            "starlette_session_cookie_bytes": len(f"session={starlette}"),
        })
    return rows


async def run_memory(environment: Environment, count: int) -> dict[str, Any]:
    """Bytes per session and per credential set (``count`` of each); cookie sizes."""
    template = await environment.session_of(await environment.sign_in("alice"))
    if len(environment.middleware._services.credentials.cache) == 0:
        await environment.guest_cookies()
    return {
        "entries_measured": count,
        "memory_store_bytes_per_session": round(await _store_bytes(environment, template, count)),
        "middleware_memo_bytes_per_session": round(
            await _memo_bytes(environment, template, count, "memory")
        ),
        "middleware_memo_bytes_per_cookie_session": round(
            await _memo_bytes(environment, template, count, "cookie")
        ),
        "credential_cache_bytes_per_set": round(await _credential_bytes(environment, count)),
        "cookie_sizes": await _cookie_sizes(environment),
    }
