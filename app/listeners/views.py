"""Modal submissions: the edited reply (callback `edit_draft`)."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext

from app import approval
from app.listeners.people import is_our_person
from integrations.deps import Deps
from workers.ids import BlockId, CallbackId


def register(app: App, deps: Deps) -> None:
    @app.view(CallbackId.EDIT_DRAFT)
    def submit_edit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        def error(message: str) -> None:
            ack(response_action="errors", errors={BlockId.EDIT_TEXT: message})

        if not is_our_person(context, body):
            error("Only people of the organisation that runs this app can send replies.")
            return
        view = body["view"]
        text = (
            view["state"]["values"][BlockId.EDIT_TEXT][BlockId.EDIT_TEXT_INPUT].get("value") or ""
        ).strip()
        if not text:
            error("The reply cannot be empty.")
            return
        draft_id = int(json.loads(view.get("private_metadata") or "{}")["draft_id"])
        outcome = approval.approve(deps, draft_id=draft_id, user_id=body["user"]["id"], text=text)
        if outcome != approval.Outcome.DONE:
            error(approval.MESSAGES[outcome])
            return
        ack()

    @app.view(CallbackId.REJECT_DRAFT)
    def submit_reject(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        if not is_our_person(context, body):
            ack(
                response_action="errors",
                errors={
                    BlockId.REJECT_REASON: "Only people of the organisation that runs this app can "
                    "act on its cards."
                },
            )
            return
        view = body["view"]
        value = (
            view["state"]["values"]
            .get(BlockId.REJECT_REASON, {})
            .get(BlockId.REJECT_REASON_INPUT, {})
            .get("value")
        )
        draft_id = int(json.loads(view.get("private_metadata") or "{}")["draft_id"])
        outcome = approval.reject(
            deps,
            draft_id=draft_id,
            user_id=body["user"]["id"],
            reason=(value or "").strip() or None,
        )
        if outcome != approval.Outcome.DONE:
            ack(
                response_action="errors", errors={BlockId.REJECT_REASON: approval.MESSAGES[outcome]}
            )
            return
        ack()
