"""The benchmark machinery runs end to end in its smallest mode and reports every scenario.

Nothing here asserts a speed: timings depend on the machine. What is checked is that the run
completes, that every scenario was measured for every stack that has it, that every variant
answered as expected (authenticated where it must be), and that no network call happened on
the hot path.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.inprocess import EXTRA_VARIANTS, SCENARIOS, STACKS

pytestmark = pytest.mark.timeout(300)

EXPECTED_STACKS = {
    "anonymous": set(STACKS) - {"cognito_memory_store"},
    "session": {"bare", "bare_again", "passthrough", "cognito", "session_jwt"},
    "session_first": {"bare", "bare_again", "passthrough", "cognito", "cognito_memory_store"},
    "bearer_memo": set(STACKS) - {"cognito_no_guests", "cognito_memory_store"},
    "bearer_first": (set(STACKS) | set(EXTRA_VARIANTS))
    - {"passthrough", "cognito_no_guests", "cognito_memory_store"},
    "guest_credentials": {"bare", "bare_again", "cognito"},
}


def test_quick_run_writes_every_scenario_with_no_hot_path_network_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "results.json"
    assert main(["--quick", "--no-server", "--json", str(target)]) == 0
    results = json.loads(target.read_text())

    scenarios = results["inprocess"]["scenarios"]
    assert set(scenarios) == set(SCENARIOS)
    for name, stacks in EXPECTED_STACKS.items():
        assert set(scenarios[name]["stacks"]) == stacks, name
        for stack, figures in scenarios[name]["stacks"].items():
            assert figures["unexpected_status_rounds"] == 0, (name, stack)
            assert 0 < figures["fastest_us"] <= figures["median_us"]
            assert math.isfinite(figures["ratio_to_bare"])
            assert len(figures["samples_us"]) == results["settings"]["rounds"]
        assert scenarios[name]["stacks"]["bare"]["ratio_to_bare"] == 1.0
        assert 0 <= scenarios[name]["band"] < 1, name
    assert scenarios["bearer_first"]["verification_vs_pyjwt"] > 0

    assert results["hot_path_network_calls"] == 0
    assert all(
        v == 0
        for k, v in results["network_detail"].items()
        if k != "session_cookie_rewrites_between_rounds"
    )

    memory = results["memory"]
    assert memory["memory_store_bytes_per_session"] > 0
    assert set(memory["retained_per_session"]) == {
        f"{kind}_store_{when}"
        for kind in ("cookie", "memory")
        for when in ("not_due_a_touch", "touched")
    }
    for figures in memory["retained_per_session"].values():
        assert figures["middleware_and_store"] > 0
        assert figures["middleware_beyond_store"] == pytest.approx(
            figures["middleware_and_store"] - figures["store"], abs=1
        )
    assert memory["credential_cache_bytes_per_set"] > 0
    assert [row["groups"] for row in memory["cookie_sizes"]] == [0, 10, 50]
    assert all(row["chunks"] >= 1 for row in memory["cookie_sizes"])

    for kind in ("cookie_store", "memory_store"):
        assert set(results["scale"]["sessions"][kind]) == {"1", "100"}
    assert set(results["scale"]["bearer_tokens"]) == {"1", "10"}
    for figures in results["scale"]["path_rules"].values():
        assert figures["first_seen_path_us"] > 0 and figures["seen_path_us"] > 0
    assert set(results["scale"]["path_rules"]) == {"1", "250"}

    assert "server" not in results
    assert {t["target"] for t in results["targets"]} >= {
        "Session cookie never seen, cookie store",
        "Session cookie never seen, memory store",
        "100 distinct active sessions, cookie store",
        "100 distinct active sessions, memory store",
        "First-seen Bearer: (first - memoised) / pyjwt jwt.decode",
        "Remembered session",
        "Memoised Bearer",
        "Guest page, cached credentials",
        "Anonymous: above the no-op middleware",
        "Network calls on the hot path",
    }
    assert all(
        t["measured"] is not None for t in results["targets"] if "uvicorn" not in t["target"]
    )
    printed = capsys.readouterr().out
    assert "In-process ASGI" in printed and "Targets" in printed


def test_quick_run_over_uvicorn_measures_both_servers_without_network_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "results.json"
    assert main(["--quick", "--load-tool", "python", "--json", str(target)]) == 0
    server = json.loads(target.read_text())["server"]

    assert server["tool"] == "python"
    assert server["local_cognito_calls_during_load"] == 0
    assert set(server["scenarios"]) == {"anonymous", "session", "bearer_memo"}
    for name, figures in server["scenarios"].items():
        for app in ("bare", "passthrough", "cognito"):
            assert figures[app]["non_2xx"] == 0, (name, app)
            assert figures[app]["rps"] > 0
            assert 0 < figures[app]["server_cpu_us_per_request"] < 100_000
        assert figures["throughput_vs_bare"] > 0 and figures["cpu_capacity_vs_bare"] > 0
        assert figures["passthrough_throughput_vs_bare"] > 0
    shared = server["shared_cpu"]["scenarios"]
    assert set(shared) == {"anonymous", "session", "bearer_memo"}
    for name, figures in shared.items():
        for app in ("bare", "passthrough", "cognito"):
            assert 0 < figures[app]["server_cpu_us_per_request"] < 100_000, (name, app)
            assert figures[app]["non_2xx"] == 0, (name, app)
        assert figures["bare"]["capacity_vs_bare"] == 1.0
        assert 0.2 < figures["cognito"]["capacity_vs_bare"] < 2, name
    printed = capsys.readouterr().out
    assert "Over uvicorn" in printed and "at the same time" in printed
