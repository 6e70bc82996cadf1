"""Acting as a user without the hosted UI: real tokens from the local Cognito, a real session
in the app's store.

The tokens are issued by :class:`~cognito_middleware.local.LocalCognito` exactly as its token
endpoint issues them after a sign-in (same claims, same signing keys, a refresh token it will
honour), so an app configured with ``cognito.env()`` accepts them through its real
verification, refreshes them and signs them out like any other.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import httpx

from .._config import CognitoConfig
from ..local import LocalCognito, User
from ..local.tokens import decode_jwt
from ..sessions import SessionData, SessionStore, build_session_store

__all__ = ["SignedIn", "bearer_token", "issue_tokens", "signed_in"]


@dataclass(frozen=True)
class SignedIn:
    """A session :func:`signed_in` saved: its cookies, the session and the tokens in it."""

    cookies: dict[str, str]
    """Cookie name to value, for ``client.cookies.update(...)``."""
    session: SessionData
    tokens: dict[str, Any] = field(repr=False)
    """The token response the session was made of (``id_token``, ``access_token``, ...)."""

    @property
    def cookie_header(self) -> str:
        """The ``Cookie`` request header carrying the session."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    @property
    def headers(self) -> dict[str, str]:
        """``{"Cookie": ...}``, for a single request."""
        return {"Cookie": self.cookie_header}


