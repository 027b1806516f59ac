"""The history benchmark still runs: seed two tiny histories, time two questions on them (a
tiny, unrecorded run: it measures nothing here), and find the answer approved first."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL
from tests.harness import REPO

pytestmark = pytest.mark.slow
# The benchmark's small and full worlds need a Redis database each beside this test's: two
# that no test process (11-14, or 7-10 beside a run) and no other benchmark (5, 6, 8, 9) uses
SPARE_REDIS = [REDIS_URL.rsplit("/", 1)[0] + f"/{n}" for n in (1, 2)]


@pytest.fixture
def histories() -> Iterator[tuple[str, str]]:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    urls = (f"{base}/triage_bench_history_a", f"{base}/triage_bench_history_b")
    yield urls
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        for url in urls:
            admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_history_benchmark_runs(histories: tuple[str, str], redis_url: str) -> None:
    small, full = histories
    for url, scale in ((small, "0.0005"), (full, "0.002")):
        seeded = bench("bench/seed_history.py", "--url", url, "--scale", scale)
        assert '"answers"' in seeded
    out = bench(
        "bench/history.py",
        *("--small", small, "--seeded", full, "--admin", POSTGRES_ADMIN_URL),
        *("--redis", redis_url, *SPARE_REDIS, "--requests", "2", "--warm", "1"),
    )
    assert "| suggest ranking | full ÷ small (p50) |" in out
    assert "first approved answer: ranked first True, on the card True" in out
