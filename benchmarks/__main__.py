"""``python -m benchmarks [--quick] [--json PATH] [--no-server] [--load-tool wrk|python]``

Runs every measurement against a local Cognito served on loopback, prints the tables and the
targets, and writes every figure (and every round's sample) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .environment import Environment, running_environment
from .inprocess import Settings, run_inprocess
from .memory import run_memory
from .report import render, targets
from .scale import run_scale
from .server import LoadSettings, run_server_load

DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: few iterations, small N, short load runs"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"where to write the results (default: {DEFAULT_JSON})",
    )
    parser.add_argument("--no-server", action="store_true", help="skip the uvicorn load runs")
    parser.add_argument(
        "--load-tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk if installed, else Python)",
    )
    parser.add_argument("--rounds", type=int, help="in-process rounds per variant")
    parser.add_argument("--iterations", type=int, help="in-process calls per timed batch")
    return parser


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "starlette": version("starlette"),
        "uvicorn": version("uvicorn"),
        "pyjwt": version("pyjwt"),
        "cryptography": version("cryptography"),
    }


async def _in_process(
    environment: Environment, quick: bool, args: argparse.Namespace
) -> dict[str, Any]:
    settings = Settings(iterations=20, first_seen_iterations=4, rounds=4) if quick else Settings()
    if args.rounds:
        settings = Settings(settings.iterations, settings.first_seen_iterations, args.rounds)
    if args.iterations:
        settings = Settings(args.iterations, settings.first_seen_iterations, settings.rounds)
    results: dict[str, Any] = {"settings": vars(settings)}
    results["inprocess"] = await run_inprocess(environment, settings)
    # Fewer sessions than the smallest memo or cache holds (1,024): every one stays remembered.
    results["memory"] = await run_memory(environment, 50 if quick else 1000)
    results["scale"] = await run_scale(
        environment,
        session_counts=(1, 100) if quick else (1, 1_000, 100_000),
        token_counts=(1, 10) if quick else (1, 1_000, 10_000),
        iterations=20 if quick else 100,
        rounds=4 if quick else 60,
    )
    jar = await environment.sign_in("alice")
    session = await environment.session_of(jar)
    results["_server_credentials"] = (jar, session.access_token)
    await environment.middleware.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    began = time.monotonic()
    with running_environment() as environment:
        results = asyncio.run(_in_process(environment, args.quick, args))
        jar, access_token = results.pop("_server_credentials")
        if not args.no_server:
            load = (
                LoadSettings(
                    duration=1, rounds=1, tool=args.load_tool, shared_rounds=1, shared_seconds=1
                )
                if args.quick
                else LoadSettings(tool=args.load_tool)
            )
            results["server"] = run_server_load(environment, load, jar, access_token)
    network = dict(results["inprocess"].pop("network"))
    for kind, rows in results["scale"]["sessions"].items():
        network[f"scale_{kind}"] = sum(r["network_calls"] for r in rows.values())
    network["scale_bearer_tokens"] = sum(
        r["network_calls"] for r in results["scale"]["bearer_tokens"].values()
    )
    if "server" in results:
        network["local_cognito_calls_during_server_load"] = results["server"][
            "local_cognito_calls_during_load"
        ]
    results["network_detail"] = network
    results["hot_path_network_calls"] = sum(
        v for k, v in network.items() if k != "session_cookie_rewrites_between_rounds"
    )
    results["machine"] = _machine()
    results["quick"] = args.quick
    results["duration_s"] = round(time.monotonic() - began, 1)
    results["targets"] = targets(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nWrote {args.json} in {results['duration_s']:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
