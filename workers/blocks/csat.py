"""The CSAT question in the customer's thread (SPEC §6.7), in the customer's language (their
request's, English when it is not known or has no phrases: `workers.acknowledgements`): a pure
builder."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from workers.acknowledgements import CsatPhrases, phrases
from workers.ids import ActionId, BlockId


def csat_phrases(language: str | None) -> CsatPhrases:
    """What the question and its answers say in `language`, else in English."""
    return phrases(language).csat


def build_csat_question(*, request_id: int, language: str | None) -> dict[str, Any]:
    """`chat.postMessage`'s text and blocks: the question and its two buttons, whose value is
    the request's id (the click says which request it answers)."""
    said = csat_phrases(language)
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=said.question)),
        ActionsBlock(
            block_id=BlockId.CSAT_ACTIONS,
            elements=[
                ButtonElement(text=said.good, action_id=ActionId.CSAT_GOOD, value=str(request_id)),
                ButtonElement(text=said.bad, action_id=ActionId.CSAT_BAD, value=str(request_id)),
            ],
        ),
    ]
    return {"text": said.question, "blocks": [b.to_dict() for b in blocks]}
