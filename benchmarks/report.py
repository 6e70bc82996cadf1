"""The printed tables and the targets, from the JSON-ready results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .inprocess import EXTRA_VARIANTS, SCENARIOS, STACKS

__all__ = ["render", "targets"]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


KB = 1024


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured figure, the noise band of the same alternation (how far
    a second bare app's fastest batch is from the first's) and whether it is met."""
    scenarios = _get(results, "inprocess", "scenarios") or {}

    def ratio(scenario: str, stack: str = "cognito") -> float | None:
        value = _get(scenarios, scenario, "stacks", stack, "ratio_to_bare")
        return float(value) if value is not None else None

    rows: list[dict[str, Any]] = []

    def add(
        name: str,
        goal: str,
        measured: float | None,
        limit: float | None,
        band: float | None = None,
        *,
        at_least: bool = False,
    ) -> None:
        met = None
        if measured is not None and limit is not None:
            met = measured >= limit if at_least else measured <= limit
        rows.append({"target": name, "goal": goal, "measured": measured, "band": band, "met": met})

    for scenario, stack, label, limit in (
        ("session_first", "cognito", "Session cookie never seen, cookie store", 2.5),
        ("session_first", "cognito_memory_store", "Session cookie never seen, memory store", 2.5),
        ("session", "cognito", "Remembered session", 1.3),
        ("bearer_memo", "cognito", "Memoised Bearer", 1.3),
        ("guest_credentials", "cognito", "Guest page, cached credentials", 1.4),
    ):
        add(
            label,
            f"<= {limit}x bare",
            ratio(scenario, stack),
            limit,
            _get(scenarios, scenario, "band"),
        )
    sessions = _get(results, "scale", "sessions") or {}
    for kind, by_count in sessions.items():
        if not by_count:
            continue
        largest = max(by_count, key=int)
        row = by_count[largest]
        add(
            f"{int(largest):,} distinct active sessions, {kind.replace('_', ' ')}",
            "<= 2.5x bare",
            row["ratio_to_bare"],
            2.5,
            row.get("band"),
        )
    first = _get(scenarios, "bearer_first", "verification_vs_pyjwt")
    add(
        "First-seen Bearer: (first - memoised) / pyjwt jwt.decode",
        "<= 1.5",
        first,
        1.5,
        _get(scenarios, "bearer_first", "band"),
    )
    for stack, label in (
        ("cognito", "Anonymous"),
        ("cognito_no_guests", "Anonymous, guest credentials off"),
    ):
        ours, noop = ratio("anonymous", stack), ratio("anonymous", "passthrough")
        above = None if ours is None or noop is None else round(ours - noop, 4)
        add(
            f"{label}: above the no-op middleware",
            "<= 0.1x bare",
            above,
            0.1,
            _get(scenarios, "anonymous", "band"),
        )
    retained = _get(results, "memory", "retained_per_session") or {}
    for key, data in retained.items():
        add(
            f"Memory per active session beyond the store, {key.replace('_', ' ')}",
            "<= 2048 bytes",
            data["middleware_beyond_store"],
            2 * KB,
        )
    ours = _get(scenarios, "session", "stacks", "cognito", "fastest_us")
    theirs = _get(scenarios, "session", "stacks", "session_jwt", "fastest_us")
    speedup = round(theirs / ours, 2) if ours and theirs else None
    add("Session request vs SessionMiddleware + pyjwt", ">= 4x faster", speedup, 4, at_least=True)
    for scenario, label in (
        ("session", "(b) session over uvicorn"),
        ("bearer_memo", "(d) memoised Bearer over uvicorn"),
    ):
        value = _get(
            results, "server", "shared_cpu", "scenarios", scenario, "cognito", "capacity_vs_bare"
        )
        add(
            f"{label}, servers loaded at once",
            ">= 0.9 of bare throughput",
            value,
            0.9,
            at_least=True,
        )
        value = _get(results, "server", "scenarios", scenario, "throughput_vs_bare")
        add(
            f"{label}, one server at a time", ">= 0.9 of bare throughput", value, 0.9, at_least=True
        )
    calls = results.get("hot_path_network_calls")
    add("Network calls on the hot path", "0", calls, 0)
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(stack: dict[str, Any] | None) -> str:
    if not stack:
        return "n/a"
    return f"{stack['fastest_us']:.1f} µs ({stack['ratio_to_bare']:.2f}x)"


