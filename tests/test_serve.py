"""`triage serve` (gunicorn) as a real process: healthy, and acknowledging signed events."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness import REPO, World, free_port, wait_for

pytestmark = pytest.mark.slow


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def serve(world: World, log: Path) -> str:
    """`triage serve` (gunicorn) as a real process, healthy; Slack now talks to it."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=world.env,
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # gunicorn forks its workers: stopped as a group
    )
    world.processes.append(server)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _status(f"{base}/healthz") == 200, timeout=30)
    world.url = base
    return base


def test_triage_serve_answers_health_and_stores_events(world: World, tmp_path: Path) -> None:
    base = serve(world, tmp_path / "serve.log")
    world.customer_says("Does the gunicorn server store this?")
    # serve hands its job to Redis from a thread after the ack: drain once it is there
    wait_for(lambda: sum(world.deps.queues.depths().values()) > 0)
    world.drain()
    assert len(world.cards()) == 1
    assert _status(f"{base}/metrics") == 200


def test_metrics_on_the_web_process_include_what_the_worker_did(
    world: World, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    world.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # shared, as in docker-compose
    base = serve(world, tmp_path / "serve.log")
    world.start_worker("metrics-worker")  # a separate process, writing to the same folder
    world.customer_says("Do the metrics of the worker reach the web process?")
    wait_for(world.cards, timeout=60)  # a worker starting under CI load

    def card_timing_counted() -> bool:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            text = response.read().decode()
        return "triage_time_to_card_seconds_count 1.0" in text and (
            'triage_events_total{kind="customer"} 1.0' in text
        )

    wait_for(card_timing_counted, timeout=20)  # observed in the worker, served by the web
