"""Pull a suggested colleague in (SPEC §5.6 `pull_in`): a mention in the card's thread, once.

The pull-in is recorded as evidence waiting for its answer (`workers.expertise`); when the
colleague then answers, it becomes expertise, and until then it counts in their load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import partial

import structlog
from sqlalchemy.exc import IntegrityError

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, OutboxMessage, Request
from workers.expertise import record_pull_in
from workers.stage_data import request_context

log = structlog.get_logger(__name__)


class PullIn(StrEnum):
    """What a `pull_in` click did."""

    QUEUED = "queued"
    ALREADY = "already"
    NO_CARD = "no_card"


PULL_IN_MESSAGES = {
    PullIn.ALREADY: "They were already pulled in on this request.",
    PullIn.NO_CARD: "This card no longer matches a stored request; nobody was pulled in.",
}


def pull_in_colleague(deps: Deps, *, request_id: int, user_id: str, by: str) -> PullIn:
    """Mention `user_id` in the card's thread with the request's context, once, through the
    outbox; the pull-in is recorded and becomes evidence when they answer."""
    with transaction(deps.sessions) as session:
        request = session.get(Request, request_id)
        if request is None or request.card_ts is None or request.card_channel is None:
            return PullIn.NO_CARD
        row = OutboxMessage(
            dedupe_key=f"pull-in:{request_id}:{user_id}",
            kind="pull_in",
            request_id=request_id,
            channel_id=request.card_channel,
            thread_ts=request.card_ts,
            body={"text": pull_in_text(request, user_id, by)},
            enqueued_at=datetime.now(UTC),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return PullIn.ALREADY
        record_pull_in(session, request, user_id=user_id, by=by)
        outbox_ids = [row.id]
        if deps.settings.pull_in_in_customer_thread:  # SPEC §5.6: off unless asked for
            customer = OutboxMessage(
                dedupe_key=f"pull-in-customer:{request_id}:{user_id}",
                kind="pull_in_customer",
                request_id=request_id,
                channel_id=request.channel_id,
                thread_ts=request.thread_ts,
                body={"text": f"<@{user_id}> is joining this thread to help."},
                enqueued_at=datetime.now(UTC),
            )
            session.add(customer)
            session.flush()
            outbox_ids.append(customer.id)
        session.add(
            AuditEntry(
                actor=by,
                action="colleague.pulled_in",
                request_id=request_id,
                detail={"user": user_id},
            )
        )
    log.info("suggest.pulled_in", request_id=request_id, user=user_id, by=by)
    for outbox_id in outbox_ids:
        send = partial(deps.queues.enqueue_delivery, outbox_id)
        if not enqueued(log, send, what="delivery", outbox_id=outbox_id):
            # the sweeper delivers rows whose job was lost
            with transaction(deps.sessions) as session:
                session.get_one(OutboxMessage, outbox_id).enqueued_at = None
    return PullIn.QUEUED


def pull_in_text(request: Request, user_id: str, by: str) -> str:
    """The mention in the card's thread: who asked, what, and where."""
    context = request_context(request)
    account = context.account.name if context is not None and context.account else None
    about = f" ({account})" if account else ""
    summary = request.summary or request.text[:200]
    quoted = "\n".join(f">{line}" for line in request.text[:1500].splitlines())
    link = f"\n<{request.permalink}|Open the customer's thread>" if request.permalink else ""
    return (
        f"<@{user_id}>, <@{by}> is pulling you in on request #{request.id} from "
        f"<@{request.user_id}> in <#{request.channel_id}>{about}: {summary}\n{quoted}{link}"
    )
