"""`MODEL_CONCURRENCY`: how many model calls are in flight at once, across every process.

A counting semaphore in Redis: a sorted set of holders, each scored by when its hold expires.
Taking a slot drops the expired holders and adds this one if fewer than the limit remain, in
one Lua script (atomic); giving it back removes the holder. A process that dies holding slots
(SIGKILL) loses them when their holds expire, which is a little longer than the longest a model
call may take (the client's timeout times its attempts), so a dead process never shrinks the
deployment's budget for long.

Waiting is a short poll: a slot frees when a model answers, about a second apart at most under
load, so polling every few tens of milliseconds costs Redis little and a waiter little time.
When Redis cannot be reached the call goes ahead unbounded (logged once), and for the next few
seconds calls do not try Redis at all (each try could wait out a connect timeout): the budget
protects the model's rate limits, not correctness, and Redis being down must not stop drafts.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError

from integrations.llm import LanguageModel

log = structlog.get_logger(__name__)
T = TypeVar("T", bound=BaseModel)

KEY = "triage:model-slots"
POLL_SECONDS = 0.025
BREAKER_SECONDS = 5.0  # after a Redis failure, calls go unbounded this long before trying again

_TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return 1
end
return 0
"""


class ModelSlots:
    """At most `limit` holders at once, shared by every process on the same Redis."""

    def __init__(self, redis: Redis, limit: int, *, hold_seconds: float) -> None:
        self.redis = redis
        self.limit = limit
        self.hold_seconds = hold_seconds
        self._take = redis.register_script(_TAKE)
        self._warned = threading.Event()
        self._down_until = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block (waiting for one first)."""
        holder = self._acquire()
        try:
            yield
        finally:
            if holder is not None:
                self._release(holder)

    def in_use(self) -> int:
        """Slots held right now (expired holds not counted)."""
        return int(self.redis.zcount(KEY, time.time(), "+inf"))

    def _acquire(self) -> str | None:
        if time.monotonic() < self._down_until:
            return None
        holder = uuid.uuid4().hex
        waited = 0.0
        while True:
            try:
                now = time.time()
                if self._take(keys=[KEY], args=[now, self.limit, self.hold_seconds, holder]):
                    if waited:
                        log.debug("model.slot_waited", seconds=round(waited, 3))
                    return holder
            except RedisError as exc:
                self._down_until = time.monotonic() + BREAKER_SECONDS
                if not self._warned.is_set():
                    self._warned.set()
                    log.warning("model.slots_unavailable", error=str(exc), limit=self.limit)
                return None
            pause = POLL_SECONDS * (0.5 + random.random())  # waiters do not poll in step
            time.sleep(pause)
            waited += pause
            if waited > self.hold_seconds:  # holders that never give back expire by now
                log.warning("model.slot_wait_long", seconds=round(waited, 1))
                waited = 0.0

    def _release(self, holder: str) -> None:
        with suppress(RedisError):  # else its hold expires by itself
            self.redis.zrem(KEY, holder)


class BoundedModel:
    """A LanguageModel whose calls each hold one of the deployment's `ModelSlots`."""

    def __init__(self, model: LanguageModel, slots: ModelSlots) -> None:
        self.model = model
        self.slots = slots
        self.name = model.name

    def parse(self, messages: list[dict[str, Any]], schema: type[T]) -> T:
        with self.slots.slot():
            return self.model.parse(messages, schema)
