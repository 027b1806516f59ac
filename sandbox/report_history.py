"""Two weeks of plausible support history in the database (with CSAT), and incidents in it, for
`triage report`'s tests and the example chart in docs/ (a developer tool: it writes rows
directly, not through Slack)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session

from integrations.store.csat_models import CsatSurvey, CsatValue, CsatVote
from integrations.store.incident_models import (
    Incident,
    IncidentReport,
    IncidentState,
    IncidentUpdate,
)
from integrations.store.models import (
    AuditEntry,
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
    SlaClock,
    Stage,
)

ACCOUNTS = [
    ("C0GLOBEX", "Globex Corporation", 15.0),
    ("C0INITECH", "Initech", 60.0),
    ("C0UMBRELLA", "Umbrella", 240.0),
]


def seed_history(
    session: Session, *, days: int = 14, now: datetime | None = None, seed: int = 7
) -> int:
    """Write `days` days of answered requests; returns how many."""
    rng = random.Random(seed)
    asking = random.Random(seed + 1)  # CSAT's own draws: the rest stays as it was
    now = now or datetime.now(UTC)
    count = 0
    for day in range(days, 0, -1):
        for n in range(rng.randint(3, 8)):
            channel, name, sla = rng.choice(ACCOUNTS)
            # Within working hours of its own day, whatever time it is now: a day's requests
            # stay on that day (run just after midnight, "now minus hours" was the day before).
            start = (now - timedelta(days=day)).replace(hour=9, minute=0, second=0, microsecond=0)
            opened = start + timedelta(hours=rng.uniform(0, 8))
            waited = rng.lognormvariate(2.3, 0.9)  # minutes; a long tail, as in real queues
            ts = f"{opened.timestamp():.6f}"
            request = Request(
                team_id="T0ACME",
                channel_id=channel,
                ts=ts,
                thread_ts=ts,
                user_id="U0C",
                state=RequestState.ANSWERED,
                stage=Stage.DONE,
                category="question",
                urgency="normal",
                summary=f"question {day}-{n}",
                created_at=opened,
                answered_at=opened + timedelta(minutes=waited),
                account_key=f"channel:{channel}",
                context={"status": "ok", "account": {"id": channel, "name": name}},
            )
            session.add(request)
            session.flush()
            session.add(
                RequestMessage(
                    request_id=request.id,
                    channel_id=channel,
                    ts=ts,
                    user_id="U0C",
                    text=f"question {day}-{n}",
                )
            )
            edited = rng.random() < 0.3
            up, down = int(rng.random() < 0.4), int(rng.random() < 0.08)
            session.add(
                Draft(
                    request_id=request.id,
                    text="Draft text.",
                    source="offline",
                    status=DraftStatus.REJECTED if rng.random() < 0.1 else DraftStatus.APPROVED,
                    posted_text="Edited text." if edited else "Draft text.",
                    posted_ts=ts,
                    decided_at=opened + timedelta(minutes=waited),
                    details={"feedback": {"up": up, "down": down}},
                )
            )
            deadline = opened + timedelta(minutes=sla)
            stopped = opened + timedelta(minutes=waited)
            session.add(
                SlaClock(
                    request_id=request.id,
                    tier="enterprise",
                    minutes=sla,
                    business_hours="mon-sun 00:00-24:00 UTC",
                    started_at=opened,
                    deadline_at=deadline,
                    remind_at=opened + timedelta(minutes=0.75 * sla),
                    stopped_at=stopped,
                    breached_at=deadline if stopped > deadline else None,
                )
            )
            _csat(session, asking, request.id, stopped, late=stopped > deadline)
            count += 1
    return count


def _csat(
    session: Session, rng: random.Random, request_id: int, answered: datetime, *, late: bool
) -> None:
    """Most answered requests were asked how it went an hour later; some customers answered,
    fewer of them pleased when the answer came late."""
    if rng.random() < 0.15:
        return  # answered too recently, or a tier that is not asked
    asked = answered + timedelta(hours=1)
    session.add(CsatSurvey(request_id=request_id, due_at=asked, asked_at=asked))
    if rng.random() < 0.45:
        good = rng.random() < (0.55 if late else 0.88)
        session.add(
            CsatVote(
                request_id=request_id,
                user_id="U0C",
                value=CsatValue.GOOD if good else CsatValue.BAD,
                voted_at=asked + timedelta(minutes=rng.uniform(1, 90)),
            )
        )


class PastIncident(NamedTuple):
    """An incident to write: when its first report came, how many reports (round the three
    accounts), and the minutes to its first update (None: none yet, it is still open)."""

    ago: timedelta
    reports: int
    first_update_minutes: float | None
    title: str


EXAMPLE_INCIDENTS = [
    PastIncident(timedelta(days=9, hours=-3), 5, 12.0, "SAML sign-in fails with HTTP 500"),
    PastIncident(timedelta(days=4, hours=-5), 8, 26.0, "Webhooks fail with 502 Bad Gateway"),
]


def seed_incidents(
    session: Session,
    incidents: list[PastIncident] = EXAMPLE_INCIDENTS,
    *,
    now: datetime | None = None,
) -> list[int]:
    """Write each incident with its reports (one request each, a minute and a half apart),
    their answer by its first update and the audit of each post; returns their numbers."""
    now = now or datetime.now(UTC)
    numbers = []
    for past in incidents:
        first = now - past.ago
        updated = (
            None
            if past.first_update_minutes is None
            else first + timedelta(minutes=past.first_update_minutes)
        )
        incident = Incident(
            state=IncidentState.OPEN if updated is None else IncidentState.RESOLVED,
            title=past.title,
            first_report_at=first,
            last_report_at=first + timedelta(minutes=1.5 * (past.reports - 1)),
            tier="enterprise",
            deadline_at=first + timedelta(minutes=15),
            first_update_at=updated,
            resolved_at=None if updated is None else updated + timedelta(hours=1),
        )
        session.add(incident)
        session.flush()
        update = None
        if updated is not None:
            update = IncidentUpdate(
                incident_id=incident.id, kind="update", text="We are on it.", by="U0AMY"
            )
            update.created_at = updated
            session.add(update)
            session.flush()
        for n in range(past.reports):
            _report(session, incident, update, n, first + timedelta(minutes=1.5 * n))
        numbers.append(incident.id)
    return numbers


def _report(
    session: Session, incident: Incident, update: IncidentUpdate | None, n: int, at: datetime
) -> None:
    channel, name, sla = ACCOUNTS[n % len(ACCOUNTS)]
    answered = update.created_at if update is not None else None
    ts = f"{at.timestamp():.6f}"
    request = Request(
        team_id="T0ACME",
        channel_id=channel,
        ts=ts,
        thread_ts=ts,
        user_id="U0C",
        state=RequestState.OPEN if answered is None else RequestState.ANSWERED,
        stage=Stage.DONE,
        category="incident",
        urgency="high",
        summary=incident.title,
        created_at=at,
        answered_at=answered,
        account_key=f"channel:{channel}",
        context={"status": "ok", "account": {"id": channel, "name": name}},
    )
    session.add(request)
    session.flush()
    session.add(
        RequestMessage(
            request_id=request.id, channel_id=channel, ts=ts, user_id="U0C", text=incident.title
        )
    )
    session.add(
        SlaClock(  # paused while the incident was open: stopped by the update, never breached
            request_id=request.id,
            tier="enterprise",
            minutes=sla,
            business_hours="mon-sun 00:00-24:00 UTC",
            started_at=at,
            deadline_at=at + timedelta(minutes=sla),
            remind_at=at + timedelta(minutes=0.75 * sla),
            stopped_at=answered,
        )
    )
    session.add(
        IncidentReport(
            incident_id=incident.id,
            request_id=request.id,
            account_key=f"channel:{channel}",
            joined_at=at,
        )
    )
    if update is not None:
        session.add(
            AuditEntry(
                at=answered,
                actor=update.by,
                action="incident_update.posted",
                request_id=request.id,
                detail={"incident": incident.id, "update": update.id, "channel": channel},
            )
        )
