"""The system of record (SPEC §7): SQLAlchemy 2 models.

Exactly-once rests on unique constraints here, not on Redis: an event id is stored once, a
(channel, ts) opens one request, and every Slack side effect that must happen once (the card,
the reply in the customer's thread) is an `OutboxMessage` row with a unique `dedupe_key`.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from integrations.store.audit import refuse_text


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite hands back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


def _request_id(ondelete: str) -> Any:
    """A foreign key to the request, indexed: PostgreSQL does not index foreign keys itself."""
    return mapped_column(ForeignKey("requests.id", ondelete=ondelete), index=True)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings so migrations never need ALTER TYPE.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class EventKind(enum.StrEnum):
    CUSTOMER = "customer"
    RESPONSE = "response"
    IGNORED = "ignored"
    REACTION = "reaction"  # 👍/👎 feedback, applied by workers.feedback


class RequestState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"  # rejected, or triaged as needing no reply
    WITHDRAWN = "withdrawn"  # the customer deleted the message


class Stage(enum.StrEnum):
    """How far the pipeline got; a job resumes from here after a crash."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    CONTEXT = "context"
    DRAFTED = "drafted"
    SUGGESTED = "suggested"
    DONE = "done"


class DraftStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    AUTO_SENT = "auto_sent"  # posted without approval: AUTO_SEND allowed it (workers.auto_send)


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class SlackEvent(Base):
    """Every event Slack delivered, stored before it is acknowledged."""

    __tablename__ = "slack_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[str | None] = mapped_column(String(32))  # the installation it came through
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    reason: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[int | None] = _request_id("SET NULL")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Request(Base):
    """A customer's question: one or more messages, triaged, drafted and answered."""

    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("channel_id", "ts", name="uq_requests_channel_ts"),
        Index("ix_requests_pending", "stage", "state"),
        Index("ix_requests_thread", "channel_id", "thread_ts"),  # a thread's requests
        # An account's requests, and its recent ones (health) without reading its whole history
        Index("ix_requests_account_recent", "account_key", "last_message_at"),
        # The requests still open or withdrawn, of a long history: a person's load, the queue,
        # the sweeper's unfinished work
        Index(
            "ix_requests_live",
            "id",
            postgresql_where=text("state IN ('open', 'withdrawn')"),
            sqlite_where=text("state IN ('open', 'withdrawn')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))  # the first message
    thread_ts: Mapped[str] = mapped_column(String(32))  # where the answer goes
    user_id: Mapped[str] = mapped_column(String(32))
    user_team: Mapped[str | None] = mapped_column(String(32))
    # The tenant whose past answers may ground this request's drafts: `account:<id>` when the
    # channel is linked to an account, else `channel:<id>` (see workers/retrieval.Scope).
    account_key: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[RequestState] = mapped_column(_enum(RequestState), default=RequestState.OPEN)
    stage: Mapped[Stage] = mapped_column(_enum(Stage), default=Stage.RECEIVED)
    # Bumped by ingest whenever the customer's words change; the pipeline redoes the draft and
    # the card until it has processed the latest revision.
    revision: Mapped[int] = mapped_column(default=1)
    processed_revision: Mapped[int] = mapped_column(default=0)

    category: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    needs_reply: Mapped[bool | None]
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    suggestions: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    permalink: Mapped[str | None] = mapped_column(Text)
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))

    # Delivery bookkeeping: who works on it, and whether a job for it is queued.
    job_id: Mapped[str | None] = mapped_column(String(64))
    enqueued_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(32))  # a colleague, or the approver
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Escalation (SPEC §6.2): the latest level and why; `escalations` counts them, and
    # `escalations_done` how many the escalation job has carried out (Case, post, SLA).
    priority: Mapped[str | None] = mapped_column(String(4))
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    escalated_by: Mapped[str | None] = mapped_column(String(32))
    escalated_at: Mapped[datetime | None]
    escalations: Mapped[int] = mapped_column(default=0, server_default="0")
    escalations_done: Mapped[int] = mapped_column(default=0, server_default="0")
    case_id: Mapped[str | None] = mapped_column(String(32))  # the Salesforce Case it opened
    escalation_ts: Mapped[str | None] = mapped_column(String(32))  # its post's ts

    messages: Mapped[list[RequestMessage]] = relationship(
        back_populates="request", order_by="RequestMessage.ts", cascade="all, delete-orphan"
    )
    drafts: Mapped[list[Draft]] = relationship(
        back_populates="request", order_by="Draft.id", cascade="all, delete-orphan"
    )
    sla_clock: Mapped[SlaClock | None] = relationship(viewonly=True)

    @property
    def text(self) -> str:
        """The customer's words, all messages of the request in order."""
        return "\n".join(m.text for m in self.messages if m.text)

    @property
    def current_draft(self) -> Draft | None:
        live = [d for d in self.drafts if d.status != DraftStatus.SUPERSEDED]
        return live[-1] if live else None


