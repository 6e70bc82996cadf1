"""A signed-in user's identity in the pool: found with GetId for their Logins, taken over from
their guest identity on first sign-in (linking), and remembered.

The identity id is kept in the user's session; a memo per login lets the user's other sessions
(other tabs racing the first answer, other devices) reuse it instead of each asking GetId. A
stale entry is caught by ``ResourceNotFoundException`` and replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from .._cache import BoundedMap, SingleFlight
from .._config import CognitoConfig
from .._identity_pool import AWSCredentials, IdentityPoolClient
from .._state import RequestState
from ..exceptions import IdentityPoolAuthError, IdentityPoolError

__all__ = ["NOT_FOUND", "Identities"]

logger = logging.getLogger("cognito_middleware._credentials.helpers")

T = TypeVar("T")

NOT_FOUND = "ResourceNotFoundException"
_LOGINS_MISMATCH = "logins don't match"
_MEMO_SIZE = 10_000


class Identities:
    """Resolves and remembers the identity ids of signed-in users::

    identities = Identities(config, client)
    identity_id = identities.known(state) or await identities.identity_for_login(state)
    """

    def __init__(self, config: CognitoConfig, client: IdentityPoolClient) -> None:
        self._provider = config.login_provider_key
        self._client = client
        self._by_login: BoundedMap[str, str] = BoundedMap(_MEMO_SIZE, lru=True)
        # (login, guest identity) -> the identity linking gave: requests still carrying the
        # guest cookie (sent before the browser saw it expire) reuse it instead of linking again.
        self._linked: BoundedMap[tuple[str, str], str] = BoundedMap(_MEMO_SIZE)
        self._lookups: SingleFlight[str, str] = SingleFlight()
        self._links: SingleFlight[str, AWSCredentials] = SingleFlight()

    def known(self, state: RequestState) -> str | None:
        """The identity remembered for the request's user (kept in the session too), if any."""
        identity_id = self._by_login.get(_login(state))
        if identity_id is not None:
            self.keep(state, identity_id)
        return identity_id

    def linked(self, state: RequestState, guest_id: str) -> str | None:
        """The identity that linking ``guest_id`` gave the request's user, if it happened."""
        return self._linked.get((_login(state), guest_id))

    async def identity_for_login(self, state: RequestState) -> str:
        """The user's identity from GetId (one call per user at a time), kept in the session."""
        login = _login(state)

        async def get_id() -> str:
            identity_id = await self.with_fresh_token(state, self._client.get_id)
            # Known before the flight ends: a request arriving between the end of the flight
            # and its waiters resuming must find the identity, not start a second GetId.
            self._remember(login, identity_id)
            return identity_id

        identity_id = await self._lookups.run(login, get_id)
        self.keep(state, identity_id)
        return identity_id

    async def link(
        self,
        state: RequestState,
        guest_id: str,
        role_arn: str | None,
        store: Callable[[AWSCredentials], Awaitable[None]],
    ) -> AWSCredentials | None:
        """Credentials for the user obtained with the guest identity ``guest_id`` (which links
        it to the user's login), stored with ``store`` before any waiter resumes; ``None`` when
        the guest identity belongs to another login or no longer exists."""
        login = _login(state)

        async def link() -> AWSCredentials:
            creds = await self.with_fresh_token(
                state,
                lambda logins: self._client.get_credentials_for_identity(
                    guest_id, logins, role_arn
                ),
            )
            # Known before the flight ends, as GetId's answer is.
            self._linked.put((login, guest_id), creds.identity_id)
            self._remember(login, creds.identity_id)
            await store(creds)
            return creds

        try:
            # Keyed by the login too: two users presenting one guest cookie must never
            # share an answer.
            creds = await self._links.run(f"{login}|{guest_id}|{role_arn or ''}", link)
        except IdentityPoolAuthError as exc:
            if _LOGINS_MISMATCH not in exc.message.lower():
                raise
            logger.info("guest identity belongs to another login; using the user's own")
            return None
        except IdentityPoolError as exc:
            if exc.error_type != NOT_FOUND:
                raise
            logger.info("guest identity no longer exists; using the user's own")
            return None
        self.keep(state, creds.identity_id)
        return creds

    async def credentials_for(
        self, state: RequestState, identity_id: str, role_arn: str | None
    ) -> AWSCredentials:
        """GetCredentialsForIdentity for the user's ``identity_id``; if that identity no
        longer exists, for the one GetId gives now."""
        try:
            return await self.with_fresh_token(
                state,
                lambda logins: self._client.get_credentials_for_identity(
                    identity_id, logins, role_arn
                ),
            )
        except IdentityPoolError as exc:
            if exc.error_type != NOT_FOUND:
                raise
        logger.info("the session's identity no longer exists; asking for a new one")
        fresh_id = await self.with_fresh_token(state, self._client.get_id)
        return await self.with_fresh_token(
            state,
            lambda logins: self._client.get_credentials_for_identity(fresh_id, logins, role_arn),
        )

    async def with_fresh_token(
        self, state: RequestState, call: Callable[[Mapping[str, str]], Awaitable[T]]
    ) -> T:
        """``call(logins)``, once more with refreshed tokens if the pool refused the ID token."""
        try:
            return await call(self._logins(state))
        except IdentityPoolAuthError as exc:
            if _LOGINS_MISMATCH in exc.message.lower():
                raise
            if not await state.refresh_tokens():
                raise
            logger.info("the identity pool refused the ID token; retrying with refreshed tokens")
        return await call(self._logins(state))

    def keep(self, state: RequestState, identity_id: str) -> None:
        """Remember ``identity_id`` for the user and store it in their session."""
        if state.session is None:
            return
        self._remember(_login(state), identity_id)
        if state.session.identity_id != identity_id:
            state.update_session(identity_id=identity_id)

    def _remember(self, login: str, identity_id: str) -> None:
        self._by_login.put(login, identity_id)

    def _logins(self, state: RequestState) -> dict[str, str]:
        if state.session is None:
            raise IdentityPoolAuthError("MissingIdToken", "the session has ended")
        return {self._provider: state.session.id_token}


def _login(state: RequestState) -> str:
    return str(state.user.sub or "")
