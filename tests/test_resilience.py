"""Nothing lost, nothing twice: Redis going away, and a worker killed mid-job.

These run real processes: a private redis-server on a free port (so it can be stopped), and
`triage worker` as a subprocess (so it can be SIGKILLed).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import SHARED, TRIAGE, World, free_port, kill_group, start_world, wait_for

pytestmark = pytest.mark.slow


@dataclass
class PrivateRedis:
    """A redis-server of our own, keeping nothing on disk, that a test may stop and restart."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test (apt-get install redis-server)"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


def _health(world: World) -> int:
    try:
        with urllib.request.urlopen(f"{world.url}/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _customer_cards(world: World) -> dict[str, int]:
    """How many cards quote each customer message (to prove none came twice)."""
    counts: dict[str, int] = {}
    for card in world.cards():
        text = json.dumps(card.get("blocks", []))
        for n in range(100):
            if f"order {n:03d} " in text:
                counts[f"{n:03d}"] = counts.get(f"{n:03d}", 0) + 1
    return counts


def test_messages_arriving_while_redis_is_down_all_get_one_card(
    database_url: str, private_redis: PrivateRedis
) -> None:
    with start_world(
        database_url=database_url, redis_url=private_redis.url, grouping_minutes=0
    ) as world:
        world.start_worker("redis-outage-worker")
        # The outage begins once the worker is working, as in production. (Its restart after
        # the outage forks RQ's scheduler while jobs encode: before `one_math_thread`, that
        # stalled every job in OpenBLAS, three times in CI; tests/test_worker_fork.py.)
        log = Path(world.env["TRIAGE_TEST_LOG_DIR"]) / "redis-outage-worker.log"
        wait_for(lambda: log.exists() and b"worker.started" in log.read_bytes(), timeout=30)
        private_redis.stop()
        assert _health(world) == 503
        slowest = 0.0
        for n in range(20):
            started = time.monotonic()
            world.customer_says(f"Where is order {n:03d} ? It has not shipped.")  # asserts 2xx
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0, f"an event took {slowest:.2f}s to acknowledge with Redis down"
        assert _health(world) == 503
        assert world.cards() == []

        private_redis.start()  # empty: the queued-nothing state must be rebuilt from the database
        started = time.monotonic()
        # About 20 s alone; CI's four test processes on two cores once took over 45 s (the
        # worker triages with the sentence encoder since session 7). A hang still fails.
        wait_for(lambda: len(_customer_cards(world)) == 20, timeout=90, interval=0.5)
        elapsed = time.monotonic() - started
        assert all(count == 1 for count in _customer_cards(world).values())
        assert _health(world) == 200
        time.sleep(3)  # a late duplicate would show up here
        assert len(world.cards()) == 20, elapsed


@pytest.mark.parametrize("kill_during", ["reactions.add", "chat.postMessage"])
def test_a_worker_killed_mid_job_is_recovered_once_after_restart(
    world: World, kill_during: str
) -> None:
    # Slow Slack down at one call so the job is surely in the middle of it when killed. For
    # chat.postMessage the emulator still posts after the delay: the card exists, but the dead
    # worker never recorded it, so the new one must find it instead of posting again.
    world.emu.set_latency(kill_during, 3.0)
    worker = world.start_worker("killed-worker")
    body = world.customer_says("Our webhook deliveries stopped an hour ago")
    # A worker's start (imports, warm-up) took 17 s of this once under CI's load.
    wait_for(lambda: world.emu.calls(kill_during), timeout=60)
    time.sleep(0.5)
    kill_group(worker)  # the worker and its scheduler, as when its container dies
    world.emu.set_latency(kill_during, 0.0)

    world.start_worker("restarted-worker")
    restarted = time.monotonic()
    wait_for(lambda: len(world.cards()) == 1, timeout=45, interval=0.5)
    recovered_in = time.monotonic() - restarted
    time.sleep(world.settings.lease_seconds + 2)  # long enough for a duplicate to appear
    assert len(world.cards()) == 1, recovered_in
    assert world.emu.reactions(SHARED, body["event"]["ts"]).get("eyes")
    card_posts = [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE]
    if kill_during == "chat.postMessage":
        # The dead worker's post landed; the new one found it by its metadata instead.
        assert len(card_posts) == 1
        assert world.emu.calls("conversations.history")
    else:
        assert len(card_posts) == 1


def test_after_a_redis_restart_one_slow_job_holds_no_other_back(
    database_url: str, private_redis: PrivateRedis
) -> None:
    # Two job threads. One is in a long Slack call; the other's job ends while Redis is away,
    # which ends RQ's worker on that thread. Once Redis is back, that thread must work again
    # at once: not wait for the long call (as when one failed worker stopped the process's
    # others), nor stay gone (as a failed thread once did).
    with start_world(
        database_url=database_url,
        redis_url=private_redis.url,
        grouping_minutes=0,
        slack_timeout_seconds=90,
        worker_threads=2,
    ) as world:
        world.start_worker("redis-restart-worker")
        log = Path(world.env["TRIAGE_TEST_LOG_DIR"]) / "redis-restart-worker.log"
        wait_for(lambda: log.exists() and b"worker.started" in log.read_bytes(), timeout=30)
        world.emu.set_latency("chat.postMessage", 45.0)
        world.customer_says("Where is order 001 ? It has not shipped.")
        wait_for(lambda: len(world.emu.calls("chat.postMessage")) == 1, timeout=30)
        slow_since = time.monotonic()
        world.emu.set_latency("chat.postMessage", 4.0)
        world.customer_says("Where is order 002 ? It has not shipped.")
        wait_for(lambda: len(world.emu.calls("chat.postMessage")) == 2, timeout=30)
        world.emu.set_latency("chat.postMessage", 0.0)
        private_redis.stop()  # the second post returns while Redis is away
        time.sleep(8)
        private_redis.start()

        world.customer_says("Where is order 003 ? It has not shipped.")
        wait_for(lambda: "003" in _customer_cards(world), timeout=60, interval=0.5)
        assert time.monotonic() - slow_since < 40, "order 003 waited for the slow post"
        wait_for(lambda: len(_customer_cards(world)) == 3, timeout=60, interval=0.5)
        time.sleep(3)  # a late duplicate would show up here
        assert _customer_cards(world) == {"001": 1, "002": 1, "003": 1}
