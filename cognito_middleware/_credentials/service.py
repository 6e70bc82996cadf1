"""The credential service: the request's identity, then credentials for it, cached and refreshed
by the policy's windows."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from .._cache import BoundedMap, SingleFlight
from .._config import CognitoConfig
from .._identity_pool import AWSCredentials, IdentityPoolClient
from .._state import RequestState
from ..exceptions import (
    IdentityPoolAuthError,
    IdentityPoolConfigurationError,
    IdentityPoolError,
    RoleNotAllowedError,
    SignInRequiredError,
)
from .cache import CredentialCache, MemoryCredentialCache, cache_key
from .guest import GuestCookie
from .identities import NOT_FOUND, Identities
from .policy import RefreshPolicy

__all__ = ["CredentialService"]

logger = logging.getLogger("cognito_middleware._credentials.helpers")

_LOGGED_MAX = 64


class CredentialService:
    """Resolves the request's identity and returns credentials for it; one per middleware.

    Constructing it does no I/O. ``deadline`` bounds each identity-pool call with its retries
    (default: twice ``config.http_timeout``). The middleware publishes it as
    ``RequestState.services.credentials``; handlers use :func:`get_aws_credentials`::

        service = CredentialService(config, http)
        creds = await service.get(state, role_arn="arn:aws:iam::111122223333:role/editor")
    """

    def __init__(
        self,
        config: CognitoConfig,
        http: httpx.AsyncClient,
        *,
        cache: CredentialCache | None = None,
        clock: Callable[[], float] = time.time,
        client: IdentityPoolClient | None = None,
        deadline: float | None = None,
        advisory_refresh: float = 15 * 60,
        mandatory_refresh: float = 5 * 60,
    ) -> None:
        self._policy = RefreshPolicy(
            advisory=advisory_refresh, mandatory=mandatory_refresh, clock=clock
        )
        self._config = config
        self._client = client or IdentityPoolClient(config, http, clock=clock, deadline=deadline)
        self._cache: CredentialCache = cache or MemoryCredentialCache(clock=clock)
        self._guests = GuestCookie(config, self._client.identity_pool_id, clock)
        self.guest_cookie_name = self._guests.name
        self._identities = Identities(config, self._client)
        self._refreshes: SingleFlight[str, AWSCredentials] = SingleFlight()
        self._guest_ids: SingleFlight[int, str] = SingleFlight()
        self._new_guests: weakref.WeakKeyDictionary[RequestState, str] = weakref.WeakKeyDictionary()
        self._logged: BoundedMap[tuple[str, str], bool] = BoundedMap(_LOGGED_MAX)

    @property
    def cache(self) -> CredentialCache:
        return self._cache

    async def get(self, state: RequestState, role_arn: str | None = None) -> AWSCredentials:
        """Credentials for the request's user (or guest), for ``role_arn`` when given.

        Raises :class:`RoleNotAllowedError` (without calling AWS) when ``role_arn`` is not among
        the user's ``cognito:roles`` or the visitor is a guest,
        :class:`IdentityPoolConfigurationError` when the pool refuses by configuration,
        :class:`IdentityPoolThrottledError` when it stays throttled or unreachable, and
        :class:`IdentityPoolAuthError` when the user's sign-in is no longer accepted.
        """
        user = state.user
        if not user.is_authenticated and not self._config.guest_credentials:
            raise SignInRequiredError()
        if role_arn is not None and (not user.is_authenticated or role_arn not in user.roles):
            logger.info("refused AWS credentials for a role the user does not hold")
            raise RoleNotAllowedError(role_arn)
        try:
            if user.is_authenticated:
                return await self._for_user(state, role_arn)
            return await self._for_guest(state)
        except IdentityPoolConfigurationError as exc:
            self._log_configuration_error(exc)
            raise

    # Signed-in users ----------------------------------------------------------------------

    async def _for_user(self, state: RequestState, role_arn: str | None) -> AWSCredentials:
        session = state.session
        if session is None:
            raise IdentityPoolAuthError(
                "MissingIdToken",
                "AWS credentials need a signed-in session: the identity pool takes an ID token, "
                "not a Bearer access token",
            )
        identities = self._identities
        guest = self._guests.read(state.cookies)
        identity_id = session.identity_id
        if identity_id is None and guest is not None:
            identity_id = identities.linked(state, guest.identity_id)
            if identity_id is None:

                async def store(creds: AWSCredentials) -> None:
                    key = cache_key(creds.identity_id, role_arn, authenticated=True)
                    await self._cache.set(key, creds)

                linked = await identities.link(state, guest.identity_id, role_arn, store)
                if linked is not None:
                    self._expire_guest_cookie(state)
                    return linked
        if guest is not None:
            self._expire_guest_cookie(state)
        if identity_id is None:
            identity_id = identities.known(state)
            if identity_id is None:
                identity_id = await identities.identity_for_login(state)
        requested = identity_id
        creds = await self._obtain(
            cache_key(identity_id, role_arn, authenticated=True),
            lambda: identities.credentials_for(state, requested, role_arn),
            role_arn=role_arn,
            authenticated=True,
        )
        identities.keep(state, creds.identity_id)
        return creds

    # Guests -------------------------------------------------------------------------------

    async def _for_guest(self, state: RequestState) -> AWSCredentials:
        guest = self._guests.read(state.cookies)
        pending = self._new_guests.get(state)
        if pending is not None:
            identity_id, fresh = pending, True
        elif guest is not None:
            identity_id, fresh = guest.identity_id, False
            if self._guests.needs_renewal(guest):
                state.set_cookies.append(self._guests.set_cookie(identity_id))
        else:
            identity_id, fresh = await self._new_guest(state), True
        try:
            return await self._guest_credentials(identity_id)
        except IdentityPoolError as exc:
            gone = isinstance(exc, IdentityPoolAuthError) or exc.error_type == NOT_FOUND
            if fresh or not gone:
                raise
        # The identity was linked to a signed-in user (or deleted): this visitor needs a new one.
        logger.info("guest identity no longer usable as a guest; creating a new one")
        return await self._guest_credentials(await self._new_guest(state))

    async def _guest_credentials(self, identity_id: str) -> AWSCredentials:
        return await self._obtain(
            cache_key(identity_id, None, authenticated=False),
            lambda: self._client.get_credentials_for_identity(identity_id),
            role_arn=None,
            authenticated=False,
        )

    async def _new_guest(self, state: RequestState) -> str:
        async def create() -> str:
            identity_id = await self._client.get_id(None)
            self._new_guests[state] = identity_id
            state.set_cookies.append(self._guests.set_cookie(identity_id))
            return identity_id

        return await self._guest_ids.run(id(state), create)

    def _expire_guest_cookie(self, state: RequestState) -> None:
        expired = self._guests.expire_cookie()
        if expired not in state.set_cookies:
            state.set_cookies.append(expired)

    # Cache and refresh windows ------------------------------------------------------------

    async def _obtain(
        self,
        key: str,
        fetch: Callable[[], Coroutine[Any, Any, AWSCredentials]],
        *,
        role_arn: str | None,
        authenticated: bool,
    ) -> AWSCredentials:
        async def refresh() -> AWSCredentials:
            creds = await fetch()
            await self._cache.set(key, creds)
            moved = cache_key(creds.identity_id, role_arn, authenticated=authenticated)
            if moved != key:
                await self._cache.set(moved, creds)
            return creds

        return await self._policy.current(
            await self._cache.get(key),
            lambda: self._refreshes.run(key, refresh),
            refreshing=key in self._refreshes,
        )

    def _log_configuration_error(self, exc: IdentityPoolConfigurationError) -> None:
        marker = (exc.error_type, exc.message)
        if self._logged.get(marker):
            return
        self._logged.put(marker, True)
        logger.error(
            "the identity pool refuses AWS credentials by configuration: %s: %s",
            exc.error_type,
            exc.message,
        )
