"""`triage worker --health-file`: what the compose health check reads. The file is fresh only
while the worker's sweeps reach the database and Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import REPO, World, free_port, kill_group, wait_for

pytestmark = pytest.mark.slow


def start(world: World, health: Path, **env: str) -> subprocess.Popen[bytes]:
    worker = [sys.executable, "-c", "from app.cli import main; main()", "worker"]
    return subprocess.Popen(
        [*worker, "--health-file", str(health)],
        env={**world.env, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_the_health_file_is_touched_while_the_worker_reaches_its_services(
    world: World, tmp_path: Path
) -> None:
    health = tmp_path / "alive"
    worker = start(world, health)
    try:
        wait_for(health.exists, timeout=20)
        first = health.stat().st_mtime
        wait_for(lambda: health.stat().st_mtime > first, timeout=10)  # and again, each sweep
    finally:
        kill_group(worker)


def test_the_health_file_stays_stale_when_redis_is_unreachable(
    world: World, tmp_path: Path
) -> None:
    health = tmp_path / "alive"
    worker = start(world, health, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        time.sleep(6)  # several sweep intervals (SWEEP_SECONDS=1 in the test world)
        assert worker.poll() is None  # still running, waiting for Redis
        assert not health.exists()
    finally:
        kill_group(worker)
