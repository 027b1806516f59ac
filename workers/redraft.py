"""Drafts the model could not write are asked for again, without anyone clicking.

When the model times out or fails, the card goes out saying why and its draft is `unavailable`
(`workers.draft`). The sweeper asks again here, as Regenerate does (a new revision of the
request, so the pipeline triages and drafts it with the model and redraws the card), after
`REDRAFT_SECONDS`, doubling after each try that fails too, `MAX_TRIES` tries in all (with the
default a quarter of an hour of outage). After the last, the card keeps saying why and
Regenerate is a person's to click.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select, update

from integrations.deps import Deps
from integrations.queues import new_job_id
from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Request, RequestState, Stage

log = structlog.get_logger(__name__)

MAX_TRIES = 5  # unavailable drafts of a request, the first included
BATCH = 50


def redraft_unavailable(deps: Deps, now: datetime) -> int:
    """Queue the requests whose live draft is unavailable and whose backoff has passed; how
    many were queued."""
    base = deps.settings.redraft_seconds
    tries = (
        select(
            Draft.request_id,
            func.count().label("tries"),
            func.max(Draft.created_at).label("last"),
        )
        .where(Draft.source == "unavailable")
        .group_by(Draft.request_id)
        .subquery()
    )
    with transaction(deps.sessions) as session:
        rows = session.execute(
            select(Request.id, Request.revision, tries.c.tries, tries.c.last)
            .join(tries, tries.c.request_id == Request.id)
            .join(Draft, Draft.request_id == Request.id)
            .where(
                Draft.status == DraftStatus.PENDING,
                Draft.source == "unavailable",
                Request.state == RequestState.OPEN,
                Request.stage == Stage.DONE,
                Request.processed_revision >= Request.revision,
                or_(Request.lease_owner.is_(None), Request.lease_expires_at < now),
                tries.c.tries < MAX_TRIES,
            )
            .order_by(Request.id)
            .limit(BATCH)
        ).all()
    queued = 0
    for request_id, revision, count, last in rows:
        if now - _aware(last, now) < timedelta(seconds=base * 2 ** (count - 1)):
            continue
        job_id = new_job_id("request", request_id)
        with transaction(deps.sessions) as session:
            # Only if nothing changed since the read: two workers' sweepers ask once.
            taken = session.execute(
                update(Request)
                .where(
                    Request.id == request_id,
                    Request.revision == revision,
                    Request.processed_revision >= revision,
                )
                .values(revision=revision + 1, job_id=job_id, enqueued_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
        # Queued after the commit; if Redis fails here the sweeper finds it unfinished.
        deps.queues.enqueue_request(request_id, job_id)
        log.info("draft.asked_again", request_id=request_id, tries=count)
        queued += 1
    return queued


def _aware(moment: datetime, now: datetime) -> datetime:
    """SQLite gives naive datetimes back (they were written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
