"""Outbox delivery: post a card, an approved reply, an escalation or an SLA note exactly once.

Slack's chat.postMessage has no idempotency key, so exactly-once is built here:
- the decision and its outbox row are written in one transaction (unique `dedupe_key`);
- a worker leases the row before posting, so double clicks, two approvers and retried jobs
  all end at one lease holder;
- the message carries `metadata.outbox_id`; if a holder died after Slack accepted the post but
  before recording it, the next holder finds that metadata in the channel (or thread) and
  records the existing message instead of posting again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError
from slack_sdk import WebClient
from sqlalchemy import update

from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN, REDIS_DOWN, enqueued, unexpected
from integrations.slack import SLACK_FAILED, refused_by_budget, slack_error
from integrations.slack_budget import waiting_at_most
from integrations.slack_installs import NotInstalled
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    OutboxMessage,
    OutboxState,
    Request,
    RequestState,
)
from workers import auto_send, auto_send_flow, csat, incident_updates, leases
from workers.card import refresh_card_now
from workers.expertise import record_answer
from workers.ids import OUTBOX_EVENT_TYPE
from workers.metrics import TIME_TO_CARD
from workers.outbox_rows import deliver_soon
from workers.sla import stop_clock

log = structlog.get_logger(__name__)

# Errors that retrying cannot fix: the row is marked failed and the audit log says why.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "invalid_blocks",
    "no_text",
    "restricted_action",
    "shared_channel_refused",
}


# How old a channel's "not shared" may be when a card is posted there on its word.
INTERNAL_CACHE_SECONDS = 60
# A post waits this long for its turn in its channel (Slack paces chat.postMessage at about one
# a second per channel): on an outage morning a card waits behind the burst's other cards
# rather than fail, back off and try again later. Within every job's timeout.
POST_WAIT_SECONDS = 90

# The only outbox kinds that may be posted where customers read: the approved reply, an
# approved incident update (SPEC §6.6), the one-line "joining to help" of a pull-in when
# PULL_IN_IN_CUSTOMER_THREAD is on, the CSAT question after an answer, an automatic answer
# that AUTO_SEND allowed, and the deletion of one a person undid (SPEC §6.7).
CUSTOMER_KINDS = frozenset(
    {
        "reply",
        "pull_in_customer",
        incident_updates.KIND,
        csat.KIND,
        auto_send.KIND,
        auto_send_flow.RETRACT,
    }
)
# The customer kinds that answer the request: each stops its clock and marks it ✅.
ANSWER_KINDS = frozenset({"reply", incident_updates.KIND, auto_send.KIND})


class SharedChannelRefused(Exception):
    """An internal card or note was about to go to a channel shared with another org."""


def deliver(deps: Deps, *, outbox_id: int) -> str | None:
    """RQ job: deliver one outbox message."""
    return deliver_now(deps, outbox_id)


def deliver_now(deps: Deps, outbox_id: int) -> str | None:
    """Post the row's message unless it is posted already; returns the message ts."""
    owner = leases.worker_id()
    pending = OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING))
    if not leases.claim(
        deps.sessions, OutboxMessage, outbox_id, owner, deps.settings.lease_seconds, pending
    ):
        log.info("outbox.skipped", outbox_id=outbox_id, why="sent, failed, or leased elsewhere")
        return None
    with transaction(deps.sessions) as session:
        row = session.get_one(OutboxMessage, outbox_id)
        # An automatic answer is checked again as it goes out (switch, undo, a follow-up).
        cancelled = (
            auto_send_flow.check_before_post(session, outbox_id)
            if row.kind == auto_send.KIND
            else None
        )
        if cancelled is None:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id)
                .values(state=OutboxState.SENDING)
            )
        snapshot = _Snapshot(row)
        request = session.get(Request, row.request_id) if row.request_id else None
        if snapshot.kind in CUSTOMER_KINDS and request is not None:
            # The customer's channel is answered by its own workspace's installation.
            where = (request.team_id, request.enterprise_id)
        else:
            where = None
    if cancelled is not None:
        leases.release(deps.sessions, OutboxMessage, outbox_id, owner)
        auto_send_flow.after_hand_back(deps, cancelled)
        return None
    try:
        slack = deps.slack_for(*where) if where else deps.slack
        ts: str | None
        if snapshot.kind == auto_send_flow.RETRACT:  # deletes; nothing to look for or post
            ts = auto_send_flow.retract(slack, snapshot.channel_id, snapshot.body)
        else:
            ts = _find_posted(slack, snapshot) if snapshot.attempts > 1 else None
        if ts is None:
            if snapshot.kind not in CUSTOMER_KINDS:  # cards, escalations, notes: internal only
                ensure_internal_channel_cached(deps.redis, slack, snapshot.channel_id)
            with waiting_at_most(POST_WAIT_SECONDS):
                ts = _post(slack, snapshot)
    except Exception as exc:  # whatever it was, the lease is released and RQ retries the job
        _record_failure(deps, snapshot, owner, exc)
        raise
    _record_sent(deps, snapshot, owner, ts)
    return ts


