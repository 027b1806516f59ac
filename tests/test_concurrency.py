"""Many requests in flight per worker process, and at most MODEL_CONCURRENCY model calls at
once across every process of the deployment (SPEC §5.7).

The local OpenAI server counts how many of its requests are open at the same moment: that is
what the model provider sees, whatever the app believes it is doing."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from rq import Worker

from integrations.model_slots import ModelSlots
from sandbox.openai_server import OpenAIServer, default_responder
from sandbox.world import CUSTOMER_TEAM, SHARED
from tests.harness import model_world, start_world, wait_for

MODEL_SECONDS = 0.6


class InFlight:
    """A responder that takes MODEL_SECONDS per answer and records the most answers it was
    writing at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(MODEL_SECONDS)
            return default_responder(schema, body)
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture
def slow_model() -> Iterator[tuple[OpenAIServer, InFlight]]:
    counter = InFlight()
    with OpenAIServer(counter) as server:
        yield server, counter


def _customers(world: Any, count: int) -> list[str]:
    """`count` people of the customer, each writing their own request (grouping is per person)."""
    users = [f"UCUST{n:04d}" for n in range(count)]
    for user in users:
        world.emu.add_user(user, team_id=CUSTOMER_TEAM, name=user.lower(), real_name=user)
        world.emu.add_member(SHARED, user)
    return users


def _burst(world: Any, users: list[str]) -> None:
    for n, user in enumerate(users):
        world.customer_says(f"Our export job {n} fails with a 500 since this morning", user=user)


def test_one_worker_process_drafts_many_requests_at_once(
    database_url: str, redis_url: str, slow_model: tuple[OpenAIServer, InFlight]
) -> None:
    server, counter = slow_model
    with model_world(
        database_url, redis_url, server.base_url, worker_threads=4, model_concurrency=32
    ) as world:
        users = _customers(world, 4)
        world.start_worker()
        _burst(world, users)
        wait_for(lambda: len(world.cards()) == 4, timeout=60)
    # One thread would have had one call open at a time; four threads had several.
    assert counter.most >= 3, counter.most


def test_model_concurrency_bounds_calls_across_processes(
    database_url: str, redis_url: str, slow_model: tuple[OpenAIServer, InFlight]
) -> None:
    server, counter = slow_model
    with model_world(
        database_url, redis_url, server.base_url, worker_threads=4, model_concurrency=3
    ) as world:
        users = _customers(world, 8)
        world.start_worker("worker-a")
        world.start_worker("worker-b")
        _burst(world, users)
        wait_for(lambda: len(world.cards()) == 8, timeout=90)
        texts = [card.get("text", "") for card in world.cards()]
    assert len(texts) == 8
    # Eight threads in two processes wanted eight calls at once; the deployment allowed three.
    assert counter.most == 3, counter.most


def test_slots_are_shared_and_a_dead_holder_gives_its_slot_back(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    first = ModelSlots(redis, 2, hold_seconds=1.0)
    second = ModelSlots(redis, 2, hold_seconds=1.0)  # another process on the same Redis
    with first.slot(), second.slot():
        assert first.in_use() == 2
        took = threading.Event()

        def third() -> None:
            with first.slot():
                took.set()

        waiter = threading.Thread(target=third, daemon=True)
        waiter.start()
        assert not took.wait(0.3)  # both slots are held: it waits
    assert took.wait(2)  # one was given back: it got it
    waiter.join(2)

    # A holder that dies without giving back (SIGKILL) holds its slot until its hold expires.
    dead = first._acquire()
    assert dead is not None
    dead_too = first._acquire()
    assert dead_too is not None
    assert first.in_use() == 2
    started = time.monotonic()
    with second.slot():
        waited = time.monotonic() - started
    assert 0.5 < waited < 3, waited
    redis.close()


def test_sigterm_stops_an_idle_worker_and_all_its_threads(
    database_url: str, redis_url: str
) -> None:
    """docker stop sends SIGTERM and waits 10 s: every thread must stop well within that."""
    with start_world(database_url=database_url, redis_url=redis_url, worker_threads=4) as world:
        process = world.start_worker()
        connection = Redis.from_url(redis_url)
        # All four listening (a SIGTERM before RQ installs its handlers kills at once)
        wait_for(
            lambda: [w.get_state() for w in Worker.all(connection=connection)] == ["idle"] * 4,
            timeout=30,
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 8
        assert Worker.all(connection=connection) == []  # each thread's worker said goodbye
        connection.close()
