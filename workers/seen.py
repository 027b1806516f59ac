"""👀 on a customer's message, and its permalink, without spending the hot path's Slack budget.

`reactions.add` is Tier 3: about 50 a minute per workspace, which an outage morning's
messages spend in a minute. The 👀 tells the customer they were seen; the card is what gets
them answered, so 👀 never makes the card wait: `mark_seen` adds it when the reactions budget
has a slot now, and otherwise schedules it (a delayed job, `enqueue_seen`) for when the budget
frees, once per message.

A permalink needs no call per message at all: Slack's permalinks are the workspace's URL
(`auth.test`, cached here for `WORKSPACE_URL_SECONDS`) with `archives/<channel>/p<ts without
the dot>`; `chat.getPermalink` answers only when that URL cannot be had.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.slack import SLACK_FAILED, retry_after_of, slack_error, workspace_key
from integrations.slack_budget import HEADROOM, TIER_RATES, tier_of, waiting_at_most
from workers.ids import Reaction

log = structlog.get_logger(__name__)

WORKSPACE_URL_SECONDS = 3600  # a renamed workspace's links follow within the hour
# A scheduled 👀 for a message is not scheduled again while it waits (for this long at most,
# should its job be lost).
PENDING_SECONDS = 600

Workspace = tuple[str | None, str | None]  # the customer channel's (team, enterprise)


def mark_seen(deps: Deps, workspace: Workspace, channel: str, ts: str) -> bool:
    """👀 on a customer's message now if the reactions budget has a slot; else scheduled for
    when it frees. Never waits for the budget. True when the 👀 is there now (already was
    counts: `already_reacted`)."""
    slack = deps.slack_for(*workspace)
    try:
        with waiting_at_most(0):
            slack.reactions_add(channel=channel, timestamp=ts, name=Reaction.SEEN)
    except SLACK_FAILED as exc:
        code = slack_error(exc)
        if code == "already_reacted":
            return True
        if isinstance(exc, SlackApiError) and code == "ratelimited":
            # the budget's own answer, or Slack's 429 (recorded for every process)
            _later(deps, workspace, channel, ts, retry_after_of(exc))
        else:
            log.warning("reaction.failed", channel=channel, ts=ts, error=code)
        return False
    return True


def add_seen(
    deps: Deps, *, team_id: str | None, enterprise_id: str | None, channel: str, ts: str
) -> bool:
    """RQ job: the 👀 `mark_seen` put off; put off again if the budget is still spent."""
    try:
        deps.redis.delete(_pending_key(channel, ts))
    except RedisError as exc:  # its TTL ends it; meanwhile a second schedule is skipped
        log.warning("seen.pending_unknown", error=type(exc).__name__)
    return mark_seen(deps, (team_id, enterprise_id), channel, ts)


def _later(deps: Deps, workspace: Workspace, channel: str, ts: str, seconds: float) -> None:
    """Schedule the 👀 for when the budget frees, unless it is scheduled already."""
    try:
        first = deps.redis.set(_pending_key(channel, ts), "1", nx=True, ex=PENDING_SECONDS)
    except RedisError:
        first = True  # the enqueue below says what became of it
    if not first:
        return
    at = datetime.now(UTC) + timedelta(seconds=_turn(deps, workspace, max(seconds, 0.5)))
    send = partial(deps.queues.enqueue_seen, workspace[0], workspace[1], channel, ts, at)
    if enqueued(log, send, what="seen", channel=channel, ts=ts):
        log.info("seen.deferred", channel=channel, ts=ts, seconds=round(seconds, 1))


# Deferred 👀s take the reactions budget's future turns one each, in order: scheduled all for
# "when it frees", 400 of them woke together, one won and 399 were scheduled again, every
# turn (measured: 20 runs of each 👀's job, which slowed the cards they share workers with).
_NEXT_TURN = """
local at = math.max(tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], tostring(at + tonumber(ARGV[2])), 'EX', 3600)
return tostring(at)
"""


def _turn(deps: Deps, workspace: Workspace, earliest: float) -> float:
    """Seconds from now to this 👀's own turn in its workspace's reactions budget: the first
    not taken by a 👀 deferred before it, and not before `earliest`."""
    rate, _ = TIER_RATES[tier_of("reactions.add")]
    interval = 60 / (rate * HEADROOM * deps.settings.slack_rate_scale)
    now = time.time()
    key = f"triage:seen-next-turn:{workspace[0] or '-'}:{workspace[1] or '-'}"
    try:
        at = float(deps.redis.eval(_NEXT_TURN, 1, key, now + earliest, interval))  # type: ignore[arg-type]
    except RedisError:
        return earliest
    return max(at - now, earliest)


def _pending_key(channel: str, ts: str) -> str:
    return f"triage:seen-pending:{channel}:{ts}"


def message_permalink(
    deps: Deps, workspace: Workspace, channel: str, ts: str, thread_ts: str | None = None
) -> str | None:
    """The message's permalink, built as Slack builds it (a reply in a thread carries its
    thread, `?thread_ts=...&cid=...`); `chat.getPermalink` when the workspace URL cannot be
    had; None when neither answers."""
    slack = deps.slack_for(*workspace)
    url = _workspace_url(deps, workspace_key(slack), slack)
    if url:
        link = f"{url}archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link
    try:
        return str(slack.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SLACK_FAILED as exc:
        log.warning("permalink.failed", channel=channel, ts=ts, error=slack_error(exc))
        return None


def _workspace_url(deps: Deps, key: str, slack: WebClient) -> str | None:
    """`auth.test`'s `url` (`https://acme.slack.com/`), cached in Redis per workspace."""
    cache = f"triage:workspace-url:{key}"
    try:
        cached = deps.redis.get(cache)
        if cached:
            return str(cached, "utf-8")  # type: ignore[arg-type]
    except RedisError as exc:
        log.warning("seen.cache_failed", error=type(exc).__name__)
    try:
        url = str(slack.auth_test().get("url") or "")
    except SLACK_FAILED as exc:
        log.warning("permalink.workspace_unknown", error=slack_error(exc))
        return None
    if not url.startswith("http"):
        return None
    url = url if url.endswith("/") else url + "/"
    try:
        deps.redis.set(cache, url, ex=WORKSPACE_URL_SECONDS)
    except RedisError as exc:
        log.warning("seen.cache_failed", error=type(exc).__name__)
    return url
