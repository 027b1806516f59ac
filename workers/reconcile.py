"""Reconciliation (SPEC §5.1): customer messages whose events never arrived.

Slack does not guarantee event delivery, so every `RECONCILE_MINUTES` one worker reads the
recent history of the shared channels the bot is in and passes each top-level message through
the same ingest as a live event. Ingest's unique (channel, ts) makes this exactly once: a
message that did arrive, or was recovered before, is a duplicate and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.deps import Deps
from integrations.slack import slack_error
from workers.classify import Installation
from workers.ingest import ingest_message

log = structlog.get_logger(__name__)

SETTLE = timedelta(minutes=2)  # live events get this long to arrive before we go looking
LOCK_KEY = "triage:reconcile:lock"


def reconcile_job(deps: Deps) -> int:
    """RQ job: one reconciliation pass."""
    return reconcile(deps, lookback=timedelta(minutes=deps.settings.reconcile_lookback_minutes))


def reconcile(
    deps: Deps, *, lookback: timedelta, settle: timedelta = SETTLE, now: datetime | None = None
) -> int:
    """Open requests for customer messages of the last `lookback` that never arrived."""
    now = now or datetime.now(UTC)
    oldest, latest = f"{(now - lookback).timestamp():.6f}", f"{(now - settle).timestamp():.6f}"
    recovered = 0
    for slack in deps.slack_clients.each():  # every workspace that installed the app
        try:
            recovered += _reconcile_workspace(deps, slack, oldest, latest)
        except SlackApiError as exc:  # one revoked workspace does not stop the others
            log.warning("reconcile.workspace_failed", error=slack_error(exc))
    log.info("reconcile.done", recovered=recovered)
    return recovered


def _reconcile_workspace(deps: Deps, slack: WebClient, oldest: str, latest: str) -> int:
    installation = installation_of(slack, deps.slack_clients.organisation())
    recovered = 0
    for channel in _shared_channels(slack):
        for message in _history(slack, channel, oldest, latest):
            if message.get("reply_count") or message.get("subtype") == "thread_broadcast":
                continue  # a conversation is already under way in its thread
            body = _envelope(channel, message, installation)
            if ingest_message(deps, body, installation).outcome in ("opened", "joined"):
                log.info("reconcile.recovered", channel=channel, ts=message["ts"])
                recovered += 1
    return recovered


def maybe_enqueue(deps: Deps) -> bool:
    """Queue a pass if none ran within the interval on any worker (a Redis lock decides)."""
    minutes = deps.settings.reconcile_minutes
    if minutes <= 0:
        return False
    if not deps.redis.set(LOCK_KEY, str(time.time()), nx=True, ex=int(minutes * 60)):
        return False
    deps.queues.enqueue_reconcile()
    return True


@lru_cache(maxsize=256)
def _identity(client_id: int, client: WebClient) -> Installation:
    auth = client.auth_test()
    return Installation(auth.get("team_id"), auth.get("enterprise_id"), auth.get("user_id"))


def installation_of(client: WebClient, also: frozenset[str] = frozenset()) -> Installation:
    """Who installed the app, from auth.test (asked once per process); `also`: the
    organisation's other installations (`SlackClients.organisation()`)."""
    return replace(_identity(id(client), client), also=also)


def _shared_channels(client: WebClient) -> Iterator[str]:
    for page in client.users_conversations(
        types="public_channel,private_channel", exclude_archived=True, limit=200
    ):
        for channel in page.get("channels", []):
            if channel.get("is_ext_shared"):
                yield channel["id"]


def _history(client: WebClient, channel: str, oldest: str, latest: str) -> Iterator[dict]:
    for page in client.conversations_history(
        channel=channel, oldest=oldest, latest=latest, limit=200
    ):
        yield from page.get("messages", [])


def _envelope(channel: str, message: dict[str, Any], installation: Installation) -> dict:
    """A message from history, wrapped as the event Slack would have sent."""
    event = {**message, "type": "message", "channel": channel}
    return {
        "type": "event_callback",
        "event_id": f"reconcile:{channel}:{message['ts']}",
        "event": event,
        "is_ext_shared_channel": True,
        "authorizations": [
            {
                "team_id": installation.team_id,
                "enterprise_id": installation.enterprise_id,
                "user_id": installation.bot_user_id,
                "is_bot": True,
            }
        ],
    }
