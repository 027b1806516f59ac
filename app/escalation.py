"""What a support lead's escalation decides (SPEC §6.2); nothing here calls Slack or the CRM.

`parse_escalate` reads the words of `/escalate`; `find_request` resolves a message (a
permalink, a shortcut's message) to its request; `channel_choices`, `message_choice` and
`live_choice` are the requests the modal offers; `escalate_from_command` is the whole of
`/escalate <link|P1-P4> <reason>`; `record_escalation` writes the decision in
one transaction (the request's level and reason, a reopened request, the audit entry) and
queues the job (`workers.escalation`) that opens or updates the Case, posts to
`ESCALATION_CHANNEL` and tightens the SLA. If Redis is down, the sweeper queues it later:
`requests.escalations` counts decisions and `escalations_done` what the job carried out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Request, RequestMessage, RequestState
from workers.blocks.escalation import RequestChoice
from workers.metrics import ESCALATIONS

log = structlog.get_logger(__name__)

PRIORITIES = ("P1", "P2", "P3", "P4")
DEFAULT_PRIORITY = "P2"
USAGE = (
    "Usage:\n"
    "• `/escalate`: choose one of this channel's open requests\n"
    "• `/escalate <message link> [P1-P4] <reason>`: escalate that message's request\n"
    "• `/escalate P1 <reason>`: escalate this channel's newest open request\n"
    "P1 is the most urgent; without a level, P2."
)
_PERMALINK = re.compile(
    r"^https?://[^/\s]+/archives/(?P<channel>[CGD][A-Z0-9]+)/p(?P<sec>\d{10})(?P<usec>\d{6})"
    r"(?:\?(?P<query>\S*))?$"
)
_THREAD_TS = re.compile(r"(?:^|&)thread_ts=(\d{10}\.\d{6})")


class EscalateUsageError(ValueError):
    """The words of `/escalate` do not parse; the message says what was wrong."""


@dataclass(frozen=True)
class EscalateCommand:
    """What `/escalate <text>` asks for."""

    form: str  # modal | message | newest
    priority: str = DEFAULT_PRIORITY
    reason: str = ""
    channel_id: str | None = None  # the message's, for `message`
    ts: str | None = None
    thread_ts: str | None = None


def parse_escalate(text: str) -> EscalateCommand:
    """Read the command's words; EscalateUsageError when they do not parse."""
    words = text.split()
    if not words:
        return EscalateCommand("modal")
    link = _PERMALINK.match(words[0].strip("<>").split("|", 1)[0])
    if link:
        thread = _THREAD_TS.search(link["query"] or "")
        priority, reason = _priority_and_reason(words[1:], optional=True)
        return EscalateCommand(
            "message",
            priority,
            reason,
            channel_id=link["channel"],
            ts=f"{link['sec']}.{link['usec']}",
            thread_ts=thread.group(1) if thread else None,
        )
    if words[0].upper() in PRIORITIES:
        priority, reason = _priority_and_reason(words, optional=False)
        return EscalateCommand("newest", priority, reason)
    raise EscalateUsageError(f"`{words[0][:40]}` is neither a message link nor P1-P4.")


def _priority_and_reason(words: list[str], *, optional: bool) -> tuple[str, str]:
    priority = DEFAULT_PRIORITY
    if words and words[0].upper() in PRIORITIES:
        priority, words = words[0].upper(), words[1:]
    elif not optional:
        raise EscalateUsageError("Give a level, P1 to P4.")
    reason = " ".join(words).strip()
    if not reason:
        raise EscalateUsageError("Say why: a reason is required.")
    return priority, reason[:1000]


def find_request(
    session: Session, channel_id: str, ts: str, thread_ts: str | None = None
) -> Request | None:
    """The request a message belongs to: its own, or the one whose thread it is in."""
    message = session.scalars(
        select(RequestMessage).where(
            RequestMessage.channel_id == channel_id, RequestMessage.ts == ts
        )
    ).first()
    if message is not None:
        return message.request
    roots = [ts] + ([thread_ts] if thread_ts else [])
    return session.scalars(
        select(Request)
        .where(
            Request.channel_id == channel_id,
            or_(Request.ts.in_(roots), Request.thread_ts.in_(roots)),
            Request.state != RequestState.WITHDRAWN,
        )
        .order_by(Request.id.desc())
        .limit(1)
    ).first()


