"""What goes first when work backs up (SPEC §5.7): urgent requests, and the accounts of the
strictest support tier (by default `enterprise`, the shortest first-response target).

A request's urgency is not known until it is triaged, and its account not until its context is
read; both happen in the queue this decides. So the web process judges urgency by the offline
classifier's words (`words_only`: no encoder, no network; ~1 ms of CPU, so it runs in the
enqueue thread after the ack, not before it: `Queues.enqueue_request_soon`), and the
context stage remembers which customer channels belong to the strictest tier (a Redis set the
enqueue reads once per batch). A channel's first request, before its context was ever read,
waits its turn like any other.
"""

from __future__ import annotations

import structlog

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN
from workers.stage_data import RequestContext
from workers.triage_model import classify_offline
from workers.triage_types import Category, Urgency

log = structlog.get_logger(__name__)

_PRESSING = (Urgency.URGENT, Urgency.HIGH)


def goes_first(text: str) -> bool:
    """Whether the classifier's words read a message as urgent, high or an incident."""
    triage = classify_offline(text, words_only=True)  # no encoder in the ack path
    return triage.urgency in _PRESSING or triage.category == Category.INCIDENT


def remember_tier(deps: Deps, channel: str, context: RequestContext) -> None:
    """Mark the channel's later requests to go first when its account has the strictest tier
    (or unmark it when its tier changed); a Redis failure only costs the ordering."""
    if context.status == "unavailable":
        return  # unknown now is not "not enterprise": keep what was known
    targets = deps.settings.sla_minutes
    strictest = min(targets.values(), default=None)
    tier = (context.account.tier or "").lower() if context.account else ""
    first = strictest is not None and targets.get(tier) == strictest
    try:
        deps.queues.mark_first_channel(channel, first)
    except REDIS_DOWN as exc:
        log.warning("priority.unremembered", channel=channel, error=str(exc))
