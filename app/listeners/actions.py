"""Buttons on the approval card (SPEC §5.6). Decide in the database, ack, hand off.

Each listener acks first, then parses the click (`payloads.DraftClick`, `PullInClick`),
refuses anyone outside the organisation (the three in `our_click`), and calls one flow of
`app.approval` or `workers.pull_in`. Answers are ephemeral and never replace the card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from app import approval
from app.listeners.payloads import BlockAction, DraftClick, PullInClick, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from workers.auto_send_flow import undo
from workers.blocks.card import build_edit_modal, build_reject_modal
from workers.ids import ActionId
from workers.pull_in import PULL_IN_MESSAGES, PullIn, pull_in_colleague

UNDONE_ALREADY = "This answer is already with a person (undone, or handed back); nothing changed."
REFUSAL = "Only people of the organisation that runs this app can act on its cards."
Click = TypeVar("Click", bound=BlockAction)


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.APPROVE_DRAFT)(with_deps(approve_draft, deps))
    app.action(ActionId.REGENERATE_DRAFT)(with_deps(regenerate_draft, deps))
    app.action(ActionId.EDIT_DRAFT)(with_deps(edit_draft, deps))
    app.action(ActionId.REJECT_DRAFT)(with_deps(reject_draft, deps))
    app.action(ActionId.PULL_IN)(with_deps(pull_in, deps))
    app.action(ActionId.UNDO_AUTO_SEND)(with_deps(undo_auto_send, deps))


def approve_draft(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Approve & send: the draft as it stands goes to the customer (through the outbox)."""
    _decide(approval.approve, deps, ack, body, context, respond)


def regenerate_draft(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Regenerate: the draft is set aside and a new one is queued."""
    _decide(approval.regenerate, deps, ack, body, context, respond)


def edit_draft(
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    """Edit: opens the edit modal on the draft's text, while the draft is still pending."""
    click = our_click(DraftClick, deps, ack, body, context, respond)
    if click is not None:
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
    click = our_click(DraftClick, deps, ack, body, context, respond)
    if click is not None:
        pending = approval.pending_text(deps, click.draft_id) is not None
        modal = build_reject_modal(draft_id=click.draft_id) if pending else None
        _open_draft_modal(client, respond, click.trigger_id, modal)


def pull_in(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Mention a suggested colleague in the card's thread (through the outbox)."""
    click = our_click(PullInClick, deps, ack, body, context, respond)
    if click is not None:
        outcome = pull_in_colleague(
            deps, request_id=click.request_id, user_id=click.colleague_id, by=click.user_id
        )
        if outcome != PullIn.QUEUED:
            tell(respond, PULL_IN_MESSAGES[outcome])


def undo_auto_send(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Undo an automatic answer (SPEC §6.7): its post is deleted and a person has the request."""
    click = our_click(DraftClick, deps, ack, body, context, respond)
    if click is not None and not undo(deps, draft_id=click.draft_id, user_id=click.user_id):
        tell(respond, UNDONE_ALREADY)


def our_click(
    kind: type[Click],
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
) -> Click | None:
    """Ack, then the click, when it parses and comes from a person of our organisation; anyone
    else is recorded, told, and stopped (None). Every button on our cards answers this way
    (the incident card's too: `app.listeners.incidents`)."""
    ack()
    click = parse(kind, body)
    if click is None or is_our_person(installation_of(context, body), click.actor):
        return click
    approval.record_refusal(
        deps, user_id=click.user_id, action=click.action_id, team_id=click.team_id
    )
    tell(respond, REFUSAL)
    return None


def _decide(
    flow: Callable[..., approval.Outcome],
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
) -> None:
    """A decision on the draft (`approval.approve`, `regenerate`); the clicker is told why
    when it is not done."""
    click = our_click(DraftClick, deps, ack, body, context, respond)
    if click is None:
        return
    outcome = flow(deps, draft_id=click.draft_id, user_id=click.user_id)
    if outcome != approval.Outcome.DONE:
        tell(respond, approval.MESSAGES[outcome])


def _open_draft_modal(
    client: WebClient, respond: Respond, trigger_id: str, modal: Any | None
) -> None:
    """Open the modal, or say the draft was already decided on (`modal` None)."""
    if modal is None:
        tell(respond, approval.MESSAGES[approval.Outcome.ALREADY_DECIDED])
        return
    # Within the trigger id's 3 seconds, so here and not in a job.
    client.views_open(trigger_id=trigger_id, view=modal)


def tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