class _Snapshot:
    """The row's values, detached from its session."""

    def __init__(self, row: OutboxMessage) -> None:
        self.id = row.id
        self.dedupe_key = row.dedupe_key
        self.kind = row.kind
        self.channel_id = row.channel_id
        self.thread_ts = row.thread_ts
        self.body = dict(row.body)
        self.attempts = row.attempts
        self.created_at = row.created_at
        self.request_id = row.request_id
        self.draft_id = row.draft_id


def ensure_internal_channel(slack: WebClient, channel: str) -> None:
    """Refuse a channel shared with another organisation (SPEC §5.6)."""
    info = slack.conversations_info(channel=channel)["channel"]
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        raise SharedChannelRefused(
            f"refusing to post internal notes to {channel}: it is shared with another organisation"
        )


def ensure_internal_channel_cached(redis: Redis, slack: WebClient, channel: str) -> None:
    """`ensure_internal_channel`, asking Slack at most once a minute per channel: a busy
    morning's cards would otherwise spend a Tier-3 `conversations.info` each. Only "internal"
    is remembered, for `INTERNAL_CACHE_SECONDS`: a channel shared since is refused within
    that long, and a shared channel is asked about every time."""
    key = f"triage:internal-channel:{channel}"
    try:
        if redis.get(key):
            return
    except RedisError as exc:  # ask Slack: the check must not depend on Redis
        log.warning("delivery.channel_cache_failed", error=type(exc).__name__)
    ensure_internal_channel(slack, channel)
    try:
        redis.set(key, "1", ex=INTERNAL_CACHE_SECONDS)
    except RedisError as exc:
        log.warning("delivery.channel_cache_failed", error=type(exc).__name__)


def _post(slack: WebClient, row: _Snapshot) -> str:
    response = slack.chat_postMessage(
        channel=row.channel_id,
        thread_ts=row.thread_ts,
        metadata={"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": row.id}},
        **row.body,
    )
    return str(response["ts"])


def _find_posted(slack: WebClient, row: _Snapshot) -> str | None:
    """The ts of this row's message if a previous lease holder already posted it."""
    oldest = f"{(row.created_at - timedelta(minutes=1)).timestamp():.6f}"
    if row.thread_ts:
        pages = slack.conversations_replies(
            channel=row.channel_id, ts=row.thread_ts, include_all_metadata=True, limit=200
        )
    else:
        pages = slack.conversations_history(
            channel=row.channel_id, oldest=oldest, include_all_metadata=True, limit=200
        )
    for page in pages:
        for message in page.get("messages", []):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == OUTBOX_EVENT_TYPE and str(
                (meta.get("event_payload") or {}).get("outbox_id")
            ) == str(row.id):
                log.info("outbox.reconciled", outbox_id=row.id, ts=message["ts"])
                return str(message["ts"])
    return None


# Slack said no or was out of reach, the channel is shared, the workspace is gone, the
# database is down: a failure to record and retry. Anything else is a bug, told with its
# traceback.
_EXPECTED = (*SLACK_FAILED, SharedChannelRefused, NotInstalled, *DATABASE_DOWN)