class RequestMessage(Base):
    """One customer message belonging to a request (the first, grouped ones, thread replies)."""

    __tablename__ = "request_messages"
    __table_args__ = (UniqueConstraint("channel_id", "ts", name="uq_request_messages_channel_ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[int] = _request_id("CASCADE")
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[Request] = relationship(back_populates="messages")


class Draft(Base):
    """A suggested reply; only a person's approval sends it."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[int] = _request_id("CASCADE")
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # openai | offline | unavailable
    note: Mapped[str] = mapped_column(Text, default="")  # what the card must say about it
    # confidence, needs_expert, sources, flags, what was masked, the model; feedback counts.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[DraftStatus] = mapped_column(_enum(DraftStatus), default=DraftStatus.PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    posted_text: Mapped[str | None] = mapped_column(Text)  # differs from text when edited
    # At approval: the share of the draft's words the approver changed (0 sent as is, 1 all
    # rewritten; workers/edit_distance.py). A number, so it outlives retention's purge of
    # the texts; None for a draft never approved, or approved before it was recorded.
    edit_distance: Mapped[float | None]
    posted_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[Request] = relationship(back_populates="drafts")


class OutboxMessage(Base):
    """A Slack message that must be posted exactly once.

    The row is written in the same transaction as the decision that causes it; a worker
    leases it, posts with `metadata.outbox_id`, and records the ts. After a crash the next
    lease holder looks for that metadata in the channel before posting again.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # card | reply
    request_id: Mapped[int | None] = _request_id("CASCADE")
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # chat.postMessage arguments
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState), default=OutboxState.PENDING)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]
    result_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Append-only record of every decision and message sent to a customer: never text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # a Slack user id, or "system"
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int | None] = _request_id("SET NULL")
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @validates("detail")
    def _holds_no_text(self, _key: str, detail: dict[str, Any]) -> dict[str, Any] | None:
        return refuse_text(detail)


class ChannelLink(Base):
    """An explicit channel → account link (`triage link`, `/triage link`).

    It wins over the account's channel field (`SALESFORCE_CHANNEL_FIELD`): an admin's link is
    how a channel whose account has no such field, or the wrong one, gets its context.
    """

    __tablename__ = "channel_links"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(255), default="")
    linked_by: Mapped[str] = mapped_column(String(64))  # a Slack user id, or "cli"
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaClock(Base):
    """A request's first-response clock (SPEC §6.3), counted in business hours.

    The database is the clock: RQ's scheduler only wakes a worker at `remind_at` and
    `deadline_at`, and the sweeper fires whatever is due if a scheduled job was lost. Each
    of `reminded_at`, `breached_at` and `stopped_at` is set once, by a conditional UPDATE.
    """

    __tablename__ = "sla_clocks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), unique=True
    )
    tier: Mapped[str | None] = mapped_column(String(64))
    minutes: Mapped[float]  # the business-minute target the deadline was counted from
    business_hours: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    remind_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    stopped_by: Mapped[str | None] = mapped_column(String(32))
    tightened_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evidence(Base):
    """Who answered a customer's question, on what text, and how it was received (SPEC §6.4).

    One row per (source, person): `request:<id>` for live requests (a colleague's reply in the
    thread, the approver of a posted draft, or a pull-in waiting for its answer) and
    `thread:<channel>:<ts>` for past threads read by `triage backfill`, so learning the same
    answer twice changes nothing. `share` is the person's part of the answer (1.0 for one
    answerer); an unanswered pull-in (`answered` false) is no expertise yet.
    """

    __tablename__ = "expertise_evidence"
    __table_args__ = (
        UniqueConstraint("source_key", "user_id", name="uq_expertise_evidence_source_user"),
        Index(  # pull-ins waiting for an answer (a person's load), not the whole history
            "ix_expertise_evidence_waiting",
            "request_id",
            postgresql_where=text("NOT answered"),
            sqlite_where=text("NOT answered"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | approval | history | pull_in
    channel_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[int | None] = _request_id("SET NULL")
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), index=True
    )
    question: Mapped[str] = mapped_column(Text, default="")  # the customer's words
    answer: Mapped[str] = mapped_column(Text, default="")  # the person's own reply
    share: Mapped[float] = mapped_column(default=1.0)
    answered: Mapped[bool] = mapped_column(default=True)
    pulled_in_by: Mapped[str | None] = mapped_column(String(32))
    up: Mapped[int] = mapped_column(default=0)  # reactions seen in history (live: the draft's)
    down: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[bool] = mapped_column(default=False)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
