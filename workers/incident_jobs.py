"""Bring an incident up to date (SPEC §6.6): its card, its clock, its Salesforce Cases.

`sync_incident` is the job `workers.incidents` queues whenever an incident changes (it formed,
a report joined or was split out, an update was approved): it posts the incident card once
(through the outbox, `incident:<id>`) in `INCIDENT_CHANNEL` (default `ESCALATION_CHANNEL`),
redraws it in place afterwards (coalesced as the approval cards are: one `chat.update` a
second at most however many reports join at once, none when nothing changed), and links the
accounts' Cases (`workers.incident_cases`). A retried or replayed job is safe.

`recover_incidents` is the sweeper's part: the incident's own first-response clock (from its
first report, at the strictest tier among its accounts) breaches to `ESCALATION_CHANNEL` once,
and an incident whose card or Cases a lost job never did is queued again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, enqueued
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport, IncidentState
from integrations.store.models import OutboxMessage
from workers.blocks.incident import incident_body
from workers.blocks.kit import slack_time
from workers.card import CardKeys, draw_coalesced, note_drawn
from workers.delivery import deliver_now
from workers.incident_cases import link_cases
from workers.incident_draft import prepare
from workers.incident_view import incident_view
from workers.metrics import SLA_BREACHES
from workers.outbox_rows import outbox_row
from workers.seen import message_permalink

log = structlog.get_logger(__name__)

GRACE_SECONDS = 20  # a queued incident job gets this long before the sweeper queues another


def incident_channel(deps: Deps) -> str | None:
    return deps.settings.incident_channel or deps.settings.escalation_channel


def sync_incident(deps: Deps, *, incident_id: int) -> None:
    """RQ job: the incident's card posted or redrawn, and its Cases linked."""
    sync_incident_now(deps, incident_id)


def sync_incident_now(deps: Deps, incident_id: int) -> None:
    # The card first: it must not wait on Salesforce. When this opened the parent Case (the
    # incident formed), the card is drawn once more to show it: the only second draw.
    _card(deps, incident_id)
    _draft(deps, incident_id)  # the model's update drafts, while Salesforce is not waited on
    if link_cases(deps, incident_id):
        _card(deps, incident_id)


def _body(deps: Deps, incident_id: int) -> dict[str, Any]:
    with transaction(deps.sessions) as session:
        return incident_body(incident_view(session, incident_id))


def _card(deps: Deps, incident_id: int) -> None:
    channel = incident_channel(deps)
    if not channel:
        log.warning("incident.no_channel", incident_id=incident_id)
        return
    with transaction(deps.sessions) as session:
        incident = session.get_one(Incident, incident_id)
        where = (incident.card_channel, incident.card_ts)
        if incident.card_ts is None:
            body = incident_body(incident_view(session, incident_id))
            outbox_id = outbox_row(
                session, f"incident:{incident_id}", kind="incident", channel_id=channel, body=body
            )
    if where[0] and where[1]:
        keys = CardKeys(where[0], where[1])
        draw_coalesced(deps, keys, lambda: _body(deps, incident_id), incident_id=incident_id)
        return
    ts = deliver_now(deps, outbox_id)  # a failure raises: RQ retries the job
    with transaction(deps.sessions) as session:
        row = session.get_one(OutboxMessage, outbox_id)
        ts, channel, posted = ts or row.result_ts, row.channel_id, dict(row.body)
    if ts is None:
        return  # leased by another job, which records it
    permalink = message_permalink(deps, (None, None), channel, ts)
    with transaction(deps.sessions) as session:
        session.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(card_channel=channel, card_ts=ts, card_permalink=permalink)
        )
        requests = _report_requests(session, incident_id)
    keys = CardKeys(channel, ts)
    try:
        note_drawn(deps.redis, keys, posted)
    except REDIS_DOWN as exc:
        log.warning("card.not_remembered", incident_id=incident_id, error=str(exc))
    log.info("incident.card_posted", incident_id=incident_id, ts=ts)
    draw_coalesced(deps, keys, lambda: _body(deps, incident_id), incident_id=incident_id)
    for request_id in requests:  # their cards now link to it
        enqueued(
            log,
            lambda request_id=request_id: deps.queues.enqueue_card_refresh(request_id),  # type: ignore[misc]
            what="card refresh",
            request_id=request_id,
        )


