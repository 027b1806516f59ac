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

import time
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from app.escalation import (
    USAGE,
    EscalateUsageError,
    channel_choices,
    escalate_from_command,
    live_choice,
    message_choice,
    parse_escalate,
    record_escalation,
)
from app.listeners.payloads import (
    Actor,
    EscalationForm,
    MessageShortcut,
    RequestClick,
    SlashCommand,
    parse,
)
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from app.support_leads import NOT_A_LEAD, is_support_lead
from integrations.deps import Deps
from integrations.slack import slack_error
from workers.blocks.escalation import RequestChoice, build_escalate_modal
from workers.ids import ActionId, BlockId, CallbackId

log = structlog.get_logger(__name__)

TRIGGER_BUDGET_SECONDS = 2.5  # of the trigger id's 3 s, leaving time for views.open itself
TOO_SLOW = "Slack's 3-second window to open the form passed. Run it again, please."
NO_REQUEST = "This channel has no open request."
NOT_A_REQUEST = "That message is not a request the app tracks. Nothing was escalated."
WITHDRAWN = "This request was withdrawn; nothing to escalate."
_RECEIVED = "escalate_received_at"  # in Bolt's context, which the lazy listeners get a copy of


def register(app: App, deps: Deps) -> None:
    app.command("/escalate")(ack=escalate_ack, lazy=[with_deps(escalate_command, deps)])
    app.shortcut(CallbackId.ESCALATE_MESSAGE)(
        ack=ack_at_once, lazy=[with_deps(escalate_message, deps)]
    )
    app.action(ActionId.ESCALATE)(ack=ack_at_once, lazy=[with_deps(escalate_button, deps)])
    app.view(CallbackId.ESCALATE_REQUEST)(with_deps(submit_escalation, deps))


def escalate_ack(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """`/escalate`: usage and mistakes in the words are answered in the ack itself."""
    context[_RECEIVED] = time.monotonic()
    command = parse(SlashCommand, body)
    if command is None:
        ack()
        return
    if command.text.strip().lower() == "help":
        ack(response_type="ephemeral", text=USAGE)
        return
    try:
        parse_escalate(command.text)
    except EscalateUsageError as exc:
        ack(response_type="ephemeral", text=f"{_plain(str(exc))}\n{USAGE}")
        return
    ack()


def ack_at_once(ack: Ack, context: BoltContext) -> None:
    """The shortcut and the button: ack, and note when, for the trigger id's budget."""
    context[_RECEIVED] = time.monotonic()
    ack()


def escalate_command(
    deps: Deps, body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
) -> None:
    """`/escalate` after the ack: the modal of the channel's requests, or the escalation."""
    command = parse(SlashCommand, body, report=False)
    if command is None:
        return
    try:
        words = parse_escalate(command.text)
    except EscalateUsageError:
        return  # the ack answered (and `help` raises here too)
    if not _may_escalate(deps, context, body, command.actor, respond):
        return
    if words.form != "modal":
        answer = escalate_from_command(
            deps, words, channel_id=command.channel_id, user_id=command.user_id
        )
        respond(response_type="ephemeral", text=answer)
        return
    choices = channel_choices(deps, command.channel_id)
    _offer(client, context, respond, command, command.channel_id, choices, NO_REQUEST)


def escalate_message(
    deps: Deps, body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
) -> None:
    """The message shortcut after the ack: the modal for the message's request."""
    shortcut = parse(MessageShortcut, body)
    if shortcut is None or not _may_escalate(deps, context, body, shortcut.actor, respond):
        return
    choice = message_choice(deps, shortcut.channel_id, shortcut.message_ts, shortcut.thread_ts)
    where, choices = shortcut.channel_id, [choice] if choice else []
    _offer(client, context, respond, shortcut, where, choices, NOT_A_REQUEST)


def escalate_button(
    deps: Deps, body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
) -> None:
    """The card's Escalate button after the ack: the modal for the card's request."""
    click = parse(RequestClick, body)
    if click is None or not _may_escalate(deps, context, body, click.actor, respond):
        return
    found = live_choice(deps, click.request_id)
    where, choices = (found[0], [found[1]]) if found else ("", [])
    _offer(client, context, respond, click, where, choices, WITHDRAWN, replace_original=False)


def submit_escalation(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """The modal's submission: record the escalation, or say in the modal what is missing."""
    form = parse(EscalationForm, body)
    if form is None:
        ack()
    elif not _is_lead(deps, context, body, form.actor):
        _error(ack, BlockId.ESCALATE_REASON, NOT_A_LEAD)
    elif form.request_id is None:
        _error(ack, BlockId.ESCALATE_REQUEST, "Choose a request.")
    elif not form.reason:
        _error(ack, BlockId.ESCALATE_REASON, "Say why.")
    else:
        outcome = record_escalation(
            deps,
            request_id=form.request_id,
            priority=form.priority,
            reason=form.reason,
            user_id=form.user_id,
        )
        if outcome.request_id is None:
            _error(ack, BlockId.ESCALATE_REASON, outcome.message)
        else:
            ack()


def _is_lead(deps: Deps, context: BoltContext, body: dict[str, Any], actor: Actor) -> bool:
    """A support lead of our organisation."""
    ours = installation_of(context, body)
    return is_our_person(ours, actor) and is_support_lead(deps, actor.user_id)


def _may_escalate(
    deps: Deps, context: BoltContext, body: dict[str, Any], actor: Actor, respond: Respond
) -> bool:
    """Support leads of our organisation only; anyone else is told why, and nothing happens."""
    if _is_lead(deps, context, body, actor):
        return True
    log.warning("escalation.refused", user=actor.user_id)
    respond(response_type="ephemeral", replace_original=False, text=NOT_A_LEAD)
    return False


def _offer(
    client: WebClient,
    context: BoltContext,
    respond: Respond,
    asked: SlashCommand | MessageShortcut | RequestClick,
    channel_id: str,
    choices: list[RequestChoice],
    nothing: str,
    **answer: Any,
) -> None:
    """The modal offering `choices` (requests of `channel_id`) to whoever `asked`; with none,
    they are told `nothing`, in an ephemeral reply with `answer`'s fields."""
    if not choices:
        respond(response_type="ephemeral", text=nothing, **answer)
        return
    modal = build_escalate_modal(channel_id=channel_id, choices=choices)
    _open_modal(client, context, asked.trigger_id, respond, modal)


def _open_modal(
    client: WebClient, context: BoltContext, trigger_id: str, respond: Respond, modal: View
) -> None:
    """views.open while the trigger id is still good; otherwise ask the lead to run it again."""
    waited = time.monotonic() - float(context.get(_RECEIVED) or 0)
    if waited > TRIGGER_BUDGET_SECONDS:
        log.warning("escalation.trigger_too_old", waited=round(waited, 2))
        respond(response_type="ephemeral", replace_original=False, text=TOO_SLOW)
        return
    try:
        client.views_open(trigger_id=trigger_id, view=modal)
    except SlackApiError as exc:
        log.warning("escalation.modal_failed", error=slack_error(exc))
        respond(response_type="ephemeral", replace_original=False, text=TOO_SLOW)


def _error(ack: Ack, block: BlockId, message: str) -> None:
    ack(response_action="errors", errors={block: message})


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
