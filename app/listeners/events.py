"""Events API listeners: messages become requests (SPEC §5.1); 👍/👎 become feedback (§6.1);
the App Home is published when it is opened.

Messages and reactions are handed to `workers` whole: `workers.ingest` and `workers.reactions`
classify the envelope and store the raw event, which their jobs read back.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import App, BoltContext

from app.listeners.payloads import AppHomeOpened, MessageEnvelope, ReactionEnvelope, parse
from app.listeners.people import installation_of
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from integrations.failures import enqueued
from workers.ingest import ingest_message
from workers.metrics import EVENTS
from workers.reactions import ingest_reaction

log = structlog.get_logger(__name__)


def register(app: App, deps: Deps) -> None:
    app.event("message")(with_deps(store_message, deps))
    app.event("reaction_added")(with_deps(store_reaction, deps))
    app.event("reaction_removed")(with_deps(store_reaction, deps))
    app.event("app_home_opened")(with_deps(publish_home, deps))
    app.event(re.compile(".*"))(acknowledge_other_event)


def store_message(deps: Deps, body: dict[str, Any], context: BoltContext) -> None:
    """A message in a channel: stored (and its request's pipeline queued), or ignored."""
    # Runs before the ack (process_before_response): stored, or Slack retries. Its job goes
    # to Redis from a background thread; the sweeper covers a job lost on the way.
    if parse(MessageEnvelope, body) is not None:  # else acked: a retry would not parse either
        ingest_message(deps, body, installation_of(context, body))


def store_reaction(deps: Deps, body: dict[str, Any], context: BoltContext) -> None:
    """A reaction added or removed: stored and queued; who reacted is resolved in a job."""
    if parse(ReactionEnvelope, body) is not None:
        ingest_reaction(deps, body, installation_of(context, body))


def publish_home(deps: Deps, body: dict[str, Any], context: BoltContext) -> None:
    """The Home tab opened: queue its `views.publish`, through the workspace it was opened in."""
    opened = parse(AppHomeOpened, body)
    if opened is None or opened.tab != "home":
        return
    where = installation_of(context, body)
    enqueued(  # or the Home shows its last published state meanwhile
        log,
        lambda: deps.queues.enqueue_home(opened.user_id, where.team_id, where.enterprise_id),
        what="app home",
    )


def acknowledge_other_event() -> None:
    """Acknowledge what we do not handle, so Slack neither retries nor disables events."""
    EVENTS.labels(kind="ignored").inc()
