"""Bolt listeners, one module per Slack surface; each has `register(app, deps)`."""

from __future__ import annotations

from slack_bolt import App

from app.listeners import actions, commands, escalate, events, views
from integrations.deps import Deps


def register_all(app: App, deps: Deps) -> None:
    actions.register(app, deps)
    views.register(app, deps)
    commands.register(app, deps)
    escalate.register(app, deps)
    events.register(app, deps)  # last: it ends with a catch-all for events we do not handle
