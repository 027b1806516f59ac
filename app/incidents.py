"""What a person's click on an incident decides (SPEC §6.6): an update for every affected
customer, the closing update, a report split out, the latest update sent to a late report.

Each decision is written in one transaction with the outbox rows it causes (one per affected
thread, `incident-update:<update>:<request>`, unique), then the delivery jobs post them; the
sweeper delivers any whose job was lost. A resolve is a conditional UPDATE (`WHERE state =
'open'`): of two closing updates, one wins. Nothing here calls Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.incident_models import (
    Incident,
    IncidentReport,
    IncidentState,
    IncidentUpdate,
)
from integrations.store.models import AuditEntry, OutboxMessage, Request, RequestState
from workers.incident_draft import offered
from workers.incident_updates import KIND, update_key
from workers.incidents import after_change

log = structlog.get_logger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    RESOLVED = "resolved"
    NOT_FOUND = "not_found"
    EMPTY = "empty"
    ALREADY = "already"


MESSAGES = {
    Outcome.RESOLVED: "This incident is resolved already; nothing was sent.",
    Outcome.NOT_FOUND: "This card no longer matches a stored incident; nothing was sent.",
    Outcome.EMPTY: "The update cannot be empty.",
    Outcome.ALREADY: "That was done already; nothing changed.",
}


@dataclass(frozen=True)
class Prefill:
    """What the update modal opens with: the drafted text and how many threads it reaches."""

    text: str
    threads: int


def prefill(deps: Deps, incident_id: int, kind: str) -> Prefill | None:
    """The drafted update for the modal (`workers.incident_draft`: the model's, or the
    template); None when the incident is gone or resolved."""
    with transaction(deps.sessions) as session:
        incident = session.get(Incident, incident_id)
        if incident is None or incident.state != IncidentState.OPEN:
            return None
        threads = len(_active_requests(session, incident_id))
        signatures = list(incident.signatures or [])
    return Prefill(offered(deps, incident_id, signatures, kind), threads)


def send_update(deps: Deps, *, incident_id: int, kind: str, text: str, user_id: str) -> Outcome:
    """The update (or, `kind` resolve, the closing update) to every affected thread, once."""
    text = text.strip()
    if not text:
        return Outcome.EMPTY
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return Outcome.NOT_FOUND
        if kind == "resolve":
            won = session.execute(
                update(Incident)
                .where(Incident.id == incident_id, Incident.state == IncidentState.OPEN)
                .values(state=IncidentState.RESOLVED, resolved_at=now, resolved_by=user_id)
            ).rowcount  # type: ignore[attr-defined]
            if not won:
                return Outcome.RESOLVED
        elif incident.state != IncidentState.OPEN:
            return Outcome.RESOLVED
        row = IncidentUpdate(incident_id=incident_id, kind=kind, text=text, by=user_id)
        session.add(row)
        session.flush()
        requests = _active_requests(session, incident_id)
        outbox = [_outbox(session, row.id, request) for request in requests]
        if incident.first_update_at is None:
            incident.first_update_at = now
        session.add(
            AuditEntry(
                actor=user_id,
                action=f"incident.{kind}_approved",
                detail={"incident": incident_id, "update": row.id, "threads": len(requests)}
                | fingerprint(text=text),
            )
        )
    log.info("incident.update_approved", incident_id=incident_id, kind=kind, threads=len(outbox))
    _deliver(deps, outbox)
    after_change(deps, incident_id, [r.id for r in requests])
    return Outcome.DONE


def send_latest(deps: Deps, *, update_id: int, request_id: int, user_id: str) -> Outcome:
    """A report that joined after the latest update gets it too (the card's one click)."""
    with transaction(deps.sessions) as session:
        row = session.get(IncidentUpdate, update_id)
        request = session.get(Request, request_id)
        if row is None or request is None:
            return Outcome.NOT_FOUND
        report = _report(session, request_id)
        if report is None or report.incident_id != row.incident_id or report.split_at:
            return Outcome.NOT_FOUND
        if session.get_one(Incident, row.incident_id).state != IncidentState.OPEN:
            return Outcome.RESOLVED
        key = update_key(update_id, request_id)
        if session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first():
            return Outcome.ALREADY
        outbox = [_outbox(session, update_id, request)]
        session.add(
            AuditEntry(
                actor=user_id,
                action="incident.update_sent_late",
                request_id=request_id,
                detail={"incident": row.incident_id, "update": update_id},
            )
        )
    _deliver(deps, outbox)
    return Outcome.DONE


def split(deps: Deps, *, request_id: int, user_id: str) -> Outcome:
    """Take a report out of its incident: it gets its own clock back, and is never grouped
    again."""
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        report = _report(session, request_id)
        if report is None:
            return Outcome.NOT_FOUND
        won = session.execute(
            update(IncidentReport)
            .where(IncidentReport.id == report.id, IncidentReport.split_at.is_(None))
            .values(split_at=now, split_by=user_id)
        ).rowcount  # type: ignore[attr-defined]
        if not won:
            return Outcome.ALREADY
        incident_id = report.incident_id
        session.add(
            AuditEntry(
                actor=user_id,
                action="incident.split",
                request_id=request_id,
                detail={"incident": incident_id},
            )
        )
    log.info("incident.split", incident_id=incident_id, request_id=request_id)
    after_change(deps, incident_id, [request_id])
    return Outcome.DONE


def _active_requests(session: Session, incident_id: int) -> list[Request]:
    """The affected requests an update goes to: not split out, not withdrawn."""
    return list(
        session.scalars(
            select(Request)
            .join(IncidentReport, IncidentReport.request_id == Request.id)
            .where(
                IncidentReport.incident_id == incident_id,
                IncidentReport.split_at.is_(None),
                Request.state != RequestState.WITHDRAWN,
            )
            .order_by(Request.id)
        )
    )


def _report(session: Session, request_id: int) -> IncidentReport | None:
    return session.scalars(
        select(IncidentReport).where(IncidentReport.request_id == request_id)
    ).first()


def _outbox(session: Session, update_id: int, request: Request) -> int:
    row = OutboxMessage(
        dedupe_key=update_key(update_id, request.id),
        kind=KIND,
        request_id=request.id,
        channel_id=request.channel_id,
        thread_ts=request.thread_ts,
        body={"text": session.get_one(IncidentUpdate, update_id).text},
        enqueued_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row.id


def _deliver(deps: Deps, outbox: list[int]) -> None:
    for outbox_id in outbox:
        if not enqueued(
            log,
            lambda o=outbox_id: deps.queues.enqueue_delivery(o),  # type: ignore[misc]
            what="delivery",
            outbox_id=outbox_id,
        ):
            with transaction(deps.sessions) as session:  # the sweeper delivers it
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id)
                    .values(enqueued_at=None)
                )
