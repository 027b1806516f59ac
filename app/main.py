"""Build the Bolt app. Nothing is built at import time."""

from __future__ import annotations

import logging

import structlog
from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from app.listeners import register_all
from app.oauth import InstalledAuthorize, oauth_flow
from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN
from integrations.slack_installs import InstalledTokens
from workers.triage_model import packaged_model

log = structlog.get_logger(__name__)


def create_app(deps: Deps, *, token_verification: bool = True) -> App:
    """The Bolt app with every listener registered.

    `process_before_response=True`: a listener finishes (the event is stored and queued)
    before Slack gets its 2xx, so an acknowledged event is never only in memory.
    `request_verification_enabled=False`: app/web.py checks each request's signature once, on
    the raw bytes, before Bolt parses it (Socket Mode requests carry no signature).
    """
    settings = deps.settings
    settings.require_slack()
    assert settings.slack_signing_secret  # for the type checker
    packaged_model()  # the listeners' priority check reads it: loaded now, not in a first ack
    signing_secret = settings.slack_signing_secret.get_secret_value()
    logger = logging.getLogger("slack_bolt")
    tokens = deps.slack_clients
    if isinstance(tokens, InstalledTokens):
        # OAuth: /slack/install and /slack/oauth_redirect, a token per workspace.
        app = App(
            signing_secret=signing_secret,
            client=WebClient(base_url=settings.slack_api_url, timeout=10),
            oauth_flow=oauth_flow(settings, deps.engine, tokens),
            authorize=InstalledAuthorize(tokens),  # type: ignore[arg-type]  # Bolt takes an Authorize
            process_before_response=True,
            request_verification_enabled=False,
            logger=logger,
        )
        app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked
    else:
        app = App(
            signing_secret=signing_secret,
            client=deps.slack,  # carries the bot token; Bolt authorizes with it
            process_before_response=True,
            request_verification_enabled=False,
            token_verification_enabled=token_verification,
            logger=logger,
        )
    register_all(app, deps)

    @app.error
    def on_error(error: Exception, body: dict, response: BoltResponse) -> None:  # type: ignore[type-arg]
        if isinstance(error, BoltUnhandledRequestError):
            return
        if isinstance(error, DATABASE_DOWN):  # expected: nothing stored, so Slack retries
            response.status = 503
            log.warning("listener.database_down", type=body.get("type"), error=type(error).__name__)
            return
        log.error(
            "listener.failed", error=type(error).__name__, type=body.get("type"), exc_info=error
        )

    return app
