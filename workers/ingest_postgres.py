"""Ingest's hot path on PostgreSQL: a new customer message stored in one statement.

`workers.ingest._open_or_join` does the same in SQLAlchemy on every database: a look-up, then
INSERT or UPDATE of the request, INSERT of the message and of the event, in a transaction:
five or six round trips with BEGIN and COMMIT. Here it is one data-modifying CTE on a pooled
psycopg connection in autocommit: one round trip, atomic as any single statement is, and much
less Python per event (bench/RESULTS.md, "Second pass"). The rows it writes must stay those
`_open_or_join` writes; tests/test_ingest_paths.py runs both paths and compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Engine

from integrations.queues import new_job_id
from integrations.store.models import DraftStatus, RequestState, Stage
from workers.classify import Classified, Installation

# The open request this message joins (as `workers.ingest._THREAD_REQUEST` and
# `_GROUPABLE_REQUEST` find it), locked until the statement ends; or none.
_THREAD_REQUEST = """
    SELECT id FROM requests
    WHERE channel_id = %(channel_id)s AND thread_ts = %(thread_ts)s AND state = %(open)s
    ORDER BY id DESC LIMIT 1 FOR UPDATE"""
_GROUPABLE_REQUEST = """
    SELECT id FROM requests
    WHERE channel_id = %(channel_id)s AND user_id = %(user_id)s AND thread_ts = ts
      AND last_message_at >= %(since)s AND state = %(open)s
      AND NOT EXISTS (
          SELECT FROM drafts WHERE drafts.request_id = requests.id AND status = %(approved)s)
    ORDER BY id DESC LIMIT 1 FOR UPDATE"""
_NO_REQUEST = "SELECT NULL::bigint AS id WHERE false"

_STORE = """
WITH target AS ({target}),
joined AS (
    UPDATE requests SET revision = revision + 1,
        last_message_at = GREATEST(last_message_at, %(at)s),
        job_id = %(job_id)s, enqueued_at = %(now)s, updated_at = %(now)s
    WHERE id = (SELECT id FROM target)
    RETURNING id
),
opened AS (
    INSERT INTO requests (team_id, enterprise_id, channel_id, ts, thread_ts, user_id, user_team,
        state, stage, revision, processed_revision, attempts, created_at, updated_at,
        last_message_at, job_id, enqueued_at)
    SELECT %(request_team_id)s, %(enterprise_id)s, %(channel_id)s, %(ts)s, %(thread_ts)s,
        %(user_id)s, %(user_team)s, %(open)s, %(received)s, 1, 0, 0, %(now)s, %(now)s, %(at)s,
        %(job_id)s, %(now)s
    WHERE NOT EXISTS (SELECT FROM target)
    RETURNING id
),
request AS (SELECT id, true AS joined FROM joined UNION ALL SELECT id, false FROM opened),
message AS (
    INSERT INTO request_messages (request_id, channel_id, ts, user_id, text, files, created_at)
    SELECT id, %(channel_id)s, %(ts)s, %(user_id)s, %(text)s, %(files)s, %(now)s FROM request
)
INSERT INTO slack_events (event_id, team_id, enterprise_id, channel_id, ts, kind, reason,
    payload, request_id, received_at)
SELECT %(event_id)s, %(team_id)s, %(enterprise_id)s, %(channel_id)s, %(ts)s, %(kind)s,
    %(reason)s, %(payload)s, id, %(now)s FROM request
RETURNING request_id, (SELECT joined FROM request)
"""
_STORE_IN_THREAD = _STORE.format(target=_THREAD_REQUEST)
_STORE_GROUPED = _STORE.format(target=_GROUPABLE_REQUEST)
_STORE_NEW = _STORE.format(target=_NO_REQUEST)


def store_new_message(
    engine: Engine,
    c: Classified,
    installation: Installation,
    grouping_minutes: float,
    *,
    event_id: str,
    event: dict[str, Any],
) -> tuple[str, int, str] | None:
    """Open or join a request for a new customer message, with its event, in one statement.

    Returns (outcome, request id, job id), as `workers.ingest._open_or_join` does; None when the
    event id or the message's (channel, ts) was stored before: a duplicate, nothing written.
    """
    now, at = datetime.now(UTC), c.sent_at
    if c.is_reply:
        statement = _STORE_IN_THREAD
    elif grouping_minutes > 0:
        statement = _STORE_GROUPED
    else:
        statement = _STORE_NEW
    job_id = new_job_id("request", None)
    params = {
        "team_id": installation.team_id,  # the event's: None for an org-wide Grid install
        "request_team_id": installation.team_id or "",  # as `_open_or_join` stores it
        "enterprise_id": installation.enterprise_id,
        "channel_id": c.channel,
        "ts": c.ts,
        "thread_ts": c.thread_ts or c.ts,
        "user_id": c.user,
        "user_team": c.user_team,
        "text": c.text,
        "files": Json({"files": c.files}) if c.files else None,
        "at": at,
        "since": at - timedelta(minutes=grouping_minutes),
        "now": now,
        "job_id": job_id,
        "event_id": event_id,
        "kind": c.kind.value,
        "reason": c.reason,
        "payload": Json(event),
        "open": RequestState.OPEN.value,
        "received": Stage.RECEIVED.value,
        "approved": DraftStatus.APPROVED.value,
    }
    pooled = engine.raw_connection()  # checked out (and pinged) as SQLAlchemy's own are
    try:
        connection = pooled.driver_connection
        assert isinstance(connection, psycopg.Connection)
        connection.autocommit = True  # no BEGIN, no COMMIT: the statement is its transaction
        try:
            row = connection.execute(statement, params).fetchone()  # type: ignore[arg-type]
        except psycopg.errors.UniqueViolation:
            return None
        finally:
            connection.autocommit = False  # as the pool hands it out
    finally:
        pooled.close()
    assert row is not None
    request_id, joined = row
    return ("joined" if joined else "opened"), request_id, job_id
