"""Modal submissions: the edited reply (`edit_draft`) and the rejection (`reject_draft`).

A refusal or a problem is answered in the modal itself (`response_action: errors`), next to
the input it is about; a submission that does not parse is acked, which closes the modal.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from app import approval
from app.listeners.payloads import EditedReply, Rejection, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from workers.ids import BlockId, CallbackId

NOT_OURS_REPLY = "Only people of the organisation that runs this app can send replies."
NOT_OURS_ACT = "Only people of the organisation that runs this app can act on its cards."


def register(app: App, deps: Deps) -> None:
    app.view(CallbackId.EDIT_DRAFT)(with_deps(submit_edit, deps))
    app.view(CallbackId.REJECT_DRAFT)(with_deps(submit_reject, deps))


def submit_edit(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Send the reply as the approver edited it."""
    edited = parse(EditedReply, body)
    if edited is None:
        ack()
    elif not is_our_person(installation_of(context, body), edited.actor):
        _error(ack, BlockId.EDIT_TEXT, NOT_OURS_REPLY)
    elif not edited.text:
        _error(ack, BlockId.EDIT_TEXT, "The reply cannot be empty.")
    else:
        outcome = approval.approve(
            deps, draft_id=edited.draft_id, user_id=edited.user_id, text=edited.text
        )
        _answer(ack, BlockId.EDIT_TEXT, outcome)


def submit_reject(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Close the draft without a reply, with the approver's reason if they gave one."""
    rejection = parse(Rejection, body)
    if rejection is None:
        ack()
    elif not is_our_person(installation_of(context, body), rejection.actor):
        _error(ack, BlockId.REJECT_REASON, NOT_OURS_ACT)
    else:
        outcome = approval.reject(
            deps,
            draft_id=rejection.draft_id,
            user_id=rejection.user_id,
            reason=rejection.reason or None,
        )
        _answer(ack, BlockId.REJECT_REASON, outcome)


def _answer(ack: Ack, block: BlockId, outcome: approval.Outcome) -> None:
    """Close the modal when it is done; otherwise say why, next to `block`."""
    if outcome == approval.Outcome.DONE:
        ack()
    else:
        _error(ack, block, approval.MESSAGES[outcome])


def _error(ack: Ack, block: BlockId, message: str) -> None:
    ack(response_action="errors", errors={block: message})