def render(results: dict[str, Any]) -> str:
    """Readable tables of every figure (Markdown, so they paste into the README as is)."""
    out: list[str] = []
    machine = results["machine"]
    out.append(
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, "
        f"{machine['platform']}; Starlette {machine['starlette']}, "
        f"uvicorn {machine['uvicorn']}, pyjwt {machine['pyjwt']}"
    )
    scenarios = _get(results, "inprocess", "scenarios")
    if scenarios:
        some = next(iter(scenarios.values()))
        out.append(
            f"\nIn-process ASGI, per request: fastest of {some['rounds']} short "
            "alternated batches (fastest over bare's fastest, same alternation); "
            "band: how far a second bare app is from the first\n"
        )
        rows = []
        for key, label in SCENARIOS.items():
            stacks = scenarios[key]["stacks"]
            rows.append(
                [
                    label,
                    f"±{scenarios[key]['band']:.1%}",
                    *(_cell(stacks.get(s)) for s in STACKS if s != "bare_again"),
                ]
            )
        out.append(
            _table(["scenario", "band", *(v for k, v in STACKS.items() if k != "bare_again")], rows)
        )
        first = scenarios["bearer_first"]
        out.append("\nFirst-seen Bearer token, same alternation\n")
        out.append(
            _table(
                ["variant", "per call"],
                [
                    *(
                        [label, _cell(first["stacks"].get(key))]
                        for key, label in (
                            ("cognito", STACKS["cognito"] + ", a token never seen"),
                            *EXTRA_VARIANTS.items(),
                        )
                    ),
                    [
                        "(first-seen - memoised) / pyjwt decode",
                        f"{first['verification_vs_pyjwt']:.2f}",
                    ],
                ],
            )
        )
    server = results.get("server")
    if server:
        out.append(
            f"\nOver uvicorn (1 worker) on loopback, load by {server['tool']}, "
            f"{server['connections']} connections, {server['duration_s']:g} s x "
            f"{server['rounds']} rounds\n"
        )
        rows = []
        for key, data in server["scenarios"].items():
            bare, noop, ours = data["bare"], data["passthrough"], data["cognito"]
            rows.append(
                [
                    SCENARIOS[key],
                    f"{bare['rps']:.0f}",
                    f"{noop['rps']:.0f} ({data['passthrough_throughput_vs_bare']:.0%})",
                    f"{ours['rps']:.0f} ({data['throughput_vs_bare']:.0%})",
                    f"{bare['p99_ms']:.2f} / {ours['p99_ms']:.2f}",
                    f"{bare['server_cpu_us_per_request']:.1f} / "
                    f"{noop['server_cpu_us_per_request']:.1f} / "
                    f"{ours['server_cpu_us_per_request']:.1f}",
                ]
            )
        out.append(
            _table(
                [
                    "scenario",
                    "bare req/s",
                    "no-op middleware req/s (of bare)",
                    "middleware req/s (of bare)",
                    "p99 ms, bare / middleware",
                    "server CPU µs/req, bare / no-op / middleware",
                ],
                rows,
            )
        )
        shared = server.get("shared_cpu")
        if shared:
            out.append(
                f"\nOver uvicorn, the three servers on one CPU, loaded at the same time, "
                f"{shared['seconds']} s x {shared['rounds']} rounds: server CPU per "
                "request (median of rounds) and the throughput it implies\n"
            )
            rows = []
            for key, data in shared["scenarios"].items():
                bare, noop, ours = data["bare"], data["passthrough"], data["cognito"]
                rows.append(
                    [
                        SCENARIOS[key],
                        f"{bare['server_cpu_us_per_request']:.1f} / "
                        f"{noop['server_cpu_us_per_request']:.1f} / "
                        f"{ours['server_cpu_us_per_request']:.1f}",
                        f"{noop['capacity_vs_bare']:.1%}",
                        f"{ours['capacity_vs_bare']:.1%}",
                    ]
                )
            out.append(
                _table(
                    [
                        "scenario",
                        "server CPU µs/req, bare / no-op / middleware",
                        "no-op middleware, of bare throughput",
                        "middleware, of bare throughput",
                    ],
                    rows,
                )
            )
    memory = results.get("memory")
    if memory:
        out.append(f"\nMemory ({memory['entries_measured']} entries measured)\n")
        out.append(
            _table(
                ["what", "bytes"],
                [
                    ["memory store, per active session", memory["memory_store_bytes_per_session"]],
                    [
                        "credential cache, per credential set",
                        memory["credential_cache_bytes_per_set"],
                    ],
                ],
            )
        )
        out.append(
            "\nRetained per active session: the whole middleware, its store alone, the difference\n"
        )
        out.append(
            _table(
                ["sessions", "middleware and store", "store alone", "middleware beyond the store"],
                [
                    [
                        key.replace("_", " "),
                        d["middleware_and_store"],
                        d["store"],
                        d["middleware_beyond_store"],
                    ]
                    for key, d in memory["retained_per_session"].items()
                ],
            )
        )
        out.append("\nSession cookie per user (cookie store)\n")
        out.append(
            _table(
                [
                    "groups",
                    "Cookie header bytes",
                    "chunks",
                    "largest chunk",
                    "raw tokens bytes",
                    "SessionMiddleware cookie bytes",
                ],
                [
                    [
                        r["groups"],
                        r["cookie_header_bytes"],
                        r["chunks"],
                        r["largest_chunk_bytes"],
                        r["tokens_bytes"],
                        r["starlette_session_cookie_bytes"],
                    ]
                    for r in memory["cookie_sizes"]
                ],
            )
        )
    scale = results.get("scale")
    if scale:
        out.append(
            "\nScale: per request with N distinct active sessions / tokens (ratio to bare)\n"
        )
        rows = []
        for kind, by_count in (
            *scale["sessions"].items(),
            ("bearer tokens (memo)", scale["bearer_tokens"]),
        ):
            for count, data in by_count.items():
                rows.append(
                    [
                        kind.replace("_", " "),
                        count,
                        f"{data['fastest_us']:.1f} µs ({data['ratio_to_bare']:.2f}x)",
                        f"±{data['band']:.1%}",
                    ]
                )
        out.append(_table(["what", "N", "per request (fastest batch)", "band"], rows))
        if scale.get("path_rules"):
            out.append(
                "\nPath rules: per evaluation with N rules (a path five segments "
                "under a protected prefix)\n"
            )
            out.append(
                _table(
                    ["rules", "path seen for the first time", "path seen before"],
                    [
                        [
                            count,
                            f"{data['first_seen_path_us']:.2f} µs",
                            f"{data['seen_path_us']:.2f} µs",
                        ]
                        for count, data in scale["path_rules"].items()
                    ],
                )
            )
    network = results.get("network_detail") or {}
    out.append(
        "\nNetwork calls during the timed loops: "
        + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in network.items())
    )
    out.append("\nTargets\n")
    out.append(
        _table(
            ["target", "goal", "measured", "band", "result"],
            [
                [
                    t["target"],
                    t["goal"],
                    "n/a" if t["measured"] is None else t["measured"],
                    "" if t["band"] is None else f"±{t['band']:.1%}",
                    "not measured" if t["met"] is None else ("met" if t["met"] else "MISSED"),
                ]
                for t in results["targets"]
            ],
        )
    )
    return "\n".join(out)
