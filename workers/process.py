"""`triage worker`: an RQ worker with its scheduler, plus the heartbeat and the sweeper.

A `SimpleWorker` runs jobs in its own process (no fork per job): the jobs are short and
I/O-bound, and a SIGKILL takes the job down with the worker, so its lease stops being renewed
and the sweeper on any live worker re-queues it. Scale with more processes (`--scale worker=N`).
"""

from __future__ import annotations

import structlog
from redis import Redis
from rq import Queue, SimpleWorker

from app.deps import Deps
from workers import runtime
from workers.queues import ALL_QUEUES
from workers.sweeper import Maintenance

log = structlog.get_logger(__name__)


def run_worker(deps: Deps, *, queues: list[str] | None = None, burst: bool = False) -> bool:
    """Work the queues until stopped (or until empty with `burst`)."""
    runtime.install(deps)
    # The worker blocks on BLPOP, so its connection has no read timeout (RQ manages its own).
    connection = Redis.from_url(deps.settings.redis_url)
    names = queues or list(ALL_QUEUES)
    worker = SimpleWorker(
        [Queue(name, connection=connection) for name in names],
        connection=connection,
        name=runtime.worker_id(),
    )
    maintenance = Maintenance(deps)
    maintenance.start()
    log.info("worker.started", queues=names, name=worker.name)
    try:
        return bool(worker.work(with_scheduler=True, burst=burst, logging_level="WARNING"))
    finally:
        maintenance.stop()
