"""``LocalCognito``: the emulator object, its ASGI app and its Python API."""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .cors import CorsMiddleware
from .faults import Faults
from .federation import Federation
from .hosted_ui import HostedUI
from .identity import TARGET_PREFIX, IdentityPool, IssuedCredentials, identity_error
from .idp_api import IDP_TARGET_PREFIX, OutboxMessage, UserPoolApi
from .keys import SigningKey
from .oauth import OAuthEndpoints, json_response
from .pool import User, UserPool
from .seed import GroupSeed, Seed, UserSeed, demo_seed
from .state import StateFile, StateSaver, seed_of
from .tls import TLSFiles
from .triggers import Triggers

__all__ = ["LocalCognito"]


class _CallsAndFaults:
    """Counts every call and applies injected latency, throttling and errors (pure ASGI)."""

    def __init__(self, app: ASGIApp, cognito: LocalCognito) -> None:
        self.app = app
        self.cognito = cognito

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        operation = None
        if path == "/" and scope["method"] == "POST":
            for name, value in scope["headers"]:
                if name == b"x-amz-target":
                    target = value.decode("latin-1")
                    for prefix in (TARGET_PREFIX, IDP_TARGET_PREFIX):
                        if target.startswith(prefix):
                            operation = target[len(prefix) :]
        targets = (path, "*") if operation is None else (path, operation, "*")
        self.cognito._count(path, operation)
        faults = self.cognito.faults
        delay = faults.delay_for(targets)
        if delay:
            await asyncio.sleep(delay)
        fault = faults.fault_for(targets)
        if fault is None:
            await self.app(scope, receive, send)
            return
        response: Response
        if operation is not None:
            if fault.kind == "throttle":
                response = identity_error("TooManyRequestsException", "Rate exceeded")
            else:
                response = identity_error(
                    "InternalErrorException", "An internal error occurred.", fault.status
                )
        elif fault.kind == "throttle":
            response = json_response(
                {"error": "too_many_requests", "error_description": "Rate exceeded"}, 429
            )
        else:
            response = json_response({"error": "server_error"}, fault.status)
        await response(scope, receive, send)


