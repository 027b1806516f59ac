"""Build the Bolt app. Nothing is built at import time."""

from __future__ import annotations

import logging

import structlog
from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError

from app.deps import Deps
from app.listeners import register_all

log = structlog.get_logger(__name__)


def create_app(deps: Deps, *, token_verification: bool = True) -> App:
    """The Bolt app with every listener registered.

    `process_before_response=True`: a listener finishes (the event is stored and queued)
    before Slack gets its 2xx, so an acknowledged event is never only in memory.
    """
    settings = deps.settings
    settings.require("slack_signing_secret", "slack_bot_token")
    assert settings.slack_signing_secret and settings.slack_bot_token  # for the type checker
    app = App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=deps.slack,  # carries the bot token; Bolt authorizes with it
        process_before_response=True,
        token_verification_enabled=token_verification,
        logger=logging.getLogger("slack_bolt"),
    )
    register_all(app, deps)

    @app.error
    def on_error(error: Exception, body: dict) -> None:  # type: ignore[type-arg]
        if isinstance(error, BoltUnhandledRequestError):
            return
        log.error(
            "listener.failed", error=type(error).__name__, type=body.get("type"), exc_info=error
        )

    return app
