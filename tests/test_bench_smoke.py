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
