"""Buttons on the approval card (SPEC §5.6). Decide in the database, ack, hand off."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy import select

from app import approval
from app.listeners.people import is_our_person
from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Draft, DraftStatus, RequestState
from workers.blocks.card import build_edit_modal, build_reject_modal
from workers.ids import ActionId
from workers.suggest import PULL_IN_MESSAGES, PullIn, pull_in_colleague

log = structlog.get_logger(__name__)

REFUSAL = "Only people of the organisation that runs this app can act on its cards."


def _draft_id(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _pending_text(deps: Deps, draft_id: int) -> str | None:
    """The draft's text while it can still be decided on, else None."""
    with transaction(deps.sessions) as session:
        draft = session.scalars(select(Draft).where(Draft.id == draft_id)).first()
        withdrawn = draft is not None and draft.request.state == RequestState.WITHDRAWN
        if draft is None or draft.status != DraftStatus.PENDING or withdrawn:
            return None
        return draft.text


def refuse(deps: Deps, body: dict[str, Any], respond: Respond, what: str) -> None:
    """Record and answer a click from outside the organisation; nothing else happens."""
    log.warning("action.refused", action=what, user=_user(body))
    with transaction(deps.sessions) as session:
        session.add(
            AuditEntry(
                actor=_user(body),
                action="action.refused",
                detail={"action": what, "team": (body.get("team") or {}).get("id")},
            )
        )
    respond(text=REFUSAL, response_type="ephemeral", replace_original=False)


def register(app: App, deps: Deps) -> None:
    def decision(fn: Any, name: str) -> Any:
        def listener(
            ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
        ) -> None:
            ack()
            if not is_our_person(context, body):
                refuse(deps, body, respond, name)
                return
            outcome = fn(deps, draft_id=_draft_id(body), user_id=_user(body))
            if outcome != approval.Outcome.DONE:
                respond(
                    text=approval.MESSAGES[outcome],
                    response_type="ephemeral",
                    replace_original=False,
                )

        return listener

    app.action(ActionId.APPROVE_DRAFT)(decision(approval.approve, "approve_draft"))
    app.action(ActionId.REGENERATE_DRAFT)(decision(approval.regenerate, "regenerate_draft"))

    def modal(name: str, build: Any) -> Any:
        """A button that opens a modal about a still-pending draft (edit, reject)."""

        def listener(
            ack: Ack,
            body: dict[str, Any],
            context: BoltContext,
            respond: Respond,
            client: WebClient,
        ) -> None:
            ack()
            if not is_our_person(context, body):
                refuse(deps, body, respond, name)
                return
            draft_id = _draft_id(body)
            text = _pending_text(deps, draft_id)
            if text is None:
                respond(
                    text=approval.MESSAGES[approval.Outcome.ALREADY_DECIDED],
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
            # Within the trigger id's 3 seconds, so here and not in a job.
            client.views_open(trigger_id=body["trigger_id"], view=build(draft_id, text))

        return listener

    app.action(ActionId.EDIT_DRAFT)(
        modal("edit_draft", lambda d, text: build_edit_modal(draft_id=d, text=text))
    )
    app.action(ActionId.REJECT_DRAFT)(
        modal("reject_draft", lambda d, _text: build_reject_modal(draft_id=d))
    )

    @app.action(ActionId.PULL_IN)
    def pull_in(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        """Mention a suggested colleague in the card's thread (through the outbox)."""
        ack()
        if not is_our_person(context, body):
            refuse(deps, body, respond, "pull_in")
            return
        action = body["actions"][0]
        try:  # block_id: pull_in:<request id>:<user id>
            request_id = int(str(action.get("block_id", "")).split(":")[1])
        except (IndexError, ValueError):
            request_id = 0
        outcome = pull_in_colleague(
            deps, request_id=request_id, user_id=str(action["value"]), by=_user(body)
        )
        if outcome != PullIn.QUEUED:
            respond(
                text=PULL_IN_MESSAGES[outcome], response_type="ephemeral", replace_original=False
            )
