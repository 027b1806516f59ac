"""Slack's rate limits as a budget that every Web API call spends from, shared in Redis.

Slack limits each Web API method per workspace and app by its tier, and `chat.postMessage`
about one a second per channel; past a limit it answers HTTP 429 with a `Retry-After` the app
must wait out (see `TIERS`). An outage morning brings hundreds of requests in minutes, so the
limits are a hard constraint to plan for, not an error to retry: every call takes a slot here
first, in every process at once, and a 429 that happens anyway (another app, Slack's own
counting) is recorded so that every process waits it out, for that method (and channel) only.

The limiter is GCRA (the generic cell rate algorithm: one "theoretical arrival time" per key,
the same answers as a token bucket) in one Lua script, so checking and taking a slot is
atomic across processes, on Redis's own clock. Redis out of reach lets calls through (logged
once per outage): an outage of Redis must not stop approved replies, and Slack's own 429s,
still recorded in this process, keep the calls honest.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog
from redis import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

# Tiers of the methods this product uses, from each method's page (Slack's "Facts: Rate
# limits"); a method not named is Tier 4, as a page that says "Special" without a number.
TIERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "reactions.remove",
            "usergroups.users.list",
            "usergroups.list",
            "conversations.list",
            "users.list",
        ),
        2,
    ),
    **dict.fromkeys(
        (
            "reactions.add",
            "chat.update",
            "chat.delete",
            "conversations.info",
            "conversations.history",
            "conversations.replies",
            "users.getPresence",
            "users.lookupByEmail",
            "users.conversations",
            "team.info",
        ),
        3,
    ),
}
DEFAULT_TIER = 4
# Tier -> (calls a minute Slack publishes, calls allowed at once). Slack says only "short
# bursts tolerated"; the bursts are ours, small so that a burst never meets Slack's own count.
TIER_RATES: dict[int, tuple[float, int]] = {1: (1, 1), 2: (20, 3), 3: (50, 5), 4: (100, 10)}
POST_MESSAGE = "chat.postMessage"
POST_PER_CHANNEL: tuple[float, int] = (60, 2)  # "about one message per second per channel"
# "plus a workspace-wide limit" Slack does not number ("several hundred per minute")
POST_PER_WORKSPACE: tuple[float, int] = (300, 10)

# The budget spends this share of each published rate: a call's slot is taken at Redis and it
# reaches Slack a little later or sooner, by however long its thread and the network take, and
# Slack counts arrivals. Spending the rate exactly, that jitter alone makes 429s.
HEADROOM = 0.9
BREAKER_SECONDS = 5.0  # after a Redis failure, calls go through without asking it this long
_PREFIX = "triage:slack-budget"

# Take a slot from every bucket of a call, or from none: KEYS are the buckets (GCRA's
# theoretical arrival time, in ms), then the Retry-After holds (their end, in ms); ARGV[1] is
# the number of buckets, then each bucket's interval and burst tolerance in ms. Answers
# {1, 0} when the call may go now, or {0, ms to wait}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local buckets = tonumber(ARGV[1])
local wait = 0
for i = buckets + 1, #KEYS do
  local held = tonumber(redis.call('GET', KEYS[i]) or '0')
  if held - now > wait then wait = held - now end
end
local next_tat = {}
for i = 1, buckets do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  if tat - tolerance - now > wait then wait = tat - tolerance - now end
  next_tat[i] = tat + interval
end
if wait > 0 then return {0, math.ceil(wait)} end
for i = 1, buckets do
  redis.call('SET', KEYS[i], tostring(next_tat[i]), 'PX', math.ceil(next_tat[i] - now) + 1000)
end
return {1, 0}
"""
# Record a Retry-After: KEYS[1] holds until now + ARGV[1] ms, unless it holds longer already.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ends = now + tonumber(ARGV[1])
if ends > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ends, 'PX', tonumber(ARGV[1]))
end
return ends
"""

# How long a call made on this thread (or task) may wait for its slot; None: the client's
# own bound. `waiting_at_most` sets it around calls that would rather not wait at all.
_patience: ContextVar[float | None] = ContextVar("slack_budget_patience", default=None)


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Calls made inside wait at most `seconds` for their slot (0: not at all), instead of the
    client's own bound: less for a call that would rather not wait (the 👀), more for one that
    must go out in its turn (a card, behind a burst's other cards in its channel). A call whose
    slot is further off answers `ratelimited` at once, as Slack's own 429 would."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


def patience(default: float) -> float:
    """The wait allowed to a call here: `default`, or the bound of `waiting_at_most`."""
    bound = _patience.get()
    return default if bound is None else bound


def tier_of(method: str) -> int:
    return TIERS.get(method, DEFAULT_TIER)


@dataclass(frozen=True)
class Slot:
    """The budget's answer: granted now, or when the next slot is (`retry_in` seconds)."""

    granted: bool
    retry_in: float = 0.0


