"""An approved incident update, in each affected customer's thread (SPEC §6.6).

A person approves one update (`app.incidents`); it becomes one outbox row per affected
request, `incident-update:<update>:<request>` (unique: none twice however often it is asked
for), of kind `incident_update`, posted by the delivery job as any approved reply is (the
customer's own workspace, Slack's per-channel pace, `ratelimited` retried). When Slack has it,
`update_posted` records it as the request's answer: the request is answered, its first-response
clock stops, and the audit log holds the post (ids and the text's fingerprint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.store.audit import fingerprint
from integrations.store.incident_models import IncidentUpdate
from integrations.store.models import AuditEntry, Request, RequestState
from workers.sla import stop_clock

KIND = "incident_update"


def update_key(update_id: int, request_id: int) -> str:
    """The outbox key of one update in one thread."""
    return f"incident-update:{update_id}:{request_id}"


def update_of(dedupe_key: str) -> int:
    """The update id an outbox key names (`update_key`)."""
    return int(dedupe_key.split(":")[1])


def update_posted(
    session: Any, request: Request, *, dedupe_key: str, body: dict[str, Any], ts: str, now: datetime
) -> None:
    """In delivery's transaction: the request answered by the update, its clock stopped,
    the post audited."""
    update = session.get(IncidentUpdate, update_of(dedupe_key))
    by = update.by if update is not None else None
    if request.state == RequestState.OPEN:
        request.state = RequestState.ANSWERED
        request.answered_at = now
        request.answered_by = by
    stop_clock(session, request.id, by)
    session.add(
        AuditEntry(
            actor=by or "system",
            action="incident_update.posted",
            request_id=request.id,
            detail={
                "incident": update.incident_id if update is not None else None,
                "update": update_of(dedupe_key),
                "channel": request.channel_id,
                "thread_ts": request.thread_ts,
                "ts": ts,
                **fingerprint(text=str(body.get("text", ""))),
            },
        )
    )
