"""The printed tables and the targets, from the JSON-ready results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .inprocess import SCENARIOS, STACKS

__all__ = ["render", "targets"]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured figure and whether it is met."""
    scenarios = _get(results, "inprocess", "scenarios") or {}

    def ratio(scenario: str, stack: str = "cognito") -> float | None:
        value = _get(scenarios, scenario, "stacks", stack, "ratio_to_bare")
        return float(value) if value is not None else None

    rows: list[dict[str, Any]] = []

    def add(name: str, goal: str, measured: float | None, met: bool | None) -> None:
        rows.append({"target": name, "goal": goal, "measured": measured, "met": met})

    for scenario, label, limit in (("session", "Session request in-process", 1.3),
                                   ("bearer_memo", "Memoised Bearer in-process", 1.3),
                                   ("anonymous", "Anonymous public request in-process", 1.1)):
        value = ratio(scenario)
        add(label, f"<= {limit}x bare", value, None if value is None else value <= limit)
    value = ratio("anonymous", "cognito_no_guests")
    add("Anonymous public request in-process, guest credentials off", "<= 1.1x bare", value,
        None if value is None else value <= 1.1)
    ours = _get(scenarios, "session", "stacks", "cognito", "median_us")
    theirs = _get(scenarios, "session", "stacks", "session_jwt", "median_us")
    speedup = round(theirs / ours, 2) if ours and theirs else None
    add("Session request vs SessionMiddleware + pyjwt", ">= 4x faster", speedup,
        None if speedup is None else speedup >= 4)
    for scenario, label in (("session", "(b) session over uvicorn"),
                            ("bearer_memo", "(c) memoised Bearer over uvicorn")):
        value = _get(results, "server", "shared_cpu", "scenarios", scenario, "cognito",
                     "capacity_vs_bare")
        add(f"{label}, servers loaded at once", ">= 0.9 of bare throughput", value,
            None if value is None else value >= 0.9)
        value = _get(results, "server", "scenarios", scenario, "throughput_vs_bare")
        add(f"{label}, one server at a time", ">= 0.9 of bare throughput", value,
            None if value is None else value >= 0.9)
    calls = results.get("hot_path_network_calls")
    add("Network calls on the hot path", "0", calls, None if calls is None else calls == 0)
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(stack: dict[str, Any] | None) -> str:
    if not stack:
        return "n/a"
    return f"{stack['median_us']:.1f} µs ({stack['ratio_to_bare']:.2f}x)"


