"""Two weeks of plausible support history in the database, for `triage report`'s tests and
the example chart in docs/ (a developer tool: it writes rows directly, not through Slack)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from integrations.store.models import (
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
    now = now or datetime.now(UTC)
    count = 0
    for day in range(days, 0, -1):
        for n in range(rng.randint(3, 8)):
            channel, name, sla = rng.choice(ACCOUNTS)
            opened = now - timedelta(days=day, hours=rng.uniform(0, 8))
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
            count += 1
    return count
