"""When cached credentials are refreshed, in the manner of botocore's ``RefreshableCredentials``.

* more than ``advisory`` seconds left: the cached snapshot is used;
* inside the advisory window: a refresh is tried (unless one is already running, in which
  case the cached snapshot is used), and if it fails the cached snapshot is used;
* inside the mandatory window, or with nothing cached: the caller waits for the refresh and
  its errors propagate.

A caller always gets one whole :class:`AWSCredentials` snapshot, never old keys with a new token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from .._identity_pool import AWSCredentials
from ..exceptions import CognitoUnavailableError, IdentityPoolError

__all__ = ["RefreshPolicy"]

logger = logging.getLogger("cognito_middleware._credentials.helpers")


class RefreshPolicy:
    """Decides between the cached snapshot and a refresh; holds nothing but its windows::

    policy = RefreshPolicy(advisory=15 * 60, mandatory=5 * 60, clock=time.time)
    creds = await policy.current(cached, refresh, refreshing=key in flights)
    """

    __slots__ = ("_advisory", "_clock", "_mandatory")

    def __init__(
        self,
        *,
        advisory: float = 15 * 60,
        mandatory: float = 5 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= mandatory <= advisory:
            raise ValueError("need 0 <= mandatory_refresh <= advisory_refresh")
        self._advisory = advisory
        self._mandatory = mandatory
        self._clock = clock

    async def current(
        self,
        cached: AWSCredentials | None,
        refresh: Callable[[], Awaitable[AWSCredentials]],
        *,
        refreshing: bool = False,
    ) -> AWSCredentials:
        """``cached``, or the result of ``refresh()``, as the windows say.

        ``refreshing`` tells that a refresh of these credentials is already running: in the
        advisory window the caller then keeps ``cached`` rather than wait for it.
        """
        if cached is None:
            return await refresh()
        left = cached.expiration - self._clock()
        if left > self._advisory:
            return cached
        if not left > self._mandatory:
            return await refresh()
        if refreshing:
            return cached
        try:
            return await refresh()
        except (IdentityPoolError, CognitoUnavailableError) as exc:
            logger.warning(
                "advisory refresh of AWS credentials failed (%s); the current ones "
                "stay in use for %.0f more seconds",
                type(exc).__name__,
                left,
            )
            return cached
