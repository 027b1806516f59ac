"""The escalation modal, the post in ESCALATION_CHANNEL and the SLA notes: pure builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from workers.blocks.card import quote_message, summary_adds
from workers.blocks.kit import clip, modal, plain, select_input, slack_time, text_input
from workers.ids import BlockId, CallbackId

PRIORITY_LABELS = {
    "P1": "P1: critical, drop everything",
    "P2": "P2: high",
    "P3": "P3: medium",
    "P4": "P4: low",
}
_LIMIT = 2900


@dataclass(frozen=True)
class RequestChoice:
    """One request the modal offers: its id and a one-line label."""

    request_id: int
    label: str


def build_escalate_modal(
    *, channel_id: str, choices: list[RequestChoice], priority: str = "P2"
) -> View:
    """The `escalate_request` modal: which request (or the one given), the level, why."""
    blocks: list[Block] = []
    metadata: dict[str, Any] = {"channel_id": channel_id}
    if len(choices) == 1:
        metadata["request_id"] = choices[0].request_id
        blocks.append(
            SectionBlock(
                block_id=BlockId.ESCALATE_REQUEST,
                text=MarkdownTextObject(text=clip(f"*Request:* {choices[0].label}", _LIMIT)),
            )
        )
    elif choices:
        blocks.append(
            select_input(
                BlockId.ESCALATE_REQUEST,
                BlockId.ESCALATE_REQUEST_INPUT,
                label="Request",
                options=[_option(str(c.request_id), c.label) for c in choices[:100]],
                placeholder="Choose an open request",
            )
        )
    else:
        blocks.append(
            SectionBlock(
                block_id=BlockId.ESCALATE_REQUEST,
                text=MarkdownTextObject(text="This channel has no open request to escalate."),
            )
        )
    options = [_option(level, label) for level, label in PRIORITY_LABELS.items()]
    blocks.append(
        select_input(
            BlockId.ESCALATE_PRIORITY,
            BlockId.ESCALATE_PRIORITY_INPUT,
            label="Priority",
            options=options,
            initial_option=options[list(PRIORITY_LABELS).index(priority)],
        )
    )
    blocks.append(
        text_input(
            BlockId.ESCALATE_REASON,
            BlockId.ESCALATE_REASON_INPUT,
            label="Reason",
            hint="Opens or updates a Salesforce Case and posts to the escalation channel.",
            max_length=1000,
        )
    )
    return modal(
        CallbackId.ESCALATE_REQUEST,
        title="Escalate request",
        submit="Escalate" if choices else None,
        metadata=metadata,
        blocks=blocks,
    )


@dataclass(frozen=True)
class EscalationView:
    """What the post in ESCALATION_CHANNEL shows about an escalated request."""

    request_id: int
    channel_id: str
    customer_id: str
    text: str
    priority: str
    reason: str
    escalated_by: str
    number: int
    summary: str | None = None
    permalink: str | None = None
    account_line: str | None = None
    case: str | None = None  # "Case 500… (High)" or why there is none


def build_escalation_post(view: EscalationView) -> dict[str, Any]:
    """chat.postMessage arguments of the escalation post (the first escalation)."""
    head = (
        f"🚨 *{view.priority} escalation* of request #{view.request_id} from "
        f"<@{view.customer_id}> in <#{view.channel_id}> by <@{view.escalated_by}>"
    )
    lines = [f"*Why:* {plain(view.reason)}"]
    if view.summary and summary_adds(view.summary, view.text):
        lines.append(f"*Summary:* {plain(view.summary)}")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(head + "\n" + "\n".join(lines), _LIMIT))),
        SectionBlock(text=MarkdownTextObject(text=quote_message(view.text, view.permalink))),
    ]
    facts = [x for x in (view.account_line, view.case) if x]
    if facts:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(facts), _LIMIT))])
        )
    text = f"{view.priority} escalation of request #{view.request_id} in <#{view.channel_id}>"
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}


def build_reescalation_note(view: EscalationView) -> dict[str, Any]:
    """The thread reply when an escalated request is escalated again."""
    text = (
        f"🔁 Escalation #{view.number}: now *{view.priority}*, by <@{view.escalated_by}>: "
        f"{plain(view.reason)}" + (f"\n{view.case}" if view.case else "")
    )
    return {"text": clip(text, _LIMIT)}


def build_sla_reminder(
    *, request_id: int, people: list[str], deadline: datetime, channel_id: str
) -> dict[str, Any]:
    """The 75% reminder, in the card's thread, mentioning the owner and suggested colleague."""
    who = " ".join(f"<@{p}>" for p in people) or "Nobody is assigned yet:"
    return {
        "text": f"⏰ {who} request #{request_id} in <#{channel_id}> has had no answer; its "
        f"first-response deadline is {slack_time(deadline)}."
    }


def build_sla_breach(
    *,
    request_id: int,
    channel_id: str,
    customer_id: str,
    summary: str | None,
    permalink: str | None,
    deadline: datetime,
    tier: str | None,
) -> dict[str, Any]:
    """The breach post in ESCALATION_CHANNEL."""
    link = f" <{permalink}|View in channel>" if permalink else ""
    what = f": {plain(summary).rstrip('.')}" if summary else ""  # the sentence ends once
    tier_text = f" ({tier} tier)" if tier else ""
    return {
        "text": clip(
            f"🔥 *SLA breached*{tier_text}: request #{request_id} from <@{customer_id}> in "
            f"<#{channel_id}> had no first response by {slack_time(deadline)}{what}.{link}",
            _LIMIT,
        )
    }


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=clip(label, 75)))
