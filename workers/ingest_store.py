"""The rows ingest writes for a new customer message (SPEC §5.1), on every database.

A new message opens a request, or joins the open one it follows (its thread's, or the same
person's recent top-level request: GROUPING_MINUTES); then its message row and its event row
are written. Each of those statements is written once here, in SQLAlchemy Core, and
`open_or_join` runs them in the one way each database allows:

- PostgreSQL: one data-modifying CTE (find and lock the request to join, UPDATE it or INSERT a
  new one, INSERT the message, INSERT the event). One round trip, atomic as any statement is;
  `store_new_message` runs it in autocommit, so there is no BEGIN or COMMIT either. This is the
  ack's hot path (bench/ingest.py, bench/RESULTS.md).
- SQLite (the demo's database), which allows no INSERT or UPDATE inside WITH: the same
  statements one after another, in the caller's transaction.

A message or an event id stored before fails a unique constraint (IntegrityError) and, the
statement or the transaction being atomic, writes nothing: Slack's retries and the same message
under another event id end in one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    false,
    insert,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert, ReturningInsert, ReturningUpdate
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import JSON

from integrations.queues import new_job_id
from integrations.store.models import (
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from workers.classify import Classified, Installation

_REQUESTS = cast(Table, Request.__table__)
_MESSAGES = cast(Table, RequestMessage.__table__)
_EVENTS = cast(Table, SlackEvent.__table__)
_r = _REQUESTS.c


@dataclass(frozen=True)
class EventRow:
    """A Slack event as `slack_events` keeps it: stored with what it caused, before the ack."""

    event_id: str
    installation: Installation
    classified: Classified
    payload: dict[str, Any] | None

    def params(self, request_id: int | None = None) -> dict[str, Any]:
        """The bound values of `INSERT_EVENT` (and of the one statement's event part)."""
        c = self.classified
        return {
            "event_id": self.event_id,
            "event_team": self.installation.team_id,  # None for an org-wide Grid install
            "enterprise": self.installation.enterprise_id,
            "channel": c.channel,
            "message_ts": c.ts,
            "kind": c.kind,
            "reason": c.reason,
            "payload": self.payload,
            "request_id": request_id,
            "now": datetime.now(UTC),
        }


def _param(name: str, column: Any) -> Any:
    """A bound value typed as the column it is written to (a SELECT list has no column).

    Named after none of the requests table's columns: SQLAlchemy adds a parameter named
    like a column to an UPDATE's SET, which would rewrite the request joined."""
    return bindparam(name, type_=column.type)


_NOW = _param("now", _r.created_at)
_AT = _param("at", _r.last_message_at)  # when the message was sent


# The request a new message joins, locked for the rest of the statement or transaction: the
# thread's open one, or the one an automatic answer closed (the customer wrote again: it is
# handed to a person, SPEC §6.7).
THREAD_REQUEST = (
    select(_r.id)
    .where(_r.channel_id == _param("channel", _r.channel_id))
    .where(_r.thread_ts == _param("thread", _r.thread_ts))
    .where(
        or_(
            _r.state == RequestState.OPEN,
            and_(
                _r.state == RequestState.ANSWERED,
                exists().where(Draft.request_id == _r.id, Draft.status == DraftStatus.AUTO_SENT),
            ),
        )
    )
    .order_by(_r.id.desc())
    .limit(1)
    .with_for_update()
)
# The same person's unanswered top-level request in this channel, recent enough to join.
_GROUPABLE_REQUEST = (
    select(_r.id)
    .where(_r.channel_id == _param("channel", _r.channel_id))
    .where(_r.user_id == _param("author", _r.user_id))
    .where(_r.thread_ts == _r.ts)
    .where(_r.last_message_at >= _param("since", _r.last_message_at))
    .where(_r.state == RequestState.OPEN)
    .where(~exists().where(Draft.request_id == _r.id, Draft.status == DraftStatus.APPROVED))
    .order_by(_r.id.desc())
    .limit(1)
    .with_for_update()
)
_LOOKUPS: dict[str, Select[int] | None] = {
    "thread": THREAD_REQUEST,
    "grouped": _GROUPABLE_REQUEST,
    "new": None,  # GROUPING_MINUTES is 0 and it is no reply: nothing to join
}


def _join(request_id: ColumnElement[Any]) -> ReturningUpdate[int]:
    """Add the message to an open request: a new revision, and a fresh job for the pipeline."""
    return (
        update(_REQUESTS)
        .where(_r.id == request_id)
        .values(
            revision=_r.revision + 1,
            last_message_at=case((_r.last_message_at < _AT, _AT), else_=_r.last_message_at),
            job_id=_param("job", _r.job_id),
            enqueued_at=_NOW,
            updated_at=_NOW,
        )
        .returning(_r.id)
    )


_OPENED = {  # a new request's values; the model's defaults (open, received, revision 1) the rest
    "team_id": _param("team", _r.team_id),
    "enterprise_id": _param("enterprise", _r.enterprise_id),
    "channel_id": _param("channel", _r.channel_id),
    "ts": _param("message_ts", _r.ts),
    "thread_ts": _param("thread", _r.thread_ts),
    "user_id": _param("author", _r.user_id),
    "user_team": _param("author_team", _r.user_team),
    "last_message_at": _AT,
    "job_id": _param("job", _r.job_id),
    "enqueued_at": _NOW,
    "created_at": _NOW,
    "updated_at": _NOW,
}


def _open(only_if: ColumnElement[bool] | None) -> ReturningInsert[int]:
    """Open a request for the message (when `only_if` holds)."""
    values = select(*_OPENED.values())
    if only_if is not None:
        values = values.where(only_if)
    return insert(_REQUESTS).from_select(list(_OPENED), values).returning(_r.id)


_m, _e = _MESSAGES.c, _EVENTS.c
_MESSAGE_ROW = {  # the message's row, after its request's id
    "channel_id": _param("channel", _m.channel_id),
    "ts": _param("message_ts", _m.ts),
    "user_id": _param("author", _m.user_id),
    "text": _param("text", _m.text),
    "files": bindparam("files", type_=JSON(none_as_null=True)),  # no files: SQL NULL
    "created_at": _NOW,
}
_EVENT_ROW = {  # the event's row (`EventRow.params`), after its request's id
    "event_id": _param("event_id", _e.event_id),
    "team_id": _param("event_team", _e.team_id),
    "enterprise_id": _param("enterprise", _e.enterprise_id),
    "channel_id": _param("channel", _e.channel_id),
    "ts": _param("message_ts", _e.ts),
    "kind": _param("kind", _e.kind),
    "reason": _param("reason", _e.reason),
    "payload": bindparam("payload", type_=JSON(none_as_null=True)),
    "received_at": _NOW,
}


def _add(table: Table, row: dict[str, Any], request: Select[Any]) -> Insert:
    """Insert `row` (column: value) into `table`, pointing at the request `request` selects."""
    values = request.add_columns(*row.values())
    return insert(table).from_select(["request_id", *row], values)


# Statement by statement (SQLite): the request's id is a bound value.
_REQUEST_ID = bindparam("request_id", type_=BigInteger)
_JOIN = _join(_REQUEST_ID)
_OPEN = _open(None)
_ADD_MESSAGE = _add(_MESSAGES, _MESSAGE_ROW, select(_REQUEST_ID))
INSERT_EVENT = _add(_EVENTS, _EVENT_ROW, select(_REQUEST_ID))  # also for events opening none


def _in_one_statement(lookup: Select[int] | None, with_event: bool) -> ReturningInsert[Any]:
    """The same statements as CTEs of one (PostgreSQL): RETURNING the request and whether
    the message joined it."""
    if lookup is None:
        opened = _open(None).cte("opened")
        request = select(opened.c.id, false().label("joined")).cte("request")
    else:
        target = lookup.cte("target")
        joined = _join(select(target.c.id).scalar_subquery()).cte("joined")
        opened = _open(~exists(select(target.c.id))).cte("opened")
        request = union_all(
            select(joined.c.id, true().label("joined")),
            select(opened.c.id, false().label("joined")),
        ).cte("request")
    message = _add(_MESSAGES, _MESSAGE_ROW, select(request.c.id))
    joined_flag = select(request.c.joined).scalar_subquery().label("joined")
    if not with_event:
        return message.returning(_MESSAGES.c.request_id, joined_flag)
    event = _add(_EVENTS, _EVENT_ROW, select(request.c.id)).add_cte(message.cte("message"))
    return event.returning(_EVENTS.c.request_id, joined_flag)


# Built once, so SQLAlchemy compiles each once.
_ONE_STATEMENT = {
    (name, with_event): _in_one_statement(lookup, with_event)
    for name, lookup in _LOOKUPS.items()
    for with_event in (True, False)
}


def open_or_join(
    connection: Connection,
    c: Classified,
    installation: Installation,
    grouping_minutes: float,
    event: EventRow | None = None,
) -> tuple[str, int, str]:
    """Open a request for a new customer message or join it to its open request; store the
    message, and `event` if given. Returns ("opened" or "joined", request id, job id).

    The request is stored with a fresh job id; the caller queues its pipeline job after commit.
    Raises IntegrityError when the message (channel, ts) or the event id was stored before.
    """
    now, at = datetime.now(UTC), c.sent_at
    job_id = new_job_id("request", None)
    lookup = "thread" if c.is_reply else "grouped" if grouping_minutes > 0 else "new"
    params: dict[str, Any] = {
        **(event.params() if event else {}),
        "team": installation.team_id or "",
        "enterprise": installation.enterprise_id,
        "channel": c.channel,
        "message_ts": c.ts,
        "thread": c.thread_ts or c.ts,
        "author": c.user,
        "author_team": c.user_team,
        "text": c.text,
        "files": {"files": c.files} if c.files else None,
        "at": at,
        "since": at - timedelta(minutes=grouping_minutes),
        "now": now,
        "job": job_id,
    }
    if connection.dialect.name == "postgresql":
        stored, joined = connection.execute(_ONE_STATEMENT[lookup, event is not None], params).one()
        return ("joined" if joined else "opened"), stored, job_id
    # Elsewhere (SQLite): the same statements one by one, in the caller's transaction.
    query = _LOOKUPS[lookup]
    target = connection.execute(query, params).scalar() if query is not None else None
    if target is None:
        outcome, opening = "opened", connection.execute(_OPEN, params)
    else:
        outcome, opening = "joined", connection.execute(_JOIN, {**params, "request_id": target})
    request_id: int = opening.scalar_one()
    params["request_id"] = request_id
    connection.execute(_ADD_MESSAGE, params)
    if event is not None:
        connection.execute(INSERT_EVENT, params)
    return outcome, request_id, job_id


def store_new_message(
    engine: Engine,
    c: Classified,
    installation: Installation,
    grouping_minutes: float,
    event: EventRow,
) -> tuple[str, int, str] | None:
    """`open_or_join` with its event, committed; None when it was stored before (a duplicate).

    On PostgreSQL in autocommit: its one statement is its own transaction, so no BEGIN or
    COMMIT goes to the server."""
    try:
        if engine.dialect.name == "postgresql":
            autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with autocommit as connection:
                return open_or_join(connection, c, installation, grouping_minutes, event)
        with engine.begin() as connection:
            return open_or_join(connection, c, installation, grouping_minutes, event)
    except IntegrityError:
        return None
