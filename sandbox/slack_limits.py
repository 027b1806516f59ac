"""Slack's Web API rate limits, enforced by the emulator when asked (developer tool / tests).

Real Slack answers HTTP 429 when an app calls a method faster than the method's tier allows, per
workspace; the app must then wait the ``Retry-After`` it was given. The emulator answers the
same way when started with ``SlackEmulator(limits=F)`` or ``SLACK_EMULATOR_LIMITS=F``, so the
app's call budget and its 429 handling can be tested and benched locally. ``F`` multiplies every
rate (``F=60``: a minute's allowance in a second) so tests stay short; the burst a bucket holds
does not scale, so a burst still overflows.

Source of ``TIERS``: Slack's rate-limit page (api.slack.com/apis/rate-limits, now
docs.slack.dev/apis/web-api/rate-limits) and each method's "Facts: Rate limits", as gathered in
``/work/shared/specs/slack/README.md`` ("Web API rate limits"). A method not listed there is
Tier 4 (that README: where a method's page says "Special" without a number, treat as Tier 4).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

#: The environment variable ``python -m sandbox`` and ``triage sandbox`` read (see ``from_env``).
LIMITS_ENV = "SLACK_EMULATOR_LIMITS"

#: Method → tier, from the README's list (the methods this product uses); others are Tier 4.
#: conversations.history/replies: Tier 3 for internal and Marketplace apps (commercially
#: distributed apps outside the Marketplace created after 2025-05-29 get 1 per minute).
TIERS: dict[str, int] = {
    **dict.fromkeys(
        [
            "reactions.remove",
            "usergroups.users.list",
            "usergroups.list",
            "conversations.list",
            "users.list",
        ],
        2,
    ),
    **dict.fromkeys(
        [
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
        ],
        3,
    ),
    **dict.fromkeys(
        [
            "users.info",
            "chat.postEphemeral",
            "chat.getPermalink",
            "views.open",
            "views.update",
            "views.push",
            "views.publish",
            "files.info",
            "auth.test",
        ],
        4,
    ),
}
DEFAULT_TIER = 4

#: Tier → (calls per minute Slack publishes, burst a bucket holds). The bursts are ours: Slack
#: says only "short bursts tolerated" (the "+" after each rate).
TIER_RATES: dict[int, tuple[float, int]] = {1: (1, 1), 2: (20, 3), 3: (50, 5), 4: (100, 10)}

POST_MESSAGE = "chat.postMessage"
#: chat.postMessage: "about one message per second per channel, short bursts allowed" ...
POST_PER_CHANNEL: tuple[float, int] = (60, 2)
#: ... "plus a workspace-wide limit" Slack does not number ("several hundred per minute").
POST_PER_WORKSPACE: tuple[float, int] = (300, 10)

#: A limiter key: (workspace, method) or, for chat.postMessage, (workspace, method, channel).
Key = tuple[str, ...]


def tier_of(method: str) -> int:
    """The rate-limit tier of a Web API method (Tier 4 when Slack's list does not name it)."""
    return TIERS.get(method, DEFAULT_TIER)


def from_env(environ: Mapping[str, str] | None = None) -> float | None:
    """``SLACK_EMULATOR_LIMITS`` as the factor ``F``; ``None`` (no limits) when unset or empty.

    Raises ``ValueError`` for anything but a positive number, rather than silently running
    an emulator without the limits someone asked for."""
    raw = (os.environ if environ is None else environ).get(LIMITS_ENV, "").strip()
    if not raw:
        return None
    try:
        factor = float(raw)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"{LIMITS_ENV}={raw!r}: expected a positive number (unset: no limits)")
    return factor


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; one call takes one token."""

    def __init__(self, per_minute: float, capacity: int, factor: float, now: float):
        self.rate = per_minute * factor / 60.0
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 when one is): refills up to ``now`` first."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Verdict:
    """What the limiter says about one call: ``retry_after`` seconds when refused (else
    ``None``), and whether it came before the end of a Retry-After given for one of its keys."""

    retry_after: int | None
    early: bool


class RateLimiter:
    """Token buckets per (workspace, method), and per (workspace, channel) for postMessage.

    Also counts what a test or bench asks about: the 429s answered (total and per method) and
    the early calls, those that arrived for a key before the end of the last Retry-After given
    for it. Real Slack punishes early calls; a client that honours Retry-After makes none.
    """

    def __init__(self, factor: float):
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"limits must be a positive number, not {factor!r}")
        self.factor = factor
        self._lock = threading.Lock()
        self._buckets: dict[Key, TokenBucket] = {}
        self._until: dict[Key, float] = {}  # key -> end of the last Retry-After given
        self.ratelimited: Counter[str] = Counter()  # method -> 429s answered
        self.early: Counter[str] = Counter()  # method -> early calls

    def check(self, team_id: str, method: str, channel: str | None = None) -> Verdict:
        """Take a token from each bucket of this call, or from none and refuse it.

        A refused call takes nothing, so it costs the workspace nothing (Slack's 429 does
        nothing either). ``Retry-After`` is the wait for the emptiest bucket, rounded up to a
        whole second and at least 1, as Slack sends it."""
        with self._lock:
            now = time.monotonic()
            buckets = self._buckets_of(team_id, method, channel, now)
            early = any(now < self._until.get(key, -math.inf) for key, _ in buckets)
            if early:
                self.early[method] += 1
            waits = [(key, bucket.wait(now)) for key, bucket in buckets]
            refused = [(key, wait) for key, wait in waits if wait > 0]
            if not refused:
                for _, bucket in buckets:
                    bucket.tokens -= 1
                return Verdict(None, early)
            retry_after = max(1, math.ceil(max(wait for _, wait in refused)))
            for key, _ in refused:
                self._until[key] = now + retry_after
            self.ratelimited[method] += 1
            return Verdict(retry_after, early)

    def _buckets_of(
        self, team_id: str, method: str, channel: str | None, now: float
    ) -> list[tuple[Key, TokenBucket]]:
        if method == POST_MESSAGE:
            shapes: list[tuple[Key, tuple[float, int]]] = [((team_id, method), POST_PER_WORKSPACE)]
            if channel:
                shapes.append(((team_id, method, channel), POST_PER_CHANNEL))
        else:
            shapes = [((team_id, method), TIER_RATES[tier_of(method)])]
        found: list[tuple[Key, TokenBucket]] = []
        for key, (per_minute, capacity) in shapes:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(per_minute, capacity, self.factor, now)
            found.append((key, bucket))
        return found

    def ratelimited_count(self, method: str | None = None) -> int:
        """429s answered so far (all methods, or ``method``'s)."""
        with self._lock:
            return self.ratelimited.total() if method is None else self.ratelimited[method]

    def ratelimited_by_method(self) -> dict[str, int]:
        """429s answered so far, per method."""
        with self._lock:
            return dict(self.ratelimited)

    def early_count(self, method: str | None = None) -> int:
        """Early calls so far (all methods, or ``method``'s)."""
        with self._lock:
            return self.early.total() if method is None else self.early[method]

    def reset(self) -> None:
        """Full buckets, no Retry-After pending, counts at zero."""
        with self._lock:
            self._buckets.clear()
            self._until.clear()
            self.ratelimited.clear()
            self.early.clear()
