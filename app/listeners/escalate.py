"""Escalation (SPEC §6.2): `/escalate`, the `escalate_message` shortcut, the card's `escalate`
button, and the `escalate_request` modal they open.

Every listener acks at once with no network call; the rest runs in a Bolt lazy listener (its
own thread): the support-lead check (`usergroups.users.list`, cached), the request look-up,
and `views.open`. A trigger id is good for 3 seconds from Slack's request, so the modal is
opened only while `TRIGGER_BUDGET_SECONDS` have not passed since the ack; after that, and
when Slack says the trigger expired, the lead gets an ephemeral "run it again" instead.
Answers are ephemeral: in a shared channel the customer must never see them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.escalation import (
    USAGE,
    EscalateUsageError,
    find_request,
    newest_open_request,
    open_requests,
    parse_escalate,
    record_escalation,
)
from app.listeners.people import is_our_person
from app.support_leads import NOT_A_LEAD, is_support_lead
from integrations.deps import Deps
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.models import Request, RequestState
from workers.blocks.escalation import RequestChoice, build_escalate_modal
from workers.ids import ActionId, BlockId, CallbackId

log = structlog.get_logger(__name__)

TRIGGER_BUDGET_SECONDS = 2.5  # of the trigger id's 3 s, leaving time for views.open itself
TOO_SLOW = "Slack's 3-second window to open the form passed. Run it again, please."
_RECEIVED = "escalate_received_at"


def register(app: App, deps: Deps) -> None:
    def ack_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        context[_RECEIVED] = time.monotonic()
        if (command.get("text") or "").strip().lower() == "help":
            ack(response_type="ephemeral", text=USAGE)
            return
        try:
            parse_escalate(command.get("text") or "")
        except EscalateUsageError as exc:
            ack(response_type="ephemeral", text=f"{_plain(str(exc))}\n{USAGE}")
            return
        ack()

    def command_later(
        command: dict[str, Any],
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
    ) -> None:
        try:
            parsed = parse_escalate(command.get("text") or "")
        except EscalateUsageError:
            return  # the ack answered (and `help` raises here too)
        user_id, channel_id = str(command["user_id"]), str(command["channel_id"])
        if not _may_escalate(deps, context, body, user_id, respond):
            return
        if parsed.form == "modal":
            with transaction(deps.sessions) as session:
                choices = [_choice(r) for r in open_requests(session, channel_id)]
            if not choices:
                respond(response_type="ephemeral", text="This channel has no open request.")
                return
            modal = build_escalate_modal(channel_id=channel_id, choices=choices)
            _open_modal(client, context, body, respond, modal)
            return
        with transaction(deps.sessions) as session:
            if parsed.form == "newest":
                request = newest_open_request(session, channel_id)
            else:
                assert parsed.channel_id and parsed.ts
                request = find_request(session, parsed.channel_id, parsed.ts, parsed.thread_ts)
            request_id = request.id if request else None
        if request_id is None:
            missing = (
                "This channel has no open request."
                if parsed.form == "newest"
                else "That message is not a request the app tracks."
            )
            respond(response_type="ephemeral", text=f"{missing} Nothing was escalated.")
            return
        outcome = record_escalation(
            deps,
            request_id=request_id,
            priority=parsed.priority,
            reason=parsed.reason,
            user_id=user_id,
        )
        mark = "🚨" if outcome.request_id else "⚠️"
        respond(response_type="ephemeral", text=f"{mark} {outcome.message}")

    app.command("/escalate")(ack=ack_command, lazy=[command_later])

    def ack_at_once(ack: Ack, context: BoltContext) -> None:
        context[_RECEIVED] = time.monotonic()
        ack()

    def shortcut_later(
        body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        user_id = str(body["user"]["id"])
        if not _may_escalate(deps, context, body, user_id, respond):
            return
        message = body.get("message") or {}
        channel_id = str((body.get("channel") or {}).get("id"))
        with transaction(deps.sessions) as session:
            request = find_request(
                session, channel_id, str(message.get("ts")), message.get("thread_ts")
            )
            choice = _choice(request) if request else None
        if choice is None:
            respond(
                response_type="ephemeral",
                text="That message is not a request the app tracks. Nothing was escalated.",
            )
            return
        modal = build_escalate_modal(channel_id=channel_id, choices=[choice])
        _open_modal(client, context, body, respond, modal)

    app.shortcut(CallbackId.ESCALATE_MESSAGE)(ack=ack_at_once, lazy=[shortcut_later])

    def button_later(
        body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        user_id = str(body["user"]["id"])
        if not _may_escalate(deps, context, body, user_id, respond):
            return
        with transaction(deps.sessions) as session:
            request = session.get(Request, int(body["actions"][0]["value"]))
            live = request is not None and request.state != RequestState.WITHDRAWN
            choice = _choice(request) if request is not None and live else None
            channel_id = request.channel_id if request is not None else ""
        if choice is None:
            respond(
                response_type="ephemeral",
                replace_original=False,
                text="This request was withdrawn; nothing to escalate.",
            )
            return
        modal = build_escalate_modal(channel_id=channel_id, choices=[choice])
        _open_modal(client, context, body, respond, modal)

    app.action(ActionId.ESCALATE)(ack=ack_at_once, lazy=[button_later])

    @app.view(CallbackId.ESCALATE_REQUEST)
    def submit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        user_id = str(body["user"]["id"])
        if not is_our_person(context, body) or not is_support_lead(deps, user_id):
            ack(response_action="errors", errors={BlockId.ESCALATE_REASON: NOT_A_LEAD})
            return
        view = body["view"]
        values = view["state"]["values"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        chosen = (
            values.get(BlockId.ESCALATE_REQUEST, {})
            .get(BlockId.ESCALATE_REQUEST_INPUT, {})
            .get("selected_option")
        )
        request_id = metadata.get("request_id") or (int(chosen["value"]) if chosen else None)
        priority = (
            (
                values.get(BlockId.ESCALATE_PRIORITY, {})
                .get(BlockId.ESCALATE_PRIORITY_INPUT, {})
                .get("selected_option")
            )
            or {}
        ).get("value") or "P2"
        reason = (
            values.get(BlockId.ESCALATE_REASON, {})
            .get(BlockId.ESCALATE_REASON_INPUT, {})
            .get("value")
            or ""
        ).strip()
        if request_id is None:
            ack(response_action="errors", errors={BlockId.ESCALATE_REQUEST: "Choose a request."})
            return
        if not reason:
            ack(response_action="errors", errors={BlockId.ESCALATE_REASON: "Say why."})
            return
        outcome = record_escalation(
            deps, request_id=int(request_id), priority=priority, reason=reason, user_id=user_id
        )
        if outcome.request_id is None:
            ack(response_action="errors", errors={BlockId.ESCALATE_REASON: outcome.message})
            return
        ack()


def _may_escalate(
    deps: Deps, context: BoltContext, body: dict[str, Any], user_id: str, respond: Respond
) -> bool:
    """Support leads of our organisation only; anyone else is told why, and nothing happens."""
    if is_our_person(context, body) and is_support_lead(deps, user_id):
        return True
    log.warning("escalation.refused", user=user_id)
    respond(response_type="ephemeral", replace_original=False, text=NOT_A_LEAD)
    return False


def _open_modal(
    client: WebClient, context: BoltContext, body: dict[str, Any], respond: Respond, modal: Any
) -> None:
    """views.open while the trigger id is still good; otherwise ask the lead to run it again."""
    waited = time.monotonic() - float(context.get(_RECEIVED) or 0)
    if waited > TRIGGER_BUDGET_SECONDS:
        log.warning("escalation.trigger_too_old", waited=round(waited, 2))
        respond(response_type="ephemeral", replace_original=False, text=TOO_SLOW)
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=modal)
    except SlackApiError as exc:
        log.warning("escalation.modal_failed", error=slack_error(exc))
        respond(response_type="ephemeral", replace_original=False, text=TOO_SLOW)


def _choice(request: Request) -> RequestChoice:
    what = request.summary or request.text or "(no text)"
    urgency = request.urgency or "untriaged"
    level = f" · {request.priority}" if request.priority else ""
    return RequestChoice(request.id, f"#{request.id} · {urgency}{level} · {what}"[:75])


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
