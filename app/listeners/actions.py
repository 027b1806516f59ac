"""Buttons on the approval card (SPEC §5.6). Decide in the database, ack, hand off.

Each listener acks first, then parses the click (`payloads.DraftClick`, `PullInClick`),
refuses anyone outside the organisation, and calls one flow of `app.approval` or
`workers.suggest`. Answers are ephemeral and never replace the card.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from app import approval
from app.listeners.payloads import BlockAction, DraftClick, PullInClick, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from workers.blocks.card import build_edit_modal, build_reject_modal
from workers.ids import ActionId
from workers.suggest import PULL_IN_MESSAGES, PullIn, pull_in_colleague

REFUSAL = "Only people of the organisation that runs this app can act on its cards."


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.APPROVE_DRAFT)(with_deps(approve_draft, deps))
    app.action(ActionId.REGENERATE_DRAFT)(with_deps(regenerate_draft, deps))
    app.action(ActionId.EDIT_DRAFT)(with_deps(edit_draft, deps))
    app.action(ActionId.REJECT_DRAFT)(with_deps(reject_draft, deps))
    app.action(ActionId.PULL_IN)(with_deps(pull_in, deps))


def approve_draft(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Approve & send: the draft as it stands goes to the customer (through the outbox)."""
    ack()
    click = parse(DraftClick, body)
    if click is not None and _ours(deps, click, context, body, respond):
        outcome = approval.approve(deps, draft_id=click.draft_id, user_id=click.user_id)
        _tell_unless_done(respond, outcome)


def regenerate_draft(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Regenerate: the draft is set aside and a new one is queued."""
    ack()
    click = parse(DraftClick, body)
    if click is not None and _ours(deps, click, context, body, respond):
        outcome = approval.regenerate(deps, draft_id=click.draft_id, user_id=click.user_id)
        _tell_unless_done(respond, outcome)


def edit_draft(
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    """Edit: opens the edit modal on the draft's text, while the draft is still pending."""
    ack()
    click = parse(DraftClick, body)
    if click is not None and _ours(deps, click, context, body, respond):
        text = approval.pending_text(deps, click.draft_id)
        modal = None if text is None else build_edit_modal(draft_id=click.draft_id, text=text)
        _open_draft_modal(client, respond, click.trigger_id, modal)


def reject_draft(
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    """Reject: opens the modal that asks why, while the draft is still pending."""
    ack()
    click = parse(DraftClick, body)
    if click is not None and _ours(deps, click, context, body, respond):
        pending = approval.pending_text(deps, click.draft_id) is not None
        modal = build_reject_modal(draft_id=click.draft_id) if pending else None
        _open_draft_modal(client, respond, click.trigger_id, modal)


def pull_in(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Mention a suggested colleague in the card's thread (through the outbox)."""
    ack()
    click = parse(PullInClick, body)
    if click is not None and _ours(deps, click, context, body, respond):
        outcome = pull_in_colleague(
            deps, request_id=click.request_id, user_id=click.colleague_id, by=click.user_id
        )
        if outcome != PullIn.QUEUED:
            _tell(respond, PULL_IN_MESSAGES[outcome])


def _ours(
    deps: Deps, click: BlockAction, context: BoltContext, body: dict[str, Any], respond: Respond
) -> bool:
    """True for a person of our organisation; anyone else is recorded, told, and stopped."""
    if is_our_person(installation_of(context, body), click.actor):
        return True
    approval.record_refusal(
        deps, user_id=click.user_id, action=click.action_id, team_id=click.team_id
    )
    _tell(respond, REFUSAL)
    return False


def _open_draft_modal(
    client: WebClient, respond: Respond, trigger_id: str, modal: Any | None
) -> None:
    """Open the modal, or say the draft was already decided on (`modal` None)."""
    if modal is None:
        _tell(respond, approval.MESSAGES[approval.Outcome.ALREADY_DECIDED])
        return
    # Within the trigger id's 3 seconds, so here and not in a job.
    client.views_open(trigger_id=trigger_id, view=modal)


def _tell_unless_done(respond: Respond, outcome: approval.Outcome) -> None:
    if outcome != approval.Outcome.DONE:
        _tell(respond, approval.MESSAGES[outcome])


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
