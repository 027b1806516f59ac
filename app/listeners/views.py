"""Modal submissions: the edited reply (`edit_draft`) and the rejection (`reject_draft`).

A refusal or a problem is answered in the modal itself (`response_action: errors`), next to
the input it is about; a submission that does not parse is acked, which closes the modal.
"""

from __future__ import annotations

from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext

from app import approval
from app.listeners.payloads import EditedReply, Rejection, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from workers.ids import BlockId, CallbackId

NOT_OURS_REPLY = "Only people of the organisation that runs this app can send replies."
NOT_OURS_ACT = "Only people of the organisation that runs this app can act on its cards."
Form = TypeVar("Form", EditedReply, Rejection)


def register(app: App, deps: Deps) -> None:
    app.view(CallbackId.EDIT_DRAFT)(with_deps(submit_edit, deps))
    app.view(CallbackId.REJECT_DRAFT)(with_deps(submit_reject, deps))


def submit_edit(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Send the reply as the approver edited it."""
    edited = _submitted(EditedReply, ack, body, context, BlockId.EDIT_TEXT, NOT_OURS_REPLY)
    if edited is None:
        return
    if not edited.text:
        _error(ack, BlockId.EDIT_TEXT, "The reply cannot be empty.")
        return
    outcome = approval.approve(
        deps, draft_id=edited.draft_id, user_id=edited.user_id, text=edited.text
    )
    _answer(ack, BlockId.EDIT_TEXT, outcome)


def submit_reject(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Close the draft without a reply, with the approver's reason if they gave one."""
    rejection = _submitted(Rejection, ack, body, context, BlockId.REJECT_REASON, NOT_OURS_ACT)
    if rejection is None:
        return
    outcome = approval.reject(
        deps,
        draft_id=rejection.draft_id,
        user_id=rejection.user_id,
        reason=rejection.reason or None,
    )
    _answer(ack, BlockId.REJECT_REASON, outcome)


def _submitted(
    kind: type[Form],
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    block: BlockId,
    refusal: str,
) -> Form | None:
    """The submission, when it parses and comes from a person of our organisation; otherwise
    it is answered here (None): acked, which closes the modal, when it does not parse, and
    refused next to `block` when someone else sent it."""
    form = parse(kind, body)
    if form is None:
        ack()
        return None
    if not is_our_person(installation_of(context, body), form.actor):
        _error(ack, block, refusal)
        return None
    return form


def _answer(ack: Ack, block: BlockId, outcome: approval.Outcome) -> None:
    """Close the modal when it is done; otherwise say why, next to `block`."""
    if outcome == approval.Outcome.DONE:
        ack()
    else:
        _error(ack, block, approval.MESSAGES[outcome])


def _error(ack: Ack, block: BlockId, message: str) -> None:
    ack(response_action="errors", errors={block: message})