class BudgetSpent(Exception):
    """The call's next slot (or the end of a Retry-After) is further off than it may wait."""

    def __init__(self, method: str, channel: str | None, retry_in: float) -> None:
        where = f" in {channel}" if channel else ""
        super().__init__(f"{method}{where}: the Slack budget frees in {retry_in:.1f} s")
        self.method, self.channel, self.retry_in = method, channel, retry_in


class SlackBudget:
    """The call budgets of every workspace, in one Redis; `None`: no Redis (the demo, the
    doctor), so only the Retry-Afters this process was given are honoured."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.scale = scale
        self.clock, self.sleep = clock, sleep
        self._take = redis.register_script(_TAKE) if redis is not None else None
        self._hold = redis.register_script(_HOLD) if redis is not None else None
        self._held: dict[str, float] = {}  # hold key -> its end on `clock`, in this process
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_logged = False

    def __deepcopy__(self, memo: dict[int, object]) -> SlackBudget:
        """The budget is the process's one view of what Slack allows: a deep copy of a client
        that spends from it (Bolt deep-copies each request, with its client, for a lazy
        listener) spends from the same budget, never a copy of it."""
        return self

    def workspace(self, key: str) -> WorkspaceBudget:
        """The budget of one workspace (its team id, or a hash of its token)."""
        return WorkspaceBudget(self, key)

    # -- the buckets and holds of one call ------------------------------------------------

    def buckets(self, workspace: str, method: str, channel: str | None) -> list[_Bucket]:
        """The limits a call counts against: its method's, and for a post its channel's."""
        base = f"{_PREFIX}:{workspace}:{method}"
        if method != POST_MESSAGE:
            return [_Bucket(base, *TIER_RATES[tier_of(method)], self.scale)]
        found = [_Bucket(base, *POST_PER_WORKSPACE, self.scale)]
        if channel:
            found.append(_Bucket(f"{base}:{channel}", *POST_PER_CHANNEL, self.scale))
        return found

    def hold_keys(self, workspace: str, method: str, channel: str | None) -> list[str]:
        """The Retry-Afters a call must respect: its method's and, for a post, its channel's."""
        base = f"{_PREFIX}-hold:{workspace}:{method}"
        if method == POST_MESSAGE and channel:
            return [base, f"{base}:{channel}"]
        return [base]

    def hold_key(self, workspace: str, method: str, channel: str | None) -> str:
        """Where a 429 is recorded: the method's key, or for a post its channel's only."""
        return self.hold_keys(workspace, method, channel)[-1]

    # -- Redis, or not ----------------------------------------------------------------------

    def take(self, workspace: str, method: str, channel: str | None) -> Slot:
        """A slot now, or when the next one is; never waits."""
        holds = self.hold_keys(workspace, method, channel)
        local = self._held_for(holds)
        if local > 0:  # a Retry-After this process was given: no need to ask Redis
            return Slot(False, local)
        if self._take is None or not self._redis_usable():
            return Slot(True)
        buckets = self.buckets(workspace, method, channel)
        arguments: list[float] = [len(buckets)]
        for bucket in buckets:
            arguments += [bucket.interval_ms, bucket.tolerance_ms]
        try:
            granted, wait_ms = self._take(keys=[b.key for b in buckets] + holds, args=arguments)
        except RedisError as exc:
            self._redis_failed(exc)
            return Slot(True)
        self._redis_worked()
        return Slot(True) if granted else Slot(False, int(wait_ms) / 1000)

    def hold(self, workspace: str, method: str, channel: str | None, seconds: float) -> None:
        """Slack said 429: no call of this method (channel) before `seconds` from now."""
        key = self.hold_key(workspace, method, channel)
        ends = self.clock() + seconds
        with self._lock:
            if len(self._held) > 1000:  # forget what has ended
                now = self.clock()
                self._held = {k: t for k, t in self._held.items() if t > now}
            self._held[key] = max(self._held.get(key, 0.0), ends)
        log.warning(
            "slack.ratelimited", workspace=workspace, method=method, channel=channel, wait=seconds
        )
        if self._hold is None or not self._redis_usable():
            return
        try:
            self._hold(keys=[key], args=[max(1, math.ceil(seconds * 1000))])
        except RedisError as exc:
            self._redis_failed(exc)
        else:
            self._redis_worked()

    def held_for(self, workspace: str, method: str, channel: str | None) -> float:
        """Seconds left of the Retry-Afters this process knows for a call (0: none)."""
        return self._held_for(self.hold_keys(workspace, method, channel))

    def _held_for(self, keys: list[str]) -> float:
        now = self.clock()
        with self._lock:
            return max([self._held.get(key, 0.0) - now for key in keys] + [0.0])

    def _redis_usable(self) -> bool:
        return self.clock() >= self._down_until

    def _redis_failed(self, exc: RedisError) -> None:
        self._down_until = self.clock() + BREAKER_SECONDS
        if not self._down_logged:  # once per outage: every Slack call would say it again
            self._down_logged = True
            log.warning("slack_budget.redis_down", error=type(exc).__name__, letting_through=True)

    def _redis_worked(self) -> None:
        if self._down_logged:
            self._down_logged = False
            log.info("slack_budget.redis_back")


@dataclass(frozen=True)
class _Bucket:
    key: str
    per_minute: float
    burst: int
    scale: float

    @property
    def interval_ms(self) -> float:
        return 60_000 / (self.per_minute * HEADROOM * self.scale)

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * (self.burst - 1)


class WorkspaceBudget:
    """One workspace's budget: what a WebClient spends before each call."""

    def __init__(self, shared: SlackBudget, workspace: str) -> None:
        self.shared = shared
        self.workspace = workspace

    def try_acquire(self, method: str, channel: str | None = None) -> Slot:
        """Take a slot for one call now if there is one; never waits."""
        return self.shared.take(self.workspace, method, channel)

    def acquire(self, method: str, channel: str | None = None, *, max_wait: float) -> None:
        """Wait for a slot; `BudgetSpent` at once when it is more than `max_wait` seconds off
        (nothing is gained by waiting part of a wait that will not fit)."""
        deadline = self.shared.clock() + max_wait
        while True:
            slot = self.try_acquire(method, channel)
            if slot.granted:
                return
            if self.shared.clock() + slot.retry_in > deadline:
                raise BudgetSpent(method, channel, slot.retry_in)
            self.shared.sleep(slot.retry_in)

    def hold(self, method: str, channel: str | None, seconds: float) -> None:
        """Record Slack's Retry-After for this method (a post: its channel) in every process."""
        self.shared.hold(self.workspace, method, channel, seconds)

    def held_for(self, method: str, channel: str | None = None) -> float:
        """Seconds left of a Retry-After this process was given for such a call."""
        return self.shared.held_for(self.workspace, method, channel)
