"""The ingest benchmark still runs (a tiny, unrecorded run: it measures nothing here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import REPO

pytestmark = pytest.mark.slow


def test_ingest_benchmark_runs(redis_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/ingest.py",
            "--quick",
            "--no-record",
            "--events",
            "60",
            "--warmup",
            "10",
            "--redis-url",
            redis_url,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ours stored 70 events in the database and queued 70 pipeline jobs" in result.stdout


def test_burst_benchmark_runs(redis_url: str) -> None:
    """The outage-morning benchmark end to end at a tiny size: real processes, Slack's limits
    enforced (fast), the model thinking; it exits 0 only when each message got one card."""
    result = subprocess.run(
        [
            sys.executable,
            "bench/burst.py",
            "--messages",
            "8",
            "--channels",
            "4",
            "--workers",
            "1",
            "--web-workers",
            "1",
            "--model-latency",
            "0.3",
            "--limits",
            "30",
            "--redis-url",
            redis_url,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| messages / requests / cards | 8 / 8 / 8 |" in result.stdout
    assert "- nothing lost, nothing twice: **met** (none)" in result.stdout
    assert "emulator limits F=30" in result.stdout
