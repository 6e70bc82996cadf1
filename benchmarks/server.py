"""Throughput over a real server: uvicorn (one worker, its own process) on loopback, load
from this process (wrk when installed, else a small asyncio load generator).

Two measurements. One server at a time: requests per second and p99 latency, each server alone
on its CPU, rounds interleaved; on a shared machine a server's speed changes by a third from
one second to the next, so these move a lot between runs. The three servers at the same time,
pinned to one CPU and loaded together: each gets its share of the same CPU over the same
seconds, so whatever slows the machine down slows all three alike, and the CPU time each
spends per request says what throughput it reaches on a CPU of its own (a one-worker server
is CPU-bound)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .apps import PROTECTED, PUBLIC
from .environment import Environment
from .harness import apply_set_cookies, cookie_header, median

__all__ = ["LoadSettings", "run_server_load"]

_LATENCY = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


@dataclass(frozen=True)
class LoadSettings:
    """Seconds per load run, rounds per (scenario, app), concurrent connections, tool; and
    the rounds and seconds of the runs that load the three servers at once on one CPU."""

    duration: float = 1.0
    rounds: int = 16
    connections: int = 32
    tool: str = "auto"
    shared_rounds: int = 8
    shared_seconds: int = 3


def _cpus() -> tuple[set[int], set[int]] | None:
    """The CPU for the server and the CPU for the load generator, when there are two: left
    to the scheduler, the two sometimes share a core and a run's throughput drops by a third
    at random."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return {available[0]}, {available[1]}