def render(results: dict[str, Any]) -> str:
    """Readable tables of every figure (Markdown, so they paste into the README as is)."""
    out: list[str] = []
    machine = results["machine"]
    out.append(f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, "
               f"{machine['platform']}; Starlette {machine['starlette']}, "
               f"uvicorn {machine['uvicorn']}, pyjwt {machine['pyjwt']}")
    scenarios = _get(results, "inprocess", "scenarios")
    if scenarios:
        out.append("\nIn-process ASGI, per request: median of rounds (ratio to bare, same run)\n")
        rows = []
        for key, label in SCENARIOS.items():
            stacks = scenarios[key]["stacks"]
            rows.append([label, *(_cell(stacks.get(s)) for s in STACKS)])
        out.append(_table(["scenario", *STACKS.values()], rows))
    server = results.get("server")
    if server:
        out.append(f"\nOver uvicorn (1 worker) on loopback, load by {server['tool']}, "
                   f"{server['connections']} connections, {server['duration_s']:g} s x "
                   f"{server['rounds']} rounds\n")
        rows = []
        for key, data in server["scenarios"].items():
            bare, noop, ours = data["bare"], data["passthrough"], data["cognito"]
            rows.append([
                SCENARIOS[key], f"{bare['rps']:.0f}",
                f"{noop['rps']:.0f} ({data['passthrough_throughput_vs_bare']:.0%})",
                f"{ours['rps']:.0f} ({data['throughput_vs_bare']:.0%})",
                f"{bare['p99_ms']:.2f} / {ours['p99_ms']:.2f}",
                f"{bare['server_cpu_us_per_request']:.1f} / "
                f"{noop['server_cpu_us_per_request']:.1f} / "
                f"{ours['server_cpu_us_per_request']:.1f}",
            ])
        out.append(_table(["scenario", "bare req/s", "no-op middleware req/s (of bare)",
                           "middleware req/s (of bare)", "p99 ms, bare / middleware",
                           "server CPU µs/req, bare / no-op / middleware"], rows))
        shared = server.get("shared_cpu")
        if shared:
            out.append(f"\nOver uvicorn, the three servers on one CPU, loaded at the same time, "
                       f"{shared['seconds']} s x {shared['rounds']} rounds: server CPU per "
                       "request (median of rounds) and the throughput it implies\n")
            rows = []
            for key, data in shared["scenarios"].items():
                bare, noop, ours = data["bare"], data["passthrough"], data["cognito"]
                rows.append([
                    SCENARIOS[key],
                    f"{bare['server_cpu_us_per_request']:.1f} / "
                    f"{noop['server_cpu_us_per_request']:.1f} / "
                    f"{ours['server_cpu_us_per_request']:.1f}",
                    f"{noop['capacity_vs_bare']:.1%}", f"{ours['capacity_vs_bare']:.1%}",
                ])
            out.append(_table(["scenario", "server CPU µs/req, bare / no-op / middleware",
                               "no-op middleware, of bare throughput",
                               "middleware, of bare throughput"], rows))
    memory = results.get("memory")
    if memory:
        out.append(f"\nMemory ({memory['entries_measured']} entries measured)\n")
        out.append(_table(["what", "bytes"], [
            ["memory store, per active session", memory["memory_store_bytes_per_session"]],
            ["middleware memos, per active session, memory store (bounded)",
             memory["middleware_memo_bytes_per_session"]],
            ["middleware memos, per active session, cookie store (bounded)",
             memory["middleware_memo_bytes_per_cookie_session"]],
            ["credential cache, per credential set", memory["credential_cache_bytes_per_set"]],
        ]))
        out.append("\nSession cookie per user (cookie store)\n")
        out.append(_table(
            ["groups", "Cookie header bytes", "chunks", "largest chunk", "raw tokens bytes",
             "SessionMiddleware cookie bytes"],
            [[r["groups"], r["cookie_header_bytes"], r["chunks"], r["largest_chunk_bytes"],
              r["tokens_bytes"], r["starlette_session_cookie_bytes"]]
             for r in memory["cookie_sizes"]],
        ))
    scale = results.get("scale")
    if scale:
        out.append("\nScale: per request with N distinct active sessions / tokens "
                   "(ratio to bare)\n")
        rows = []
        for kind, by_count in (*scale["sessions"].items(),
                               ("bearer tokens (memo)", scale["bearer_tokens"])):
            for count, data in by_count.items():
                rows.append([kind.replace("_", " "), count,
                             f"{data['median_us']:.1f} µs ({data['ratio_to_bare']:.2f}x)"])
        out.append(_table(["what", "N", "per request"], rows))
        if scale.get("path_rules"):
            out.append("\nPath rules: per evaluation with N rules (a path five segments "
                       "under a protected prefix)\n")
            out.append(_table(
                ["rules", "path seen for the first time", "path seen before"],
                [[count, f"{data['first_seen_path_us']:.2f} µs", f"{data['seen_path_us']:.2f} µs"]
                 for count, data in scale["path_rules"].items()],
            ))
    network = results.get("network_detail") or {}
    out.append("\nNetwork calls during the timed loops: "
               + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in network.items()))
    out.append("\nTargets\n")
    out.append(_table(["target", "goal", "measured", "result"], [
        [t["target"], t["goal"], "n/a" if t["measured"] is None else t["measured"],
         "not measured" if t["met"] is None else ("met" if t["met"] else "MISSED")]
        for t in results["targets"]
    ]))
    return "\n".join(out)
