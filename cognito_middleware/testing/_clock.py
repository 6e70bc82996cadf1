"""Clocks a test moves by hand, for everything that takes ``clock=`` (and ``sleep=``)."""

from __future__ import annotations

import asyncio
import time

__all__ = ["FrozenClock", "ShiftedClock"]


class FrozenClock:
    """A clock that stands still until the test moves it. Call it for epoch seconds.

    Pass it wherever a ``clock`` is taken: the middleware, the session stores, the token
    verifier, the JWKS and credential caches, and the local Cognito (which then issues tokens
    and expires codes on the same time line)::

        clock = FrozenClock()
        cognito = LocalCognito(demo_seed(), clock=clock)
        app = CognitoAuthMiddleware(inner, config=config, clock=clock)
        ...
        clock.advance(3600)          # the tokens are now due for a refresh

    :meth:`sleep` is an ``asyncio.sleep`` that moves the clock instead of waiting, for the
    ``sleep=`` of the identity-pool client's backoff; the delays asked for are kept in
    :attr:`sleeps`.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self.start = self._now
        """Where the clock started."""
        self.sleeps: list[float] = []
        """Every delay passed to :meth:`sleep`, in order."""

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        """The current time; assigning it sets the clock."""
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = float(value)

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (backward when negative); returns the new time."""
        self._now += seconds
        return self._now

    def set(self, t: float) -> None:
        """Put the clock at epoch time ``t``."""
        self._now = float(t)

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and move the clock by it; other tasks get their turn, as with a
        real sleep, but no time passes."""
        self.sleeps.append(seconds)
        self._now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FrozenClock({self._now!r})"


class ShiftedClock:
    """Real time plus an offset the test moves: for tests where something else keeps real
    time (a served local Cognito, Redis key expiry) and the app must be ahead of it::

        clock = ShiftedClock()
        app = CognitoAuthMiddleware(inner, config=config, clock=clock)
        clock.advance(601)           # a login started now has expired for the app
        local_cognito.faults.clock_offset(clock.offset)   # and Cognito follows

    :meth:`sleep` moves the offset instead of waiting, as :meth:`FrozenClock.sleep` does.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)
        """Seconds added to real time; assign it to jump."""
        self.sleeps: list[float] = []
        """Every delay passed to :meth:`sleep`, in order."""

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` further ahead of real time; returns the new time."""
        self.offset += seconds
        return self()

    def set(self, t: float) -> None:
        """Put the clock at epoch time ``t`` (from then on it ticks with real time)."""
        self.offset = float(t) - time.time()

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and move the offset by it; other tasks get their turn."""
        self.sleeps.append(seconds)
        self.offset += max(seconds, 0.0)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ShiftedClock(offset={self.offset!r})"
