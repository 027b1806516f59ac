"""The period's incidents for `triage report` and App Home's week (SPEC §6.6): how many formed,
how many reports they absorbed (requests answered once, through the incident, instead of one
by one), and how long customers waited from the first report to the first update.

Read from the store only. An incident belongs to the period its first report is in. A report
split out of an incident was not absorbed, and is not counted. The first update is the first
one a person approved (`Incident.first_update_at`; the closing update counts when it was the
first); an incident with none yet is counted apart, never as a time of zero.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.incident_models import Incident, IncidentReport, IncidentState
from integrations.store.models import AuditEntry, Request


@dataclass(frozen=True)
class IncidentRow:
    """One incident of the period, as the report's detailed view lists it."""

    number: int
    title: str
    resolved: bool
    first_report_at: datetime
    accounts: int
    reports: int  # the requests it absorbed (split ones not counted)
    answered: int  # of those, answered in their thread by one of its updates
    first_update_minutes: float | None  # None: no update has gone out yet
    waited_minutes: float  # from the first report to the first update, or to now without one


@dataclass
class IncidentStats:
    rows: list[IncidentRow] = field(default_factory=list)  # by first report

    @property
    def incidents(self) -> int:
        return len(self.rows)

    @property
    def absorbed(self) -> int:
        return sum(row.reports for row in self.rows)

    @property
    def answered(self) -> int:
        return sum(row.answered for row in self.rows)

    @property
    def first_update_minutes(self) -> list[float]:
        return [r.first_update_minutes for r in self.rows if r.first_update_minutes is not None]

    @property
    def median_first_update(self) -> float | None:
        values = self.first_update_minutes
        return statistics.median(values) if values else None

    @property
    def worst_first_update(self) -> float | None:
        return max(self.first_update_minutes, default=None)

    @property
    def without_update(self) -> list[IncidentRow]:
        return [row for row in self.rows if row.first_update_minutes is None]


def incident_stats(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    include: Callable[[Request], bool] | None = None,
) -> IncidentStats:
    """The incidents whose first report is at or after `since`; with `include`, only those
    with a report it accepts (one account's incidents), each counted whole."""
    incidents = session.scalars(
        select(Incident).where(Incident.first_report_at >= since).order_by(Incident.id)
    ).all()
    if not incidents:
        return IncidentStats()
    reports: dict[int, list[tuple[IncidentReport, Request]]] = defaultdict(list)
    for report, request in session.execute(
        select(IncidentReport, Request)
        .join(Request, Request.id == IncidentReport.request_id)
        .where(
            IncidentReport.incident_id.in_([i.id for i in incidents]),
            IncidentReport.split_at.is_(None),
        )
    ):
        reports[report.incident_id].append((report, request))
    answered = set(
        session.scalars(
            select(AuditEntry.request_id).where(
                AuditEntry.action == "incident_update.posted",
                AuditEntry.request_id.in_([r.id for rows in reports.values() for _, r in rows]),
            )
        )
    )
    stats = IncidentStats()
    for incident in incidents:
        rows = reports[incident.id]
        if include is not None and not any(include(request) for _, request in rows):
            continue
        stats.rows.append(_row(incident, rows, answered, now))
    stats.rows.sort(key=lambda row: (row.first_report_at, row.number))
    return stats


def _row(
    incident: Incident,
    rows: list[tuple[IncidentReport, Request]],
    answered: set[int | None],
    now: datetime,
) -> IncidentRow:
    first_update = None
    if incident.first_update_at is not None:
        first_update = _minutes(incident.first_update_at - incident.first_report_at)
    return IncidentRow(
        number=incident.id,
        title=incident.title,
        resolved=incident.state == IncidentState.RESOLVED,
        first_report_at=incident.first_report_at,
        accounts=len({report.account_key for report, _ in rows}),
        reports=len(rows),
        answered=sum(1 for _, request in rows if request.id in answered),
        first_update_minutes=first_update,
        waited_minutes=first_update
        if first_update is not None
        else _minutes(now - incident.first_report_at),
    )


def _minutes(elapsed: timedelta) -> float:
    return max(0.0, elapsed.total_seconds() / 60)
