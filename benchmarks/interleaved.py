"""The bare app, the no-op middleware and ours in one uvicorn process, requests interleaved
one by one: a measure of the middleware's cost over a real server that the machine's changing
speed cannot skew.

Separate servers loaded one after the other compare throughputs measured at different
moments, and on a shared machine the bare server's own throughput moves by a third from one
second to the next. Here every variant sits behind the same dispatcher in one process, the load
generator sends ``/bare/...``, ``/noop/...`` and ``/cognito/...`` in turn on every connection,
and the dispatcher times each variant's app call. Whatever slows the machine down hits the
three alike, within microseconds.

A single uvicorn worker is CPU-bound, so its throughput is the inverse of its CPU time per
request. That time is what uvicorn spends on every request (parsing, the socket, the
dispatcher; the same for each variant) plus the app call, so each variant's throughput relative
to bare is ``(shared + bare call) / (shared + variant call)``, with ``shared`` the process's CPU
time per request less the mean app call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .harness import median

__all__ = ["VARIANTS", "Interleaved", "run_interleaved"]

VARIANTS = ("bare", "noop", "cognito")
STATS_PATH = "/_stats"


class Interleaved:
    """Dispatch ``/<variant>/<path>`` to that variant's app with ``/<path>``, timing each call;
    ``GET /_stats`` answers the totals so far (and starts them again)."""

    def __init__(self, apps: Mapping[str, ASGIApp], *, close: Any = None) -> None:
        self.apps = {f"/{name}": app for name, app in apps.items()}
        self.close = close
        self.totals: dict[str, list[int]] = {name: [0, 0] for name in apps}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        cut = path.find("/", 1)
        app = self.apps.get(path[:cut]) if cut > 0 else None
        if app is None:
            await self._answer(scope, send)
            return
        scope["path"] = path[cut:]
        scope["raw_path"] = scope["raw_path"][cut:]
        totals = self.totals[path[1:cut]]
        start = time.perf_counter_ns()
        await app(scope, receive, send)
        totals[0] += time.perf_counter_ns() - start
        totals[1] += 1

    async def _answer(self, scope: Scope, send: Send) -> None:
        if scope["path"] == STATS_PATH:
            status, body = 200, json.dumps(self.totals).encode()
            self.totals = {name: [0, 0] for name in self.totals}
        else:
            status, body = 404, b"no such variant"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.close is not None:
                    await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


_SCRIPT = """
local paths = {%s}
local next_path = 0
request = function()
  next_path = next_path %% #paths + 1
  return wrk.format("GET", paths[next_path])
end
"""


def _wrk_interleaved(url: str, path: str, headers: Mapping[str, str], seconds: int,
                     connections: int, cpu: set[int] | None) -> None:
    paths = ", ".join(f'"/{name}{path}"' for name in VARIANTS)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_SCRIPT % paths)
    try:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                   "-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        taskset = shutil.which("taskset")
        if cpu and taskset:
            command = [taskset, "-c", ",".join(map(str, cpu)), *command]
        subprocess.run([*command, url], capture_output=True, check=True, timeout=seconds + 30)
    finally:
        os.unlink(script.name)


def _python_interleaved(url: str, path: str, headers: Mapping[str, str], seconds: int,
                        connections: int, cpu: set[int] | None) -> None:
    import asyncio

    from .server import _pin

    async def load() -> None:
        parts = httpx.URL(url)
        requests = [
            (f"GET /{name}{path} HTTP/1.1\r\nHost: {parts.host}:{parts.port}\r\n"
             + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode("latin-1")
            for name in VARIANTS
        ]
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            reader, writer = await asyncio.open_connection(parts.host, parts.port)
            turn = 0
            try:
                while time.perf_counter() < stop:
                    writer.write(requests[turn % len(requests)])
                    turn += 1
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    await reader.readexactly(length)
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))

    before = os.sched_getaffinity(0) if cpu else None
    _pin(cpu)
    try:
        asyncio.run(load())
    finally:
        _pin(before)


def run_interleaved(url: str, pid: int, scenarios: Mapping[str, tuple[str, Any]], *,
                    rounds: int, seconds: int, connections: int, tool: str,
                    cpu: set[int] | None, refresh_headers: Any) -> dict[str, Any]:
    """Per scenario and variant: the app call's median microseconds and the throughput
    relative to bare implied by the process's CPU time (both medians over ``rounds``).

    ``scenarios`` maps a name to ``(path, headers)``; headers of ``None`` are asked of
    ``refresh_headers(url)`` before every round (a browser's fresh session cookie).
    """
    from .server import _cpu_seconds

    load = _wrk_interleaved if tool == "wrk" else _python_interleaved
    results: dict[str, Any] = {}
    for scenario, (path, fixed) in scenarios.items():
        rows: list[dict[str, Any]] = []
        for round_no in range(rounds):
            headers = fixed if fixed is not None else refresh_headers(url)
            if round_no == 0:
                for name in VARIANTS:
                    status = httpx.get(f"{url}/{name}{path}", headers=headers, timeout=10)
                    if status.status_code != 200:
                        raise RuntimeError(f"{scenario}: /{name}{path} answered "
                                           f"{status.status_code}, not 200")
            httpx.get(url + STATS_PATH, timeout=10).raise_for_status()
            cpu_before = _cpu_seconds(pid)
            load(url, path, headers, seconds, connections, cpu)
            cpu_used = _cpu_seconds(pid) - cpu_before
            totals = httpx.get(url + STATS_PATH, timeout=10).json()
            requests = sum(count for _, count in totals.values())
            if not requests:
                raise RuntimeError(f"no request reached the server for {scenario}")
            per_request = cpu_used * 1e6 / requests
            calls = {name: total / count / 1000.0 for name, (total, count) in totals.items()}
            shared = per_request - sum(total for total, _ in totals.values()) / requests / 1000.0
            rows.append({
                "requests": requests,
                "server_cpu_us_per_request": per_request,
                "shared_us_per_request": shared,
                "app_call_us": calls,
                "throughput_vs_bare": {
                    name: (shared + calls["bare"]) / (shared + call)
                    for name, call in calls.items()
                },
            })
        results[scenario] = {
            "app_call_us": {name: round(median([r["app_call_us"][name] for r in rows]), 2)
                            for name in VARIANTS},
            "shared_us_per_request": round(median([r["shared_us_per_request"] for r in rows]), 1),
            "throughput_vs_bare": {
                name: round(median([r["throughput_vs_bare"][name] for r in rows]), 3)
                for name in VARIANTS
            },
            "rounds": rows,
        }
    return results