def _pin(cpus: set[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class _Served:
    url: str
    pid: int


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far; time stolen by other tenants of
    the machine is not in it."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _server(app: str, env: Mapping[str, str]) -> Iterator[_Served]:
    port = _free_port()
    spec = json.dumps({"app": app, "env": dict(env), "port": port})
    cpus = _cpus()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._serve", spec],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if cpus:
        # Before the server has started any thread of its own: they inherit it.
        os.sched_setaffinity(process.pid, cpus[0])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + PUBLIC, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {app} server did not start") from None
                time.sleep(0.1)
        yield _Served(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wrk_command(
    url: str, headers: Mapping[str, str], settings: LoadSettings, connections: int | None = None
) -> list[str]:
    # wrk takes whole seconds only.
    seconds = max(1, round(settings.duration))
    command = [
        "wrk",
        "-t1",
        f"-c{connections or settings.connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    cpus = _cpus()
    taskset = shutil.which("taskset")
    if cpus and taskset:
        command = [taskset, "-c", ",".join(map(str, cpus[1])), *command]
    return [*command, url]


def _parse_wrk(output: str) -> dict[str, float]:
    rps, latency = _RPS.search(output), _LATENCY.search(output)
    requests = _REQUESTS.search(output)
    if rps is None or latency is None or requests is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    bad = _NON_2XX.search(output)
    return {
        "rps": float(rps.group(1)),
        "requests": float(requests.group(1)),
        "p99_ms": float(latency.group(1)) * _UNITS[latency.group(2)] / 1000.0,
        "non_2xx": float(bad.group(1)) if bad else 0.0,
    }


def _wrk(url: str, headers: Mapping[str, str], settings: LoadSettings) -> dict[str, float]:
    output = subprocess.run(
        _wrk_command(url, headers, settings),
        capture_output=True,
        text=True,
        check=True,
        timeout=settings.duration + 30,
    ).stdout
    return _parse_wrk(output)


async def _python_load(
    url: str, headers: Mapping[str, str], settings: LoadSettings
) -> dict[str, float]:
    """Keep-alive HTTP/1.1 GETs on ``connections`` sockets for ``duration`` seconds."""
    parts = httpx.URL(url)
    request = (
        f"GET {parts.raw_path.decode()} HTTP/1.1\r\nHost: {parts.host}:{parts.port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode("latin-1")
    latencies: list[float] = []
    non_2xx = 0
    stop = time.perf_counter() + settings.duration

    async def worker() -> None:
        nonlocal non_2xx
        reader, writer = await asyncio.open_connection(parts.host, parts.port)
        try:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
                if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
                    non_2xx += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(settings.connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    return {
        "rps": len(latencies) / elapsed,
        "requests": float(len(latencies)),
        "p99_ms": p99 * 1000.0,
        "non_2xx": float(non_2xx),
    }


def _load_at_once(
    urls: Mapping[str, str], headers: Mapping[str, str], settings: LoadSettings, tool: str
) -> dict[str, dict[str, float]]:
    """Load every URL at the same time for ``settings.duration``; the figures of each."""
    # The load generator's CPU is shared by as many loads: fewer connections each.
    connections = max(4, settings.connections // len(urls))
    if tool == "wrk":
        running = {
            name: subprocess.Popen(
                _wrk_command(url, headers, settings, connections), stdout=subprocess.PIPE, text=True
            )
            for name, url in urls.items()
        }
        outputs = {
            name: process.communicate(timeout=settings.duration + 30)[0]
            for name, process in running.items()
        }
        for name, process in running.items():
            if process.returncode:
                raise RuntimeError(f"wrk failed against the {name} server")
        return {name: _parse_wrk(output) for name, output in outputs.items()}
    each = LoadSettings(duration=settings.duration, connections=connections)

    async def together() -> list[dict[str, float]]:
        return list(
            await asyncio.gather(*(_python_load(url, headers, each) for url in urls.values()))
        )

    cpus = _cpus()
    before = os.sched_getaffinity(0) if cpus else None
    _pin(cpus[1] if cpus else None)
    try:
        return dict(zip(urls, asyncio.run(together()), strict=True))
    finally:
        _pin(before)


def _shared_cpu(
    servers: Mapping[str, _Served],
    scenarios: Mapping[str, tuple[str, Any]],
    settings: LoadSettings,
    tool: str,
    browser: _Browser,
) -> dict[str, Any]:
    """The three servers on one CPU, loaded at the same time: each one's CPU time per
    request, and the bare server's over it (the throughput it reaches on a CPU of its own,
    relative to bare), medians over the rounds."""
    cpus = _cpus()
    if cpus:
        for served in servers.values():
            os.sched_setaffinity(served.pid, cpus[0])
    load = LoadSettings(duration=settings.shared_seconds, connections=settings.connections)
    figures_by_scenario: dict[str, Any] = {}
    for scenario, (path, fixed) in scenarios.items():
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for _ in range(settings.shared_rounds):
            headers = (
                fixed
                if fixed is not None
                else browser.headers(servers["cognito"].url, settings.shared_seconds)
            )
            before = {name: _cpu_seconds(served.pid) for name, served in servers.items()}
            figures = _load_at_once(
                {name: served.url + path for name, served in servers.items()}, headers, load, tool
            )
            for name, served in servers.items():
                run = figures[name]
                cpu = _cpu_seconds(served.pid) - before[name]
                run["server_cpu_us_per_request"] = (
                    cpu * 1e6 / run["requests"] if run["requests"] else float("nan")
                )
                runs[name].append(run)
        summary: dict[str, Any] = {}
        for name, name_runs in runs.items():
            summary[name] = {
                "server_cpu_us_per_request": round(
                    median([r["server_cpu_us_per_request"] for r in name_runs]), 1
                ),
                "capacity_vs_bare": round(
                    median(
                        [
                            b["server_cpu_us_per_request"] / r["server_cpu_us_per_request"]
                            for r, b in zip(name_runs, runs["bare"], strict=True)
                        ]
                    ),
                    3,
                ),
                "non_2xx": int(sum(r["non_2xx"] for r in name_runs)),
                "runs": name_runs,
            }
        figures_by_scenario[scenario] = summary
    return figures_by_scenario


def _load(
    url: str, headers: Mapping[str, str], settings: LoadSettings, tool: str
) -> dict[str, float]:
    if tool == "wrk":
        return _wrk(url, headers, settings)
    cpus = _cpus()
    before = os.sched_getaffinity(0) if cpus else None
    _pin(cpus[1] if cpus else None)
    try:
        return asyncio.run(_python_load(url, headers, settings))
    finally:
        _pin(before)


def _fresh_cookies(url: str, jar: dict[str, str]) -> None:
    """One request as the browser; keeps any ``Set-Cookie`` (the once-a-minute touch)."""
    response = httpx.get(url + PROTECTED, headers={"Cookie": cookie_header(jar)}, timeout=10)
    response.raise_for_status()
    apply_set_cookies(jar, response.headers.get_list("set-cookie"))


_TOUCH_INTERVAL = 60.0


class _Browser:
    """The signed-in browser's cookies, renewed before every load run so that the session's
    once-a-minute touch cannot fall due during the run: a load generator replays one
    ``Cookie`` header and never takes the renewed cookie, so every request after the touch
    would renew the session again (a browser takes it from the first response)."""

    def __init__(self, environment: Environment, jar: Mapping[str, str]) -> None:
        self.environment = environment
        self.jar = dict(jar)

    def _touch_due_in(self) -> float:
        session = asyncio.run(self.environment.session_of(self.jar))
        return session.last_seen + _TOUCH_INTERVAL - time.time()

    def headers(self, url: str, run_seconds: float) -> dict[str, str]:
        """The ``Cookie`` header for a run of ``run_seconds`` against the middleware at
        ``url`` (which renews the cookie)."""
        _fresh_cookies(url, self.jar)
        due = self._touch_due_in()
        if due < run_seconds + 1:
            time.sleep(max(0.0, due) + 0.2)
            _fresh_cookies(url, self.jar)
        return {"Cookie": cookie_header(self.jar)}


def run_server_load(
    environment: Environment, settings: LoadSettings, jar: Mapping[str, str], access_token: str
) -> dict[str, Any]:
    """Requests per second and p99 latency for (a), (b) and (c): the bare app, the bare app
    behind a no-op middleware (the floor of any middleware) and behind ours, each in a server
    of its own; the server's CPU time per request, one server at a time and the three loaded at
    once on one CPU.

    ``jar`` holds the cookies of a signed-in browser, ``access_token`` is a valid Bearer token
    (both obtained by the caller, in its own event loop).
    """
    tool = settings.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    browser = _Browser(environment, jar)
    scenarios = {
        "anonymous": (PUBLIC, {}),
        "session": (PROTECTED, None),
        "bearer_memo": (PROTECTED, {"Authorization": f"Bearer {access_token}"}),
    }
    apps = ("bare", "passthrough", "cognito")
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        s: {app: [] for app in apps} for s in scenarios
    }
    with contextlib.ExitStack() as stack:
        servers = {app: stack.enter_context(_server(app, environment.env)) for app in apps}
        urls = {name: served.url for name, served in servers.items()}
        for url in urls.values():
            _fresh_cookies(url, browser.jar)
            httpx.get(
                url + PROTECTED, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
            ).raise_for_status()
        calls_before = environment.network_calls()
        for round_no in range(settings.rounds):
            for scenario, (path, fixed) in scenarios.items():
                shift = round_no % len(apps)
                for app in (*apps[shift:], *apps[:shift]):
                    headers = fixed
                    if headers is None:
                        headers = browser.headers(urls["cognito"], settings.duration)
                    cpu_before = _cpu_seconds(servers[app].pid)
                    run = _load(urls[app] + path, headers, settings, tool)
                    cpu = _cpu_seconds(servers[app].pid) - cpu_before
                    run["server_cpu_us_per_request"] = (
                        cpu * 1e6 / run["requests"] if run["requests"] else float("nan")
                    )
                    samples[scenario][app].append(run)
        shared = _shared_cpu(servers, scenarios, settings, tool, browser)
        calls = environment.network_calls() - calls_before
    results: dict[str, Any] = {}
    for scenario, by_app in samples.items():
        summary: dict[str, Any] = {}
        for app, runs in by_app.items():
            summary[app] = {
                "rps": round(median([r["rps"] for r in runs]), 1),
                "p99_ms": round(median([r["p99_ms"] for r in runs]), 2),
                "non_2xx": int(sum(r["non_2xx"] for r in runs)),
                "server_cpu_us_per_request": round(
                    median([r["server_cpu_us_per_request"] for r in runs]), 1
                ),
                "runs": runs,
            }
        for app, prefix in (("cognito", ""), ("passthrough", "passthrough_")):
            pairs = list(zip(by_app[app], by_app["bare"], strict=True))
            summary[f"{prefix}throughput_vs_bare"] = round(
                median([c["rps"] / b["rps"] for c, b in pairs]), 3
            )
            # The throughput a CPU-bound server reaches is the inverse of its CPU per request.
            summary[f"{prefix}cpu_capacity_vs_bare"] = round(
                median(
                    [
                        b["server_cpu_us_per_request"] / c["server_cpu_us_per_request"]
                        for c, b in pairs
                    ]
                ),
                3,
            )
        results[scenario] = summary
    return {
        "tool": tool,
        "connections": settings.connections,
        "duration_s": settings.duration,
        "rounds": settings.rounds,
        "scenarios": results,
        "shared_cpu": {
            "rounds": settings.shared_rounds,
            "seconds": settings.shared_seconds,
            "scenarios": shared,
        },
        "local_cognito_calls_during_load": calls,
    }
