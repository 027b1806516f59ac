"""`triage worker`: an RQ worker with its scheduler, plus the heartbeat and the sweeper.

A `SimpleWorker` runs jobs in its own process (no fork per job): the jobs are short and
I/O-bound, and a SIGKILL takes the job down with the worker, so its lease stops being renewed
and the sweeper on any live worker re-queues it. Scale with more processes (`--scale worker=N`).
"""

from __future__ import annotations

import time
from pathlib import Path

import structlog
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker

from integrations.deps import Deps
from integrations.queues import ALL_QUEUES
from workers import runtime
from workers.sweeper import Maintenance

log = structlog.get_logger(__name__)

RECONNECT_SECONDS = 2.0


class TriageWorker(SimpleWorker):
    """RQ's SimpleWorker, reconnecting to Redis every few seconds instead of backing off to a
    minute: when Redis comes back, customers' cards should follow within seconds."""

    max_connection_wait_time = 5.0


def run_worker(
    deps: Deps,
    *,
    queues: list[str] | None = None,
    burst: bool = False,
    health_file: Path | None = None,
) -> bool:
    """Work the queues until stopped (or until empty with `burst`).

    `health_file` is touched every sweep that reached the database and Redis: a container
    health check can test its age (docker-compose.yml does)."""
    runtime.install(deps)
    # The worker blocks on BLPOP, so its connection has no read timeout (RQ manages its own).
    connection = Redis.from_url(deps.settings.redis_url)
    names = queues or list(ALL_QUEUES)
    maintenance = Maintenance(deps, health_file=health_file)
    maintenance.start()
    try:
        while True:
            try:
                worker = TriageWorker(
                    [Queue(name, connection=connection) for name in names],
                    connection=connection,
                    name=runtime.worker_id(),
                )
                log.info("worker.started", queues=names, name=worker.name)
                return bool(worker.work(with_scheduler=True, burst=burst, logging_level="WARNING"))
            except RedisConnectionError as exc:
                # RQ retries once it is working, but not while registering: wait, then retry.
                if burst:
                    raise
                log.warning("worker.waiting_for_redis", error=str(exc), retry_in=RECONNECT_SECONDS)
                time.sleep(RECONNECT_SECONDS)
    finally:
        maintenance.stop()
