"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

pytest_plugins = ["cognito_middleware.testing"]

# Tests that need software pip cannot install (redis-server, chromium). Locally they skip when
# it is missing; in CI a skip would hide a broken setup, so it is reported as a failure.
_REQUIRED_IN_CI = ("browser", "redis")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and _in_ci()
        and any(item.get_closest_marker(name) for name in _REQUIRED_IN_CI)
    ):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where this test is required: {reason}"
    return report
