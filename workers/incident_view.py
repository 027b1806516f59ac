"""What the incident card and a joined request's card show, read from the store (SPEC §6.6)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.store.incident_models import (
    Incident,
    IncidentReport,
    IncidentState,
    IncidentUpdate,
)
from integrations.store.models import OutboxMessage, Request, RequestState, SlaClock
from workers.blocks.incident import IncidentMark, IncidentView, ReportLine
from workers.incident_updates import update_key
from workers.stage_data import request_context


def incident_view(session: Session, incident_id: int) -> IncidentView:
    incident = session.get_one(Incident, incident_id)
    rows = session.execute(
        select(IncidentReport, Request)
        .join(Request, Request.id == IncidentReport.request_id)
        .where(
            IncidentReport.incident_id == incident_id,
            IncidentReport.split_at.is_(None),
            Request.state != RequestState.WITHDRAWN,  # the customer deleted it
        )
        .order_by(Request.created_at)
    ).all()
    updates = session.execute(
        select(func.count(IncidentUpdate.id), func.max(IncidentUpdate.created_at)).where(
            IncidentUpdate.incident_id == incident_id
        )
    ).one()
    return IncidentView(
        number=incident.id,
        state=incident.state.value,
        title=incident.title,
        signatures=list(incident.signatures or []),
        first_report_at=incident.first_report_at,
        deadline=incident.deadline_at,
        tier=incident.tier,
        breached=incident.breached_at is not None,
        reports=[_line(report, request) for report, request in rows],
        updates=int(updates[0] or 0),
        last_update_at=updates[1],
        resolved_by=incident.resolved_by,
        parent_case_id=incident.parent_case_id,
    )


def _line(report: IncidentReport, request: Request) -> ReportLine:
    context = request_context(request)
    account = context.account if context is not None else None
    name = account.name if account is not None and account.name else f"<#{request.channel_id}>"
    return ReportLine(
        request_id=request.id,
        account=name,
        tier=account.tier if account is not None else None,
        renewal=account.renewal_date if account is not None else None,
        open_cases=len(account.open_cases) if account is not None else None,
        channel_id=request.channel_id,
        permalink=request.permalink,
        at=request.created_at,
    )


def incident_mark(session: Session, request_id: int) -> IncidentMark | None:
    """The request's incident as its card shows it; None when it is in none (or split out)."""
    found = session.execute(
        select(Incident)
        .join(IncidentReport, IncidentReport.incident_id == Incident.id)
        .where(IncidentReport.request_id == request_id, IncidentReport.split_at.is_(None))
    ).scalar_one_or_none()
    if found is None:
        return None
    latest = session.scalars(
        select(IncidentUpdate.id)
        .where(IncidentUpdate.incident_id == found.id, IncidentUpdate.kind == "update")
        .order_by(IncidentUpdate.id.desc())
        .limit(1)
    ).first()
    unsent = None
    if latest is not None and found.state == IncidentState.OPEN:
        key = update_key(latest, request_id)
        sent = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
        ).first()
        unsent = latest if sent is None else None
    running = session.scalars(
        select(SlaClock.id).where(SlaClock.request_id == request_id, SlaClock.stopped_at.is_(None))
    ).first()
    return IncidentMark(
        number=found.id,
        permalink=found.card_permalink,
        state=found.state.value,
        unsent_update_id=unsent,
        paused=running is not None,
    )