class LocalCognito:
    """A local, offline AWS Cognito: user pool (hosted UI, OAuth2, OIDC discovery, JWKS, the
    ``cognito-idp`` JSON API), simulated federated IdPs and the identity pool, all served by one
    ASGI app.

    In process (no network)::

        cognito = LocalCognito(demo_seed())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cognito.app),
                                     base_url=cognito.base_url) as client:
            ...

    ``signing_keys`` (ID-token key, access-token key) reuses keys instead of generating them,
    which saves test suites the RSA key generation; ``clock`` replaces ``time.time``.

    ``state_path`` keeps the state (pools, users, identities, keys, refresh tokens and
    hosted-UI sessions) in a JSON file across restarts: an existing file is loaded and wins
    over ``seed`` (which only initialises a new file); every change is saved soon after, and
    :meth:`close` saves a last time. A bad file raises :class:`StateError` naming it.
    ``issuer_style="aws"`` issues tokens with the real service's issuer (overrides the seed's
    ``issuer_style``).

    As a real server on a free port::

        with cognito.serve() as base_url:
            config = CognitoConfig.from_env(cognito.env(app_url="http://127.0.0.1:8000"))
    """

    def __init__(
        self,
        seed: Seed | None = None,
        *,
        base_url: str = "http://127.0.0.1:9229",
        clock: Callable[[], float] | None = None,
        signing_keys: tuple[SigningKey, SigningKey] | None = None,
        state_path: str | os.PathLike[str] | None = None,
        issuer_style: Literal["local", "aws"] | None = None,
    ) -> None:
        state_file = StateFile(state_path) if state_path is not None else None
        state = state_file.load() if state_file is not None else None
        if state_file is not None and state is not None:
            seed = seed_of(state_file, state)
            signing_keys = self._state_keys(state_file, state)
        self.seed = copy.deepcopy(seed) if seed is not None else demo_seed()
        if issuer_style is not None:
            self.seed.issuer_style = issuer_style
            self.seed.validate()
        self.base_url = base_url.rstrip("/")
        self._clock = clock or time.time
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        """Calls per request path and per operation name (identity pool and user pool)."""
        self._calls_lock = threading.Lock()
        self.pool = UserPool(
            self.seed, clock=self.now, issuer=lambda: self.issuer, keys=signing_keys
        )
        self.identity = IdentityPool(self, self.seed.identity_pool)
        self.federation = Federation(self)
        self.oauth = OAuthEndpoints(self)
        self.idp = UserPoolApi(self)
        routes = [
            *self.oauth.routes(),
            *HostedUI(self).routes(),
            *self.federation.routes(),
            Route("/", self._aws_json, methods=["POST"]),
        ]
        self.app: ASGIApp = CorsMiddleware(_CallsAndFaults(Starlette(routes=routes), self))
        """The ASGI app serving every endpoint."""
        self.tls: TLSFiles | None = None
        """The certificate and key while served over HTTPS (``serve(tls=True)``)."""
        self._saver: StateSaver | None = None
        if state_file is not None:
            if state is not None:
                self._restore(state_file, state)
            self._saver = StateSaver(state_file, self.snapshot)
            self.pool.on_change = self.identity.on_change = self._saver.changed
            self._saver.flush()
            weakref.finalize(self, self._saver.close)

    # Identity of the emulated services ---------------------------------------------------

    def now(self) -> float:
        """The emulator's clock (with the injected offset)."""
        return self._clock() + self.faults.offset

    @property
    def pool_id(self) -> str:
        """The user pool id, e.g. ``eu-west-1_LocalDemo``."""
        return self.pool.pool_id

    @property
    def region(self) -> str:
        """The region, from the pool id."""
        return self.seed.region

    @property
    def issuer(self) -> str:
        """``iss`` of the tokens: ``<base_url>/<pool_id>``, or with ``issuer_style="aws"``
        ``https://cognito-idp.<region>.amazonaws.com/<pool_id>``."""
        if self.seed.issuer_style == "aws":
            return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"
        return self.local_issuer

    @property
    def local_issuer(self) -> str:
        """``<base_url>/<pool_id>``: where discovery and JWKS are served, whatever the issuer."""
        return f"{self.base_url}/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        """The JWKS, served by the emulator."""
        return f"{self.local_issuer}/.well-known/jwks.json"

    @property
    def login_provider_key(self) -> str:
        """The identity pool ``Logins`` key of the user pool: the issuer without its scheme."""
        return self.issuer.split("://", 1)[1]

    @property
    def login_provider_keys(self) -> tuple[str, ...]:
        """Every ``Logins`` key the identity pool accepts for the user pool: the issuer without
        its scheme, and the emulator's own ``<host:port>/<pool_id>`` with the AWS-style issuer."""
        local = self.local_issuer.split("://", 1)[1]
        return tuple(dict.fromkeys((self.login_provider_key, local)))

    @property
    def domain(self) -> str:
        """The hosted UI domain (the base URL)."""
        return self.base_url

    @property
    def identity_pool_id(self) -> str | None:
        """The identity pool id, ``None`` when the seed has no identity pool."""
        pool = self.seed.identity_pool
        return pool.identity_pool_id if pool else None

    @property
    def triggers(self) -> Triggers:
        """The user pool's Lambda triggers: ``cognito.triggers.set("pre_authentication", fn)``."""
        return self.pool.triggers

    @property
    def client_id(self) -> str:
        """The first app client of the seed (the demo web client)."""
        return self.seed.clients[0].client_id

    def client_secret(self, client_id: str | None = None) -> str | None:
        """The secret of an app client (default: :attr:`client_id`)."""
        return self.pool.clients[client_id or self.client_id].client_secret

    # Running -----------------------------------------------------------------------------

    @contextmanager
    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: bool = False,
        tls_dir: str | os.PathLike[str] | None = None,
    ) -> Iterator[str]:
        """Run the emulator with uvicorn in a background thread; yields the base URL.

        ``port=0`` picks a free port; :attr:`base_url` (hence the issuer) follows it.
        ``tls=True`` serves HTTPS with a self-signed certificate kept in ``tls_dir`` (default:
        next to the state file, else the user's data directory) and reused later; trust
        :attr:`tls` ``.certificate``. The state file, if any, is saved on exit.
        """
        from .server import background_server

        files = self.tls_files(host, tls_dir) if tls else None
        scheme = "https" if files else "http"
        try:
            with background_server(self.app, host, port, tls=files) as (bound_host, bound_port):
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                self.base_url = f"{scheme}://{shown}:{bound_port}"
                self.tls = files
                yield self.base_url
        finally:
            self.save()

    def tls_files(
        self, host: str = "127.0.0.1", directory: str | os.PathLike[str] | None = None
    ) -> TLSFiles:
        """The HTTPS certificate and key for ``host``, made on first use and reused after:
        in ``directory``, else next to the state file, else the user's data directory."""
        from .tls import ensure_certificate

        if directory is None and self._saver is not None:
            directory = self._saver.file.path.parent
        return ensure_certificate(directory, host)

    def env(
        self, app_url: str = "http://127.0.0.1:8000", client_id: str | None = None
    ) -> dict[str, str]:
        """The ``COGNITO_*`` variables an app at ``app_url`` needs to use this emulator.

        The callback ``<app_url>/auth/callback`` must be registered on the client (the demo
        seed does it for its ``app_url``; else call :meth:`register_callback`).
        """
        app_url = app_url.rstrip("/")
        client = self.pool.clients[client_id or self.client_id]
        env = {
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_CLIENT_ID": client.client_id,
            "COGNITO_DOMAIN": self.domain,
            "COGNITO_ISSUER": self.issuer,
            "COGNITO_REDIRECT_URI": f"{app_url}/auth/callback",
            "COGNITO_LOGOUT_URI": f"{app_url}/",
        }
        if client.client_secret:
            env["COGNITO_CLIENT_SECRET"] = client.client_secret
        if self.seed.issuer_style == "aws":
            # The issuer names AWS but the keys are here: the middleware must fetch them here.
            env["COGNITO_JWKS_URI"] = self.jwks_url
        if self.identity_pool_id:
            env["COGNITO_IDENTITY_POOL_ID"] = self.identity_pool_id
            env["COGNITO_IDENTITY_ENDPOINT"] = f"{self.base_url}/"
        federated = [p for p in client.identity_providers if p != "COGNITO"]
        if federated:
            env["COGNITO_ALLOWED_PROVIDERS"] = ",".join(federated)
        idp_initiated = [p for p in federated if self.pool.providers[p].idp_initiated]
        if idp_initiated and "COGNITO" not in client.identity_providers:
            env["COGNITO_IDP_INITIATED_PROVIDERS"] = ",".join(idp_initiated)
        env["COGNITO_SESSION_SECRET"] = secrets.token_urlsafe(48)
        return env

    # Directory ---------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        *,
        email: str | None = None,
        groups: Iterable[str] = (),
        attributes: dict[str, str] | None = None,
        email_verified: bool = True,
        enabled: bool = True,
    ) -> User:
        """Add (or replace) a user of the pool's directory."""
        return self.pool.add_user(
            UserSeed(
                username=username,
                password=password,
                email=email,
                groups=list(groups),
                attributes=dict(attributes or {}),
                email_verified=email_verified,
                enabled=enabled,
            )
        )

    def add_group(
        self, name: str, precedence: int | None = None, role_arn: str | None = None
    ) -> None:
        """Add (or replace) a group."""
        self.pool.add_group(GroupSeed(name=name, precedence=precedence, role_arn=role_arn))

    def user(self, username: str) -> User | None:
        """A user by name (case-insensitive), federated users included."""
        return self.pool.user(username)

    def register_callback(
        self, client_id: str, callback_url: str, logout_url: str | None = None
    ) -> None:
        """Register a callback (and sign-out) URL on an app client, e.g. an app on a random
        port."""
        client = self.pool.clients[client_id]
        if callback_url not in client.callback_urls:
            client.callback_urls.append(callback_url)
        if logout_url is not None and logout_url not in client.logout_urls:
            client.logout_urls.append(logout_url)
        self.pool.changed()

    # Tokens ------------------------------------------------------------------------------

    def mint_tokens(
        self,
        username: str,
        *,
        client_id: str | None = None,
        scopes: Iterable[str] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Tokens for ``username`` as the token endpoint would issue them after a sign-in:
        ``id_token`` (when ``openid`` is among the scopes), ``access_token``,
        ``refresh_token``, ``expires_in``, ``token_type``. A pre token generation trigger
        runs as for a hosted-UI sign-in (its failure raises ``TriggerError``)."""
        user = self.pool.user(username)
        if user is None:
            raise KeyError(f"no user {username!r}")
        client = self.pool.clients[client_id or self.client_id]
        granted = self.pool.grant_scopes(client, None if scopes is None else " ".join(scopes))
        overrides = self.pool.token_overrides(client, user, granted, "TokenGeneration_HostedAuth")
        return self.pool.issue(
            client=client, user=user, scopes=granted, nonce=nonce, overrides=overrides
        )

    def rotate_keys(self, keep_old: bool = True) -> None:
        """Sign with new keys (new ``kid`` values); the old ones stay in the JWKS until the next
        rotation when ``keep_old``, else they are withdrawn now."""
        self.pool.keys.rotate(keep_old=keep_old)
        self.pool.changed()

    def jwks(self) -> dict[str, Any]:
        """The published JWKS."""
        return self.pool.keys.jwks()

    def is_revoked(self, refresh_token: str) -> bool:
        """Whether a refresh token was revoked (directly or through its family)."""
        record = self.pool.refresh_tokens.get(refresh_token)
        return record is not None and (
            record.revoked or record.origin_jti in self.pool.revoked_origins
        )

    @property
    def revoked(self) -> frozenset[str]:
        """Refresh tokens revoked so far."""
        return frozenset(t for t in self.pool.refresh_tokens if self.is_revoked(t))

    @property
    def hosted_sessions(self) -> int:
        """Live hosted-UI sessions."""
        return self.pool.live_sessions()

    # Identity pool -----------------------------------------------------------------------

    @property
    def credentials_issued(self) -> list[IssuedCredentials]:
        """Every set of AWS credentials handed out, in order."""
        return list(self.identity.issued)

    def identity_of(self, username: str) -> str | None:
        """The identity id linked to a user, if any."""
        user = self.pool.user(username)
        if user is None:
            return None
        return self.identity.by_login.get(self.identity.login_key(user.sub))

    # Persistence -------------------------------------------------------------------------

    @property
    def state_path(self) -> Path | None:
        """The state file, ``None`` when the state lives in memory only."""
        return self._saver.file.path if self._saver is not None else None

    def changed(self) -> None:
        """Persistence hook: note a change of state, saved soon (off the event loop).

        The pools call it themselves (``UserPool.changed``, ``IdentityPool.changed``); code that
        changes them from outside, e.g. a new API operation, calls one of the three.
        """
        self.pool.changed()

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON data: what the state file holds below its header."""
        return {
            "issuer_style": self.seed.issuer_style,
            "user_pool": self.pool.snapshot(),
            "identity_pool": self.identity.snapshot() if self.identity.seed else None,
        }

    def save(self) -> None:
        """Write the state file now (no-op without one)."""
        if self._saver is not None:
            self._saver.flush()

    def close(self) -> None:
        """Save the state file a last time and stop its writer (no-op without one)."""
        if self._saver is not None:
            self._saver.close()

    def __enter__(self) -> LocalCognito:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _state_keys(file: StateFile, state: dict[str, Any]) -> tuple[SigningKey, SigningKey]:
        try:
            keys = state["user_pool"]["keys"]
            return SigningKey.restore(keys["id"]), SigningKey.restore(keys["access"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise file.error(f"the state file's signing keys are not valid ({exc})") from None

    def _restore(self, file: StateFile, state: dict[str, Any]) -> None:
        try:
            self.pool.restore(state["user_pool"])
            if state["identity_pool"] is not None:
                self.identity.restore(state["identity_pool"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise file.error(f"the state file is malformed ({type(exc).__name__}: {exc})") from None

    # User-pool API -----------------------------------------------------------------------

    @property
    def outbox(self) -> list[OutboxMessage]:
        """Every code and invitation the user pool would have sent, in order."""
        with self.idp.lock:
            return list(self.idp.outbox)

    def last_code(self, username: str, kind: str | None = None) -> str | None:
        """The newest confirmation or reset code sent to ``username``; ``kind`` narrows it to
        ``SIGN_UP``, ``RESEND_CODE``, ``FORGOT_PASSWORD`` or ``VERIFY_ATTRIBUTE``."""
        return self.idp.last_code(username, kind)

    # Internals ---------------------------------------------------------------------------

    async def _aws_json(self, request: Request) -> Response:
        if request.headers.get("x-amz-target", "").startswith(IDP_TARGET_PREFIX):
            return await self.idp.handle(request)
        return await self.identity.handle(request)

    def _count(self, path: str, operation: str | None) -> None:
        with self._calls_lock:
            self.calls[path] += 1
            if operation:
                self.calls[operation] += 1
