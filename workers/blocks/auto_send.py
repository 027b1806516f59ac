"""What the approval card shows of an automatic answer (SPEC §6.7): that it went out by
itself and why it was allowed, with Undo; or, once a person was handed it, why."""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement, ContextBlock, MarkdownTextObject

from workers.ids import ActionId
from workers.stage_data import AutoSent


def auto_sent_line(record: AutoSent | None, *, posted: bool) -> ContextBlock:
    """The decision line of a draft that AUTO_SEND posted (or is posting)."""
    why = (
        f" (grounded {record.score:.0%}, confidence {record.confidence:.0%})"
        if record is not None
        else ""
    )
    where = (
        "it is in the customer's thread, saying it is automatic"
        if posted
        else "it is on its way to the customer's thread"
    )
    return _context(
        f"🤖 *Sent automatically*{why}: {where}. *Undo* deletes it and hands the request to "
        "you; so does a 👎 or a reply from the customer."
    )


def undo_button(draft_id: int | None) -> ButtonElement:
    return ButtonElement(
        text="Undo", action_id=ActionId.UNDO_AUTO_SEND, value=str(draft_id), style="danger"
    )


def handed_back_line(record: AutoSent) -> ContextBlock:
    """Above a pending draft that was sent automatically before a person was handed it."""
    answer = (
        "The automatic answer was deleted from the thread."
        if record.undone_by
        else "The automatic answer stays in the thread."
    )
    return _context(
        f"↩️ *Handed to a person:* {record.handed_back or 'auto-send stopped'}. {answer} "
        "Approve, edit or reject this draft as usual; it will not be sent automatically again."
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
