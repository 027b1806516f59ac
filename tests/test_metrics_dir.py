"""The metrics folder belongs to one deployment and starts empty: `/metrics` never counts what
an earlier run, or another deployment on the host, did (issue 16)."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from integrations.settings import load_settings
from tests.harness import REPO, World, free_port, kill_group, wait_for

pytestmark = pytest.mark.slow

CUSTOMER_EVENTS = re.compile(r'^triage_events_total\{kind="customer"\} (\S+)$', re.M)


def _serve(world: World, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", *argv],
        env=world.env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # gunicorn's workers are stopped with it, as a group
    )
    world.processes.append(server)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _metrics(base) is not None, timeout=30)
    world.url = base  # Slack now delivers its events to this process
    return server, base


def _metrics(base: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


def _customer_events(base: str) -> float:
    match = CUSTOMER_EVENTS.search(_metrics(base) or "")
    return float(match.group(1)) if match else 0.0


def _stop(world: World, *processes: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as a crash or `docker kill` would: no exit hook runs."""
    for process in processes:
        kill_group(process)
        world.processes.remove(process)


def test_a_restart_does_not_count_the_previous_run_again(world: World, tmp_path: Path) -> None:
    world.env["METRICS_DIR"] = str(tmp_path / "metrics")
    server, base = _serve(world, tmp_path / "serve.log")
    worker = world.start_worker("metrics-dir-worker")
    world.customer_says("First run: where is order 001? It has not shipped.")
    wait_for(lambda: _customer_events(base) == 1.0, timeout=30)
    wait_for(world.cards, timeout=30)  # the worker counted its part too
    _stop(world, server, worker)

    # The same deployment again, the worker first this time (compose starts them in any order).
    world.start_worker("metrics-dir-worker-2")
    server, base = _serve(world, tmp_path / "serve-2.log")
    assert _customer_events(base) in (0.0, 1.0)  # reset, or the same: never counted twice

    world.customer_says("Second run: and order 002?")  # joins the open request
    wait_for(lambda: _customer_events(base) >= 1.0, timeout=10)
    assert _customer_events(base) == 1.0  # this run's one message, not the last run's too


def test_two_deployments_on_one_host_never_share_a_folder(tmp_path: Path) -> None:
    def folder(database_url: str, **more: str) -> str:
        return load_settings(_env_file=None, database_url=database_url, **more).metrics_folder()

    one = folder("postgresql://triage:secret@db:5432/triage")
    assert one == folder("postgresql://triage:other-password@db:5432/triage")  # same database
    assert "secret" not in one
    assert one != folder("postgresql://triage:secret@db:5432/triage_staging")
    assert one != folder("postgresql://triage:secret@db2:5432/triage")
    assert folder(f"sqlite:///{tmp_path}/a/triage.db") != folder(
        f"sqlite:///{tmp_path}/b/triage.db"
    )
    assert folder("sqlite:///x.db", metrics_dir=str(tmp_path / "m")) == str(tmp_path / "m")
