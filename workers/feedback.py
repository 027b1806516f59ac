"""Feedback (SPEC §6.1): 👍/👎 on an answer the app posted, from customers and colleagues.

State per answer lives in `drafts.details`: `feedback_by` (who gave which thumb) and `feedback`
(the counts that retrieval weighs: 👍 raise an answer as a grounding example, any 👎 removes
it). Every change is also an audit entry, with who, when and whether a customer or a
colleague. A person's latest event decides, so a 👍 added and removed counts zero however the
two jobs are ordered, and the same 👍 twice counts once. A new 👎 tells the approver, once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    EventKind,
    OutboxMessage,
    Request,
    SlackEvent,
)
from workers.auto_send_flow import after_hand_back, hand_back
from workers.metrics import FEEDBACK
from workers.outbox_rows import deliver_soon
from workers.reaction_requests import act_on
from workers.reactions import ASKS, PENDING, feedback_value, reaction_name
from workers.reconcile import installation_of
from workers.stage_data import Feedback, draft_details, stored

log = structlog.get_logger(__name__)


def record_feedback(deps: Deps, *, event_row_id: int) -> str:
    """RQ job: apply one stored reaction event."""
    return apply_feedback(deps, event_row_id)


def apply_feedback(deps: Deps, event_row_id: int) -> str:
    """Apply a stored reaction; returns what happened (for logs and tests)."""
    with transaction(deps.sessions) as session:
        row = session.get(SlackEvent, event_row_id)
        if row is None or row.reason != PENDING or not row.payload:
            return "done already"
        event = dict(row.payload)
        slack = deps.slack_for(row.team_id, row.enterprise_id)  # the event's workspace
    organisation = deps.slack_clients.organisation()
    item = event.get("item") or {}
    value, user = feedback_value(str(event.get("reaction", ""))), str(event.get("user", ""))
    if reaction_name(str(event.get("reaction", ""))) in ASKS:
        outcome = act_on(deps, slack, event, _source(slack, user, organisation) == "internal")
        _settle(deps, event_row_id, outcome)
        return outcome
    answer = _answer(deps, item.get("channel"), item.get("ts"))
    if answer is None or value is None:
        _settle(deps, event_row_id, "not an answer the app posted")
        return "not an answer"
    source = _source(slack, user, organisation)  # users.info: never inside the transaction
    with transaction(deps.sessions) as session:
        row = session.get(SlackEvent, event_row_id, with_for_update=True)
        if row is None or row.reason != PENDING:
            return "done already"
        row.reason = "applied"
        present = _latest_says_present(session, row, user, value)
        draft = session.get_one(Draft, answer, with_for_update=True)
        changed = _set(draft, value, user, present)
        if changed:
            session.add(
                AuditEntry(
                    actor=user,
                    action="feedback.added" if present else "feedback.removed",
                    request_id=draft.request_id,
                    draft_id=draft.id,
                    detail={"value": value, "source": source},
                )
            )
        thumbs_down = changed and present and value == "down"
        # A 👎 on an automatic answer hands the request to a person (SPEC §6.7); the card
        # says so. On an approved reply, the approver is told.
        handed = (
            hand_back(session, draft.request, f"<@{user}> gave the automatic answer a 👎")
            if thumbs_down
            else None
        )
        automatic = draft_details(draft).auto_sent is not None
        notice = _notice(session, draft, user) if thumbs_down and not automatic else None
    if handed is not None:
        after_hand_back(deps, handed)
    if changed and present:
        FEEDBACK.labels(value=value, source=source).inc()
    if notice is not None:
        deliver_soon(deps, notice)
    log.info("feedback.applied", draft_id=answer, value=value, present=present, changed=changed)
    return "changed" if changed else "unchanged"


def _answer(deps: Deps, channel: Any, ts: Any) -> int | None:
    with transaction(deps.sessions) as session:
        return session.scalars(
            select(Draft.id)
            .join(Request, Request.id == Draft.request_id)
            .where(Request.channel_id == channel, Draft.posted_ts == ts)
        ).first()


def _settle(deps: Deps, event_row_id: int, reason: str) -> None:
    with transaction(deps.sessions) as session:
        row = session.get(SlackEvent, event_row_id)
        if row is not None and row.reason == PENDING:
            row.reason = reason


def _source(slack: WebClient, user: str, organisation: frozenset[str]) -> str:
    """ "customer" or "internal": is the person of the installing organisation?"""
    info = slack.users_info(user=user)["user"]
    team = info.get("team_id") or (info.get("profile") or {}).get("team")
    enterprise = (info.get("enterprise_user") or {}).get("enterprise_id")
    ours = installation_of(slack, organisation)
    return "internal" if ours.includes(team, enterprise) else "customer"


def _latest_says_present(session: Session, row: SlackEvent, user: str, value: str) -> bool:
    """Whether this person's most recent event for this thumb on this message is an add."""
    events = session.scalars(
        select(SlackEvent.payload).where(
            SlackEvent.kind == EventKind.REACTION,
            SlackEvent.channel_id == row.channel_id,
            SlackEvent.ts == row.ts,
        )
    ).all()
    mine = [
        e
        for e in events
        if e and e.get("user") == user and feedback_value(str(e.get("reaction", ""))) == value
    ]
    latest = max(mine, key=lambda e: float(e.get("event_ts") or 0))
    return bool(latest.get("type") == "reaction_added")


def _set(draft: Draft, value: str, user: str, present: bool) -> bool:
    details = draft_details(draft)
    given = {k: set(v) for k, v in details.feedback_by.items()}
    people = given.setdefault(value, set())
    if (user in people) == present:
        return False
    people.add(user) if present else people.discard(user)
    details.feedback_by = {k: sorted(v) for k, v in given.items()}
    details.feedback = Feedback(up=len(given.get("up", ())), down=len(given.get("down", ())))
    draft.details = stored(details)  # a new dict, so the ORM writes it
    return True


def _notice(session: Session, draft: Draft, user: str) -> int | None:
    """A message in the card's thread telling the approver about a 👎 (once per person)."""
    request = session.get_one(Request, draft.request_id)
    if not request.card_ts or not request.card_channel:
        return None
    approver = f"<@{draft.decided_by}>" if draft.decided_by else "The approver"
    key = f"feedback-down:{draft.id}:{user}"
    if session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first():
        return None
    row = OutboxMessage(
        dedupe_key=key,
        kind="notice",
        request_id=request.id,
        draft_id=draft.id,
        channel_id=request.card_channel,
        thread_ts=request.card_ts,
        body={
            "text": f"👎 {approver}: <@{user}> gave a thumbs down to the reply you approved "
            f"in <#{request.channel_id}>. It will no longer be used as an example."
        },
        enqueued_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row.id
