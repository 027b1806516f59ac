"""Two worker processes share a burst of requests instead of one taking them all.

Redis gives a job to the client that has waited longest. With all sixteen idle threads of
each process waiting on the queues, a burst's first requests went to whichever process's
threads happened to ask first: ten messages, ten jobs on one process (one interpreter, one
GIL) while the other idled. Each process now has one thread waiting at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FinishedJobRegistry

from integrations.queues import PIPELINE, PIPELINE_FIRST
from tests.harness import World, start_world, wait_for

MESSAGES = 12


@pytest.fixture
def world(database_url: str, redis_url: str) -> Iterator[World]:
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=0) as w:
        yield w


def processes_that_ran(redis_url: str) -> Counter[str]:
    """Pipeline jobs finished, by the process that ran them (a worker's name is its
    process's id, then `:` and its thread's number)."""
    connection = Redis.from_url(redis_url)
    ran: Counter[str] = Counter()
    for name in (PIPELINE, PIPELINE_FIRST):
        registry = FinishedJobRegistry(queue=Queue(name, connection=connection))
        for job in Job.fetch_many(registry.get_job_ids(), connection=connection):
            if (
                job is not None
                and job.worker_name
                and (job.func_name or "").endswith("process_request")
            ):
                ran[job.worker_name.rsplit(":", 1)[0]] += 1
    connection.close()
    return ran


@pytest.mark.slow
def test_two_workers_share_a_burst(world: World, redis_url: str) -> None:
    for name in ("turns-1", "turns-2"):
        world.start_worker(name)
    threads = world.settings.worker_threads
    connection = Redis.from_url(redis_url)
    # Every thread of both processes registered: both are waiting on the queues.
    wait_for(lambda: len(Worker.all(connection=connection)) == 2 * threads, timeout=60)
    connection.close()
    for n in range(MESSAGES):
        world.customer_says(f"Question {n}: how do I export report {n} as a CSV file?")
    wait_for(lambda: len(world.cards()) == MESSAGES, timeout=60)
    # A job is finished a moment after its card is posted
    ran = wait_for(lambda: (r := processes_that_ran(redis_url)).total() == MESSAGES and r)
    assert len(ran) == 2 and min(ran.values()) >= MESSAGES // 4, ran
