"""Calling an ASGI app directly: no server, no network, no HTTP client in the way.

A request is a prebuilt scope with header bytes of its own (as a server makes them for every
request); every call gets a shallow copy (apps add keys to it), a ``receive`` that returns an
empty body and a ``send`` that keeps only the response start.
Short batches of calls for several variants are alternated round by round, so that drift in
the machine's speed hits every variant alike. The figure kept for a variant is its fastest
batch, and a ratio is the fastest batch of one variant over the fastest of the bare app: on a
shared machine the median of long rounds moves by 10-50 % between runs, the minimum of many
short alternated batches by a few per cent (a second, independent bare app measured in the same
alternation shows how much). Medians are kept as secondary figures.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Scope

__all__ = [
    "Batch",
    "Responder",
    "apply_set_cookies",
    "cookie_header",
    "copies",
    "fastest",
    "figures",
    "make_scope",
    "measure_interleaved",
    "min_ratio",
]

HOST = "127.0.0.1:8000"
_BODY: Message = {"type": "http.request", "body": b"", "more_body": False}


def make_scope(
    path: str, *, cookies: Mapping[str, str] | None = None, authorization: str | None = None
) -> Scope:
    """The scope uvicorn would build for a browser-like ``GET path``."""
    headers = [
        (b"host", HOST.encode()),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) benchmark"),
        (b"accept", b"application/json"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"accept-language", b"en-GB,en;q=0.9"),
    ]
    if cookies:
        headers.append((b"cookie", cookie_header(cookies).encode("latin-1")))
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
    }


def copies(scope: Scope, count: int) -> list[Scope]:
    """``count`` copies of ``scope`` whose header bytes are new objects, as a server builds
    them for every request: a bytes object caches its hash, so reusing one would hide the
    cost of any lookup keyed by a header."""
    return [
        {
            **scope,
            "headers": [(bytes(bytearray(k)), bytes(bytearray(v))) for k, v in scope["headers"]],
        }
        for _ in range(count)
    ]


def cookie_header(cookies: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def apply_set_cookies(jar: dict[str, str], set_cookies: Sequence[str]) -> int:
    """Update ``jar`` as a browser would; returns how many cookies were set or removed."""
    changed = 0
    for header in set_cookies:
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            changed += 1
            if morsel.value == "" or morsel["max-age"] == "0":
                jar.pop(name, None)
            else:
                jar[name] = morsel.value
    return changed


async def _receive() -> Message:
    return _BODY


class Responder:
    """The ``send`` of a benchmark call: keeps the last response start, nothing else."""

    __slots__ = ("start",)

    def __init__(self) -> None:
        self.start: Message | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 0

    @property
    def set_cookies(self) -> list[str]:
        if self.start is None:
            return []
        return [v.decode("latin-1") for k, v in self.start.get("headers", ()) if k == b"set-cookie"]


async def call(app: ASGIApp, scope: Scope) -> Responder:
    """One request, untimed; the responder tells its status and cookies."""
    responder = Responder()
    await app(dict(scope), _receive, responder)
    return responder


@dataclass
class Batch:
    """One variant of one scenario: the app and the scopes its timed calls cycle through.

    ``prepare`` runs before each round, untimed (a browser picking up cookies, fresh tokens);
    it returns the scopes of that round.
    """

    name: str
    app: ASGIApp
    prepare: Callable[[int], Any]
    expected_status: int = 200
    samples: list[float] = field(default_factory=list)
    unexpected: int = 0


async def _timed(app: ASGIApp, scopes: Sequence[Scope]) -> tuple[float, Responder]:
    responder = Responder()
    receive = _receive
    gc.collect()
    start = time.perf_counter_ns()
    for scope in scopes:
        await app(dict(scope), receive, responder)
    elapsed = time.perf_counter_ns() - start
    return elapsed / len(scopes) / 1000.0, responder


async def measure_interleaved(batches: Sequence[Batch], rounds: int) -> None:
    """Time every batch ``rounds`` times, rotating the order each round; fills ``samples``
    (microseconds per call, one per round)."""
    for round_no in range(rounds):
        shift = round_no % len(batches)
        for batch in [*batches[shift:], *batches[:shift]]:
            scopes = await batch.prepare(round_no)
            per_request, responder = await _timed(batch.app, scopes)
            if responder.status != batch.expected_status:
                batch.unexpected += 1
            batch.samples.append(per_request)


def fastest(values: Sequence[float]) -> float:
    """The fastest batch: the time a variant takes when the machine does not get in its way."""
    return min(values) if values else float("nan")


def min_ratio(values: Sequence[float], floor: Sequence[float]) -> float:
    """The fastest batch of a variant over the fastest batch of the floor, same alternation."""
    if not values or not floor:
        return float("nan")
    return min(values) / min(floor)


def figures(batch: Batch, floor: Batch) -> dict[str, Any]:
    """The JSON-ready figures of one variant against the floor of the same alternation."""
    return {
        "fastest_us": round(fastest(batch.samples), 3),
        "ratio_to_bare": round(min_ratio(batch.samples, floor.samples), 4),
        "overhead_us": round(fastest(batch.samples) - fastest(floor.samples), 3),
        "median_us": round(median(batch.samples), 2),
        "median_ratio_to_bare": round(paired_ratio(batch.samples, floor.samples), 3),
        "unexpected_status_rounds": batch.unexpected,
        "samples_us": [round(s, 2) for s in batch.samples],
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired_ratio(values: Sequence[float], floor: Sequence[float]) -> float:
    """Median of the per-round ratios: each round compared with the floor of the same round."""
    return median([v / f for v, f in zip(values, floor, strict=True) if f > 0])