def newest_open_request(session: Session, channel_id: str) -> Request | None:
    """The channel's most recent open request (`/escalate P1 <reason>`)."""
    return session.scalars(
        select(Request)
        .where(Request.channel_id == channel_id, Request.state == RequestState.OPEN)
        .order_by(Request.id.desc())
        .limit(1)
    ).first()


def open_requests(session: Session, channel_id: str, limit: int = 25) -> list[Request]:
    """The channel's open requests, newest first (the modal's choices)."""
    return list(
        session.scalars(
            select(Request)
            .where(Request.channel_id == channel_id, Request.state == RequestState.OPEN)
            .order_by(Request.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Recorded:
    """The outcome of `record_escalation`: the request and the escalation's number."""

    request_id: int | None
    number: int = 0
    message: str = ""


def record_escalation(
    deps: Deps, *, request_id: int, priority: str, reason: str, user_id: str
) -> Recorded:
    """Write the lead's decision and queue its job; a withdrawn request cannot be escalated."""
    if priority not in PRIORITIES:
        return Recorded(None, message=f"{priority} is not a level: use P1 to P4.")
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        request = session.get(Request, request_id)
        if request is None:
            return Recorded(None, message="That request no longer exists.")
        if request.state == RequestState.WITHDRAWN:
            return Recorded(None, message="The customer deleted that message; nothing to escalate.")
        session.execute(
            update(Request)
            .where(Request.id == request_id)
            .values(
                escalations=Request.escalations + 1,
                priority=priority,
                escalation_reason=reason,
                escalated_by=user_id,
                escalated_at=now,
            )
        )
        if request.state == RequestState.CLOSED:  # a lead says it does need an answer
            request.state = RequestState.OPEN
        session.flush()
        session.refresh(request)
        number = request.escalations
        session.add(
            AuditEntry(
                actor=user_id,
                action="request.escalated",
                request_id=request_id,
                detail={"priority": priority, "number": number, **fingerprint(reason=reason)},
            )
        )
    ESCALATIONS.labels(priority=priority).inc()
    log.info("request.escalated", request_id=request_id, priority=priority, number=number)
    enqueued(  # or the sweeper queues it once Redis is back
        log,
        lambda: deps.queues.enqueue_escalation(request_id),
        what="escalation",
        request_id=request_id,
    )
    return Recorded(request_id, number, f"Escalated request #{request_id} as {priority}.")


def escalate_from_command(
    deps: Deps, command: EscalateCommand, *, channel_id: str, user_id: str
) -> str:
    """`/escalate <link|P1-P4> <reason>`: find the request and record it; the lead's answer."""
    with transaction(deps.sessions) as session:
        if command.form == "newest":
            request = newest_open_request(session, channel_id)
        else:
            assert command.channel_id and command.ts
            request = find_request(session, command.channel_id, command.ts, command.thread_ts)
        request_id = request.id if request else None
    if request_id is None:
        missing = (
            "This channel has no open request."
            if command.form == "newest"
            else "That message is not a request the app tracks."
        )
        return f"{missing} Nothing was escalated."
    outcome = record_escalation(
        deps,
        request_id=request_id,
        priority=command.priority,
        reason=command.reason,
        user_id=user_id,
    )
    mark = "🚨" if outcome.request_id else "⚠️"
    return f"{mark} {outcome.message}"


def channel_choices(deps: Deps, channel_id: str) -> list[RequestChoice]:
    """The channel's open requests, as the modal offers them (`/escalate` alone)."""
    with transaction(deps.sessions) as session:
        return [request_choice(r) for r in open_requests(session, channel_id)]


def message_choice(
    deps: Deps, channel_id: str, ts: str, thread_ts: str | None
) -> RequestChoice | None:
    """The request a message belongs to, as the modal shows it (the message shortcut)."""
    with transaction(deps.sessions) as session:
        request = find_request(session, channel_id, ts, thread_ts)
        return request_choice(request) if request else None


def live_choice(deps: Deps, request_id: int) -> tuple[str, RequestChoice] | None:
    """The card's request and its channel, unless it was withdrawn (the card's button)."""
    with transaction(deps.sessions) as session:
        request = session.get(Request, request_id)
        if request is None or request.state == RequestState.WITHDRAWN:
            return None
        return request.channel_id, request_choice(request)


def request_choice(request: Request) -> RequestChoice:
    """`#12 · urgent · P1 · what it is about`, short enough for a select option."""
    what = request.summary or request.text or "(no text)"
    urgency = request.urgency or "untriaged"
    level = f" · {request.priority}" if request.priority else ""
    return RequestChoice(request.id, f"#{request.id} · {urgency}{level} · {what}"[:75])
