"""Events API listeners: messages become requests (SPEC §5.1); 👍/👎 become feedback (§6.1)."""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt import App, BoltContext

from app.listeners.people import installation_of
from integrations.deps import Deps
from workers.ingest import ingest_message
from workers.metrics import EVENTS
from workers.reactions import ingest_reaction

log = structlog.get_logger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.event("message")
    def on_message(body: dict[str, Any], context: BoltContext) -> None:
        # Runs before the ack (process_before_response): stored, or Slack retries. Its job goes
        # to Redis from a background thread; the sweeper covers a job lost on the way.
        ingest_message(deps, body, installation_of(context, body))

    @app.event("reaction_added")
    @app.event("reaction_removed")
    def on_reaction(body: dict[str, Any], context: BoltContext) -> None:
        # Stored and queued; who reacted is resolved in a job.
        ingest_reaction(deps, body, installation_of(context, body))

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        where = installation_of(context, body)
        try:  # views.publish happens in a job, through the workspace it was opened in
            deps.queues.enqueue_home(str(event["user"]), where.team_id, where.enterprise_id)
        except Exception as exc:  # the Home shows its last published state meanwhile
            log.warning("enqueue.failed", what="app home", error=str(exc))

    @app.event(re.compile(".*"))
    def on_other_event() -> None:
        # Acknowledge what we do not handle, so Slack neither retries nor disables events.
        EVENTS.labels(kind="ignored").inc()