def issue_tokens(
    cognito: LocalCognito,
    username: str,
    *,
    client_id: str | None = None,
    groups: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    attributes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The token response ``cognito`` gives ``username`` after a sign-in on ``client_id``
    (default: its first app client): ``id_token`` (when ``openid`` is granted),
    ``access_token``, ``refresh_token``, ``expires_in``, ``token_type``.

    A user the pool does not know is added to its directory (with a random password).
    ``groups`` makes the user a member of exactly these groups, creating missing ones;
    ``attributes`` (strings, as Cognito stores them: ``email``, ``name``,
    ``custom:tenant``...) are set on the user and appear in the ID token; ``scopes`` (default:
    every scope the client may have) are allowed on the client first if the seed did not
    allow them. The directory and the client keep these changes, so refreshed tokens say the
    same::

        tokens = issue_tokens(local_cognito, "dora", groups=["admins"],
                              attributes={"email": "dora@example.com"})
    """
    client = cognito.pool.clients.get(client_id or cognito.client_id)
    if client is None:
        raise KeyError(f"the local Cognito has no app client {client_id!r}")
    _register(cognito, username, groups, attributes)
    wanted = None if scopes is None else list(dict.fromkeys(scopes))
    if wanted is not None:
        pool = cognito.pool
        with pool.lock:
            for scope in wanted:
                if "/" in scope:
                    pool.resource_scopes.add(scope)
                if scope not in client.allowed_scopes:
                    client.allowed_scopes.append(scope)
    return cognito.mint_tokens(username, client_id=client.client_id, scopes=wanted)


def bearer_token(
    cognito: LocalCognito,
    username: str,
    *,
    client_id: str | None = None,
    groups: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    attributes: Mapping[str, str] | None = None,
) -> str:
    """An access token of ``username`` for ``Authorization: Bearer`` (see
    :func:`issue_tokens` for the options). Verified by the app like any token of the pool;
    one issued to another ``client_id`` than the app's (or its ``extra_client_ids``) is
    refused::

        token = bearer_token(local_cognito, "bob", scopes=["demo-api/read"])
        response = await client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
    """
    tokens = issue_tokens(
        cognito,
        username,
        client_id=client_id,
        groups=groups,
        scopes=scopes,
        attributes=attributes,
    )
    return str(tokens["access_token"])


async def signed_in(
    cognito: LocalCognito,
    config: CognitoConfig,
    username: str,
    *,
    groups: Iterable[str] | None = None,
    scopes: Iterable[str] | None = None,
    attributes: Mapping[str, str] | None = None,
    store: SessionStore | None = None,
    clock: Callable[[], float] | None = None,
    refresh: bool = True,
    client: httpx.Client | httpx.AsyncClient | None = None,
) -> SignedIn:
    """Sign ``username`` in to the app configured by ``config``, without the hosted UI: the
    session a callback would create (tokens from ``cognito`` for ``config.client_id``, a fresh
    session id) is saved through the app's session store, and its cookies are returned (and
    set on ``client`` when given)::

        me = await signed_in(local_cognito, config, "alice", groups=["admins"], client=client)
        assert (await client.get("/admin")).status_code == 200
        assert me.session.refresh_token is not None

    ``scopes`` default to ``config.scopes``, what the app's sign-in asks for (``openid`` is
    always added: a session needs an ID token); ``groups``, ``scopes`` and ``attributes``
    behave as in :func:`issue_tokens`. ``refresh=False`` leaves the refresh token out, so
    the session ends when its tokens expire.

    ``store`` must be the store the middleware was given, if it was given one; without it the
    store is built from ``config`` (the cookie store opens with the configured secrets, Redis
    is shared), except the ``memory`` store, which only the app's own instance can hold.
    Session times come from ``clock``, by default the local Cognito's: give both (and the
    middleware) one :class:`FrozenClock` to move everyone's time together.
    """
    if store is None and config.session_store == "memory":
        raise ValueError(
            "the memory session store lives in the app: pass the instance given to the "
            "middleware as store="
        )
    requested = ["openid", *(config.scopes if scopes is None else scopes)]
    tokens = issue_tokens(
        cognito,
        username,
        client_id=config.client_id,
        groups=groups,
        scopes=requested,
        attributes=attributes,
    )
    expiries = []
    for name in ("id_token", "access_token"):
        claims = decode_jwt(tokens[name], cognito.pool.keys)
        assert claims is not None, "the local Cognito cannot read its own token"
        expiries.append(float(claims["exp"]))
    now = (clock or cognito.now)()
    session = SessionData(
        session_id=secrets.token_hex(16),
        id_token=tokens["id_token"],
        access_token=tokens["access_token"],
        refresh_token=tokens.get("refresh_token") if refresh else None,
        expires_at=min(expiries),
        created_at=now,
        last_seen=now,
        refresh_expires_at=now + config.refresh_token_lifetime,
    )
    own_store = store is None
    target = store if store is not None else build_session_store(config, clock=clock or cognito.now)
    try:
        set_cookies = await target.save(session, {})
    finally:
        if own_store:
            await target.aclose()
    cookies: dict[str, str] = {}
    for header in set_cookies:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        cookies.update((name, morsel.value) for name, morsel in jar.items())
    if client is not None:
        # As the cookie jar files a Set-Cookie from the app's host, so that the app's later
        # Set-Cookie replaces these instead of joining them under the same name.
        host = client.base_url.host
        domain = host if not host or "." in host else f"{host}.local"
        for name, value in cookies.items():
            client.cookies.set(name, value, domain=domain)
    return SignedIn(cookies=cookies, session=session, tokens=tokens)


def _register(
    cognito: LocalCognito,
    username: str,
    groups: Iterable[str] | None,
    attributes: Mapping[str, str] | None,
) -> User:
    wanted_groups = None if groups is None else list(dict.fromkeys(groups))
    for group in wanted_groups or ():
        if group not in cognito.pool.groups:
            cognito.add_group(group)
    user = cognito.user(username)
    if user is None:
        attrs = dict(attributes or {})
        email = attrs.pop("email", None)
        verified = attrs.pop("email_verified", "true") == "true"
        return cognito.add_user(
            username,
            secrets.token_urlsafe(24),
            email=email,
            groups=wanted_groups or (),
            attributes=attrs,
            email_verified=verified,
        )
    with cognito.pool.lock:
        if wanted_groups is not None:
            user.groups = wanted_groups
        if attributes:
            user.attributes.update(attributes)
    return user
