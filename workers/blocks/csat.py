"""The CSAT question in the customer's thread (SPEC §6.7), and what its clicks are told:
pure builders."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from workers.ids import ActionId, BlockId

QUESTION = "How did we do? Did this answer your question?"
THANKS = "Thank you for letting us know. 🙏"
THANKS_CHANGED = "Thank you: we have changed your answer."
NOT_COUNTED = "This question is for the customer: your click was not counted."
NOT_ASKED = "This question is no longer open."


def build_csat_question(*, request_id: int) -> dict[str, Any]:
    """`chat.postMessage`'s text and blocks: the question and its two buttons, whose value is
    the request's id (the click says which request it answers)."""
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=QUESTION)),
        ActionsBlock(
            block_id=BlockId.CSAT_ACTIONS,
            elements=[
                ButtonElement(
                    text="👍 Yes, thanks", action_id=ActionId.CSAT_GOOD, value=str(request_id)
                ),
                ButtonElement(
                    text="👎 Not really", action_id=ActionId.CSAT_BAD, value=str(request_id)
                ),
            ],
        ),
    ]
    return {"text": QUESTION, "blocks": [b.to_dict() for b in blocks]}
