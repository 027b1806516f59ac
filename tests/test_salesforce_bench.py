"""`bench/salesforce_calls.py` still runs and its targets hold (a run that is not recorded)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import REPO

pytestmark = pytest.mark.slow


def test_salesforce_calls_benchmark_meets_its_targets(redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "bench/salesforce_calls.py", "--no-record", "--redis-url", redis_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| warm cache (same customer) | 0 / 0 | 0 / 0 | 0 / 0 |" in result.stdout
