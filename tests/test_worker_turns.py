"""Two worker processes share a burst of requests instead of one taking them all.

Redis gives a job to the client that has waited longest. With all sixteen idle threads of
each process waiting on the queues, a burst's first requests went to whichever process's
threads happened to ask first: ten messages, ten jobs on one process (one interpreter, one
GIL) while the other idled. Each process now has one thread waiting at a time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.registry import FinishedJobRegistry

from integrations.queues import PIPELINE, PIPELINE_FIRST
from tests.harness import World, start_world, wait_for
from workers.process import DEQUEUE_SECONDS, Crew, ThreadWorker

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


def test_a_turn_that_comes_after_the_stop_ends_the_thread_at_once(redis_url: str) -> None:
    """A thread waiting for its turn when SIGTERM came got the turn from the one leaving and
    then waited on Redis for another `DEQUEUE_SECONDS`: an idle 16-thread worker took 5-7 s
    to stop, against docker's 10 s grace."""
    connection = Redis.from_url(redis_url)
    crew = Crew(None, connection, [PIPELINE], burst=False)  # type: ignore[arg-type]  # no jobs
    worker = ThreadWorker([Queue(PIPELINE, connection=connection)], deps=None, crew=crew)  # type: ignore[arg-type]
    crew.turn.acquire()  # another thread's turn
    ended: list[BaseException] = []

    def wait_for_a_job() -> None:
        try:
            worker.dequeue_job_and_maintain_ttl(DEQUEUE_SECONDS)
        except StopRequested as exc:
            ended.append(exc)

    thread = threading.Thread(target=wait_for_a_job)
    thread.start()
    time.sleep(0.3)  # waiting for its turn
    worker._stop_requested = True
    crew.turn.release()  # the other thread leaves: this one's turn
    started = time.monotonic()
    thread.join(timeout=DEQUEUE_SECONDS + 2)
    assert ended and time.monotonic() - started < 1.0
    assert crew.turn.acquire(blocking=False)  # and it gave the turn back
    connection.close()
