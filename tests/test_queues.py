"""Each kind of job reaches Redis with its own id, timeout, TTLs and retries, whether queued
alone, handed off to the enqueue thread, or scheduled (RQ's bulk enqueue and enqueue_at)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from integrations.queues import DELIVERY, PIPELINE, Queues

WEEK = 7 * 86400


@pytest.fixture
def queues(redis_url: str) -> Iterator[Queues]:
    redis = Redis.from_url(redis_url)
    yield Queues(redis)
    redis.close()


def _jobs(queues: Queues) -> dict[str, Job]:
    ids = [*queues.pipeline.job_ids, *queues.delivery.job_ids]
    ids += queues.delivery.scheduled_job_registry.get_job_ids()
    return {job.id: job for job in Job.fetch_many(ids, connection=queues.redis) if job}


def _one(jobs: dict[str, Job], prefix: str) -> Job:
    [job] = [job for job_id, job in jobs.items() if job_id.startswith(prefix)]
    return job


def test_each_kind_keeps_its_id_timeout_ttls_and_retries(queues: Queues) -> None:
    queues.enqueue_request(7, "request-7-now")
    for n in (8, 9):
        queues.enqueue_request_soon(n, f"request-{n}-soon", lambda r, j: None)
    queues.wait_handed_off()
    queues.enqueue_delivery(3)
    queues.enqueue_home("U0AMY", team_id="T0ACME")
    at = datetime.now(UTC) + timedelta(hours=1)
    queues.enqueue_sla_check(5, at)
    jobs = _jobs(queues)
    assert len(jobs) == 6

    for job_id, request_id in (("request-7-now", 7), ("request-8-soon", 8), ("request-9-soon", 9)):
        job = jobs[job_id]
        assert (job.func_name, job.kwargs) == (
            "workers.pipeline.process_request",
            {"request_id": request_id},
        )
        assert (job.origin, job.get_status()) == (PIPELINE, JobStatus.QUEUED)
        assert (job.timeout, job.result_ttl, job.failure_ttl) == (300, 3600, WEEK)
        assert (job.retries_left, job.retry_intervals) == (3, [2, 10, 60])

    outbox = _one(jobs, "outbox-3-")
    assert (outbox.func_name, outbox.kwargs, outbox.origin) == (
        "workers.delivery.deliver",
        {"outbox_id": 3},
        DELIVERY,
    )
    assert (outbox.timeout, outbox.result_ttl, outbox.failure_ttl) == (120, 3600, WEEK)
    assert outbox.retries_left == 3

    home = _one(jobs, "home-")
    assert home.kwargs == {"user_id": "U0AMY", "team_id": "T0ACME", "enterprise_id": None}
    assert (home.timeout, home.result_ttl, home.failure_ttl, home.retries_left) == (
        60,
        60,
        None,
        None,
    )

    sla = _one(jobs, "sla-5-")
    assert (sla.func_name, sla.kwargs) == ("workers.sla.check_clock", {"request_id": 5})
    assert sla.get_status() == JobStatus.SCHEDULED and sla.retries_left is None
    scheduled = queues.delivery.scheduled_job_registry.get_scheduled_time(sla)
    assert abs((scheduled - at).total_seconds()) < 1
    assert Queue(DELIVERY, connection=queues.redis).count == 2  # outbox and home; sla waits
