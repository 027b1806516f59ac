"""Which failures are expected, and what becomes of the rest.

Expected: Redis or the database out of reach (`REDIS_DOWN`, `DATABASE_DOWN`), or Slack
answering an error (`integrations.slack.SLACK_FAILED`). A caller catches exactly these, says
so in one line, and leaves the work to a retry or the sweeper. Anything else is a bug:
`unexpected()` logs it with its traceback and counts it in `triage_errors_total{where}`, so
it is neither swallowed nor the end of the loop it happened in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# Redis refused, dropped or timed out (and the queues' breaker, a RedisConnectionError too).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# The database refused, dropped or timed out a connection, or the pool had none to give.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeoutError)

ERRORS = Counter(
    "triage_errors_total", "Unexpected exceptions, logged with their traceback", ["where"]
)


def unexpected(log: Any, event: str, *, where: str, **fields: Any) -> None:
    """From an `except` block: log the exception with its traceback and count it under
    `where` (`sweeper`, `delivery`...)."""
    log.exception(event, where=where, **fields)
    ERRORS.labels(where=where).inc()


def enqueued(log: Any, enqueue: Callable[[], object], *, what: str, **fields: Any) -> bool:
    """Queue a job; False when it could not be: Redis out of reach is one line (the sweeper
    queues the work once Redis is back), anything else a bug, logged and counted. Either way
    the caller's state is already in the database, so nothing is lost."""
    try:
        enqueue()
    except REDIS_DOWN as exc:
        log.warning("enqueue.failed", what=what, error=str(exc), **fields)
        return False
    except Exception:
        unexpected(log, "enqueue.failed", where="enqueue", what=what, **fields)
        return False
    return True
