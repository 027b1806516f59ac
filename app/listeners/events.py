"""Events API listeners: messages become requests (SPEC §5.1)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext

from app.deps import Deps
from app.ingest import ingest_message
from app.listeners.people import installation_of
from app.metrics import EVENTS


def register(app: App, deps: Deps) -> None:
    @app.event("message")
    def on_message(body: dict[str, Any], context: BoltContext) -> None:
        # Runs before the ack (process_before_response): stored and queued, or Slack retries.
        ingest_message(deps, body, installation_of(context, body))

    @app.event(re.compile(".*"))
    def on_other_event() -> None:
        # Acknowledge what we do not handle, so Slack neither retries nor disables events.
        EVENTS.labels(kind="ignored").inc()