def _record_failure(deps: Deps, row: _Snapshot, owner: str, exc: Exception) -> None:
    """From the `except` block: release the lease, and mark the row failed for good when
    retrying cannot help (PERMANENT, written in the audit log)."""
    code = "shared_channel_refused" if isinstance(exc, SharedChannelRefused) else slack_error(exc)
    permanent = code in PERMANENT
    fields = {"outbox_id": row.id, "kind": row.kind, "error": code, "permanent": permanent}
    if isinstance(exc, _EXPECTED):
        log.error("outbox.failed", **fields)
    else:
        unexpected(log, "outbox.failed", where="delivery", **fields)
    with transaction(deps.sessions) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == owner)
            .values(
                state=OutboxState.FAILED if permanent else OutboxState.PENDING,
                last_error=str(exc)[:1000],
                lease_owner=None,
                lease_expires_at=None,
                # Its job's retry comes back to it; the sweeper, only if that is lost. Taken up
                # at once, a post that timed out was looked for before Slack had carried it out
                # and was posted twice.
                enqueued_at=datetime.now(UTC),
                # Our own budget refused it: nothing reached Slack, so the next try need not
                # look for it there first (a Tier-3 conversations.history).
                attempts=OutboxMessage.attempts - (1 if refused_by_budget(exc) else 0),
            )
        )
        if permanent:
            session.add(
                AuditEntry(
                    actor="system",
                    action=f"{row.kind}.failed",
                    request_id=row.request_id,
                    draft_id=row.draft_id,
                    detail={"error": code, "channel": row.channel_id},
                )
            )


def _record_sent(deps: Deps, row: _Snapshot, owner: str, ts: str) -> None:
    now = datetime.now(UTC)
    csat_due = retract = None
    with transaction(deps.sessions) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(
                state=OutboxState.SENT,
                result_ts=ts,
                sent_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        request = session.get(Request, row.request_id) if row.request_id else None
        if row.kind == "card" and request is not None:
            request.card_channel, request.card_ts = row.channel_id, ts
            TIME_TO_CARD.observe((now - request.created_at).total_seconds())
        elif row.kind == "reply" and request is not None:
            _reply_posted(session, request, row, ts, now)
        elif row.kind == auto_send.KIND and request is not None:
            retract = auto_send_flow.posted(session, request, row.draft_id or 0, ts, now)
        elif row.kind == auto_send_flow.RETRACT:
            session.add(
                AuditEntry(
                    actor="system",
                    action="auto_send.retracted",
                    request_id=row.request_id,
                    draft_id=row.draft_id,
                    detail={"channel": row.channel_id, "ts": ts},
                )
            )
        elif row.kind == incident_updates.KIND and request is not None:
            incident_updates.update_posted(
                session, request, dedupe_key=row.dedupe_key, body=row.body, ts=ts, now=now
            )
        if row.kind in ANSWER_KINDS and request is not None:  # answered: CSAT asks later
            csat_due = csat.ask_later(session, deps.settings, request, now)
    log.info("outbox.sent", outbox_id=row.id, kind=row.kind, ts=ts)
    if retract is not None:  # undone while it was being posted: delete it now
        deliver_soon(deps, retract)
    if csat_due is not None:
        csat.schedule(deps, row.request_id or 0, csat_due)
    if row.kind in ANSWER_KINDS and row.request_id:
        _after_reply(deps, row)


def _reply_posted(session: Any, request: Request, row: _Snapshot, ts: str, now: datetime) -> None:
    draft = session.get(Draft, row.draft_id) if row.draft_id else None
    if draft is not None:
        draft.posted_ts = ts
    if request.state == RequestState.OPEN:
        request.state = RequestState.ANSWERED
        request.answered_at = now
        request.answered_by = draft.decided_by if draft else None
    stop_clock(session, request.id, draft.decided_by if draft else None)  # SPEC §6.3
    if draft is not None and draft.decided_by:  # the approver answered (SPEC §6.4)
        record_answer(
            session,
            request,
            user_id=draft.decided_by,
            kind="approval",
            answer=draft.posted_text or draft.text,
            draft_id=draft.id,
        )
    session.add(
        AuditEntry(
            actor=draft.decided_by if draft and draft.decided_by else "system",
            action="reply.posted",
            request_id=request.id,
            draft_id=row.draft_id,
            detail={
                "channel": row.channel_id,
                "thread_ts": row.thread_ts,
                "ts": ts,
                **fingerprint(text=str(row.body.get("text", ""))),
            },
        )
    )


def _after_reply(deps: Deps, row: _Snapshot) -> None:
    """Mark the customer's message answered (✅) and redraw the card; neither may undo the
    post. When Slack (or Redis, or the database) fails them, a card refresh job does both,
    with its retries: this job's own retry would find the reply sent and stop there."""
    request_id = row.request_id or 0
    try:
        refresh_card_now(deps, request_id)
    except (*SLACK_FAILED, *REDIS_DOWN, *DATABASE_DOWN) as exc:
        log.warning("card.refresh_deferred", request_id=request_id, error=slack_error(exc))
        enqueued(
            log,
            lambda: deps.queues.enqueue_card_refresh(request_id),
            what="card refresh",
            request_id=request_id,
        )
