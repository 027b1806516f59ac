"""The open incidents as `/triage status` and App Home show them first (SPEC §6.6), read
from the store in three queries however many there are (one when none is open); no Slack
call."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.store.incident_models import (
    Incident,
    IncidentReport,
    IncidentState,
    IncidentUpdate,
)
from workers.blocks.incident_status import OpenIncident


def open_incidents(session: Session) -> list[OpenIncident]:
    """Every open incident with its accounts, reports (split ones not counted) and updates."""
    incidents = session.scalars(
        select(Incident).where(Incident.state == IncidentState.OPEN).order_by(Incident.id)
    ).all()
    if not incidents:
        return []
    ids = [incident.id for incident in incidents]
    reports = {
        incident_id: (int(count), int(accounts))
        for incident_id, count, accounts in session.execute(
            select(
                IncidentReport.incident_id,
                func.count(IncidentReport.id),
                func.count(IncidentReport.account_key.distinct()),
            )
            .where(IncidentReport.incident_id.in_(ids), IncidentReport.split_at.is_(None))
            .group_by(IncidentReport.incident_id)
        )
    }
    updates = {
        incident_id: (int(count), last)
        for incident_id, count, last in session.execute(
            select(
                IncidentUpdate.incident_id,
                func.count(IncidentUpdate.id),
                func.max(IncidentUpdate.created_at),
            )
            .where(IncidentUpdate.incident_id.in_(ids))
            .group_by(IncidentUpdate.incident_id)
        )
    }
    return [
        OpenIncident(
            number=incident.id,
            title=incident.title,
            accounts=reports.get(incident.id, (0, 0))[1],
            reports=reports.get(incident.id, (0, 0))[0],
            first_report_at=incident.first_report_at,
            deadline=incident.deadline_at,
            breached=incident.breached_at is not None,
            first_update_at=incident.first_update_at,
            updates=updates.get(incident.id, (0, None))[0],
            last_update_at=updates.get(incident.id, (0, None))[1],
            link=incident.card_permalink,
        )
        for incident in incidents
    ]


def open_incident_of(session: Session) -> dict[int, int]:
    """Request id -> the open incident it is a report of (not split out): its first-response
    clock is paused while the incident is open, so it is neither near breach nor breached."""
    rows = session.execute(
        select(IncidentReport.request_id, IncidentReport.incident_id)
        .join(Incident, Incident.id == IncidentReport.incident_id)
        .where(IncidentReport.split_at.is_(None), Incident.state == IncidentState.OPEN)
    )
    return {request_id: incident_id for request_id, incident_id in rows}
