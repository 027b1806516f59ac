"""`/triage status` (SPEC §6.2): the open queue at a glance, for the person who asks only.

Read from the database alone (no Slack call, none per request either), so the command's ack
carries the answer: the counts as `text` (the notification and fallback) and, as blocks, the
open incidents first (SPEC §6.6), then every open request a lead can act on, with its account,
channel and a link to its card. A report of an open incident has its clock paused: it is
neither near breach nor breached while the incident's own clock runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from slack_sdk.models.blocks import Block
from sqlalchemy import select

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import Request, RequestState, SlaClock
from workers.blocks.incident_status import incidents_text
from workers.blocks.status import OpenRequest, status_blocks
from workers.incident_status import open_incident_of, open_incidents
from workers.stage_data import request_context

URGENCIES = (("urgent", "🔴"), ("high", "🟠"), ("normal", "🟢"), ("low", "⚪"))
SHOWN = 10  # requests listed per section of the text; the blocks list more, the counts all


@dataclass(frozen=True)
class QueueStatus:
    """The answer: `text` for notifications and clients without blocks, `blocks` to read."""

    text: str
    blocks: list[Block]


def queue_status(deps: Deps, now: datetime | None = None) -> QueueStatus:
    """Open incidents; open requests by urgency, then those near breach (past 75%) and
    breached, with links."""
    now = now or datetime.now(UTC)
    with transaction(deps.sessions) as session:
        incidents = open_incidents(session)
        incident_of = open_incident_of(session) if incidents else {}
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
                _sla_state(clock, now, paused=request.id in incident_of),
            )
            for request, clock in rows
        ]
        items = [_open_request(request, clock, now, incident_of) for request, clock in rows]
    text = "\n".join(filter(None, [incidents_text(incidents, now), _text(entries)]))
    return QueueStatus(text=text, blocks=status_blocks(items, now, incidents))


def _text(entries: list[tuple[str, str, str]]) -> str:
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


def _open_request(
    request: Request, clock: SlaClock | None, now: datetime, incident_of: dict[int, int]
) -> OpenRequest:
    context = request_context(request)
    account = context.account if context is not None and context.status == "ok" else None
    return OpenRequest(
        request_id=request.id,
        account=(account.name or account.id or None) if account is not None else None,
        channel_id=request.channel_id,
        urgency=request.urgency,
        created_at=request.created_at,
        sla=_sla_state(clock, now, paused=request.id in incident_of),
        deadline=clock.deadline_at if clock is not None else None,
        link=card_link(request),
        summary=request.summary or "",
        priority=request.priority,
        incident=incident_of.get(request.id),
    )


def card_link(request: Request) -> str | None:
    """The card's URL, built like a Slack permalink (`<workspace>/archives/<channel>/p<ts>`) on
    the workspace of the customer message's stored permalink; that message when there is no
    card yet; None when neither is known. No Slack call: the database has all it needs."""
    if not request.permalink:
        return None
    if not (request.card_channel and request.card_ts):
        return request.permalink
    parts = urlsplit(request.permalink)
    if not (parts.scheme and parts.netloc):
        return request.permalink
    ts = request.card_ts.replace(".", "")
    return f"{parts.scheme}://{parts.netloc}/archives/{request.card_channel}/p{ts}"


def _sla_state(clock: SlaClock | None, now: datetime, *, paused: bool = False) -> str:
    if clock is None or clock.stopped_at is not None:
        return "none"
    if paused:
        return "paused"
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