def _draft(deps: Deps, incident_id: int) -> None:
    """The model's drafts of the update and the closing update, for the modal to offer."""
    if deps.llm is None:
        return
    with transaction(deps.sessions) as session:
        incident = session.get_one(Incident, incident_id)
        if incident.state != IncidentState.OPEN:
            return
        signatures, since = list(incident.signatures or []), incident.first_report_at
        accounts = len(
            set(
                session.scalars(
                    select(IncidentReport.account_key).where(
                        IncidentReport.incident_id == incident_id,
                        IncidentReport.split_at.is_(None),
                    )
                )
            )
        )
    prepare(deps, incident_id, signatures, accounts, since)


def _report_requests(session: Session, incident_id: int) -> list[int]:
    return list(
        session.scalars(
            select(IncidentReport.request_id).where(
                IncidentReport.incident_id == incident_id, IncidentReport.split_at.is_(None)
            )
        )
    )


def recover_incidents(deps: Deps, *, now: datetime | None = None) -> int:
    """The sweeper's part (see the module's docstring); how many incidents it acted on."""
    now = now or datetime.now(UTC)
    acted = _breach_due(deps, now)
    cutoff = now - timedelta(seconds=GRACE_SECONDS)
    with transaction(deps.sessions) as session:
        unfinished = session.scalars(
            select(Incident.id)
            .where(
                Incident.updated_at < cutoff,
                or_(Incident.card_ts.is_(None), Incident.cases_done.is_(False)),
            )
            .limit(100)
        ).all()
    for incident_id in unfinished:
        # Once per grace period, not on every sweep, while its job is queued or retrying.
        key = f"triage:incident-requeued:{incident_id}"
        if deps.redis.set(key, 1, nx=True, ex=GRACE_SECONDS):
            deps.queues.enqueue_incident(incident_id)
            acted += 1
    return acted


def _breach_due(deps: Deps, now: datetime) -> int:
    """Fire each open incident's breach once: no update reached its customers in time."""
    channel = deps.settings.escalation_channel
    with transaction(deps.sessions) as session:
        due = session.scalars(
            select(Incident).where(
                Incident.state == IncidentState.OPEN,
                Incident.first_update_at.is_(None),
                Incident.breached_at.is_(None),
                Incident.deadline_at <= now,
            )
        ).all()
        fired: list[tuple[int, int | None]] = []
        for incident in due:
            won = session.execute(
                update(Incident)
                .where(Incident.id == incident.id, Incident.breached_at.is_(None))
                .values(breached_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if not won:
                continue
            outbox_id = None
            if channel:
                text = (
                    f"🔥 *Incident #{incident.id}*: no update reached the affected customers by "
                    f"{slack_time(incident.deadline_at)} ({incident.tier or 'SLA'} tier)."
                )
                if incident.card_permalink:
                    text += f" <{incident.card_permalink}|Open the incident>"
                outbox_id = outbox_row(
                    session,
                    f"incident-breach:{incident.id}",
                    kind="sla_breach",
                    channel_id=channel,
                    body={"text": text},
                )
            fired.append((incident.id, outbox_id))
    for incident_id, outbox_id in fired:
        SLA_BREACHES.inc()
        log.warning("incident.breached", incident_id=incident_id)
        if outbox_id is not None:
            enqueued(
                log,
                lambda o=outbox_id: deps.queues.enqueue_delivery(o),  # type: ignore[misc]
                what="delivery",
                outbox_id=outbox_id,
            )
        enqueued(
            log,
            lambda i=incident_id: deps.queues.enqueue_incident(i),  # type: ignore[misc]
            what="incident",
            incident_id=incident_id,
        )
    return len(fired)
