"""`/triage status` (SPEC §6.2): the open queue at a glance, for the person who asks only.

Read from the database alone (no Slack call), so the command's ack carries the answer.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import Request, RequestState, SlaClock

URGENCIES = (("urgent", "🔴"), ("high", "🟠"), ("normal", "🟢"), ("low", "⚪"))
SHOWN = 10  # requests listed per section; the counts cover all of them


def queue_status(deps: Deps, now: datetime | None = None) -> str:
    """Open requests by urgency, then those near breach (past 75%) and breached, with links."""
    now = now or datetime.now(UTC)
    with transaction(deps.sessions) as session:
        rows = session.execute(
            select(Request, SlaClock)
            .outerjoin(SlaClock, SlaClock.request_id == Request.id)
            .where(Request.state == RequestState.OPEN)
            .order_by(Request.id)
        ).all()
        entries = [
            (
                _line(request, clock),
                request.urgency or "untriaged",
                _sla_state(clock, now),
            )
            for request, clock in rows
        ]
    if not entries:
        return "✅ No open requests. Nobody is waiting."
    counts = Counter(urgency for _, urgency, _ in entries)
    by_urgency = " · ".join(f"{mark} {name} {counts[name]}" for name, mark in URGENCIES)
    if counts["untriaged"]:
        by_urgency += f" · untriaged {counts['untriaged']}"
    lines = [f"*{len(entries)} open request{'s' if len(entries) != 1 else ''}*: {by_urgency}"]
    for state, title in (("breached", "🔥 Breached"), ("near", "⏰ Near breach")):
        listed = [line for line, _, sla in entries if sla == state]
        if listed:
            lines.append(f"*{title}* ({len(listed)}):")
            lines.extend(f"• {line}" for line in listed[:SHOWN])
            if len(listed) > SHOWN:
                lines.append(f"…and {len(listed) - SHOWN} more")
    return "\n".join(lines)


def _sla_state(clock: SlaClock | None, now: datetime) -> str:
    if clock is None or clock.stopped_at is not None:
        return "none"
    if clock.breached_at is not None or clock.deadline_at <= now:
        return "breached"
    return "near" if clock.remind_at <= now else "running"


def _line(request: Request, clock: SlaClock | None) -> str:
    label = f"#{request.id}"
    link = f"<{request.permalink}|{label}>" if request.permalink else label
    what = _plain((request.summary or "")[:80])
    due = ""
    if clock is not None:
        fallback = clock.deadline_at.strftime("%Y-%m-%d %H:%M UTC")
        due = f" · due <!date^{int(clock.deadline_at.timestamp())}^{{time}}|{fallback}>"
    level = f" · {request.priority}" if request.priority else ""
    return f"{link} in <#{request.channel_id}>{level}{due}" + (f": {what}" if what else "")


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
