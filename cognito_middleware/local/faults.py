"""Runtime fault injection: latency, throttling, 5xx, token-endpoint errors, JWKS outage,
clock offset and failing upstream IdPs.

A *target* is a request path (``"/oauth2/token"``), an identity-pool operation name
(``"GetCredentialsForIdentity"``) or ``"*"`` for every request::

    cognito.faults.throttle("GetCredentialsForIdentity", times=3)
    cognito.faults.latency("/oauth2/token", 0.5)
    cognito.faults.error("*", status=503, times=1)
    cognito.faults.token_error("invalid_grant")
    cognito.faults.jwks_unavailable()
    cognito.faults.clock_offset(-120)
    cognito.faults.idp_failure("AzureAD", "Invalid SAML response received: PreSignUp failed")
    cognito.faults.clear()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Faults"]


@dataclass
class _Rule:
    kind: str  # "throttle" | "error" | "latency"
    target: str
    remaining: int | None  # None: until cleared
    status: int = 500
    seconds: float = 0.0


@dataclass(frozen=True)
class Fault:
    """What the emulator must do to one request (``kind`` "throttle" or "error")."""

    kind: str
    status: int


class Faults:
    """The faults currently injected. Thread-safe; counted faults wear off by themselves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._token_errors: list[tuple[str, int | None, int]] = []
        self._jwks_down = False
        self._offset = 0.0
        self._idp_failures: dict[str, str] = {}

    def throttle(self, target: str = "*", *, times: int | None = 1) -> None:
        """Answer ``times`` requests (``None``: all) with throttling: ``TooManyRequestsException``
        on the identity pool, HTTP 429 elsewhere."""
        with self._lock:
            self._rules.append(_Rule("throttle", target, times, status=400))

    def error(self, target: str = "*", *, status: int = 500, times: int | None = 1) -> None:
        """Answer ``times`` requests with a server error (``InternalErrorException`` on the
        identity pool)."""
        with self._lock:
            self._rules.append(_Rule("error", target, times, status=status))

    def latency(self, target: str = "*", seconds: float = 1.0, *, times: int | None = None) -> None:
        """Delay matching requests by ``seconds`` before answering them."""
        with self._lock:
            self._rules.append(_Rule("latency", target, times, seconds=seconds))

    def token_error(
        self, error: str = "invalid_grant", *, times: int | None = 1, status: int = 400
    ) -> None:
        """Make ``/oauth2/token`` answer ``{"error": error}`` for the next ``times`` calls."""
        with self._lock:
            self._token_errors.append((error, times, status))

    def jwks_unavailable(self, unavailable: bool = True) -> None:
        """Make the JWKS endpoint answer 503 until called with ``False`` or cleared."""
        self._jwks_down = unavailable

    def clock_offset(self, seconds: float) -> None:
        """Shift the emulator's clock (token ``iat``/``exp``, expiry checks) by ``seconds``."""
        self._offset = float(seconds)

    def idp_failure(self, provider: str, description: str | None = None) -> None:
        """Make sign-ins through ``provider`` fail with this ``error_description`` and
        ``error=server_error`` (SAML) or ``error=invalid_request`` (OIDC), as Cognito reports
        them (``None`` restores the provider)."""
        with self._lock:
            if description is None:
                self._idp_failures.pop(provider, None)
            else:
                self._idp_failures[provider] = description

    def clear(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._rules.clear()
            self._token_errors.clear()
            self._idp_failures.clear()
        self._jwks_down = False
        self._offset = 0.0

    # Used by the emulator ------------------------------------------------------------------

    @property
    def offset(self) -> float:
        return self._offset

    @property
    def jwks_down(self) -> bool:
        return self._jwks_down

    def idp_failure_for(self, provider: str) -> str | None:
        return self._idp_failures.get(provider)

    def _take(self, rule: _Rule) -> None:
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._rules.remove(rule)

    def delay_for(self, targets: tuple[str, ...]) -> float:
        with self._lock:
            total = 0.0
            for rule in list(self._rules):
                if rule.kind == "latency" and rule.target in targets:
                    total += rule.seconds
                    self._take(rule)
            return total

    def fault_for(self, targets: tuple[str, ...]) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind != "latency" and rule.target in targets:
                    self._take(rule)
                    return Fault(rule.kind, rule.status)
            return None

    def next_token_error(self) -> tuple[str, int] | None:
        with self._lock:
            if not self._token_errors:
                return None
            error, times, status = self._token_errors[0]
            if times is not None:
                if times <= 1:
                    self._token_errors.pop(0)
                else:
                    self._token_errors[0] = (error, times - 1, status)
            return error, status
